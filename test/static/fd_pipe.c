/* Pipes with what they hold: after the restore every pipe has its bytes,
 * size (F_GETPIPE_SZ), flags and fd flags back, and still works.
 *   A  3000 bytes, read end O_NONBLOCK, write end also dup'ed (cloexec) to
 *      a high fd: both write ends share one description
 *   B  1 MiB large (pipe-max-size), 300 KiB in it
 *   C  write end closed: 100 bytes, then end of file
 *   D  read end closed: a write fails with EPIPE
 *   E  a second read end opened through /proc/self/fd (its own flags)
 *   F  one page large and full, write end O_NONBLOCK: a write gets EAGAIN
 *   G  empty, both ends blocking */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "test.h"

#define A_LEN 3000
#define B_SIZE (1 << 20)
#define B_LEN (300 << 10)
#define C_LEN 100
#define HIGH_FD 50

enum { A, B, C, D, E, F, G, NR };

struct end_state {
	int fd;
	int fl;
	int fdfl;
	int size;
	int queued;
};

static unsigned char data[NR][B_LEN];
static unsigned char buf[B_LEN];
static int rd[NR], wr[NR], e_second;
static uint64_t seed;

static void fill(int p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		data[p][i] = (unsigned char)test_mix(seed + p * 1000003 + i);
}

static void save(struct end_state *s, int fd)
{
	s->fd = fd;
	s->fl = fcntl(fd, F_GETFL);
	s->fdfl = fcntl(fd, F_GETFD);
	s->size = fcntl(fd, F_GETPIPE_SZ);
	if (s->fl < 0 || s->fdfl < 0 || s->size < 0 || ioctl(fd, FIONREAD, &s->queued))
		fail("fd %d: %s", fd, strerror(errno));
}

static void check(const struct end_state *s)
{
	struct end_state now;

	save(&now, s->fd);
	if (now.fl != s->fl || now.fdfl != s->fdfl)
		fail("fd %d: flags 0%o fd flags %d, were 0%o %d", s->fd, now.fl, now.fdfl, s->fl,
		     s->fdfl);
	if (now.size != s->size)
		fail("fd %d: pipe size %d, was %d", s->fd, now.size, s->size);
	if (now.queued != s->queued)
		fail("fd %d: %d bytes queued, were %d", s->fd, now.queued, s->queued);
}

static void write_all(int fd, const void *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)p + done, len - done);

		if (n <= 0)
			fail("write to fd %d: %s", fd, strerror(errno));
		done += n;
	}
}

/* Reads exactly LEN bytes (blocking until they are there) and compares. */
static void expect(int fd, const unsigned char *want, size_t len, const char *what)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 5000) != 1)
			fail("%s: fd %d has no data after %zu of %zu bytes", what, fd, done, len);
		n = read(fd, buf + done, len - done);
		if (n <= 0)
			fail("%s: read fd %d after %zu of %zu bytes: %s", what, fd, done, len,
			     n ? strerror(errno) : "end of file");
		done += n;
	}
	for (size_t i = 0; i < len; i++)
		if (buf[i] != want[i])
			fail("%s: byte %zu is 0x%02x, expected 0x%02x", what, i, buf[i], want[i]);
}

static void make_pipe(int p, int flags)
{
	int fds[2];

	if (pipe2(fds, flags))
		fail("pipe: %s", strerror(errno));
	rd[p] = fds[0];
	wr[p] = fds[1];
}

static void build(void)
{
	char path[64];

	make_pipe(A, 0);
	fill(A, A_LEN);
	write_all(wr[A], data[A], A_LEN);
	if (fcntl(rd[A], F_SETFL, O_NONBLOCK) || fcntl(wr[A], F_DUPFD_CLOEXEC, HIGH_FD) != HIGH_FD)
		fail("pipe A: %s", strerror(errno));
	make_pipe(B, 0);
	if (fcntl(wr[B], F_SETPIPE_SZ, B_SIZE) != B_SIZE)
		fail("F_SETPIPE_SZ %d: %s", B_SIZE, strerror(errno));
	fill(B, B_LEN);
	write_all(wr[B], data[B], B_LEN);
	make_pipe(C, 0);
	fill(C, C_LEN);
	write_all(wr[C], data[C], C_LEN);
	close(wr[C]);
	wr[C] = -1;
	make_pipe(D, 0);
	close(rd[D]);
	rd[D] = -1;
	make_pipe(E, O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", rd[E]);
	e_second = open(path, O_RDONLY | O_NONBLOCK);
	if (e_second < 0)
		fail("reopen %s: %s", path, strerror(errno));
	write_all(wr[E], "e", 1);
	make_pipe(F, O_NONBLOCK);
	if (fcntl(wr[F], F_SETPIPE_SZ, 4096) != 4096)
		fail("F_SETPIPE_SZ 4096: %s", strerror(errno));
	fill(F, 4096);
	write_all(wr[F], data[F], 4096);
	make_pipe(G, 0);
}

int main(int argc, char **argv)
{
	struct end_state st[2 * NR + 1];
	int nr = 0;

	test_init(argc, argv);
	seed = test_seed();
	signal(SIGPIPE, SIG_IGN);
	build();
	for (int p = 0; p < NR; p++) {
		if (rd[p] >= 0)
			save(&st[nr++], rd[p]);
		if (wr[p] >= 0)
			save(&st[nr++], wr[p]);
	}
	save(&st[nr++], e_second);

	test_waitsig();

	for (int i = 0; i < nr; i++)
		check(&st[i]);
	expect(rd[A], data[A], A_LEN, "pipe A");
	write_all(HIGH_FD, "x", 1);
	write_all(wr[A], "y", 1);
	expect(rd[A], (const unsigned char *)"xy", 2, "pipe A after restore");
	expect(rd[B], data[B], B_LEN, "pipe B");
	expect(rd[C], data[C], C_LEN, "pipe C");
	if (read(rd[C], buf, 1) != 0)
		fail("pipe C: no end of file after its data");
	if (write(wr[D], "d", 1) != -1 || errno != EPIPE)
		fail("pipe D: a write without a reader did not fail with EPIPE");
	expect(e_second, (const unsigned char *)"e", 1, "pipe E (second read end)");
	write_all(wr[E], "f", 1);
	expect(rd[E], (const unsigned char *)"f", 1, "pipe E");
	if (write(wr[F], "z", 1) != -1 || errno != EAGAIN)
		fail("pipe F: a write into the full pipe did not fail with EAGAIN");
	expect(rd[F], data[F], 4096, "pipe F");
	write_all(wr[G], "g", 1);
	expect(rd[G], (const unsigned char *)"g", 1, "pipe G");
	pass();
}
