/* Packet sockets, in a network namespace of the test's own (lo up):
 *   R  SOCK_RAW for ethertype 0x88b5, bound to lo, PACKET_AUXDATA,
 *      PACKET_ORIGDEV, PACKET_RESERVE, PACKET_COPY_THRESH, a multicast
 *      membership (01:00:5e:4d:00:01) on lo, a fanout group (hash) of its own, a classic BPF
 *      filter that takes the frames of R's ethertype
 *   X  SOCK_DGRAM, protocol 0 (receives nothing), PACKET_VERSION v2,
 *      non-blocking
 *   L  SOCK_DGRAM made for ETH_P_ALL, bound to lo, no filter
 * After the restore both have their type, protocol, interface and options
 * back, R receives the frame the test sends on lo with X (with its
 * auxdata), its payload whole, and L receives it too. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "test.h"

#define PROTO 0x88b5

enum { R, X, L, NR };

static int fds[NR];

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

static int lo_flags(void)
{
	struct ifreq r = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &r))
		fail("lo's flags: %s", strerror(errno));
	close(fd);
	return r.ifr_flags;
}

static void lo_up(void)
{
	struct ifreq r = { .ifr_name = "lo", .ifr_flags = lo_flags() | IFF_UP };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || ioctl(fd, SIOCSIFFLAGS, &r))
		fail("lo up: %s", strerror(errno));
	close(fd);
}

/* Takes the frames of ethertype PROTO (whole), drops the others. */
static void attach_filter(int fd)
{
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROTO, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = 4, .filter = code };

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		fail("SO_ATTACH_FILTER: %s", strerror(errno));
}

/* R's membership: lo's multicast list (the kernel's, of this namespace). */
static void check_mcast(void)
{
	char buf[4096];
	ssize_t n = test_read_file("/proc/self/net/dev_mcast", buf, sizeof(buf) - 1);

	if (n < 0)
		fail("read /proc/self/net/dev_mcast: %s", strerror(errno));
	buf[n] = 0;
	if (!strstr(buf, "01005e4d0001"))
		fail("lo lacks R's multicast address 01:00:5e:4d:00:01: %s", buf);
}

static void check_state(int fanout, int copy_thresh)
{
	struct sockaddr_ll a;
	socklen_t len = sizeof(a);
	int lo = if_nametoindex("lo");

	if (getsockname(fds[R], (struct sockaddr *)&a, &len) || a.sll_ifindex != lo ||
	    ntohs(a.sll_protocol) != PROTO)
		fail("R: bound to %d proto 0x%x, not lo (%d) 0x%x", a.sll_ifindex,
		     ntohs(a.sll_protocol), lo, PROTO);
	if (opt(fds[R], SOL_SOCKET, SO_TYPE) != SOCK_RAW ||
	    opt(fds[X], SOL_SOCKET, SO_TYPE) != SOCK_DGRAM)
		fail("types lost");
	if (opt(fds[R], SOL_PACKET, PACKET_AUXDATA) != 1 ||
	    opt(fds[R], SOL_PACKET, PACKET_ORIGDEV) != 1 ||
	    opt(fds[R], SOL_PACKET, PACKET_RESERVE) != 64 ||
	    opt(fds[R], SOL_PACKET, PACKET_COPY_THRESH) != copy_thresh)
		fail("R: options lost");
	len = 0;
	if (getsockopt(fds[R], SOL_SOCKET, SO_GET_FILTER, NULL, &len) || len != 4)
		fail("R: a filter of %u instructions, not 4", len);
	if (opt(fds[R], SOL_PACKET, PACKET_FANOUT) != fanout)
		fail("R: fanout 0x%x, was 0x%x", opt(fds[R], SOL_PACKET, PACKET_FANOUT), fanout);
	if (opt(fds[X], SOL_PACKET, PACKET_VERSION) != TPACKET_V2 ||
	    !(fcntl(fds[X], F_GETFL) & O_NONBLOCK))
		fail("X: version or O_NONBLOCK lost");
	check_mcast();
	len = sizeof(a);
	if (getsockname(fds[L], (struct sockaddr *)&a, &len) || a.sll_ifindex != lo ||
	    a.sll_protocol != htons(ETH_P_ALL))
		fail("L: protocol or interface lost");
	len = 0;
	if (getsockopt(fds[L], SOL_SOCKET, SO_GET_FILTER, NULL, &len) || len)
		fail("L: a filter of %u instructions", len);
	len = sizeof(a);
	if (getsockname(fds[X], (struct sockaddr *)&a, &len) || a.sll_ifindex || a.sll_protocol)
		fail("X: bound or receiving");
}

static void check_frame(uint64_t seed)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(PROTO),
				  .sll_ifindex = (int)if_nametoindex("lo"), .sll_halen = 6 };
	unsigned char msg[64], buf[256];
	char cbuf[256];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct pollfd p = { .fd = fds[R], .events = POLLIN };
	ssize_t n;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)test_mix(seed + i);
	if (sendto(fds[X], msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)) !=
	    (ssize_t)sizeof(msg))
		fail("send a frame on lo: %s", strerror(errno));
	if (poll(&p, 1, 10000) != 1)
		fail("R got no frame in 10 s");
	n = recvmsg(fds[R], &mh, 0);
	/* SOCK_RAW: the Ethernet header (14 bytes) comes first. */
	if (n != (ssize_t)sizeof(msg) + 14 || memcmp(buf + 14, msg, sizeof(msg)))
		fail("R got %zd bytes, not the frame sent", n);
	if (!CMSG_FIRSTHDR(&mh) || CMSG_FIRSTHDR(&mh)->cmsg_type != PACKET_AUXDATA)
		fail("R's frame came without its auxdata");
	/* SOCK_DGRAM: the payload alone (lo shows it going out and in). */
	p.fd = fds[L];
	if (poll(&p, 1, 10000) != 1 || recv(fds[L], buf, sizeof(buf), 0) != (ssize_t)sizeof(msg) ||
	    memcmp(buf, msg, sizeof(msg)))
		fail("L did not get the frame: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(PROTO) };
	struct packet_mreq mr = { .mr_type = PACKET_MR_MULTICAST, .mr_alen = 6,
				  .mr_address = { 0x01, 0x00, 0x5e, 0x4d, 0x00, 0x01 } };
	uint64_t seed;
	int fanout, copy_thresh;

	test_init(argc, argv);
	seed = test_seed();
	if (unshare(CLONE_NEWNET))
		fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	lo_up();
	fds[R] = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	fds[X] = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	fds[L] = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fds[R] < 0 || fds[X] < 0 || fds[L] < 0)
		fail("packet socket: %s", strerror(errno));
	set(fds[R], SOL_PACKET, PACKET_AUXDATA, 1);
	set(fds[R], SOL_PACKET, PACKET_ORIGDEV, 1);
	set(fds[R], SOL_PACKET, PACKET_RESERVE, 64);
	copy_thresh = 1 + (seed & 0x3ff);
	set(fds[R], SOL_PACKET, PACKET_COPY_THRESH, copy_thresh);
	attach_filter(fds[R]);
	a.sll_ifindex = if_nametoindex("lo");
	if (bind(fds[R], (struct sockaddr *)&a, sizeof(a)))
		fail("bind R to lo: %s", strerror(errno));
	a.sll_protocol = htons(ETH_P_ALL);
	if (bind(fds[L], (struct sockaddr *)&a, sizeof(a)))
		fail("bind L to lo: %s", strerror(errno));
	mr.mr_ifindex = a.sll_ifindex;
	if (setsockopt(fds[R], SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)))
		fail("PACKET_ADD_MEMBERSHIP: %s", strerror(errno));
	fanout = (int)((seed >> 20) & 0xffff) | PACKET_FANOUT_HASH << 16;
	set(fds[R], SOL_PACKET, PACKET_FANOUT, fanout);
	set(fds[X], SOL_PACKET, PACKET_VERSION, TPACKET_V2);
	if (fcntl(fds[X], F_SETFL, O_NONBLOCK))
		fail("O_NONBLOCK: %s", strerror(errno));
	check_state(fanout, copy_thresh);
	test_waitsig();
	check_state(fanout, copy_thresh);
	check_frame(seed);
	pass();
}
