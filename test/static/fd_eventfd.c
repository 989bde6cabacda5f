/* eventfds: after the restore each has its count, EFD_SEMAPHORE and
 * O_NONBLOCK back (as its fdinfo shows them), dups still share it, and
 * they still count.
 *   A  count 5, semaphore, non-blocking
 *   B  the largest count, blocking
 *   C  count 0, non-blocking
 *   D  a count from the run's seed, dup'ed */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "test.h"

#define MAX_COUNT 0xfffffffffffffffeULL

enum { A, B, C, D, NR };

static int fds[NR], dup_d, fl[NR];
static char info[NR][256];

/* The lines of fdinfo that must not change (not eventfd-id). */
static void read_info(int fd, char *out, size_t len)
{
	char buf[1024], *l, *save;

	test_read_fdinfo(fd, buf, sizeof(buf));
	out[0] = '\0';
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "eventfd-count", 13) || !strncmp(l, "eventfd-sem", 11) ||
		    !strncmp(l, "flags", 5))
			snprintf(out + strlen(out), len - strlen(out), "%s;", l);
}

static uint64_t get(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		fail("read eventfd %d: %s", fd, strerror(errno));
	return v;
}

static void put(int fd, uint64_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		fail("write %llu to eventfd %d: %s", (unsigned long long)v, fd, strerror(errno));
}

int main(int argc, char **argv)
{
	uint64_t d_count, v;
	char now[256];

	test_init(argc, argv);
	d_count = test_seed() % 1000000 + 1;
	fds[A] = eventfd(5, EFD_SEMAPHORE | EFD_NONBLOCK);
	fds[B] = eventfd(0, 0);
	fds[C] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	fds[D] = eventfd(0, 0);
	for (int i = 0; i < NR; i++)
		if (fds[i] < 0)
			fail("eventfd: %s", strerror(errno));
	put(fds[B], MAX_COUNT);
	put(fds[D], d_count);
	dup_d = dup(fds[D]);
	for (int i = 0; i < NR; i++) {
		fl[i] = fcntl(fds[i], F_GETFL);
		read_info(fds[i], info[i], sizeof(info[i]));
	}

	test_waitsig();

	for (int i = 0; i < NR; i++) {
		read_info(fds[i], now, sizeof(now));
		if (strcmp(now, info[i]))
			fail("eventfd %c: fdinfo says \"%s\", said \"%s\"", 'A' + i, now, info[i]);
		if (fcntl(fds[i], F_GETFL) != fl[i])
			fail("eventfd %c: flags 0%o, were 0%o", 'A' + i, fcntl(fds[i], F_GETFL),
			     fl[i]);
	}
	for (int i = 0; i < 5; i++)
		if ((v = get(fds[A])) != 1)
			fail("semaphore eventfd A read %llu, not 1", (unsigned long long)v);
	if (read(fds[A], &v, sizeof(v)) != -1 || errno != EAGAIN)
		fail("eventfd A is not empty (or blocks) after 5 reads");
	if ((v = get(fds[B])) != MAX_COUNT)
		fail("eventfd B held %llu", (unsigned long long)v);
	if (read(fds[C], &v, sizeof(v)) != -1 || errno != EAGAIN)
		fail("eventfd C is not empty (or blocks)");
	put(fds[C], 7);
	if ((v = get(fds[C])) != 7)
		fail("eventfd C gave %llu after 7 was written", (unsigned long long)v);
	put(dup_d, 3);
	if ((v = get(fds[D])) != d_count + 3)
		fail("eventfd D held %llu, expected %llu (and its dup no longer shares it)",
		     (unsigned long long)v, (unsigned long long)d_count + 3);
	pass();
}
