/* A netlink socket (NETLINK_ROUTE) at fd 7 bound to a port id of its own
 * choosing in lmproc's network namespace, in no group (nothing reaches it
 * unasked).  A restore next to it (dump -R, restore --pidns) finds the
 * port id taken and must fail naming it; this one must not notice.  It
 * counts in a busy loop until SIGTERM, then checks its port id and that
 * the socket still answers. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "test.h"

static uint32_t port_of(int fd)
{
	struct sockaddr_nl a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len))
		fail("getsockname: %s", strerror(errno));
	return a.nl_pid;
}

static void check_answers(int fd)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		.ifi = { .ifi_index = 1 },
	};
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char reply[8192];

	if (send(fd, &req, sizeof(req), 0) != sizeof(req) || poll(&p, 1, 10000) != 1 ||
	    recv(fd, reply, sizeof(reply), 0) <= 0)
		fail("the netlink socket does not answer: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK };
	volatile uint64_t counter = 0;
	int fd;

	test_init(argc, argv);
	a.nl_pid = 0x4c4d0000 | (getpid() & 0xffff);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0 || dup2(fd, 7) != 7 || close(fd) || bind(7, (struct sockaddr *)&a, sizeof(a)))
		fail("netlink socket bound to %u: %s", a.nl_pid, strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (port_of(7) != a.nl_pid)
		fail("port id %u, was %u", port_of(7), a.nl_pid);
	check_answers(7);
	pass();
}
