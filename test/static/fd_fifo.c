/* FIFOs (named pipes) with what they hold: after the restore every
 * description has its flags back, each FIFO its size and bytes (once, not
 * once per description), and data still flows.
 *   A  read end O_NONBLOCK and write end, two descriptions; 128 KiB large,
 *      5000 bytes in it; the write end also dup'ed
 *   B  one read-write description with 100 bytes, and a second read-only
 *      description
 *   C  empty, read end only (O_NONBLOCK) */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define A_LEN 5000
#define A_SIZE (128 << 10)
#define B_LEN 100

enum { A_RD, A_WR, A_DUP, B_RW, B_RD, C_RD, NR };

struct end_state {
	int fl;
	int size;
	int queued;
	struct stat st;
};

static int fd[NR];
static struct end_state st[NR];
static unsigned char a_data[A_LEN], b_data[B_LEN], buf[A_LEN];

static void save(struct end_state *s, int f)
{
	memset(s, 0, sizeof(*s));
	s->fl = fcntl(f, F_GETFL);
	s->size = fcntl(f, F_GETPIPE_SZ);
	if (s->fl < 0 || s->size < 0 || ioctl(f, FIONREAD, &s->queued) || fstat(f, &s->st))
		fail("fd %d: %s", f, strerror(errno));
}

static void check(int i)
{
	struct end_state now;

	save(&now, fd[i]);
	if (now.fl != st[i].fl || now.size != st[i].size || now.queued != st[i].queued)
		fail("fd %d: flags 0%o size %d queued %d, were 0%o %d %d", fd[i], now.fl, now.size,
		     now.queued, st[i].fl, st[i].size, st[i].queued);
	if (now.st.st_ino != st[i].st.st_ino || now.st.st_dev != st[i].st.st_dev)
		fail("fd %d: another file", fd[i]);
}

static int open_fifo(const char *path, int flags)
{
	int f = open(path, flags);

	if (f < 0)
		fail("open %s 0%o: %s", path, flags, strerror(errno));
	return f;
}

static void put(int f, const void *p, size_t len)
{
	if (write(f, p, len) != (ssize_t)len)
		fail("write %zu bytes to fd %d: %s", len, f, strerror(errno));
}

static void expect(int f, const void *want, size_t len, const char *what)
{
	ssize_t n = read(f, buf, len);

	if (n != (ssize_t)len || memcmp(buf, want, len))
		fail("%s: read %zd of %zu bytes (or other bytes): %s", what, n, len,
		     n < 0 ? strerror(errno) : "");
}

static void expect_empty(int f, const char *what)
{
	int q = -1;

	if (ioctl(f, FIONREAD, &q) || q)
		fail("%s: %d bytes left", what, q);
}

int main(int argc, char **argv)
{
	char a[4096], b[4096], c[4096];
	uint64_t seed;

	test_init(argc, argv);
	seed = test_seed();
	for (int i = 0; i < A_LEN; i++)
		a_data[i] = (unsigned char)test_mix(seed + i);
	for (int i = 0; i < B_LEN; i++)
		b_data[i] = (unsigned char)test_mix(~seed + i);
	test_path(a, sizeof(a), "fifo-a");
	test_path(b, sizeof(b), "fifo-b");
	test_path(c, sizeof(c), "fifo-c");
	if (mkfifo(a, 0600) || mkfifo(b, 0640) || mkfifo(c, 0600))
		fail("mkfifo: %s", strerror(errno));
	fd[A_RD] = open_fifo(a, O_RDONLY | O_NONBLOCK);
	fd[A_WR] = open_fifo(a, O_WRONLY);
	fd[A_DUP] = dup(fd[A_WR]);
	if (fcntl(fd[A_WR], F_SETPIPE_SZ, A_SIZE) < 0)
		fail("F_SETPIPE_SZ: %s", strerror(errno));
	put(fd[A_WR], a_data, A_LEN);
	fd[B_RW] = open_fifo(b, O_RDWR);
	fd[B_RD] = open_fifo(b, O_RDONLY);
	put(fd[B_RW], b_data, B_LEN);
	fd[C_RD] = open_fifo(c, O_RDONLY | O_NONBLOCK);
	for (int i = 0; i < NR; i++)
		save(&st[i], fd[i]);

	test_waitsig();

	for (int i = 0; i < NR; i++)
		check(i);
	expect(fd[A_RD], a_data, A_LEN, "A");
	expect_empty(fd[A_RD], "A after its bytes");
	expect(fd[B_RD], b_data, B_LEN, "B");
	expect_empty(fd[B_RW], "B after its bytes");
	put(fd[A_DUP], "after", 5);
	expect(fd[A_RD], "after", 5, "A after the restore");
	put(fd[B_RW], "bee", 3);
	expect(fd[B_RW], "bee", 3, "B after the restore");
	if (read(fd[C_RD], buf, 1) != 0)
		fail("C: not at end of file with no writer");
	pass();
}
