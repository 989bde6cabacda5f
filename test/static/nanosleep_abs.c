/* A task caught in clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME): the
 * absolute sleep is restarted with -ERESTARTNOHAND, a different path from
 * the relative nanosleep (see nanosleep.c).  Sleeps run back to back on
 * 200 ms deadlines with SIGTERM blocked; each must return 0, not before
 * its deadline. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "test.h"

#define SLEEP_NS	(200 * 1000 * 1000ULL)

int main(int argc, char **argv)
{
	sigset_t term, pending;
	uint64_t deadline;
	int sleeps = 0;

	test_init(argc, argv);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &term, NULL))
		fail("sigprocmask: %s", strerror(errno));
	test_ready();
	deadline = test_now_ns();
	for (;;) {
		struct timespec ts;
		int ret;

		deadline += SLEEP_NS;
		ts.tv_sec = deadline / 1000000000ULL;
		ts.tv_nsec = deadline % 1000000000ULL;
		ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (ret)
			fail("clock_nanosleep #%d returned %d (%s)", sleeps, ret, strerror(ret));
		if (test_now_ns() < deadline)
			fail("clock_nanosleep #%d returned %lu ns before its deadline", sleeps,
			     (unsigned long)(deadline - test_now_ns()));
		sleeps++;
		if (sigpending(&pending))
			fail("sigpending: %s", strerror(errno));
		if (sigismember(&pending, SIGTERM))
			break;
	}
	sigprocmask(SIG_UNBLOCK, &term, NULL);
	if (!test_sig_received)
		fail("pending SIGTERM did not reach its handler");
	test_msg("%d sleeps", sleeps);
	pass();
}
