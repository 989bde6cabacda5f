/* Signal-driven I/O on pipes and a FIFO: after the restore each end has
 * its owner (F_GETOWN_EX), signal (F_GETSIG) and O_ASYNC back, the
 * restore sent no signal of its own (it refilled the pipes), and I/O on
 * each end signals its owner with the end's fd in the siginfo:
 *   A  read end O_ASYNC, the process's group as owner (F_OWNER_PGRP),
 *      F_SETSIG(SIGRTMIN + 5): data written gives POLL_IN; 3 bytes queued
 *   B  one page large and full, write end O_ASYNC with the process as
 *      owner, F_SETSIG(SIGRTMIN + 6): reading the page gives POLL_OUT
 *   C  a FIFO's read end O_ASYNC, the process as owner, SIGIO; 2 bytes
 *      queued */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define WAIT_S 10
#define B_SIZE 4096

struct fown {
	int fd;
	struct f_owner_ex owner;
	int sig;
	int fl;
};

static int a[2], b[2], c_rd, c_wr;
static int sig_a, sig_b;
static char page[B_SIZE];

static void save(struct fown *s, int fd)
{
	s->fd = fd;
	s->fl = fcntl(fd, F_GETFL);
	s->sig = fcntl(fd, F_GETSIG);
	if (s->fl < 0 || s->sig < 0 || fcntl(fd, F_GETOWN_EX, &s->owner))
		fail("fd %d: %s", fd, strerror(errno));
}

static void check(const struct fown *s)
{
	struct fown now;

	save(&now, s->fd);
	if (now.fl != s->fl)
		fail("fd %d: flags 0%o, were 0%o", s->fd, now.fl, s->fl);
	if (now.owner.type != s->owner.type || now.owner.pid != s->owner.pid)
		fail("fd %d: owner type %d id %d, was type %d id %d", s->fd, now.owner.type,
		     now.owner.pid, s->owner.type, s->owner.pid);
	if (now.sig != s->sig)
		fail("fd %d: signal %d, was %d", s->fd, now.sig, s->sig);
}

static void set_owner(int fd, int type, pid_t pid, int sig)
{
	struct f_owner_ex o = { type, pid };
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETOWN_EX, &o) || (sig && fcntl(fd, F_SETSIG, sig)) ||
	    fcntl(fd, F_SETFL, fl | O_ASYNC))
		fail("signal-driven I/O on fd %d: %s", fd, strerror(errno));
}

static sigset_t all_async(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGIO);
	sigaddset(&s, sig_a);
	sigaddset(&s, sig_b);
	return s;
}

static siginfo_t take(int sig, const char *what)
{
	struct timespec ts = { WAIT_S, 0 };
	siginfo_t si;
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	if (sigtimedwait(&s, &si, &ts) != sig)
		fail("%s: no signal %d (%s)", what, sig, strerror(errno));
	return si;
}

static void expect_info(int sig, int fd, int code, const char *what)
{
	siginfo_t si = take(sig, what);

	if (si.si_fd != fd || si.si_code != code)
		fail("%s: signal %d names fd %d code %d, not fd %d code %d", what, sig, si.si_fd,
		     si.si_code, fd, code);
}

static void no_signal_pending(const char *when)
{
	sigset_t s, all = all_async();

	if (sigpending(&s))
		fail("sigpending: %s", strerror(errno));
	for (int sig = 1; sig < 65; sig++)
		if (sigismember(&all, sig) && sigismember(&s, sig))
			fail("signal %d pending %s", sig, when);
}

static void xwrite(int fd, const void *p, size_t len)
{
	if (write(fd, p, len) != (ssize_t)len)
		fail("write fd %d: %s", fd, strerror(errno));
}

static void xread(int fd, const char *want, size_t len, const char *what)
{
	char buf[16];

	if (read(fd, buf, len) != (ssize_t)len || memcmp(buf, want, len))
		fail("%s: not the %zu bytes expected", what, len);
}

/* I/O on each end: its owner gets its signal (each taken here). */
static void check_signals(const char *when)
{
	xwrite(a[1], "x", 1);
	expect_info(sig_a, a[0], POLL_IN, "A's read end");
	xread(a[0], "x", 1, "A");
	if (read(b[0], page, B_SIZE) != B_SIZE)
		fail("%s: B: %s", when, strerror(errno));
	expect_info(sig_b, b[1], POLL_OUT, "B's write end");
	xwrite(b[1], page, B_SIZE);
	xwrite(c_wr, "y", 1);
	take(SIGIO, "the FIFO's read end");
	xread(c_rd, "y", 1, "the FIFO");
	no_signal_pending(when);
}

static void build(void)
{
	char path[256];

	if (getpgid(0) != getpid() && setpgid(0, 0))
		fail("setpgid: %s", strerror(errno));
	if (pipe(a) || pipe2(b, O_NONBLOCK))
		fail("pipe: %s", strerror(errno));
	if (fcntl(b[1], F_SETPIPE_SZ, B_SIZE) != B_SIZE)
		fail("F_SETPIPE_SZ: %s", strerror(errno));
	xwrite(b[1], page, B_SIZE);
	test_path(path, sizeof(path), "fifo");
	if (mkfifo(path, 0600) && errno != EEXIST)
		fail("mkfifo %s: %s", path, strerror(errno));
	c_rd = open(path, O_RDONLY | O_NONBLOCK);
	c_wr = open(path, O_WRONLY);
	if (c_rd < 0 || c_wr < 0)
		fail("open %s: %s", path, strerror(errno));
	set_owner(a[0], F_OWNER_PGRP, getpgid(0), sig_a);
	set_owner(b[1], F_OWNER_PID, getpid(), sig_b);
	set_owner(c_rd, F_OWNER_PID, getpid(), 0);
}

int main(int argc, char **argv)
{
	struct fown st[3];
	sigset_t s;

	test_init(argc, argv);
	sig_a = SIGRTMIN + 5;
	sig_b = SIGRTMIN + 6;
	s = all_async();
	if (sigprocmask(SIG_BLOCK, &s, NULL))
		fail("sigprocmask: %s", strerror(errno));
	build();
	check_signals("before the checkpoint");
	xwrite(a[1], "abc", 3);
	take(sig_a, "A's read end for the queued bytes");
	xwrite(c_wr, "zz", 2);
	take(SIGIO, "the FIFO for its queued bytes");
	save(&st[0], a[0]);
	save(&st[1], b[1]);
	save(&st[2], c_rd);

	test_waitsig();

	for (int i = 0; i < 3; i++)
		check(&st[i]);
	no_signal_pending("after the restore, before any I/O");
	xread(a[0], "abc", 3, "A's queued bytes");
	xread(c_rd, "zz", 2, "the FIFO's queued bytes");
	check_signals("after the restore");
	pass();
}
