/* A target whose socket pair (fds 5 and 6) has a message queued on fd 6
 * that carries a file with a flock lock, which the sender then closed: the
 * lock lives only in flight, so lmproc refuses the dump rather than lose
 * it.  The target counts until SIGTERM, then receives the file and checks
 * the lock is still held (another open of the file can't take it). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	char cbuf[CMSG_SPACE(sizeof(int))], buf[8], path[512];
	struct iovec iov = { .iov_base = buf, .iov_len = 4 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	volatile uint64_t counter = 0;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	int sv[2], f, fd, other;

	test_init(argc, argv);
	test_path(path, sizeof(path), "locked");
	f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f < 0 || flock(f, LOCK_EX | LOCK_NB))
		fail("lock %s: %s", path, strerror(errno));
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		fail("sockets: %s", strerror(errno));
	/* Above 5 and 6 first, so that dup2 closes none of them. */
	for (int i = 0; i < 2; i++) {
		int a = fcntl(sv[i], F_DUPFD, 10);

		close(sv[i]);
		sv[i] = a;
	}
	if (dup2(sv[0], 5) != 5 || dup2(sv[1], 6) != 6)
		fail("sockets: %s", strerror(errno));
	close(sv[0]);
	close(sv[1]);
	memcpy(buf, "lock", 4);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &f, sizeof(int));
	if (sendmsg(5, &mh, 0) != 4)
		fail("sendmsg: %s", strerror(errno));
	close(f);
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	mh.msg_controllen = sizeof(cbuf);
	if (recvmsg(6, &mh, 0) != 4 || memcmp(buf, "lock", 4) || !CMSG_FIRSTHDR(&mh))
		fail("the message with the file is gone: %s", strerror(errno));
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	other = open(path, O_RDWR | O_CLOEXEC);
	if (other < 0 || !flock(other, LOCK_EX | LOCK_NB) || errno != EWOULDBLOCK)
		fail("the lock in flight is gone");
	close(fd);
	pass();
}
