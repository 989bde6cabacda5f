/* A pty pair split as script(1) or a terminal emulator leaves it: the
 * root holds the master only (raw termios of its own, 9600 baud, VINTR ^P,
 * a window size); its child C starts a session with the slave as its
 * controlling terminal (setsid + TIOCSCTTY) and as its stdin, stdout and
 * stderr, and holds nothing else of the pair; C's child G leads a process
 * group that C puts in front of the terminal (a shell's job).  After the
 * restore (maybe as another pty number): the root checks through the
 * master that the terminal's session is C's and its foreground group G's,
 * that C's tty_nr in /proc is the slave's device, the termios and window
 * size; C checks its ids and that its terminal is its fd 0 (ttyname,
 * tcgetsid, tcgetpgrp, tty_nr), with the same termios; G, the foreground
 * job, reads what the root writes at the master and answers, and the root
 * reads the answer. */
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
static struct termios want;
static const struct winsize want_ws = { 41, 97, 333, 222 };

static bool same_termios(const struct termios *t)
{
	return t->c_iflag == want.c_iflag && t->c_oflag == want.c_oflag &&
	       t->c_cflag == want.c_cflag && t->c_lflag == want.c_lflag &&
	       !memcmp(t->c_cc, want.c_cc, sizeof(want.c_cc));
}

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
	/* ") S ppid pgrp session tty_nr" */
	for (int field = 2; p && field < 7; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoul(p + 1, NULL, 10) : 0;
}

/* Exactly LEN bytes from FD into BUF. */
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

/* C's view of its terminal: who leads it, who is in front, which device. */
struct ctty_view {
	pid_t sid, fg;
	dev_t rdev;
};

static bool view_ctty(struct ctty_view *v)
{
	const char *name = ttyname(0);
	struct stat st, nst;

	if (!name || fstat(0, &st) || stat(name, &nst) || nst.st_rdev != st.st_rdev ||
	    tty_nr_of(getpid()) != st.st_rdev)
		return false;
	v->sid = tcgetsid(0);
	v->fg = tcgetpgrp(0);
	v->rdev = st.st_rdev;
	return v->sid > 0 && v->fg > 0;
}

static void c_check(const struct tree_ids *before, const struct ctty_view *was)
{
	struct ctty_view now;
	struct termios t;

	if (!tree_check_self(LEVEL_C, before))
		return;
	if (!view_ctty(&now)) {
		tree_report(LEVEL_C, 0, "fd 0 is not its terminal (ttyname, tty_nr): %s",
			    strerror(errno));
		return;
	}
	if (now.sid != was->sid || now.fg != was->fg) {
		tree_report(LEVEL_C, 0, "terminal's session %d, foreground %d; were %d, %d",
			    now.sid, now.fg, was->sid, was->fg);
		return;
	}
	if (tcgetattr(0, &t) || !same_termios(&t)) {
		tree_report(LEVEL_C, 0, "termios of its terminal differ");
		return;
	}
	tree_report(LEVEL_C, 1, "ok");
}

/* G, the foreground job: echoes what comes, upper-cased, after the
 * restore. */
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
	if (!read_all(0, buf, 3) || memcmp(buf, "m2s", 3)) {
		tree_report(LEVEL_G, 0, "did not read m2s from its terminal");
		_exit(0);
	}
	if (write(1, "S2M", 3) != 3)
		tree_report(LEVEL_G, 0, "write to its terminal: %s", strerror(errno));
	else
		tree_report(LEVEL_G, 1, "ok");
	_exit(0);
}

static void c_body(const char *slave_name)
{
	struct tree_ids before;
	struct ctty_view was;
	int slave;
	pid_t g;
	char c;

	slave = open(slave_name, O_RDWR | O_NOCTTY);
	if (setsid() < 0 || slave < 0 || ioctl(slave, TIOCSCTTY, 0) || dup2(slave, 0) < 0 ||
	    dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		_exit(2);
	close(slave);
	g = fork();
	if (g == 0) {
		setpgid(0, 0);
		g_body();
	}
	if (g < 0 || setpgid(g, g) || tcsetpgrp(0, g))
		_exit(2);
	tree_fill(LEVEL_C);
	tree_save_ids(&before);
	if (!view_ctty(&was) || was.sid != getpid() || was.fg != g)
		_exit(2);
	if (write(ready_pipe[1], "c", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	c_check(&before, &was);
	/* Its end hangs up the terminal: G first. */
	waitpid(g, NULL, 0);
	_exit(0);
}

static void set_state(int master)
{
	if (tcgetattr(master, &want))
		fail("tcgetattr: %s", strerror(errno));
	cfmakeraw(&want);
	cfsetspeed(&want, B9600);
	want.c_cc[VINTR] = 'P' & 0x1f;
	want.c_cc[VMIN] = 1;
	want.c_cc[VTIME] = 0;
	if (tcsetattr(master, TCSANOW, &want) || ioctl(master, TIOCSWINSZ, &want_ws) ||
	    tcgetattr(master, &want))
		fail("set termios and window size: %s", strerror(errno));
}

/* The root's side: the terminal's session and foreground group, C's
 * terminal device, termios and window size, through the master. */
static void check_master(int master, pid_t c_pid, pid_t g_pid)
{
	struct termios t;
	struct winsize ws;
	struct stat st;
	pid_t sid, pgrp;
	const char *name = ptsname(master);

	if (ioctl(master, TIOCGSID, &sid) || ioctl(master, TIOCGPGRP, &pgrp))
		fail("the slave is nobody's terminal: %s", strerror(errno));
	if (sid != c_pid || pgrp != g_pid)
		fail("terminal of session %d with group %d in front; was %d, %d", sid, pgrp, c_pid,
		     g_pid);
	if (!name || stat(name, &st))
		fail("ptsname: %s", strerror(errno));
	if (tty_nr_of(c_pid) != st.st_rdev)
		fail("C's tty_nr is %lu, the slave %s is %lu", tty_nr_of(c_pid), name,
		     (unsigned long)st.st_rdev);
	if (tcgetattr(master, &t) || !same_termios(&t))
		fail("termios differ");
	if (ioctl(master, TIOCGWINSZ, &ws) || memcmp(&ws, &want_ws, sizeof(ws)))
		fail("window size %ux%u, was %ux%u", ws.ws_row, ws.ws_col, want_ws.ws_row,
		     want_ws.ws_col);
}

int main(int argc, char **argv)
{
	char name[64], buf[4];
	pid_t c_pid, g_pid;
	int master, st;

	test_init(argc, argv);
	tree_seed = test_seed();
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) || unlockpt(master) || !ptsname(master))
		fail("pty: %s", strerror(errno));
	snprintf(name, sizeof(name), "%s", ptsname(master));
	set_state(master);
	if (pipe(go_pipe) || pipe(ready_pipe) || pipe(tree_res_pipe))
		fail("pipe: %s", strerror(errno));
	c_pid = fork();
	if (c_pid == 0) {
		close(master);
		c_body(name);
	}
	if (c_pid < 0 || !read_all(ready_pipe[0], buf, 2))
		fail("C and G did not start: %s", strerror(errno));
	if (ioctl(master, TIOCGPGRP, &g_pid) || g_pid == c_pid)
		fail("no job in front of the terminal: %s", strerror(errno));
	tree_fill(0);
	test_waitsig();

	if (tree_check_pattern(0) >= 0)
		fail("root memory differs");
	check_master(master, c_pid, g_pid);
	if (write(go_pipe[1], "gg", 2) != 2 || write(master, "m2s", 3) != 3)
		fail("wake the children: %s", strerror(errno));
	if (!read_all(master, buf, 3) || memcmp(buf, "S2M", 3))
		fail("G's answer did not come through the master");
	tree_collect(2);
	if (waitpid(c_pid, &st, 0) != c_pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("C ended with status 0x%x", st);
	pass();
}
