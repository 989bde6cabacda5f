/* A shell under a terminal multiplexer (tmux, screen): the root holds a
 * pty's master (fd 3); its child C starts a session with the slave as its
 * controlling terminal (its fd 0) and opens /dev/tty as fd 10, as dash
 * does for job control.  /dev/tty stands for the tree's own pty there: it
 * is dumped and restored as /dev/tty of the new pty, and after SIGTERM C
 * still reads through it what the master writes.  With PTY_DEV_TTY_LEFT
 * set, C's child D leaves the session (setsid) keeping fd 10: it stands
 * for no terminal of D's, which can't be made again (refused).  With
 * PTY_DEV_TTY_PASSED set, C passes fd 10 to the root (SCM_RIGHTS), which
 * keeps it at fd 11: the root, outside C's session, is dumped first
 * (refused). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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

/* SCM_RIGHTS of FD over SK. */
static int pass_fd(int sk, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = "f", .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sk, &mh, 0) == 1 ? 0 : -1;
}

static int take_fd(int sk)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sk, &mh, 0) != 1 || !(cm = CMSG_FIRSTHDR(&mh)) ||
	    cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static int sk_pair[2] = { -1, -1 };

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
	if (sk_pair[0] >= 0 && pass_fd(sk_pair[0], 10))
		_exit(3);
	if (sk_pair[0] >= 0) {
		close(sk_pair[0]);
		close(sk_pair[1]);
	}
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
	if (getenv("PTY_DEV_TTY_PASSED") && socketpair(AF_UNIX, SOCK_DGRAM, 0, sk_pair))
		fail("socketpair: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		close(master);
		c_body(name, report[1]);
	}
	if (pid < 0 || read(report[0], &c, 1) != 1)
		fail("child: %s", strerror(errno));
	if (sk_pair[0] >= 0) {
		int fd = take_fd(sk_pair[1]);

		if (fd < 0 || dup2(fd, 11) < 0)
			fail("C's /dev/tty did not come: %s", strerror(errno));
		close(fd);
		close(sk_pair[0]);
		close(sk_pair[1]);
	}
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
