/* /dev/tty standing for a pty of the tree, as an interactive dash under
 * tmux holds it: the root holds a pty's master; its child C starts a
 * session with the slave as its terminal (fd 0), opens /dev/tty as fd 10
 * (close-on-exec) and dups it to fd 11 (not), then forks G, which keeps
 * only fd 10 of it: one open file description in two fds and two
 * processes.  After the restore C checks that fds 10 and 11 are /dev/tty
 * (rdev 5:0) with their open and fd flags, that the terminal they stand
 * for is its session's with its group in front, and writes "c2m" through
 * fd 11; G sets O_NONBLOCK through its fd 10, which C then sees on its own
 * fd 10 (the same description), and writes "g2m"; the root reads both at
 * the master and collects the reports. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "test.h"
#include "tree-child.h"

#define LEVEL_C 1
#define LEVEL_G 2

static int go_pipe[2], ready_pipe[2], c2g[2], g2c[2];

static bool read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n <= 0)
			return false;
		got += n;
	}
	return true;
}

static bool is_dev_tty(int fd, int fd_flags)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	return !fstat(fd, &st) && S_ISCHR(st.st_mode) && st.st_rdev == makedev(5, 0) && fl >= 0 &&
	       (fl & O_ACCMODE) == O_RDWR && !(fl & O_NONBLOCK) && fcntl(fd, F_GETFD) == fd_flags;
}

static void g_body(void)
{
	struct tree_ids before;
	char c;

	tree_fill(LEVEL_G);
	tree_save_ids(&before);
	if (write(ready_pipe[1], "g", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	if (!tree_check_self(LEVEL_G, &before))
		_exit(0);
	/* C has checked its flags: O_NONBLOCK is G's doing from now on. */
	if (read(c2g[0], &c, 1) != 1 || fcntl(10, F_SETFL, O_RDWR | O_NONBLOCK) ||
	    write(g2c[1], "n", 1) != 1) {
		tree_report(LEVEL_G, 0, "F_SETFL on /dev/tty: %s", strerror(errno));
		_exit(0);
	}
	if (read(c2g[0], &c, 1) != 0 || write(10, "g2m", 3) != 3)
		tree_report(LEVEL_G, 0, "write through /dev/tty: %s", strerror(errno));
	else
		tree_report(LEVEL_G, 1, "ok");
	_exit(0);
}

/* Through /dev/tty: its session's terminal, its group in front. */
static bool c_check(void)
{
	pid_t sid = 0, pgrp = 0;

	if (!is_dev_tty(10, FD_CLOEXEC) || !is_dev_tty(11, 0)) {
		tree_report(LEVEL_C, 0, "fd 10 or 11 is not /dev/tty with its flags");
		return false;
	}
	if (ioctl(11, TIOCGSID, &sid) || ioctl(10, TIOCGPGRP, &pgrp) || sid != getpid() ||
	    pgrp != getpgrp()) {
		tree_report(LEVEL_C, 0, "/dev/tty: session %d, group %d in front: %s", sid, pgrp,
			    strerror(errno));
		return false;
	}
	if (write(11, "c2m", 3) != 3) {
		tree_report(LEVEL_C, 0, "write through /dev/tty: %s", strerror(errno));
		return false;
	}
	return true;
}

static void c_body(const char *name)
{
	struct tree_ids before;
	int slave, tty;
	bool ok;
	char c;
	pid_t g;

	slave = open(name, O_RDWR | O_NOCTTY);
	if (setsid() < 0 || slave < 0 || ioctl(slave, TIOCSCTTY, 0) || dup2(slave, 0) < 0)
		_exit(2);
	close(slave);
	tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (tty < 0 || dup3(tty, 10, O_CLOEXEC) < 0 || dup2(10, 11) < 0)
		_exit(3);
	close(tty);
	if (pipe(c2g) || pipe(g2c))
		_exit(3);
	g = fork();
	if (g == 0) {
		close(11);
		close(c2g[1]);
		close(g2c[0]);
		g_body();
	}
	if (g < 0)
		_exit(3);
	/* A G that dies unblocks C (EOF), and the other way round. */
	close(c2g[0]);
	close(g2c[1]);
	tree_fill(LEVEL_C);
	tree_save_ids(&before);
	if (write(ready_pipe[1], "c", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	ok = tree_check_self(LEVEL_C, &before) && c_check();
	if (write(c2g[1], "f", 1) != 1 || read(g2c[0], &c, 1) != 1) {
		if (ok)
			tree_report(LEVEL_C, 0, "G did not set O_NONBLOCK");
	} else if (ok &&
		   (!(fcntl(10, F_GETFL) & O_NONBLOCK) || !(fcntl(11, F_GETFL) & O_NONBLOCK))) {
		tree_report(LEVEL_C, 0, "G's O_NONBLOCK did not show on C's /dev/tty");
	} else if (ok) {
		tree_report(LEVEL_C, 1, "ok");
	}
	/* G writes after C's bytes, then C waits for it. */
	close(c2g[1]);
	waitpid(g, NULL, 0);
	_exit(0);
}

int main(int argc, char **argv)
{
	char buf[4], name[64];
	struct termios t;
	pid_t c_pid;
	int master, st;

	test_init(argc, argv);
	tree_seed = test_seed();
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) || unlockpt(master) || !ptsname(master) ||
	    tcgetattr(master, &t))
		fail("pty: %s", strerror(errno));
	cfmakeraw(&t);
	if (tcsetattr(master, TCSANOW, &t))
		fail("raw: %s", strerror(errno));
	snprintf(name, sizeof(name), "%s", ptsname(master));
	if (pipe(go_pipe) || pipe(ready_pipe) || pipe(tree_res_pipe))
		fail("pipe: %s", strerror(errno));
	c_pid = fork();
	if (c_pid == 0) {
		close(master);
		c_body(name);
	}
	if (c_pid < 0 || !read_all(ready_pipe[0], buf, 2))
		fail("C and G did not start: %s", strerror(errno));
	tree_fill(0);
	test_waitsig();

	if (tree_check_pattern(0) >= 0)
		fail("root memory differs");
	if (write(go_pipe[1], "gg", 2) != 2)
		fail("wake the children: %s", strerror(errno));
	tree_collect(2);
	if (!read_all(master, buf, 3) || memcmp(buf, "c2m", 3))
		fail("C's bytes did not come through /dev/tty to the master");
	if (!read_all(master, buf, 3) || memcmp(buf, "g2m", 3))
		fail("G's bytes did not come through /dev/tty to the master");
	if (waitpid(c_pid, &st, 0) != c_pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("C ended with status 0x%x", st);
	pass();
}
