/* Owns lending a pid: a call runs in a child made with a chosen pid, so
 * that what the kernel records of its caller (a socket's peer
 * credentials, a SysV object's last pid) names that pid.  The pid is
 * free: a process that has exited since (restore lends it before or
 * beside the tree), or one of the tree before the tree is forked.  The
 * child is made in a chosen pid namespace (the tree's, when lmproc is
 * not in it), where its pid is the one the tree reads. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "pid-lend.h"
#include "uapi-compat.h"

/* No exit signal: the caller's pending signals stay as they are (a
 * restored task's are the dumped ones). */
static pid_t clone_as(pid_t *pid, unsigned long flags)
{
	struct lm_clone_args ca = {
		.flags = flags,
		.set_tid = *pid ? (uint64_t)(uintptr_t)pid : 0,
		.set_tid_size = *pid ? 1 : 0,
	};

	return syscall(SYS_clone3, &ca, sizeof(ca));
}

/* The children lmproc's thread makes go into PIDNS from now on; *OWN:
 * its own namespace, to go back to. */
static int enter_pidns(int pidns, int *own)
{
	*own = -1;
	if (pidns < 0)
		return 0;
	*own = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (*own >= 0 && !setns(pidns, CLONE_NEWPID))
		return 0;
	pr_perror("Can't enter the tree's pid namespace to lend a pid there");
	if (*own >= 0)
		close(*own);
	return -EIO;
}

static int leave_pidns(int own)
{
	int ret = 0;

	if (own < 0)
		return 0;
	if (setns(own, CLONE_NEWPID)) {
		pr_perror("Can't return to lmproc's pid namespace");
		ret = -EIO;
	}
	close(own);
	return ret;
}

int pid_lend_call(pid_t pid, int pidns, unsigned long flags, int (*call)(void *), void *arg)
{
	int own, st, ret = enter_pidns(pidns, &own);
	pid_t child;

	if (ret)
		return ret;
	child = clone_as(&pid, flags);
	if (child == 0)
		_exit(-call(arg));
	ret = child < 0 ? -errno : 0;
	ret = leave_pidns(own) ?: ret;
	if (child < 0 || ret)
		return ret;
	while (waitpid(child, &st, __WALL) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(st))
		return -ECHILD;
	return -WEXITSTATUS(st);
}
