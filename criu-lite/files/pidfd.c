/* Owns pidfds (pidfd_open(2), CLONE_PIDFD): the process one refers to,
 * from fdinfo's "Pid:", and its flags (O_NONBLOCK, PIDFD_THREAD).  A
 * pidfd of a process of the tree, live or a zombie, is opened again once
 * every process of the restored tree exists (a placeholder holds its fd
 * until then), by its pid in the tree's pid namespace; each process of
 * the tree holding it opens its own, once for all its fds of it (one
 * description shared across processes comes back as one per process).
 * A pidfd of a process that exited and was reaped ("Pid: -1") is made as
 * CRIU does: a helper that exits at once with the dumped status
 * (PIDFD_INFO_EXIT) is reaped after its pidfd is taken, so the pidfd
 * polls readable and waitid() says ECHILD, as before.  A pidfd of a process outside the tree, or of a thread other
 * than a main thread (threads are made after the fds), is refused. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "restore.h"
#include "uapi-compat.h"
#include "words.h"

#define PIDFD_FLAGS (O_ACCMODE | O_NONBLOCK | PIDFD_THREAD)

static bool pidfd_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return !strcmp(p->link, "anon_inode:[pidfd]") || !strncmp(p->link, "pidfd:", 6);
}

static bool in_tree(const struct files_dump *d, pid_t pid)
{
	for (size_t i = 0; i < d->nr_tree_pids; i++)
		if (d->tree_pids[i] == pid)
			return true;
	return false;
}

/* PID (lmproc's numbering) as the tree numbers it: a live process of the
 * tree, or a zombie whose parent is one (frozen: it can't reap it). */
static int tree_pid(const struct files_dump *d, const struct fd_parms *p, pid_t pid,
		    uint32_t *vpid)
{
	struct proc_status st = { .comm = "?" };
	struct proc_stat ps;

	if (in_tree(d, pid)) {
		*vpid = pstree_vpid(pid);
		return 0;
	}
	if (proc_read_status(pid, &st) == 0 && st.tgid != pid && in_tree(d, st.tgid)) {
		pr_err("pid %d fd %d is a pidfd of thread %d of pid %d of the tree: a pidfd of a "
		       "thread other than a main thread is not supported\n", d->pid, p->fd, pid,
		       st.tgid);
		return -EOPNOTSUPP;
	}
	if (!proc_read_stat(pid, &ps) && ps.state == 'Z' && in_tree(d, ps.ppid) &&
	    pstree_vpid(pid) > 0) {
		*vpid = pstree_vpid(pid);
		return 0;
	}
	pr_err("pid %d fd %d is a pidfd of pid %d (%s), a process outside the tree: not "
	       "supported\n", d->pid, p->fd, pid, st.comm);
	return -EOPNOTSUPP;
}

/* The wait status a reaped process left, which its pidfds still give
 * (PIDFD_GET_INFO, Linux 6.15).  A core dump is not made again. */
static int dead_status(struct files_dump *d, const struct fd_parms *p, PidfdEntry *e)
{
	struct lm_pidfd_info info = { .mask = LM_PIDFD_INFO_EXIT };
	int fd = files_steal(d, p), ret;

	if (fd < 0)
		return fd;
	ret = ioctl(fd, LM_PIDFD_GET_INFO, &info);
	close(fd);
	if (ret || !(info.mask & LM_PIDFD_INFO_EXIT))
		return 0;
	if (WCOREDUMP(info.exit_code)) {
		pr_err("pid %d fd %d is a pidfd of a process that dumped core (status %#x): not "
		       "supported\n", d->pid, p->fd, info.exit_code);
		return -EOPNOTSUPP;
	}
	e->has_exit_code = true;
	e->exit_code = info.exit_code;
	return 0;
}

static int pidfd_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	PidfdEntry e = PIDFD_ENTRY__INIT;
	const char *s = fdinfo_field(p->info, "Pid:");
	int pid, ret;

	if (!s || sscanf(s, "%d", &pid) != 1) {
		pr_err("Can't parse the pidfd of pid %d fd %d in its fdinfo\n", d->pid, p->fd);
		return -EINVAL;
	}
	if ((p->flags & ~PIDFD_FLAGS) || (p->flags & O_ACCMODE) != O_RDWR)
		return files_refuse_flags(d, p, "a pidfd", PIDFD_FLAGS & ~O_ACCMODE);
	if (pid == 0) {
		pr_err("pid %d fd %d is a pidfd of a process outside lmproc's pid namespace: not "
		       "supported\n", d->pid, p->fd);
		return -EOPNOTSUPP;
	}
	e.flags = p->flags;
	if (pid < 0)
		ret = dead_status(d, p, &e);
	else
		ret = tree_pid(d, p, pid, &e.pid);
	if (ret)
		return ret;
	e.has_pid = pid > 0;
	fe->pidfd = &e;
	return files_write(d, fe);
}

static int pidfd_validate(const FileEntry *f, uint64_t data_size)
{
	const PidfdEntry *e = f->pidfd;

	(void)data_size;
	if (!e)
		return restore_plan_bad("files.img", "file id %u has no pidfd entry", f->id);
	if ((e->flags & ~PIDFD_FLAGS) || (e->flags & O_ACCMODE) != O_RDWR ||
	    (e->has_pid && (!e->pid || e->pid > INT32_MAX)) ||
	    (e->has_pid && e->has_exit_code) ||
	    (e->has_exit_code && (WCOREDUMP(e->exit_code) || e->exit_code & ~0xffff ||
				  (!WIFEXITED(e->exit_code) && !WIFSIGNALED(e->exit_code)))))
		return restore_plan_bad("files.img", "pidfd file id %u: flags %s, pid %u, "
					"status %#x", f->id, open_flags_words(e->flags).s, e->pid,
					e->exit_code);
	return 0;
}

/* A pidfd of a live process is opened only where an fd holds it: one in
 * flight in a unix socket's queue would be sent as its placeholder. */
static int check_in_flight(const struct restore_plan *p)
{
	for (size_t i = 0; i < p->nr_files; i++) {
		const FileEntry *fe = p->files[i];

		if (fe->type == FD_TYPE__FD_PIDFD && fe->pidfd->has_pid &&
		    p->fdesc[i].in_flight_here)
			return restore_plan_bad("files.img", "pid %u: a pidfd of pid %u (file id "
						"%u) in flight in a unix socket's queue is not "
						"supported", p->pid, fe->pidfd->pid, fe->id);
	}
	return 0;
}

int restore_plan_pidfds(const struct restore_tree *t)
{
	for (size_t i = 0; i < t->nr; i++) {
		const struct restore_plan *p = &t->ctx[i].plan;
		int ret = check_in_flight(p);

		if (ret)
			return ret;

		for (size_t k = 0; k < p->nr_fds; k++) {
			const FileEntry *fe = p->fdesc[p->fd_desc[k]].fe;
			size_t j = 0;

			if (fe->type != FD_TYPE__FD_PIDFD || !fe->pidfd->has_pid)
				continue;
			while (j < t->nr && t->entries[j]->pid != fe->pidfd->pid)
				j++;
			if (j == t->nr)
				return restore_plan_bad("fdinfo", "pid %u fd %u: a pidfd of pid "
							"%u, which is not in the tree", p->pid,
							p->fds[k]->fd, fe->pidfd->pid);
		}
	}
	return 0;
}

/* The helper ends as the process did: exit code, or killed by its
 * signal (not dumpable: no core). */
static void __attribute__((noreturn)) dead_main(const PidfdEntry *e)
{
	sigset_t all;

	if (!e->has_exit_code || WIFEXITED(e->exit_code))
		_exit(e->has_exit_code ? WEXITSTATUS(e->exit_code) : 0);
	prctl(PR_SET_DUMPABLE, 0);
	signal(WTERMSIG(e->exit_code), SIG_DFL);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	kill(getpid(), WTERMSIG(e->exit_code));
	_exit(127);
}

/* A pidfd of a process that has exited and been reaped. */
static int open_dead(struct task_files *tf, uint32_t desc, const PidfdEntry *e)
{
	int status = e->exit_code, fd;
	siginfo_t si;
	pid_t pid = fork();

	if (pid == 0)
		dead_main(e);
	if (pid < 0)
		return task_files_err(tf, desc, "can't fork the process of a reaped pidfd: %s",
				      strerror(errno));
	fd = syscall(SYS_pidfd_open, pid, e->flags & (O_NONBLOCK | PIDFD_THREAD));
	if (fd < 0)
		fd = task_files_err(tf, desc, "can't open a pidfd of helper %d: %s", pid,
				    strerror(errno));
	if (waitid(P_PID, pid, &si, WEXITED) && fd >= 0) {
		close(fd);
		fd = task_files_err(tf, desc, "can't reap helper %d: %s", pid, strerror(errno));
	}
	if (fd < 0)
		return fd;
	if (e->has_exit_code && (si.si_code == CLD_EXITED ?
				 si.si_status != WEXITSTATUS(status) :
				 si.si_status != WTERMSIG(status))) {
		close(fd);
		return task_files_err(tf, desc, "the reaped pidfd's helper ended with %d, not %#x",
				      si.si_status, e->exit_code);
	}
	return task_files_install(tf, desc, fd);
}

static int pidfd_open_desc(struct task_files *tf, uint32_t desc)
{
	const PidfdEntry *e = tf->plan->fdesc[desc].fe->pidfd;
	int tmp;

	if (!e->has_pid)
		return open_dead(tf, desc, e);
	/* Holds the fd until restore_task_pidfds(). */
	tmp = open("/", O_PATH | O_CLOEXEC);
	if (tmp < 0)
		return task_files_err(tf, desc, "can't hold a place for a pidfd of pid %u: %s",
				      e->pid, strerror(errno));
	return task_files_install(tf, desc, tmp);
}

static int reopen_pidfd(const FdinfoEntry *f, const PidfdEntry *e, char *err, size_t len)
{
	int fd = syscall(SYS_pidfd_open, e->pid, e->flags & (O_NONBLOCK | PIDFD_THREAD));

	if (fd < 0) {
		snprintf(err, len, "fd %u: can't open a pidfd of pid %u: %s", f->fd, e->pid,
			 strerror(errno));
		return -errno;
	}
	if (dup2(fd, f->fd) < 0 || fcntl(f->fd, F_SETFD, f->fd_flags)) {
		snprintf(err, len, "fd %u: can't put the pidfd of pid %u in place: %s", f->fd,
			 e->pid, strerror(errno));
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

/* Fd I of P as one open file description with the pidfd at an earlier
 * fd of its own description, if any (0: none, it opens its own). */
static int share_pidfd(const struct restore_plan *p, size_t i, char *err, size_t len)
{
	const FdinfoEntry *f = p->fds[i];

	for (size_t j = 0; j < i; j++) {
		if (p->fd_desc[j] != p->fd_desc[i])
			continue;
		if (dup2(p->fds[j]->fd, f->fd) < 0 || fcntl(f->fd, F_SETFD, f->fd_flags)) {
			snprintf(err, len, "fd %u: can't share the pidfd of fd %u: %s", f->fd,
				 p->fds[j]->fd, strerror(errno));
			return -errno;
		}
		return 1;
	}
	return 0;
}

int restore_task_pidfds(struct restore_ctx *ctx, char *err, size_t len)
{
	const struct restore_plan *p = &ctx->plan;

	for (size_t i = 0; i < p->nr_fds; i++) {
		const FileEntry *fe = p->fdesc[p->fd_desc[i]].fe;
		int ret;

		if (fe->type != FD_TYPE__FD_PIDFD || !fe->pidfd->has_pid)
			continue;
		ret = share_pidfd(p, i, err, len);
		if (!ret)
			ret = reopen_pidfd(p->fds[i], fe->pidfd, err, len);
		if (ret < 0)
			return ret;
	}
	return 0;
}

const struct fd_ops pidfd_fd_ops = {
	.type = FD_TYPE__FD_PIDFD,
	.name = "pidfd",
	.match = pidfd_match,
	.dump = pidfd_dump,
	.validate = pidfd_validate,
	.open = pidfd_open_desc,
};
