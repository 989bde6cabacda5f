/* Raw and ICMP ping sockets, in a network namespace of the test's own
 * (lo up; net.ipv4.ping_group_range lets the test's group make ping
 * sockets):
 *   R4  raw IPv4 ICMP, bound to 127.0.0.1, ICMP_FILTER: echo replies only
 *   R6  raw IPv6 ICMPv6, ICMPV6_FILTER: echo replies only
 *   P4  ICMP ping socket bound to 127.0.0.1 with a random id
 *   P6  ICMPv6 ping socket bound to [::1] with another, connected to [::1]
 *   C4  raw IPv4 of protocol 254, connected to 127.0.0.1, bound to device
 *       lo (with SK_RAW_QUEUED=1 in the environment: of protocol UDP, so
 *       that it gets a copy of S4's datagram to U4, and the dump refuses
 *       it: a bad-input case)
 *   H4  raw IPv4 of protocol 253, IP_HDRINCL, IP_NODEFRAG, IP_ROUTER_ALERT
 *   H6  raw IPv6 IPPROTO_RAW (its own IPv6 header)
 *   U4  UDP bound to 127.0.0.1, with datagrams queued: one H4 forged
 *       from 10.1.2.3:4444 (no such address here), one from S4
 *   U6  UDP bound to [::1], with one datagram H6 forged from
 *       [fd00::5]:6666
 *   S4  UDP bound to 127.0.0.1
 * After the restore each has its address, id, filter and options back;
 * R4 and R6 send an echo request to the loopback and the first packet
 * they get is its reply (a lost filter would give them the request
 * first); P4 and P6 send one and get its reply, with their id, P6 also
 * without an address (connected); C4 sends without an address
 * (connected); U4 and U6 read exactly their datagrams
 * (payload, sender, order), then nothing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

/* <linux/icmp.h>'s, which clashes with <netinet/ip_icmp.h>. */
#define ICMP_FILTER 1

enum { R4, R6, P4, P6, C4, H4, H6, U4, U6, S4, NR };

static const char *const names[NR] = { "R4", "R6", "P4", "P6", "C4", "H4", "H6", "U4", "U6",
					"S4" };
static int fds[NR];
static struct sockaddr_storage local[NR];
static socklen_t local_len[NR];
static uint32_t filter4;
static struct icmp6_filter filter6;
static uint16_t seq = 1;

static const struct sockaddr_in lo4 = { .sin_family = AF_INET,
					.sin_addr.s_addr = 0x0100007f /* 127.0.0.1 */ };
static const struct sockaddr_in6 lo6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };

static void netns_own(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	char range[64];
	int fd, n;

	if (unshare(CLONE_NEWNET))
		fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		fail("lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		fail("lo up: %s", strerror(errno));
	close(fd);
	n = snprintf(range, sizeof(range), "%u %u\n", getgid(), getgid());
	fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, range, n) != n)
		fail("ping_group_range: %s", strerror(errno));
	close(fd);
}

static int sock(int family, int type, int proto)
{
	int fd = socket(family, type | SOCK_CLOEXEC, proto);

	if (fd < 0)
		fail("socket(%d, %d, %d): %s", family, type, proto, strerror(errno));
	return fd;
}

static void setopt(int fd, int level, int name, const void *v, socklen_t len)
{
	if (setsockopt(fd, level, name, v, len))
		fail("setsockopt %d/%d: %s", level, name, strerror(errno));
}

static void do_bind(int fd, int family, uint16_t port)
{
	struct sockaddr_in a4 = lo4;
	struct sockaddr_in6 a6 = lo6;
	int ret;

	a4.sin_port = a6.sin6_port = htons(port);
	ret = family == AF_INET ? bind(fd, (struct sockaddr *)&a4, sizeof(a4)) :
				  bind(fd, (struct sockaddr *)&a6, sizeof(a6));
	if (ret)
		fail("bind: %s", strerror(errno));
}

static uint16_t csum_from(const void *p, size_t n, uint32_t s)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (b[i] << 8) | b[i + 1];
	if (n & 1)
		s += b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons(~s);
}

static uint16_t csum(const void *p, size_t n)
{
	return csum_from(p, n, 0);
}

static uint32_t sum_of(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (b[i] << 8) | b[i + 1];
	return s;
}

/* A UDP datagram with PAYLOAD forged from FROM:SPORT to U's address,
 * sent by H4 (IPv4) or H6 (IPv6) with an IP header of its own. */
static void forge(int u, const char *from, uint16_t sport, const char *payload)
{
	uint8_t pkt[40 + 8 + 64] = { 0 };
	bool v4 = local[u].ss_family == AF_INET;
	size_t hl = v4 ? 20 : 40, plen = strlen(payload), tl = 8 + plen;
	uint8_t *uh = pkt + hl, *src = pkt + (v4 ? 12 : 8), *dst = pkt + (v4 ? 16 : 24);
	size_t alen = v4 ? 4 : 16;
	ssize_t n;

	if (v4) {
		pkt[0] = 0x45;
		pkt[8] = 64;
		pkt[9] = IPPROTO_UDP;
		pkt[2] = (hl + tl) >> 8;
		pkt[3] = (hl + tl) & 0xff;
		inet_pton(AF_INET, from, src);
		memcpy(dst, &((struct sockaddr_in *)&local[u])->sin_addr, 4);
	} else {
		pkt[0] = 0x60;
		pkt[4] = tl >> 8;
		pkt[5] = tl & 0xff;
		pkt[6] = IPPROTO_UDP;
		pkt[7] = 64;
		inet_pton(AF_INET6, from, src);
		memcpy(dst, &((struct sockaddr_in6 *)&local[u])->sin6_addr, 16);
	}
	uh[0] = sport >> 8;
	uh[1] = sport & 0xff;
	memcpy(uh + 2, &((struct sockaddr_in *)&local[u])->sin_port, 2);
	uh[4] = tl >> 8;
	uh[5] = tl & 0xff;
	memcpy(uh + 8, payload, plen);
	memcpy(uh + 6, &(uint16_t){ csum_from(uh, tl, sum_of(src, 2 * alen) + IPPROTO_UDP + tl) },
	       2);
	n = v4 ? sendto(fds[H4], pkt, hl + tl, 0, (struct sockaddr *)&lo4, sizeof(lo4)) :
		 sendto(fds[H6], pkt, hl + tl, 0, (struct sockaddr *)&lo6, sizeof(lo6));
	if (n != (ssize_t)(hl + tl))
		fail("forging a datagram from %s to %s: %s", from, names[u], strerror(errno));
}

/* The next datagram of U: PAYLOAD from FROM:PORT (waited for at most 5 s
 * before the checkpoint; after it, it must be there). */
static void expect(int u, const char *from, uint16_t port, const char *payload, int wait)
{
	struct pollfd p = { .fd = fds[u], .events = POLLIN };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char buf[128], host[INET6_ADDRSTRLEN] = "";
	uint16_t sport;
	ssize_t n;

	if (poll(&p, 1, wait) != 1)
		fail("%s lacks the datagram from %s:%u", names[u], from, port);
	n = recvfrom(fds[u], buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK, (struct sockaddr *)&ss, &len);
	if (n < 0)
		fail("%s: recv: %s", names[u], strerror(errno));
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
		sport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
		sport = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (strcmp(host, from) || sport != port || (size_t)n != strlen(payload) ||
	    memcmp(buf, payload, n))
		fail("%s: a datagram of %zd bytes from %s:%u where \"%s\" from %s:%u was expected",
		     names[u], n, host, sport, payload, from, port);
}

/* An echo request of FD's family (ID ignored by a ping socket) to the
 * loopback; its sequence number. */
static uint16_t echo(int i, int family, uint16_t id)
{
	uint8_t pkt[16] = { family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST };
	ssize_t n;

	memcpy(pkt + 4, &(uint16_t){ htons(id) }, 2);
	memcpy(pkt + 6, &(uint16_t){ htons(seq) }, 2);
	memcpy(pkt + 8, "lmproc!!", 8);
	if (family == AF_INET)
		memcpy(pkt + 2, &(uint16_t){ csum(pkt, sizeof(pkt)) }, 2);
	n = family == AF_INET ? sendto(fds[i], pkt, sizeof(pkt), 0, (struct sockaddr *)&lo4, sizeof(lo4)) :
				sendto(fds[i], pkt, sizeof(pkt), 0, (struct sockaddr *)&lo6, sizeof(lo6));
	if (n != sizeof(pkt))
		fail("%s: echo request: %s", names[i], strerror(errno));
	return seq++;
}

/* The first ICMP message I gets: it must be the reply of SEQ with ID. */
static void reply(int i, int family, bool ip_header, uint16_t id, uint16_t s)
{
	struct pollfd p = { .fd = fds[i], .events = POLLIN };
	uint8_t buf[256], *icmp = buf;
	uint16_t rid, rseq;
	ssize_t n;

	if (poll(&p, 1, 5000) != 1)
		fail("%s: no reply to its echo request", names[i]);
	n = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
	if (ip_header && n > 0)
		icmp += (buf[0] & 15) * 4;
	if (n < 0 || icmp + 8 > buf + n)
		fail("%s: recv: %zd, %s", names[i], n, strerror(errno));
	if (icmp[0] != (family == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY))
		fail("%s got ICMP type %u first, not an echo reply: its filter is lost", names[i],
		     icmp[0]);
	memcpy(&rid, icmp + 4, 2);
	memcpy(&rseq, icmp + 6, 2);
	if (ntohs(rid) != id || ntohs(rseq) != s)
		fail("%s: a reply with id %u seq %u, expected id %u seq %u", names[i], ntohs(rid),
		     ntohs(rseq), id, s);
}

static void check_opts(void)
{
	struct icmp6_filter f6;
	uint32_t f4 = 0;
	char dev[IFNAMSIZ] = "";
	socklen_t len = sizeof(f4);
	int v = 0;

	if (getsockopt(fds[R4], SOL_RAW, ICMP_FILTER, &f4, &len) || f4 != filter4)
		fail("R4's ICMP_FILTER is %#x, was %#x", f4, filter4);
	len = sizeof(f6);
	if (getsockopt(fds[R6], IPPROTO_ICMPV6, ICMP6_FILTER, &f6, &len) ||
	    memcmp(&f6, &filter6, sizeof(f6)))
		fail("R6's ICMPV6_FILTER changed");
	len = sizeof(dev);
	if (getsockopt(fds[C4], SOL_SOCKET, SO_BINDTODEVICE, dev, &len) || strcmp(dev, "lo"))
		fail("C4 is no longer bound to lo (\"%s\")", dev);
	len = sizeof(v);
	if (getsockopt(fds[H4], IPPROTO_IP, IP_HDRINCL, &v, &len) || v != 1)
		fail("H4 lost IP_HDRINCL");
	len = sizeof(v);
	if (getsockopt(fds[H4], IPPROTO_IP, IP_NODEFRAG, &v, &len) || v != 1)
		fail("H4 lost IP_NODEFRAG");
	len = sizeof(v);
	if (getsockopt(fds[H4], IPPROTO_IP, IP_ROUTER_ALERT, &v, &len) || v != 1)
		fail("H4 lost IP_ROUTER_ALERT");
	len = sizeof(v);
	if (getsockopt(fds[C4], IPPROTO_IP, IP_HDRINCL, &v, &len) || v != 0)
		fail("C4 got IP_HDRINCL");
}

static void check_names(void)
{
	struct sockaddr_storage ss;
	socklen_t len;

	for (int i = 0; i < NR; i++) {
		len = sizeof(ss);
		if (getsockname(fds[i], (struct sockaddr *)&ss, &len) || len != local_len[i] ||
		    memcmp(&ss, &local[i], len))
			fail("%s is no longer bound where it was (or its id changed)", names[i]);
	}
}

int main(int argc, char **argv)
{
	uint64_t seed;
	uint16_t id4, id6, s4_port;
	char payload[3][32], buf[64];

	test_init(argc, argv);
	seed = test_seed();
	id4 = 1000 + seed % 30000;
	id6 = id4 + 1 + (seed >> 20) % 20000;
	netns_own();
	fds[R4] = sock(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	filter4 = ~(1u << ICMP_ECHOREPLY);
	setopt(fds[R4], SOL_RAW, ICMP_FILTER, &filter4, sizeof(filter4));
	do_bind(fds[R4], AF_INET, 0);
	fds[R6] = sock(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	ICMP6_FILTER_SETBLOCKALL(&filter6);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter6);
	setopt(fds[R6], IPPROTO_ICMPV6, ICMP6_FILTER, &filter6, sizeof(filter6));
	fds[P4] = sock(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	do_bind(fds[P4], AF_INET, id4);
	fds[P6] = sock(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
	do_bind(fds[P6], AF_INET6, id6);
	if (connect(fds[P6], (const struct sockaddr *)&lo6, sizeof(lo6)))
		fail("connect P6: %s", strerror(errno));
	fds[C4] = sock(AF_INET, SOCK_RAW, getenv("SK_RAW_QUEUED") ? IPPROTO_UDP : 254);
	setopt(fds[C4], SOL_SOCKET, SO_BINDTODEVICE, "lo", 2);
	if (connect(fds[C4], (const struct sockaddr *)&lo4, sizeof(lo4)))
		fail("connect C4: %s", strerror(errno));
	fds[H4] = sock(AF_INET, SOCK_RAW, 253);
	setopt(fds[H4], IPPROTO_IP, IP_HDRINCL, &(int){ 1 }, sizeof(int));
	setopt(fds[H4], IPPROTO_IP, IP_NODEFRAG, &(int){ 1 }, sizeof(int));
	setopt(fds[H4], IPPROTO_IP, IP_ROUTER_ALERT, &(int){ 1 }, sizeof(int));
	fds[H6] = sock(AF_INET6, SOCK_RAW, IPPROTO_RAW);
	fds[U4] = sock(AF_INET, SOCK_DGRAM, 0);
	do_bind(fds[U4], AF_INET, 0);
	fds[U6] = sock(AF_INET6, SOCK_DGRAM, 0);
	do_bind(fds[U6], AF_INET6, 0);
	fds[S4] = sock(AF_INET, SOCK_DGRAM, 0);
	do_bind(fds[S4], AF_INET, 0);
	for (int i = 0; i < NR; i++) {
		local_len[i] = sizeof(local[i]);
		if (getsockname(fds[i], (struct sockaddr *)&local[i], &local_len[i]))
			fail("getsockname %s: %s", names[i], strerror(errno));
	}
	snprintf(payload[0], sizeof(payload[0]), "forged %u", (unsigned)(seed % 100000));
	snprintf(payload[1], sizeof(payload[1]), "from S4 %u", (unsigned)(seed >> 32) % 100000);
	snprintf(payload[2], sizeof(payload[2]), "forged v6 %u", (unsigned)(seed >> 40));
	forge(U4, "10.1.2.3", 4444, payload[0]);
	expect(U4, "10.1.2.3", 4444, payload[0], 5000);
	if (sendto(fds[S4], payload[1], strlen(payload[1]), 0, (struct sockaddr *)&local[U4],
		   local_len[U4]) != (ssize_t)strlen(payload[1]))
		fail("S4 to U4: %s", strerror(errno));
	forge(U6, "fd00::5", 6666, payload[2]);
	expect(U6, "fd00::5", 6666, payload[2], 5000);
	s4_port = ntohs(((struct sockaddr_in *)&local[S4])->sin_port);
	test_waitsig();

	check_names();
	check_opts();
	reply(R4, AF_INET, true, 0x4c4d, echo(R4, AF_INET, 0x4c4d));
	reply(P4, AF_INET, false, id4, echo(P4, AF_INET, 7));
	reply(R6, AF_INET6, false, 0x4c4e, echo(R6, AF_INET6, 0x4c4e));
	reply(P6, AF_INET6, false, id6, echo(P6, AF_INET6, 7));
	if (send(fds[P6], (uint8_t[8]){ ICMP6_ECHO_REQUEST, 0, 0, 0, 0, 0, 0, 99 }, 8, 0) != 8)
		fail("P6 can't send without an address: %s", strerror(errno));
	reply(P6, AF_INET6, false, id6, 99);
	if (send(fds[C4], "12345678", 8, 0) != 8)
		fail("C4 can't send without an address: %s", strerror(errno));
	expect(U4, "10.1.2.3", 4444, payload[0], 0);
	recv(fds[U4], buf, sizeof(buf), 0);
	expect(U4, "127.0.0.1", s4_port, payload[1], 0);
	recv(fds[U4], buf, sizeof(buf), 0);
	expect(U6, "fd00::5", 6666, payload[2], 0);
	recv(fds[U6], buf, sizeof(buf), 0);
	if (recv(fds[U4], buf, 1, MSG_DONTWAIT) >= 0 || recv(fds[U6], buf, 1, MSG_DONTWAIT) >= 0)
		fail("U4 or U6 holds more than was queued");
	pass();
}
