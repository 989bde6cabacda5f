/* Signal-driven I/O on unix socket pairs: after the restore each socket
 * has its owner (F_GETOWN_EX), signal (F_GETSIG), the uids that set the
 * owner (F_GETOWNER_UIDS) and O_ASYNC back, the restore sent no signal
 * of its own, and I/O on it signals its owner:
 *   A  stream pair, nginx's master/worker channel: O_ASYNC on A0 with the
 *      process as owner (F_SETOWN), SIGIO; 5 bytes queued on A0
 *   B  seqpacket pair: O_ASYNC on B0 owned by thread T (F_OWNER_TID),
 *      F_SETSIG(SIGRTMIN + 2): T gets it, with si_fd and POLL_IN, and
 *      the rest of the process does not
 *   C  datagram pair: O_ASYNC on C0, the process as owner set while the
 *      effective uid was 65534 (F_GETOWNER_UIDS 0, 65534), F_SETSIG
 *      (SIGRTMIN + 3), dup'ed to a high fd (one description); a
 *      datagram queued on it
 *   D  stream pair: owner and F_SETSIG on D0 without O_ASYNC */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

#ifndef F_GETOWNER_UIDS
#define F_GETOWNER_UIDS 17
#endif

#define HIGH_FD 40
#define WAIT_S 10

struct fown {
	int fd;
	struct f_owner_ex owner;
	int sig;
	unsigned int uids[2];
	int fl;
};

static int a[2], b[2], c[2], d[2];
static int sig_b, sig_c, sig_d;
static pid_t t_tid;
static int t_go[2];
static volatile int t_got_sig, t_got_fd, t_got_code;

static void save(struct fown *s, int fd)
{
	s->fd = fd;
	s->uids[0] = s->uids[1] = ~0U;
	s->fl = fcntl(fd, F_GETFL);
	s->sig = fcntl(fd, F_GETSIG);
	if (s->fl < 0 || s->sig < 0 || fcntl(fd, F_GETOWN_EX, &s->owner) ||
	    fcntl(fd, F_GETOWNER_UIDS, s->uids))
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
	if (now.uids[0] != s->uids[0] || now.uids[1] != s->uids[1])
		fail("fd %d: owner set by uid %u euid %u, was %u %u", s->fd, now.uids[0],
		     now.uids[1], s->uids[0], s->uids[1]);
}

static void set_owner(int fd, int type, pid_t pid, int sig, bool async)
{
	struct f_owner_ex o = { type, pid };
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETOWN_EX, &o) || (sig && fcntl(fd, F_SETSIG, sig)) ||
	    (async && fcntl(fd, F_SETFL, fl | O_ASYNC)))
		fail("signal-driven I/O on fd %d: %s", fd, strerror(errno));
}

static sigset_t all_async(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGIO);
	sigaddset(&s, sig_b);
	sigaddset(&s, sig_c);
	sigaddset(&s, sig_d);
	return s;
}

static bool pending(int sig)
{
	sigset_t s;

	if (sigpending(&s))
		fail("sigpending: %s", strerror(errno));
	return sigismember(&s, sig);
}

/* Takes SIG, which must be pending (or come within WAIT_S seconds). */
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

static void no_signal_pending(const char *when)
{
	sigset_t s = all_async();

	for (int sig = 1; sig < 65; sig++)
		if (sigismember(&s, sig) && pending(sig))
			fail("signal %d pending %s", sig, when);
}

/* Thread T: owns B0; on each byte from t_go, takes sig_b. */
static void *thread_t(void *arg)
{
	char cmd;

	(void)arg;
	t_tid = syscall(SYS_gettid);
	while (read(t_go[0], &cmd, 1) == 1) {
		siginfo_t si = take(sig_b, "thread T");

		t_got_sig = si.si_signo;
		t_got_fd = si.si_fd;
		t_got_code = si.si_code;
		if (write(t_go[0], "k", 1) != 1)
			fail("thread T: %s", strerror(errno));
	}
	return NULL;
}

static void xwrite(int fd, const void *p, size_t len)
{
	if (write(fd, p, len) != (ssize_t)len)
		fail("write fd %d: %s", fd, strerror(errno));
}

/* Data into B1: T gets sig_b naming B0, the process not. */
static void check_thread_owner(const char *when)
{
	char k;

	t_got_sig = t_got_fd = t_got_code = 0;
	xwrite(b[1], "b", 1);
	xwrite(t_go[1], "g", 1);
	if (read(t_go[1], &k, 1) != 1)
		fail("thread T did not answer: %s", strerror(errno));
	if (t_got_sig != sig_b || t_got_fd != b[0] || t_got_code != POLL_IN)
		fail("%s: thread T got signal %d fd %d code %d, not %d fd %d code %d", when,
		     t_got_sig, t_got_fd, t_got_code, sig_b, b[0], POLL_IN);
	if (pending(sig_b))
		fail("%s: signal %d pending for the process too", when, sig_b);
	if (recv(b[0], &k, 1, 0) != 1 || k != 'b')
		fail("%s: B0 lost its message", when);
}

static void check_signals(const char *when)
{
	siginfo_t si;
	char buf[8];

	xwrite(a[1], "a", 1);
	take(SIGIO, "A0 (SIGIO)");
	check_thread_owner(when);
	xwrite(c[1], "c", 1);
	si = take(sig_c, "C0");
	if (si.si_fd != c[0] || si.si_code != POLL_IN)
		fail("%s: C0's signal names fd %d code %d, not %d %d", when, si.si_fd, si.si_code,
		     c[0], POLL_IN);
	xwrite(d[1], "d", 1);
	if (pending(sig_d))
		fail("%s: D0 without O_ASYNC signalled", when);
	if (recv(d[0], buf, sizeof(buf), 0) != 1 || recv(c[0], buf, sizeof(buf), 0) != 1 ||
	    recv(a[0], buf, 1, 0) != 1 || buf[0] != 'a')
		fail("%s: A0, C0 or D0 lost a message", when);
	no_signal_pending(when);
}

static void build(void)
{
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, b) ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, c) || socketpair(AF_UNIX, SOCK_STREAM, 0, d) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, t_go))
		fail("socketpair: %s", strerror(errno));
	if (pthread_create(&t, NULL, thread_t, NULL))
		fail("pthread_create");
	while (!__atomic_load_n(&t_tid, __ATOMIC_SEQ_CST))
		usleep(1000);
	set_owner(a[0], F_OWNER_PID, getpid(), 0, true);
	set_owner(b[0], F_OWNER_TID, t_tid, sig_b, true);
	if (setresuid(-1, 65534, -1))
		fail("seteuid 65534: %s", strerror(errno));
	set_owner(c[0], F_OWNER_PID, getpid(), sig_c, true);
	if (setresuid(-1, 0, -1))
		fail("seteuid 0: %s", strerror(errno));
	set_owner(d[0], F_OWNER_PID, getpid(), sig_d, false);
	if (dup2(c[0], HIGH_FD) != HIGH_FD)
		fail("dup2: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct fown st[5];
	sigset_t s;
	char buf[8];

	test_init(argc, argv);
	sig_b = SIGRTMIN + 2;
	sig_c = SIGRTMIN + 3;
	sig_d = SIGRTMIN + 4;
	s = all_async();
	if (sigprocmask(SIG_BLOCK, &s, NULL))
		fail("sigprocmask: %s", strerror(errno));
	build();
	check_signals("before the checkpoint");
	xwrite(a[1], "queue", 5);
	take(SIGIO, "A0 (SIGIO) for the queued bytes");
	xwrite(c[1], "q", 1);
	take(sig_c, "C0 for the queued datagram");
	save(&st[0], a[0]);
	save(&st[1], b[0]);
	save(&st[2], c[0]);
	save(&st[3], HIGH_FD);
	save(&st[4], d[0]);

	test_waitsig();

	for (int i = 0; i < 5; i++)
		check(&st[i]);
	no_signal_pending("after the restore, before any I/O");
	if (recv(a[0], buf, 5, MSG_WAITALL) != 5 || memcmp(buf, "queue", 5))
		fail("A0 lost its queued bytes");
	if (recv(c[0], buf, sizeof(buf), 0) != 1 || buf[0] != 'q')
		fail("C0 lost its queued datagram");
	check_signals("after the restore");
	pass();
}
