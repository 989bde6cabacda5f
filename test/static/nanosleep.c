/* A task caught in nanosleep(): it sleeps 1 s at a time with SIGTERM
 * blocked, so nothing may interrupt a sleep.  Every nanosleep() must return
 * 0 after at least its full time, also the one the checkpoint interrupted
 * (-ERESTART_RESTARTBLOCK: the restore must restart it, not return EINTR
 * or the raw error).  A sleep this long also means that after a dump -R
 * the task is still inside the kernel's restart_syscall when the next dump
 * comes (mode two-dumps), which must restart just as well.  Once SIGTERM
 * is pending it is unblocked and must reach the handler. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "test.h"

#define SLEEP_NS	(1000 * 1000 * 1000L)

int main(int argc, char **argv)
{
	struct timespec req = { .tv_sec = SLEEP_NS / 1000000000L };
	sigset_t term, pending;
	int sleeps = 0;

	test_init(argc, argv);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &term, NULL))
		fail("sigprocmask: %s", strerror(errno));
	test_ready();
	for (;;) {
		uint64_t t0 = test_now_ns(), slept;
		int ret = nanosleep(&req, NULL);

		if (ret)
			fail("nanosleep #%d returned %d, errno %d (%s)", sleeps, ret, errno,
			     strerror(errno));
		slept = test_now_ns() - t0;
		if (slept < SLEEP_NS)
			fail("nanosleep #%d returned after %lu ns, asked for %ld", sleeps,
			     (unsigned long)slept, SLEEP_NS);
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
