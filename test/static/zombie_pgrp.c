/* Zombies in process groups other than their parent's: the root forks Y,
 * which leads its own group and exits, and L, which leads a group of its
 * own, and Z, which joins L's group and exits (neither reaped); L then
 * exits and is reaped, so its group lives on in its zombie only.  After the restore each zombie is still a zombie in its group
 * (/proc/PID/stat), with its exit status.  Run in a loop by the
 * zombie-pgrp case (the restore's order decides it: it failed 4 runs in
 * 10). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define NR 2

static pid_t l_pid, z[NR];
static const int status[NR] = { 7, 8 };

/* Y is z[0], Z is z[1]. */
static pid_t group_of(int i)
{
	return i ? l_pid : z[0];
}

static pid_t pgrp_of(pid_t pid, char *state)
{
	char path[64], buf[512], *p;
	int pgrp = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = test_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		fail("can't read %s", path);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%c %*d %d", state, &pgrp) != 2)
		fail("can't parse %s", path);
	return pgrp;
}

/* A child that joins group PGID (0: its own), then exits with ST. */
static pid_t zombie(pid_t pgid, int st)
{
	pid_t pid = fork();

	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		if (setpgid(0, pgid))
			_exit(100);
		_exit(st);
	}
	return pid;
}

static void wait_zombie(pid_t pid)
{
	siginfo_t si;

	if (waitid(P_PID, pid, &si, WEXITED | WNOWAIT))
		fail("waitid %d: %s", pid, strerror(errno));
}

int main(int argc, char **argv)
{
	int go[2];
	char c, st;

	test_init(argc, argv);
	if (pipe(go))
		fail("pipe: %s", strerror(errno));
	l_pid = fork();
	if (l_pid < 0)
		fail("fork: %s", strerror(errno));
	if (l_pid == 0) {
		setpgid(0, 0);
		close(go[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	setpgid(l_pid, l_pid);
	close(go[0]);
	z[0] = zombie(0, status[0]);
	z[1] = zombie(l_pid, status[1]);
	for (int i = 0; i < NR; i++)
		wait_zombie(z[i]);
	close(go[1]);
	if (waitpid(l_pid, NULL, 0) != l_pid)
		fail("reaping the leader: %s", strerror(errno));
	for (int i = 0; i < NR; i++)
		if (pgrp_of(z[i], &st) != group_of(i) || st != 'Z')
			fail("zombie %d before the checkpoint: group %d, state %c", z[i],
			     pgrp_of(z[i], &st), st);

	test_waitsig();

	for (int i = 0; i < NR; i++) {
		pid_t want = group_of(i), got = pgrp_of(z[i], &st);
		int ws;

		if (st != 'Z' || got != want)
			fail("zombie %d: state %c, group %d; was a zombie in group %d", z[i], st,
			     got, want);
		if (waitpid(z[i], &ws, 0) != z[i] || !WIFEXITED(ws) ||
		    WEXITSTATUS(ws) != status[i])
			fail("zombie %d: wait status 0x%x, exited with %d", z[i], ws, status[i]);
	}
	pass();
}
