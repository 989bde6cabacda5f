/* A pty pair split between two processes, as a terminal emulator and its
 * shell hold it: the root holds the master (fd 3), its child the slave
 * (and nothing else of the pair), and the child has written a byte the
 * root has not read: queued at the master, which nothing can read without
 * taking it.  A dump must refuse it naming the root and its fd; both keep
 * running, and after SIGTERM the root checks that the byte is still there
 * and that bytes still go from the master to the child's slave. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	int master, report[2], st, queued = 0;
	char c = 0;
	pid_t pid;

	test_init(argc, argv);
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) || unlockpt(master) || pipe(report))
		fail("pty: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
		struct termios t;

		close(master);
		if (slave < 0 || tcgetattr(slave, &t))
			_exit(2);
		cfmakeraw(&t);
		if (tcsetattr(slave, TCSANOW, &t) || write(slave, "q", 1) != 1 ||
		    write(report[1], "r", 1) != 1)
			_exit(2);
		/* One byte from the master, after the refused dumps. */
		if (read(slave, &c, 1) != 1 || write(report[1], &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	if (pid < 0 || read(report[0], &c, 1) != 1)
		fail("child: %s", strerror(errno));
	while (!queued)
		if (ioctl(master, TIOCINQ, &queued))
			fail("TIOCINQ: %s", strerror(errno));
	/* Busy: the runner checks that the refused dumps left it running. */
	test_ready();
	while (test_go())
		counter++;
	if (read(master, &c, 1) != 1 || c != 'q')
		fail("the queued byte is gone (got %d)", c);
	if (write(master, "x", 1) != 1 || read(report[0], &c, 1) != 1 || c != 'x')
		fail("the child did not get the byte through the pty (got %d)", c);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child ended with status 0x%x", st);
	pass();
}
