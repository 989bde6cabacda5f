/* A shell job: run by tools/ptyrun, it holds its terminal (the pty of its
 * session, not its own) at fds 3 and 4 (one open file description; the
 * library took fds 0-2).  It counts until SIGTERM, then checks that fds 3
 * and 4 are still one description of a terminal, and writes
 * "tty_job says bye" to it: restored with --shell-job, that is lmproc's
 * terminal. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	char tty[PATH_MAX] = "";
	const char *bye = "tty_job says bye\n";
	struct termios t;
	int fl;

	if (isatty(0) && ttyname_r(0, tty, sizeof(tty)))
		tty[0] = '\0';
	test_init(argc, argv);
	if (!tty[0])
		fail("stdin is not a terminal: run it under tools/ptyrun");
	if (open(tty, O_RDWR | O_NOCTTY) != 3 || dup2(3, 4) != 4)
		fail("open %s at fd 3: %s", tty, strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (!isatty(3) || !isatty(4) || tcgetattr(4, &t))
		fail("fds 3 and 4 are not a terminal: %s", strerror(errno));
	fl = fcntl(3, F_GETFL);
	if (fl < 0 || fcntl(3, F_SETFL, fl | O_NONBLOCK) || !(fcntl(4, F_GETFL) & O_NONBLOCK) ||
	    fcntl(3, F_SETFL, fl))
		fail("fds 3 and 4 are not one open file description");
	if (write(4, bye, strlen(bye)) != (ssize_t)strlen(bye))
		fail("write to the terminal: %s", strerror(errno));
	pass();
}
