/* signalfds: after the restore each has its mask and flags back, dups
 * still share it, and it still reads signals: one queued before the
 * checkpoint (blocked, pending) and one raised after.
 *   A  SIGUSR1, SIGRTMIN+2 and SIGRTMAX; non-blocking
 *   B  SIGUSR2, blocking, dup'ed */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "test.h"

static char info[2][128];

static void read_mask(int fd, char *out, size_t len)
{
	char buf[1024], *l;

	test_read_fdinfo(fd, buf, sizeof(buf));
	l = strstr(buf, "sigmask:");
	if (!l)
		fail("no sigmask in the fdinfo of fd %d", fd);
	snprintf(out, len, "%.*s", (int)strcspn(l, "\n"), l);
}

static int expect_signal(int fd, int sig)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		fail("read signalfd %d: %s", fd, strerror(errno));
	if ((int)si.ssi_signo != sig)
		fail("signalfd %d gave signal %u, expected %d", fd, si.ssi_signo, sig);
	return 0;
}

int main(int argc, char **argv)
{
	sigset_t ma, mb, block;
	struct signalfd_siginfo si;
	char now[128];
	int a, b, b2, fla, flb;

	test_init(argc, argv);
	sigemptyset(&ma);
	sigaddset(&ma, SIGUSR1);
	sigaddset(&ma, SIGRTMIN + 2);
	sigaddset(&ma, SIGRTMAX);
	sigemptyset(&mb);
	sigaddset(&mb, SIGUSR2);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGRTMIN + 2);
	if (sigprocmask(SIG_BLOCK, &block, NULL))
		fail("sigprocmask: %s", strerror(errno));
	a = signalfd(-1, &ma, SFD_NONBLOCK);
	b = signalfd(-1, &mb, 0);
	b2 = dup(b);
	if (a < 0 || b < 0 || b2 < 0)
		fail("signalfd: %s", strerror(errno));
	raise(SIGUSR2);
	fla = fcntl(a, F_GETFL);
	flb = fcntl(b, F_GETFL);
	read_mask(a, info[0], sizeof(info[0]));
	read_mask(b, info[1], sizeof(info[1]));

	test_waitsig();

	read_mask(a, now, sizeof(now));
	if (strcmp(now, info[0]))
		fail("signalfd A: \"%s\", was \"%s\"", now, info[0]);
	read_mask(b, now, sizeof(now));
	if (strcmp(now, info[1]))
		fail("signalfd B: \"%s\", was \"%s\"", now, info[1]);
	if (fcntl(a, F_GETFL) != fla || fcntl(b2, F_GETFL) != flb)
		fail("signalfd flags 0%o 0%o, were 0%o 0%o", fcntl(a, F_GETFL),
		     fcntl(b2, F_GETFL), fla, flb);
	if (read(a, &si, sizeof(si)) != -1 || errno != EAGAIN)
		fail("signalfd A had a signal (or blocked) before any was sent");
	expect_signal(b2, SIGUSR2);
	raise(SIGRTMIN + 2);
	expect_signal(a, SIGRTMIN + 2);
	raise(SIGUSR1);
	expect_signal(a, SIGUSR1);
	pass();
}
