/* FIFOs and file locks in a tree of two processes: the root and its
 * child C share a FIFO (the root kept the write end, C the read end, 3000
 * bytes in it) and the description of file A, which the root flock()ed;
 * each holds POSIX locks of its own on file B (the root 0-9, C 20-29) and
 * C an OFD lock on its own description of file D.  After the restore the
 * FIFO holds its bytes once, and every lock is held by the same owner:
 * C, woken through a pipe, checks the root's locks from its side, the
 * root checks C's and that a new description of A can't take a flock. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define FIFO_LEN 3000

static int go_pipe[2], res_pipe[2];
static unsigned char data[FIFO_LEN], buf[FIFO_LEN + 1];
static char path_a[4096], path_b[4096], path_d[4096];

static int open_file(const char *path)
{
	int f = open(path, O_RDWR | O_CREAT, 0600);

	if (f < 0)
		fail("open %s: %s", path, strerror(errno));
	return f;
}

static int lock(int f, int cmd, off_t start, off_t len)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start,
			    .l_len = len };

	return fcntl(f, cmd, &fl);
}

/* The owner of a lock conflicting with a write lock on START+LEN through
 * F (CMD: F_GETLK or F_OFD_GETLK): 0 if none. */
static pid_t holder(int f, int cmd, off_t start, off_t len)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start,
			    .l_len = len };

	if (fcntl(f, cmd, &fl))
		return -2;
	return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void report(const char *fmt, ...)
{
	char why[120] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (write(res_pipe[1], why, sizeof(why)) != sizeof(why))
		_exit(3);
}

static void child_body(int rd, pid_t root)
{
	int b = open_file(path_b), d = open_file(path_d);
	pid_t h;
	ssize_t n;
	char c;

	if (lock(b, F_SETLK, 20, 10) || lock(d, F_OFD_SETLK, 0, 0))
		_exit(4);
	if (read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	n = read(rd, buf, sizeof(buf));
	if (n != FIFO_LEN || memcmp(buf, data, FIFO_LEN))
		report("the FIFO holds %zd bytes, not its %d (or other ones)", n, FIFO_LEN);
	else if ((h = holder(b, F_GETLK, 0, 10)) != root)
		report("B 0-9 is held by %d, not the root %d", h, root);
	else if ((h = holder(b, F_GETLK, 20, 10)) != 0)
		report("C's own lock on B 20-29 conflicts with %d", h);
	else
		report("ok");
	_exit(0);
}

int main(int argc, char **argv)
{
	char fifo[4096], why[120];
	int rd, wr, a, a2, b, d2;
	uint64_t seed;
	pid_t c, h;

	test_init(argc, argv);
	seed = test_seed();
	for (int i = 0; i < FIFO_LEN; i++)
		data[i] = (unsigned char)test_mix(seed + i);
	test_path(fifo, sizeof(fifo), "fifo");
	test_path(path_a, sizeof(path_a), "a");
	test_path(path_b, sizeof(path_b), "b");
	test_path(path_d, sizeof(path_d), "d");
	if (mkfifo(fifo, 0600) || pipe(go_pipe) || pipe(res_pipe))
		fail("mkfifo, pipes: %s", strerror(errno));
	rd = open(fifo, O_RDONLY | O_NONBLOCK);
	wr = open(fifo, O_WRONLY);
	a = open_file(path_a);
	if (rd < 0 || wr < 0 || write(wr, data, FIFO_LEN) != FIFO_LEN || flock(a, LOCK_EX))
		fail("FIFO, flock: %s", strerror(errno));
	c = fork();
	if (c < 0)
		fail("fork: %s", strerror(errno));
	if (c == 0) {
		close(wr);
		child_body(rd, getppid());
	}
	close(rd);
	b = open_file(path_b);
	a2 = open_file(path_a);
	d2 = open_file(path_d);
	if (lock(b, F_SETLK, 0, 10))
		fail("lock B: %s", strerror(errno));
	/* C has taken its locks once B 20-29 is held. */
	for (int i = 0; i < 500 && holder(d2, F_OFD_GETLK, 0, 0) != -1; i++)
		usleep(10000);
	if (holder(d2, F_OFD_GETLK, 0, 0) != -1)
		fail("C did not lock D");
	test_waitsig();

	if ((h = holder(d2, F_OFD_GETLK, 0, 0)) != -1)
		fail("D is held by %d, not C's OFD lock", h);
	if ((h = holder(b, F_GETLK, 20, 10)) != c)
		fail("B 20-29 is held by %d, not C %d", h, c);
	if (flock(a2, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		fail("A: another description took the flock (%s)", strerror(errno));
	if (write(go_pipe[1], "g", 1) != 1)
		fail("wake C: %s", strerror(errno));
	if (read(res_pipe[0], why, sizeof(why)) != sizeof(why))
		fail("C's report: %s", strerror(errno));
	if (strcmp(why, "ok"))
		fail("C: %s", why);
	if (waitpid(c, NULL, 0) != c)
		fail("waitpid C: %s", strerror(errno));
	pass();
}
