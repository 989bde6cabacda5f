/* Thousands of descriptors of every kind lmproc restores, the load its fd
 * code is measured with (dump and restore times in the stats images):
 * per 10,000: 1500 pipes with a few bytes each, 1000 eventfds, 1000
 * timerfds, 500 signalfds, 500 epolls watching two eventfds each, 1000
 * memfds, 1000 unix socket pairs with a message each, 1000 opens of one
 * file.  LMPROC_FD_MANY sets the total (a multiple of 1000 up to 10,000;
 * 2,000 by default, which keeps the suite quick).  After the restore
 * every one is checked and used. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "test.h"

#define MAX_TOTAL 10000
#define PIPES (nr * 3 / 2)
#define EVENTFDS nr
#define TIMERFDS nr
#define SIGNALFDS (nr / 2)
#define EPOLLS (nr / 2)
#define MEMFDS nr
#define PAIRS nr
#define FILES nr
#define TOTAL (2 * PIPES + EVENTFDS + TIMERFDS + SIGNALFDS + EPOLLS + MEMFDS + 2 * PAIRS + FILES)

/* A tenth of the total: the unit the counts above are given in. */
static int nr;
static int pr[MAX_TOTAL / 10 * 3 / 2], pw[MAX_TOTAL / 10 * 3 / 2], ev[MAX_TOTAL / 10];
static int tm[MAX_TOTAL / 10], sg[MAX_TOTAL / 20], ep[MAX_TOTAL / 20], mf[MAX_TOTAL / 10];
static int sa[MAX_TOTAL / 10], sb[MAX_TOTAL / 10], fl[MAX_TOTAL / 10];

static void ok(int fd, const char *what, int i)
{
	if (fd < 0)
		fail("%s %d: %s", what, i, strerror(errno));
}

static void build(const char *path, uint64_t seed)
{
	struct itimerspec its = { .it_value = { 3600, 0 } };
	sigset_t mask;
	char name[32];
	int sv[2];

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	for (int i = 0; i < PIPES; i++) {
		int p[2];

		ok(pipe(p), "pipe", i);
		pr[i] = p[0];
		pw[i] = p[1];
		ok(write(pw[i], &i, sizeof(i)) == sizeof(i) ? 0 : -1, "pipe write", i);
	}
	for (int i = 0; i < EVENTFDS; i++)
		ok(ev[i] = eventfd(seed % 1000 + i + 1, EFD_NONBLOCK), "eventfd", i);
	for (int i = 0; i < TIMERFDS; i++) {
		ok(tm[i] = timerfd_create(CLOCK_MONOTONIC, 0), "timerfd", i);
		ok(timerfd_settime(tm[i], 0, &its, NULL), "timerfd_settime", i);
	}
	for (int i = 0; i < SIGNALFDS; i++)
		ok(sg[i] = signalfd(-1, &mask, 0), "signalfd", i);
	for (int i = 0; i < EPOLLS; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u64 = i };

		ok(ep[i] = epoll_create1(0), "epoll", i);
		ok(epoll_ctl(ep[i], EPOLL_CTL_ADD, ev[2 * i], &e), "epoll_ctl", i);
		ok(epoll_ctl(ep[i], EPOLL_CTL_ADD, ev[2 * i + 1], &e), "epoll_ctl", i);
	}
	for (int i = 0; i < MEMFDS; i++) {
		snprintf(name, sizeof(name), "many-%d", i);
		ok(mf[i] = memfd_create(name, 0), "memfd", i);
		ok(write(mf[i], name, strlen(name)) > 0 ? 0 : -1, "memfd write", i);
	}
	for (int i = 0; i < PAIRS; i++) {
		ok(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), "socketpair", i);
		sa[i] = sv[0];
		sb[i] = sv[1];
		ok(send(sb[i], &i, sizeof(i), 0) == sizeof(i) ? 0 : -1, "send", i);
	}
	for (int i = 0; i < FILES; i++)
		ok(fl[i] = open(path, i % 2 ? O_RDONLY : O_RDWR), "open", i);
}

static void check(uint64_t seed)
{
	uint64_t v;
	int x;

	for (int i = 0; i < PIPES; i++)
		if (read(pr[i], &x, sizeof(x)) != sizeof(x) || x != i)
			fail("pipe %d lost its bytes", i);
	for (int i = 0; i < EVENTFDS; i++)
		if (read(ev[i], &v, sizeof(v)) != sizeof(v) || v != seed % 1000 + i + 1)
			fail("eventfd %d holds %llu", i, (unsigned long long)v);
	for (int i = 0; i < TIMERFDS; i++) {
		struct itimerspec its;

		if (timerfd_gettime(tm[i], &its) || its.it_value.tv_sec > 3600 ||
		    (!its.it_value.tv_sec && !its.it_value.tv_nsec))
			fail("timerfd %d is not armed as it was", i);
	}
	for (int i = 0; i < SIGNALFDS; i++)
		if (fcntl(sg[i], F_GETFD) < 0)
			fail("signalfd %d is gone", i);
	for (int i = 0; i < EPOLLS; i++) {
		struct epoll_event e;

		v = 1;
		if (write(ev[2 * i], &v, sizeof(v)) != sizeof(v) ||
		    epoll_wait(ep[i], &e, 1, 1000) != 1 || e.data.u64 != (uint64_t)i)
			fail("epoll %d does not wake", i);
	}
	for (int i = 0; i < MEMFDS; i++) {
		char want[32], got[32] = "";

		snprintf(want, sizeof(want), "many-%d", i);
		if (pread(mf[i], got, sizeof(got), 0) != (ssize_t)strlen(want) ||
		    memcmp(got, want, strlen(want)))
			fail("memfd %d holds \"%s\"", i, got);
	}
	for (int i = 0; i < PAIRS; i++)
		if (recv(sa[i], &x, sizeof(x), MSG_DONTWAIT) != sizeof(x) || x != i)
			fail("socket pair %d lost its message", i);
	for (int i = 0; i < FILES; i++)
		if (fcntl(fl[i], F_GETFL) < 0)
			fail("file fd %d is gone", i);
}

int main(int argc, char **argv)
{
	const char *want = getenv("LMPROC_FD_MANY");
	int total = want ? atoi(want) : 2000, fd;
	struct rlimit rl;
	char path[4096];
	uint64_t seed;

	test_init(argc, argv);
	if (total < 1000 || total > MAX_TOTAL || total % 1000)
		fail("LMPROC_FD_MANY=%s: a multiple of 1000 up to %d", want, MAX_TOTAL);
	nr = total / 10;
	seed = test_seed();
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_max < (rlim_t)TOTAL + 64)
		fail("the hard RLIMIT_NOFILE is below %d", TOTAL + 64);
	rl.rlim_cur = TOTAL + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		fail("setrlimit: %s", strerror(errno));
	test_path(path, sizeof(path), "many.data");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || close(fd))
		fail("create %s: %s", path, strerror(errno));
	build(path, seed);
	test_msg("%d fds open", TOTAL);

	test_waitsig();

	check(seed);
	pass();
}
