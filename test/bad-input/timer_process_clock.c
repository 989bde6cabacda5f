/* A target lmproc cannot dump: a POSIX timer on the CPU clock of its
 * parent (clock_getcpuclockid + timer_create), a process outside the
 * dumped tree, armed; the parent's pid goes to DIR/clock.pid (a child's
 * clock, inside the tree, is restored: test/static/
 * posix_timers_child_cpu.c).  It counts until SIGTERM, then checks that
 * the timer still runs: a refused dump must leave it running as
 * before. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static void write_pid(pid_t pid)
{
	char path[4096], buf[32];
	int fd, n;

	test_path(path, sizeof(path), "clock.pid");
	n = snprintf(buf, sizeof(buf), "%d\n", pid);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, n) != n || close(fd))
		fail("write %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	struct itimerspec its = { .it_value = { .tv_sec = 3600 } }, left;
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	volatile unsigned long counter = 0;
	pid_t parent = getppid();
	clockid_t clock;
	timer_t timer;

	test_init(argc, argv);
	if (clock_getcpuclockid(parent, &clock) || timer_create(clock, &sev, &timer) ||
	    timer_settime(timer, 0, &its, NULL))
		fail("a timer on the parent's CPU clock: %s", strerror(errno));
	write_pid(parent);
	test_ready();
	while (test_go())
		counter++;
	if (timer_gettime(timer, &left) || (!left.it_value.tv_sec && !left.it_value.tv_nsec))
		fail("the timer on the parent's CPU clock is gone or disarmed");
	if (!counter)
		fail("the counter never ran");
	pass();
}
