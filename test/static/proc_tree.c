/* Files under /proc/PID/ of processes of the tree, opened by their pid:
 * the root holds /proc/C/stat (at position 5), /proc/C/maps,
 * /proc/C/fdinfo/0 and /proc/C/cgroup of its child C, and /proc/R/status
 * of itself.  A restore must open them once C exists, not before.  After
 * the restore each fd still reads its process's file from the saved
 * position: C's stat names C, C's fdinfo has "pos:", its maps and cgroup
 * are not empty, the root's status says its own pid and parent (under
 * --pidns the original may run on with the same pids: only the parent
 * tells the restored tree's /proc from the host's). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

enum { STAT, MAPS, FDINFO, CGROUP, STATUS, NR };

static const char *const what[NR] = { "stat", "maps", "fdinfo/0", "cgroup", "status" };
static int fds[NR];

static void read_at(int i, off_t off, char *buf, size_t len)
{
	ssize_t n = pread(fds[i], buf, len - 1, off);

	if (n <= 0)
		fail("/proc/PID/%s (fd %d): read %zd: %s", what[i], fds[i], n, strerror(errno));
	buf[n] = '\0';
}

int main(int argc, char **argv)
{
	char path[64], buf[4096], want[64];
	int go[2];
	pid_t c;

	test_init(argc, argv);
	if (pipe(go))
		fail("pipe: %s", strerror(errno));
	c = fork();
	if (c < 0)
		fail("fork: %s", strerror(errno));
	if (c == 0) {
		char x;

		close(go[1]);
		_exit(read(go[0], &x, 1) == 0 ? 0 : 1);
	}
	close(go[0]);
	for (int i = 0; i < NR; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", i == STATUS ? getpid() : c, what[i]);
		fds[i] = open(path, O_RDONLY);
		if (fds[i] < 0)
			fail("open %s: %s", path, strerror(errno));
	}
	if (lseek(fds[STAT], 5, SEEK_SET) != 5)
		fail("lseek: %s", strerror(errno));

	test_waitsig();

	if (lseek(fds[STAT], 0, SEEK_CUR) != 5)
		fail("/proc/C/stat is at %ld, not 5", (long)lseek(fds[STAT], 0, SEEK_CUR));
	snprintf(want, sizeof(want), "%d (", c);
	read_at(STAT, 0, buf, sizeof(buf));
	if (strncmp(buf, want, strlen(want)))
		fail("/proc/%d/stat says \"%.20s\"", c, buf);
	read_at(FDINFO, 0, buf, sizeof(buf));
	if (!strstr(buf, "pos:"))
		fail("/proc/%d/fdinfo/0 has no pos: line", c);
	read_at(MAPS, 0, buf, sizeof(buf));
	read_at(CGROUP, 0, buf, sizeof(buf));
	snprintf(want, sizeof(want), "\nPid:\t%d\nPPid:\t%d\n", getpid(), getppid());
	read_at(STATUS, 0, buf, sizeof(buf));
	if (!strstr(buf, want))
		fail("/proc/%d/status is not the root's (pid %d, parent %d)", getpid(), getpid(),
		     getppid());
	close(go[1]);
	if (waitpid(c, NULL, 0) != c)
		fail("waitpid: %s", strerror(errno));
	pass();
}
