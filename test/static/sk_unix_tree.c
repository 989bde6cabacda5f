/* Unix socket pairs split between a parent and its child, as a daemon
 * talks to its workers: for each type (stream, datagram, seqpacket) the
 * parent keeps one end and the child the other, with messages queued both
 * ways; one more stream pair stays open in both processes at both ends.
 * After the restore the child reads what the parent had queued for it,
 * checks message boundaries, answers through each pair, and reports; the
 * parent reads what the child had queued and the answers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define NR_TYPES 3
#define MSG_LEN 100
#define NR_MSGS 3

static const int types[NR_TYPES] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
static int sp[NR_TYPES][2], both[2], go_pipe[2], res_pipe[2];
static uint64_t seed;

static void make_msg(char *buf, int type, int dir, int n)
{
	for (int i = 0; i < MSG_LEN; i++)
		buf[i] = (char)test_mix(seed + type * 7919 + dir * 104729 + n * 131 + i);
}

/* NR_MSGS messages of MSG_LEN from the queue of FD, as DIR sent them;
 * a datagram or seqpacket read must give exactly one message. */
static int read_msgs(int fd, int type, int dir, char *why, size_t len)
{
	char buf[MSG_LEN * 2], want[MSG_LEN];

	for (int n = 0; n < NR_MSGS; n++) {
		ssize_t r = types[type] == SOCK_STREAM ? recv(fd, buf, MSG_LEN, MSG_WAITALL) :
						  recv(fd, buf, sizeof(buf), 0);

		make_msg(want, type, dir, n);
		if (r != MSG_LEN || memcmp(buf, want, MSG_LEN)) {
			snprintf(why, len, "type %d: message %d from %d: %zd bytes%s (%s)",
				 types[type], n, dir, r, r == MSG_LEN ? ", wrong data" : "",
				 r < 0 ? strerror(errno) : "");
			return -1;
		}
	}
	return 0;
}

static int send_msgs(int fd, int type, int dir)
{
	char buf[MSG_LEN];

	for (int n = 0; n < NR_MSGS; n++) {
		make_msg(buf, type, dir, n);
		if (send(fd, buf, MSG_LEN, 0) != MSG_LEN)
			return -1;
	}
	return 0;
}

static void child(void)
{
	char why[200] = "ok", c;

	for (int t = 0; t < NR_TYPES; t++)
		close(sp[t][0]);
	for (int t = 0; t < NR_TYPES; t++)
		if (send_msgs(sp[t][1], t, 1))
			_exit(2);
	if (write(both[1], "c", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	for (int t = 0; t < NR_TYPES && !strcmp(why, "ok"); t++)
		if (!read_msgs(sp[t][1], t, 0, why, sizeof(why)) && send_msgs(sp[t][1], t, 2))
			snprintf(why, sizeof(why), "type %d: answer: %s", types[t], strerror(errno));
	if (!strcmp(why, "ok") && (read(both[1], &c, 1) != 1 || c != 'p'))
		snprintf(why, sizeof(why), "shared pair: read %c: %s", c, strerror(errno));
	if (write(res_pipe[1], why, sizeof(why)) != sizeof(why))
		_exit(3);
	_exit(0);
}

int main(int argc, char **argv)
{
	char why[200], c;
	pid_t pid;
	int st;

	test_init(argc, argv);
	seed = test_seed();
	for (int t = 0; t < NR_TYPES; t++)
		if (socketpair(AF_UNIX, types[t], 0, sp[t]))
			fail("socketpair type %d: %s", types[t], strerror(errno));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, both) || pipe(go_pipe) || pipe(res_pipe))
		fail("socketpair/pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0)
		child();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	for (int t = 0; t < NR_TYPES; t++) {
		close(sp[t][1]);
		if (send_msgs(sp[t][0], t, 0))
			fail("send type %d: %s", types[t], strerror(errno));
	}
	/* The child has queued its messages once its byte is in. */
	if (recv(both[0], &c, 1, MSG_PEEK) != 1 || write(both[0], "p", 1) != 1)
		fail("sync: %s", strerror(errno));
	test_waitsig();

	for (int t = 0; t < NR_TYPES; t++)
		if (read_msgs(sp[t][0], t, 1, why, sizeof(why)))
			fail("parent: %s", why);
	if (write(go_pipe[1], "g", 1) != 1 || read(res_pipe[0], why, sizeof(why)) != sizeof(why))
		fail("child: no report: %s", strerror(errno));
	if (strcmp(why, "ok"))
		fail("child: %s", why);
	for (int t = 0; t < NR_TYPES; t++)
		if (read_msgs(sp[t][0], t, 2, why, sizeof(why)))
			fail("parent, answers: %s", why);
	if (read(both[0], &c, 1) != 1 || c != 'c')
		fail("shared pair: read %c: %s", c, strerror(errno));
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child ended with status 0x%x", st);
	pass();
}
