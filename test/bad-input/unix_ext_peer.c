/* A target whose unix sockets have peers outside the process: fd 5, a
 * stream socket whose other end a grandchild holds, and fd 6, a datagram
 * socket (bound to an abstract name) connected to a socket the grandchild
 * bound to an abstract name.  With LMPROC_EXT_DGRAM set, fd 6 only: a
 * dump with --ext-unix-sk takes it, and the restored target reaches the
 * grandchild again.  The grandchild (not the target's child: the target
 * has none) echoes the stream, answers each datagram to its sender and
 * exits at "bye", at the end of the stream or after a minute.  The target
 * counts until SIGTERM, then checks that every socket still works (a
 * refused dump must leave it exactly as it was). */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static void serve(int s, int d)
{
	struct pollfd pfd[2] = { { .fd = d, .events = POLLIN }, { .fd = s, .events = POLLIN } };
	struct sockaddr_un from;
	char buf[64];

	while (poll(pfd, s >= 0 ? 2 : 1, 60000) > 0) {
		socklen_t len = sizeof(from);
		ssize_t n;

		if (pfd[1].revents) {
			n = recv(s, buf, sizeof(buf), 0);
			if (n <= 0 || send(s, buf, n, 0) != n)
				break;
		}
		if (!pfd[0].revents)
			continue;
		n = recvfrom(d, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
		if (n < 0 || (n == 3 && !memcmp(buf, "bye", 3)))
			break;
		sendto(d, buf, n, 0, (struct sockaddr *)&from, len);
	}
	_exit(0);
}

static void expect(int s, const char *want)
{
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	char buf[64];
	ssize_t n;

	if (poll(&pfd, 1, 5000) != 1)
		fail("no answer \"%s\" from the grandchild on fd %d", want, s);
	n = recv(s, buf, strlen(want), MSG_WAITALL);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		fail("the grandchild answered %zd bytes on fd %d, not \"%s\"", n, s, want);
}

static socklen_t abstract(struct sockaddr_un *a, const char *what)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "lmproc-ext-%s-%d", what, getpid());
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1);
}

/* The grandchild with O and SV[1]; the target keeps SV[0]. */
static void start_grandchild(int o, int sv[2])
{
	int status;
	pid_t c = fork();

	if (c < 0)
		fail("fork: %s", strerror(errno));
	if (c == 0) {
		if (sv[0] >= 0)
			close(sv[0]);
		if (fork() == 0)
			serve(sv[1], o);
		_exit(0);
	}
	if (waitpid(c, &status, 0) != c)
		fail("waitpid: %s", strerror(errno));
	if (sv[1] >= 0)
		close(sv[1]);
	close(o);
}

int main(int argc, char **argv)
{
	bool dgram_only = getenv("LMPROC_EXT_DGRAM");
	volatile uint64_t counter = 0;
	struct sockaddr_un a, me;
	socklen_t len, me_len;
	int sv[2] = { -1, -1 }, d, o;

	test_init(argc, argv);
	len = abstract(&a, "peer");
	me_len = abstract(&me, "client");
	o = socket(AF_UNIX, SOCK_DGRAM, 0);
	if ((!dgram_only && socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) || o < 0 ||
	    bind(o, (struct sockaddr *)&a, len))
		fail("sockets: %s", strerror(errno));
	start_grandchild(o, sv);
	d = socket(AF_UNIX, SOCK_DGRAM, 0);
	if ((!dgram_only && dup2(sv[0], 5) != 5) || d < 0 || dup2(d, 6) != 6 ||
	    bind(6, (struct sockaddr *)&me, me_len) || connect(6, (struct sockaddr *)&a, len))
		fail("fds 5, 6: %s", strerror(errno));
	if (!dgram_only)
		close(sv[0]);
	close(d);

	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (send(6, "dgram", 5, 0) != 5)
		fail("send on fd 6: %s", strerror(errno));
	expect(6, "dgram");
	if (!dgram_only) {
		if (send(5, "stream", 6, 0) != 6)
			fail("send on fd 5: %s", strerror(errno));
		expect(5, "stream");
	}
	if (send(6, "bye", 3, 0) != 3)
		fail("send bye on fd 6: %s", strerror(errno));
	pass();
}
