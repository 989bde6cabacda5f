/* Pending signals: while blocked, SIGHUP is sent to the process (shared
 * pending), two SIGRTMIN+1 are queued with values (shared, queued in
 * order), SIGUSR1 is sent to the thread (private pending).  After the
 * restore all are still pending, and once unblocked each handler runs the
 * right number of times with the right siginfo. */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

#define RT_SIG	(SIGRTMIN + 1)

static volatile int hup_count, usr1_count, usr1_code, rt_count;
static volatile int rt_values[4], rt_codes[4], rt_pids[4];

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGHUP) {
		hup_count++;
	} else if (sig == SIGUSR1) {
		usr1_count++;
		usr1_code = si->si_code;
	} else if (sig == RT_SIG && rt_count < 4) {
		rt_values[rt_count] = si->si_value.sival_int;
		rt_codes[rt_count] = si->si_code;
		rt_pids[rt_count] = si->si_pid;
		rt_count++;
	}
}

int main(int argc, char **argv)
{
	struct sigaction act = { .sa_sigaction = handler, .sa_flags = SA_SIGINFO };
	sigset_t set, pending;
	pid_t pid;

	test_init(argc, argv);
	pid = getpid();
	sigemptyset(&act.sa_mask);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, RT_SIG);
	if (sigaction(SIGHUP, &act, NULL) || sigaction(SIGUSR1, &act, NULL) ||
	    sigaction(RT_SIG, &act, NULL) || sigprocmask(SIG_BLOCK, &set, NULL))
		fail("sigaction/sigprocmask: %s", strerror(errno));
	if (kill(pid, SIGHUP) ||
	    sigqueue(pid, RT_SIG, (union sigval){ .sival_int = 4242 }) ||
	    sigqueue(pid, RT_SIG, (union sigval){ .sival_int = 4343 }) ||
	    syscall(SYS_tgkill, pid, gettid(), SIGUSR1))
		fail("sending signals: %s", strerror(errno));

	test_waitsig();

	if (hup_count || usr1_count || rt_count)
		fail("blocked signals were delivered: SIGHUP %d SIGUSR1 %d RT %d", hup_count,
		     usr1_count, rt_count);
	if (sigpending(&pending))
		fail("sigpending: %s", strerror(errno));
	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP &&
		    sigismember(&pending, sig) != sigismember(&set, sig))
			fail("signal %d is %spending after restore", sig,
			     sigismember(&pending, sig) ? "" : "not ");
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (hup_count != 1 || usr1_count != 1 || rt_count != 2)
		fail("after unblocking: SIGHUP ran %d times, SIGUSR1 %d, SIGRTMIN+1 %d (want 1, 1, 2)",
		     hup_count, usr1_count, rt_count);
	if (usr1_code != SI_TKILL)
		fail("SIGUSR1 si_code %d, want SI_TKILL", usr1_code);
	for (int i = 0; i < 2; i++)
		if (rt_values[i] != 4242 + 101 * i || rt_codes[i] != SI_QUEUE || rt_pids[i] != pid)
			fail("queued signal %d: value %d code %d pid %d, want %d SI_QUEUE %d", i,
			     rt_values[i], rt_codes[i], rt_pids[i], 4242 + 101 * i, (int)pid);
	pass();
}
