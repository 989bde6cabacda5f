/* Socket options that are not the kernel's defaults, on every kind of
 * socket lmproc restores (all on lmproc's loopback):
 *   X  an unnamed unix datagram socket: SO_LINGER, SO_PRIORITY, SO_MARK,
 *      timeouts, SO_PASSSEC, SO_TIMESTAMPNS, SO_RCVLOWAT, SO_KEEPALIVE,
 *      SO_BINDTODEVICE lo, SO_SNDBUF set (SO_BUF_LOCK 1)
 *   P  one end of a unix stream pair: SO_PASSPIDFD, SO_PASSRIGHTS off,
 *      a classic BPF filter, locked
 *   L  a TCP listener on 127.0.0.1: keepalive timers, SO_LINGER,
 *      TCP_DEFER_ACCEPT, TCP_FASTOPEN, TCP_USER_TIMEOUT, TCP_CONGESTION
 *      reno, TCP_MAXSEG, TCP_NOTSENT_LOWAT, TCP_SYNCNT, TCP_LINGER2,
 *      TCP_WINDOW_CLAMP, IP_TOS, IP_TTL, SO_BINDTODEVICE lo
 *   T  an IPv6 TCP socket never bound: IPV6_TCLASS, IPV6_UNICAST_HOPS,
 *      IPV6_RECVERR, IPV6_RECVPKTINFO, TCP_CORK, TCP_QUICKACK off
 *   U  a UDP socket bound to 127.0.0.1 with a classic BPF filter that
 *      lets only datagrams starting with 'A' in, SO_TIMESTAMP, IP_PKTINFO,
 *      IP_RECVTTL, IP_MULTICAST_TTL, IP_MTU_DISCOVER, UDP_SEGMENT,
 *      UDP_GRO, SO_RCVBUF set, SO_PEEK_OFF
 *   S  a UDP socket bound to 127.0.0.1, shut down both ways
 *   R  a UDP socket bound to 127.0.0.1, shut down for reading
 * After the restore every option reads back as before the checkpoint,
 * U's filter is the same program and still drops what it dropped, S and
 * R show their shutdown in poll. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/filter.h>

#include "test.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

enum { X, P, P2, L, T, U, S, R, NR };

static int fds[NR];

struct opt {
	int sk, level, name;
	int val; /* an int option's value; -1: a value of its own */
	const char *str;
};

static const struct opt opts[] = {
	{ X, SOL_SOCKET, SO_PRIORITY, 5, "X SO_PRIORITY" },
	{ X, SOL_SOCKET, SO_MARK, 42, "X SO_MARK" },
	{ X, SOL_SOCKET, SO_PASSSEC, 1, "X SO_PASSSEC" },
	{ X, SOL_SOCKET, SO_TIMESTAMPNS, 1, "X SO_TIMESTAMPNS" },
	{ X, SOL_SOCKET, SO_RCVLOWAT, 3, "X SO_RCVLOWAT" },
	{ X, SOL_SOCKET, SO_KEEPALIVE, 1, "X SO_KEEPALIVE" },
	{ X, SOL_SOCKET, SO_SNDBUF, 65536, "X SO_SNDBUF" },
	{ P, SOL_SOCKET, SO_PASSPIDFD, 1, "P SO_PASSPIDFD" },
	{ P, SOL_SOCKET, SO_PASSRIGHTS, 0, "P SO_PASSRIGHTS" },
	{ L, IPPROTO_TCP, TCP_KEEPIDLE, 77, "L TCP_KEEPIDLE" },
	{ L, IPPROTO_TCP, TCP_KEEPINTVL, 11, "L TCP_KEEPINTVL" },
	{ L, IPPROTO_TCP, TCP_KEEPCNT, 4, "L TCP_KEEPCNT" },
	{ L, IPPROTO_TCP, TCP_DEFER_ACCEPT, 7, "L TCP_DEFER_ACCEPT" },
	{ L, IPPROTO_TCP, TCP_FASTOPEN, 16, "L TCP_FASTOPEN" },
	{ L, IPPROTO_TCP, TCP_USER_TIMEOUT, 12345, "L TCP_USER_TIMEOUT" },
	{ L, IPPROTO_TCP, TCP_MAXSEG, 1200, "L TCP_MAXSEG" },
	{ L, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 9999, "L TCP_NOTSENT_LOWAT" },
	{ L, IPPROTO_TCP, TCP_SYNCNT, 3, "L TCP_SYNCNT" },
	{ L, IPPROTO_TCP, TCP_LINGER2, 21, "L TCP_LINGER2" },
	{ L, IPPROTO_TCP, TCP_WINDOW_CLAMP, 40000, "L TCP_WINDOW_CLAMP" },
	{ L, IPPROTO_IP, IP_TOS, 0x20, "L IP_TOS" },
	{ L, IPPROTO_IP, IP_TTL, 17, "L IP_TTL" },
	{ T, IPPROTO_IPV6, IPV6_TCLASS, 0x28, "T IPV6_TCLASS" },
	{ T, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9, "T IPV6_UNICAST_HOPS" },
	{ T, IPPROTO_IPV6, IPV6_RECVERR, 1, "T IPV6_RECVERR" },
	{ T, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "T IPV6_RECVPKTINFO" },
	{ T, IPPROTO_TCP, TCP_CORK, 1, "T TCP_CORK" },
	{ T, IPPROTO_TCP, TCP_QUICKACK, 0, "T TCP_QUICKACK" },
	{ U, SOL_SOCKET, SO_TIMESTAMP, 1, "U SO_TIMESTAMP" },
	{ U, IPPROTO_IP, IP_PKTINFO, 1, "U IP_PKTINFO" },
	{ U, IPPROTO_IP, IP_RECVTTL, 1, "U IP_RECVTTL" },
	{ U, IPPROTO_IP, IP_MULTICAST_TTL, 5, "U IP_MULTICAST_TTL" },
	{ U, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO, "U IP_MTU_DISCOVER" },
	{ U, IPPROTO_UDP, UDP_SEGMENT, 1000, "U UDP_SEGMENT" },
	{ U, IPPROTO_UDP, UDP_GRO, 1, "U UDP_GRO" },
	{ U, SOL_SOCKET, SO_RCVBUF, 100000, "U SO_RCVBUF" },
	{ U, SOL_SOCKET, SO_PEEK_OFF, 0, "U SO_PEEK_OFF" },
};

/* Options whose values are not ints, read back as bytes. */
static const struct opt raw[] = {
	{ X, SOL_SOCKET, SO_LINGER, -1, "X SO_LINGER" },
	{ X, SOL_SOCKET, SO_RCVTIMEO, -1, "X SO_RCVTIMEO" },
	{ X, SOL_SOCKET, SO_SNDTIMEO, -1, "X SO_SNDTIMEO" },
	{ X, SOL_SOCKET, SO_BINDTODEVICE, -1, "X SO_BINDTODEVICE" },
	{ X, SOL_SOCKET, SO_BUF_LOCK, -1, "X SO_BUF_LOCK" },
	{ U, SOL_SOCKET, SO_BUF_LOCK, -1, "U SO_BUF_LOCK" },
	{ P, SOL_SOCKET, SO_LOCK_FILTER, -1, "P SO_LOCK_FILTER" },
	{ L, SOL_SOCKET, SO_LINGER, -1, "L SO_LINGER" },
	{ L, SOL_SOCKET, SO_BINDTODEVICE, -1, "L SO_BINDTODEVICE" },
	{ L, IPPROTO_TCP, TCP_CONGESTION, -1, "L TCP_CONGESTION" },
	{ L, SOL_SOCKET, SO_RCVBUF, -1, "L SO_RCVBUF" },
	{ U, SOL_SOCKET, SO_RCVBUF, -1, "U SO_RCVBUF" },
	{ U, IPPROTO_UDP, UDP_SEGMENT, -1, "U UDP_SEGMENT" },
};

#define RAW_MAX 64
static unsigned char before[sizeof(raw) / sizeof(raw[0])][RAW_MAX];
static socklen_t before_len[sizeof(raw) / sizeof(raw[0])];

/* U: accept a datagram whose first byte (after the UDP header) is 'A'. */
static struct sock_filter prog_u[] = {
	BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'A', 0, 1),
	BPF_STMT(BPF_RET | BPF_K, 0xffff),
	BPF_STMT(BPF_RET | BPF_K, 0),
};

/* P: accept everything (a program of one instruction). */
static struct sock_filter prog_p[] = {
	BPF_STMT(BPF_RET | BPF_K, 0xffff),
};

static struct sockaddr_in addr_u;

static int sock(int family, int type)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fail("socket: %s", strerror(errno));
	return fd;
}

static void set(int fd, int level, int name, const void *v, socklen_t len, const char *what)
{
	if (setsockopt(fd, level, name, v, len))
		fail("setsockopt %s: %s", what, strerror(errno));
}

static void bind_lo(int fd, struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);

	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = 0;
	if (bind(fd, (struct sockaddr *)a, sizeof(*a)) ||
	    getsockname(fd, (struct sockaddr *)a, &len))
		fail("bind: %s", strerror(errno));
}

static void attach(int fd, struct sock_filter *f, unsigned short n)
{
	struct sock_fprog p = { .len = n, .filter = f };

	set(fd, SOL_SOCKET, SO_ATTACH_FILTER, &p, sizeof(p), "SO_ATTACH_FILTER");
}

static void build(void)
{
	struct linger lx = { 1, 3 }, ll = { 0, 9 };
	struct timeval rt = { 2, 500000 }, st = { 0, 250000 };
	int sv[2], one = 1;
	struct sockaddr_in a;

	fds[X] = sock(AF_UNIX, SOCK_DGRAM);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		fail("socketpair: %s", strerror(errno));
	fds[P] = sv[0];
	fds[P2] = sv[1];
	fds[L] = sock(AF_INET, SOCK_STREAM);
	fds[T] = sock(AF_INET6, SOCK_STREAM);
	fds[U] = sock(AF_INET, SOCK_DGRAM);
	fds[S] = sock(AF_INET, SOCK_DGRAM);
	fds[R] = sock(AF_INET, SOCK_DGRAM);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		set(fds[opts[i].sk], opts[i].level, opts[i].name, &opts[i].val, sizeof(int),
		    opts[i].str);
	set(fds[X], SOL_SOCKET, SO_LINGER, &lx, sizeof(lx), "X SO_LINGER");
	set(fds[X], SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt), "X SO_RCVTIMEO");
	set(fds[X], SOL_SOCKET, SO_SNDTIMEO, &st, sizeof(st), "X SO_SNDTIMEO");
	set(fds[X], SOL_SOCKET, SO_BINDTODEVICE, "lo", 2, "X SO_BINDTODEVICE");
	set(fds[L], SOL_SOCKET, SO_LINGER, &ll, sizeof(ll), "L SO_LINGER");
	set(fds[L], SOL_SOCKET, SO_BINDTODEVICE, "lo", 2, "L SO_BINDTODEVICE");
	set(fds[L], IPPROTO_TCP, TCP_CONGESTION, "reno", 4, "L TCP_CONGESTION");
	attach(fds[P], prog_p, 1);
	set(fds[P], SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one), "P SO_LOCK_FILTER");
	attach(fds[U], prog_u, 4);
	bind_lo(fds[L], &a);
	if (listen(fds[L], 5))
		fail("listen: %s", strerror(errno));
	bind_lo(fds[U], &addr_u);
	bind_lo(fds[S], &a);
	bind_lo(fds[R], &a);
	/* An unconnected UDP socket takes the shutdown and says ENOTCONN. */
	shutdown(fds[S], SHUT_RDWR);
	shutdown(fds[R], SHUT_RD);
}

static void save_raw(void)
{
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		before_len[i] = RAW_MAX;
		if (getsockopt(fds[raw[i].sk], raw[i].level, raw[i].name, before[i], &before_len[i]))
			fail("getsockopt %s: %s", raw[i].str, strerror(errno));
	}
}

static void check_opts(void)
{
	unsigned char now[RAW_MAX];

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		int v = -1;
		socklen_t len = sizeof(v);

		if (opts[i].name == SO_SNDBUF || opts[i].name == SO_RCVBUF)
			continue;
		if (getsockopt(fds[opts[i].sk], opts[i].level, opts[i].name, &v, &len) ||
		    v != opts[i].val)
			fail("%s is %d, was set to %d", opts[i].str, v, opts[i].val);
	}
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		socklen_t len = RAW_MAX;

		memset(now, 0, sizeof(now));
		if (getsockopt(fds[raw[i].sk], raw[i].level, raw[i].name, now, &len) ||
		    len != before_len[i] || memcmp(now, before[i], len))
			fail("%s changed", raw[i].str);
	}
}

static void check_filter(int fd, const struct sock_filter *f, socklen_t n, const char *what)
{
	struct sock_filter now[8];
	socklen_t len = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &len) || len != n)
		fail("%s: SO_GET_FILTER says %u instructions, not %u", what, len, n);
	if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, now, &len) ||
	    memcmp(now, f, n * sizeof(*f)))
		fail("%s: the filter is another program", what);
}

/* 'B' is dropped by U's filter, 'A' comes through. */
static void check_filtering(void)
{
	struct pollfd p = { .fd = fds[U], .events = POLLIN };
	int c = sock(AF_INET, SOCK_DGRAM);
	char buf[8];

	if (sendto(c, "B", 1, 0, (struct sockaddr *)&addr_u, sizeof(addr_u)) != 1 ||
	    sendto(c, "A", 1, 0, (struct sockaddr *)&addr_u, sizeof(addr_u)) != 1)
		fail("sendto U: %s", strerror(errno));
	if (poll(&p, 1, 5000) != 1 || recv(fds[U], buf, sizeof(buf), MSG_DONTWAIT) != 1 ||
	    buf[0] != 'A')
		fail("U did not get 'A' first: its filter let 'B' in or dropped 'A'");
	close(c);
}

static void check_shutdown(void)
{
	struct pollfd p[2] = { { .fd = fds[S], .events = POLLIN | POLLRDHUP },
			       { .fd = fds[R], .events = POLLIN | POLLRDHUP } };

	if (poll(p, 2, 0) != 2)
		fail("S or R is no longer shut down");
	if (!(p[0].revents & POLLHUP) || !(p[0].revents & POLLRDHUP))
		fail("S is not shut down both ways (revents %#x)", p[0].revents);
	if ((p[1].revents & POLLHUP) || !(p[1].revents & POLLRDHUP))
		fail("R is not shut down for reading only (revents %#x)", p[1].revents);
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	build();
	save_raw();
	check_opts();
	test_waitsig();
	check_opts();
	check_filter(fds[U], prog_u, 4, "U");
	check_filter(fds[P], prog_p, 1, "P");
	check_filtering();
	check_shutdown();
	pass();
}
