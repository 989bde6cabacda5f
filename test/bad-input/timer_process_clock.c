/* A target lmproc cannot dump: a POSIX timer on the CPU clock of its
 * child (clock_getcpuclockid + timer_create), a process of the same
 * tree, armed; the child's pid goes to DIR/child.pid.  It counts until
 * SIGTERM, then checks that the timer still runs, ends its child and
 * reaps it: a refused dump must leave both running as before. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static void write_pid(pid_t child)
{
	char path[4096], buf[32];
	int fd, n;

	test_path(path, sizeof(path), "child.pid");
	n = snprintf(buf, sizeof(buf), "%d\n", child);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, n) != n || close(fd))
		fail("write %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	struct itimerspec its = { .it_value = { .tv_sec = 3600 } }, left;
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	volatile unsigned long counter = 0;
	clockid_t clock;
	timer_t timer;
	pid_t child;
	int st;

	test_init(argc, argv);
	child = fork();
	if (child < 0)
		fail("fork: %s", strerror(errno));
	if (!child) {
		for (;;)
			pause();
	}
	if (clock_getcpuclockid(child, &clock) || timer_create(clock, &sev, &timer) ||
	    timer_settime(timer, 0, &its, NULL))
		fail("a timer on the child's CPU clock: %s", strerror(errno));
	write_pid(child);
	test_ready();
	while (test_go())
		counter++;
	if (timer_gettime(timer, &left) || (!left.it_value.tv_sec && !left.it_value.tv_nsec))
		fail("the timer on the child's CPU clock is gone or disarmed");
	kill(child, SIGKILL);
	if (waitpid(child, &st, 0) != child || !WIFSIGNALED(st))
		fail("the child did not end by SIGKILL");
	if (!counter)
		fail("the counter never ran");
	pass();
}
