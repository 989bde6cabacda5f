/* File offsets and flags: an O_RDWR|O_APPEND file, an O_RDONLY file at an
 * offset with two dups (one close-on-exec at a high fd number) sharing that
 * offset, and a second, independent open of the same file.  After the
 * restore each fd has its number, flags, fd flags and offset back, the dups
 * still share one offset and the independent one does not, and O_APPEND
 * still appends (the append is cut off again: with --leave-running the
 * original runs these checks before the restored copy does). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define DATA_SIZE	(64 * 1024)
#define B_OFF		12345
#define E_OFF		777
#define HIGH_FD		40

struct fd_state {
	const char *name;
	int fd;
	int fl;
	int fdfl;
	off_t pos;
	ino_t ino;
};

static unsigned char data_byte(off_t off)
{
	return (unsigned char)(off * 131 + 7);
}

static void save(struct fd_state *s, const char *name, int fd)
{
	struct stat st;

	s->name = name;
	s->fd = fd;
	s->fl = fcntl(fd, F_GETFL);
	s->fdfl = fcntl(fd, F_GETFD);
	s->pos = lseek(fd, 0, SEEK_CUR);
	if (s->fl < 0 || s->fdfl < 0 || s->pos < 0 || fstat(fd, &st))
		fail("fd %d (%s): %s", fd, name, strerror(errno));
	s->ino = st.st_ino;
}

static void check(const struct fd_state *s)
{
	struct fd_state now;

	save(&now, s->name, s->fd);
	if (now.fl != s->fl)
		fail("fd %d (%s): F_GETFL %#o, was %#o", s->fd, s->name, now.fl, s->fl);
	if (now.fdfl != s->fdfl)
		fail("fd %d (%s): F_GETFD %#x, was %#x", s->fd, s->name, now.fdfl, s->fdfl);
	if (now.pos != s->pos)
		fail("fd %d (%s): offset %ld, was %ld", s->fd, s->name, (long)now.pos,
		     (long)s->pos);
	if (now.ino != s->ino)
		fail("fd %d (%s): inode %lu, was %lu", s->fd, s->name, (unsigned long)now.ino,
		     (unsigned long)s->ino);
}

static int create_data(const char *path)
{
	static unsigned char buf[DATA_SIZE];
	int fd;

	for (int i = 0; i < DATA_SIZE; i++)
		buf[i] = data_byte(i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, DATA_SIZE) != DATA_SIZE)
		fail("create %s: %s", path, strerror(errno));
	close(fd);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	return fd;
}

static void check_read(int fd, off_t at)
{
	unsigned char buf[16];

	if (read(fd, buf, sizeof(buf)) != sizeof(buf))
		fail("read from fd %d: %s", fd, strerror(errno));
	for (int i = 0; i < 16; i++)
		if (buf[i] != data_byte(at + i))
			fail("fd %d: byte %ld is %#x, expected %#x", fd, (long)at + i, buf[i],
			     data_byte(at + i));
}

int main(int argc, char **argv)
{
	char apath[4096], dpath[4096];
	struct fd_state st[5];
	int a, b, c, d, e;
	struct stat sa;

	test_init(argc, argv);
	test_path(apath, sizeof(apath), "append.log");
	test_path(dpath, sizeof(dpath), "data.bin");
	a = open(apath, O_RDWR | O_APPEND | O_CREAT | O_TRUNC, 0600);
	if (a < 0)
		fail("open %s: %s", apath, strerror(errno));
	for (int i = 0; i < 100; i++)
		if (write(a, "hello\n", 6) != 6)
			fail("write %s: %s", apath, strerror(errno));
	b = create_data(dpath);
	if (lseek(b, B_OFF, SEEK_SET) != B_OFF)
		fail("lseek: %s", strerror(errno));
	c = dup(b);
	d = fcntl(b, F_DUPFD_CLOEXEC, HIGH_FD);
	e = open(dpath, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (c < 0 || d != HIGH_FD || e < 0 || lseek(e, E_OFF, SEEK_SET) != E_OFF)
		fail("dup/open: %s", strerror(errno));
	save(&st[0], "append", a);
	save(&st[1], "data", b);
	save(&st[2], "data dup", c);
	save(&st[3], "data dup cloexec", d);
	save(&st[4], "data reopened", e);

	test_waitsig();

	for (int i = 0; i < 5; i++)
		check(&st[i]);
	check_read(b, B_OFF);
	if (lseek(c, 0, SEEK_CUR) != B_OFF + 16 || lseek(d, 0, SEEK_CUR) != B_OFF + 16)
		fail("dups of fd %d no longer share its offset: %ld %ld", b,
		     (long)lseek(c, 0, SEEK_CUR), (long)lseek(d, 0, SEEK_CUR));
	if (lseek(e, 0, SEEK_CUR) != E_OFF)
		fail("fd %d shares an offset it must not: %ld", e, (long)lseek(e, 0, SEEK_CUR));
	check_read(e, E_OFF);
	if (lseek(a, 0, SEEK_SET) != 0 || write(a, "world\n", 6) != 6)
		fail("write to %s after restore: %s", apath, strerror(errno));
	if (fstat(a, &sa) || ftruncate(a, 600))
		fail("fstat/ftruncate %s: %s", apath, strerror(errno));
	if (sa.st_size != 606 || lseek(a, 0, SEEK_CUR) != 606)
		fail("fd %d lost O_APPEND: size %ld offset %ld", a, (long)sa.st_size,
		     (long)lseek(a, 0, SEEK_CUR));
	pass();
}
