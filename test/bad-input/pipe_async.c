/* A target lmproc cannot dump: a pipe at fds 5 and 6 whose write end is
 * in packet mode (O_DIRECT) with O_ASYNC set too (SIGIO to the process
 * when there is room), with bytes in it.  It counts until SIGTERM, then
 * checks that the write end still has both flags and its owner, and that
 * the pipe still holds its bytes: a refused dump must leave it running
 * exactly as before. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	char buf[8];
	int p[2], fl;

	test_init(argc, argv);
	signal(SIGIO, SIG_IGN);
	if (pipe2(p, O_DIRECT) || dup2(p[0], 5) != 5 || dup2(p[1], 6) != 6)
		fail("pipe: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	fl = fcntl(6, F_GETFL);
	if (fl < 0 || fcntl(6, F_SETOWN, getpid()) || fcntl(6, F_SETFL, fl | O_ASYNC))
		fail("O_ASYNC on the pipe: %s", strerror(errno));
	if (write(6, "bytes", 5) != 5)
		fail("write to the pipe: %s", strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	fl = fcntl(6, F_GETFL);
	if (!(fl & O_ASYNC) || !(fl & O_DIRECT) || fcntl(6, F_GETOWN) != getpid())
		fail("the pipe's write end lost O_ASYNC, O_DIRECT or its owner");
	if (read(5, buf, sizeof(buf)) != 5 || memcmp(buf, "bytes", 5))
		fail("the pipe no longer holds its 5 bytes");
	pass();
}
