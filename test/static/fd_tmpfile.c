/* Files made with O_TMPFILE, never named (a database's temporary files):
 * after the restore each has its contents, size, permissions and link
 * count 0, every description its flags (O_TMPFILE among them) and
 * position, a description shared by two processes is still one, and the
 * file can still be given a name with linkat.
 *   T  10000 bytes, mode 0640, O_RDWR at 1234, shared with child C
 *   U  "abc", O_WRONLY|O_APPEND, mode 0600
 * After the checkpoint the root writes "AB" through T, C checks it sees
 * the position move and the bytes, then the root links T and U. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define T_LEN 10000
#define T_POS 1234

static unsigned char tdata[T_LEN], buf[T_LEN];

static void expect_fd(int fd, int flags, off_t pos, off_t size, mode_t perm)
{
	off_t now = lseek(fd, 0, SEEK_CUR);
	int fl = fcntl(fd, F_GETFL);
	struct stat st;

	if (fstat(fd, &st))
		fail("fstat fd %d: %s", fd, strerror(errno));
	if (fl != flags || now != pos)
		fail("fd %d: flags 0%o pos %ld, expected 0%o %ld", fd, fl, (long)now, flags,
		     (long)pos);
	if (st.st_size != size || (st.st_mode & 07777) != perm || st.st_nlink != 0)
		fail("fd %d: size %ld mode 0%o links %lu, expected %ld 0%o 0", fd,
		     (long)st.st_size, st.st_mode & 07777, (unsigned long)st.st_nlink, (long)size,
		     perm);
}

static void expect_data(int fd, off_t off, const void *want, size_t len, const char *what)
{
	if (pread(fd, buf, len, off) != (ssize_t)len || memcmp(buf, want, len))
		fail("%s: the %zu bytes at %ld differ (%s)", what, len, (long)off,
		     strerror(errno));
}

/* C: sleeps until told, then checks the shared description T. */
static void child(int t, int go, int res)
{
	char c, verdict = 'F';

	if (read(go, &c, 1) == 1 && lseek(t, 0, SEEK_CUR) == T_POS + 2) {
		if (pread(t, buf, 2, T_POS) == 2 && !memcmp(buf, "AB", 2))
			verdict = 'P';
	}
	_exit(write(res, &verdict, 1) == 1 && verdict == 'P' ? 0 : 1);
}

/* Gives FD's file the name DIR/NAME, checks it is that file, removes it. */
static void link_and_check(int fd, const char *name)
{
	char from[64], to[4096];
	struct stat a, b;

	snprintf(from, sizeof(from), "/proc/self/fd/%d", fd);
	test_path(to, sizeof(to), name);
	unlink(to);
	if (linkat(AT_FDCWD, from, AT_FDCWD, to, AT_SYMLINK_FOLLOW))
		fail("linkat fd %d to %s: %s", fd, to, strerror(errno));
	if (stat(to, &a) || fstat(fd, &b) || a.st_ino != b.st_ino || b.st_nlink != 1)
		fail("%s is not the file of fd %d", to, fd);
	if (unlink(to))
		fail("unlink %s: %s", to, strerror(errno));
}

static int make_tmpfile(const char *dir, int flags, mode_t perm)
{
	int fd = open(dir, O_TMPFILE | flags, perm);

	if (fd < 0)
		fail("open(%s, O_TMPFILE): %s", dir, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	int t, u, tfl, ufl, go[2], res[2], status;
	char dir[4096], v;
	uint64_t seed;
	pid_t c;

	test_init(argc, argv);
	seed = test_seed();
	for (size_t i = 0; i < sizeof(tdata); i++)
		tdata[i] = (unsigned char)test_mix(seed + i);
	test_path(dir, sizeof(dir), "");
	t = make_tmpfile(dir, O_RDWR, 0640);
	u = make_tmpfile(dir, O_WRONLY | O_APPEND, 0600);
	if (write(t, tdata, T_LEN) != T_LEN || lseek(t, T_POS, SEEK_SET) != T_POS ||
	    write(u, "abc", 3) != 3)
		fail("write the tmpfiles: %s", strerror(errno));
	tfl = fcntl(t, F_GETFL);
	ufl = fcntl(u, F_GETFL);
	if ((tfl & O_TMPFILE) != O_TMPFILE || pipe(go) || pipe(res))
		fail("flags 0%o without O_TMPFILE, or pipe: %s", tfl, strerror(errno));
	c = fork();
	if (c < 0)
		fail("fork: %s", strerror(errno));
	if (!c)
		child(t, go[0], res[1]);

	test_waitsig();

	expect_fd(t, tfl, T_POS, T_LEN, 0640);
	expect_fd(u, ufl, 3, 3, 0600);
	expect_data(t, 0, tdata, T_LEN, "T");
	if (write(t, "AB", 2) != 2 || write(u, "d", 1) != 1)
		fail("write after the restore: %s", strerror(errno));
	if (write(go[1], "g", 1) != 1 || read(res[0], &v, 1) != 1 || v != 'P')
		fail("child %d does not share T's description (position or bytes)", c);
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("child %d ended with status 0x%x", c, status);
	expect_fd(u, ufl, 4, 4, 0600);
	link_and_check(t, "t.linked");
	link_and_check(u, "u.linked");
	pass();
}
