/* A regular file held open read-only at fd 5, at an offset: "ro.dat",
 * 64 KiB of a pattern, mtime set to a fixed time.  After SIGTERM (the
 * restore) fd 5 is still read-only at its offset, and the file it reads
 * has the pattern, size and mtime it had: restore took the file at the
 * path (--file-validation cases replace it between dump and restore). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define SIZE	(64 * 1024)
#define OFF	1000
#define MTIME	981173106	/* 2001-02-03 04:05:06 UTC */

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}

static void make_file(const char *path)
{
	static unsigned char buf[SIZE];
	struct timespec ts[2] = { { MTIME, 0 }, { MTIME, 0 } };
	int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	for (size_t i = 0; i < SIZE; i++)
		buf[i] = pattern(i);
	if (f < 0 || write(f, buf, SIZE) != SIZE || futimens(f, ts) || close(f))
		fail("make %s: %s", path, strerror(errno));
}

static void check_fd(void)
{
	static unsigned char buf[SIZE];
	struct stat st;
	int fl = fcntl(5, F_GETFL);

	if (fl < 0 || (fl & O_ACCMODE) != O_RDONLY)
		fail("fd 5 is not read-only (flags %#x)", fl);
	if (lseek(5, 0, SEEK_CUR) != OFF)
		fail("fd 5 is at %lld, not %d", (long long)lseek(5, 0, SEEK_CUR), OFF);
	if (fstat(5, &st) || st.st_size != SIZE || st.st_mtim.tv_sec != MTIME)
		fail("fd 5's file is %lld bytes, mtime %lld", (long long)st.st_size,
		     (long long)st.st_mtim.tv_sec);
	if (pread(5, buf, SIZE, 0) != SIZE)
		fail("short read of fd 5");
	for (size_t i = 0; i < SIZE; i++)
		if (buf[i] != pattern(i))
			fail("fd 5's file differs at byte %zu", i);
}

int main(int argc, char **argv)
{
	char path[4096];
	int f;

	test_init(argc, argv);
	test_path(path, sizeof(path), "ro.dat");
	make_file(path);
	f = open(path, O_RDONLY);
	if (f < 0 || dup2(f, 5) != 5 || close(f) || lseek(5, OFF, SEEK_SET) != OFF)
		fail("open %s at fd 5: %s", path, strerror(errno));
	test_waitsig();
	check_fd();
	pass();
}
