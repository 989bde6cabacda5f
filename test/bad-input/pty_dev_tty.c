/* A shell under a terminal multiplexer (tmux, screen): the root holds a
 * pty's master (fd 3); its child C starts a session with the slave as its
 * controlling terminal (its fd 0) and opens /dev/tty as fd 10, as dash
 * does for job control.  /dev/tty stands for the tree's own pty there: it
 * is dumped and restored as /dev/tty of the new pty, and after SIGTERM C
 * still reads through it what the master writes.  With PTY_DEV_TTY_LEFT
 * set, C's child D leaves the session (setsid) keeping fd 10: it stands
 * for no terminal of D's, which can't be made again (refused). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "test.h"

/* D, out of C's session with C's /dev/tty, until C ends. */
static int d_leaves(int report)
{
	int left[2];
	char c;
	pid_t d;

	if (pipe(left))
		return -1;
	d = fork();
	if (d)
		return d < 0 || read(left[0], &c, 1) != 1;
	close(report);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1 || setsid() < 0 ||
	    write(left[1], "d", 1) != 1)
		_exit(2);
	for (;;)
		pause();
}

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
	if (getenv("PTY_DEV_TTY_LEFT") && d_leaves(report))
		_exit(3);
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
