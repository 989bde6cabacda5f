/* A target whose unix socket at fd 8 has peer credentials (SO_PEERCRED)
 * naming another process than the one restore makes it in: the root
 * listens, its child connects and the root accepts at fd 8, whose credentials name the child (restore makes a
 * connection in the process above all that hold it: the root); with
 * PEERCRED_DEAD set, fd 8 is an end of a socket pair a child made, sent
 * to the root and exited: its credentials name a pid that is gone, which
 * restore lends for the call that makes the pair again.  The
 * root counts until SIGTERM, then checks the credentials are the same. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static int got_fd(int s)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	int fd;

	if (recvmsg(s, &mh, 0) != 1 || !CMSG_FIRSTHDR(&mh))
		fail("recvmsg: %s", strerror(errno));
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(fd));
	return fd;
}

static void send_fd(int s, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = "f", .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	if (sendmsg(s, &mh, 0) != 1)
		_exit(2);
}

/* A socket pair made by a child that exits: the root keeps one end. */
static int dead_maker(void)
{
	int link[2], sv[2], fd, st;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, link))
		fail("socketpair: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			_exit(2);
		send_fd(link[1], sv[0]);
		_exit(0);
	}
	fd = got_fd(link[0]);
	if (waitpid(pid, &st, 0) != pid || st)
		fail("the child that made the pair: status %#x", st);
	close(link[0]);
	close(link[1]);
	return fd;
}

/* The child connects to the root's listener; the root accepts. */
static int child_client(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len;
	int l, c, fd;
	pid_t pid;

	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "lmproc-peercred-bad-%d", getpid());
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 4))
		fail("listener: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, len))
			_exit(2);
		while (1)
			pause();
	}
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	fd = accept(l, NULL, NULL);
	if (fd < 0)
		fail("accept: %s", strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	struct ucred was, now;
	socklen_t len = sizeof(was);
	int fd;

	test_init(argc, argv);
	fd = getenv("PEERCRED_DEAD") ? dead_maker() : child_client();
	if (dup2(fd, 8) != 8 || getsockopt(8, SOL_SOCKET, SO_PEERCRED, &was, &len))
		fail("fd 8: %s", strerror(errno));
	close(fd);
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (getsockopt(8, SOL_SOCKET, SO_PEERCRED, &now, &len) || now.pid != was.pid ||
	    now.uid != was.uid || now.gid != was.gid)
		fail("fd 8: peer credentials changed");
	pass();
}
