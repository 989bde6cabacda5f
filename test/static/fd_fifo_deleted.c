/* FIFOs whose path was removed while open: DIR/fifo.d/ff (mode 0640) open
 * for reading, for writing and read-write, with bytes queued, then
 * unlinked; DIR/fifo.d/fr open read-write, unlinked, and a regular file
 * put at its name; a child opened ff for writing by itself (a description
 * of its own on the same FIFO).  After the restore /proc/self/fd shows the same
 * "PATH (deleted)" links, the FIFOs have their mode and no name, the
 * queued bytes come out and new ones pass between the ends; the directory
 * holds only the file that replaced fr, as it was. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

enum { R, W, RW, FR, NR };

static int fd[NR];
static char link_was[NR][4096];

static void read_link(int f, char *buf, size_t size)
{
	char proc[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f);
	n = readlink(proc, buf, size - 1);
	if (n < 0)
		fail("readlink %s: %s", proc, strerror(errno));
	buf[n] = '\0';
}

static void expect(int f, const char *want, const char *what)
{
	struct pollfd pfd = {.fd = f, .events = POLLIN};
	char buf[64];
	ssize_t n;

	if (poll(&pfd, 1, 5000) != 1)
		fail("%s: nothing to read on fd %d", what, f);
	n = read(f, buf, strlen(want));
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		fail("%s: got %zd bytes, expected '%s': %s", what, n, want, strerror(errno));
}

static void put(int f, const char *p)
{
	if (write(f, p, strlen(p)) != (ssize_t)strlen(p))
		fail("write '%s' on fd %d: %s", p, f, strerror(errno));
}

static void check_fifo(int i, mode_t perm)
{
	char now[4096];
	struct stat st;

	read_link(fd[i], now, sizeof(now));
	if (strcmp(now, link_was[i]))
		fail("fd %d is '%s', was '%s'", fd[i], now, link_was[i]);
	if (fstat(fd[i], &st) || !S_ISFIFO(st.st_mode) || (st.st_mode & 07777) != perm ||
	    st.st_nlink)
		fail("fd %d: mode 0%o, %lu links; want a FIFO of mode 0%o, no link", fd[i],
		     st.st_mode, (unsigned long)st.st_nlink, perm);
}

static void check_dir(const char *dir, const char *fr, const struct stat *was)
{
	struct stat now;
	struct dirent *de;
	char buf[16];
	DIR *d;

	if (lstat(fr, &now) || now.st_ino != was->st_ino || now.st_mode != was->st_mode ||
	    test_read_file(fr, buf, sizeof(buf)) != 5 || memcmp(buf, "other", 5))
		fail("%s is not the file that replaced the FIFO any more", fr);
	d = opendir(dir);
	if (!d)
		fail("opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "fr"))
			fail("%s/%s is left over", dir, de->d_name);
	closedir(d);
}

/* Opens FF for writing, says so, blocks across the checkpoint, then
 * writes "child" through its own description. */
static void child(const char *ff, int ready, int go)
{
	int w = open(ff, O_WRONLY | O_NONBLOCK);
	char c;

	if (w < 0 || write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
		_exit(2);
	_exit(write(w, "child", 5) == 5 ? 0 : 3);
}

int main(int argc, char **argv)
{
	char dir[4096], ff[4096], fr[4096], c;
	int f, ready[2], go[2], status;
	struct stat sr;
	pid_t pid;

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "fifo.d");
	test_path(ff, sizeof(ff), "fifo.d/ff");
	test_path(fr, sizeof(fr), "fifo.d/fr");
	if (mkdir(dir, 0755) || mkfifo(ff, 0600) || chmod(ff, 0640) || mkfifo(fr, 0600))
		fail("mkdir/mkfifo: %s", strerror(errno));
	fd[R] = open(ff, O_RDONLY | O_NONBLOCK);
	fd[W] = open(ff, O_WRONLY);
	fd[RW] = open(ff, O_RDWR);
	fd[FR] = open(fr, O_RDWR | O_NONBLOCK);
	if (fd[R] < 0 || fd[W] < 0 || fd[RW] < 0 || fd[FR] < 0)
		fail("open the FIFOs: %s", strerror(errno));
	put(fd[W], "queued");
	put(fd[FR], "in fr");
	if (pipe(ready) || pipe(go))
		fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (!pid)
		child(ff, ready[1], go[0]);
	close(go[0]);
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		fail("the child did not open %s", ff);
	close(ready[0]);
	if (unlink(ff) || unlink(fr))
		fail("unlink: %s", strerror(errno));
	f = open(fr, O_WRONLY | O_CREAT | O_EXCL, 0604);
	if (f < 0 || write(f, "other", 5) != 5 || fstat(f, &sr))
		fail("replace %s: %s", fr, strerror(errno));
	close(f);
	for (int i = 0; i < NR; i++)
		read_link(fd[i], link_was[i], sizeof(link_was[i]));

	test_waitsig();

	for (int i = R; i <= RW; i++)
		check_fifo(i, 0640);
	check_fifo(FR, 0600);
	check_dir(dir, fr, &sr);
	expect(fd[R], "queued", "the bytes queued in ff");
	expect(fd[FR], "in fr", "the bytes queued in fr");
	put(fd[W], "more");
	expect(fd[R], "more", "ff after the restore");
	put(fd[RW], "rw");
	expect(fd[R], "rw", "ff's read-write end after the restore");
	if (write(go[1], "g", 1) != 1 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		fail("the child could not write to ff (status 0x%x)", status);
	expect(fd[R], "child", "what the child wrote to ff");
	pass();
}
