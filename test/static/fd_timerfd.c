/* timerfds: after the restore each has its clock, flags, settime flags and
 * interval back, the time left is no more than before and no less than
 * before minus the time that passed, unread expirations are still there,
 * and the timers still fire.
 *   A  CLOCK_MONOTONIC, one-shot in 1000 s, non-blocking
 *   B  CLOCK_BOOTTIME, in 500 s and then every 3 s
 *   C  CLOCK_MONOTONIC, expired once and not read (disarmed, 1 tick)
 *   D  CLOCK_REALTIME, absolute (now + 2000 s), TFD_TIMER_CANCEL_ON_SET
 *   E  CLOCK_MONOTONIC, disarmed, with an interval of 5 s */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET (1 << 1)
#endif
#define NSEC 1000000000LL

enum { A, B, C, D, E, NR };

static int fds[NR], fl[NR];
static char info[NR][256];
static int64_t left[NR];

/* clockid, settime flags, it_interval and ticks from fdinfo. */
static void read_info(int fd, char *out, size_t len)
{
	char buf[1024], *l, *save;

	test_read_fdinfo(fd, buf, sizeof(buf));
	out[0] = '\0';
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "clockid", 7) || !strncmp(l, "settime", 7) ||
		    !strncmp(l, "it_interval", 11) || !strncmp(l, "ticks", 5) ||
		    !strncmp(l, "flags", 5))
			snprintf(out + strlen(out), len - strlen(out), "%s;", l);
}

static int64_t time_left(int fd)
{
	struct itimerspec its;

	if (timerfd_gettime(fd, &its))
		fail("timerfd_gettime %d: %s", fd, strerror(errno));
	return its.it_value.tv_sec * NSEC + its.it_value.tv_nsec;
}

static int make(int clock, int flags)
{
	int fd = timerfd_create(clock, flags);

	if (fd < 0)
		fail("timerfd_create %d: %s", clock, strerror(errno));
	return fd;
}

static void arm(int fd, int flags, time_t value, long value_ns, time_t interval)
{
	struct itimerspec its = { .it_value = { value, value_ns }, .it_interval = { interval, 0 } };

	if (timerfd_settime(fd, flags, &its, NULL))
		fail("timerfd_settime %d: %s", fd, strerror(errno));
}

/* D's one tick where it had none, and a read that says ECANCELED: the
 * host's realtime clock was set since (the kernel cancels such a timer
 * and counts it; a VM's clock is stepped at times), not a restore that
 * made it expire, whose read would return the expirations. */
static bool clock_was_set(int fd, const char *now, const char *before)
{
	char expect[sizeof(info[0])];
	const char *p = strstr(before, "ticks: 0;");
	uint64_t ticks;

	if (!p || strlen(before) >= sizeof(expect))
		return false;
	snprintf(expect, sizeof(expect), "%.*sticks: 1;%s", (int)(p - before), before,
		 p + strlen("ticks: 0;"));
	if (strcmp(now, expect) || read(fd, &ticks, sizeof(ticks)) != -1 || errno != ECANCELED)
		return false;
	test_msg("timer D: the realtime clock was set since the checkpoint (ECANCELED)");
	return true;
}

int main(int argc, char **argv)
{
	struct pollfd pfd;
	struct timespec rt;
	uint64_t ticks, t0, elapsed;
	char now[256];

	test_init(argc, argv);
	fds[A] = make(CLOCK_MONOTONIC, TFD_NONBLOCK);
	arm(fds[A], 0, 1000, 0, 0);
	fds[B] = make(CLOCK_BOOTTIME, 0);
	arm(fds[B], 0, 500, 0, 3);
	fds[C] = make(CLOCK_MONOTONIC, TFD_CLOEXEC);
	arm(fds[C], 0, 0, 1000000, 0);
	usleep(20000);
	fds[D] = make(CLOCK_REALTIME, 0);
	clock_gettime(CLOCK_REALTIME, &rt);
	arm(fds[D], TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, rt.tv_sec + 2000, 0, 0);
	fds[E] = make(CLOCK_MONOTONIC, 0);
	arm(fds[E], 0, 0, 0, 5);
	t0 = test_now_ns();
	for (int i = 0; i < NR; i++) {
		fl[i] = fcntl(fds[i], F_GETFL);
		left[i] = time_left(fds[i]);
		read_info(fds[i], info[i], sizeof(info[i]));
	}
	if (!strstr(info[C], "ticks: 1;"))
		fail("timer C did not expire before the checkpoint: %s", info[C]);

	test_waitsig();

	for (int i = 0; i < NR; i++) {
		int64_t l = time_left(fds[i]);

		/* Up to this read: the time since t0 bounds what the timer lost. */
		elapsed = test_now_ns() - t0;
		read_info(fds[i], now, sizeof(now));
		if (strcmp(now, info[i]) && !(i == D && clock_was_set(fds[D], now, info[D])))
			fail("timer %c: fdinfo says \"%s\", said \"%s\"", 'A' + i, now, info[i]);
		if (fcntl(fds[i], F_GETFL) != fl[i])
			fail("timer %c: flags 0%o, were 0%o", 'A' + i, fcntl(fds[i], F_GETFL),
			     fl[i]);
		if (l > left[i] || l < left[i] - (int64_t)elapsed || (left[i] && !l))
			fail("timer %c: %lld ns left, %lld before and %llu ns passed", 'A' + i,
			     (long long)l, (long long)left[i], (unsigned long long)elapsed);
	}
	if (read(fds[C], &ticks, sizeof(ticks)) != sizeof(ticks) || ticks != 1)
		fail("timer C: read %llu expirations, expected 1 (%s)", (unsigned long long)ticks,
		     strerror(errno));
	if (read(fds[A], &ticks, sizeof(ticks)) != -1 || errno != EAGAIN)
		fail("timer A expired (or blocked) long before its time");
	arm(fds[A], 0, 0, 20000000, 0);
	pfd = (struct pollfd){ .fd = fds[A], .events = POLLIN };
	if (poll(&pfd, 1, 5000) != 1 || read(fds[A], &ticks, sizeof(ticks)) != sizeof(ticks) ||
	    ticks != 1)
		fail("timer A, armed for 20 ms, did not fire within 5 s");
	arm(fds[E], 0, 0, 10000000, 0);
	if (read(fds[E], &ticks, sizeof(ticks)) != sizeof(ticks) || ticks != 1)
		fail("timer E, armed for 10 ms, did not fire: %s", strerror(errno));
	pass();
}
