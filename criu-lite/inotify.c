/* Owns inotify instances: every watch (its number, mask, and the watched
 * file by path).  Dump turns the file handle fdinfo shows into a path
 * (open_by_handle_at on a mount of the watched file's device) and checks
 * that the path leads to the same inode.  Restore adds the watches in
 * order of their numbers; a gap in the numbers is filled with a watch
 * that is removed again (and its IN_IGNORED event read away), so every
 * watch gets its number back.  Events still queued at dump are not
 * restored (a warning says how many bytes). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "proc.h"

#define INOTIFY_FLAGS (O_ACCMODE | O_NONBLOCK)
#define MAX_WDS (1 << 20)
#define MAX_HANDLE 128

static bool inotify_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return !strcmp(p->link, "anon_inode:inotify");
}

/* Opens the file of handle FH through the first mount of device DEV
 * (kernel encoding, as fdinfo's sdev) in lmproc's mountinfo that can: a
 * bind mount of a subdirectory cannot reach files outside it. */
static int open_handle(unsigned int dev, struct file_handle *fh)
{
	cleanup_free char *info = proc_read_file("/proc/self/mountinfo", NULL);
	unsigned int maj = dev >> 20, min = dev & 0xfffff;

	for (char *l = info; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned int ma, mi;
		char mnt[4096];
		int mfd, fd;

		if (sscanf(l, "%*u %*u %u:%u %*s %4095s", &ma, &mi, mnt) != 3 || ma != maj ||
		    mi != min)
			continue;
		mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mfd < 0)
			continue;
		fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
		close(mfd);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

static int hex_bytes(const char *hex, unsigned char *out, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &out[i]) != 1)
			return -EINVAL;
	return 0;
}

/* The path of the watched file and its dev/ino, from its file handle. */
static int watch_path(struct files_dump *d, const struct fd_parms *p, unsigned int sdev,
		      unsigned long ino, const char *l, InotifyWdEntry *w)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE];
	} h;
	unsigned int bytes, type;
	char hex[2 * MAX_HANDLE + 1], link[64], path[4096];
	int fd, ret = -EOPNOTSUPP;
	struct stat st;

	l = strstr(l, "fhandle-bytes:");
	if (!l || sscanf(l, "fhandle-bytes:%x fhandle-type:%x f_handle:%256s", &bytes, &type,
			 hex) != 3 || bytes > MAX_HANDLE || hex_bytes(hex, h.bytes, bytes)) {
		pr_err("pid %d fd %d: inotify watch %u has no file handle lmproc can use\n", d->pid,
		       p->fd, w->wd);
		return -EOPNOTSUPP;
	}
	h.fh.handle_bytes = bytes;
	h.fh.handle_type = type;
	fd = open_handle(sdev, &h.fh);
	if (fd >= 0) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if (!proc_readlink(link, path, sizeof(path)) && path[0] == '/' &&
		    !stat(path, &st) && st.st_ino == ino &&
		    (unsigned int)((major(st.st_dev) << 20) | minor(st.st_dev)) == sdev)
			ret = 0;
		close(fd);
	}
	if (ret) {
		pr_err("pid %d fd %d: inotify watch %u is on inode %lu of device 0x%x, which no "
		       "path leads to: not supported\n", d->pid, p->fd, w->wd, ino, sdev);
		return ret;
	}
	w->path = strdup(path);
	w->dev = st.st_dev;
	w->ino = st.st_ino;
	return w->path ? 0 : -ENOMEM;
}

static int add_wd(struct files_dump *d, const struct fd_parms *p, const char *l,
		  InotifyEntry *e)
{
	unsigned int wd, sdev, mask;
	unsigned long ino;
	InotifyWdEntry *w, **n;

	if (sscanf(l, "inotify wd:%x ino:%lx sdev:%x mask:%x", &wd, &ino, &sdev, &mask) != 4) {
		pr_err("Can't parse the inotify of pid %d fd %d in its fdinfo\n", d->pid, p->fd);
		return -EINVAL;
	}
	n = realloc(e->wds, (e->n_wds + 1) * sizeof(*n));
	w = calloc(1, sizeof(*w));
	if (n)
		e->wds = n;
	if (!n || !w) {
		free(w);
		return -ENOMEM;
	}
	inotify_wd_entry__init(w);
	e->wds[e->n_wds++] = w;
	w->wd = wd;
	w->mask = mask;
	return watch_path(d, p, sdev, ino, l, w);
}

static int cmp_wd(const void *a, const void *b)
{
	const InotifyWdEntry *x = *(InotifyWdEntry *const *)a, *y = *(InotifyWdEntry *const *)b;

	return x->wd < y->wd ? -1 : x->wd > y->wd;
}

static void warn_queued(struct files_dump *d, const struct fd_parms *p)
{
	int fd = files_steal(d, p), queued = 0;

	if (fd < 0)
		return;
	if (!ioctl(fd, FIONREAD, &queued) && queued)
		pr_warn("pid %d fd %d: %d bytes of inotify events are queued; they are not "
			"restored\n", d->pid, p->fd, queued);
	close(fd);
}

static int inotify_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	InotifyEntry e = INOTIFY_ENTRY__INIT;
	int ret = 0;

	if (p->flags & ~INOTIFY_FLAGS) {
		pr_err("pid %d fd %d is an inotify with flags 0%o: not supported yet\n", d->pid,
		       p->fd, p->flags);
		return -EOPNOTSUPP;
	}
	for (const char *l = p->info; l && !ret; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, "inotify wd:", 11))
			ret = add_wd(d, p, l, &e);
	if (!ret) {
		qsort(e.wds, e.n_wds, sizeof(*e.wds), cmp_wd);
		warn_queued(d, p);
		e.flags = p->flags;
		fe->inotify = &e;
		ret = files_write(d, fe);
	}
	for (size_t i = 0; i < e.n_wds; i++) {
		free(e.wds[i]->path);
		free(e.wds[i]);
	}
	free(e.wds);
	return ret;
}

static int inotify_validate(const FileEntry *f, uint64_t data_size)
{
	const InotifyEntry *e = f->inotify;

	(void)data_size;
	if (!e)
		return restore_plan_bad("files.img", "file id %u has no inotify entry", f->id);
	if ((e->flags & ~INOTIFY_FLAGS) || (e->flags & O_ACCMODE) != O_RDONLY ||
	    e->n_wds > MAX_WDS)
		return restore_plan_bad("files.img", "inotify file id %u: flags 0%o, %zu watches",
					f->id, e->flags, e->n_wds);
	for (size_t i = 0; i < e->n_wds; i++) {
		const InotifyWdEntry *w = e->wds[i];

		if (!w->wd || w->wd > INT32_MAX || (i && w->wd <= e->wds[i - 1]->wd) ||
		    w->path[0] != '/' || !(w->mask & IN_ALL_EVENTS))
			return restore_plan_bad("files.img", "inotify file id %u: watch %u on "
						"\"%s\" with mask 0x%x", f->id, w->wd, w->path,
						w->mask);
	}
	return 0;
}

/* The watched files are the dumped ones. */
static int inotify_check(const struct restore_plan *p, uint32_t desc)
{
	const InotifyEntry *e = p->fdesc[desc].fe->inotify;

	for (size_t i = 0; i < e->n_wds; i++) {
		const InotifyWdEntry *w = e->wds[i];
		struct stat st;

		if (stat(w->path, &st) || st.st_dev != w->dev || st.st_ino != w->ino) {
			pr_err("fd %d: inotify watch %u: %s is not the watched file any more\n",
			       p->fdesc[desc].first_fd, w->wd, w->path);
			return -ESTALE;
		}
	}
	return 0;
}

/* Watch numbers come one after the other: NEXT up to WD (exclusive) are
 * taken by throw-away watches on PATH (not watched yet), removed again,
 * and their IN_IGNORED events read away. */
static int skip_to(struct task_files *tf, uint32_t desc, int fd, uint32_t next, uint32_t wd,
		   const char *path)
{
	char buf[4096];

	while (next < wd) {
		int w = inotify_add_watch(fd, path, IN_ACCESS);

		if (w < 0)
			return task_files_err(tf, desc, "can't reach watch number %u: %s", wd,
					      strerror(errno));
		inotify_rm_watch(fd, w);
		next = w + 1;
	}
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return 0;
}

static int add_watches(struct task_files *tf, uint32_t desc, int fd)
{
	const InotifyEntry *e = tf->plan->fdesc[desc].fe->inotify;
	uint32_t next = 1;

	for (size_t i = 0; i < e->n_wds; i++) {
		const InotifyWdEntry *w = e->wds[i];
		int got;

		if (w->wd != next && skip_to(tf, desc, fd, next, w->wd, w->path))
			return -EIO;
		got = inotify_add_watch(fd, w->path, w->mask);
		if (got < 0 || (uint32_t)got != w->wd)
			return task_files_err(tf, desc, "watch %u on %s (mask 0x%x) came back as "
					      "%d: %s", w->wd, w->path, w->mask, got,
					      got < 0 ? strerror(errno) : "another number");
		next = w->wd + 1;
	}
	return 0;
}

/* Non-blocking while the gaps are read away. */
static int inotify_open(struct task_files *tf, uint32_t desc)
{
	const InotifyEntry *e = tf->plan->fdesc[desc].fe->inotify;
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), ret;

	if (fd < 0)
		return task_files_err(tf, desc, "can't create an inotify: %s", strerror(errno));
	ret = add_watches(tf, desc, fd);
	if (!ret && !(e->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, 0))
		ret = task_files_err(tf, desc, "can't clear O_NONBLOCK: %s", strerror(errno));
	if (ret) {
		close(fd);
		return ret;
	}
	return task_files_install(tf, desc, fd);
}

const struct fd_ops inotify_fd_ops = {
	.type = FD_TYPE__FD_INOTIFY,
	.name = "inotify",
	.match = inotify_match,
	.dump = inotify_dump,
	.validate = inotify_validate,
	.check = inotify_check,
	.open = inotify_open,
};
