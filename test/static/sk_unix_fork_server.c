/* A forking server: the root listens, accepts, and hands each connection
 * to a worker it forks, which closes the listener; the root closes the
 * accepted socket.  One stream connection whose client is the root itself,
 * one seqpacket connection whose client is another child (connected by the
 * root before it forks that child: SO_PEERCRED names the root, which
 * restore makes the connection in).  Bytes and
 * messages are queued both ways.  After the restore each worker reads its
 * client's bytes, checks its socket still has the listener's name and
 * answers; each client reads what its worker had queued and the answer;
 * both listeners still accept new clients. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define LEN 48
#define NR_MSGS 3

struct conn {
	int type;
	struct sockaddr_un addr;
	socklen_t addr_len;
	int listener;
};

static struct conn conns[2] = { { .type = SOCK_STREAM }, { .type = SOCK_SEQPACKET } };
static int go_pipe[2], res_pipe[2];
static uint64_t seed;

/* Message I of direction DIR of connection C: stream bytes are sent as
 * messages too and read back whole (MSG_WAITALL). */
static void data(char *buf, int c, int dir, int i)
{
	for (int k = 0; k < LEN; k++)
		buf[k] = (char)test_mix(seed + c * 100000 + dir * 1000 + i * 100 + k);
}

static int send_msgs(int fd, int c, int dir)
{
	char buf[LEN];

	for (int i = 0; i < NR_MSGS; i++) {
		data(buf, c, dir, i);
		if (send(fd, buf, LEN, 0) != LEN)
			return -1;
	}
	return 0;
}

/* Each message whole and in order: stream bytes LEN at a time, a
 * seqpacket message exactly LEN bytes (a larger buffer would show a
 * message merged or cut). */
static int read_msgs(int fd, int c, int dir, int n, char *why, size_t len)
{
	bool stream = conns[c].type == SOCK_STREAM;
	char buf[LEN + 8], want[LEN];

	for (int i = 0; i < n; i++) {
		ssize_t r = recv(fd, buf, stream ? LEN : sizeof(buf), stream ? MSG_WAITALL : 0);

		data(want, c, dir, i);
		if (r != LEN || memcmp(buf, want, LEN)) {
			snprintf(why, len, "connection %d direction %d message %d: %zd bytes, %s",
				 c, dir, i, r, r < 0 ? strerror(errno) : "not the ones sent");
			return -1;
		}
	}
	return 0;
}

static void report(const char *why)
{
	char rec[120] = { 0 };

	snprintf(rec, sizeof(rec), "%s", why);
	if (write(res_pipe[1], rec, sizeof(rec)) != sizeof(rec))
		_exit(3);
}

static void wait_go(void)
{
	char c;

	report("ready");
	if (read(go_pipe[0], &c, 1) != 1)
		_exit(2);
}

/* The worker of connection C: it holds only the accepted socket. */
static void worker(int c, int acc)
{
	char why[120] = "ok";
	struct sockaddr_un name;
	socklen_t len = sizeof(name);

	close(conns[0].listener);
	close(conns[1].listener);
	if (send_msgs(acc, c, 1))
		_exit(2);
	wait_go();
	if (read_msgs(acc, c, 0, NR_MSGS, why, sizeof(why)))
		;
	else if (getsockname(acc, (struct sockaddr *)&name, &len) || len != conns[c].addr_len ||
		 memcmp(&name, &conns[c].addr, len))
		snprintf(why, sizeof(why), "connection %d: its name is not the listener's", c);
	else if (send_msgs(acc, c, 2))
		snprintf(why, sizeof(why), "connection %d: answer: %s", c, strerror(errno));
	report(why);
	_exit(0);
}

static void client(int c, int fd)
{
	char why[120] = "ok";

	if (send_msgs(fd, c, 0))
		_exit(2);
	wait_go();
	if (!read_msgs(fd, c, 1, NR_MSGS, why, sizeof(why)))
		read_msgs(fd, c, 2, NR_MSGS, why, sizeof(why));
	report(why);
	_exit(0);
}

static void listen_on(int c)
{
	struct conn *k = &conns[c];

	k->addr.sun_family = AF_UNIX;
	snprintf(k->addr.sun_path + 1, sizeof(k->addr.sun_path) - 1, "lmproc-fork-server-%d-%d",
		 getpid(), c);
	k->addr_len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(k->addr.sun_path + 1);
	k->listener = socket(AF_UNIX, k->type | SOCK_CLOEXEC, 0);
	if (k->listener < 0 || bind(k->listener, (struct sockaddr *)&k->addr, k->addr_len) ||
	    listen(k->listener, 8))
		fail("listen %d: %s", c, strerror(errno));
}

static int dial(int c)
{
	int fd = socket(AF_UNIX, conns[c].type | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&conns[c].addr, conns[c].addr_len))
		return -1;
	return fd;
}

/* Accepts one connection of C and forks its worker; the root keeps no
 * fd of the accepted socket. */
static pid_t serve(int c)
{
	int acc = accept4(conns[c].listener, NULL, NULL, SOCK_CLOEXEC);
	pid_t pid;

	if (acc < 0)
		fail("accept %d: %s", c, strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0)
		worker(c, acc);
	close(acc);
	return pid;
}

static void collect(int n, const char *what)
{
	char rec[120];

	for (int i = 0; i < n; i++) {
		if (read(res_pipe[0], rec, sizeof(rec)) != sizeof(rec))
			fail("no report from a child: %s", strerror(errno));
		if (strcmp(rec, what))
			fail("a child: %s", rec);
	}
}

int main(int argc, char **argv)
{
	pid_t pids[3];
	char why[120] = "ok";
	int k0, k1, st;

	test_init(argc, argv);
	seed = test_seed();
	if (pipe(go_pipe) || pipe(res_pipe))
		fail("pipe: %s", strerror(errno));
	listen_on(0);
	listen_on(1);
	k0 = dial(0);
	if (k0 < 0 || send_msgs(k0, 0, 0))
		fail("the root's client: %s", strerror(errno));
	pids[0] = serve(0);
	k1 = dial(1);
	if (k1 < 0)
		fail("the child's client: %s", strerror(errno));
	pids[1] = fork();
	if (pids[1] == 0) {
		close(k0);
		close(conns[0].listener);
		close(conns[1].listener);
		client(1, k1);
	}
	if (pids[1] < 0)
		fail("fork: %s", strerror(errno));
	close(k1);
	pids[2] = serve(1);
	collect(3, "ready");
	test_waitsig();

	if (write(go_pipe[1], "ggg", 3) != 3)
		fail("go: %s", strerror(errno));
	if (!read_msgs(k0, 0, 1, NR_MSGS, why, sizeof(why)))
		read_msgs(k0, 0, 2, NR_MSGS, why, sizeof(why));
	if (strcmp(why, "ok"))
		fail("the root's client: %s", why);
	collect(3, "ok");
	for (int c = 0; c < 2; c++) {
		int fd = dial(c);

		if (fd < 0 || accept4(conns[c].listener, NULL, NULL, SOCK_CLOEXEC) < 0)
			fail("a new client of listener %d: %s", c, strerror(errno));
	}
	for (int i = 0; i < 3; i++)
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			fail("child %d ended with status 0x%x", pids[i], st);
	pass();
}
