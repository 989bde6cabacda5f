/* Owns lmproc's own signals while a command must finish or undo its
 * step.  A dump or a pre-dump blocks them (interrupt_guard); a restore,
 * whose waits are for its own children, catches SIGINT, SIGTERM and
 * SIGHUP with a handler that only records the signal, so a blocking wait
 * returns EINTR and looks (interrupt_catch).  During a dump the signals
 * that would end lmproc are blocked from the start, so none can cut short
 * a step that must run to completion (an injected call, a cure, a
 * detach); the dump looks for them at safe points between steps and then
 * unwinds through its usual undo.  SIGCHLD is blocked too: it is what
 * wakes the waits for traced threads, which are bounded and notice a
 * thread that died without being able to say so.  And the rules for the
 * helper processes a run forks: they die with it and hold nothing of the
 * caller's. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "interrupt.h"
#include "log.h"
#include "proc.h"

/* How often a wait looks at a thread that reports nothing. */
#define WAIT_SLICE_NS (10 * 1000 * 1000)

/* Signals whose default action ends the process; the synchronous ones
 * (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT) are bugs of
 * lmproc itself and are left alone, like the stop signals. */
static const int ending_signals[] = {
	SIGHUP,	 SIGINT,  SIGQUIT,   SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM,
	SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO,	SIGPWR,
};

static sigset_t watched, saved_mask;
static bool guarded;
static volatile sig_atomic_t caught;

static void watch(sigset_t *block, int sig)
{
	struct sigaction sa;

	/* An ignored signal (nohup, a background job's SIGINT) is the
	 * caller's choice: it must not interrupt either. */
	if (sigaction(sig, NULL, &sa) || sa.sa_handler == SIG_IGN)
		return;
	sigaddset(&watched, sig);
	sigaddset(block, sig);
}

void interrupt_guard(void)
{
	sigset_t block;

	if (guarded)
		return;
	sigemptyset(&watched);
	sigemptyset(&block);
	for (size_t i = 0; i < ARRAY_SIZE(ending_signals); i++)
		watch(&block, ending_signals[i]);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		watch(&block, sig);
	/* SIG_DFL: an inherited SIG_IGN would reap lmproc's own helpers
	 * behind its back.  Blocked, it stays pending for sigtimedwait. */
	signal(SIGCHLD, SIG_DFL);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &saved_mask);
	guarded = true;
}

static const int restore_sigs[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction old_act[ARRAY_SIZE(restore_sigs)];
static bool catching;

static void on_signal(int sig)
{
	if (!caught)
		caught = sig;
}

int interrupt_catch(void)
{
	/* No SA_RESTART: a wait returns EINTR and looks at the flag. */
	struct sigaction sa = { .sa_handler = on_signal };

	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(restore_sigs); i++) {
		if (sigaction(restore_sigs[i], NULL, &old_act[i])) {
			pr_perror("Can't read the action of signal %d", restore_sigs[i]);
			return -errno;
		}
		if (old_act[i].sa_handler == SIG_IGN)
			continue;
		if (sigaction(restore_sigs[i], &sa, NULL)) {
			pr_perror("Can't catch signal %d", restore_sigs[i]);
			return -errno;
		}
	}
	catching = true;
	return 0;
}

void interrupt_release(void)
{
	if (!catching)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(restore_sigs); i++)
		sigaction(restore_sigs[i], &old_act[i], NULL);
	catching = false;
}

void interrupt_child_reset(void)
{
	if (guarded)
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
}

void helper_die_with(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(1);
	interrupt_child_reset();
}

void helper_close_fds(int keep)
{
	int null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	if (keep > 3)
		close_range(3, keep - 1, 0);
	close_range(keep >= 3 ? keep + 1 : 3, ~0U, 0);
}

int interrupt_signal(void)
{
	sigset_t pending;

	if (caught || !guarded || sigpending(&pending))
		return caught;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(&watched, sig) == 1 && sigismember(&pending, sig) == 1) {
			caught = sig;
			break;
		}
	}
	return caught;
}

int interrupt_check(void)
{
	return interrupt_signal() ? -EINTR : 0;
}

bool thread_dead(pid_t tid)
{
	struct proc_stat st;

	return proc_read_stat(tid, &st) || st.state == 'Z' || st.state == 'X' ||
	       proc_pid_exiting(tid);
}

static int wait_blocked(pid_t tid, int *status, int ms, const sigset_t *chld)
{
	const struct timespec slice = { 0, WAIT_SLICE_NS };
	uint64_t deadline = now_us() + ms * 1000ULL;

	for (int pass = 0;; pass++) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);

		if (r == tid)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;
		/* Not on the first pass: a stop normally comes at once. */
		if (pass && thread_dead(tid))
			return 0;
		if (now_us() > deadline)
			return -ETIMEDOUT;
		/* Any tracee's stop or exit sends SIGCHLD. */
		sigtimedwait(chld, NULL, &slice);
	}
}

int wait_traced(pid_t tid, int *status, int ms)
{
	sigset_t chld, old;
	int ret;

	/* Blocked already in a guarded dump; otherwise only for the wait,
	 * so that sigtimedwait() sees it instead of its default action. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	ret = wait_blocked(tid, status, ms, &chld);
	if (!sigismember(&old, SIGCHLD))
		sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
