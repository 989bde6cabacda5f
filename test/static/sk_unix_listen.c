/* Listening unix sockets and the connections they accepted, all in one
 * process: after the restore every socket has its name, peer name and
 * queue back, the socket file its mode, and the listeners still accept.
 *   P  stream listener bound to DIR/srv (mode 0640, O_NONBLOCK): client
 *      pc (unbound) and the accepted pa, 64 KiB + "end" queued to pa, "hi"
 *      to pc; client bc bound to an abstract name and the accepted ba,
 *      "bound" queued to ba; the accepted ga, "bye" queued, its client
 *      closed: it reads "bye", then end of file
 *   A  seqpacket listener on an abstract name: client ac and accepted aa,
 *      messages "one", "two" to aa and "three" to ac */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"

#define BIG (64 << 10)

enum { P, PC, PA, BC, BA, GA, A, AC, AA, NR };

struct sk_state {
	struct sockaddr_un name, peer;
	socklen_t name_len, peer_len;
	int fl;
	int inq;
};

static int fd[NR];
static struct sk_state st[NR];
static struct sockaddr_un srv, abs_srv, abs_client;
static socklen_t srv_len, abs_srv_len, abs_client_len;
static unsigned char big[BIG], buf[BIG + 16];

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
	s->fl = fcntl(f, F_GETFL);
	if (ioctl(f, FIONREAD, &s->inq))
		s->inq = -1;
}

static void check(int i)
{
	struct sk_state n;

	save(&n, fd[i]);
	if (n.name_len != st[i].name_len || memcmp(&n.name, &st[i].name, n.name_len))
		fail("socket %d (fd %d): another name (%u bytes, was %u)", i, fd[i], n.name_len,
		     st[i].name_len);
	if (n.peer_len != st[i].peer_len || memcmp(&n.peer, &st[i].peer, n.peer_len))
		fail("socket %d (fd %d): another peer name (%u bytes, was %u)", i, fd[i],
		     n.peer_len, st[i].peer_len);
	if (n.fl != st[i].fl || n.inq != st[i].inq)
		fail("socket %d (fd %d): flags 0%o, %d queued; were 0%o, %d", i, fd[i], n.fl, n.inq,
		     st[i].fl, st[i].inq);
}

static int sk(int type)
{
	int f = socket(AF_UNIX, type, 0);

	if (f < 0)
		fail("socket: %s", strerror(errno));
	return f;
}

static int listener(int type, const struct sockaddr_un *a, socklen_t len, int backlog)
{
	int f = sk(type);

	if (bind(f, (const struct sockaddr *)a, len) || listen(f, backlog))
		fail("bind/listen: %s", strerror(errno));
	return f;
}

/* A client of L (bound to BIND if given) and the socket L accepted. */
static void connect_to(int l, int type, const struct sockaddr_un *a, socklen_t len,
		       const struct sockaddr_un *bind_to, socklen_t bind_len, int *c, int *acc)
{
	*c = sk(type);
	if (bind_to && bind(*c, (const struct sockaddr *)bind_to, bind_len))
		fail("bind the client: %s", strerror(errno));
	if (connect(*c, (const struct sockaddr *)a, len))
		fail("connect: %s", strerror(errno));
	*acc = accept(l, NULL, NULL);
	if (*acc < 0)
		fail("accept: %s", strerror(errno));
}

static void put(int f, const void *p, size_t len)
{
	if (send(f, p, len, 0) != (ssize_t)len)
		fail("send %zu bytes on fd %d: %s", len, f, strerror(errno));
}

/* The next message (or stream bytes) is exactly WANT. */
static void expect(int f, const void *want, size_t len, bool stream, const char *what)
{
	size_t done = 0;

	do {
		struct pollfd pfd = { .fd = f, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 5000) != 1)
			fail("%s: nothing to read on fd %d after %zu of %zu bytes", what, f, done,
			     len);
		n = recv(f, buf + done, stream ? len - done : sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			fail("%s: recv on fd %d after %zu of %zu bytes: %s", what, f, done, len,
			     n ? strerror(errno) : "end of file");
		done += n;
	} while (done < len && stream);
	if (done != len || memcmp(buf, want, len))
		fail("%s: got %zu bytes, expected %zu (or other bytes)", what, done, len);
}

/* A new client still gets through to L, both ways. */
static void check_new_client(int l, int type, const struct sockaddr_un *a, socklen_t len)
{
	struct pollfd pfd = { .fd = l, .events = POLLIN };
	int c, acc;

	c = sk(type);
	if (connect(c, (const struct sockaddr *)a, len))
		fail("a new client can't connect: %s", strerror(errno));
	if (poll(&pfd, 1, 5000) != 1)
		fail("the listener does not see the new client");
	acc = accept(l, NULL, NULL);
	if (acc < 0)
		fail("accept of the new client: %s", strerror(errno));
	put(c, "ping", 4);
	expect(acc, "ping", 4, type == SOCK_STREAM, "new client");
	put(acc, "pong", 4);
	expect(c, "pong", 4, type == SOCK_STREAM, "new client's answer");
	close(c);
	close(acc);
}

int main(int argc, char **argv)
{
	char path[4096], name[64];
	struct stat sb, sb_now;
	uint64_t seed;
	int gc;

	test_init(argc, argv);
	seed = test_seed();
	for (int i = 0; i < BIG; i++)
		big[i] = (unsigned char)test_mix(seed + i);
	test_path(path, sizeof(path), "srv");
	if (strlen(path) >= sizeof(srv.sun_path))
		fail("%s is too long for a socket name", path);
	srv_len = make_name(&srv, path, false);
	snprintf(name, sizeof(name), "lmproc-test-listen-%d", getpid());
	abs_srv_len = make_name(&abs_srv, name, true);
	snprintf(name, sizeof(name), "lmproc-test-client-%d", getpid());
	abs_client_len = make_name(&abs_client, name, true);

	fd[P] = listener(SOCK_STREAM, &srv, srv_len, 7);
	if (chmod(path, 0640) || stat(path, &sb))
		fail("chmod %s: %s", path, strerror(errno));
	connect_to(fd[P], SOCK_STREAM, &srv, srv_len, NULL, 0, &fd[PC], &fd[PA]);
	connect_to(fd[P], SOCK_STREAM, &srv, srv_len, &abs_client, abs_client_len, &fd[BC],
		   &fd[BA]);
	connect_to(fd[P], SOCK_STREAM, &srv, srv_len, NULL, 0, &gc, &fd[GA]);
	put(gc, "bye", 3);
	close(gc);
	if (fcntl(fd[P], F_SETFL, O_NONBLOCK))
		fail("O_NONBLOCK: %s", strerror(errno));
	fd[A] = listener(SOCK_SEQPACKET, &abs_srv, abs_srv_len, 3);
	connect_to(fd[A], SOCK_SEQPACKET, &abs_srv, abs_srv_len, NULL, 0, &fd[AC], &fd[AA]);
	put(fd[PC], big, BIG);
	put(fd[PC], "end", 3);
	put(fd[PA], "hi", 2);
	put(fd[BC], "bound", 5);
	put(fd[AC], "one", 3);
	put(fd[AC], "two", 3);
	put(fd[AA], "three", 5);
	for (int i = 0; i < NR; i++)
		save(&st[i], fd[i]);

	test_waitsig();

	for (int i = 0; i < NR; i++)
		check(i);
	if (stat(path, &sb_now) || !S_ISSOCK(sb_now.st_mode) ||
	    (sb_now.st_mode & 07777) != (sb.st_mode & 07777) || sb_now.st_uid != sb.st_uid)
		fail("%s: mode 0%o owner %u, was 0%o %u", path, sb_now.st_mode, sb_now.st_uid,
		     sb.st_mode, sb.st_uid);
	if (accept(fd[P], NULL, NULL) >= 0 || errno != EAGAIN)
		fail("the listener had a connection waiting, or blocks (%s)", strerror(errno));
	expect(fd[PA], big, BIG, true, "pa's bytes");
	expect(fd[PA], "end", 3, true, "pa's end");
	expect(fd[PC], "hi", 2, true, "pc's bytes");
	expect(fd[BA], "bound", 5, true, "ba's bytes");
	expect(fd[GA], "bye", 3, true, "ga's bytes");
	if (recv(fd[GA], buf, 1, MSG_DONTWAIT) != 0)
		fail("ga: no end of file after its client closed");
	expect(fd[AA], "one", 3, false, "aa's first");
	expect(fd[AA], "two", 3, false, "aa's second");
	expect(fd[AC], "three", 5, false, "ac's");
	put(fd[PA], "back", 4);
	expect(fd[PC], "back", 4, true, "pc after the restore");
	put(fd[AC], "four", 4);
	expect(fd[AA], "four", 4, false, "aa after the restore");
	check_new_client(fd[P], SOCK_STREAM, &srv, srv_len);
	check_new_client(fd[A], SOCK_SEQPACKET, &abs_srv, abs_srv_len);
	pass();
}
