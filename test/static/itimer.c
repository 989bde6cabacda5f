/* itimers: ITIMER_REAL fires every 50 ms (SIGALRM), ITIMER_VIRTUAL and
 * ITIMER_PROF are armed far ahead with intervals of their own.  SIGALRM
 * is blocked over the checkpoint, so one is always queued then and the
 * kernel has not re-armed ITIMER_REAL (it does when the signal is taken).
 * After the restore each timer has its interval back, the CPU ones no
 * more time left than before (give or take one scheduler tick: the
 * kernel samples a process's CPU time per tick, so two reads of an
 * unchanged timer can differ by one) and no less than before minus 10 s,
 * and once SIGALRM is unblocked ITIMER_REAL fires at its interval again:
 * not faster, not stopped. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "test.h"

#define INTERVAL_US 50000
/* The longest scheduler tick (HZ=100). */
#define TICK_US 10000
#define NSAMPLES 10

static volatile sig_atomic_t fired;
static volatile uint64_t stamps[NSAMPLES];

static void on_alarm(int sig)
{
	(void)sig;
	if (fired >= 0 && fired < NSAMPLES)
		stamps[fired] = test_now_ns();
	fired++;
}

static uint64_t us_of(const struct timeval *tv)
{
	return tv->tv_sec * 1000000ULL + tv->tv_usec;
}

static void arm(int which, time_t value, time_t interval_s, long interval_us)
{
	struct itimerval it = { .it_interval = { interval_s, interval_us },
				.it_value = { value, 0 } };

	if (setitimer(which, &it, NULL))
		fail("setitimer %d: %s", which, strerror(errno));
}

static void get(int which, struct itimerval *it)
{
	if (getitimer(which, it))
		fail("getitimer %d: %s", which, strerror(errno));
}

/* The mean interval of NSAMPLES firings after the next one: a SIGALRM
 * that was queued while blocked comes at once, off the timer's period. */
static uint64_t mean_interval_us(void)
{
	uint64_t deadline = test_now_ns() + 5000000000ULL;
	sigset_t none;

	sigemptyset(&none);
	fired = -1;
	while (fired < NSAMPLES && test_now_ns() < deadline)
		sigsuspend(&none);
	if (fired < NSAMPLES)
		fail("ITIMER_REAL fired %d times in 5 s (every 50 ms before)", (int)fired + 1);
	return (stamps[NSAMPLES - 1] - stamps[0]) / (NSAMPLES - 1) / 1000;
}

int main(int argc, char **argv)
{
	struct itimerval before[3], now;
	struct sigaction sa = { .sa_handler = on_alarm };
	uint64_t t0, elapsed_us, mean;
	sigset_t alrm, pending;

	test_init(argc, argv);
	if (sigaction(SIGALRM, &sa, NULL))
		fail("sigaction: %s", strerror(errno));
	now.it_value.tv_usec = INTERVAL_US;
	now.it_value.tv_sec = 0;
	now.it_interval = now.it_value;
	if (setitimer(ITIMER_REAL, &now, NULL))
		fail("setitimer: %s", strerror(errno));
	arm(ITIMER_VIRTUAL, 1000, 7, 0);
	arm(ITIMER_PROF, 2000, 9, 500);
	mean = mean_interval_us();
	if (mean < INTERVAL_US * 9 / 10)
		fail("ITIMER_REAL fired every %llu us before the checkpoint",
		     (unsigned long long)mean);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, NULL);
	usleep(3 * INTERVAL_US);
	t0 = test_now_ns();
	for (int i = 0; i < 3; i++)
		get(i, &before[i]);
	if (sigpending(&pending) || !sigismember(&pending, SIGALRM))
		fail("no SIGALRM queued after 150 ms blocked");

	test_waitsig();

	elapsed_us = (test_now_ns() - t0) / 1000;
	for (int i = 0; i < 3; i++) {
		get(i, &now);
		if (us_of(&now.it_interval) != us_of(&before[i].it_interval))
			fail("itimer %d: interval %llu us, was %llu us", i,
			     (unsigned long long)us_of(&now.it_interval),
			     (unsigned long long)us_of(&before[i].it_interval));
		if (i && (us_of(&now.it_value) > us_of(&before[i].it_value) + TICK_US ||
			  us_of(&now.it_value) + 10000000 < us_of(&before[i].it_value)))
			fail("itimer %d: %llu us left, %llu before", i,
			     (unsigned long long)us_of(&now.it_value),
			     (unsigned long long)us_of(&before[i].it_value));
	}
	mean = mean_interval_us();
	get(ITIMER_REAL, &now);
	if (!us_of(&now.it_value) || us_of(&now.it_value) > INTERVAL_US)
		fail("ITIMER_REAL: %llu us left of a %d us period, %llu us after the checkpoint",
		     (unsigned long long)us_of(&now.it_value), INTERVAL_US,
		     (unsigned long long)elapsed_us);
	if (mean < INTERVAL_US * 9 / 10 || mean > INTERVAL_US * 4)
		fail("ITIMER_REAL fires every %llu us after the checkpoint, every %d us before",
		     (unsigned long long)mean, INTERVAL_US);
	pass();
}
