/* Owns the restore's hold on the processes it creates: a pidfd of each
 * (the root's, or --pidns's init's, from clone3 itself; every other one
 * taken only once it is proven a child of a process already held), the
 * end of them all through those pidfds when the restore fails, and the
 * check of an interrupting signal.  Nothing is signalled or adopted by
 * pid number: the pids are the dumped ones, and another restore of the
 * same images may own them by now. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "interrupt.h"
#include "log.h"
#include "proc.h"
#include "restore.h"

/* Not reaped yet: its pid is still its own. */
static bool held_alive(int pidfd)
{
	return pidfd >= 0 && !pidfd_send_signal(pidfd, 0, NULL, 0);
}

/* A pid is not reused before its process is reaped: PID's parent read
 * while both are known unreaped is its parent for good. */
static int hold_child(pid_t pid, int parent_fd, pid_t parent_pid)
{
	struct proc_status st;
	int fd = pidfd_open(pid, 0), ret;

	if (fd < 0) {
		pr_perror("Can't open a pidfd of the restored pid %d", pid);
		return -errno;
	}
	ret = proc_read_status(pid, &st);
	if (!ret && st.ppid == parent_pid && held_alive(fd) && held_alive(parent_fd))
		return fd;
	close(fd);
	pr_err("pid %d is not the process this restore made (its parent is %d, not %d): "
	       "another process, or restore, has taken it\n",
	       pid, ret ? 0 : st.ppid, parent_pid);
	return -EEXIST;
}

static void parent_of(const struct restore_tree *t, size_t i, int *fd, pid_t *pid)
{
	if (i) {
		*fd = t->ctx[t->parent[i]].pidfd;
		*pid = t->ctx[t->parent[i]].host_pid;
	} else {
		*fd = t->init_pidfd;
		*pid = t->init_pid;
	}
}

/* Seizes a task of the tree (EXITKILL: lmproc's death kills it from
 * then on), which must still be the one held after the seize. */
static int seize_held(struct restore_ctx *c)
{
	if (ptrace(PTRACE_SEIZE, c->host_pid, NULL, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD)) {
		pr_perror("Can't seize the restored pid %d", c->plan.pid);
		return -errno;
	}
	if (held_alive(c->pidfd)) {
		c->pid = c->host_pid;
		return 0;
	}
	/* Ours died and its pid went to another process: let that one go. */
	pr_err("The restored pid %d died before lmproc took it over\n", c->plan.pid);
	if (!ptrace(PTRACE_INTERRUPT, c->host_pid, NULL, NULL) &&
	    waitpid(c->host_pid, NULL, __WALL) == c->host_pid)
		ptrace(PTRACE_DETACH, c->host_pid, NULL, NULL);
	return -ESRCH;
}

int restore_hold_tree(struct restore_tree *t)
{
	for (size_t i = 0; i < t->nr; i++) {
		struct restore_ctx *c = &t->ctx[i];
		pid_t parent_pid;
		int parent_fd, ret;

		if (!c->plan.pid)
			continue;
		if (c->pidfd < 0) {
			parent_of(t, i, &parent_fd, &parent_pid);
			c->pidfd = hold_child(c->host_pid, parent_fd, parent_pid);
			if (c->pidfd < 0)
				return c->pidfd;
		}
		ret = seize_held(c);
		if (ret)
			return ret;
	}
	return 0;
}

static bool process_dead(int pidfd, pid_t pid)
{
	struct proc_stat st;

	return !held_alive(pidfd) || proc_read_stat(pid, &st) || st.state == 'Z' ||
	       st.state == 'X';
}

int restore_tree_intact(const struct restore_tree *t, char *why, size_t len)
{
	if (t->init_pid > 0 && process_dead(t->init_pidfd, t->init_pid)) {
		snprintf(why, len, "the restored tree's pid namespace init (pid %d here) died",
			 t->init_pid);
		return -ECHILD;
	}
	for (size_t i = 0; i < t->nr; i++) {
		const struct restore_ctx *c = &t->ctx[i];

		if (!c->plan.pid || !process_dead(c->pidfd, c->host_pid))
			continue;
		snprintf(why, len, "the restored tree's pid %d (%d here) died", c->plan.pid,
			 c->host_pid);
		return -ECHILD;
	}
	return 0;
}

/* Reaped (by the loop below) or never made. */
static bool all_reaped(const struct restore_tree *t)
{
	if (t->init_pid > 0)
		return false;
	for (size_t i = 0; i < t->nr; i++)
		if (t->ctx[i].pid > 0)
			return false;
	return true;
}

/* Every process this restore holds is killed through its pidfd; those it
 * does not hold yet are below the root (or the namespace's init), and go
 * with it: each set its parent-death signal first thing.  What lmproc can
 * reap (its children, the tasks it traces, all of them this restore's) is
 * reaped; the rest goes to the reaper their killed parents hand them to. */
void restore_kill_tree(struct restore_tree *t)
{
	if (t->init_pidfd >= 0)
		pidfd_send_signal(t->init_pidfd, SIGKILL, NULL, 0);
	for (size_t i = 0; i < t->nr; i++)
		if (t->ctx[i].pidfd >= 0)
			pidfd_send_signal(t->ctx[i].pidfd, SIGKILL, NULL, 0);
	/* A main thread is reported only after every other thread of its
	 * process: reap whatever comes until each process is gone. */
	while (!all_reaped(t)) {
		int status;
		pid_t w = waitpid(-1, &status, __WALL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		if (!WIFEXITED(status) && !WIFSIGNALED(status))
			continue;
		if (w == t->init_pid)
			t->init_pid = 0;
		for (size_t i = 0; i < t->nr; i++)
			if (t->ctx[i].pid == w) {
				pr_debug("Killed the half-restored pid %d\n", w);
				t->ctx[i].pid = 0;
			}
	}
}

void restore_release_tree(struct restore_tree *t)
{
	for (size_t i = 0; t->ctx && i < t->nr; i++) {
		if (t->ctx[i].pidfd >= 0)
			close(t->ctx[i].pidfd);
		t->ctx[i].pidfd = -1;
	}
	if (t->init_pidfd >= 0)
		close(t->init_pidfd);
	if (t->lmproc_pidfd >= 0)
		close(t->lmproc_pidfd);
	t->init_pidfd = t->lmproc_pidfd = -1;
}

int restore_check_interrupt(const struct restore_tree *t)
{
	static bool said;
	int sig = interrupt_signal();

	if (!sig)
		return 0;
	if (!said)
		pr_err("Restore of pid %d interrupted by SIG%s: everything it made is undone\n",
		       t->entries[0]->pid, sigabbrev_np(sig));
	said = true;
	return -EINTR;
}
