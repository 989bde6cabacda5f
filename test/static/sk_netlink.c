/* Netlink sockets, in a network namespace of the test's own (it changes
 * its loopback's address, MTU and multicast groups; never the host's):
 *   A  NETLINK_ROUTE, SOCK_RAW, autobound with RTMGRP_LINK |
 *      RTMGRP_IPV4_IFADDR, a member of group 37 (RTNLGRP_IPV4_MCADDR,
 *      beyond nl_groups) by NETLINK_ADD_MEMBERSHIP, NETLINK_NO_ENOBUFS,
 *      a receive buffer of its own
 *   B  NETLINK_ROUTE, SOCK_DGRAM, bound to a port id of the test's
 *      choosing, NETLINK_EXT_ACK, non-blocking
 *   G  NETLINK_GENERIC, never bound
 *   D  NETLINK_USERSOCK bound to a port id, E connected to it
 *   U  NETLINK_KOBJECT_UEVENT, SOCK_DGRAM, autobound (in no group: the
 *      host's devices' events would reach it)
 *   AU NETLINK_AUDIT, a member of AUDIT_NLGRP_READLOG (only the first
 *      namespace's audit log is sent to it)
 *   N  NETLINK_NETFILTER, autobound, NETLINK_BROADCAST_ERROR,
 *      NETLINK_LISTEN_ALL_NSID, NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK
 * After the restore every socket has its port id, groups, destination
 * and options back (U, AU and N only that); A receives the messages of its three groups for an
 * address added on lo (through B), an MTU change and a multicast group
 * joined; G still resolves the family "nlctrl"; what E sends reaches D. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "test.h"

#define GROUP_MCADDR 37 /* RTNLGRP_IPV4_MCADDR (Linux 6.13) */
#define RTM_NEWMULTICAST_ 56

enum { A, B, G, D, E, U, AU, N, NR };

static const char *const names[NR] = { "A", "B", "G", "D", "E", "U", "AU", "N" };
static const int n_opts[] = { NETLINK_BROADCAST_ERROR, NETLINK_LISTEN_ALL_NSID, NETLINK_CAP_ACK,
			      NETLINK_GET_STRICT_CHK };
static int fds[NR];
static uint32_t portid[NR];
static uint8_t reply[65536];

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len))
		fail("getsockopt %d/%d: %s", level, name, strerror(errno));
	return v;
}

static void set(int fd, int level, int name, int v)
{
	if (setsockopt(fd, level, name, &v, sizeof(v)))
		fail("setsockopt %d/%d: %s", level, name, strerror(errno));
}

static int nl_sock(int type, int proto, uint32_t pid, uint32_t groups)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = pid, .nl_groups = groups };
	int fd = socket(AF_NETLINK, type | SOCK_CLOEXEC, proto);

	if (fd < 0)
		fail("netlink socket %d: %s", proto, strerror(errno));
	if ((pid || groups) && bind(fd, (struct sockaddr *)&a, sizeof(a)))
		fail("bind netlink %d to %u: %s", proto, pid, strerror(errno));
	return fd;
}

/* bind() with port id 0: the kernel chooses one. */
static void autobind(int fd)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK };

	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		fail("autobind: %s", strerror(errno));
}

static uint32_t port_of(int fd)
{
	struct sockaddr_nl a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len))
		fail("getsockname: %s", strerror(errno));
	return a.nl_pid;
}

/* Sends request H (with NLM_F_ACK) on FD and waits for its answer: the
 * errno of the ACK, or the first message of type WANT (returns 0). */
static int request(int fd, struct nlmsghdr *h, int want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (send(fd, h, h->nlmsg_len, 0) != (ssize_t)h->nlmsg_len)
		fail("send request %u: %s", h->nlmsg_type, strerror(errno));
	while (poll(&p, 1, 10000) == 1) {
		ssize_t n = recv(fd, reply, sizeof(reply), 0);
		struct nlmsghdr *r = (void *)reply;

		if (n < 0)
			fail("recv answer: %s", strerror(errno));
		for (; NLMSG_OK(r, (size_t)n); r = NLMSG_NEXT(r, n)) {
			if (r->nlmsg_type == want)
				return 0;
			if (r->nlmsg_type == NLMSG_ERROR)
				return -((struct nlmsgerr *)NLMSG_DATA(r))->error;
		}
	}
	fail("no answer to request %u in 10 s", h->nlmsg_type);
}

static void add_attr(struct nlmsghdr *h, int type, const void *data, size_t len)
{
	struct rtattr *a = (void *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* lo: IFF_UP, then MTU if not 0. */
static void set_lo(int fd, unsigned mtu)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
		char attrs[64];
	} m = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
		       .nlmsg_type = RTM_NEWLINK, .nlmsg_seq = 1 },
		.i = { .ifi_index = 1, .ifi_flags = IFF_UP, .ifi_change = IFF_UP } };
	int err;

	if (mtu)
		add_attr(&m.h, IFLA_MTU, &mtu, sizeof(mtu));
	err = request(fd, &m.h, -1);
	if (err)
		fail("set lo up, mtu %u: %s", mtu, strerror(err));
}

static void add_addr(int fd, uint32_t addr)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg i;
		char attrs[64];
	} m = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
		       .nlmsg_type = RTM_NEWADDR, .nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL,
		       .nlmsg_seq = 2 },
		.i = { .ifa_family = AF_INET, .ifa_prefixlen = 32, .ifa_index = 1 } };
	int err;

	add_attr(&m.h, IFA_LOCAL, &addr, 4);
	add_attr(&m.h, IFA_ADDRESS, &addr, 4);
	err = request(fd, &m.h, -1);
	if (err)
		fail("add an address to lo: %s", strerror(err));
}

/* The family id of "nlctrl" through G. */
static void resolve_nlctrl(int fd)
{
	struct {
		struct nlmsghdr h;
		struct genlmsghdr g;
		char attrs[64];
	} m = { .h = { .nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN), .nlmsg_type = GENL_ID_CTRL,
		       .nlmsg_seq = 3 },
		.g = { .cmd = CTRL_CMD_GETFAMILY, .version = 1 } };
	int err;

	add_attr(&m.h, CTRL_ATTR_FAMILY_NAME, "nlctrl", 7);
	err = request(fd, &m.h, GENL_ID_CTRL);
	if (err)
		fail("G can't resolve nlctrl: %s", strerror(err));
}

/* Waits (10 s at most) for a message of TYPE on A, skipping others. */
static void expect(int type, const char *what)
{
	struct pollfd p = { .fd = fds[A], .events = POLLIN };

	while (poll(&p, 1, 10000) == 1) {
		ssize_t n = recv(fds[A], reply, sizeof(reply), MSG_DONTWAIT);
		struct nlmsghdr *r = (void *)reply;

		if (n < 0)
			fail("A: recv: %s", strerror(errno));
		for (; NLMSG_OK(r, (size_t)n); r = NLMSG_NEXT(r, n))
			if (r->nlmsg_type == type)
				return;
	}
	fail("A got no message of its group for %s in 10 s", what);
}

static void join_mcast(void)
{
	struct ip_mreqn mr = { .imr_ifindex = 1 };
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	mr.imr_multiaddr.s_addr = htonl(0xef4d0001);
	if (u < 0 || setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)))
		fail("join 239.77.0.1 on lo: %s", strerror(errno));
	close(u);
}

static void check_groups(void)
{
	uint32_t g[4] = { 0 };
	socklen_t len = sizeof(g);

	if (getsockopt(fds[A], SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, g, &len))
		fail("NETLINK_LIST_MEMBERSHIPS: %s", strerror(errno));
	if (g[0] != (RTMGRP_LINK | RTMGRP_IPV4_IFADDR) || g[1] != 1U << (GROUP_MCADDR - 33) ||
	    g[2] || g[3])
		fail("A's groups are %08x %08x %08x %08x", g[0], g[1], g[2], g[3]);
}

static void check_state(int rcvbuf)
{
	struct sockaddr_nl a;
	socklen_t len = sizeof(a);

	for (int i = 0; i < NR; i++)
		if (port_of(fds[i]) != portid[i])
			fail("%s: port id %u, was %u", names[i], port_of(fds[i]), portid[i]);
	check_groups();
	if (!opt(fds[A], SOL_NETLINK, NETLINK_NO_ENOBUFS) || opt(fds[A], SOL_NETLINK, NETLINK_EXT_ACK) ||
	    !opt(fds[B], SOL_NETLINK, NETLINK_EXT_ACK) || opt(fds[B], SOL_NETLINK, NETLINK_NO_ENOBUFS))
		fail("options of A or B lost");
	if (opt(fds[A], SOL_SOCKET, SO_RCVBUF) != rcvbuf)
		fail("A: SO_RCVBUF %d, was %d", opt(fds[A], SOL_SOCKET, SO_RCVBUF), rcvbuf);
	if (opt(fds[B], SOL_SOCKET, SO_TYPE) != SOCK_DGRAM || !(fcntl(fds[B], F_GETFL) & O_NONBLOCK))
		fail("B: not a non-blocking SOCK_DGRAM socket");
	if (opt(fds[G], SOL_SOCKET, SO_PROTOCOL) != NETLINK_GENERIC)
		fail("G: protocol %d", opt(fds[G], SOL_SOCKET, SO_PROTOCOL));
	if (getpeername(fds[E], (struct sockaddr *)&a, &len) || a.nl_pid != portid[D])
		fail("E: not connected to D's port id %u", portid[D]);
	len = sizeof(a);
	if (getsockname(fds[AU], (struct sockaddr *)&a, &len) || a.nl_groups != 1 ||
	    opt(fds[AU], SOL_SOCKET, SO_PROTOCOL) != NETLINK_AUDIT)
		fail("AU: groups 0x%x, not AUDIT_NLGRP_READLOG", a.nl_groups);
	if (opt(fds[U], SOL_SOCKET, SO_PROTOCOL) != NETLINK_KOBJECT_UEVENT ||
	    opt(fds[U], SOL_SOCKET, SO_TYPE) != SOCK_DGRAM ||
	    opt(fds[N], SOL_SOCKET, SO_PROTOCOL) != NETLINK_NETFILTER)
		fail("U or N: protocol or type lost");
	for (size_t i = 0; i < sizeof(n_opts) / sizeof(n_opts[0]); i++)
		if (opt(fds[N], SOL_NETLINK, n_opts[i]) != 1)
			fail("N: option %d lost", n_opts[i]);
}

static void check_works(uint64_t seed)
{
	char buf[64] = "", msg[32];
	struct pollfd p = { .fd = fds[D], .events = POLLIN };
	int n = snprintf(msg, sizeof(msg), "E to D %llu", (unsigned long long)seed);

	add_addr(fds[B], htonl(0x0a4d0000 | (seed & 0xff00) | 1));
	expect(RTM_NEWADDR, "an address added to lo");
	set_lo(fds[B], 65000);
	expect(RTM_NEWLINK, "lo's MTU changed");
	join_mcast();
	expect(RTM_NEWMULTICAST_, "a multicast group joined on lo");
	resolve_nlctrl(fds[G]);
	if (send(fds[E], msg, n, 0) != n || poll(&p, 1, 10000) != 1 ||
	    recv(fds[D], buf, sizeof(buf), 0) != n || memcmp(buf, msg, n))
		fail("what E sent did not reach D: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	uint64_t seed;
	int rcvbuf;

	test_init(argc, argv);
	seed = test_seed();
	if (unshare(CLONE_NEWNET))
		fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	fds[B] = nl_sock(SOCK_DGRAM, NETLINK_ROUTE, 0x40000000 | (seed & 0xffff), 0);
	set(fds[B], SOL_NETLINK, NETLINK_EXT_ACK, 1);
	/* Before A exists: lo's own messages would be queued on A. */
	set_lo(fds[B], 0);
	if (fcntl(fds[B], F_SETFL, O_NONBLOCK))
		fail("O_NONBLOCK: %s", strerror(errno));
	fds[A] = nl_sock(SOCK_RAW, NETLINK_ROUTE, 0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR);
	set(fds[A], SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, GROUP_MCADDR);
	set(fds[A], SOL_NETLINK, NETLINK_NO_ENOBUFS, 1);
	set(fds[A], SOL_SOCKET, SO_RCVBUF, 300000 + (seed & 0xfff) * 8);
	rcvbuf = opt(fds[A], SOL_SOCKET, SO_RCVBUF);
	fds[G] = nl_sock(SOCK_RAW, NETLINK_GENERIC, 0, 0);
	fds[D] = nl_sock(SOCK_RAW, NETLINK_USERSOCK, 0x50000000 | (seed >> 16 & 0xffff), 0);
	fds[E] = nl_sock(SOCK_RAW, NETLINK_USERSOCK, 0, 0);
	fds[U] = nl_sock(SOCK_DGRAM, NETLINK_KOBJECT_UEVENT, 0, 0);
	fds[AU] = nl_sock(SOCK_RAW, NETLINK_AUDIT, 0, 1);
	fds[N] = nl_sock(SOCK_RAW, NETLINK_NETFILTER, 0, 0);
	autobind(fds[U]);
	autobind(fds[N]);
	for (size_t i = 0; i < sizeof(n_opts) / sizeof(n_opts[0]); i++)
		set(fds[N], SOL_NETLINK, n_opts[i], 1);
	for (int i = 0; i < NR; i++)
		portid[i] = port_of(fds[i]);
	{
		struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = portid[D] };

		if (connect(fds[E], (struct sockaddr *)&to, sizeof(to)))
			fail("connect E to D: %s", strerror(errno));
		portid[E] = port_of(fds[E]);
	}
	check_state(rcvbuf);
	test_waitsig();
	check_state(rcvbuf);
	check_works(seed);
	pass();
}
