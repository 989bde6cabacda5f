/* A session leader that holds only the master of its controlling
 * terminal, as a terminal multiplexer that made itself a session may: the
 * root forks C, which starts a session, opens a pty pair, takes the slave
 * as its terminal (TIOCSCTTY), forks G with the slave as stdin and stdout
 * in a group of its own, puts G's group in front and closes its slave:
 * C holds the master, G the slave.  After the restore C checks its ids and,
 * through the master, that the terminal is still its session's with G's
 * group in front, and that /proc gives it and G the slave as terminal; G,
 * the foreground job, reads what C writes at the master and answers; the
 * root collects both reports. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "test.h"
#include "tree-child.h"

#define LEVEL_C 1
#define LEVEL_G 2

static int go_pipe[2], ready_pipe[2];

/* The tty_nr field of /proc/PID/stat, 0 if unreadable. */
static unsigned long tty_nr_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = test_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 7; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoul(p + 1, NULL, 10) : 0;
}

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

static void g_body(void)
{
	struct tree_ids before;
	char buf[4], c;

	tree_fill(LEVEL_G);
	tree_save_ids(&before);
	if (write(ready_pipe[1], "g", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	if (!tree_check_self(LEVEL_G, &before))
		_exit(0);
	if (!read_all(0, buf, 3) || memcmp(buf, "c2g", 3)) {
		tree_report(LEVEL_G, 0, "did not read c2g from its terminal");
		_exit(0);
	}
	if (write(1, "G2C", 3) != 3)
		tree_report(LEVEL_G, 0, "write to its terminal: %s", strerror(errno));
	else
		tree_report(LEVEL_G, 1, "ok");
	_exit(0);
}

/* Through the master: the terminal's session, its foreground group and
 * the slave's device as C's and G's terminal in /proc. */
static bool c_check_terminal(int master, pid_t g)
{
	const char *name = ptsname(master);
	pid_t sid, pgrp;
	struct stat st;

	if (ioctl(master, TIOCGSID, &sid) || ioctl(master, TIOCGPGRP, &pgrp)) {
		tree_report(LEVEL_C, 0, "the slave is nobody's terminal: %s", strerror(errno));
		return false;
	}
	if (sid != getpid() || pgrp != g) {
		tree_report(LEVEL_C, 0, "terminal of session %d, group %d in front; was %d, %d",
			    sid, pgrp, getpid(), g);
		return false;
	}
	if (!name || stat(name, &st) || tty_nr_of(getpid()) != st.st_rdev ||
	    tty_nr_of(g) != st.st_rdev) {
		tree_report(LEVEL_C, 0, "C's or G's tty_nr is not the slave %s", name);
		return false;
	}
	return true;
}

static void c_body(void)
{
	struct tree_ids before;
	struct termios t;
	int master, slave;
	char buf[4], c;
	pid_t g;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (setsid() < 0 || master < 0 || grantpt(master) || unlockpt(master) ||
	    !ptsname(master) || tcgetattr(master, &t))
		_exit(2);
	cfmakeraw(&t);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	if (slave < 0 || tcsetattr(master, TCSANOW, &t) || ioctl(slave, TIOCSCTTY, 0))
		_exit(2);
	g = fork();
	if (g == 0) {
		close(master);
		setpgid(0, 0);
		if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0)
			_exit(2);
		close(slave);
		g_body();
	}
	if (g < 0 || setpgid(g, g) || tcsetpgrp(slave, g))
		_exit(2);
	close(slave);
	tree_fill(LEVEL_C);
	tree_save_ids(&before);
	if (write(ready_pipe[1], "c", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	if (tree_check_self(LEVEL_C, &before) && c_check_terminal(master, g)) {
		if (write(master, "c2g", 3) != 3 || !read_all(master, buf, 3) ||
		    memcmp(buf, "G2C", 3))
			tree_report(LEVEL_C, 0, "G's answer did not come through the master");
		else
			tree_report(LEVEL_C, 1, "ok");
	}
	/* Its end hangs up the terminal: G first. */
	waitpid(g, NULL, 0);
	_exit(0);
}

int main(int argc, char **argv)
{
	char buf[2];
	pid_t c_pid;
	int st;

	test_init(argc, argv);
	tree_seed = test_seed();
	if (pipe(go_pipe) || pipe(ready_pipe) || pipe(tree_res_pipe))
		fail("pipe: %s", strerror(errno));
	c_pid = fork();
	if (c_pid == 0)
		c_body();
	if (c_pid < 0 || !read_all(ready_pipe[0], buf, 2))
		fail("C and G did not start: %s", strerror(errno));
	tree_fill(0);
	test_waitsig();

	if (tree_check_pattern(0) >= 0)
		fail("root memory differs");
	if (write(go_pipe[1], "gg", 2) != 2)
		fail("wake the children: %s", strerror(errno));
	tree_collect(2);
	if (waitpid(c_pid, &st, 0) != c_pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("C ended with status 0x%x", st);
	pass();
}
