/* Signal handlers: SIGUSR1 with SA_SIGINFO|SA_RESTART and a mask, SIGUSR2
 * ignored, SIGALRM one-shot (SA_RESETHAND|SA_NODEFER), SIGQUIT and SIGWINCH
 * blocked.  After the restore every sigaction reads back the same, the
 * blocked mask is the same, the handler fires with the right siginfo and
 * mask, SA_RESTART still restarts a blocking read, SA_RESETHAND still
 * resets. */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static volatile sig_atomic_t usr1_count, alrm_count;
static volatile int usr1_code, usr1_signo, usr1_mask_ok;
static volatile int wake_fd = -1;

static void usr1_handler(int sig, siginfo_t *si, void *uc)
{
	sigset_t now;

	(void)uc;
	usr1_count++;
	usr1_signo = sig == SIGUSR1 ? si->si_signo : -1;
	usr1_code = si->si_code;
	sigprocmask(SIG_BLOCK, NULL, &now);
	usr1_mask_ok = sigismember(&now, SIGUSR1) && sigismember(&now, SIGUSR2) &&
		       sigismember(&now, SIGHUP);
	if (wake_fd >= 0 && write(wake_fd, "x", 1) != 1)
		usr1_mask_ok = 0;
}

static void alrm_handler(int sig)
{
	(void)sig;
	alrm_count++;
}

static void set_action(int sig, void (*h)(int), void (*sa)(int, siginfo_t *, void *),
		       int flags, int masked)
{
	struct sigaction act = { .sa_flags = flags };

	if (sa)
		act.sa_sigaction = sa;
	else
		act.sa_handler = h;
	sigemptyset(&act.sa_mask);
	if (masked) {
		sigaddset(&act.sa_mask, SIGUSR2);
		sigaddset(&act.sa_mask, SIGHUP);
	}
	if (sigaction(sig, &act, NULL))
		fail("sigaction(%d): %s", sig, strerror(errno));
}

static bool same_action(const struct sigaction *a, const struct sigaction *b)
{
	/* Only the 64 signals the kernel knows: glibc's sigset_t is larger. */
	return a->sa_handler == b->sa_handler && a->sa_flags == b->sa_flags &&
	       !memcmp(&a->sa_mask, &b->sa_mask, 8) && a->sa_restorer == b->sa_restorer;
}

/* A timer sends SIGUSR1 while read() blocks on an empty pipe; the handler
 * writes a byte, so with SA_RESTART the read restarts and gets it. */
static void check_restart(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	struct itimerspec its = { .it_value = { .tv_nsec = 50 * 1000 * 1000 } };
	timer_t timer;
	int p[2];
	char c;

	if (pipe(p) || timer_create(CLOCK_MONOTONIC, &sev, &timer))
		fail("pipe/timer_create: %s", strerror(errno));
	wake_fd = p[1];
	if (timer_settime(timer, 0, &its, NULL))
		fail("timer_settime: %s", strerror(errno));
	if (read(p[0], &c, 1) != 1)
		fail("read interrupted by SIGUSR1 was not restarted (SA_RESTART lost): %s",
		     strerror(errno));
	wake_fd = -1;
	timer_delete(timer);
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	static struct sigaction before[65];
	static bool known[65];
	struct sigaction now;
	sigset_t block, mask_before, mask_now;

	test_init(argc, argv);
	set_action(SIGUSR1, NULL, usr1_handler, SA_SIGINFO | SA_RESTART, 1);
	set_action(SIGUSR2, SIG_IGN, NULL, 0, 0);
	set_action(SIGALRM, alrm_handler, NULL, SA_RESETHAND | SA_NODEFER, 0);
	sigemptyset(&block);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &block, NULL))
		fail("sigprocmask: %s", strerror(errno));
	/* glibc refuses the signals it reserves (32 and 33): skip those. */
	for (int sig = 1; sig <= 64; sig++)
		known[sig] = sig != SIGKILL && sig != SIGSTOP &&
			     !sigaction(sig, NULL, &before[sig]);
	sigprocmask(SIG_BLOCK, NULL, &mask_before);

	test_waitsig();

	for (int sig = 1; sig <= 64; sig++) {
		if (!known[sig])
			continue;
		if (sigaction(sig, NULL, &now))
			fail("sigaction(%d): %s", sig, strerror(errno));
		if (!same_action(&now, &before[sig]))
			fail("sigaction of signal %d changed: handler %p flags %#x mask %#lx, was %p %#x %#lx",
			     sig, (void *)now.sa_handler, now.sa_flags,
			     *(unsigned long *)&now.sa_mask, (void *)before[sig].sa_handler,
			     before[sig].sa_flags, *(unsigned long *)&before[sig].sa_mask);
	}
	sigprocmask(SIG_BLOCK, NULL, &mask_now);
	if (memcmp(&mask_now, &mask_before, 8))
		fail("blocked mask %#lx, was %#lx", *(unsigned long *)&mask_now,
		     *(unsigned long *)&mask_before);

	raise(SIGUSR1);
	if (usr1_count != 1 || usr1_signo != SIGUSR1 || usr1_code != SI_TKILL)
		fail("SIGUSR1 handler: ran %d times, signo %d, si_code %d", usr1_count, usr1_signo,
		     usr1_code);
	if (!usr1_mask_ok)
		fail("SIGUSR1 handler ran without its sa_mask applied");
	raise(SIGUSR2);
	raise(SIGALRM);
	if (alrm_count != 1)
		fail("SIGALRM handler ran %d times", alrm_count);
	if (sigaction(SIGALRM, NULL, &now) || now.sa_handler != SIG_DFL)
		fail("SA_RESETHAND did not reset the SIGALRM handler");
	check_restart();
	if (usr1_count != 2)
		fail("SIGUSR1 from a timer ran the handler %d times", usr1_count);
	pass();
}
