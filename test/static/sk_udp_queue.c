/* UDP sockets with datagrams queued at the checkpoint:
 *   R4  bound to 127.0.0.1: 3 datagrams, from A4, B4, A4
 *   R6  bound to [::1]: 3 datagrams, from A6, B6, A6 (one empty)
 *   RD  bound to [::] (dual stack), not connected: from A4 (v4-mapped),
 *       A6, B4
 *   RC  bound to 127.0.0.1, connected to A4: 2 datagrams from A4 (with
 *       SK_UDP_FOREIGN=1 in its environment, one from B4 before the
 *       connect(): a bad-input case, refused)
 *   E   only with SK_UDP_ERROR=1 in its environment (a bad-input case,
 *       refused): connected to a port nobody has, its ICMP error pending;
 *       after the checkpoint its recv() still says ECONNREFUSED
 * A4, B4, A6, B6 are the senders, bound to the loopbacks.  After the
 * restore each receiver reads exactly its datagrams (payload, sender's
 * address and port, order) and nothing more, then still receives new
 * ones from both of its senders; RC is still connected to A4, its
 * SO_PEEK_OFF still off.  With SK_UDP_PKTINFO=1 in its
 * environment R4 has IP_PKTINFO (a bad-input case: refused). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/sock_diag.h>

#include "test.h"

enum { A4, B4, A6, B6, R4, R6, RD, RC, NR };

static const char *const names[NR] = { "A4", "B4", "A6", "B6", "R4", "R6", "RD", "RC" };
static int fds[NR];
static struct sockaddr_storage addr[NR];
static socklen_t addr_len[NR];

struct dgram {
	int to, from;
	size_t len;
	char data[64];
};

static struct dgram queued[] = {
	{ R4, A4, 9, "" }, { R4, B4, 17, "" }, { R4, A4, 1, "" },
	{ R6, A6, 33, "" }, { R6, B6, 0, "" }, { R6, A6, 5, "" },
	{ RD, A4, 12, "" }, { RD, A6, 7, "" }, { RD, B4, 40, "" },
	{ RC, A4, 3, "" }, { RC, A4, 20, "" },
};

static int sock(int family, const char *where)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	int ret;

	if (fd < 0)
		fail("socket: %s", strerror(errno));
	if (family == AF_INET) {
		inet_pton(AF_INET, where, &a4.sin_addr);
		ret = bind(fd, (struct sockaddr *)&a4, sizeof(a4));
	} else {
		inet_pton(AF_INET6, where, &a6.sin6_addr);
		ret = bind(fd, (struct sockaddr *)&a6, sizeof(a6));
	}
	if (ret)
		fail("bind %s: %s", where, strerror(errno));
	return fd;
}

static unsigned rmem(int fd)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mi);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len))
		fail("SO_MEMINFO: %s", strerror(errno));
	return mi[SK_MEMINFO_RMEM_ALLOC];
}

/* Sends D and waits until its receiver holds it (a bounded wait). */
static void send_one(const struct dgram *d)
{
	struct sockaddr_storage to = addr[d->to];
	socklen_t len = addr_len[d->to];
	struct timespec ms = { .tv_nsec = 1000000 };
	unsigned before = rmem(fds[d->to]);

	/* A v4 sender to the dual-stack receiver: its IPv4 loopback. */
	if (d->to == RD && addr[d->from].ss_family == AF_INET) {
		struct sockaddr_in *a4 = (void *)&to;

		a4->sin_family = AF_INET;
		a4->sin_port = ((struct sockaddr_in6 *)&addr[RD])->sin6_port;
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a4);
	} else if (d->to == RD) {
		((struct sockaddr_in6 *)&to)->sin6_addr = in6addr_loopback;
	}
	if (sendto(fds[d->from], d->data, d->len, 0, (struct sockaddr *)&to, len) != (ssize_t)d->len)
		fail("%s to %s: %s", names[d->from], names[d->to], strerror(errno));
	for (int i = 0; i < 5000 && rmem(fds[d->to]) == before; i++)
		nanosleep(&ms, NULL);
	if (rmem(fds[d->to]) == before)
		fail("%s never got %s's datagram", names[d->to], names[d->from]);
}

/* The sender's address as receiver TO sees it. */
static void seen_as(int to, int from, struct sockaddr_storage *ss, socklen_t *len)
{
	const struct sockaddr_in *a4 = (const void *)&addr[from];
	struct sockaddr_in6 *m = (void *)ss;

	*ss = addr[from];
	*len = addr_len[from];
	if (addr[to].ss_family != AF_INET6 || a4->sin_family != AF_INET)
		return;
	memset(ss, 0, sizeof(*ss));
	m->sin6_family = AF_INET6;
	m->sin6_port = a4->sin_port;
	m->sin6_addr.s6_addr[10] = m->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&m->sin6_addr.s6_addr[12], &a4->sin_addr, 4);
	*len = sizeof(*m);
}

static void recv_one(const struct dgram *d, const char *when)
{
	struct sockaddr_storage from, want;
	socklen_t len = sizeof(from), wlen;
	char buf[128];
	ssize_t n = recvfrom(fds[d->to], buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &len);

	if (n < 0)
		fail("%s: %s lacks %s's datagram of %zu bytes: %s", when, names[d->to],
		     names[d->from], d->len, strerror(errno));
	seen_as(d->to, d->from, &want, &wlen);
	if ((size_t)n != d->len || memcmp(buf, d->data, n))
		fail("%s: %s read %zd bytes where %s's %zu were expected", when, names[d->to], n,
		     names[d->from], d->len);
	if (len != wlen || memcmp(&from, &want, len))
		fail("%s: %s's datagram of %zu bytes came from another sender", when,
		     names[d->to], d->len);
}

static void check_connected(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int off = 0;

	if (getpeername(fds[RC], (struct sockaddr *)&ss, &len) || len != addr_len[A4] ||
	    memcmp(&ss, &addr[A4], len))
		fail("RC is no longer connected to A4");
	len = sizeof(off);
	if (getsockopt(fds[RC], SOL_SOCKET, SO_PEEK_OFF, &off, &len) || off != -1)
		fail("RC's SO_PEEK_OFF is %d, not -1", off);
}

/* A socket connected to a closed port, whose datagram got an ICMP port
 * unreachable: its error is pending (poll says POLLERR). */
static int error_pending(void)
{
	int closed = sock(AF_INET, "127.0.0.1"), e = sock(AF_INET, "127.0.0.1");
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct pollfd p = { .fd = e };

	if (getsockname(closed, (struct sockaddr *)&ss, &len))
		fail("getsockname: %s", strerror(errno));
	close(closed);
	if (connect(e, (struct sockaddr *)&ss, len) || send(e, "x", 1, 0) != 1)
		fail("E: %s", strerror(errno));
	if (poll(&p, 1, 5000) != 1 || !(p.revents & POLLERR))
		fail("E got no error");
	return e;
}

static void check_empty(int r)
{
	char c;

	if (recv(fds[r], &c, 1, MSG_DONTWAIT) >= 0 || errno != EAGAIN)
		fail("%s holds more than was queued", names[r]);
}

int main(int argc, char **argv)
{
	struct dgram early = { RC, B4, 4, "from" };
	bool foreign = getenv("SK_UDP_FOREIGN");
	uint64_t seed;
	int off = 0, e = -1;

	test_init(argc, argv);
	seed = test_seed();
	fds[A4] = sock(AF_INET, "127.0.0.1");
	fds[B4] = sock(AF_INET, "127.0.0.1");
	fds[A6] = sock(AF_INET6, "::1");
	fds[B6] = sock(AF_INET6, "::1");
	fds[R4] = sock(AF_INET, "127.0.0.1");
	fds[R6] = sock(AF_INET6, "::1");
	fds[RD] = sock(AF_INET6, "::");
	fds[RC] = sock(AF_INET, "127.0.0.1");
	if (getenv("SK_UDP_PKTINFO") && setsockopt(fds[R4], IPPROTO_IP, IP_PKTINFO, &(int){ 1 },
						   sizeof(int)))
		fail("IP_PKTINFO: %s", strerror(errno));
	for (int i = 0; i < NR; i++) {
		addr_len[i] = sizeof(addr[i]);
		if (getsockname(fds[i], (struct sockaddr *)&addr[i], &addr_len[i]))
			fail("getsockname %s: %s", names[i], strerror(errno));
	}
	if (foreign)
		send_one(&early);
	if (connect(fds[RC], (struct sockaddr *)&addr[A4], addr_len[A4]))
		fail("connect RC: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(queued) / sizeof(queued[0]); i++) {
		for (size_t k = 0; k < queued[i].len; k++)
			queued[i].data[k] = (char)test_mix(seed + off++);
		send_one(&queued[i]);
	}
	if (getenv("SK_UDP_ERROR"))
		e = error_pending();
	test_waitsig();

	if (e >= 0 && (recv(e, &off, 1, MSG_DONTWAIT) >= 0 || errno != ECONNREFUSED))
		fail("E's pending error is lost: %s", strerror(errno));
	check_connected();
	if (foreign)
		recv_one(&early, "after the checkpoint");

	for (size_t i = 0; i < sizeof(queued) / sizeof(queued[0]); i++)
		recv_one(&queued[i], "after the checkpoint");
	check_empty(R4);
	check_empty(R6);
	check_empty(RD);
	check_empty(RC);
	for (size_t i = 0; i < sizeof(queued) / sizeof(queued[0]); i++) {
		queued[i].data[0] ^= 0x5a;
		send_one(&queued[i]);
		recv_one(&queued[i], "a new datagram");
	}
	pass();
}
