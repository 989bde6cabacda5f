/* Unix sockets whose maker has exited, as a daemon leaves them when it
 * listens, then forks and its first process goes: a listener, a socket
 * pair and a connection to that listener, made by a middle process that
 * forks the holder and exits (the root, a subreaper, adopts the holder).
 * SO_PEERCRED of each names the middle's pid, gone: so must it after the
 * restore, and a client that connects then must read it from the
 * listener as before. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define NR_FDS 5

static int fds[NR_FDS], res_pipe[2], go_pipe[2];
static struct ucred was[NR_FDS];
static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static socklen_t addr_len;

static int peer(int fd, struct ucred *c)
{
	socklen_t len = sizeof(*c);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, c, &len);
}

/* "ok" in WHY, or which socket's credentials differ from MAKER's or
 * from before. */
static void check(pid_t maker, char *why, size_t len)
{
	struct ucred now;
	int c;

	snprintf(why, len, "ok");
	for (int i = 0; i < NR_FDS; i++) {
		if (peer(fds[i], &now) || now.pid != was[i].pid || now.uid != was[i].uid) {
			snprintf(why, len, "socket %d: peer pid %d uid %u, was pid %d uid %u", i,
				 now.pid, now.uid, was[i].pid, was[i].uid);
			return;
		}
	}
	/* A client made now copies the listener's credentials. */
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&addr, addr_len) || peer(c, &now)) {
		snprintf(why, len, "a new client: %s", strerror(errno));
		return;
	}
	if (now.pid != maker)
		snprintf(why, len, "a new client reads the listener's pid %d, not %d", now.pid,
			 maker);
	close(c);
}

static void holder(pid_t maker)
{
	char why[160], c;

	for (int i = 0; i < NR_FDS; i++)
		if (peer(fds[i], &was[i]))
			_exit(2);
	if (write(res_pipe[1], "r", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(3);
	check(maker, why, sizeof(why));
	if (write(res_pipe[1], why, sizeof(why)) != sizeof(why))
		_exit(4);
	_exit(0);
}

/* The middle process: makes the sockets, forks their holder, exits. */
static void maker(void)
{
	pid_t self = getpid(), pid;
	int cli;

	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "lmproc-peercred-gone-%d", self);
	addr_len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1);
	fds[0] = socket(AF_UNIX, SOCK_STREAM, 0);
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fds[0] < 0 || cli < 0 || bind(fds[0], (struct sockaddr *)&addr, addr_len) ||
	    listen(fds[0], 4) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, &fds[1]) ||
	    connect(cli, (struct sockaddr *)&addr, addr_len))
		_exit(5);
	fds[3] = cli;
	fds[4] = accept(fds[0], NULL, NULL);
	if (fds[4] < 0)
		_exit(6);
	pid = fork();
	if (pid == 0)
		holder(self);
	_exit(pid < 0 ? 7 : 0);
}

int main(int argc, char **argv)
{
	char why[160], c;
	pid_t mid, held;
	int st;

	test_init(argc, argv);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) || pipe(res_pipe) || pipe(go_pipe))
		fail("set up: %s", strerror(errno));
	mid = fork();
	if (mid == 0)
		maker();
	if (mid < 0 || waitpid(mid, &st, 0) != mid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("the maker failed: status %#x", st);
	if (read(res_pipe[0], &c, 1) != 1)
		fail("the holder is not ready: %s", strerror(errno));
	test_waitsig();

	if (write(go_pipe[1], "g", 1) != 1 || read(res_pipe[0], why, sizeof(why)) != sizeof(why))
		fail("the holder: no report: %s", strerror(errno));
	if (strcmp(why, "ok"))
		fail("the holder: %s", why);
	held = waitpid(-1, &st, 0);
	if (held < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("the holder: exit status %#x", st);
	pass();
}
