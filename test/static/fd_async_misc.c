/* Signal-driven I/O on the other kinds that take O_ASYNC: after the
 * restore each has its owner (F_GETOWN_EX), signal (F_GETSIG) and O_ASYNC
 * back, the restore sent no signal of its own, and I/O on it signals its
 * owner with the fd in the siginfo:
 *   S  a pty slave (raw mode), the process as owner, F_SETSIG(SIGRTMIN
 *      + 7): a byte written to the master gives POLL_IN
 *   M  its master, O_ASYNC with no owner (a terminal takes one when
 *      O_ASYNC comes without: cleared after), F_SETSIG(SIGRTMIN + 8)
 *   U  a UDP socket on 127.0.0.1, the process as owner, F_SETSIG(SIGRTMIN
 *      + 9): a datagram gives POLL_IN
 *   I  an inotify instance watching the test's directory, the process as
 *      owner, F_SETSIG(SIGRTMIN + 10): a file made there gives POLL_IN */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "test.h"

#define WAIT_S 10

enum { S, M, U, I, NR };

static const char *const names[NR] = { "S", "M", "U", "I" };

struct fown {
	int fd;
	struct f_owner_ex owner;
	int sig;
	int fl;
};

static int fds[NR], sigs[NR], sender;
static struct sockaddr_in u_addr;
static char dir[200];

static void save(struct fown *s, int fd)
{
	s->fd = fd;
	s->fl = fcntl(fd, F_GETFL);
	s->sig = fcntl(fd, F_GETSIG);
	if (s->fl < 0 || s->sig < 0 || fcntl(fd, F_GETOWN_EX, &s->owner))
		fail("fd %d: %s", fd, strerror(errno));
}

static void check(const struct fown *s, const char *name)
{
	struct fown now;

	save(&now, s->fd);
	if (now.fl != s->fl)
		fail("%s: flags 0%o, were 0%o", name, now.fl, s->fl);
	if (now.owner.type != s->owner.type || now.owner.pid != s->owner.pid)
		fail("%s: owner type %d id %d, was type %d id %d", name, now.owner.type,
		     now.owner.pid, s->owner.type, s->owner.pid);
	if (now.sig != s->sig)
		fail("%s: signal %d, was %d", name, now.sig, s->sig);
}

static void set_async(int i, pid_t owner)
{
	int fl = fcntl(fds[i], F_GETFL);

	if (fl < 0 || fcntl(fds[i], F_SETOWN, owner) || fcntl(fds[i], F_SETSIG, sigs[i]) ||
	    fcntl(fds[i], F_SETFL, fl | O_ASYNC) || (!owner && fcntl(fds[i], F_SETOWN, 0)))
		fail("signal-driven I/O on %s: %s", names[i], strerror(errno));
}

static void no_signal_pending(const char *when)
{
	sigset_t s;

	if (sigpending(&s))
		fail("sigpending: %s", strerror(errno));
	for (int i = 0; i < NR; i++)
		if (sigismember(&s, sigs[i]) || sigismember(&s, SIGIO))
			fail("%s's signal pending %s", names[i], when);
}

static void expect(int i, const char *when)
{
	struct timespec ts = { WAIT_S, 0 };
	siginfo_t si;
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sigs[i]);
	if (sigtimedwait(&s, &si, &ts) != sigs[i])
		fail("%s: %s: no signal %d (%s)", when, names[i], sigs[i], strerror(errno));
	if (si.si_fd != fds[i] || si.si_code != POLL_IN)
		fail("%s: %s's signal names fd %d code %d, not fd %d code %d", when, names[i],
		     si.si_fd, si.si_code, fds[i], POLL_IN);
}

static void drain(int fd, const char *name)
{
	char buf[4096];

	if (read(fd, buf, sizeof(buf)) <= 0)
		fail("%s: nothing to read: %s", name, strerror(errno));
}

static void check_signals(const char *when)
{
	char path[256];
	int fd;

	if (write(fds[M], "x", 1) != 1)
		fail("write to the pty master: %s", strerror(errno));
	expect(S, when);
	drain(fds[S], "S");
	if (sendto(sender, "u", 1, 0, (struct sockaddr *)&u_addr, sizeof(u_addr)) != 1)
		fail("sendto: %s", strerror(errno));
	expect(U, when);
	drain(fds[U], "U");
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	if (fd < 0)
		fail("create %s: %s", path, strerror(errno));
	close(fd);
	/* Gone again: a copy left running makes the same name. */
	if (unlink(path))
		fail("unlink %s: %s", path, strerror(errno));
	expect(I, when);
	drain(fds[I], "I");
	no_signal_pending(when);
}

static void open_pty(void)
{
	struct termios t;

	fds[M] = posix_openpt(O_RDWR | O_NOCTTY);
	if (fds[M] < 0 || grantpt(fds[M]) || unlockpt(fds[M]))
		fail("pty: %s", strerror(errno));
	fds[S] = open(ptsname(fds[M]), O_RDWR | O_NOCTTY);
	if (fds[S] < 0 || tcgetattr(fds[S], &t))
		fail("pty slave: %s", strerror(errno));
	cfmakeraw(&t);
	if (tcsetattr(fds[S], TCSANOW, &t))
		fail("tcsetattr: %s", strerror(errno));
}

static void build(void)
{
	socklen_t len = sizeof(u_addr);

	open_pty();
	fds[U] = socket(AF_INET, SOCK_DGRAM, 0);
	sender = socket(AF_INET, SOCK_DGRAM, 0);
	u_addr.sin_family = AF_INET;
	u_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fds[U] < 0 || sender < 0 || bind(fds[U], (struct sockaddr *)&u_addr, len) ||
	    getsockname(fds[U], (struct sockaddr *)&u_addr, &len))
		fail("udp: %s", strerror(errno));
	test_path(dir, sizeof(dir), "watched");
	if (mkdir(dir, 0700) && errno != EEXIST)
		fail("mkdir %s: %s", dir, strerror(errno));
	fds[I] = inotify_init1(IN_NONBLOCK);
	if (fds[I] < 0 || inotify_add_watch(fds[I], dir, IN_CREATE) < 0)
		fail("inotify: %s", strerror(errno));
	set_async(S, getpid());
	set_async(M, 0);
	set_async(U, getpid());
	set_async(I, getpid());
}

int main(int argc, char **argv)
{
	struct fown st[NR];
	sigset_t s;

	test_init(argc, argv);
	sigs[S] = SIGRTMIN + 7;
	sigs[M] = SIGRTMIN + 8;
	sigs[U] = SIGRTMIN + 9;
	sigs[I] = SIGRTMIN + 10;
	sigemptyset(&s);
	sigaddset(&s, SIGIO);
	for (int i = 0; i < NR; i++)
		sigaddset(&s, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &s, NULL))
		fail("sigprocmask: %s", strerror(errno));
	build();
	check_signals("before the checkpoint");
	for (int i = 0; i < NR; i++)
		save(&st[i], fds[i]);

	test_waitsig();

	for (int i = 0; i < NR; i++)
		check(&st[i], names[i]);
	no_signal_pending("after the restore, before any I/O");
	check_signals("after the restore");
	pass();
}
