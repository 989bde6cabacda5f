/* Datagram unix sockets bound to a name and connected to themselves: P
 * to a path, A to an abstract name, each with datagrams it sent itself
 * queued.  After the restore each has its name and its peer (itself)
 * back, its queue in order from its own name, and send() still reaches
 * it. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"

enum { P, A, NR };

struct addr {
	struct sockaddr_un a;
	socklen_t len;
};

static int fd[NR];
static struct addr names[NR];

static void make(int i, const char *path, const char *abstract)
{
	struct addr *n = &names[i];

	n->a.sun_family = AF_UNIX;
	if (path) {
		snprintf(n->a.sun_path, sizeof(n->a.sun_path), "%s", path);
		n->len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
	} else {
		snprintf(n->a.sun_path + 1, sizeof(n->a.sun_path) - 1, "%s-%d", abstract,
			 getpid());
		n->len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(n->a.sun_path + 1);
	}
	fd[i] = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd[i] < 0)
		fail("socket: %s", strerror(errno));
	if (bind(fd[i], (struct sockaddr *)&n->a, n->len) ||
	    connect(fd[i], (struct sockaddr *)&n->a, n->len))
		fail("bind and connect socket %d to itself: %s", i, strerror(errno));
}

static void say(int i, const char *msg)
{
	if (send(fd[i], msg, strlen(msg), 0) != (ssize_t)strlen(msg))
		fail("send \"%s\" on socket %d: %s", msg, i, strerror(errno));
}

static bool same(const struct addr *x, const struct addr *y)
{
	return x->len == y->len && !memcmp(&x->a, &y->a, x->len);
}

static void expect(int i, const char *msg)
{
	struct addr src = { .len = sizeof(src.a) };
	char buf[64];
	ssize_t n = recvfrom(fd[i], buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&src.a,
			     &src.len);

	if (n != (ssize_t)strlen(msg) || memcmp(buf, msg, n))
		fail("socket %d: got %zd bytes (%s), expected \"%s\"", i, n,
		     n < 0 ? strerror(errno) : "other bytes", msg);
	if (!same(&src, &names[i]))
		fail("socket %d: \"%s\" came from an address of %u bytes, not its own", i, msg,
		     src.len);
}

static void check(int i)
{
	struct addr name = { .len = sizeof(name.a) }, peer = { .len = sizeof(peer.a) };
	int inq;

	if (getsockname(fd[i], (struct sockaddr *)&name.a, &name.len) ||
	    getpeername(fd[i], (struct sockaddr *)&peer.a, &peer.len))
		fail("socket %d: getsockname/getpeername: %s", i, strerror(errno));
	if (!same(&name, &names[i]) || !same(&peer, &names[i]))
		fail("socket %d: name %u bytes, peer %u bytes: not its own name", i, name.len,
		     peer.len);
	if (ioctl(fd[i], FIONREAD, &inq) || inq != 4)
		fail("socket %d: %d bytes in its first datagram, not 4", i, inq);
}

int main(int argc, char **argv)
{
	char path[4096];

	test_init(argc, argv);
	test_path(path, sizeof(path), "self");
	if (strlen(path) >= sizeof(names[P].a.sun_path))
		fail("%s is too long for a socket name", path);
	make(P, path, NULL);
	make(A, NULL, "lmproc-dgram-self");
	say(P, "p-01");
	say(P, "p-2");
	say(A, "a-01");

	test_waitsig();

	for (int i = 0; i < NR; i++)
		check(i);
	expect(P, "p-01");
	expect(P, "p-2");
	expect(A, "a-01");
	say(P, "p-3");
	expect(P, "p-3");
	say(A, "a-2");
	expect(A, "a-2");
	pass();
}
