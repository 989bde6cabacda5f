/* An epoll shared by a parent and its child (made before fork, as an
 * event loop is before a forking server's or a multiprocessing pool's
 * fork), with registrations made through either's fds:
 *   A  an eventfd the parent registered, which both hold at one number
 *   P  a pipe's read end the parent registered and then closed: only the
 *      child holds it at that number now
 *   B  an eventfd only the child has, which the child registered
 * After the restore the fdinfo of the epoll is what it was; the parent's
 * epoll_wait reports A when the parent signals it, P and B when the child
 * writes; the child can still remove B and change P through its own fds
 * (the registrations are keyed by the child's fd numbers), the parent can
 * change A. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define D_A 0xa1ULL
#define D_P 0xb2b2ULL
#define D_B 0xc3c3c3ULL

static int ep, a, pfd[2], go[2], res[2];

static int cmp_lines(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The "tfd: events: data:" part of each registration, sorted (the kernel
 * orders them by file address). */
static int tfd_lines(char *out, size_t len)
{
	char buf[4096], *l, *save, *lines[8];
	int n = 0;

	test_read_fdinfo(ep, buf, sizeof(buf));
	for (l = strtok_r(buf, "\n", &save); l && n < 8; l = strtok_r(NULL, "\n", &save)) {
		char *pos = strstr(l, " pos:");

		if (strncmp(l, "tfd:", 4))
			continue;
		if (pos)
			*pos = '\0';
		lines[n++] = l;
	}
	qsort(lines, n, sizeof(*lines), cmp_lines);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strlen(out) + strlen(lines[i]) + 2 > len)
			return -1;
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	return n == 3 ? 0 : -1;
}

/* The one event the epoll reports now, waiting up to a second. */
static uint64_t one_event(void)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, 1000);

	return n == 1 ? ev[0].data.u64 : (uint64_t)-1 - (n < 0 ? 0 : (uint64_t)n);
}

static void child_report(const char *why)
{
	char rec[120] = { 0 };

	snprintf(rec, sizeof(rec), "%s", why);
	if (write(res[1], rec, sizeof(rec)) != sizeof(rec))
		_exit(3);
}

static void child_step(char *c)
{
	if (read(go[0], c, 1) != 1)
		_exit(2);
}

static void child(int b)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = D_B };
	uint64_t one = 1;
	char c;

	if (epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev))
		_exit(2);
	child_report("ready");
	child_step(&c);
	/* Wake P, then B, one at a time for the parent to see. */
	if (write(pfd[1], "x", 1) != 1)
		_exit(2);
	child_report("P");
	child_step(&c);
	if (read(pfd[0], &c, 1) != 1 || write(b, &one, sizeof(one)) != sizeof(one))
		_exit(2);
	child_report("B");
	child_step(&c);
	ev.events = EPOLLIN | EPOLLET;
	ev.data.u64 = D_P + 1;
	if (epoll_ctl(ep, EPOLL_CTL_DEL, b, NULL))
		child_report("removing B through the child's fd failed");
	else if (epoll_ctl(ep, EPOLL_CTL_MOD, pfd[0], &ev))
		child_report("changing P through the child's fd failed");
	else
		child_report("ok");
	_exit(0);
}

/* Lets the child take its next step, and waits until it reports WANT. */
static void step(const char *want)
{
	char rec[120];

	if (write(go[1], "g", 1) != 1 || read(res[0], rec, sizeof(rec)) != sizeof(rec))
		fail("child step: %s", strerror(errno));
	if (strcmp(rec, want))
		fail("child: %s", rec);
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	char before[1024], after[1024], rec[120];
	uint64_t got = 0, v;
	int b, st;
	pid_t pid;

	test_init(argc, argv);
	ep = epoll_create1(EPOLL_CLOEXEC);
	a = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ep < 0 || a < 0 || pipe(pfd) || pipe(go) || pipe(res))
		fail("setup: %s", strerror(errno));
	ev.data.u64 = D_A;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev))
		fail("register A: %s", strerror(errno));
	ev.data.u64 = D_P;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev))
		fail("register P: %s", strerror(errno));
	/* B's number is free in the parent once the child has it. */
	b = eventfd(0, EFD_CLOEXEC);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0)
		child(b);
	close(b);
	close(pfd[0]);
	close(pfd[1]);
	if (read(res[0], rec, sizeof(rec)) != sizeof(rec) || strcmp(rec, "ready"))
		fail("child did not get ready");
	if (tfd_lines(before, sizeof(before)))
		fail("fdinfo of the epoll: not its 3 registrations");
	test_waitsig();

	if (tfd_lines(after, sizeof(after)) || strcmp(before, after))
		fail("registrations were:\n%sare:\n%s", before, after);
	v = 1;
	if (write(a, &v, sizeof(v)) != sizeof(v) || (got = one_event()) != D_A)
		fail("A signalled: the epoll reported 0x%llx", (unsigned long long)got);
	if (read(a, &v, sizeof(v)) != sizeof(v))
		fail("read A: %s", strerror(errno));
	step("P");
	if ((got = one_event()) != D_P)
		fail("the child wrote into P: the epoll reported 0x%llx", (unsigned long long)got);
	step("B");
	if ((got = one_event()) != D_B)
		fail("the child signalled B: the epoll reported 0x%llx", (unsigned long long)got);
	step("ok");
	ev.events = EPOLLOUT;
	ev.data.u64 = D_A + 1;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev) || (got = one_event()) != D_A + 1)
		fail("A changed through the parent's fd: %s, reported 0x%llx", strerror(errno),
		     (unsigned long long)got);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child ended with status 0x%x", st);
	pass();
}
