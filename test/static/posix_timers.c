/* POSIX timers (timer_create): after the restore /proc/self/timers lists
 * the same timers (ids, signal, sigev_value, notification with its
 * thread, clock), each has its interval back and no more time left than
 * before, and the periodic ones still fire at their interval with their
 * id and value in the siginfo, the SIGEV_THREAD_ID one in its thread.
 *   A  CLOCK_MONOTONIC, SIGRTMIN, every 30 ms
 *   B  CLOCK_REALTIME, SIGRTMIN+1 to the helper thread, every 40 ms
 *   C  CLOCK_BOOTTIME, SIGEV_NONE, in 1000 s and then every 5 s
 *   D  CLOCK_PROCESS_CPUTIME_ID, SIGRTMIN+2, in 1000 s of CPU time
 *   E  CLOCK_MONOTONIC, SIGUSR1, disarmed
 * Two timers made and deleted between them leave holes in the ids. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define NSEC 1000000000LL
#define NSAMPLES 8

enum { A, B, C, D, E, NR };

static timer_t timers[NR];
static const long period_ms[NR] = { 30, 40, 0, 0, 0 };
static volatile pid_t helper_tid;

struct samples {
	volatile int n;
	volatile uint64_t stamp[NSAMPLES];
	volatile int bad; /* wrong timer id, value or thread */
	volatile int overrun;
};

static struct samples got[2];

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	int i = sig == SIGRTMIN ? A : B;
	struct samples *s = &got[i];

	(void)uc;
	if (si->si_code != SI_TIMER || si->si_value.sival_int != 0x1000 + i ||
	    si->si_timerid != (int)(intptr_t)timers[i] ||
	    (i == B && syscall(SYS_gettid) != helper_tid))
		s->bad = 1;
	s->overrun = si->si_overrun;
	if (s->n >= 0 && s->n < NSAMPLES)
		s->stamp[s->n] = test_now_ns();
	s->n++;
}

static void *helper(void *arg)
{
	sigset_t only;

	(void)arg;
	helper_tid = syscall(SYS_gettid);
	sigfillset(&only);
	sigdelset(&only, SIGRTMIN + 1);
	for (;;)
		sigsuspend(&only);
	return NULL;
}

static timer_t make(int i, clockid_t clock, int notify, int sig)
{
	struct sigevent ev = { .sigev_notify = notify, .sigev_signo = sig };
	timer_t t;

	ev.sigev_value.sival_int = 0x1000 + i;
	if (notify == SIGEV_THREAD_ID)
		ev._sigev_un._tid = helper_tid;
	if (timer_create(clock, &ev, &t))
		fail("timer_create %c: %s", 'A' + i, strerror(errno));
	return t;
}

static void arm(int i, time_t value_s, long value_ms, time_t interval_s, long interval_ms)
{
	struct itimerspec its = { .it_value = { value_s, value_ms * 1000000 },
				  .it_interval = { interval_s, interval_ms * 1000000 } };

	if (timer_settime(timers[i], 0, &its, NULL))
		fail("timer_settime %c: %s", 'A' + i, strerror(errno));
}

static int64_t ns_of(const struct timespec *ts)
{
	return ts->tv_sec * NSEC + ts->tv_nsec;
}

static void proc_timers(char *buf, size_t size)
{
	ssize_t n = test_read_file("/proc/self/timers", buf, size - 1);

	if (n <= 0)
		fail("read /proc/self/timers: %s", strerror(errno));
	buf[n] = '\0';
}

/* NSAMPLES firings of A and B from now: fail unless each came at its
 * interval (not faster, not much slower) with the right siginfo. */
static void check_firing(const char *when)
{
	uint64_t deadline = test_now_ns() + 5 * NSEC;
	sigset_t none;

	sigemptyset(&none);
	/* The first signal may have been queued while blocked: off the
	 * timer's period. */
	got[A].n = got[B].n = -1;
	while ((got[A].n < NSAMPLES || got[B].n < NSAMPLES) && test_now_ns() < deadline)
		sigsuspend(&none);
	for (int i = A; i <= B; i++) {
		struct samples *s = &got[i];
		uint64_t mean;

		if (s->n < NSAMPLES)
			fail("%s: timer %c fired %d times in 5 s", when, 'A' + i, s->n + 1);
		if (s->bad)
			fail("%s: timer %c: a signal with the wrong id, value or thread", when,
			     'A' + i);
		mean = (s->stamp[NSAMPLES - 1] - s->stamp[0]) / (NSAMPLES - 1) / 1000000;
		if (mean < (uint64_t)period_ms[i] * 9 / 10 || mean > (uint64_t)period_ms[i] * 4)
			fail("%s: timer %c fires every %llu ms, armed for %ld ms", when, 'A' + i,
			     (unsigned long long)mean, period_ms[i]);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_timer, .sa_flags = SA_SIGINFO };
	static char list[8192], now[8192];
	struct itimerspec before[NR], its;
	timer_t gap[2];
	pthread_t th;
	sigset_t rt1;
	uint64_t t0, elapsed;

	test_init(argc, argv);
	if (sigaction(SIGRTMIN, &sa, NULL) || sigaction(SIGRTMIN + 1, &sa, NULL))
		fail("sigaction: %s", strerror(errno));
	sigemptyset(&rt1);
	sigaddset(&rt1, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &rt1, NULL);
	if (pthread_create(&th, NULL, helper, NULL))
		fail("pthread_create");
	while (!helper_tid)
		usleep(1000);
	timers[A] = make(A, CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN);
	gap[0] = make(NR, CLOCK_MONOTONIC, SIGEV_NONE, 0);
	timers[B] = make(B, CLOCK_REALTIME, SIGEV_THREAD_ID, SIGRTMIN + 1);
	gap[1] = make(NR, CLOCK_MONOTONIC, SIGEV_NONE, 0);
	timers[C] = make(C, CLOCK_BOOTTIME, SIGEV_NONE, 0);
	timers[D] = make(D, CLOCK_PROCESS_CPUTIME_ID, SIGEV_SIGNAL, SIGRTMIN + 2);
	timers[E] = make(E, CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGUSR1);
	timer_delete(gap[0]);
	timer_delete(gap[1]);
	arm(A, 0, 30, 0, 30);
	arm(B, 0, 40, 0, 40);
	arm(C, 1000, 0, 5, 0);
	arm(D, 1000, 0, 0, 0);
	check_firing("before the checkpoint");
	proc_timers(list, sizeof(list));
	t0 = test_now_ns();
	for (int i = 0; i < NR; i++)
		timer_gettime(timers[i], &before[i]);

	test_waitsig();

	proc_timers(now, sizeof(now));
	if (strcmp(now, list))
		fail("/proc/self/timers changed:\n%s\nwas:\n%s", now, list);
	for (int i = 0; i < NR; i++) {
		if (timer_gettime(timers[i], &its))
			fail("timer_gettime %c: %s", 'A' + i, strerror(errno));
		elapsed = test_now_ns() - t0;
		if (ns_of(&its.it_interval) != ns_of(&before[i].it_interval))
			fail("timer %c: interval %lld ns, was %lld", 'A' + i,
			     (long long)ns_of(&its.it_interval),
			     (long long)ns_of(&before[i].it_interval));
		if (ns_of(&its.it_value) > (period_ms[i] ? period_ms[i] * 1000000LL :
							   ns_of(&before[i].it_value)) ||
		    (i >= C && i != E &&
		     ns_of(&its.it_value) + (int64_t)elapsed < ns_of(&before[i].it_value)) ||
		    (i == E) != !ns_of(&its.it_value))
			fail("timer %c: %lld ns left, %lld before, %llu ns passed", 'A' + i,
			     (long long)ns_of(&its.it_value), (long long)ns_of(&before[i].it_value),
			     (unsigned long long)elapsed);
	}
	check_firing("after the checkpoint");
	for (int i = A; i <= B; i++) {
		int o = timer_getoverrun(timers[i]);

		if (o < 0 || o > 100 || got[i].overrun < 0 || got[i].overrun > 100)
			fail("timer %c: overrun %d, %d in its last signal", 'A' + i, o,
			     got[i].overrun);
	}
	pass();
}
