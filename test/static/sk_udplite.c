/* UDP-Lite sockets (and a corked UDP one), in a network namespace of the
 * test's own (lo up):
 *   P4  UDP-Lite bound to 127.0.0.1, UDPLITE_SEND_CSCOV set to 0 (sends
 *       a coverage field of 0, where one never set sends the length)
 *   L4  UDP-Lite bound to 127.0.0.1, connected to P4, send coverage 20,
 *       receive coverage 12; a datagram from P4 queued
 *   P6  UDP-Lite bound to [::1], coverage never set
 *   L6  UDP-Lite bound to [::1], connected to P6, send coverage 16,
 *       UDPLITE_RECV_CSCOV set to 0 (drops every partial coverage, which
 *       getsockopt() reads as 0 like one never set); a datagram from P6
 *       queued
 *   U   UDP-Lite, neither bound nor connected, UDP_SEGMENT and UDP_GRO
 *   K4  UDP-Lite bound to 127.0.0.1, connected to Q4, UDP_CORK (with
 *       SK_UDPLITE_PENDING=1 in its environment, a datagram corked in it
 *       still to be sent: a bad-input case, refused)
 *   Q4  UDP-Lite bound to 127.0.0.1
 *   KU  UDP bound to 127.0.0.1, connected to QU, UDP_CORK
 *   QU  UDP bound to 127.0.0.1
 *   S4  UDP-Lite bound to 127.0.0.1, connected to P4, shut down for
 *       writing (which only sock_diag shows: inet_diag by IPPROTO_UDPLITE)
 *   D6  UDP-Lite bound to [::] (dual stack): a datagram from P4 queued
 *       (v4-mapped), one from P6
 * After the restore each has its addresses, coverage and options back;
 * L4 and L6 read exactly their queued datagram (payload, sender), D6 its
 * two, then nothing.  A raw IPPROTO_UDPLITE socket of each family, made then, sees
 * the coverage each sends: L4 20, L6 16, P4 0, P6 the length; P4 and P6
 * read what they were sent.  L4 drops a datagram of coverage 8 (below
 * its 12) and reads one of 12; L6 drops one of coverage 24 and reads a
 * whole one.  K4 and KU still cork: two sends and an uncork make one
 * datagram at Q4 and QU.  S4 still can't send (EPIPE), and can read. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/sock_diag.h>

#include "test.h"

/* include/net/udplite.h's, in no uapi header. */
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11

enum { P4, L4, P6, L6, U, K4, Q4, KU, QU, S4, D6, NR };

static const char *const names[NR] = { "P4", "L4", "P6", "L6", "U", "K4",
					"Q4", "KU", "QU", "S4", "D6" };
static int fds[NR];
static struct sockaddr_storage addr[NR], peer[NR];
static socklen_t addr_len[NR], peer_len[NR];
/* The coverage each sends and requires, as getsockopt() reads it. */
static const int send_cov[NR] = { [L4] = 20, [L6] = 16 };
static const int recv_cov[NR] = { [L4] = 12 };
static char queued4[48], queued6[48], dual4[21], dual6[9];

static void netns_own(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;

	if (unshare(CLONE_NEWNET))
		fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		fail("lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		fail("lo up: %s", strerror(errno));
	close(fd);
}

static void setint(int i, int level, int name, int v)
{
	if (setsockopt(fds[i], level, name, &v, sizeof(v)))
		fail("%s: setsockopt %d/%d: %s", names[i], level, name, strerror(errno));
}

static int getint(int i, int level, int name)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fds[i], level, name, &v, &len))
		fail("%s: getsockopt %d/%d: %s", names[i], level, name, strerror(errno));
	return v;
}

static int sock(int i, int family, int proto, const char *where)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	int ret;

	fds[i] = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, proto);
	if (fds[i] < 0)
		fail("%s: socket: %s", names[i], strerror(errno));
	if (!where)
		return fds[i];
	if (family == AF_INET) {
		inet_pton(AF_INET, where, &a4.sin_addr);
		ret = bind(fds[i], (struct sockaddr *)&a4, sizeof(a4));
	} else {
		inet_pton(AF_INET6, where, &a6.sin6_addr);
		ret = bind(fds[i], (struct sockaddr *)&a6, sizeof(a6));
	}
	if (ret)
		fail("%s: bind %s: %s", names[i], where, strerror(errno));
	return fds[i];
}

static void do_connect(int i, int to)
{
	if (connect(fds[i], (struct sockaddr *)&addr[to], addr_len[to]))
		fail("%s: connect to %s: %s", names[i], names[to], strerror(errno));
}

static void sk_meminfo(int i, uint32_t *rmem, uint32_t *drops)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mi);

	if (getsockopt(fds[i], SOL_SOCKET, SO_MEMINFO, mi, &len))
		fail("%s: SO_MEMINFO: %s", names[i], strerror(errno));
	*rmem = mi[SK_MEMINFO_RMEM_ALLOC];
	*drops = mi[SK_MEMINFO_DROPS];
}

/* Sends DATA from FROM to TO; waits (bounded) until TO holds it, or has
 * dropped it: true if it holds it. */
/* Where FROM sends to reach TO: D6's loopback of FROM's family. */
static socklen_t dest_of(int from, int to, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (void *)ss;

	*ss = addr[to];
	if (to != D6)
		return addr_len[to];
	if (addr[from].ss_family == AF_INET6) {
		((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
		return addr_len[to];
	}
	a4->sin_family = AF_INET;
	a4->sin_port = ((struct sockaddr_in6 *)&addr[to])->sin6_port;
	a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*a4);
}

/* FROM's address as TO sees it: v4-mapped for D6. */
static socklen_t seen_as(int to, int from, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *m = (void *)ss;
	const struct sockaddr_in *a4 = (const void *)&addr[from];

	*ss = addr[from];
	if (to != D6 || a4->sin_family != AF_INET)
		return addr_len[from];
	memset(ss, 0, sizeof(*ss));
	m->sin6_family = AF_INET6;
	m->sin6_port = a4->sin_port;
	m->sin6_addr.s6_addr[10] = m->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&m->sin6_addr.s6_addr[12], &a4->sin_addr, 4);
	return sizeof(*m);
}

static bool send_to(int from, int to, const char *data, size_t len)
{
	struct timespec ms = { .tv_nsec = 1000000 };
	struct sockaddr_storage ss;
	socklen_t sl = dest_of(from, to, &ss);
	uint32_t rmem, drops, r, d;

	sk_meminfo(to, &rmem, &drops);
	if (sendto(fds[from], data, len, 0, (struct sockaddr *)&ss, sl) != (ssize_t)len)
		fail("%s to %s: %s", names[from], names[to], strerror(errno));
	for (int i = 0; i < 5000; i++) {
		sk_meminfo(to, &r, &d);
		if (r != rmem || d != drops)
			return r != rmem;
		nanosleep(&ms, NULL);
	}
	fail("%s neither got nor dropped %s's datagram", names[to], names[from]);
}

/* The next datagram of I is DATA from FROM. */
static void recv_from(int i, int from, const char *data, size_t len, const char *when)
{
	struct sockaddr_storage ss, want;
	socklen_t sl = sizeof(ss), wl = seen_as(i, from, &want);
	char buf[128];
	ssize_t n = recvfrom(fds[i], buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);

	if (n < 0)
		fail("%s: %s lacks %s's datagram: %s", when, names[i], names[from], strerror(errno));
	if ((size_t)n != len || memcmp(buf, data, len))
		fail("%s: %s read %zd bytes, not %s's %zu", when, names[i], n, names[from], len);
	if (sl != wl || memcmp(&ss, &want, sl))
		fail("%s: %s's datagram came from another sender than %s", when, names[i],
		     names[from]);
}

static void check_empty(int i)
{
	char c;

	if (recv(fds[i], &c, 1, MSG_DONTWAIT) >= 0 || errno != EAGAIN)
		fail("%s holds more than was queued", names[i]);
}

static void check_state(void)
{
	struct sockaddr_storage ss;
	socklen_t len;

	for (int i = 0; i < NR; i++) {
		len = sizeof(ss);
		if (getsockname(fds[i], (struct sockaddr *)&ss, &len) || len != addr_len[i] ||
		    memcmp(&ss, &addr[i], len))
			fail("%s is no longer bound where it was", names[i]);
		len = sizeof(ss);
		if (getpeername(fds[i], (struct sockaddr *)&ss, &len))
			len = 0;
		if (len != peer_len[i] || memcmp(&ss, &peer[i], len))
			fail("%s is no longer connected as it was", names[i]);
		if (i == KU || i == QU)
			continue;
		if (getint(i, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV) != send_cov[i] ||
		    getint(i, IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV) != recv_cov[i])
			fail("%s's coverage is %d/%d, was %d/%d", names[i],
			     getint(i, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV),
			     getint(i, IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV), send_cov[i],
			     recv_cov[i]);
	}
	if (getint(U, IPPROTO_UDP, UDP_SEGMENT) != 1000 || getint(U, IPPROTO_UDP, UDP_GRO) != 1)
		fail("U lost UDP_SEGMENT or UDP_GRO");
	if (getint(K4, IPPROTO_UDP, UDP_CORK) != 1 || getint(KU, IPPROTO_UDP, UDP_CORK) != 1)
		fail("K4 or KU is no longer corked");
}

static void check_shut(void)
{
	struct pollfd p = { .fd = fds[S4], .events = POLLIN | POLLRDHUP };

	if (send(fds[S4], "x", 1, MSG_NOSIGNAL) >= 0 || errno != EPIPE)
		fail("S4 can send again: its shutdown is lost");
	if (poll(&p, 1, 0) < 0 || (p.revents & (POLLRDHUP | POLLHUP)))
		fail("S4 is shut down for reading too (revents %#x)", p.revents);
}

/* The coverage field of the next packet RAW (a raw IPPROTO_UDPLITE
 * socket of FAMILY) sees: the one I just sent. */
static unsigned coverage_seen(int raw, int family, int i)
{
	struct pollfd p = { .fd = raw, .events = POLLIN };
	uint8_t buf[256], *uh = buf;
	ssize_t n;

	if (poll(&p, 1, 5000) != 1)
		fail("the raw socket never saw %s's datagram", names[i]);
	n = recv(raw, buf, sizeof(buf), MSG_DONTWAIT);
	if (family == AF_INET && n > 0)
		uh += (buf[0] & 15) * 4;
	if (n < 0 || uh + 8 > buf + n)
		fail("raw socket: %zd: %s", n, strerror(errno));
	return uh[4] << 8 | uh[5];
}

/* I sends 32 bytes to TO, which reads them; the raw socket saw coverage
 * WANT. */
static void send_cover(int raw, int family, int i, int to, unsigned want)
{
	char data[32];
	unsigned got;

	memset(data, 'a' + i, sizeof(data));
	if (!send_to(i, to, data, sizeof(data)))
		fail("%s dropped %s's datagram", names[to], names[i]);
	got = coverage_seen(raw, family, i);
	if (got != want)
		fail("%s sent a coverage of %u, not %u: its UDPLITE_SEND_CSCOV is lost", names[i],
		     got, want);
	recv_from(to, i, data, sizeof(data), "after the checkpoint");
}

/* FROM sends with coverage COV to TO, which drops it (KEEP false) or
 * reads it. */
static void send_partial(int from, int to, int cov, bool keep)
{
	char data[32];

	memset(data, '0' + cov, sizeof(data));
	setint(from, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, cov);
	if (send_to(from, to, data, sizeof(data)) != keep)
		fail("%s %s a datagram of coverage %d: its UDPLITE_RECV_CSCOV is lost", names[to],
		     keep ? "dropped" : "took", cov);
	if (keep)
		recv_from(to, from, data, sizeof(data), "after the checkpoint");
}

/* Two sends and an uncork make one datagram. */
static void check_cork(int k, int q, bool pending)
{
	struct pollfd p = { .fd = fds[q], .events = POLLIN };
	char want[16] = "", buf[32];
	ssize_t n;

	if (pending)
		strcpy(want, "pend");
	strcat(want, "abcd");
	if (send(fds[k], "ab", 2, 0) != 2 || send(fds[k], "cd", 2, 0) != 2)
		fail("%s: send: %s", names[k], strerror(errno));
	if (recv(fds[q], buf, sizeof(buf), MSG_DONTWAIT) >= 0 || errno != EAGAIN)
		fail("%s got a datagram %s had corked", names[q], names[k]);
	setint(k, IPPROTO_UDP, UDP_CORK, 0);
	if (poll(&p, 1, 5000) != 1)
		fail("%s got nothing after %s's uncork", names[q], names[k]);
	n = recv(fds[q], buf, sizeof(buf), MSG_DONTWAIT);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		fail("%s: %zd bytes after %s's uncork, not \"%s\"", names[q], n, names[k], want);
}

static void after(bool pending)
{
	int r4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDPLITE);
	int r6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDPLITE);

	check_state();
	check_shut();
	recv_from(L4, P4, queued4, sizeof(queued4), "after the checkpoint");
	recv_from(L6, P6, queued6, sizeof(queued6), "after the checkpoint");
	recv_from(D6, P4, dual4, sizeof(dual4), "after the checkpoint");
	recv_from(D6, P6, dual6, sizeof(dual6), "after the checkpoint");
	check_empty(L4);
	check_empty(L6);
	check_empty(D6);
	if (r4 < 0 || r6 < 0)
		fail("raw UDP-Lite socket: %s", strerror(errno));
	send_cover(r4, AF_INET, L4, P4, 20);
	send_cover(r4, AF_INET, P4, L4, 0);
	send_cover(r6, AF_INET6, L6, P6, 16);
	send_cover(r6, AF_INET6, P6, L6, 8 + 32);
	send_partial(P4, L4, 8, false);
	send_partial(P4, L4, 12, true);
	send_partial(P6, L6, 24, false);
	send_partial(P6, L6, 0, true);
	check_empty(L4);
	check_empty(L6);
	check_cork(K4, Q4, pending);
	check_cork(KU, QU, false);
}

int main(int argc, char **argv)
{
	bool pending = getenv("SK_UDPLITE_PENDING");
	uint64_t seed;

	test_init(argc, argv);
	seed = test_seed();
	netns_own();
	sock(P4, AF_INET, IPPROTO_UDPLITE, "127.0.0.1");
	sock(L4, AF_INET, IPPROTO_UDPLITE, "127.0.0.1");
	sock(P6, AF_INET6, IPPROTO_UDPLITE, "::1");
	sock(L6, AF_INET6, IPPROTO_UDPLITE, "::1");
	sock(U, AF_INET, IPPROTO_UDPLITE, NULL);
	sock(K4, AF_INET, IPPROTO_UDPLITE, "127.0.0.1");
	sock(Q4, AF_INET, IPPROTO_UDPLITE, "127.0.0.1");
	sock(KU, AF_INET, IPPROTO_UDP, "127.0.0.1");
	sock(QU, AF_INET, IPPROTO_UDP, "127.0.0.1");
	sock(S4, AF_INET, IPPROTO_UDPLITE, "127.0.0.1");
	sock(D6, AF_INET6, IPPROTO_UDPLITE, "::");
	setint(P4, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, 0);
	setint(L4, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, send_cov[L4]);
	setint(L4, IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV, recv_cov[L4]);
	setint(L6, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, send_cov[L6]);
	setint(L6, IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV, 0);
	setint(U, IPPROTO_UDP, UDP_SEGMENT, 1000);
	setint(U, IPPROTO_UDP, UDP_GRO, 1);
	setint(K4, IPPROTO_UDP, UDP_CORK, 1);
	setint(KU, IPPROTO_UDP, UDP_CORK, 1);
	for (int i = 0; i < NR; i++) {
		addr_len[i] = sizeof(addr[i]);
		if (getsockname(fds[i], (struct sockaddr *)&addr[i], &addr_len[i]))
			fail("getsockname %s: %s", names[i], strerror(errno));
	}
	do_connect(L4, P4);
	do_connect(L6, P6);
	do_connect(K4, Q4);
	do_connect(KU, QU);
	do_connect(S4, P4);
	if (shutdown(fds[S4], SHUT_WR))
		fail("S4: shutdown: %s", strerror(errno));
	for (int i = 0; i < NR; i++) {
		peer_len[i] = sizeof(peer[i]);
		if (getpeername(fds[i], (struct sockaddr *)&peer[i], &peer_len[i]))
			peer_len[i] = 0;
	}
	for (size_t k = 0; k < sizeof(queued4); k++) {
		queued4[k] = (char)test_mix(seed + k);
		queued6[k] = (char)test_mix(seed + 100 + k);
	}
	memcpy(dual4, queued6, sizeof(dual4));
	memcpy(dual6, queued4, sizeof(dual6));
	if (!send_to(P4, L4, queued4, sizeof(queued4)) ||
	    !send_to(P6, L6, queued6, sizeof(queued6)) ||
	    !send_to(P4, D6, dual4, sizeof(dual4)) || !send_to(P6, D6, dual6, sizeof(dual6)))
		fail("a datagram to queue was dropped");
	if (pending && send(fds[K4], "pend", 4, 0) != 4)
		fail("K4: send: %s", strerror(errno));
	check_state();
	test_waitsig();

	after(pending);
	pass();
}
