/* epoll: after the restore every registration (fd, events with their
 * flags, data) is back, a one-shot registration that already fired stays
 * disarmed, and the epolls still wake for each target, an epoll nested
 * in another too.
 *   ep1 watches: eventfd A (EPOLLIN|EPOLLET), a pipe's read end (EPOLLIN),
 *       a timerfd (EPOLLIN|EPOLLONESHOT), eventfd B (EPOLLOUT|EPOLLONESHOT,
 *       fired before the checkpoint) and ep2 (EPOLLIN)
 *   ep2 watches eventfd C (EPOLLIN), non-blocking, dup'ed */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "test.h"

#define D_A 0x1111ULL
#define D_PIPE 0xdeadbeef00ULL
#define D_TIMER 3ULL
#define D_B 0x8000000000000001ULL
#define D_EP2 4ULL
#define D_C 0x55ULL

static char info[2][1024];

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The "tfd: events: data:" part of each registration line, sorted.  A
 * one-shot registration that fired keeps only EPOLLONESHOT (0x40000000);
 * epoll_ctl() cannot make that state again (it adds EPOLLERR|EPOLLHUP to
 * every registration), so a restored one may show 0x40000018: it still
 * does not report what it waited for (checked below). */
static void read_tfds(int fd, char *out, size_t len)
{
	char buf[4096], *lines[32], *l, *save;
	int n = 0;

	test_read_fdinfo(fd, buf, sizeof(buf));
	for (l = strtok_r(buf, "\n", &save); l && n < 32; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "tfd:", 4)) {
			char *pos = strstr(l, " pos:");

			char *ev = strstr(l, "events: 40000018 ");

			if (pos)
				*pos = '\0';
			if (ev)
				memcpy(ev, "events: 40000000 ", 17);
			lines[n++] = l;
		}
	qsort(lines, n, sizeof(*lines), cmp_lines);
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s;", lines[i]);
}

static void add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		fail("epoll_ctl add %d: %s", fd, strerror(errno));
}

/* EP must report exactly DATA within 5 s. */
static void expect(int ep, uint64_t data, const char *what)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, 5000);

	if (n != 1 || ev[0].data.u64 != data)
		fail("%s: epoll_wait gave %d events, the first with data 0x%llx, expected 0x%llx",
		     what, n, n > 0 ? (unsigned long long)ev[0].data.u64 : 0ULL,
		     (unsigned long long)data);
}

static void expect_none(int ep, const char *what)
{
	struct epoll_event ev;
	int n = epoll_wait(ep, &ev, 1, 0);

	if (n != 0)
		fail("%s: epoll_wait gave %d events (data 0x%llx), expected none", what, n,
		     n > 0 ? (unsigned long long)ev.data.u64 : 0ULL);
}

static void bump(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		fail("write eventfd %d: %s", efd, strerror(errno));
}

static void drain(int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) != sizeof(v))
		fail("read eventfd %d: %s", efd, strerror(errno));
}

int main(int argc, char **argv)
{
	struct itimerspec its = { .it_value = { 0, 20000000 } };
	int ep1, ep2, ep2_dup, a, b, c, t, p[2];
	char now[1024], ch;

	test_init(argc, argv);
	ep1 = epoll_create1(0);
	ep2 = epoll_create1(EPOLL_CLOEXEC);
	a = eventfd(0, EFD_NONBLOCK);
	b = eventfd(0, EFD_NONBLOCK);
	c = eventfd(0, EFD_NONBLOCK);
	t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (ep1 < 0 || ep2 < 0 || a < 0 || b < 0 || c < 0 || t < 0 || pipe(p))
		fail("create: %s", strerror(errno));
	if (fcntl(ep2, F_SETFL, O_NONBLOCK))
		fail("fcntl: %s", strerror(errno));
	ep2_dup = dup(ep2);
	add(ep1, a, EPOLLIN | EPOLLET, D_A);
	add(ep1, p[0], EPOLLIN, D_PIPE);
	add(ep1, t, EPOLLIN | EPOLLONESHOT, D_TIMER);
	add(ep1, b, EPOLLOUT | EPOLLONESHOT, D_B);
	add(ep2, c, EPOLLIN, D_C);
	add(ep1, ep2, EPOLLIN, D_EP2);
	expect(ep1, D_B, "the one-shot EPOLLOUT before the checkpoint");
	expect_none(ep1, "after the one-shot fired");
	read_tfds(ep1, info[0], sizeof(info[0]));
	read_tfds(ep2, info[1], sizeof(info[1]));

	test_waitsig();

	read_tfds(ep1, now, sizeof(now));
	if (strcmp(now, info[0]))
		fail("ep1 registrations: \"%s\", were \"%s\"", now, info[0]);
	read_tfds(ep2_dup, now, sizeof(now));
	if (strcmp(now, info[1]))
		fail("ep2 registrations: \"%s\", were \"%s\"", now, info[1]);
	expect_none(ep1, "right after the restore");
	bump(a);
	expect(ep1, D_A, "eventfd A");
	expect_none(ep1, "eventfd A again (edge-triggered)");
	drain(a);
	if (write(p[1], "x", 1) != 1)
		fail("write pipe: %s", strerror(errno));
	expect(ep1, D_PIPE, "the pipe");
	if (read(p[0], &ch, 1) != 1)
		fail("read pipe: %s", strerror(errno));
	bump(c);
	expect(ep1, D_EP2, "ep2 inside ep1");
	expect(ep2, D_C, "eventfd C");
	drain(c);
	if (timerfd_settime(t, 0, &its, NULL))
		fail("timerfd_settime: %s", strerror(errno));
	expect(ep1, D_TIMER, "the timer");
	expect_none(ep1, "the one-shot timer again");
	pass();
}
