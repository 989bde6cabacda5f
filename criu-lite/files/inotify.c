/* Owns inotify instances: every watch (its number, mask, and the watched
 * file by path).  Dump turns the file handle fdinfo shows into a path
 * (open_by_handle_at on a mount of the watched file's device) and checks
 * that the path leads to the same inode (fhandle.c).  Restore adds the watches in
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
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "words.h"

#define INOTIFY_FLAGS (O_ACCMODE | O_NONBLOCK)
#define MAX_WDS (1 << 20)

static bool inotify_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return !strcmp(p->link, "anon_inode:inotify");
}

/* The path of the watched file and its dev/ino, from its file handle. */
static int watch_path(struct files_dump *d, const struct fd_parms *p, unsigned int sdev,
		      unsigned long ino, const char *l, InotifyWdEntry *w)
{
	struct stat st;
	int ret = fhandle_path(sdev, ino, l, &w->path, &st);

	if (ret == -EINVAL) {
		pr_err("pid %d fd %d: inotify watch %u has no file handle lmproc can use\n", d->pid,
		       p->fd, w->wd);
		return -EOPNOTSUPP;
	}
	if (ret == -ENOENT) {
		/* fdinfo's sdev is the kernel's dev_t: major << 20 | minor. */
		pr_err("pid %d fd %d: inotify watch %u is on inode %lu of device %u:%u, which no "
		       "path leads to: not supported\n", d->pid, p->fd, w->wd, ino, sdev >> 20,
		       sdev & 0xfffff);
		return -EOPNOTSUPP;
	}
	w->dev = st.st_dev;
	w->ino = st.st_ino;
	return ret;
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

	if (p->flags & ~INOTIFY_FLAGS)
		return files_refuse_flags(d, p, "an inotify instance", INOTIFY_FLAGS);
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
		return restore_plan_bad("files.img", "inotify file id %u: flags %s, %zu watches",
					f->id, open_flags_words(e->flags).s, e->n_wds);
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
