/* Owns the one rule by which any file of an images directory is created
 * or opened (docs/images.md, "The images directory"): images are created
 * new (O_EXCL | O_NOFOLLOW, 0600) and read only if they are regular
 * files; a directory others can write to is warned about.  Knows nothing
 * of what an image holds (image.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "log.h"

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
