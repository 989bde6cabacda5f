/* A pty of the tree that is the controlling terminal of a session whose
 * leader holds no fd of it: the root holds the master (fd 3); its child C
 * starts a session with the slave as its terminal, forks G with the slave
 * as its stdin, and closes its own.  C can't take the terminal back at a
 * restore, so a dump must refuse naming the root, C's session and why;
 * the tree runs on, and after SIGTERM the root checks that G still reads
 * what the master writes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "test.h"

static void __attribute__((noreturn)) c_body(const char *name, int report)
{
	int slave = open(name, O_RDWR | O_NOCTTY), st;
	char c = 0;
	pid_t g;

	if (setsid() < 0 || slave < 0 || ioctl(slave, TIOCSCTTY, 0))
		_exit(2);
	g = fork();
	if (g == 0) {
		if (dup2(slave, 0) < 0 || write(report, "r", 1) != 1)
			_exit(2);
		/* One byte from the master, after the refused dumps. */
		if (read(0, &c, 1) != 1 || write(report, &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	close(slave);
	/* Its end would hang up the terminal: G first. */
	if (g < 0 || waitpid(g, &st, 0) != g)
		_exit(4);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 5);
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	int master, report[2], st;
	struct termios t;
	char c = 0, name[64];
	pid_t pid;

	test_init(argc, argv);
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) || unlockpt(master) || pipe(report) ||
	    tcgetattr(master, &t))
		fail("pty: %s", strerror(errno));
	cfmakeraw(&t);
	if (tcsetattr(master, TCSANOW, &t))
		fail("raw: %s", strerror(errno));
	if (!ptsname(master))
		fail("ptsname: %s", strerror(errno));
	snprintf(name, sizeof(name), "%s", ptsname(master));
	pid = fork();
	if (pid == 0) {
		close(master);
		c_body(name, report[1]);
	}
	if (pid < 0 || read(report[0], &c, 1) != 1)
		fail("child: %s", strerror(errno));
	/* Busy: the runner checks that the refused dumps left it running. */
	test_ready();
	while (test_go())
		counter++;
	if (write(master, "x", 1) != 1 || read(report[0], &c, 1) != 1 || c != 'x')
		fail("G did not get the byte through the pty (got %d)", c);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child ended with status 0x%x", st);
	pass();
}
