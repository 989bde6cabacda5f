/* Pipes in packet mode (pipe2(O_DIRECT), zdtm's pipe with O_DIRECT): each
 * write of at most a page is a packet that one read takes whole, however
 * large the read.  After the restore every packet comes back alone, in
 * order, with its bytes, the write ends keep O_DIRECT (pipe2() gives it
 * to the write end only), and new writes are
 * packets still:
 *   A  both ends O_DIRECT: packets of 3, 1000, 4096, 5000 (two: 4096 and
 *      904) and 1 byte (the last one a single byte)
 *   B  packets of 7 and 9 bytes, then O_DIRECT taken off the write end
 *      and 12 plain bytes written in two writes (read as one)
 *   C  1 MiB large (pipe-max-size here: lmproc's copy can't be larger),
 *      every buffer taken: 255 packets of 1 byte and one of 2 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define C_SIZE (1 << 20)
#define C_PACKETS (C_SIZE / 4096)

static int a[2], b[2], c[2];
static char big[8192], buf[65536];

static void put(int fd, const char *p, size_t len)
{
	if (write(fd, p, len) != (ssize_t)len)
		fail("write of %zu bytes to fd %d: %s", len, fd, strerror(errno));
}

static void fill(char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)test_mix(seed + i);
}

/* The next read of FD (large) gives exactly LEN bytes, those of SEED. */
static void expect(int fd, size_t len, unsigned seed, const char *what)
{
	ssize_t n = read(fd, buf, sizeof(buf));

	fill(big, len, seed);
	if (n != (ssize_t)len || memcmp(buf, big, len))
		fail("%s: read gave %zd bytes (%s), expected %zu", what, n,
		     n < 0 ? strerror(errno) : "data differs or length", len);
}

static void flags_are(int fd, int want, const char *what)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || (fl & (O_DIRECT | O_NONBLOCK)) != want)
		fail("%s: flags 0%o, expected O_DIRECT|O_NONBLOCK bits 0%o", what, fl, want);
}

static void setup(void)
{
	static const size_t a_lens[] = { 3, 1000, 4096, 5000, 1 };

	if (pipe2(a, O_DIRECT | O_NONBLOCK) || pipe2(b, O_DIRECT | O_NONBLOCK) ||
	    pipe2(c, O_DIRECT | O_NONBLOCK))
		fail("pipe2(O_DIRECT): %s", strerror(errno));
	for (size_t i = 0; i < sizeof(a_lens) / sizeof(a_lens[0]); i++) {
		fill(big, a_lens[i], 100 * i);
		put(a[1], big, a_lens[i]);
	}
	fill(big, 7, 1000);
	put(b[1], big, 7);
	fill(big, 9, 2000);
	put(b[1], big, 9);
	if (fcntl(b[1], F_SETFL, O_NONBLOCK))
		fail("fcntl: %s", strerror(errno));
	fill(big, 12, 3000);
	put(b[1], big, 5);
	put(b[1], big + 5, 7);
	if (fcntl(c[1], F_SETPIPE_SZ, C_SIZE) != C_SIZE)
		fail("F_SETPIPE_SZ: %s", strerror(errno));
	for (int i = 0; i < C_PACKETS; i++) {
		fill(big, 1 + (i == C_PACKETS - 1), 4000 + i);
		put(c[1], big, 1 + (i == C_PACKETS - 1));
	}
}

static void check(void)
{
	flags_are(a[0], O_NONBLOCK, "A's read end");
	flags_are(a[1], O_DIRECT | O_NONBLOCK, "A's write end");
	flags_are(b[0], O_NONBLOCK, "B's read end");
	flags_are(b[1], O_NONBLOCK, "B's write end");
	expect(a[0], 3, 0, "A's packet 1");
	expect(a[0], 1000, 100, "A's packet 2");
	expect(a[0], 4096, 200, "A's packet 3");
	expect(a[0], 4096, 300, "A's packet 4");
	fill(big, 5000, 300);
	memcpy(big, big + 4096, 904);
	if (read(a[0], buf, sizeof(buf)) != 904 || memcmp(buf, big, 904))
		fail("A's packet 5: not the last 904 bytes of the 5000-byte write");
	expect(a[0], 1, 400, "A's packet 6");
	expect(b[0], 7, 1000, "B's packet 1");
	expect(b[0], 9, 2000, "B's packet 2");
	expect(b[0], 12, 3000, "B's plain bytes");
	for (int i = 0; i < C_PACKETS; i++)
		expect(c[0], 1 + (i == C_PACKETS - 1), 4000 + i, "C's packet");
	if (read(a[0], buf, 1) >= 0 || read(b[0], buf, 1) >= 0 || read(c[0], buf, 1) >= 0)
		fail("a pipe holds more than was written");
	/* Still packets: two writes, two reads. */
	fill(big, 10, 5000);
	put(a[1], big, 10);
	fill(big, 20, 6000);
	put(a[1], big, 20);
	expect(a[0], 10, 5000, "A's new packet 1");
	expect(a[0], 20, 6000, "A's new packet 2");
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	setup();
	test_waitsig();
	check();
	pass();
}
