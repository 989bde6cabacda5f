/* A packet fanout group with a size limit (fanout_args.max_num_members,
 * which no sockopt reads back), in a network namespace of the test's own:
 * sockets A and B (SOCK_RAW, ethertype 0x88b7, bound to lo) in group 7
 * (hash) of at most 3 members.  Before and after the checkpoint a third
 * socket joins and a fourth is refused (ENOSPC); both leave again.  A
 * group made again without its limit (256) would take the fourth. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_packet.h>

#include "test.h"

#define PROTO 0x88b7
#define GROUP 7
#define MAX 3

static void lo_up(void)
{
	struct ifreq r = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &r))
		fail("lo flags: %s", strerror(errno));
	r.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &r))
		fail("lo up: %s", strerror(errno));
	close(fd);
}

static int member(void)
{
	struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(PROTO),
				 .sll_ifindex = if_nametoindex("lo") };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(PROTO));

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)))
		fail("packet socket: %s", strerror(errno));
	return fd;
}

static int join(int fd)
{
	struct fanout_args f = { .id = GROUP, .type_flags = PACKET_FANOUT_HASH,
				 .max_num_members = MAX };

	return setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &f, sizeof(f)) ? errno : 0;
}

/* One more member fits, the next does not. */
static void check_limit(const char *when)
{
	int c = member(), d = member(), ec = join(c), ed = join(d);

	if (ec || ed != ENOSPC)
		fail("%s: a third member: %s; a fourth: %s (want ENOSPC)", when,
		     ec ? strerror(ec) : "joined", ed ? strerror(ed) : "joined");
	close(c);
	close(d);
}

int main(int argc, char **argv)
{
	int a, b;

	test_init(argc, argv);
	if (unshare(CLONE_NEWNET))
		fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	lo_up();
	a = member();
	b = member();
	if (join(a) || join(b))
		fail("fanout: %s", strerror(errno));
	check_limit("before the checkpoint");
	test_waitsig();

	check_limit("after the checkpoint");
	pass();
}
