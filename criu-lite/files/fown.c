/* Owns signal-driven I/O on an open file description, whatever its kind:
 * its owner (F_SETOWN_EX: a thread, a process or a process group), the
 * signal it sends (F_SETSIG) and O_ASYNC.  The dump reads them on a copy
 * of the task's fd and refuses an owner outside the tree; restore
 * chooses one process holding the description to set them again (the
 * owner's own, if it holds it: the kernel's siginfo names the fd O_ASYNC
 * was set through), and its restorer does, once every fd, process and
 * thread of it exists and before any signal can be taken: owner and
 * signal first, then O_ASYNC, so that the first signal goes where the
 * dumped ones went.  An owner F_SETOWN was given a thread's tid of (which
 * F_GETOWN_EX shows as process 0) is read through the BPF iterator of
 * task/kstate-iter.c and set again as such.  Owner, signal and O_ASYNC are the description's:
 * one fown_entry per file_entry, however many fds share it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "kstate-iter.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "restore.h"

/* include/uapi/asm-generic/fcntl.h, under CONFIG_CHECKPOINT_RESTORE. */
#ifndef F_GETOWNER_UIDS
#define F_GETOWNER_UIDS 17
#endif

/* The highest signal F_SETSIG takes (the kernel's _NSIG). */
#define FOWN_MAX_SIG 64

static const char *owner_kind(uint32_t type)
{
	switch (type) {
	case F_OWNER_TID:
		return "thread";
	case F_OWNER_PID:
		return "process";
	case F_OWNER_PGRP:
		return "process group";
	default:
		return "owner of unknown kind";
	}
}

static bool in_tree(const struct files_dump *d, pid_t pid)
{
	for (size_t i = 0; i < d->nr_tree_pids; i++)
		if (d->tree_pids[i] == pid)
			return true;
	return false;
}

/* Process PID holds P's description at some fd (kcmp). */
static bool holds(const struct files_dump *d, const struct fd_parms *p, pid_t pid)
{
	char path[64];
	struct dirent *de;
	bool found = false;
	DIR *dir;

	if (pid == d->pid)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	while (dir && !found && (de = readdir(dir)))
		found = de->d_name[0] != '.' &&
			!syscall(SYS_kcmp, d->pid, pid, KCMP_FILE, p->fd, atoi(de->d_name));
	if (dir)
		closedir(dir);
	return found;
}

/* Why the owner O of P can't be given back, NULL if it can.  A thread
 * must be of a process holding the description: restore sets a thread
 * owner in that process, whose threads exist then. */
static const char *owner_outside(const struct files_dump *d, const struct fd_parms *p,
				 const struct f_owner_ex *o)
{
	struct proc_status st;

	switch (o->type) {
	case F_OWNER_TID:
		if (proc_read_status(o->pid, &st))
			return "a thread that is gone";
		if (!in_tree(d, st.tgid))
			return "a thread of a process outside the dumped tree";
		return holds(d, p, st.tgid) ? NULL : "a thread of another process, which does "
						     "not hold the file";
	case F_OWNER_PID:
		return in_tree(d, o->pid) ? NULL : "a process outside the dumped tree";
	case F_OWNER_PGRP:
		for (size_t i = 0; i < d->nr_tree_pids; i++)
			if (getpgid(d->tree_pids[i]) == o->pid)
				return NULL;
		return "a group no process of the dumped tree is in";
	default:
		return "an owner of a kind lmproc does not know";
	}
}

/* Reads the owner, signal and uids of P's description on FD (a copy). */
static int read_owner(const struct files_dump *d, const struct fd_parms *p, int fd,
		      struct f_owner_ex *o, int *sig, uint32_t uids[2])
{
	if (fcntl(fd, F_GETOWN_EX, o)) {
		pr_perror("Can't read the owner of pid %d fd %d (F_GETOWN_EX)", d->pid, p->fd);
		return -errno;
	}
	*sig = fcntl(fd, F_GETSIG);
	if (*sig < 0) {
		pr_perror("Can't read the signal of pid %d fd %d (F_GETSIG)", d->pid, p->fd);
		return -errno;
	}
	if (o->pid && fcntl(fd, F_GETOWNER_UIDS, uids)) {
		pr_perror("Can't read the uids that set the owner of pid %d fd %d "
			  "(F_GETOWNER_UIDS)", d->pid, p->fd);
		return -errno;
	}
	return 0;
}

/* F_GETOWN_EX shows "process 0" for an owner F_SETOWN was given the tid
 * of a thread that is not its process's leader (the kernel looks the pid
 * up as a process), as for no owner or one that exited: the iterator of
 * task/kstate-iter.c reads the owner the kernel holds.  A thread that
 * lives becomes *O as that thread (*GROUP: signalled as its process). */
static int thread_owner(const struct files_dump *d, const struct fd_parms *p,
			struct f_owner_ex *o, bool *group)
{
	struct kstate_file_rec r;
	int ret = kstate_file(d->pid, p->fd, &r);

	if (ret) {
		pr_err("pid %d fd %d (%s) has process 0 as its owner for signal-driven I/O "
		       "(F_SETOWN), which may be a thread given by its tid; can't tell without "
		       "the BPF iterator: %s\n", d->pid, p->fd, p->link, strerror(-ret));
		return ret;
	}
	/* No owner, or one with no thread left: no signal goes anywhere. */
	if (!r.owner_pid || !r.owner_live || r.owner_type != 1)
		return 0;
	o->pid = r.owner_pid;
	o->type = F_OWNER_TID;
	*group = true;
	return 0;
}

int fown_dump(struct files_dump *d, const struct fd_parms *p, FownEntry *fo)
{
	struct f_owner_ex o = { 0, 0 };
	uint32_t uids[2] = { 0, 0 };
	bool group = false;
	const char *why;
	int fd, sig = 0, ret;

	/* fcntl() can't give an O_PATH fd an owner, nor read one. */
	if (p->flags & O_PATH)
		return 0;
	fd = files_steal(d, p);
	if (fd < 0)
		return fd;
	ret = read_owner(d, p, fd, &o, &sig, uids);
	if (!ret && !o.pid && o.type == F_OWNER_PID)
		ret = thread_owner(d, p, &o, &group);
	if (!ret && group && fcntl(fd, F_GETOWNER_UIDS, uids)) {
		pr_perror("Can't read the uids that set the owner of pid %d fd %d "
			  "(F_GETOWNER_UIDS)", d->pid, p->fd);
		ret = -errno;
	}
	close(fd);
	if (ret)
		return ret;
	if (!o.pid && !o.type && !sig && !p->async)
		return 0;
	why = o.pid ? owner_outside(d, p, &o) : NULL;
	if (why) {
		pr_err("pid %d fd %d (%s) has %s %d%s as its owner for signal-driven I/O "
		       "(F_SETOWN), %s: not supported\n",
		       d->pid, p->fd, p->link, owner_kind(o.type), o.pid,
		       group ? " (signalled as its process)" : "", why);
		return -EOPNOTSUPP;
	}
	fo->type = group ? F_OWNER_PID : o.type;
	fo->has_thread_group = fo->thread_group = group;
	fo->pid = o.pid ? pstree_vpid(o.pid) : 0;
	fo->signum = sig;
	fo->uid = uids[0];
	fo->euid = uids[1];
	fo->async = p->async;
	return 1;
}

/* Restore: the process of the tree (index) that is FO's owner, has it as
 * a thread or is in it (a group), -1 if none. */
static int owner_index(const struct restore_tree *t, const FownEntry *fo)
{
	for (size_t i = 0; i < t->nr; i++) {
		const struct restore_plan *p = &t->ctx[i].plan;

		switch (fo->type) {
		case F_OWNER_PID:
			if (!fo->thread_group && t->entries[i]->pid == fo->pid)
				return i;
			for (size_t k = 0; fo->thread_group && p->pid && k < p->nr_threads; k++)
				if (restore_thread_core(p, k)->tid == fo->pid)
					return i;
			break;
		case F_OWNER_PGRP:
			if (t->entries[i]->pgid == fo->pid)
				return i;
			break;
		case F_OWNER_TID:
			for (size_t k = 0; p->pid && k < p->nr_threads; k++)
				if (restore_thread_core(p, k)->tid == fo->pid)
					return i;
			break;
		}
	}
	return -1;
}

/* The lowest fd of process I naming file F, -1 if it holds none. */
static int holder_fd(const struct restore_tree *t, size_t i, uint32_t f)
{
	const struct restore_plan *p = &t->ctx[i].plan;

	for (size_t k = 0; p->pid && k < p->nr_fds; k++)
		if (p->fd_desc[k] == f)
			return p->fds[k]->fd;
	return -1;
}

static int check_fown(const FileEntry *fe)
{
	const FownEntry *fo = fe->fown;

	if (fo->type > F_OWNER_PGRP)
		return restore_plan_bad("files.img", "file id %u has owner type %u", fe->id,
					fo->type);
	if (fo->signum > FOWN_MAX_SIG)
		return restore_plan_bad("files.img", "file id %u has signal %u", fe->id,
					fo->signum);
	if (fo->pid > INT32_MAX || (fo->thread_group && (fo->type != F_OWNER_PID || !fo->pid)))
		return restore_plan_bad("files.img", "file id %u has owner %u%s", fe->id, fo->pid,
					fo->thread_group ? " (a thread as its process)" : "");
	return 0;
}

/* Who sets file F's: the owner's process if it holds F, else the first
 * holder; a thread can only be named by its own process (the others'
 * threads are made by their own restorers, in no order). */
static int plan_one(struct restore_tree *t, uint32_t f)
{
	const FileEntry *fe = t->ctx[0].plan.files[f];
	const FownEntry *fo = fe->fown;
	int owner = fo->pid ? owner_index(t, fo) : -1, setter = -1, ret = check_fown(fe);

	if (ret)
		return ret;
	if (fo->pid && owner < 0)
		return restore_plan_bad("files.img", "file id %u has %s %u as its owner, which is "
					"not in the tree", fe->id, owner_kind(fo->type), fo->pid);
	if (owner >= 0 && holder_fd(t, owner, f) >= 0)
		setter = owner;
	for (size_t i = 0; i < t->nr && setter < 0; i++)
		if (holder_fd(t, i, f) >= 0)
			setter = i;
	if (setter < 0)
		return restore_plan_bad("files.img", "file id %u has an owner, a signal or O_ASYNC "
					"for signal-driven I/O, but no process holds it", fe->id);
	if ((fo->type == F_OWNER_TID || fo->thread_group) && fo->pid && setter != owner)
		return restore_plan_bad("files.img", "file id %u has thread %u of pid %u as its "
					"owner, which does not hold it: not supported", fe->id,
					fo->pid, t->entries[owner]->pid);
	t->ctx[setter].plan.fdesc[f].fown_fd = holder_fd(t, setter, f);
	return 0;
}

int restore_plan_fowns(struct restore_tree *t)
{
	const struct restore_plan *p0 = &t->ctx[0].plan;

	for (size_t f = 0; f < p0->nr_files; f++) {
		int ret = p0->files[f]->fown ? plan_one(t, f) : 0;

		if (ret)
			return ret;
	}
	return 0;
}

size_t restore_nr_fowns(const struct restore_plan *p)
{
	size_t n = 0;

	for (size_t f = 0; f < p->nr_files; f++)
		n += p->fdesc[f].fown_fd >= 0;
	return n;
}

void restore_fill_fowns(const struct restore_plan *p, struct restorer_fown *out)
{
	for (size_t f = 0; f < p->nr_files; f++) {
		const FownEntry *fo = p->files[f]->fown;

		if (p->fdesc[f].fown_fd < 0)
			continue;
		*out++ = (struct restorer_fown){ .fd = p->fdesc[f].fown_fd, .type = fo->type,
						 .pid = fo->pid, .sig = fo->signum,
						 .uid = fo->uid, .euid = fo->euid,
						 .async = fo->async };
	}
}
