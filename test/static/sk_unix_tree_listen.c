/* A server and its client in two processes of a tree: the root listens on
 * an abstract name, connects a client it hands to its child, and accepts;
 * bytes are queued both ways.  (The accepted socket's SO_PEERCRED names the
 * root, which restore makes the connection in; one the child connected
 * itself is refused: bad-input unix-peercred-child.)  After the restore the child reads the root's bytes, checks
 * that its peer is still the server's name, answers and reports; the root
 * reads the child's bytes and the answer, and a new client can still
 * connect to the listener. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define LEN 64

static struct sockaddr_un addr;
static socklen_t addr_len;
static int go_pipe[2], res_pipe[2];
static uint64_t seed;

static void data(char *buf, int dir)
{
	for (int i = 0; i < LEN; i++)
		buf[i] = (char)test_mix(seed + dir * 1000 + i);
}

static int read_data(int fd, int dir)
{
	char buf[LEN], want[LEN];

	data(want, dir);
	return recv(fd, buf, LEN, MSG_WAITALL) == LEN && !memcmp(buf, want, LEN) ? 0 : -1;
}

static void child(int fd)
{
	char buf[LEN], why[120] = "ok", c;
	struct sockaddr_un peer;
	socklen_t plen = sizeof(peer);

	data(buf, 1);
	if (send(fd, buf, LEN, 0) != LEN || write(res_pipe[1], "r", 1) != 1 ||
	    read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	if (read_data(fd, 0))
		snprintf(why, sizeof(why), "the server's bytes: %s", strerror(errno));
	else if (getpeername(fd, (struct sockaddr *)&peer, &plen) || plen != addr_len ||
		 memcmp(&peer, &addr, plen))
		snprintf(why, sizeof(why), "peer name of %u bytes, not the server's", plen);
	data(buf, 2);
	if (!strcmp(why, "ok") && send(fd, buf, LEN, 0) != LEN)
		snprintf(why, sizeof(why), "answer: %s", strerror(errno));
	if (write(res_pipe[1], why, sizeof(why)) != sizeof(why))
		_exit(3);
	_exit(0);
}

int main(int argc, char **argv)
{
	char buf[LEN], why[120], c;
	int l, acc, fd, cli, st;
	pid_t pid;

	test_init(argc, argv);
	seed = test_seed();
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "lmproc-tree-listen-%d",
		 getpid());
	addr_len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, addr_len) || listen(l, 8) ||
	    pipe(go_pipe) || pipe(res_pipe))
		fail("listen: %s", strerror(errno));
	cli = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cli < 0 || connect(cli, (struct sockaddr *)&addr, addr_len))
		fail("connect: %s", strerror(errno));
	pid = fork();
	if (pid == 0)
		child(cli);
	close(cli);
	acc = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	data(buf, 0);
	if (pid < 0 || acc < 0 || send(acc, buf, LEN, 0) != LEN || read(res_pipe[0], &c, 1) != 1)
		fail("accept/send: %s", strerror(errno));
	test_waitsig();

	if (read_data(acc, 1))
		fail("the child's bytes: %s", strerror(errno));
	if (write(go_pipe[1], "g", 1) != 1 || read(res_pipe[0], why, sizeof(why)) != sizeof(why))
		fail("child: no report: %s", strerror(errno));
	if (strcmp(why, "ok"))
		fail("child: %s", why);
	if (read_data(acc, 2))
		fail("the child's answer: %s", strerror(errno));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, addr_len) ||
	    accept4(l, NULL, NULL, SOCK_CLOEXEC) < 0)
		fail("a new client: %s", strerror(errno));
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child ended with status 0x%x", st);
	pass();
}
