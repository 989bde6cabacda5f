/* A target whose unix socket pair (fds 5, 6) holds in its queue a pidfd
 * of its child, which no fd holds any more: refused (restore opens a
 * pidfd only where an fd holds it).  It counts until SIGTERM, then
 * receives the pidfd and checks that it still names the child. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static void send_fd(int sk, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, c = 'p';
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	if (sendmsg(sk, &m, 0) != 1)
		fail("sendmsg: %s", strerror(errno));
}

static int recv_fd(int sk)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, c;
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *h;
	int fd;

	if (recvmsg(sk, &m, 0) != 1 || !(h = CMSG_FIRSTHDR(&m)) || h->cmsg_type != SCM_RIGHTS)
		fail("recvmsg: %s", strerror(errno));
	memcpy(&fd, CMSG_DATA(h), sizeof(int));
	return fd;
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	char info[1024], want[32];
	int sk[2], fd;
	pid_t child;

	test_init(argc, argv);
	child = fork();
	if (child < 0)
		fail("fork: %s", strerror(errno));
	if (child == 0) {
		pause();
		_exit(0);
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sk) || dup2(sk[0], 5) != 5 || dup2(sk[1], 6) != 6)
		fail("socketpair: %s", strerror(errno));
	close(sk[0]);
	close(sk[1]);
	fd = syscall(SYS_pidfd_open, child, 0);
	if (fd < 0)
		fail("pidfd_open: %s", strerror(errno));
	send_fd(5, fd);
	close(fd);
	test_ready();
	while (test_go())
		counter++;
	fd = recv_fd(6);
	test_read_fdinfo(fd, info, sizeof(info));
	snprintf(want, sizeof(want), "\nPid:\t%d\n", child);
	if (!strstr(info, want))
		fail("the pidfd in flight no longer names child %d: %s", child, info);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	pass();
}
