/* A target holding on fd 5 a pidfd of its parent, a process outside the
 * tree, which lmproc refuses naming the pid: it counts until SIGTERM,
 * then checks that the pidfd still names its parent. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	char info[1024], want[32];
	int f;

	test_init(argc, argv);
	f = syscall(SYS_pidfd_open, getppid(), 0);
	if (f < 0 || dup2(f, 5) != 5)
		fail("pidfd of the parent at fd 5: %s", strerror(errno));
	close(f);
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	test_read_fdinfo(5, info, sizeof(info));
	snprintf(want, sizeof(want), "\nPid:\t%d\n", getppid());
	if (!strstr(info, want))
		fail("fd 5 no longer names the parent %d: %s", getppid(), info);
	pass();
}
