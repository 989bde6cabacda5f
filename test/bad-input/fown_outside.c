/* A target lmproc cannot dump: a unix socket at fd 7 whose owner for
 * signal-driven I/O (F_SETOWN) is the target's parent, outside the
 * tree (no O_ASYNC: nothing can signal it).  It counts until SIGTERM,
 * then checks that the owner is still its parent: a refused dump must
 * leave it running exactly as before. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	pid_t parent;
	int sp[2];

	test_init(argc, argv);
	parent = getppid();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || dup2(sp[0], 7) != 7)
		fail("socketpair: %s", strerror(errno));
	close(sp[0]);
	if (fcntl(7, F_SETOWN, parent))
		fail("F_SETOWN %d: %s", parent, strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (fcntl(7, F_GETOWN) != parent)
		fail("fd 7's owner is %d, not its parent %d", fcntl(7, F_GETOWN), parent);
	pass();
}
