/* A target lmproc cannot dump: an AIO context (io_setup) made before a
 * fork, whose ring mapping the child inherits without the context (its
 * io_getevents on it fails); the child's pid goes to DIR/child.pid.  The
 * parent counts until SIGTERM, then checks that its context still
 * answers, ends its child and reaps it: a refused dump must leave both
 * as before. */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
	volatile unsigned long counter = 0;
	aio_context_t ctx = 0;
	pid_t child;
	int st;

	test_init(argc, argv);
	if (syscall(SYS_io_setup, 8, &ctx))
		fail("io_setup: %s", strerror(errno));
	child = fork();
	if (child < 0)
		fail("fork: %s", strerror(errno));
	if (!child) {
		for (;;)
			pause();
	}
	write_pid(child);
	test_ready();
	while (test_go())
		counter++;
	if (syscall(SYS_io_getevents, ctx, 0, 0, NULL, NULL))
		fail("io_getevents on the context: %s", strerror(errno));
	kill(child, SIGKILL);
	if (waitpid(child, &st, 0) != child || !WIFSIGNALED(st))
		fail("the child did not end by SIGKILL");
	if (!counter)
		fail("the counter never ran");
	pass();
}
