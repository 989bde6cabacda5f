/* A packet socket at fd 8 with a frame queued, in a network namespace of
 * the target's own (lo up): bound to lo for ethertype 0x88b5, it received
 * the frame the target sent there and did not read it.  The dump must be
 * refused naming the fd and the frames queued; after SIGTERM the frame
 * must still be there, whole.  It counts in a busy loop until SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_packet.h>

#include "test.h"

#define PROTO 0x88b5

static void lo_up(void)
{
	struct ifreq r = { .ifr_name = "lo" };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &r))
		fail("lo's flags: %s", strerror(errno));
	r.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &r))
		fail("lo up: %s", strerror(errno));
	close(s);
}

int main(int argc, char **argv)
{
	struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(PROTO),
				 .sll_halen = 6 };
	struct pollfd p = { .fd = 8, .events = POLLIN };
	volatile uint64_t counter = 0;
	unsigned char msg[60], buf[128];
	uint64_t seed;
	int fd;

	test_init(argc, argv);
	seed = test_seed();
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)test_mix(seed + i);
	if (unshare(CLONE_NEWNET))
		fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	lo_up();
	a.sll_ifindex = if_nametoindex("lo");
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || dup2(fd, 8) != 8 || close(fd) || bind(8, (struct sockaddr *)&a, sizeof(a)))
		fail("packet socket on lo: %s", strerror(errno));
	if (sendto(8, msg, sizeof(msg), 0, (struct sockaddr *)&a, sizeof(a)) != sizeof(msg) ||
	    poll(&p, 1, 10000) != 1)
		fail("no frame queued: %s", strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (recv(8, buf, sizeof(buf), MSG_DONTWAIT) != sizeof(msg) || memcmp(buf, msg, sizeof(msg)))
		fail("the queued frame is gone or changed: %s", strerror(errno));
	pass();
}
