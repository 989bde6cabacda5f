/* Sessions and process groups as a shell and a daemon leave them: the
 * root forks S, which starts a session and runs a "job" there: T leads a
 * group, U joins T's group (both set by S, as a shell does); and P, which
 * first forks Q and then starts a session of its own, so that Q stays in
 * the root's session below a session leader; and in S's session a job
 * whose leader L has ended, with M left in L's group.  After the restore every
 * process checks that its pid, parent, group and session are as they were,
 * and its memory; the root collects the reports. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "tree-child.h"

#define NR_REPORTS 6

static int go_pipe[2], setup_pipe[2], m_pipe[2], ready_pipe[2];

/* Blocks in read() across the checkpoint, then checks itself. */
static void child_body(int level)
{
	struct tree_ids before;
	char c;

	tree_fill(level);
	/* T, U and M: S has put them into their group. */
	if ((level == 2 || level == 3) && read(setup_pipe[0], &c, 1) != 1)
		_exit(2);
	if (level == 6 && read(m_pipe[0], &c, 1) != 1)
		_exit(2);
	tree_save_ids(&before);
	if (write(ready_pipe[1], "r", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	if (!tree_check_self(level, &before))
		return;
	tree_report(level, 1, "ok");
}

static pid_t fork_body(int level)
{
	pid_t pid = fork();

	if (pid == 0) {
		child_body(level);
		_exit(0);
	}
	return pid;
}

/* S: a session leader with a two-process job in one group, and a job
 * whose first process L (its group's leader) has ended while M runs on. */
static void session_s(void)
{
	int l_pipe[2];
	pid_t t, u, l, m;
	char c;

	if (setsid() < 0)
		_exit(4);
	t = fork_body(2);
	if (t < 0 || setpgid(t, t))
		_exit(5);
	u = fork_body(3);
	if (u < 0 || setpgid(u, t) || write(setup_pipe[1], "ss", 2) != 2)
		_exit(6);
	if (pipe(l_pipe))
		_exit(8);
	l = fork();
	if (l == 0)
		_exit(read(l_pipe[0], &c, 1) == 1 ? 0 : 9);
	if (l < 0 || setpgid(l, l))
		_exit(10);
	m = fork_body(6);
	if (m < 0 || setpgid(m, l) || write(l_pipe[1], "x", 1) != 1 || waitpid(l, NULL, 0) != l ||
	    write(m_pipe[1], "s", 1) != 1)
		_exit(11);
	child_body(1);
	waitpid(t, NULL, 0);
	waitpid(u, NULL, 0);
	waitpid(m, NULL, 0);
	_exit(0);
}

/* P: forks Q, then leaves the session Q stays in. */
static void session_p(void)
{
	pid_t q = fork_body(5);

	if (q < 0 || setsid() < 0)
		_exit(7);
	child_body(4);
	waitpid(q, NULL, 0);
	_exit(0);
}

int main(int argc, char **argv)
{
	pid_t kids[2];

	test_init(argc, argv);
	tree_seed = test_seed();
	if (pipe(go_pipe) || pipe(tree_res_pipe) || pipe(setup_pipe) || pipe(m_pipe) ||
	    pipe(ready_pipe))
		fail("pipe: %s", strerror(errno));
	kids[0] = fork();
	if (kids[0] == 0)
		session_s();
	kids[1] = fork();
	if (kids[1] == 0)
		session_p();
	if (kids[0] < 0 || kids[1] < 0)
		fail("fork: %s", strerror(errno));
	tree_fill(0);
	for (int i = 0; i < NR_REPORTS; i++) {
		char c;

		if (read(ready_pipe[0], &c, 1) != 1)
			fail("ready %d: %s", i, strerror(errno));
	}
	test_waitsig();

	if (tree_check_pattern(0) >= 0)
		fail("root memory differs");
	if (write(go_pipe[1], "gggggg", NR_REPORTS) != NR_REPORTS)
		fail("wake the children: %s", strerror(errno));
	tree_collect(NR_REPORTS);
	for (int i = 0; i < 2; i++) {
		int st;

		if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			fail("child %d ended with status 0x%x", kids[i], st);
	}
	pass();
}
