/* Owns freezing and releasing the target with ptrace.  Must never leave a
 * task stopped or traced on any path: every seize has its unseize. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "common.h"
#include "log.h"
#include "proc.h"
#include "seize.h"

static int count_dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int seize_check_target(pid_t pid)
{
	struct proc_status st;
	char path[64];
	int n;

	if (pid == getpid()) {
		pr_err("pid %d is lmproc itself\n", pid);
		return -EINVAL;
	}
	if (pid == 1) {
		pr_err("pid 1 is the init of this pid namespace; lmproc will not dump it\n");
		return -EINVAL;
	}
	if (proc_read_status(pid, &st)) {
		pr_err("No process with pid %d\n", pid);
		return -ESRCH;
	}
	if (st.tgid != pid) {
		pr_err("pid %d is a thread of process %d; dump the process\n", pid, st.tgid);
		return -EINVAL;
	}
	if (st.state == 'Z' || st.state == 'X') {
		pr_err("pid %d (%s) is a zombie\n", pid, st.comm);
		return -EINVAL;
	}
	if (st.tracer_pid) {
		pr_err("pid %d (%s) is already traced by pid %d\n", pid, st.comm, st.tracer_pid);
		return -EBUSY;
	}
	if (st.threads > 1) {
		pr_err("pid %d (%s) has %d threads; multi-threaded processes are not supported yet\n",
		       pid, st.comm, st.threads);
		return -EOPNOTSUPP;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	n = proc_file_size(path);
	if (n > 0) {
		pr_err("pid %d (%s) has child processes; process trees are not supported yet\n",
		       pid, st.comm);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int wait_stop(pid_t pid, int *status)
{
	for (;;) {
		if (waitpid(pid, status, __WALL) == pid)
			return 0;
		if (errno != EINTR) {
			pr_perror("Can't wait for pid %d to stop", pid);
			return -errno;
		}
	}
}

int seize_task(pid_t pid, bool *was_stopped)
{
	struct proc_status st;
	char path[64];
	int status, ret;

	if (ptrace(PTRACE_SEIZE, pid, NULL, 0)) {
		if (errno == EPERM && !proc_read_status(pid, &st) && st.tracer_pid)
			pr_err("pid %d (%s) is already traced by pid %d\n", pid, st.comm,
			       st.tracer_pid);
		else
			pr_perror("Can't seize pid %d", pid);
		return -errno ? -errno : -EPERM;
	}
	*was_stopped = !proc_read_status(pid, &st) && st.state == 'T';
	if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL)) {
		pr_perror("Can't interrupt pid %d", pid);
		ptrace(PTRACE_DETACH, pid, NULL, 0);
		return -errno;
	}
	ret = wait_stop(pid, &status);
	if (ret) {
		ptrace(PTRACE_DETACH, pid, NULL, 0);
		return ret;
	}
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		pr_err("pid %d exited while being seized\n", pid);
		return -ESRCH;
	}
	/* A signal arrived before our interrupt: let it be delivered later
	 * by re-queuing it at detach; for now keep stopping until the
	 * interrupt stop (PTRACE_EVENT_STOP) is reached. */
	while (WIFSTOPPED(status) && (status >> 16) != PTRACE_EVENT_STOP) {
		int sig = WSTOPSIG(status);

		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig)) {
			pr_perror("Can't resume pid %d to its interrupt stop", pid);
			ptrace(PTRACE_DETACH, pid, NULL, 0);
			return -errno;
		}
		ret = wait_stop(pid, &status);
		if (ret) {
			ptrace(PTRACE_DETACH, pid, NULL, 0);
			return ret;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			pr_err("pid %d exited while being seized\n", pid);
			return -ESRCH;
		}
	}
	/* A thread or child born between the check and the seize. */
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (count_dir_entries(path) != 1) {
		pr_err("pid %d started a thread while being seized; multi-threaded processes are not supported yet\n",
		       pid);
		unseize_task(pid);
		return -EOPNOTSUPP;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	if (proc_file_size(path) > 0) {
		pr_err("pid %d forked while being seized; process trees are not supported yet\n",
		       pid);
		unseize_task(pid);
		return -EOPNOTSUPP;
	}
	return 0;
}

int unseize_task(pid_t pid)
{
	/* A task seized in a group stop stays stopped after the detach. */
	if (ptrace(PTRACE_DETACH, pid, NULL, 0)) {
		pr_perror("Can't detach from pid %d", pid);
		return -errno;
	}
	return 0;
}

int kill_seized_task(pid_t pid)
{
	if (kill(pid, SIGKILL)) {
		pr_perror("Can't kill pid %d after the dump", pid);
		return -errno;
	}
	ptrace(PTRACE_DETACH, pid, NULL, 0);
	return 0;
}
