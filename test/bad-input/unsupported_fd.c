/* A target lmproc cannot dump yet: a netlink socket at fd 7 with an
 * answer queued (the kernel's reply to RTM_GETLINK of lo, unread), after
 * a pipe at fds 5 and 6 whose bytes the dump copies before it meets the
 * socket.  It counts in a busy loop until SIGTERM, then checks that the
 * pipe still holds exactly its bytes, that the queued answer is still
 * there, that the socket still answers and that the counter kept
 * counting: a refused dump must leave it running exactly as before. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "test.h"

#define PIPE_LEN 5000

static unsigned char data[PIPE_LEN], buf[PIPE_LEN + 1];

/* RTM_GETLINK of lo (sequence number SEQ). */
static void ask_netlink(int fd, unsigned seq)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = seq },
		.ifi = { .ifi_index = 1 },
	};

	if (send(fd, &req, sizeof(req), 0) != sizeof(req))
		fail("send to the netlink socket: %s", strerror(errno));
}

/* The answer to request SEQ is the next message. */
static void answered(int fd, unsigned seq)
{
	char reply[8192];
	struct nlmsghdr *h = (void *)reply;

	if (recv(fd, reply, sizeof(reply), MSG_DONTWAIT) < (ssize_t)sizeof(*h) ||
	    h->nlmsg_seq != seq || h->nlmsg_type != RTM_NEWLINK)
		fail("no answer to request %u on the netlink socket: %s", seq, strerror(errno));
}

static void check_netlink(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	answered(fd, 1);
	ask_netlink(fd, 2);
	if (poll(&p, 1, 10000) != 1)
		fail("no answer from the netlink socket in 10 s");
	answered(fd, 2);
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	uint64_t last = 0, seed;
	ssize_t n;
	int p[2], nl;

	test_init(argc, argv);
	seed = test_seed();
	for (int i = 0; i < PIPE_LEN; i++)
		data[i] = (unsigned char)test_mix(seed + i);
	if (pipe(p) || dup2(p[0], 5) != 5 || dup2(p[1], 6) != 6)
		fail("pipe: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl < 0 || dup2(nl, 7) != 7)
		fail("netlink socket: %s", strerror(errno));
	close(nl);
	ask_netlink(7, 1);
	if (write(6, data, PIPE_LEN) != PIPE_LEN)
		fail("write to pipe: %s", strerror(errno));
	test_ready();
	while (test_go()) {
		counter++;
		if (counter <= last)
			fail("counter went backwards: %lu after %lu", (unsigned long)counter,
			     (unsigned long)last);
		last = counter;
	}
	if (!counter)
		fail("the counter never ran");
	n = read(5, buf, sizeof(buf));
	if (n != PIPE_LEN || memcmp(buf, data, PIPE_LEN))
		fail("the pipe holds %zd bytes, not its %d (or other ones)", n, PIPE_LEN);
	if (write(6, "z", 1) != 1 || read(5, buf, 1) != 1 || buf[0] != 'z')
		fail("the pipe no longer works: %s", strerror(errno));
	check_netlink(7);
	pass();
}
