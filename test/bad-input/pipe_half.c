/* A pipe whose read end is gone (as when a shell's consumer outside the
 * tree ends, or is simply not dumped): only the write end is held, at fd
 * 7.  Restore makes a new pipe, says so naming pid and fd, and the write
 * end behaves as before: writing fails with EPIPE.  With PIPE_HALF_INHERIT
 * in the environment the restore gives it a pipe of lmproc's
 * (--inherit-fd) instead, and "restored" written to fd 7 must reach it. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define WFD 7

int main(int argc, char **argv)
{
	int p[2];

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (pipe(p) || dup2(p[1], WFD) != WFD)
		fail("pipe: %s", strerror(errno));
	close(p[0]);
	if (p[1] != WFD)
		close(p[1]);
	if (write(WFD, "x", 1) != -1 || errno != EPIPE)
		fail("write before the checkpoint: not EPIPE");
	test_waitsig();

	if (getenv("PIPE_HALF_INHERIT")) {
		if (write(WFD, "restored\n", 9) != 9)
			fail("write into the inherited pipe: %s", strerror(errno));
	} else if (write(WFD, "x", 1) != -1 || errno != EPIPE) {
		fail("write after the restore: %s", strerror(errno));
	}
	pass();
}
