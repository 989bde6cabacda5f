/* Files in flight on a connection a forking server accepted: the root
 * listens, connects a client, accepts the connection and forks a worker
 * that keeps both ends; the root keeps only the listener.  Queued on the
 * accepted socket: the read end of a pipe with bytes in it and an eventfd
 * (the root closed both); queued on the client: an eventfd from the
 * worker.  The connection is made again in the root (it holds the
 * listener), which must have the files in flight then.  After the restore
 * the worker reads both queues with their files, which work, and reports;
 * the listener still accepts a new client. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define LEN 40

static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static socklen_t addr_len;
static int listener, client, accepted, go_pipe[2], res_pipe[2];
static uint64_t seed;

static void data(char *buf, int i)
{
	for (int k = 0; k < LEN; k++)
		buf[k] = (char)test_mix(seed + i * 100 + k);
}

static int send_files(int s, int i, const int *fds, int nr)
{
	char buf[LEN], cbuf[CMSG_SPACE(sizeof(int) * 2)];
	struct iovec iov = { .iov_base = buf, .iov_len = LEN };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * nr) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	data(buf, i);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nr);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nr);
	return sendmsg(s, &mh, 0) == LEN ? 0 : -1;
}

/* Message I from S with exactly NR files into FDS. */
static int recv_files(int s, int i, int *fds, int nr, char *why, size_t len)
{
	char buf[LEN * 2], want[LEN], cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t r = recvmsg(s, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	struct cmsghdr *c = r == LEN ? CMSG_FIRSTHDR(&mh) : NULL;

	data(want, i);
	if (r != LEN || memcmp(buf, want, LEN) || !c || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int) * nr)) {
		snprintf(why, len, "message %d: %zd bytes, %s", i, r,
			 c ? "not its files" : "no files");
		return -1;
	}
	memcpy(fds, CMSG_DATA(c), sizeof(int) * nr);
	return 0;
}

static int check(char *why, size_t len)
{
	char buf[16], end;
	uint64_t v = 0;
	int fds[2];

	if (recv_files(accepted, 0, fds, 2, why, len))
		return -1;
	if (read(fds[0], buf, 16) != 16 || memcmp(buf, "bytes in a pipe", 16) ||
	    read(fds[0], &end, 1) != 0) {
		snprintf(why, len, "the pipe in flight lost its bytes or its EOF");
		return -1;
	}
	if (read(fds[1], &v, 8) != 8 || v != 41) {
		snprintf(why, len, "the eventfd in flight counts %llu, not 41",
			 (unsigned long long)v);
		return -1;
	}
	if (recv_files(client, 1, fds, 1, why, len))
		return -1;
	if (read(fds[0], &v, 8) != 8 || v != 42) {
		snprintf(why, len, "the worker's eventfd counts %llu, not 42",
			 (unsigned long long)v);
		return -1;
	}
	return 0;
}

static void worker(void)
{
	char why[200] = "ok", c;
	int efd = eventfd(42, EFD_CLOEXEC);

	close(listener);
	if (efd < 0 || send_files(accepted, 1, &efd, 1))
		_exit(2);
	close(efd);
	if (write(res_pipe[1], "w", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	check(why, sizeof(why));
	if (write(res_pipe[1], why, sizeof(why)) != sizeof(why))
		_exit(3);
	_exit(0);
}

static void setup(void)
{
	int p[2], fds[2];

	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "lmproc-scm-srv-%d", getpid());
	addr_len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1);
	listener = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	client = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (listener < 0 || client < 0 || bind(listener, (struct sockaddr *)&addr, addr_len) ||
	    listen(listener, 4) || connect(client, (struct sockaddr *)&addr, addr_len))
		fail("sockets: %s", strerror(errno));
	accepted = accept(listener, NULL, NULL);
	if (accepted < 0 || pipe(p) || write(p[1], "bytes in a pipe", 16) != 16)
		fail("accept/pipe: %s", strerror(errno));
	close(p[1]);
	fds[0] = p[0];
	fds[1] = eventfd(41, EFD_CLOEXEC);
	if (fds[1] < 0 || send_files(client, 0, fds, 2))
		fail("send: %s", strerror(errno));
	close(fds[0]);
	close(fds[1]);
	if (pipe(go_pipe) || pipe(res_pipe))
		fail("pipe: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	char why[200], c;
	pid_t pid;
	int st, s;

	test_init(argc, argv);
	seed = test_seed();
	setup();
	pid = fork();
	if (pid == 0)
		worker();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	close(client);
	close(accepted);
	if (read(res_pipe[0], &c, 1) != 1)
		fail("the worker did not queue its message");
	test_waitsig();

	if (write(go_pipe[1], "g", 1) != 1 || read(res_pipe[0], why, sizeof(why)) != sizeof(why))
		fail("worker: no report: %s", strerror(errno));
	if (strcmp(why, "ok"))
		fail("worker: %s", why);
	s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&addr, addr_len))
		fail("the listener does not take a new client: %s", strerror(errno));
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("worker ended with status 0x%x", st);
	pass();
}
