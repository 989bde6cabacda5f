/* The peer credentials (SO_PEERCRED: pid, uid, gid; SO_PEERGROUPS) of unix
 * sockets as a daemon's processes have them: socket pairs of each type
 * made by the parent before it forks (with an effective uid, gid and
 * groups not its real ones, as a daemon that dropped them has), split
 * between parent and child or held by both; a listener (listened with
 * other ids again) the child accepts a connection from, which the parent
 * connected after the fork.  Each process notes the credentials of every
 * socket it holds before the checkpoint and checks them after; the child
 * reports to the parent. */
#include <errno.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define NR_TYPES 3
#define NR_FDS 16
#define MAX_GROUPS 8

struct cred_note {
	int fd;
	struct ucred c;
	int nr_groups;
	gid_t groups[MAX_GROUPS];
};

static const int types[NR_TYPES] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
static int sp[NR_TYPES][2], both[2], res_pipe[2], go_pipe[2];
static int lsn, cli, acc = -1;
static struct cred_note notes[NR_FDS];
static int nr_notes;

/* The effective ids (only the calling thread's, as the kernel sees them)
 * become UID, GID and GROUPS; back to root with UID 0. */
static void ids(uid_t uid, gid_t gid, int n, const gid_t *groups)
{
	if (syscall(SYS_setresuid, -1, 0, -1) || syscall(SYS_setgroups, n, groups) ||
	    syscall(SYS_setresgid, -1, gid, -1) || syscall(SYS_setresuid, -1, uid, -1))
		fail("set ids %u/%u: %s", uid, gid, strerror(errno));
}

static int read_cred(int fd, struct cred_note *n, char *why, size_t len)
{
	socklen_t cl = sizeof(n->c), gl = sizeof(n->groups);

	n->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &n->c, &cl) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, n->groups, &gl)) {
		snprintf(why, len, "fd %d: getsockopt: %s", fd, strerror(errno));
		return -1;
	}
	n->nr_groups = gl / sizeof(gid_t);
	return 0;
}

static void note(int fd)
{
	char why[120];

	if (read_cred(fd, &notes[nr_notes++], why, sizeof(why)))
		fail("%s", why);
}

/* Every noted socket has the credentials it had: "ok" in WHY, or why not. */
static void check_notes(char *why, size_t len)
{
	snprintf(why, len, "ok");
	for (int i = 0; i < nr_notes; i++) {
		struct cred_note now, *was = &notes[i];

		if (read_cred(was->fd, &now, why, len))
			return;
		if (now.c.pid != was->c.pid || now.c.uid != was->c.uid || now.c.gid != was->c.gid ||
		    now.nr_groups != was->nr_groups ||
		    memcmp(now.groups, was->groups, was->nr_groups * sizeof(gid_t))) {
			snprintf(why, len, "fd %d: pid %d uid %u gid %u (%d groups, first %u), "
				 "was pid %d uid %u gid %u (%d groups, first %u)", was->fd,
				 now.c.pid, now.c.uid, now.c.gid, now.nr_groups, now.groups[0],
				 was->c.pid, was->c.uid, was->c.gid, was->nr_groups,
				 was->groups[0]);
			return;
		}
	}
}

static void child(void)
{
	char why[200], c;

	for (int t = 0; t < NR_TYPES; t++) {
		close(sp[t][0]);
		note(sp[t][1]);
	}
	note(both[0]);
	note(both[1]);
	note(lsn);
	acc = accept(lsn, NULL, NULL);
	if (acc < 0)
		fail("accept: %s", strerror(errno));
	note(acc);
	if (write(res_pipe[1], "r", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	check_notes(why, sizeof(why));
	if (write(res_pipe[1], why, sizeof(why)) != sizeof(why))
		_exit(3);
	_exit(0);
}

static void make_listener(void)
{
	static const gid_t lgroups[] = { 4323, 4324 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len;

	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "lmproc-peercred-%d", getpid());
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
	lsn = socket(AF_UNIX, SOCK_STREAM, 0);
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lsn < 0 || cli < 0 || bind(lsn, (struct sockaddr *)&a, len) || listen(lsn, 4))
		fail("listener: %s", strerror(errno));
	/* Listening again gives the listener (and its later clients) new ids. */
	ids(4321, 4322, 2, lgroups);
	if (listen(lsn, 4))
		fail("listen again: %s", strerror(errno));
	ids(0, 0, 0, NULL);
}

static void connect_client(void)
{
	static const gid_t cgroups[] = { 65534 };
	struct sockaddr_un a;
	socklen_t len = sizeof(a);

	if (getsockname(lsn, (struct sockaddr *)&a, &len))
		fail("getsockname: %s", strerror(errno));
	ids(65534, 65534, 1, cgroups);
	if (connect(cli, (struct sockaddr *)&a, len))
		fail("connect: %s", strerror(errno));
	ids(0, 0, 0, NULL);
}

int main(int argc, char **argv)
{
	static const gid_t pgroups[] = { 1001, 1002, 1003 };
	char why[200], c;
	pid_t pid;
	int st;

	test_init(argc, argv);
	ids(1000, 1000, 3, pgroups);
	for (int t = 0; t < NR_TYPES; t++)
		if (socketpair(AF_UNIX, types[t], 0, sp[t]))
			fail("socketpair type %d: %s", types[t], strerror(errno));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, both))
		fail("socketpair: %s", strerror(errno));
	ids(0, 0, 0, NULL);
	if (pipe(res_pipe) || pipe(go_pipe))
		fail("pipe: %s", strerror(errno));
	make_listener();
	pid = fork();
	if (pid == 0)
		child();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	connect_client();
	for (int t = 0; t < NR_TYPES; t++) {
		close(sp[t][1]);
		note(sp[t][0]);
	}
	note(both[0]);
	note(both[1]);
	note(lsn);
	note(cli);
	if (read(res_pipe[0], &c, 1) != 1)
		fail("the child is not ready: %s", strerror(errno));
	test_waitsig();

	check_notes(why, sizeof(why));
	if (strcmp(why, "ok"))
		fail("parent: %s", why);
	if (write(go_pipe[1], "g", 1) != 1 || read(res_pipe[0], why, sizeof(why)) != sizeof(why))
		fail("child: no report: %s", strerror(errno));
	if (strcmp(why, "ok"))
		fail("child: %s", why);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child: exit status %#x", st);
	pass();
}
