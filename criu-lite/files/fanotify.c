/* Owns fanotify groups of the notification class: the group's init and
 * event flags and every mark (an inode by path, found from its file
 * handle as inotify watches are; a mount or a filesystem by a mount
 * point), with its mask, ignored mask and flags.  Restore makes the group
 * and marks the same objects again, in the order that gives fdinfo's
 * order back.  Permission classes are refused (a permission event waiting
 * for an answer can't be carried over); events still queued at dump are
 * dropped with a warning. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "words.h"

#define FANOTIFY_FLAGS (O_ACCMODE | O_NONBLOCK | KERNEL_O_LARGEFILE)
#define CLASS_BITS (FAN_CLASS_NOTIF | FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT)
#define INIT_FLAGS (CLASS_BITS | FAN_CLOEXEC | FAN_NONBLOCK | FAN_UNLIMITED_QUEUE | \
		    FAN_UNLIMITED_MARKS | FAN_ENABLE_AUDIT | FAN_REPORT_PIDFD | FAN_REPORT_TID | \
		    FAN_REPORT_FID | FAN_REPORT_DIR_FID | FAN_REPORT_NAME | FAN_REPORT_TARGET_FID)
#define EVENT_FLAGS (O_ACCMODE | KERNEL_O_LARGEFILE | O_CLOEXEC | O_NONBLOCK | O_APPEND | \
		     O_DSYNC | O_NOATIME | O_SYNC)
#define MARK_FLAGS (FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_EVICTABLE | FAN_MARK_IGNORE)
#define MAX_MARKS (1 << 20)

static bool fanotify_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return !strcmp(p->link, "anon_inode:[fanotify]");
}

static int mark_error(struct files_dump *d, const struct fd_parms *p, const char *l,
		      const char *why)
{
	pr_err("pid %d fd %d: fanotify mark \"%.*s\" %s: not supported\n", d->pid, p->fd,
	       (int)strcspn(l, "\n"), l, why);
	return -EOPNOTSUPP;
}

/* The marked object of line L by path: an inode, a mount, a filesystem. */
static int mark_object(struct files_dump *d, const struct fd_parms *p, const char *l,
		       FanotifyMarkEntry *m)
{
	unsigned int sdev, mnt;
	unsigned long ino;
	struct stat st;
	int ret;

	if (sscanf(l, "fanotify ino:%lx sdev:%x", &ino, &sdev) == 2) {
		m->type = 0;
		ret = fhandle_path(sdev, ino, l, &m->path, &st);
		if (ret)
			return ret == -ENOMEM ? ret : mark_error(d, p, l, "on a file no path "
								   "leads to");
		m->has_dev = m->has_ino = true;
		m->dev = st.st_dev;
		m->ino = st.st_ino;
		return 0;
	}
	if (sscanf(l, "fanotify mnt_id:%x", &mnt) == 1) {
		m->type = FAN_MARK_MOUNT;
		ret = mount_point_of(d->pid, mnt, 0, &m->path);
	} else if (sscanf(l, "fanotify sdev:%x", &sdev) == 1) {
		m->type = FAN_MARK_FILESYSTEM;
		ret = mount_point_of(d->pid, -1, sdev, &m->path);
	} else {
		return mark_error(d, p, l, "of an unknown kind");
	}
	if (ret)
		return ret == -ENOMEM ? ret : mark_error(d, p, l, "on a mount not in mountinfo");
	return 0;
}

static int add_mark(struct files_dump *d, const struct fd_parms *p, const char *l,
		    FanotifyEntry *e)
{
	FanotifyMarkEntry *m, **n;
	unsigned int mflags, mask, ignored;
	const char *f = strstr(l, "mflags:");

	if (!f || sscanf(f, "mflags:%x mask:%x ignored_mask:%x", &mflags, &mask, &ignored) != 3) {
		pr_err("Can't parse the fanotify of pid %d fd %d in its fdinfo\n", d->pid, p->fd);
		return -EINVAL;
	}
	if (mflags & ~MARK_FLAGS)
		return mark_error(d, p, l, "with unknown flags");
	n = realloc(e->marks, (e->n_marks + 1) * sizeof(*n));
	m = calloc(1, sizeof(*m));
	if (n)
		e->marks = n;
	if (!n || !m) {
		free(m);
		return -ENOMEM;
	}
	fanotify_mark_entry__init(m);
	e->marks[e->n_marks++] = m;
	m->mflags = mflags;
	m->mask = mask;
	m->ignored_mask = ignored;
	return mark_object(d, p, l, m);
}

static void warn_queued(struct files_dump *d, const struct fd_parms *p)
{
	int fd = files_steal(d, p), queued = 0;

	if (fd < 0)
		return;
	if (!ioctl(fd, FIONREAD, &queued) && queued)
		pr_warn("pid %d fd %d: %d bytes of fanotify events are queued; they are not "
			"restored\n", d->pid, p->fd, queued);
	close(fd);
}

static const char *class_name(unsigned int init_flags)
{
	switch (init_flags & CLASS_BITS) {
	case FAN_CLASS_CONTENT:
		return "FAN_CLASS_CONTENT";
	case FAN_CLASS_PRE_CONTENT:
		return "FAN_CLASS_PRE_CONTENT";
	default:
		return "unknown";
	}
}

static int parse_group(struct files_dump *d, const struct fd_parms *p, FanotifyEntry *e)
{
	const char *g = fdinfo_field(p->info, "fanotify flags:");
	unsigned int flags, event_flags;

	if (!g || sscanf(g, "%x event-flags:%x", &flags, &event_flags) != 2) {
		pr_err("Can't parse the fanotify of pid %d fd %d in its fdinfo\n", d->pid, p->fd);
		return -EINVAL;
	}
	if ((flags & CLASS_BITS) != FAN_CLASS_NOTIF) {
		pr_err("pid %d fd %d is a fanotify group of class %s (init flags 0x%x): only "
		       "FAN_CLASS_NOTIF is supported (a permission event would be lost)\n",
		       d->pid, p->fd, class_name(flags), flags);
		return -EOPNOTSUPP;
	}
	if (p->flags & ~FANOTIFY_FLAGS)
		return files_refuse_flags(d, p, "a fanotify group", FANOTIFY_FLAGS);
	e->flags = p->flags;
	e->init_flags = flags;
	e->event_flags = event_flags;
	return 0;
}

static int fanotify_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	FanotifyEntry e = FANOTIFY_ENTRY__INIT;
	int ret = parse_group(d, p, &e);

	for (const char *l = p->info; l && !ret; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, "fanotify ", 9) && strncmp(l, "fanotify flags:", 15))
			ret = add_mark(d, p, l, &e);
	if (!ret) {
		warn_queued(d, p);
		fe->fanotify = &e;
		ret = files_write(d, fe);
	}
	for (size_t i = 0; i < e.n_marks; i++) {
		free(e.marks[i]->path);
		free(e.marks[i]);
	}
	free(e.marks);
	return ret;
}

static int fanotify_validate(const FileEntry *f, uint64_t data_size)
{
	const FanotifyEntry *e = f->fanotify;

	(void)data_size;
	if (!e)
		return restore_plan_bad("files.img", "file id %u has no fanotify entry", f->id);
	if ((e->flags & ~FANOTIFY_FLAGS) || (e->init_flags & CLASS_BITS) != FAN_CLASS_NOTIF ||
	    (e->init_flags & ~INIT_FLAGS) ||
	    (e->event_flags & ~EVENT_FLAGS) || e->n_marks > MAX_MARKS)
		return restore_plan_bad("files.img", "fanotify file id %u: flags %s, init flags "
					"0x%x, event flags %s, %zu marks", f->id,
					open_flags_words(e->flags).s, e->init_flags,
					open_flags_words(e->event_flags).s, e->n_marks);
	for (size_t i = 0; i < e->n_marks; i++) {
		const FanotifyMarkEntry *m = e->marks[i];

		if ((m->type && m->type != FAN_MARK_MOUNT && m->type != FAN_MARK_FILESYSTEM) ||
		    (m->mflags & ~MARK_FLAGS) || m->path[0] != '/' || m->mask > UINT32_MAX ||
		    m->ignored_mask > UINT32_MAX || (!m->mask && !m->ignored_mask) ||
		    (m->type == 0 && (!m->has_dev || !m->has_ino)))
			return restore_plan_bad("files.img", "fanotify file id %u: mark %zu of type "
						"0x%x on \"%s\", flags 0x%x, masks 0x%llx/0x%llx",
						f->id, i, m->type, m->path, m->mflags,
						(unsigned long long)m->mask,
						(unsigned long long)m->ignored_mask);
	}
	return 0;
}

/* The marked files are the dumped ones. */
static int fanotify_check(const struct restore_plan *p, uint32_t desc)
{
	const FanotifyEntry *e = p->fdesc[desc].fe->fanotify;

	for (size_t i = 0; i < e->n_marks; i++) {
		const FanotifyMarkEntry *m = e->marks[i];
		struct stat st;

		if (m->type != 0)
			continue;
		if (stat(m->path, &st) || st.st_dev != m->dev || st.st_ino != m->ino) {
			pr_err("fd %d: fanotify mark %zu: %s is not the marked file any more\n",
			       p->fdesc[desc].first_fd, i, m->path);
			return -ESTALE;
		}
	}
	return 0;
}

static int mark_one(struct task_files *tf, uint32_t desc, int fd, const FanotifyMarkEntry *m)
{
	unsigned int how = FAN_MARK_ADD | m->type | (m->type ? 0 : FAN_MARK_DONT_FOLLOW);
	unsigned int ignore = (m->mflags & FAN_MARK_IGNORE) ? FAN_MARK_IGNORE :
							      FAN_MARK_IGNORED_MASK;

	if (m->mask && fanotify_mark(fd, how | (m->mflags & FAN_MARK_EVICTABLE), m->mask,
				     AT_FDCWD, m->path))
		return task_files_err(tf, desc, "can't mark %s (mask 0x%llx): %s", m->path,
				      (unsigned long long)m->mask, strerror(errno));
	if (m->ignored_mask &&
	    fanotify_mark(fd, how | ignore | (m->mflags & (FAN_MARK_IGNORED_SURV_MODIFY |
							   FAN_MARK_EVICTABLE)),
			  m->ignored_mask, AT_FDCWD, m->path))
		return task_files_err(tf, desc, "can't mark %s (ignored mask 0x%llx): %s",
				      m->path, (unsigned long long)m->ignored_mask,
				      strerror(errno));
	return 0;
}

static int fanotify_open(struct task_files *tf, uint32_t desc)
{
	const FanotifyEntry *e = tf->plan->fdesc[desc].fe->fanotify;
	int fd = fanotify_init(e->init_flags, e->event_flags), ret = 0;

	if (fd < 0)
		return task_files_err(tf, desc, "can't create a fanotify group (flags 0x%x): %s",
				      e->init_flags, strerror(errno));
	/* fdinfo lists the newest mark first. */
	for (size_t i = e->n_marks; i-- > 0 && !ret;)
		ret = mark_one(tf, desc, fd, e->marks[i]);
	if (!ret && fcntl(fd, F_SETFL, e->flags & O_NONBLOCK))
		ret = task_files_err(tf, desc, "can't set flags %s: %s", open_flags_words(e->flags).s,
				     strerror(errno));
	if (ret) {
		close(fd);
		return ret;
	}
	return task_files_install(tf, desc, fd);
}

const struct fd_ops fanotify_fd_ops = {
	.type = FD_TYPE__FD_FANOTIFY,
	.name = "fanotify",
	.match = fanotify_match,
	.dump = fanotify_dump,
	.validate = fanotify_validate,
	.check = fanotify_check,
	.open = fanotify_open,
};
