/* A POSIX timer on the CPU clock of a child process of the tree
 * (clock_getcpuclockid), periodic, SIGRTMIN to the parent with a value:
 * after the restore /proc/self/timers lists it the same (the clock names
 * the child's pid), its interval is back, no more CPU time is left than
 * before, and it fires again with the right siginfo once the child runs.
 * The child runs only when asked: for each byte on a pipe it spins 40 ms
 * of its CPU time and answers on another; so its clock stands still
 * across the checkpoint.  A timer that expired between two ticks of its
 * child shows 1 ns left until the child runs again, and fires at once on
 * restore: then only the interval bounds what is left.
 * The child (one thread) has a timer of its own on the calling thread's
 * CPU clock (CLOCK_THREAD_CPUTIME_ID), which it checks when asked. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define NSEC 1000000000LL
#define PERIOD_NS 8000000LL
#define SPIN_NS 40000000LL
#define FIRINGS 3

static timer_t timer;
static volatile int fired, bad;

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code != SI_TIMER || si->si_value.sival_int != 0x7c1 ||
	    si->si_timerid != (int)(intptr_t)timer)
		bad = 1;
	fired++;
}

static int64_t ns_of(const struct timespec *ts)
{
	return ts->tv_sec * NSEC + ts->tv_nsec;
}

static int64_t cpu_ns(clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts))
		fail("clock_gettime of a CPU clock: %s", strerror(errno));
	return ns_of(&ts);
}

/* 'y' if the child's own timer has its interval, and time left. */
static char child_timer_ok(timer_t own)
{
	struct itimerspec its;

	if (timer_gettime(own, &its) || ns_of(&its.it_interval) != 7 * NSEC ||
	    !ns_of(&its.it_value) || ns_of(&its.it_value) > 1000 * NSEC)
		return 'n';
	return 'y';
}

static void __attribute__((noreturn)) child(int go, int done)
{
	struct itimerspec its = { .it_value = { 1000, 0 }, .it_interval = { 7, 0 } };
	struct sigevent ev = { .sigev_notify = SIGEV_NONE };
	timer_t own;
	char c;

	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &own) || timer_settime(own, 0, &its, NULL))
		_exit(1);
	for (;;) {
		int64_t t0;

		if (read(go, &c, 1) != 1)
			_exit(1);
		if (c == 'c') {
			c = child_timer_ok(own);
			if (write(done, &c, 1) != 1)
				_exit(1);
			continue;
		}
		t0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
		while (cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - t0 < SPIN_NS)
			;
		if (write(done, &c, 1) != 1)
			_exit(1);
	}
}

/* Rounds of the child's spinning until the timer fired FIRINGS more
 * times; 50 rounds (2 s of its CPU time, 250 periods) fail. */
static void check_firing(int go, int done, const char *when)
{
	int want = fired + FIRINGS;
	char c = 'g';

	for (int round = 0; fired < want; round++) {
		if (round == 50)
			fail("%s: the timer fired %d times in 2 s of the child's CPU time", when,
			     fired - want + FIRINGS);
		if (write(go, &c, 1) != 1 || read(done, &c, 1) != 1)
			fail("%s: the child does not answer: %s", when, strerror(errno));
	}
	if (bad)
		fail("%s: a signal with the wrong id or value", when);
}

static void proc_timers(char *buf, size_t size)
{
	ssize_t n = test_read_file("/proc/self/timers", buf, size - 1);

	if (n <= 0)
		fail("read /proc/self/timers: %s", strerror(errno));
	buf[n] = '\0';
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_timer, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct itimerspec its = { .it_value = { 0, PERIOD_NS }, .it_interval = { 0, PERIOD_NS } };
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL };
	static char list[4096], now[4096];
	struct itimerspec before, after;
	int go[2], done[2], st;
	int64_t limit;
	clockid_t clock;
	char line[32];
	pid_t pid;

	test_init(argc, argv);
	if (sigaction(SIGRTMIN, &sa, NULL) || pipe(go) || pipe(done))
		fail("sigaction or pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (!pid)
		child(go[0], done[1]);
	ev.sigev_signo = SIGRTMIN;
	ev.sigev_value.sival_int = 0x7c1;
	if (clock_getcpuclockid(pid, &clock) || timer_create(clock, &ev, &timer) ||
	    timer_settime(timer, 0, &its, NULL))
		fail("a timer on the child's CPU clock: %s", strerror(errno));
	check_firing(go[1], done[0], "before the checkpoint");
	proc_timers(list, sizeof(list));
	snprintf(line, sizeof(line), "ClockID: %d\n", clock);
	if (!strstr(list, line))
		fail("the child's clock %d is not in /proc/self/timers:\n%s", clock, list);
	timer_gettime(timer, &before);

	test_waitsig();

	proc_timers(now, sizeof(now));
	if (strcmp(now, list))
		fail("/proc/self/timers changed:\n%s\nwas:\n%s", now, list);
	if (timer_gettime(timer, &after))
		fail("timer_gettime: %s", strerror(errno));
	if (ns_of(&after.it_interval) != PERIOD_NS)
		fail("interval %lld ns, was %lld", (long long)ns_of(&after.it_interval),
		     PERIOD_NS);
	limit = ns_of(&before.it_value) > 1 ? ns_of(&before.it_value) : PERIOD_NS;
	if (!ns_of(&after.it_value) || ns_of(&after.it_value) > limit)
		fail("%lld ns of the child's CPU time left, %lld before",
		     (long long)ns_of(&after.it_value), (long long)ns_of(&before.it_value));
	check_firing(go[1], done[0], "after the checkpoint");
	line[0] = 'c';
	if (write(go[1], line, 1) != 1 || read(done[0], line, 1) != 1 || line[0] != 'y')
		fail("the child's timer on its own thread's CPU clock is gone or changed");
	kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) != pid || !WIFSIGNALED(st))
		fail("the child did not end by SIGKILL");
	pass();
}
