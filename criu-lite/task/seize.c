/* Owns freezing and releasing the target with ptrace, every thread of it.
 * Must never leave a thread stopped or traced on any path: every seize
 * has its unseize, also when seizing fails halfway. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "interrupt.h"
#include "log.h"
#include "proc.h"
#include "seccomp.h"
#include "seize.h"

/* include/linux/errno.h: what ax holds while such a call is interrupted. */
#define ERESTART_RESTARTBLOCK 516

/* A thread that is exiting can't be seized and is not gone yet: look
 * again after a nap, for about a second at most. */
#define EXIT_WAIT_PASSES 1000
#define EXIT_WAIT_NAP_US 1000

struct seize_state {
	struct seized_task *t;
	bool *stopped; /* per t->tids entry: in its interrupt stop */
	size_t cap;
	int timeout_ms; /* how long a thread may take to stop (--timeout) */
	pid_t timed_out; /* the thread that did not stop in time */
};

/* include/linux/sched.h: an io_uring worker (io-wq's iou-wrk-*, SQPOLL's
 * iou-sqp-*), shown in /proc/PID/task but the kernel's: it runs no code
 * of the process and goes with its ring (io-uring.c refuses a ring with
 * anything in flight, and so one whose worker is busy). */
#define PF_IO_WORKER 0x00000010

static bool io_worker(pid_t pid, const char *tid)
{
	char path[320], buf[512], *p;
	unsigned long flags;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1 &&
	       (flags & PF_IO_WORKER);
}

/* The tids in /proc/PID/task but io_uring's workers, or -errno. */
static int list_threads(pid_t pid, pid_t **out, size_t *nr)
{
	char path[64];
	struct dirent *de;
	size_t cap = 16;
	pid_t *tids;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	tids = malloc(cap * sizeof(*tids));
	if (!d || !tids) {
		int e = d ? ENOMEM : errno;

		if (d)
			closedir(d);
		free(tids);
		return -e;
	}
	*nr = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || io_worker(pid, de->d_name))
			continue;
		if (*nr == cap) {
			pid_t *n = realloc(tids, (cap *= 2) * sizeof(*tids));

			if (!n) {
				closedir(d);
				free(tids);
				return -ENOMEM;
			}
			tids = n;
		}
		tids[(*nr)++] = atoi(de->d_name);
	}
	closedir(d);
	*out = tids;
	return 0;
}

int seize_check_target(pid_t pid)
{
	struct proc_status st;

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
	if ((st.state == 'Z' || st.state == 'X') && st.threads > 1) {
		pr_err("pid %d (%s) has exited its main thread, %d other threads run on: not supported\n",
		       pid, st.comm, st.threads - 1);
		return -EOPNOTSUPP;
	}
	if (st.state == 'Z' || st.state == 'X') {
		pr_err("pid %d (%s) is a zombie\n", pid, st.comm);
		return -EINVAL;
	}
	if (st.tracer_pid) {
		pr_err("pid %d (%s) is already traced by pid %d\n", pid, st.comm, st.tracer_pid);
		return -EBUSY;
	}
	return 0;
}

static int add_thread(struct seize_state *s, pid_t tid)
{
	struct seized_task *t = s->t;

	if (t->nr_tids == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		pid_t *tids = realloc(t->tids, cap * sizeof(*tids));
		bool *stopped;

		if (!tids)
			return -ENOMEM;
		t->tids = tids;
		stopped = realloc(s->stopped, cap * sizeof(*stopped));
		if (!stopped)
			return -ENOMEM;
		s->stopped = stopped;
		s->cap = cap;
	}
	t->tids[t->nr_tids] = tid;
	s->stopped[t->nr_tids++] = false;
	return 0;
}

static void drop_thread(struct seize_state *s, size_t i)
{
	struct seized_task *t = s->t;

	t->nr_tids--;
	memmove(&t->tids[i], &t->tids[i + 1], (t->nr_tids - i) * sizeof(t->tids[0]));
	memmove(&s->stopped[i], &s->stopped[i + 1], (t->nr_tids - i) * sizeof(s->stopped[0]));
}

static bool is_seized(const struct seize_state *s, pid_t tid)
{
	for (size_t i = 0; i < s->t->nr_tids; i++)
		if (s->t->tids[i] == tid)
			return true;
	return false;
}

/* Waits until TID reaches its interrupt stop: 0 then, 1 if it exited
 * instead (reaped, or dead and left to reap_dead_task()), -errno.  A
 * signal that arrived before our interrupt is delivered, not swallowed;
 * the interrupt stop follows.  *STOPSIG (if not NULL) gets the stop's
 * signal: SIGTRAP for our interrupt, the group stop's signal (SIGSTOP,
 * SIGTSTP...) for a thread seized in one. */
static int wait_interrupt_stop(struct seize_state *s, pid_t tid, int *stopsig)
{
	int status, sig, ret;

	for (;;) {
		ret = wait_traced(tid, &status, s->timeout_ms);
		if (ret == 0)
			return 1;
		if (ret == -ETIMEDOUT) {
			pr_err("Thread %d did not stop in %d ms (uninterruptible sleep?)\n", tid,
			       s->timeout_ms);
			s->timed_out = tid;
			return ret;
		}
		if (ret < 0) {
			pr_err("Can't wait for thread %d to stop: %s\n", tid, strerror(-ret));
			return ret;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return 1;
		if (WIFSTOPPED(status) && stopsig)
			*stopsig = WSTOPSIG(status);
		if (!WIFSTOPPED(status) || (status >> 16) == PTRACE_EVENT_STOP)
			return WIFSTOPPED(status) ? 0 : -EINVAL;
		sig = (status >> 16) ? 0 : WSTOPSIG(status);
		if (ptrace(PTRACE_CONT, tid, NULL, (void *)(long)sig) && errno != ESRCH) {
			pr_perror("Can't resume thread %d to its interrupt stop", tid);
			return -errno;
		}
	}
}

/* A thread stopped in a call interrupted with -ERESTART_RESTARTBLOCK
 * (nanosleep, timed futex, poll) would resume through restart_syscall,
 * whose restart block lives only in this kernel task: a later dump could
 * not tell which call to restart.  Re-issue the original call instead,
 * its arguments are still in the registers (docs/architecture.md,
 * "Interrupted system calls"); the parasite's cure does the same for the
 * threads it ran code in. */
static int detach_restartable(pid_t tid)
{
	struct user_regs_struct r;

	if (!ptrace(PTRACE_GETREGS, tid, NULL, &r) && (long)r.orig_rax >= 0 &&
	    (long)r.rax == -ERESTART_RESTARTBLOCK && r.orig_rax != __NR_restart_syscall) {
		r.rax = r.orig_rax;
		r.rip -= 2;
		r.orig_rax = -1;
		if (ptrace(PTRACE_SETREGS, tid, NULL, &r))
			pr_perror("Can't set thread %d to restart its system call", tid);
	}
	return ptrace(PTRACE_DETACH, tid, NULL, 0);
}

/* Lets every seized thread go, whatever state seizing left it in. */
static void release_all(struct seize_state *s)
{
	struct seized_task *t = s->t;

	for (size_t i = 0; i < t->nr_tids; i++) {
		/* Waited for once already: the kernel detaches it when lmproc
		 * ends, wherever it is then. */
		if (t->tids[i] == s->timed_out)
			continue;
		if (!s->stopped[i] && wait_interrupt_stop(s, t->tids[i], NULL))
			continue;
		if (detach_restartable(t->tids[i]) && errno != ESRCH)
			pr_perror("Can't detach from thread %d of pid %d", t->tids[i], t->pid);
	}
	free(t->tids);
	free(s->stopped);
	t->tids = NULL;
	s->stopped = NULL;
	t->nr_tids = 0;
}

/* Why PTRACE_SEIZE of a thread failed: 1 if it is exiting (look again
 * later), else -errno, logged. */
static int seize_failed(struct seized_task *t, pid_t tid)
{
	struct proc_status st;
	int e = errno;

	if (e == ESRCH)
		return 1;
	/* PTRACE_SEIZE says EPERM for a thread that is exiting. */
	if (proc_read_status(tid, &st) || st.state == 'Z' || st.state == 'X')
		return 1;
	if (tid == t->pid && e == EPERM && st.tracer_pid)
		pr_err("pid %d (%s) is already traced by pid %d\n", tid, st.comm, st.tracer_pid);
	else if (e == EPERM && st.tracer_pid)
		pr_err("Thread %d of pid %d is already traced by pid %d\n", tid, t->pid,
		       st.tracer_pid);
	else if (tid == t->pid)
		pr_err("Can't seize pid %d: %s\n", tid, strerror(e));
	else
		pr_err("Can't seize thread %d of pid %d: %s\n", tid, t->pid, strerror(e));
	return -e;
}

static int seize_one(struct seize_state *s, pid_t tid)
{
	int ret;

	if (ptrace(PTRACE_SEIZE, tid, NULL, 0))
		return seize_failed(s->t, tid);
	ret = add_thread(s, tid);
	if (ret) {
		/* Not in the set: release it here, the caller can't. */
		ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
		if (!wait_interrupt_stop(s, tid, NULL))
			ptrace(PTRACE_DETACH, tid, NULL, 0);
		return ret;
	}
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)) {
		pr_perror("Can't interrupt thread %d of pid %d", tid, s->t->pid);
		return -errno;
	}
	return 0;
}

/* One look at /proc/PID/task: seizes and interrupts every thread not
 * seized yet.  *fresh counts those, *exiting those that could not be
 * seized because they are on their way out. */
static int seize_new_threads(struct seize_state *s, int *fresh, int *exiting)
{
	cleanup_free pid_t *tids = NULL;
	size_t nr = 0;
	int ret;

	ret = list_threads(s->t->pid, &tids, &nr);
	if (ret) {
		pr_err("Can't list the threads of pid %d: %s\n", s->t->pid, strerror(-ret));
		return ret;
	}
	*fresh = *exiting = 0;
	for (size_t i = 0; i < nr; i++) {
		if (is_seized(s, tids[i]))
			continue;
		ret = seize_one(s, tids[i]);
		if (ret < 0)
			return ret;
		if (ret)
			(*exiting)++;
		else
			(*fresh)++;
	}
	return 0;
}

/* A thread (not the leader) found dead before its exit was reported:
 * the report follows at once, and only its reaping, by lmproc, its
 * tracer, takes it out of /proc/PID/task, where the next look would find
 * it again. */
static int reap_exited(pid_t tid)
{
	int status;

	for (int i = 0; i < EXIT_WAIT_PASSES; i++) {
		pid_t r = waitpid(tid, &status, __WALL | WNOHANG);

		if (r < 0 && errno != EINTR)
			return -1;
		if (r == tid && (WIFEXITED(status) || WIFSIGNALED(status)))
			return status;
		usleep(EXIT_WAIT_NAP_US);
	}
	return -1;
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* A process seen in a group stop before the seize reports the stop's
 * signal in its first ptrace stop; one that reports our interrupt
 * instead was continued in between and runs. */
static void note_stop_signal(struct seized_task *t, int sig)
{
	if (!t->was_stopped)
		return;
	if (is_stop_signal(sig)) {
		t->stop_signo = sig;
		return;
	}
	pr_debug("pid %d was continued while being seized\n", t->pid);
	t->was_stopped = false;
}

/* Waits for every thread's interrupt stop; drops those that exited. */
static int wait_all_stopped(struct seize_state *s)
{
	struct seized_task *t = s->t;
	int ret, sig = 0;

	for (size_t i = 0; i < t->nr_tids; i++) {
		if (s->stopped[i])
			continue;
		ret = wait_interrupt_stop(s, t->tids[i], t->tids[i] == t->pid ? &sig : NULL);
		if (ret < 0)
			return ret;
		if (ret && t->tids[i] == t->pid) {
			/* Reaped: nothing left to release. */
			drop_thread(s, i);
			return -ESRCH;
		}
		if (ret) {
			pr_debug("Thread %d of pid %d exited while being seized\n", t->tids[i],
				 t->pid);
			reap_exited(t->tids[i]);
			drop_thread(s, i--);
			continue;
		}
		s->stopped[i] = true;
		if (t->tids[i] == t->pid)
			note_stop_signal(t, sig);
	}
	return 0;
}

/* Threads share everything a dump takes once per process: the fd table
 * and the fs context may have been unshared by one of them. */
static int check_shared(struct seized_task *t)
{
	static const struct {
		int type;
		const char *what;
	} res[] = {
	    {KCMP_FILES, "its own fd table (unshare(CLONE_FILES))"},
	    {KCMP_FS, "its own cwd, root and umask (unshare(CLONE_FS))"},
	};

	for (size_t i = 1; i < t->nr_tids; i++) {
		for (size_t k = 0; k < ARRAY_SIZE(res); k++) {
			long r = syscall(SYS_kcmp, t->pid, t->tids[i], res[k].type, 0, 0);

			if (r < 0) {
				pr_perror("Can't compare thread %d with pid %d (kcmp)", t->tids[i],
					  t->pid);
				return -errno;
			}
			if (r) {
				pr_err("Thread %d of pid %d has %s: not supported\n", t->tids[i],
				       t->pid, res[k].what);
				return -EOPNOTSUPP;
			}
		}
	}
	return 0;
}


/* Child CHILD of thread TID of PID runs in PID's address space: a vfork()
 * child that has neither exec'd nor exited (TID sleeps in vfork() until
 * it does, where no ptrace interrupt reaches it), or a clone(CLONE_VM)
 * child.  A restore would give each an address space of its own; CRIU
 * restores vfork children only in narrow cases.  Refused at once rather
 * than after the seize times out. */
static int refuse_shared_vm(pid_t pid, pid_t tid, pid_t child)
{
	struct proc_stat st;

	if (!proc_read_stat(tid, &st) && st.state == 'D') {
		pr_err("pid %d waits in vfork() (thread %d) for its child %d, which runs in its "
		       "memory until it calls exec or exits: not supported, dump once it has\n",
		       pid, tid, child);
		return -EOPNOTSUPP;
	}
	pr_err("pid %d and its child %d share one address space (clone(CLONE_VM) without "
	       "CLONE_THREAD): not supported\n",
	       pid, child);
	return -EOPNOTSUPP;
}

/* The children of thread TID of PID that share its address space
 * (kcmp(KCMP_VM)), refused; those gone meanwhile are no concern here. */
static int check_vm_children(pid_t pid, pid_t tid)
{
	cleanup_free char *buf = NULL;
	char path[96], *s, *end;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, tid);
	buf = proc_read_file(path, NULL);
	if (!buf)
		return 0;
	for (s = buf;; s = end) {
		long child = strtol(s, &end, 10);

		if (end == s)
			return 0;
		if (!syscall(SYS_kcmp, pid, (pid_t)child, KCMP_VM, 0, 0))
			return refuse_shared_vm(pid, tid, child);
	}
}

/* Before any seize: a process that shares its address space with a child
 * (or its parent) can't be dumped, and one whose thread waits in vfork()
 * would not stop for ptrace either. */
static int check_vm_shared(pid_t pid)
{
	cleanup_free pid_t *tids = NULL;
	struct proc_stat st;
	size_t nr = 0;
	int ret;

	/* Gone or unreadable: the seize says why. */
	if (list_threads(pid, &tids, &nr))
		return 0;
	for (size_t i = 0; i < nr; i++) {
		ret = check_vm_children(pid, tids[i]);
		if (ret)
			return ret;
	}
	if (proc_read_stat(pid, &st) || st.ppid <= 0 ||
	    syscall(SYS_kcmp, st.ppid, pid, KCMP_VM, 0, 0))
		return 0;
	pr_err("pid %d runs in the memory of its parent %d (a vfork() child that has not "
	       "called exec yet, or clone(CLONE_VM)): not supported\n",
	       pid, st.ppid);
	return -EOPNOTSUPP;
}

static int tid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/* Seizes in rounds: a thread may have cloned another before its stop, so
 * look again until a look finds nothing new.  A thread that is exiting
 * must be gone before the dump starts: its exit still writes memory
 * (clear_child_tid, robust futexes). */
static int seize_threads(struct seize_state *s)
{
	int fresh = 0, exiting = 0, ret;

	for (int pass = 0;; pass++) {
		ret = seize_new_threads(s, &fresh, &exiting);
		if (!ret)
			ret = wait_all_stopped(s);
		pr_debug("pid %d: seize pass %d: %d new threads, %d exiting\n", s->t->pid, pass,
			 fresh, exiting);
		if (ret)
			return ret;
		if (!fresh && !exiting)
			return 0;
		if (exiting && pass >= EXIT_WAIT_PASSES) {
			pr_err("A thread of pid %d has been exiting for a second and is still there; "
			       "try again\n",
			       s->t->pid);
			return -EBUSY;
		}
		if (exiting)
			usleep(EXIT_WAIT_NAP_US);
	}
}

int seize_task(pid_t pid, struct seized_task *t, int timeout_ms)
{
	struct seize_state s = {.t = t, .timeout_ms = timeout_ms ?: TRACEE_STOP_TIMEOUT_MS};
	uint64_t start = now_us();
	struct proc_status st;
	int ret;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	/* Once seized, /proc says 't' for a group stop as for any other. */
	t->was_stopped = !proc_read_status(pid, &st) && st.state == 'T';
	ret = check_vm_shared(pid);
	if (ret)
		return ret;
	ret = seize_one(&s, pid);
	if (ret > 0)
		ret = -ESRCH;
	if (!ret)
		ret = seize_threads(&s);
	if (!ret)
		ret = check_shared(t);
	if (!ret)
		ret = seccomp_suspend(t);
	if (ret) {
		release_all(&s);
		return ret;
	}
	free(s.stopped);
	qsort(t->tids + 1, t->nr_tids - 1, sizeof(t->tids[0]), tid_cmp);
	pr_debug("pid %d: %zu threads seized in %lu us\n", pid, t->nr_tids,
		 (unsigned long)(now_us() - start));
	return 0;
}

int unseize_task(struct seized_task *t)
{
	int ret = 0;

	/* A thread seized in a group stop stays stopped after the detach. */
	for (size_t i = t->nr_tids; i-- > 0;) {
		if (detach_restartable(t->tids[i])) {
			if (!ret)
				ret = -errno;
			pr_perror("Can't detach from thread %d of pid %d", t->tids[i], t->pid);
		}
	}
	free(t->tids);
	t->tids = NULL;
	t->nr_tids = 0;
	return ret;
}

/* Reaps a killed thread we trace, so that the pid is free at once.
 * Returns its wait status, or -1 if none came. */
static int reap_killed(pid_t tid)
{
	int status;

	for (;;) {
		int ret = wait_traced(tid, &status, TRACEE_STOP_TIMEOUT_MS);

		/* Dying, as a killed thread is: the report follows, and
		 * until it is taken the tid stays in use (a restore right
		 * after the dump would find it taken). */
		if (ret == 0)
			return reap_exited(tid);
		if (ret < 0)
			return -1;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return status;
	}
}

bool seized_task_dead(const struct seized_task *t)
{
	return t->nr_tids && thread_dead(t->pid);
}

int reap_dead_task(struct seized_task *t)
{
	int status = -1;

	/* The leader's exit is reported once the other threads are gone. */
	for (size_t i = t->nr_tids; i-- > 0;) {
		int st = reap_exited(t->tids[i]);

		if (t->tids[i] == t->pid)
			status = st;
	}
	free(t->tids);
	t->tids = NULL;
	t->nr_tids = 0;
	return status;
}

int kill_seized_task(struct seized_task *t)
{
	int ret = 0;

	if (kill(t->pid, SIGKILL)) {
		pr_perror("Can't kill pid %d after the dump", t->pid);
		ret = -errno;
	} else {
		/* The main thread is reaped by its parent only once every
		 * other thread is gone. */
		for (size_t i = t->nr_tids; i-- > 0;)
			reap_killed(t->tids[i]);
	}
	free(t->tids);
	t->tids = NULL;
	t->nr_tids = 0;
	return ret;
}
