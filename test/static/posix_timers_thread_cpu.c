/* POSIX timers on threads' CPU clocks (pthread_getcpuclockid, as
 * haproxy's watchdog makes them): after the restore /proc/self/timers
 * lists the same timers (ids, clocks naming the same tids, signals,
 * values, notification with its thread), each has its interval back and
 * no more CPU time left than before, and the periodic ones fire again
 * with the right siginfo in the right thread once their thread runs.
 *   A  thread a's CPU clock, SIGRTMIN to thread a (SIGEV_THREAD_ID), every 20 ms
 *   B  thread b's CPU clock, SIGRTMIN+1 to the process (only b takes it), every 30 ms
 *   C  the main thread's CPU clock by its tid, SIGEV_NONE, in 1000 s
 * The workers wait on a semaphore (no CPU time, so their timers stand
 * still) but while main asks them to spin; they stop in their timer's
 * signal handler, just re-armed: a CPU timer that expired between two
 * ticks shows 1 ns left until its thread runs again, and would fire at
 * once on restore.  The periods are several ticks (4 ms at HZ=250) long:
 * a signal delivered a period late has an overrun count, which a dump
 * refuses (timer_getoverrun can't be restored). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define NSEC 1000000000LL
#define FIRINGS 3

enum { A, B, C, NR };

struct worker {
	sem_t go;
	atomic_int spin, stopping;
	volatile pid_t tid;
	int sig;
	pthread_t th;
	clockid_t clock;
};

static struct worker workers[2];
static timer_t timers[NR];
static volatile int fired[2], bad[2];

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	int i = sig == SIGRTMIN ? A : B;

	(void)uc;
	if (si->si_code != SI_TIMER || si->si_value.sival_int != 0x7a0 + i ||
	    si->si_timerid != (int)(intptr_t)timers[i] ||
	    syscall(SYS_gettid) != workers[i].tid)
		bad[i] = 1;
	fired[i]++;
	if (atomic_load(&workers[i].stopping))
		atomic_store(&workers[i].spin, 0);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	sigset_t mine;

	sigemptyset(&mine);
	sigaddset(&mine, w->sig);
	pthread_sigmask(SIG_UNBLOCK, &mine, NULL);
	w->tid = syscall(SYS_gettid);
	for (;;) {
		while (sem_wait(&w->go))
			;
		while (atomic_load(&w->spin))
			;
	}
	return NULL;
}

static int64_t ns_of(const struct timespec *ts)
{
	return ts->tv_sec * NSEC + ts->tv_nsec;
}

static int64_t cpu_ns(clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts))
		fail("clock_gettime of a thread's CPU clock: %s", strerror(errno));
	return ns_of(&ts);
}

static void make(int i, clockid_t clock, int notify, int sig)
{
	struct sigevent ev = { .sigev_notify = notify, .sigev_signo = sig };

	ev.sigev_value.sival_int = 0x7a0 + i;
	if (notify == SIGEV_THREAD_ID)
		ev._sigev_un._tid = workers[i].tid;
	if (timer_create(clock, &ev, &timers[i]))
		fail("timer_create %c: %s", 'A' + i, strerror(errno));
}

static void arm(int i, time_t value_s, long value_ms, long interval_ms)
{
	struct itimerspec its = { .it_value = { value_s, value_ms * 1000000 },
				  .it_interval = { 0, interval_ms * 1000000 } };

	if (timer_settime(timers[i], 0, &its, NULL))
		fail("timer_settime %c: %s", 'A' + i, strerror(errno));
}

/* Both workers spin until A and B fired FIRINGS more times each; a
 * worker that ran 2 s of CPU time (100 periods) without them fails. */
static void check_firing(const char *when)
{
	int64_t cpu0[2], wall0 = test_now_ns();
	int want[2] = { fired[A] + FIRINGS, fired[B] + FIRINGS };

	for (int i = A; i <= B; i++) {
		cpu0[i] = cpu_ns(workers[i].clock);
		atomic_store(&workers[i].stopping, 0);
		atomic_store(&workers[i].spin, 1);
		sem_post(&workers[i].go);
	}
	while (fired[A] < want[A] || fired[B] < want[B]) {
		for (int i = A; i <= B; i++)
			if (fired[i] < want[i] && cpu_ns(workers[i].clock) - cpu0[i] > 2 * NSEC)
				fail("%s: timer %c fired %d times in 2 s of its thread's CPU time",
				     when, 'A' + i, fired[i] - want[i] + FIRINGS);
		if (test_now_ns() - wall0 > 120 * NSEC)
			fail("%s: the workers got no CPU time in 120 s", when);
		usleep(1000);
	}
	for (int i = A; i <= B; i++) {
		atomic_store(&workers[i].stopping, 1);
		while (atomic_load(&workers[i].spin)) {
			if (cpu_ns(workers[i].clock) - cpu0[i] > 4 * NSEC)
				fail("%s: timer %c did not fire again in 2 s of CPU time", when,
				     'A' + i);
			usleep(1000);
		}
		if (bad[i])
			fail("%s: timer %c: a signal with the wrong id, value or thread", when,
			     'A' + i);
	}
}

static void proc_timers(char *buf, size_t size)
{
	ssize_t n = test_read_file("/proc/self/timers", buf, size - 1);

	if (n <= 0)
		fail("read /proc/self/timers: %s", strerror(errno));
	buf[n] = '\0';
}

/* /proc/self/timers names each clock as pthread_getcpuclockid gave it. */
static void check_clocks(const char *list, const clockid_t *clock)
{
	char line[32];

	for (int i = A; i < NR; i++) {
		snprintf(line, sizeof(line), "ClockID: %d\n", clock[i]);
		if (!strstr(list, line))
			fail("timer %c's clock %d is not in /proc/self/timers:\n%s", 'A' + i,
			     clock[i], list);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_timer, .sa_flags = SA_SIGINFO };
	static char list[8192], now[8192];
	struct itimerspec before[NR], its;
	clockid_t clock[NR];
	sigset_t rt;

	test_init(argc, argv);
	if (sigaction(SIGRTMIN, &sa, NULL) || sigaction(SIGRTMIN + 1, &sa, NULL))
		fail("sigaction: %s", strerror(errno));
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN);
	sigaddset(&rt, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &rt, NULL);
	for (int i = A; i <= B; i++) {
		workers[i].sig = SIGRTMIN + i;
		if (sem_init(&workers[i].go, 0, 0) ||
		    pthread_create(&workers[i].th, NULL, work, &workers[i]))
			fail("a worker thread: %s", strerror(errno));
		while (!workers[i].tid)
			usleep(1000);
		if (pthread_getcpuclockid(workers[i].th, &workers[i].clock))
			fail("pthread_getcpuclockid");
		clock[i] = workers[i].clock;
	}
	if (pthread_getcpuclockid(pthread_self(), &clock[C]))
		fail("pthread_getcpuclockid of the main thread");
	make(A, clock[A], SIGEV_THREAD_ID, SIGRTMIN);
	make(B, clock[B], SIGEV_SIGNAL, SIGRTMIN + 1);
	make(C, clock[C], SIGEV_NONE, 0);
	arm(A, 0, 20, 20);
	arm(B, 0, 30, 30);
	arm(C, 1000, 0, 0);
	check_firing("before the checkpoint");
	proc_timers(list, sizeof(list));
	check_clocks(list, clock);
	for (int i = 0; i < NR; i++)
		timer_gettime(timers[i], &before[i]);

	test_waitsig();

	proc_timers(now, sizeof(now));
	if (strcmp(now, list))
		fail("/proc/self/timers changed:\n%s\nwas:\n%s", now, list);
	for (int i = 0; i < NR; i++) {
		if (timer_gettime(timers[i], &its))
			fail("timer_gettime %c: %s", 'A' + i, strerror(errno));
		if (ns_of(&its.it_interval) != ns_of(&before[i].it_interval))
			fail("timer %c: interval %lld ns, was %lld", 'A' + i,
			     (long long)ns_of(&its.it_interval),
			     (long long)ns_of(&before[i].it_interval));
		if (!ns_of(&its.it_value) || ns_of(&its.it_value) > ns_of(&before[i].it_value))
			fail("timer %c: %lld ns of CPU time left, %lld before", 'A' + i,
			     (long long)ns_of(&its.it_value), (long long)ns_of(&before[i].it_value));
	}
	check_firing("after the checkpoint");
	pass();
}
