/* Owns files-data.img, the bytes that open files hold and that no path
 * leads back to: a pipe's buffer, a socket's queue, a deleted file's or a
 * memfd's contents, and the owner and times such a file gets back once
 * filled.  Dump appends blobs and hands back their offset; the restored
 * task reads them back.  Knows nothing of the types. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "image.h"
#include "log.h"

#define COPY_CHUNK (1 << 20)
/* No file lmproc restores is larger (the kernel's MAX_LFS_FILESIZE). */
#define MAX_FILE_SIZE ((uint64_t)INT64_MAX)
#define MAX_EXTENTS (1 << 20)

int files_data_write(struct files_dump *d, const void *buf, size_t len, uint64_t *off)
{
	int ret;

	*off = d->data_off;
	/* A pre-dump looks at the fds without writing images. */
	ret = d->data ? img_write_raw(d->data, buf, len) : 0;
	if (ret)
		return ret;
	d->data_off += len;
	return 0;
}

static int add_extent(FileContents *c, uint64_t off, uint64_t len)
{
	FileExtent **n, *e;

	if (c->n_extents && c->extents[c->n_extents - 1]->off + c->extents[c->n_extents - 1]->len ==
				    off) {
		c->extents[c->n_extents - 1]->len += len;
		return 0;
	}
	n = realloc(c->extents, (c->n_extents + 1) * sizeof(*n));
	e = malloc(sizeof(*e));
	if (n)
		c->extents = n;
	if (!n || !e) {
		free(e);
		return -ENOMEM;
	}
	file_extent__init(e);
	e->off = off;
	e->len = len;
	c->extents[c->n_extents++] = e;
	return 0;
}

/* Copies LEN bytes at OFF of FD to files-data.img. */
static int copy_range(struct files_dump *d, int fd, uint64_t off, uint64_t len, char *buf,
		      const char *what)
{
	uint64_t at;

	while (len) {
		ssize_t n = pread(fd, buf, min(len, (uint64_t)FILES_SCRATCH_SIZE), off);
		int ret;

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			pr_err("Can't read %s at %llu: %s\n", what, (unsigned long long)off,
			       n ? strerror(errno) : "it shrank");
			return n ? -errno : -EIO;
		}
		ret = files_data_write(d, buf, n, &at);
		if (ret)
			return ret;
		off += n;
		len -= n;
	}
	return 0;
}

int files_data_save_contents(struct files_dump *d, int fd, uint64_t size, FileContents *c,
			     const char *what)
{
	char *buf = files_scratch(d);
	off_t off = 0;

	if (!buf)
		return -ENOMEM;
	c->size = size;
	c->data_off = d->data_off;
	while (d->data && (uint64_t)off < size) {
		off_t data = lseek(fd, off, SEEK_DATA), hole;
		int ret;

		if (data < 0 && errno == ENXIO)
			break;
		hole = data < 0 ? -1 : lseek(fd, data, SEEK_HOLE);
		if (hole < 0) {
			pr_perror("Can't find the data of %s", what);
			return -errno;
		}
		hole = min((uint64_t)hole, size);
		if (data >= hole)
			break;
		ret = add_extent(c, data, hole - data);
		if (!ret)
			ret = copy_range(d, fd, data, hole - data, buf, what);
		if (ret)
			return ret;
		off = hole;
	}
	return 0;
}

void files_contents_free(FileContents *c)
{
	for (size_t i = 0; i < c->n_extents; i++)
		free(c->extents[i]);
	free(c->extents);
	c->extents = NULL;
	c->n_extents = 0;
}

int files_contents_validate(const char *what, const FileContents *c, uint64_t data_size)
{
	uint64_t end = 0, total = 0;

	if (c->size > MAX_FILE_SIZE || c->n_extents > MAX_EXTENTS)
		return restore_plan_bad("files.img", "%s: size %llu, %zu extents", what,
					(unsigned long long)c->size, c->n_extents);
	for (size_t i = 0; i < c->n_extents; i++) {
		const FileExtent *e = c->extents[i];

		if (!e->len || e->off < end || e->off > c->size || e->len > c->size - e->off)
			return restore_plan_bad("files.img", "%s: extent %llu+%llu of a %llu-byte "
					"file", what, (unsigned long long)e->off,
					(unsigned long long)e->len, (unsigned long long)c->size);
		end = e->off + e->len;
		total += e->len;
	}
	if (c->data_off > data_size || total > data_size - c->data_off)
		return restore_plan_bad("files.img", "%s: %llu bytes at %llu, files-data.img has "
					"%llu", what, (unsigned long long)total,
					(unsigned long long)c->data_off,
					(unsigned long long)data_size);
	return 0;
}

int task_contents_fill(struct task_files *tf, int fd, const FileContents *c, const char *what)
{
	off_t from = c->data_off;

	if (ftruncate(fd, c->size)) {
		snprintf(tf->err, tf->len, "%s: can't set its size to %llu: %s", what,
			 (unsigned long long)c->size, strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < c->n_extents; i++) {
		uint64_t left = c->extents[i]->len;

		if (lseek(fd, c->extents[i]->off, SEEK_SET) < 0)
			goto err;
		while (left) {
			ssize_t n;

			errno = 0;
			n = sendfile(fd, tf->data_fd, &from, min(left, (uint64_t)COPY_CHUNK));
			if (n <= 0)
				goto err;
			left -= n;
		}
	}
	return 0;
err:
	snprintf(tf->err, tf->len, "%s: can't write its contents back: %s", what,
		 errno ? strerror(errno) : "files-data.img is short");
	return errno ? -errno : -EIO;
}

#define NS_PER_SEC 1000000000LL

void files_inode_attrs(InodeAttrsEntry *a, const struct stat *st)
{
	inode_attrs_entry__init(a);
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->atime_ns = st->st_atim.tv_sec * NS_PER_SEC + st->st_atim.tv_nsec;
	a->mtime_ns = st->st_mtim.tv_sec * NS_PER_SEC + st->st_mtim.tv_nsec;
}

/* (uid_t)-1 is no owner: fchown() would leave the file's. */
int files_inode_attrs_validate(const char *what, const InodeAttrsEntry *a)
{
	if (!a)
		return restore_plan_bad("files.img", "%s: no owner and times", what);
	if (a->uid == (uint32_t)-1 || a->gid == (uint32_t)-1)
		return restore_plan_bad("files.img", "%s: owner %u:%u", what, a->uid, a->gid);
	return 0;
}

static struct timespec ns_to_ts(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / NS_PER_SEC, .tv_nsec = ns % NS_PER_SEC};

	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += NS_PER_SEC;
	}
	return ts;
}

/* The same by PATH, for a node no fd may be opened on (a device). */
int task_inode_attrs_set_path(struct task_files *tf, const char *path, const InodeAttrsEntry *a,
			      int perm)
{
	struct timespec ts[2] = {ns_to_ts(a->atime_ns), ns_to_ts(a->mtime_ns)};

	if (lchown(path, a->uid, a->gid) || fchmodat(AT_FDCWD, path, perm, 0) ||
	    utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW)) {
		snprintf(tf->err, tf->len, "%s: can't give it owner %u:%u, mode 0%o and times: %s",
			 path, a->uid, a->gid, perm, strerror(errno));
		return -errno;
	}
	return 0;
}

int task_inode_attrs_set(struct task_files *tf, int fd, const InodeAttrsEntry *a, bool owner,
			 int perm, const char *what)
{
	struct timespec ts[2] = {ns_to_ts(a->atime_ns), ns_to_ts(a->mtime_ns)};

	if (owner && fchown(fd, a->uid, a->gid)) {
		snprintf(tf->err, tf->len, "%s: can't give it owner %u:%u: %s", what, a->uid,
			 a->gid, strerror(errno));
		return -errno;
	}
	if (perm >= 0 && fchmod(fd, perm)) {
		snprintf(tf->err, tf->len, "%s: can't chmod it to 0%o: %s", what, perm,
			 strerror(errno));
		return -errno;
	}
	if (futimens(fd, ts)) {
		snprintf(tf->err, tf->len, "%s: can't set its times back: %s", what,
			 strerror(errno));
		return -errno;
	}
	return 0;
}
