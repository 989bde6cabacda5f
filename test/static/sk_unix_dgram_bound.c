/* Bound datagram unix sockets with queued datagrams from several senders:
 * after the restore every socket has its name and peer back, each queued
 * datagram its bytes, its boundary and the address it came from, and
 * sending still works both to a name and on a connection.
 *   R1  bound to DIR/r1: "s1-a" from S1, "u-1" from the unbound U,
 *       "r2-self" from R2, "c-1" from C (unbound, connected to R1)
 *   R2  bound to an abstract name: "s1-b" from S1, "d-1" from D (bound,
 *       connected to R2, which is not connected back), "self" from itself
 *   E, F  bound to abstract names and connected to each other: "e-1"
 *       queued to F, "f-1" and "f-2" to E
 *   W, X  of socket pairs whose other end was closed, W bound to an
 *       abstract name, X not: "w-1" queued to W, "x-1" to X; both still
 *       connected to their dead peer */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"

enum { R1, R2, S1, U, C, D, E, F, W, X, NR };

struct addr {
	struct sockaddr_un a;
	socklen_t len;
};

struct sk_state {
	struct addr name, peer;
	int inq;
};

static int fd[NR];
static struct addr names[NR];
static struct sk_state st[NR];

static void make_name(int i, const char *name, bool abstract)
{
	struct addr *n = &names[i];

	n->a.sun_family = AF_UNIX;
	if (!abstract) {
		snprintf(n->a.sun_path, sizeof(n->a.sun_path), "%s", name);
		n->len = offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
		return;
	}
	snprintf(n->a.sun_path + 1, sizeof(n->a.sun_path) - 1, "%s-%d", name, getpid());
	n->len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(n->a.sun_path + 1);
}

static void save(struct sk_state *s, int f)
{
	memset(s, 0, sizeof(*s));
	s->name.len = s->peer.len = sizeof(s->name.a);
	if (getsockname(f, (struct sockaddr *)&s->name.a, &s->name.len))
		fail("getsockname fd %d: %s", f, strerror(errno));
	if (getpeername(f, (struct sockaddr *)&s->peer.a, &s->peer.len))
		s->peer.len = 0;
	if (ioctl(f, FIONREAD, &s->inq))
		fail("FIONREAD fd %d: %s", f, strerror(errno));
}

static bool same(const struct addr *x, const struct addr *y)
{
	return x->len == y->len && !memcmp(&x->a, &y->a, x->len);
}

static void check(int i)
{
	struct sk_state n;

	save(&n, fd[i]);
	if (!same(&n.name, &st[i].name) || !same(&n.peer, &st[i].peer) || n.inq != st[i].inq)
		fail("socket %d (fd %d): name %u bytes, peer %u bytes, %d queued; were %u, %u, %d",
		     i, fd[i], n.name.len, n.peer.len, n.inq, st[i].name.len, st[i].peer.len,
		     st[i].inq);
}

static int dgram(int bind_to)
{
	int f = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (f < 0)
		fail("socket: %s", strerror(errno));
	if (bind_to >= 0 && bind(f, (struct sockaddr *)&names[bind_to].a, names[bind_to].len))
		fail("bind socket %d: %s", bind_to, strerror(errno));
	return f;
}

static void link_to(int from, int to)
{
	if (connect(fd[from], (struct sockaddr *)&names[to].a, names[to].len))
		fail("connect %d to %d: %s", from, to, strerror(errno));
}

static void send_to(int from, int to, const char *msg)
{
	ssize_t n = to < 0 ? send(fd[from], msg, strlen(msg), 0) :
			     sendto(fd[from], msg, strlen(msg), 0, (struct sockaddr *)&names[to].a,
				    names[to].len);

	if (n != (ssize_t)strlen(msg))
		fail("send \"%s\" from %d: %s", msg, from, strerror(errno));
}

/* Socket I of a pair whose other end sent MSG and was closed; bound if
 * it has a name. */
static void half_pair(int i, const char *msg)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		fail("socketpair: %s", strerror(errno));
	fd[i] = sv[0];
	if (names[i].len && bind(fd[i], (struct sockaddr *)&names[i].a, names[i].len))
		fail("bind socket %d: %s", i, strerror(errno));
	if (send(sv[1], msg, strlen(msg), 0) != (ssize_t)strlen(msg))
		fail("send \"%s\": %s", msg, strerror(errno));
	close(sv[1]);
}

/* The next datagram on socket I is MSG, from socket FROM (-1: unbound). */
static void expect(int i, const char *msg, int from)
{
	struct addr src = { .len = sizeof(src.a) };
	char buf[64];
	ssize_t n = recvfrom(fd[i], buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&src.a,
			     &src.len);

	if (n != (ssize_t)strlen(msg) || memcmp(buf, msg, n))
		fail("socket %d: got %zd bytes (%s), expected \"%s\"", i, n,
		     n < 0 ? strerror(errno) : "other bytes", msg);
	if (from < 0 ? src.len > offsetof(struct sockaddr_un, sun_path) :
		       !same(&src, &names[from]))
		fail("socket %d: \"%s\" came from an address of %u bytes, not socket %d's", i, msg,
		     src.len, from);
}

int main(int argc, char **argv)
{
	char path[4096];

	test_init(argc, argv);
	test_path(path, sizeof(path), "r1");
	if (strlen(path) >= sizeof(names[R1].a.sun_path))
		fail("%s is too long for a socket name", path);
	make_name(R1, path, false);
	make_name(R2, "lmproc-dgram-r2", true);
	make_name(S1, "lmproc-dgram-s1", true);
	make_name(D, "lmproc-dgram-d", true);
	make_name(E, "lmproc-dgram-e", true);
	make_name(F, "lmproc-dgram-f", true);
	make_name(W, "lmproc-dgram-w", true);
	for (int i = 0; i < NR; i++)
		if (i != W && i != X)
			fd[i] = dgram(i == U || i == C ? -1 : i);
	half_pair(W, "w-1");
	half_pair(X, "x-1");
	link_to(C, R1);
	link_to(D, R2);
	link_to(E, F);
	link_to(F, E);
	send_to(S1, R1, "s1-a");
	send_to(U, R1, "u-1");
	send_to(R2, R1, "r2-self");
	send_to(C, -1, "c-1");
	send_to(S1, R2, "s1-b");
	send_to(D, -1, "d-1");
	send_to(R2, R2, "self");
	send_to(E, -1, "e-1");
	send_to(F, -1, "f-1");
	send_to(F, -1, "f-2");
	for (int i = 0; i < NR; i++)
		save(&st[i], fd[i]);

	test_waitsig();

	for (int i = 0; i < NR; i++)
		check(i);
	expect(R1, "s1-a", S1);
	expect(R1, "u-1", -1);
	expect(R1, "r2-self", R2);
	expect(R1, "c-1", -1);
	expect(R2, "s1-b", S1);
	expect(R2, "d-1", D);
	expect(R2, "self", R2);
	expect(F, "e-1", E);
	expect(E, "f-1", F);
	expect(E, "f-2", F);
	expect(W, "w-1", -1);
	expect(X, "x-1", -1);
	send_to(S1, R1, "again");
	expect(R1, "again", S1);
	send_to(C, -1, "c-2");
	expect(R1, "c-2", -1);
	send_to(D, -1, "d-2");
	expect(R2, "d-2", D);
	send_to(F, -1, "f-3");
	expect(E, "f-3", F);
	pass();
}
