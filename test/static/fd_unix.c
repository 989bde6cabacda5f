/* Unix socket pairs with queued data: after the restore every socket has
 * its type, flags, buffer sizes, SO_PASSCRED, SO_PEEK_OFF and queue back
 * (datagram and seqpacket messages with their boundaries), a shut-down
 * direction stays shut, a socket whose peer was
 * closed reads its data and then end of file, and every pair still
 * carries data both ways.
 *   S  stream: 100 KiB + "tail" queued to s0, "back" to s1; s0
 *      non-blocking, s1 dup'ed
 *   D  datagram: "one", "two", "three" queued to d0 (SO_PASSCRED on d0)
 *   Q  seqpacket: "alpha" and 5000 bytes to q1; q1 sent "z" and shut
 *      down writing
 *   G  stream: "bye" queued to g0, then g1 closed
 *   U  an unconnected datagram socket with a 64 KiB receive buffer
 *   P  datagram: "pp" queued to p0, whose SO_PEEK_OFF is 0 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

#define BIG (100 << 10)

enum { S0, S1, S1DUP, D0, D1, Q0, Q1, G0, U, P0, P1, NR };

struct sk_state {
	int fd;
	int fl;
	int type;
	int rcvbuf;
	int sndbuf;
	int cred;
	int peek;
	int inq;
};

static int fd[NR];
static struct sk_state st[NR];
static unsigned char big[BIG], seq[5000], buf[BIG + 16];

static int opt(int s, int o)
{
	socklen_t len = sizeof(int);
	int v;

	if (getsockopt(s, SOL_SOCKET, o, &v, &len))
		fail("getsockopt %d on fd %d: %s", o, s, strerror(errno));
	return v;
}

static void save(struct sk_state *s, int f)
{
	s->fd = f;
	s->fl = fcntl(f, F_GETFL);
	s->type = opt(f, SO_TYPE);
	s->rcvbuf = opt(f, SO_RCVBUF);
	s->sndbuf = opt(f, SO_SNDBUF);
	s->cred = opt(f, SO_PASSCRED);
	s->peek = opt(f, SO_PEEK_OFF);
	if (ioctl(f, FIONREAD, &s->inq))
		fail("FIONREAD fd %d: %s", f, strerror(errno));
}

static void check(const struct sk_state *s)
{
	struct sk_state n;

	save(&n, s->fd);
	if (memcmp(&n, s, sizeof(n)))
		fail("fd %d: flags 0%o type %d buffers %d/%d passcred %d peek %d queued %d, were "
		     "0%o %d %d/%d %d %d %d", s->fd, n.fl, n.type, n.rcvbuf, n.sndbuf, n.cred,
		     n.peek, n.inq, s->fl, s->type, s->rcvbuf, s->sndbuf, s->cred, s->peek,
		     s->inq);
}

static void pair(int type, int *a, int *b)
{
	int sv[2];

	if (socketpair(AF_UNIX, type, 0, sv))
		fail("socketpair %d: %s", type, strerror(errno));
	*a = sv[0];
	*b = sv[1];
}

static void put(int s, const void *p, size_t len)
{
	if (send(s, p, len, 0) != (ssize_t)len)
		fail("send %zu bytes on fd %d: %s", len, s, strerror(errno));
}

/* The next message (or stream bytes) is exactly WANT. */
static void expect(int s, const void *want, size_t len, const char *what)
{
	bool stream = opt(s, SO_TYPE) == SOCK_STREAM;
	size_t done = 0;

	do {
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 5000) != 1)
			fail("%s: nothing to read on fd %d after %zu of %zu bytes", what, s, done,
			     len);
		n = recv(s, buf + done, stream ? len - done : sizeof(buf), MSG_DONTWAIT);
		if (n < 0 || (n == 0 && len))
			fail("%s: recv on fd %d after %zu of %zu bytes: %s", what, s, done, len,
			     n ? strerror(errno) : "end of file");
		done += n;
	} while (done < len && stream);
	if (done != len || memcmp(buf, want, len))
		fail("%s: got %zu bytes, expected %zu (or other bytes)", what, done, len);
}

static void expect_eof(int s, const char *what)
{
	ssize_t n = recv(s, buf, 1, MSG_DONTWAIT);

	if (n != 0)
		fail("%s: no end of file on fd %d (%zd, %s)", what, s, n, strerror(errno));
}

int main(int argc, char **argv)
{
	uint64_t seed;
	int one = 1, zero = 0, g1;

	test_init(argc, argv);
	seed = test_seed();
	for (int i = 0; i < BIG; i++)
		big[i] = (unsigned char)test_mix(seed + i);
	for (int i = 0; i < (int)sizeof(seq); i++)
		seq[i] = (unsigned char)test_mix(~seed + i);
	pair(SOCK_STREAM, &fd[S0], &fd[S1]);
	put(fd[S1], big, BIG);
	put(fd[S1], "tail", 4);
	put(fd[S0], "back", 4);
	if (fcntl(fd[S0], F_SETFL, O_NONBLOCK))
		fail("fcntl: %s", strerror(errno));
	fd[S1DUP] = dup(fd[S1]);
	pair(SOCK_DGRAM | SOCK_CLOEXEC, &fd[D0], &fd[D1]);
	if (setsockopt(fd[D0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)))
		fail("SO_PASSCRED: %s", strerror(errno));
	put(fd[D1], "one", 3);
	put(fd[D1], "two", 3);
	put(fd[D1], "three", 5);
	pair(SOCK_SEQPACKET, &fd[Q0], &fd[Q1]);
	put(fd[Q0], "alpha", 5);
	put(fd[Q0], seq, sizeof(seq));
	put(fd[Q1], "z", 1);
	if (shutdown(fd[Q1], SHUT_WR))
		fail("shutdown: %s", strerror(errno));
	pair(SOCK_STREAM, &fd[G0], &g1);
	put(g1, "bye", 3);
	close(g1);
	fd[U] = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd[U] < 0 || setsockopt(fd[U], SOL_SOCKET, SO_RCVBUF, &(int){ 32768 }, sizeof(int)))
		fail("socket: %s", strerror(errno));
	pair(SOCK_DGRAM, &fd[P0], &fd[P1]);
	put(fd[P1], "pp", 2);
	if (setsockopt(fd[P0], SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)))
		fail("SO_PEEK_OFF: %s", strerror(errno));
	for (int i = 0; i < NR; i++)
		save(&st[i], fd[i]);

	test_waitsig();

	for (int i = 0; i < NR; i++)
		check(&st[i]);
	expect(fd[S0], big, BIG, "stream S, big");
	expect(fd[S0], "tail", 4, "stream S, tail");
	expect(fd[S1], "back", 4, "stream S, back");
	put(fd[S1DUP], "more", 4);
	expect(fd[S0], "more", 4, "stream S after the restore");
	expect(fd[D0], "one", 3, "datagram 1");
	expect(fd[D0], "two", 3, "datagram 2");
	expect(fd[D0], "three", 5, "datagram 3");
	put(fd[D0], "x", 1);
	expect(fd[D1], "x", 1, "datagram after the restore");
	expect(fd[Q1], "alpha", 5, "seqpacket 1");
	expect(fd[Q1], seq, sizeof(seq), "seqpacket 2");
	expect(fd[Q0], "z", 1, "seqpacket back");
	expect_eof(fd[Q0], "seqpacket after its peer's shutdown");
	if (send(fd[Q1], "n", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE)
		fail("seqpacket Q1 could send after shutting down writing");
	put(fd[Q0], "y", 1);
	expect(fd[Q1], "y", 1, "seqpacket after the restore");
	expect(fd[G0], "bye", 3, "stream G");
	expect_eof(fd[G0], "stream G after its peer closed");
	expect(fd[P0], "pp", 2, "datagram P");
	pass();
}
