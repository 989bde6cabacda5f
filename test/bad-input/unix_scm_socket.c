/* A target whose socket pair (fds 5 and 6) has a message queued on fd 6
 * that carries a unix socket (SCM_RIGHTS), the end of another pair with
 * bytes queued for it, which lmproc refuses: it counts until SIGTERM, then
 * receives the socket and checks that it still gets its bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	char cbuf[CMSG_SPACE(sizeof(int))], buf[8];
	struct iovec iov = { .iov_base = buf, .iov_len = 4 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	volatile uint64_t counter = 0;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	int sv[2], in[2], fd;

	test_init(argc, argv);
	/* Made above fds 5 and 6 first, so that nothing sits there. */
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) || socketpair(AF_UNIX, SOCK_DGRAM, 0, in))
		fail("sockets: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		int a = fcntl(sv[i], F_DUPFD, 10), b = fcntl(in[i], F_DUPFD, 10);

		close(sv[i]);
		close(in[i]);
		sv[i] = a;
		in[i] = b;
	}
	if (dup2(sv[0], 5) != 5 || dup2(sv[1], 6) != 6 || send(in[0], "deep", 4, 0) != 4)
		fail("sockets: %s", strerror(errno));
	memcpy(buf, "sock", 4);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &in[1], sizeof(int));
	if (sendmsg(5, &mh, 0) != 4)
		fail("sendmsg: %s", strerror(errno));
	close(sv[0]);
	close(sv[1]);
	close(in[0]);
	close(in[1]);
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	mh.msg_controllen = sizeof(cbuf);
	if (recvmsg(6, &mh, 0) != 4 || memcmp(buf, "sock", 4) || !CMSG_FIRSTHDR(&mh))
		fail("the message with the socket is gone: %s", strerror(errno));
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) != 4 || memcmp(buf, "deep", 4))
		fail("the socket in flight lost its bytes: %s", strerror(errno));
	pass();
}
