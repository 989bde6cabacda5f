/* Unix listeners with connections not accepted yet: after the restore the
 * clients read back the same names and peer names, and accept() returns
 * the connections in the order they came, each joined to its client: what
 * a client sends after the restore comes out of the socket accepted for
 * it, and back.
 *   P   stream listener DIR/pl (backlog 4): clients c1 (unbound, fd 9),
 *       c2 (bound to an abstract name, fd 7), c3 (unbound, fd 8),
 *       connected in that order
 *   Q   seqpacket listener on an abstract name: client q1 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"

enum { P, C1, C2, C3, Q, Q1, NR };

static const int want_fd[NR] = {[P] = 5, [C1] = 9, [C2] = 7, [C3] = 8, [Q] = 6, [Q1] = 10};

struct sk_state {
	struct sockaddr_un name, peer;
	socklen_t name_len, peer_len;
};

static struct sk_state st[NR];

static socklen_t make_name(struct sockaddr_un *a, const char *name, bool abstract)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (!abstract) {
		snprintf(a->sun_path, sizeof(a->sun_path), "%s", name);
		return offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
	}
	snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "%s", name);
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static void save(struct sk_state *s, int f)
{
	memset(s, 0, sizeof(*s));
	s->name_len = s->peer_len = sizeof(s->name);
	if (getsockname(f, (struct sockaddr *)&s->name, &s->name_len))
		fail("getsockname fd %d: %s", f, strerror(errno));
	if (getpeername(f, (struct sockaddr *)&s->peer, &s->peer_len))
		s->peer_len = 0;
}

static void check(int i)
{
	struct sk_state n;

	save(&n, want_fd[i]);
	if (n.name_len != st[i].name_len || memcmp(&n.name, &st[i].name, n.name_len))
		fail("socket %d (fd %d): another name (%u bytes, was %u)", i, want_fd[i],
		     n.name_len, st[i].name_len);
	if (n.peer_len != st[i].peer_len || memcmp(&n.peer, &st[i].peer, n.peer_len))
		fail("socket %d (fd %d): another peer name (%u bytes, was %u)", i, want_fd[i],
		     n.peer_len, st[i].peer_len);
}

/* A socket of TYPE at fd I's place. */
static void sk_at(int i, int type)
{
	int f = socket(AF_UNIX, type, 0);

	if (f < 0 || dup2(f, want_fd[i]) != want_fd[i])
		fail("socket at fd %d: %s", want_fd[i], strerror(errno));
	close(f);
}

static void put(int f, const char *p)
{
	if (send(f, p, strlen(p), 0) != (ssize_t)strlen(p))
		fail("send '%s' on fd %d: %s", p, f, strerror(errno));
}

static void expect(int f, const char *want, const char *what)
{
	struct pollfd pfd = {.fd = f, .events = POLLIN};
	char buf[64];
	ssize_t n;

	if (poll(&pfd, 1, 5000) != 1)
		fail("%s: nothing to read on fd %d", what, f);
	n = recv(f, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		fail("%s: got %zd bytes (%.*s), expected '%s'", what, n, (int)(n > 0 ? n : 0), buf,
		     want);
}

/* The next connection L gives is client I's: its peer name is the
 * client's name, and bytes go both ways. */
static void accept_next(int l, int i, const char *msg)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);
	int acc = accept(l, (struct sockaddr *)&a, &len);

	if (acc < 0)
		fail("accept for client %d: %s", i, strerror(errno));
	if (len != st[i].name_len || memcmp(&a, &st[i].name, len))
		fail(
		    "accept gave a connection from another client (%u bytes), expected client %d's",
		    len, i);
	expect(acc, msg, "the accepted connection");
	put(acc, "back");
	expect(want_fd[i], "back", "the client's answer");
	close(acc);
}

int main(int argc, char **argv)
{
	struct sockaddr_un pl, qa, c2;
	socklen_t pl_len, qa_len, c2_len;
	char path[4096], name[64];

	test_init(argc, argv);
	test_path(path, sizeof(path), "pl");
	if (strlen(path) >= sizeof(pl.sun_path))
		fail("%s is too long for a socket name", path);
	pl_len = make_name(&pl, path, false);
	snprintf(name, sizeof(name), "lmproc-test-pendq-%d", getpid());
	qa_len = make_name(&qa, name, true);
	snprintf(name, sizeof(name), "lmproc-test-pendc-%d", getpid());
	c2_len = make_name(&c2, name, true);

	sk_at(P, SOCK_STREAM);
	sk_at(Q, SOCK_SEQPACKET);
	if (bind(want_fd[P], (struct sockaddr *)&pl, pl_len) || listen(want_fd[P], 4) ||
	    bind(want_fd[Q], (struct sockaddr *)&qa, qa_len) || listen(want_fd[Q], 2))
		fail("bind/listen: %s", strerror(errno));
	sk_at(C1, SOCK_STREAM);
	sk_at(C2, SOCK_STREAM);
	sk_at(C3, SOCK_STREAM);
	sk_at(Q1, SOCK_SEQPACKET);
	if (bind(want_fd[C2], (struct sockaddr *)&c2, c2_len))
		fail("bind c2: %s", strerror(errno));
	if (connect(want_fd[C1], (struct sockaddr *)&pl, pl_len) ||
	    connect(want_fd[C2], (struct sockaddr *)&pl, pl_len) ||
	    connect(want_fd[C3], (struct sockaddr *)&pl, pl_len) ||
	    connect(want_fd[Q1], (struct sockaddr *)&qa, qa_len))
		fail("connect: %s", strerror(errno));
	for (int i = 0; i < NR; i++)
		save(&st[i], want_fd[i]);

	test_waitsig();

	for (int i = 0; i < NR; i++)
		check(i);
	put(want_fd[C1], "one");
	put(want_fd[C2], "two");
	put(want_fd[C3], "three");
	put(want_fd[Q1], "q");
	accept_next(want_fd[P], C1, "one");
	accept_next(want_fd[P], C2, "two");
	accept_next(want_fd[P], C3, "three");
	accept_next(want_fd[Q], Q1, "q");
	if (poll(&(struct pollfd){.fd = want_fd[P], .events = POLLIN}, 1, 0) ||
	    poll(&(struct pollfd){.fd = want_fd[Q], .events = POLLIN}, 1, 0))
		fail("a listener has one more connection waiting");
	pass();
}
