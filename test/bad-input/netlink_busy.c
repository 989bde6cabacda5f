/* A netlink socket (NETLINK_ROUTE) at fd 7 lmproc can't dump, in a
 * network namespace of the target's own whose lo has 200 IPv4 addresses,
 * chosen by NL_REFUSE: "dump", an RTM_GETADDR dump request whose answer
 * was not read (more than one message's worth: the dump is in progress);
 * "enobufs", a member of RTMGRP_IPV4_IFADDR with the smallest receive
 * buffer, which the addresses' messages overran (ENOBUFS pending).  The
 * dump of the target must be refused naming the fd and why; after
 * SIGTERM the socket must be as it was: the whole dump still to read
 * (every address), or ENOBUFS as the next recv's answer.  It counts in a
 * busy loop until SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "test.h"

#define NR_ADDRS 200

static char buf[65536];

static void add_addr(int fd, uint32_t addr)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg i;
		struct rtattr a;
		uint32_t addr;
	} m = { .h = { .nlmsg_len = sizeof(m), .nlmsg_type = RTM_NEWADDR,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL },
		.i = { .ifa_family = AF_INET, .ifa_prefixlen = 32, .ifa_index = 1 },
		.a = { .rta_len = RTA_LENGTH(4), .rta_type = IFA_LOCAL },
		.addr = addr };
	struct nlmsghdr *r = (void *)buf;

	if (send(fd, &m, sizeof(m), 0) != sizeof(m) || recv(fd, buf, sizeof(buf), 0) <= 0 ||
	    r->nlmsg_type != NLMSG_ERROR || ((struct nlmsgerr *)NLMSG_DATA(r))->error)
		fail("add an address to lo: %s", strerror(errno));
}

static void ask_dump(int fd)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg i;
	} m = { .h = { .nlmsg_len = sizeof(m), .nlmsg_type = RTM_GETADDR,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 7 },
		.i = { .ifa_family = AF_INET } };

	if (send(fd, &m, sizeof(m), 0) != sizeof(m))
		fail("RTM_GETADDR: %s", strerror(errno));
}

/* Reads the dump to its end: every address is in it. */
static void read_dump(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int addrs = 0;

	while (poll(&p, 1, 10000) == 1) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *r = (void *)buf;

		if (n <= 0)
			fail("recv the dump: %s", strerror(errno));
		for (; NLMSG_OK(r, (size_t)n); r = NLMSG_NEXT(r, n)) {
			if (r->nlmsg_type == NLMSG_DONE) {
				if (addrs < NR_ADDRS)
					fail("the dump had %d addresses, not %d or more", addrs,
					     NR_ADDRS);
				return;
			}
			addrs += r->nlmsg_type == RTM_NEWADDR;
		}
	}
	fail("the dump did not end in 10 s (%d addresses)", addrs);
}

int main(int argc, char **argv)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_IFADDR };
	const char *mode = getenv("NL_REFUSE") ?: "dump";
	bool dump = !strcmp(mode, "dump");
	volatile uint64_t counter = 0;
	int cfg, fd, small = 0;

	test_init(argc, argv);
	if (unshare(CLONE_NEWNET))
		fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	cfg = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (cfg < 0 || fd < 0 || dup2(fd, 7) != 7 || close(fd))
		fail("netlink socket: %s", strerror(errno));
	if (!dump && (setsockopt(7, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) ||
		      bind(7, (struct sockaddr *)&a, sizeof(a))))
		fail("a small member of RTMGRP_IPV4_IFADDR: %s", strerror(errno));
	for (int i = 0; i < NR_ADDRS; i++)
		add_addr(cfg, htonl(0x0a4e0000 + i + 1));
	close(cfg);
	if (dump)
		ask_dump(7);
	test_ready();
	while (test_go())
		counter++;
	if (dump)
		read_dump(7);
	else if (recv(7, buf, sizeof(buf), MSG_DONTWAIT) >= 0 || errno != ENOBUFS)
		fail("the next recv did not say ENOBUFS: %s", strerror(errno));
	pass();
}
