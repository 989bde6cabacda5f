/* A shell under a terminal multiplexer (tmux, screen): the root holds a
 * pty's master (fd 3); its child C starts a session with the slave as its
 * controlling terminal (its fd 0) and opens /dev/tty as fd 10, as sh and
 * bash do for job control.  /dev/tty stands for the tree's own pty there,
 * so a dump is refused, with --shell-job too (which would put lmproc's
 * terminal in its place), naming C, fd 10, the pty and the root; the tree
 * runs on and, after SIGTERM, C still reads through /dev/tty what the
 * master writes. */
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
	int slave = open(name, O_RDWR | O_NOCTTY), tty;
	char c = 0;

	if (setsid() < 0 || slave < 0 || ioctl(slave, TIOCSCTTY, 0) || dup2(slave, 0) < 0)
		_exit(2);
	close(slave);
	tty = open("/dev/tty", O_RDWR);
	if (tty < 0 || dup2(tty, 10) < 0 || write(report, "r", 1) != 1)
		_exit(3);
	close(tty);
	/* One byte from the master, after the refused dumps. */
	if (read(10, &c, 1) != 1 || write(report, &c, 1) != 1)
		_exit(4);
	_exit(0);
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
	    tcgetattr(master, &t) || dup2(master, 3) < 0)
		fail("pty: %s", strerror(errno));
	if (master != 3)
		close(master);
	master = 3;
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
		fail("C did not get the byte through /dev/tty (got %d)", c);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child ended with status 0x%x", st);
	pass();
}
