/* Reads and writes the framed image files.  Owns framing and length
 * checks, and the one rule by which any file of an images directory is
 * created or opened; knows nothing about what the messages mean. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "log.h"

#include "core.pb-c.h"
#include "fdinfo.pb-c.h"
#include "fs.pb-c.h"
#include "inventory.pb-c.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pstree.pb-c.h"
#include "shmem.pb-c.h"
#include "stats.pb-c.h"
#include "sysvipc.pb-c.h"

#define WBUF_SIZE (64 << 10)

/* Magics are arbitrary but distinct, so a file renamed by mistake is
 * caught before any message is decoded. */
const struct image_desc image_descs[IMG_MAX] = {
	[IMG_INVENTORY] = { "inventory.img", 0x4c4d0001, &inventory_entry__descriptor },
	[IMG_PSTREE] = { "pstree.img", 0x4c4d0002, &pstree_entry__descriptor },
	[IMG_CORE] = { "core-%d.img", 0x4c4d0003, &core_entry__descriptor },
	[IMG_MM] = { "mm-%d.img", 0x4c4d0004, &mm_entry__descriptor },
	[IMG_PAGEMAP] = { "pagemap-%d.img", 0x4c4d0005, &pagemap_entry__descriptor },
	[IMG_PAGES] = { "pages-%d.img", 0, NULL },
	[IMG_FDINFO] = { "fdinfo-%d.img", 0x4c4d0007, &fdinfo_entry__descriptor },
	[IMG_FILES] = { "files.img", 0x4c4d0008, &file_entry__descriptor },
	[IMG_FS] = { "fs-%d.img", 0x4c4d0009, &fs_entry__descriptor },
	[IMG_FILES_DATA] = { "files-data.img", 0, NULL },
	[IMG_SHMEM] = { "shmem.img", 0x4c4d000c, &shmem_entry__descriptor },
	[IMG_SHMEM_PAGES] = { "shmem-pages.img", 0, NULL },
	[IMG_SYSVIPC] = { "sysvipc.img", 0x4c4d000d, &sysvipc_entry__descriptor },
	[IMG_STATS_DUMP] = { "stats-dump.img", 0x4c4d000a, &dump_stats_entry__descriptor },
	[IMG_STATS_RESTORE] = { "stats-restore.img", 0x4c4d000b,
				&restore_stats_entry__descriptor },
};

static void img_name(char *buf, size_t len, int type, int pid)
{
	snprintf(buf, len, image_descs[type].name_fmt, pid);
}


/* The images directory is not trusted: whoever can write to it can put a
 * symlink, a FIFO or a file of their own where an image goes.  So an
 * image is only ever created as a new file of ours (what was there is
 * removed first, if it is a regular file) and only ever read if it is a
 * regular file; nothing is followed or waited for (docs/images.md). */

static const char *kind_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFLNK:
		return "a symlink";
	case S_IFIFO:
		return "a FIFO";
	case S_IFDIR:
		return "a directory";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	}
	return "not a regular file";
}

/* DFD's path, for messages: errors name the directory, not just a name. */
static const char *dir_path(int dfd, char *buf, size_t len)
{
	char link[32];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
	n = readlink(link, buf, len - 1);
	if (n < 0)
		n = snprintf(buf, len, "the images directory");
	buf[n] = '\0';
	return buf;
}

static int refuse_kind(int dfd, const char *name, mode_t mode)
{
	char dir[PATH_MAX];

	pr_err("Image %s in %s is %s, not a regular file: refused (images are only read and written as regular files)\n",
	       name, dir_path(dfd, dir, sizeof(dir)), kind_name(mode));
	return -EPERM;
}

int img_stat_file(int dfd, const char *name, struct stat *st)
{
	char dir[PATH_MAX];

	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW)) {
		int e = errno;

		if (e != ENOENT)
			pr_perror("Can't stat image %s in %s", name,
				  dir_path(dfd, dir, sizeof(dir)));
		return -e;
	}
	return S_ISREG(st->st_mode) ? 0 : refuse_kind(dfd, name, st->st_mode);
}

int img_create_file(int dfd, const char *name)
{
	char dir[PATH_MAX];
	struct stat st;
	int fd, ret;

	ret = img_stat_file(dfd, name, &st);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && unlinkat(dfd, name, 0) && errno != ENOENT) {
		pr_perror("Can't remove the old image %s in %s", name,
			  dir_path(dfd, dir, sizeof(dir)));
		return -errno;
	}
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno == EEXIST)
		pr_err("Image %s in %s was made again by someone else while lmproc was creating it: refused\n",
		       name, dir_path(dfd, dir, sizeof(dir)));
	else
		pr_perror("Can't create image %s in %s", name, dir_path(dfd, dir, sizeof(dir)));
	return -errno;
}

int img_open_file(int dfd, const char *name, bool optional)
{
	char dir[PATH_MAX];
	struct stat st;
	int fd, e;

	/* O_NONBLOCK: a FIFO opens at once (and is refused below). */
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		if (optional && e == ENOENT)
			return -ENOENT;
		if (!fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) && !S_ISREG(st.st_mode))
			return refuse_kind(dfd, name, st.st_mode);
		errno = e;
		pr_perror("Can't open image %s in %s", name, dir_path(dfd, dir, sizeof(dir)));
		return -e;
	}
	if (fstat(fd, &st) || fcntl(fd, F_SETFL, 0)) {
		pr_perror("Can't open image %s in %s", name, dir_path(dfd, dir, sizeof(dir)));
		e = -errno;
		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return refuse_kind(dfd, name, st.st_mode);
	}
	return fd;
}

/* Others who can write here can replace an image between two opens, or
 * between dump and restore: worth saying, not worth refusing (a shared
 * scratch directory is a choice the operator may make). */
static void warn_dir_writable(int dfd, const char *path)
{
	struct stat st;

	if (fstat(dfd, &st))
		return;
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		pr_warn("Images directory %s can be written by others (mode %04o): they could replace images\n",
			path, (unsigned int)(st.st_mode & 07777));
	else if (st.st_uid && st.st_uid != geteuid())
		pr_warn("Images directory %s belongs to uid %u, who could replace images\n", path,
			(unsigned int)st.st_uid);
}

int img_dir_open(int at, const char *path)
{
	int dfd = openat(at, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return -errno;
	warn_dir_writable(dfd, path);
	return dfd;
}

int img_dir_check(int dfd)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	int fd = dup(dfd), ret = 0, pid;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (!ret && (de = readdir(d))) {
		if (img_type_by_name(de->d_name, &pid) < 0)
			continue;
		ret = img_stat_file(dfd, de->d_name, &st);
		if (ret == -ENOENT)
			ret = 0;
	}
	closedir(d);
	return ret;
}

#define RBUF_SIZE (64 << 10)

static int read_full(struct cr_img *img, void *buf, size_t len, const char *what)
{
	size_t done = 0;

	while (done < len) {
		size_t want = len - done;
		ssize_t n;

		if (img->rpos < img->rlen) {
			n = min(want, img->rlen - img->rpos);
			memcpy((char *)buf + done, img->rbuf + img->rpos, n);
			img->rpos += n;
			done += n;
			img->off += n;
			continue;
		}
		if (img->rbuf && want < RBUF_SIZE) {
			n = read(img->fd, img->rbuf, RBUF_SIZE);
			if (n > 0) {
				img->rpos = 0;
				img->rlen = n;
				continue;
			}
		} else {
			n = read(img->fd, (char *)buf + done, want);
		}

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("Can't read %s of image %s at offset %llu", what, img->path,
				  (unsigned long long)img->off);
			return -errno;
		}
		if (n == 0)
			break;
		done += n;
		img->off += n;
	}
	return done;
}

struct cr_img *img_open_read(int dfd, int type, int pid, bool optional)
{
	struct cr_img *img = calloc(1, sizeof(*img));
	uint32_t magic;
	int ret;

	if (!img)
		return NULL;
	img->type = type;
	img_name(img->path, sizeof(img->path), type, pid);
	img->fd = img_open_file(dfd, img->path, optional);
	if (img->fd < 0) {
		errno = -img->fd;
		free(img);
		return NULL;
	}
	if (!image_descs[type].magic)
		return img;
	img->rbuf = malloc(RBUF_SIZE);
	ret = read_full(img, &magic, sizeof(magic), "magic");
	if (ret != sizeof(magic) || magic != image_descs[type].magic) {
		if (ret >= 0)
			pr_err("Image %s is not a %s image (bad or missing magic)\n", img->path,
			       image_descs[type].pb->short_name);
		close(img->fd);
		free(img->rbuf);
		free(img);
		errno = EINVAL;
		return NULL;
	}
	return img;
}

struct cr_img *img_open_write(int dfd, int type, int pid)
{
	struct cr_img *img = calloc(1, sizeof(*img));

	if (!img)
		return NULL;
	img->type = type;
	img->write = true;
	img_name(img->path, sizeof(img->path), type, pid);
	img->fd = img_create_file(dfd, img->path);
	if (img->fd < 0) {
		free(img);
		return NULL;
	}
	if (!image_descs[type].magic)
		return img;
	img->wbuf = malloc(WBUF_SIZE);
	if (!img->wbuf) {
		close(img->fd);
		free(img);
		return NULL;
	}
	memcpy(img->wbuf, &image_descs[type].magic, sizeof(uint32_t));
	img->wlen = sizeof(uint32_t);
	return img;
}

static int img_flush(struct cr_img *img)
{
	size_t done = 0;

	while (done < img->wlen) {
		ssize_t n = write(img->fd, img->wbuf + done, img->wlen - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("Can't write image %s", img->path);
			return -errno;
		}
		done += n;
	}
	img->off += img->wlen;
	img->wlen = 0;
	return 0;
}

/* Closes an image of a dump that has failed: what is still buffered is
 * dropped, not written (a full disk must not report itself for every
 * image the failure leaves open). */
void img_discard(struct cr_img *img)
{
	if (!img)
		return;
	close(img->fd);
	free(img->wbuf);
	free(img->rbuf);
	free(img);
}

int img_close(struct cr_img *img)
{
	int ret = 0;

	if (!img)
		return 0;
	if (img->write && img->wbuf)
		ret = img_flush(img);
	if (close(img->fd) && !ret && img->write) {
		pr_perror("Can't close image %s", img->path);
		ret = -errno;
	}
	free(img->wbuf);
	free(img->rbuf);
	free(img);
	return ret;
}

static int img_append(struct cr_img *img, const void *data, size_t len)
{
	int ret;

	if (img->wlen + len > WBUF_SIZE) {
		ret = img_flush(img);
		if (ret)
			return ret;
	}
	if (len > WBUF_SIZE) {
		/* Large messages bypass the buffer. */
		while (len) {
			ssize_t n = write(img->fd, data, len);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				pr_perror("Can't write image %s", img->path);
				return -errno;
			}
			data = (const char *)data + n;
			len -= n;
			img->off += n;
		}
		return 0;
	}
	memcpy(img->wbuf + img->wlen, data, len);
	img->wlen += len;
	return 0;
}

int img_write_msg(struct cr_img *img, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	cleanup_free uint8_t *buf = NULL;
	uint32_t len32 = len;
	int ret;

	if (msg->descriptor != image_descs[img->type].pb) {
		pr_err("Internal: %s written into image %s\n", msg->descriptor->name, img->path);
		return -EINVAL;
	}
	if (len > IMAGE_MAX_MSG) {
		pr_err("Message %s of %zu bytes is too large for image %s\n",
		       msg->descriptor->short_name, len, img->path);
		return -EFBIG;
	}
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(msg, buf);
	ret = img_append(img, &len32, sizeof(len32));
	if (!ret)
		ret = img_append(img, buf, len);
	return ret;
}

int img_read_msg(struct cr_img *img, ProtobufCMessage **msg)
{
	cleanup_free uint8_t *buf = NULL;
	uint64_t start = img->off;
	uint32_t len;
	int ret;

	ret = read_full(img, &len, sizeof(len), "length");
	if (ret <= 0)
		return ret;
	if (ret != sizeof(len)) {
		pr_err("Image %s is truncated at offset %llu (partial length)\n", img->path,
		       (unsigned long long)start);
		return -EINVAL;
	}
	if (len > IMAGE_MAX_MSG) {
		pr_err("Image %s is corrupt: message of %u bytes at offset %llu\n", img->path,
		       len, (unsigned long long)start);
		return -EINVAL;
	}
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	ret = read_full(img, buf, len, "message");
	if (ret < 0)
		return ret;
	if ((uint32_t)ret != len) {
		pr_err("Image %s is truncated at offset %llu (%d of %u bytes)\n", img->path,
		       (unsigned long long)start, ret, len);
		return -EINVAL;
	}
	*msg = protobuf_c_message_unpack(image_descs[img->type].pb, NULL, len, buf);
	if (!*msg) {
		pr_err("Image %s is corrupt: can't decode %s at offset %llu\n", img->path,
		       image_descs[img->type].pb->short_name, (unsigned long long)start);
		return -EINVAL;
	}
	return 1;
}

int img_read_one(int dfd, int type, int pid, ProtobufCMessage **msg)
{
	struct cr_img *img = img_open_read(dfd, type, pid, false);
	ProtobufCMessage *extra;
	int ret;

	if (!img)
		return -EINVAL;
	ret = img_read_msg(img, msg);
	if (ret == 0) {
		pr_err("Image %s is empty\n", img->path);
		ret = -EINVAL;
	} else if (ret > 0) {
		ret = img_read_msg(img, &extra);
		if (ret > 0) {
			img_free_msg(extra);
			pr_err("Image %s holds more than one message\n", img->path);
			ret = -EINVAL;
		}
		if (ret < 0) {
			img_free_msg(*msg);
			*msg = NULL;
		}
	}
	img_close(img);
	return ret < 0 ? ret : 0;
}

int img_write_one(int dfd, int type, int pid, const ProtobufCMessage *msg)
{
	struct cr_img *img = img_open_write(dfd, type, pid);
	int ret;

	if (!img)
		return -EIO;
	ret = img_write_msg(img, msg);
	if (ret) {
		img_close(img);
		return ret;
	}
	return img_close(img);
}

void img_free_msg(ProtobufCMessage *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

int img_type_by_name(const char *name, int *pid)
{
	for (int t = 0; t < IMG_MAX; t++) {
		const char *fmt = image_descs[t].name_fmt;
		const char *pct = strstr(fmt, "%d");
		char tail[32];
		int n = 0;

		*pid = 0;
		if (!pct) {
			if (!strcmp(name, fmt))
				return t;
			continue;
		}
		if (strncmp(name, fmt, pct - fmt))
			continue;
		snprintf(tail, sizeof(tail), "%%d%s%%n", pct + 2);
		if (sscanf(name + (pct - fmt), tail, pid, &n) == 1 &&
		    name[(pct - fmt) + n] == '\0')
			return t;
	}
	return -1;
}

bool img_exists(int dfd, int type, int pid)
{
	char name[64];

	snprintf(name, sizeof(name), image_descs[type].name_fmt, pid);
	return !faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW);
}
