/* O_PATH fds: a directory (O_DIRECTORY), a file, a symlink itself
 * (O_NOFOLLOW) and a FIFO.  After the restore each refers to the same
 * inode with the same flags and still works as a path: openat() below the
 * directory, fstat of the file, readlinkat() of the symlink. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define NR 4

static int fds[NR], fl[NR];
static struct stat sts[NR];

static void save(int i, int fd)
{
	fds[i] = fd;
	if (fd < 0)
		fail("open %d: %s", i, strerror(errno));
	fl[i] = fcntl(fd, F_GETFL);
	if (fl[i] < 0 || fstatat(fd, "", &sts[i], AT_EMPTY_PATH))
		fail("fd %d: %s", fd, strerror(errno));
}

int main(int argc, char **argv)
{
	char dir[4096], file[4096], link[4096], fifo[4096], target[64];
	struct stat st;
	int fd;

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "");
	test_path(file, sizeof(file), "file");
	test_path(link, sizeof(link), "link");
	test_path(fifo, sizeof(fifo), "fifo");
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "hello", 5) != 5 || close(fd))
		fail("create %s: %s", file, strerror(errno));
	unlink(link);
	unlink(fifo);
	if (symlink("file", link) || mkfifo(fifo, 0600))
		fail("symlink/mkfifo: %s", strerror(errno));
	save(0, open(dir, O_PATH | O_DIRECTORY));
	save(1, open(file, O_PATH | O_CLOEXEC));
	save(2, open(link, O_PATH | O_NOFOLLOW));
	save(3, open(fifo, O_PATH));

	test_waitsig();

	for (int i = 0; i < NR; i++) {
		if (fcntl(fds[i], F_GETFL) != fl[i])
			fail("fd %d: flags 0%o, were 0%o", fds[i], fcntl(fds[i], F_GETFL), fl[i]);
		if (fstatat(fds[i], "", &st, AT_EMPTY_PATH))
			fail("fstat fd %d: %s", fds[i], strerror(errno));
		if (st.st_dev != sts[i].st_dev || st.st_ino != sts[i].st_ino ||
		    st.st_mode != sts[i].st_mode)
			fail("fd %d: inode %lu mode 0%o, was %lu 0%o", fds[i],
			     (unsigned long)st.st_ino, st.st_mode, (unsigned long)sts[i].st_ino,
			     sts[i].st_mode);
	}
	fd = openat(fds[0], "file", O_RDONLY);
	if (fd < 0 || read(fd, target, 5) != 5 || memcmp(target, "hello", 5))
		fail("openat below the directory fd: %s", strerror(errno));
	close(fd);
	memset(target, 0, sizeof(target));
	if (readlinkat(fds[2], "", target, sizeof(target)) != 4 || strcmp(target, "file"))
		fail("readlinkat of the symlink fd: \"%s\" %s", target, strerror(errno));
	if (read(fds[1], target, 1) != -1 || errno != EBADF)
		fail("fd %d reads: it is no longer O_PATH", fds[1]);
	pass();
}
