/* Owns a working directory removed while in use (rmdir of the cwd, as a
 * cleaned-up build or temporary directory leaves it): the dump records
 * its path, mode, owner and times; restore makes a directory at that
 * path, gives it those, works in it and removes it again, so that
 * /proc/PID/cwd reads the same "PATH (deleted)" and getcwd() fails with
 * ENOENT as before, and nothing is left.  A file now at the path steps
 * aside meanwhile; the tasks of a tree take turns (a flock on the
 * directory above).  Each task gets its own such directory (CRIU's ghost
 * directory is shared).  A removed root directory is refused. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "fs-ghost.h"
#include "log.h"

#define DELETED_SUFFIX " (deleted)"
#define ASIDE_SUFFIX ".lmproc-aside"
/* Turns of the tasks sharing the lock: each holds it for a few syscalls. */
#define LOCK_TRIES 5000
#define LOCK_WAIT_NS 1000000

/* LINK ends with " (deleted)" and /proc/PID/WHAT has no link left. */
static bool removed(pid_t pid, const char *what, const char *link)
{
	size_t n = strlen(link), s = strlen(DELETED_SUFFIX);
	char path[64];
	struct stat st;

	if (n <= s || strcmp(link + n - s, DELETED_SUFFIX))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	return !stat(path, &st) && S_ISDIR(st.st_mode) && !st.st_nlink;
}

static bool parent_is_dir(const char *path)
{
	cleanup_free char *dir = strdup(path);
	struct stat st;

	return dir && !stat(dirname(dir), &st) && S_ISDIR(st.st_mode);
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

int fs_ghost_dump(pid_t pid, char *cwd, const char *root, FsEntry *fs)
{
	char path[64];
	struct stat st;

	if (removed(pid, "root", root)) {
		pr_err("The root directory of pid %d (%s) was removed: not supported\n", pid, root);
		return -EOPNOTSUPP;
	}
	if (!removed(pid, "cwd", cwd))
		return 0;
	cwd[strlen(cwd) - strlen(DELETED_SUFFIX)] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	if (strcmp(root, "/") || !parent_is_dir(cwd) ||
	    strlen(cwd) + sizeof(ASIDE_SUFFIX) > PATH_MAX || stat(path, &st)) {
		pr_err("The working directory of pid %d (%s) was removed, %s: not supported\n", pid,
		       cwd,
		       strcmp(root, "/") ? "and the process is chrooted"
					 : "with the directory above it");
		return -EOPNOTSUPP;
	}
	fs->has_cwd_deleted_perm = fs->has_cwd_uid = fs->has_cwd_gid = true;
	fs->has_cwd_atime_ns = fs->has_cwd_mtime_ns = true;
	fs->cwd_deleted_perm = st.st_mode & 07777;
	fs->cwd_uid = st.st_uid;
	fs->cwd_gid = st.st_gid;
	fs->cwd_atime_ns = ts_ns(&st.st_atim);
	fs->cwd_mtime_ns = ts_ns(&st.st_mtim);
	return 0;
}

const char *fs_ghost_bad(const FsEntry *fs)
{
	bool all = fs->has_cwd_deleted_perm && fs->has_cwd_uid && fs->has_cwd_gid &&
		   fs->has_cwd_atime_ns && fs->has_cwd_mtime_ns;
	bool any = fs->has_cwd_deleted_perm || fs->has_cwd_uid || fs->has_cwd_gid ||
		   fs->has_cwd_atime_ns || fs->has_cwd_mtime_ns;

	if (!any)
		return NULL;
	if (!all)
		return "a removed cwd without all of its mode, owner and times";
	if (fs->cwd_deleted_perm & ~07777)
		return "a removed cwd with a bad mode";
	if (strcmp(fs->root, "/") || !strcmp(fs->cwd, "/") ||
	    strlen(fs->cwd) + sizeof(ASIDE_SUFFIX) > PATH_MAX)
		return "a removed cwd that is the root, too long, or in a chroot";
	return NULL;
}

int fs_ghost_check(pid_t pid, const FsEntry *fs)
{
	if (parent_is_dir(fs->cwd))
		return 0;
	pr_err("pid %d: its working directory %s was removed, and the directory it was in "
	       "can't be found here\n",
	       pid, fs->cwd);
	return -ENOENT;
}

/* The tasks of the tree making removed working directories there take
 * turns; a lock held elsewhere for long (not lmproc's) fails the restore. */
static int lock_dir(int fd)
{
	struct timespec wait = {0, LOCK_WAIT_NS};

	for (int i = 0; i < LOCK_TRIES; i++) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		nanosleep(&wait, NULL);
	}
	return -EWOULDBLOCK;
}

/* Made at PATH, given the dumped mode, owner and times, entered, removed. */
static int make_and_enter(const FsEntry *fs, char *err, size_t len)
{
	struct timespec ts[2] = {
	    {fs->cwd_atime_ns / 1000000000, fs->cwd_atime_ns % 1000000000},
	    {fs->cwd_mtime_ns / 1000000000, fs->cwd_mtime_ns % 1000000000},
	};
	const char *what;
	int ret = 0;

	if (mkdir(fs->cwd, 0700)) {
		snprintf(err, len, "can't make its removed cwd %s again: %s", fs->cwd,
			 strerror(errno));
		return -errno;
	}
	if (chown(fs->cwd, fs->cwd_uid, fs->cwd_gid))
		what = "give an owner to";
	else if (chmod(fs->cwd, fs->cwd_deleted_perm))
		what = "give a mode to";
	else if (utimensat(AT_FDCWD, fs->cwd, ts, AT_SYMLINK_NOFOLLOW))
		what = "set the times of";
	else if (chdir(fs->cwd))
		what = "change to";
	else
		what = NULL;
	if (what) {
		ret = -errno;
		snprintf(err, len, "can't %s its removed cwd %s: %s", what, fs->cwd,
			 strerror(errno));
	}
	if (rmdir(fs->cwd) && !ret) {
		ret = -errno;
		snprintf(err, len, "can't remove its cwd %s again: %s", fs->cwd, strerror(errno));
	}
	return ret;
}

int fs_ghost_enter(const FsEntry *fs, char *err, size_t len)
{
	cleanup_free char *parent = strdup(fs->cwd);
	char aside[PATH_MAX];
	bool moved;
	int fd, ret;

	if (!parent)
		return -ENOMEM;
	fd = open(dirname(parent), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = fd < 0 ? -errno : lock_dir(fd);
	if (ret) {
		snprintf(err, len, "can't lock %s to make its removed cwd again: %s", parent,
			 strerror(-ret));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	snprintf(aside, sizeof(aside), "%s" ASIDE_SUFFIX, fs->cwd);
	moved = !renameat2(AT_FDCWD, fs->cwd, AT_FDCWD, aside, RENAME_NOREPLACE);
	if (!moved && errno != ENOENT) {
		ret = -errno;
		snprintf(err, len, "can't move %s aside to make its removed cwd again: %s", fs->cwd,
			 strerror(errno));
	}
	if (!ret)
		ret = make_and_enter(fs, err, len);
	if (moved && renameat2(AT_FDCWD, aside, AT_FDCWD, fs->cwd, RENAME_NOREPLACE) && !ret) {
		ret = -errno;
		snprintf(err, len, "can't put %s back from %s: %s", fs->cwd, aside,
			 strerror(errno));
	}
	close(fd);
	return ret;
}
