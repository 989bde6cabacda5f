/* Deleted files that are still open: after the restore each has its
 * contents (holes stay holes), size, permissions and link count 0 back,
 * every open file description its flags and position, and the fds that
 * shared one description still share it while two descriptions of one
 * file still see each other's writes.
 *   X  64 KiB of data, a hole, 100 bytes at 1 MiB; mode 0640; opened
 *      O_RDWR at 5000 (and dup'ed) and O_RDONLY at 7
 *   Y  "abc", opened O_WRONLY|O_APPEND, mode 0600 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define X_DATA (64 << 10)
#define X_TAIL_OFF (1 << 20)
#define X_TAIL 100

struct fd_state {
	int fd;
	int fl;
	off_t pos;
};

static unsigned char xdata[X_DATA + X_TAIL], buf[X_DATA];

static void save(struct fd_state *s, int fd)
{
	s->fd = fd;
	s->fl = fcntl(fd, F_GETFL);
	s->pos = lseek(fd, 0, SEEK_CUR);
	if (s->fl < 0 || s->pos < 0)
		fail("fd %d: %s", fd, strerror(errno));
}

static void check(const struct fd_state *s)
{
	struct fd_state now;

	save(&now, s->fd);
	if (now.fl != s->fl || now.pos != s->pos)
		fail("fd %d: flags 0%o pos %ld, were 0%o %ld", s->fd, now.fl, (long)now.pos, s->fl,
		     (long)s->pos);
}

static void check_stat(int fd, off_t size, mode_t perm)
{
	struct stat st;

	if (fstat(fd, &st))
		fail("fstat fd %d: %s", fd, strerror(errno));
	if (st.st_size != size || (st.st_mode & 07777) != perm || st.st_nlink != 0)
		fail("fd %d: size %ld mode 0%o links %lu, expected %ld 0%o 0", fd,
		     (long)st.st_size, st.st_mode & 07777, (unsigned long)st.st_nlink, (long)size,
		     perm);
}

static void expect(int fd, off_t off, const unsigned char *want, size_t len, const char *what)
{
	if (pread(fd, buf, len, off) != (ssize_t)len)
		fail("%s: pread %zu at %ld: %s", what, len, (long)off, strerror(errno));
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (want ? want[i] : 0))
			fail("%s: byte %ld is 0x%02x, expected 0x%02x", what, (long)(off + i),
			     buf[i], want ? want[i] : 0);
}

/* Through a new open: SEEK_DATA would move the position of fd A. */
static void check_hole(int a)
{
	char path[64];
	off_t data;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", a);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	data = lseek(fd, X_DATA, SEEK_DATA);
	if (data != X_TAIL_OFF)
		fail("x has data at %ld, its hole spans %d-%d", (long)data, X_DATA, X_TAIL_OFF);
	close(fd);
}

static int open_or_fail(const char *path, int flags)
{
	int fd = open(path, flags, 0600);

	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	char xpath[4096], ypath[4096];
	struct fd_state st[4];
	int a, a2, b, y;
	uint64_t seed;
	struct stat sx;

	test_init(argc, argv);
	seed = test_seed();
	for (size_t i = 0; i < sizeof(xdata); i++)
		xdata[i] = (unsigned char)test_mix(seed + i);
	test_path(xpath, sizeof(xpath), "x.deleted");
	test_path(ypath, sizeof(ypath), "y.deleted");
	a = open_or_fail(xpath, O_RDWR | O_CREAT | O_TRUNC);
	if (pwrite(a, xdata, X_DATA, 0) != X_DATA ||
	    pwrite(a, xdata + X_DATA, X_TAIL, X_TAIL_OFF) != X_TAIL || fchmod(a, 0640) ||
	    lseek(a, 5000, SEEK_SET) != 5000)
		fail("write %s: %s", xpath, strerror(errno));
	a2 = dup(a);
	b = open_or_fail(xpath, O_RDONLY | O_CLOEXEC);
	if (lseek(b, 7, SEEK_SET) != 7 || fstat(a, &sx))
		fail("lseek %s: %s", xpath, strerror(errno));
	y = open_or_fail(ypath, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC);
	if (write(y, "abc", 3) != 3)
		fail("write %s: %s", ypath, strerror(errno));
	if (unlink(xpath) || unlink(ypath))
		fail("unlink: %s", strerror(errno));
	save(&st[0], a);
	save(&st[1], a2);
	save(&st[2], b);
	save(&st[3], y);

	test_waitsig();

	for (int i = 0; i < 4; i++)
		check(&st[i]);
	check_stat(a, X_TAIL_OFF + X_TAIL, 0640);
	check_stat(y, 3, 0600);
	expect(b, 0, xdata, X_DATA, "x");
	for (off_t off = X_DATA; off < X_TAIL_OFF; off += X_DATA)
		expect(b, off, NULL, X_DATA, "the hole of x");
	expect(a, X_TAIL_OFF, xdata + X_DATA, X_TAIL, "the tail of x");
	check_hole(a);
	if (write(a, "AB", 2) != 2 || lseek(a2, 0, SEEK_CUR) != 5002)
		fail("fds %d and %d no longer share a position", a, a2);
	expect(b, 5000, (const unsigned char *)"AB", 2, "x written through another fd");
	if (lseek(b, 0, SEEK_CUR) != 7)
		fail("fd %d moved with fd %d", b, a);
	if (write(y, "d", 1) != 1)
		fail("write to y: %s", strerror(errno));
	check_stat(y, 4, 0600);
	pass();
}
