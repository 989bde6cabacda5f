/* A process tree three deep and a zombie: the root forks A (which leads a
 * process group of its own) and the zombie Z (exited with 42, not reaped);
 * A forks B.  Every process shares one open file description (position
 * included) and two pipes with the root, and keeps a pattern in its own
 * memory.  After the restore: Z is still a zombie with status 42 for the
 * root's waitid(), with its name; A and B, woken through a pipe they block reading in,
 * check their parent, group, session and memory, append through the shared
 * description and report through the other pipe; the root checks the
 * reports and that the shared position moved by both appends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "tree-child.h"

#define FILE_LEN 100
#define ZOMBIE_STATUS 42

static int go_pipe[2], shared_fd;

/* Blocks in read() across the checkpoint, then checks itself. */
static void child_body(int level)
{
	struct tree_ids before;
	char c;

	tree_fill(level);
	tree_save_ids(&before);
	if (read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	if (!tree_check_self(level, &before))
		return;
	if (write(shared_fd, "x", 1) != 1)
		tree_report(level, 0, "append to the shared file: %s", strerror(errno));
	else
		tree_report(level, 1, "ok");
}

static pid_t fork_a(void)
{
	pid_t a = fork(), b;

	if (a)
		return a;
	setpgid(0, 0);
	b = fork();
	if (b == 0) {
		child_body(2);
		_exit(0);
	}
	child_body(1);
	waitpid(b, NULL, 0);
	_exit(0);
}

static char zombie_comm[64];

static void read_comm(pid_t z, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", z);
	n = test_read_file(path, buf, len - 1);
	if (n <= 0)
		fail("read %s: %s", path, strerror(errno));
	buf[n] = '\0';
}

static void check_zombie(pid_t z)
{
	siginfo_t si = { 0 };
	char comm[64];

	if (waitid(P_PID, z, &si, WEXITED | WNOWAIT | WNOHANG))
		fail("waitid zombie %d: %s", z, strerror(errno));
	if (si.si_pid != z || si.si_code != CLD_EXITED || si.si_status != ZOMBIE_STATUS)
		fail("zombie %d: pid %d code %d status %d", z, si.si_pid, si.si_code,
		     si.si_status);
	read_comm(z, comm, sizeof(comm));
	if (strcmp(comm, zombie_comm))
		fail("zombie %d is named %s, was %s", z, comm, zombie_comm);
}

int main(int argc, char **argv)
{
	char path[4096], buf[FILE_LEN];
	siginfo_t si;
	pid_t a, z;
	off_t pos;

	test_init(argc, argv);
	tree_seed = test_seed();
	test_path(path, sizeof(path), "shared");
	shared_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	memset(buf, 'a', sizeof(buf));
	if (shared_fd < 0 || write(shared_fd, buf, sizeof(buf)) != sizeof(buf))
		fail("shared file %s: %s", path, strerror(errno));
	if (pipe(go_pipe) || pipe(tree_res_pipe))
		fail("pipe: %s", strerror(errno));
	a = fork_a();
	z = fork();
	if (z == 0) {
		prctl(PR_SET_NAME, "zombie-42");
		_exit(ZOMBIE_STATUS);
	}
	if (a < 0 || z < 0)
		fail("fork: %s", strerror(errno));
	if (waitid(P_PID, z, &si, WEXITED | WNOWAIT))
		fail("waitid %d: %s", z, strerror(errno));
	read_comm(z, zombie_comm, sizeof(zombie_comm));
	tree_fill(0);
	test_waitsig();

	check_zombie(z);
	if (tree_check_pattern(0) >= 0)
		fail("root memory differs");
	if (write(go_pipe[1], "gg", 2) != 2)
		fail("wake the children: %s", strerror(errno));
	tree_collect(2);
	pos = lseek(shared_fd, 0, SEEK_CUR);
	if (pos != FILE_LEN + 2)
		fail("shared position %lld, expected %d", (long long)pos, FILE_LEN + 2);
	if (waitpid(a, &si.si_status, 0) != a)
		fail("waitpid A: %s", strerror(errno));
	if (waitpid(z, &si.si_status, 0) != z || !WIFEXITED(si.si_status) ||
	    WEXITSTATUS(si.si_status) != ZOMBIE_STATUS)
		fail("reaping zombie %d", z);
	pass();
}
