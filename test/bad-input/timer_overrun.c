/* A target whose POSIX timer's last signal came with an overrun count
 * (timer_getoverrun() not 0): a 1 ms periodic timer's SIGRTMIN is blocked
 * for 20 ms, then taken with sigwaitinfo(); it stays blocked, so no later
 * delivery changes the count.  The timer's id is in DIR/timer.id.  The
 * target counts until SIGTERM, then checks the count is unchanged. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL };
	struct itimerspec its = { .it_value = { .tv_nsec = 1000000 },
				  .it_interval = { .tv_nsec = 1000000 } };
	struct timespec gap = { .tv_nsec = 20000000 };
	volatile uint64_t counter = 0;
	char path[4096], buf[32];
	int overrun, fd, n;
	timer_t timer;
	siginfo_t si;
	sigset_t rt;

	test_init(argc, argv);
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN);
	sev.sigev_signo = SIGRTMIN;
	if (sigprocmask(SIG_BLOCK, &rt, NULL) || timer_create(CLOCK_MONOTONIC, &sev, &timer) ||
	    timer_settime(timer, 0, &its, NULL))
		fail("timer: %s", strerror(errno));
	nanosleep(&gap, NULL);
	if (sigwaitinfo(&rt, &si) != SIGRTMIN)
		fail("sigwaitinfo: %s", strerror(errno));
	overrun = timer_getoverrun(timer);
	if (overrun <= 0)
		fail("no overrun after 20 ms blocked: %d", overrun);
	test_path(path, sizeof(path), "timer.id");
	n = snprintf(buf, sizeof(buf), "%d\n", (int)(long)timer);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, n) != n || close(fd))
		fail("%s: %s", path, strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (timer_getoverrun(timer) != overrun)
		fail("overrun %d, was %d", timer_getoverrun(timer), overrun);
	pass();
}
