/* A socket at fd 7 made in a network namespace of its own, the process
 * back in its first one (as a program does that sets up or watches
 * another namespace): SK_KIND=netlink an unbound NETLINK_ROUTE socket,
 * udp an unbound UDP socket.  A restore would make it in the process's
 * namespace, where it would see other links and addresses: the dump
 * must refuse it.  It counts until SIGTERM, then checks that the socket
 * still lives in the namespace it was made in (SIOCGSKNS). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/sockios.h>

#include "test.h"

static ino_t sock_ns(int fd)
{
	struct stat st;
	int ns = ioctl(fd, SIOCGSKNS);

	if (ns < 0 || fstat(ns, &st) || close(ns))
		fail("SIOCGSKNS: %s", strerror(errno));
	return st.st_ino;
}

static ino_t ns_of_self(void)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		fail("/proc/self/ns/net: %s", strerror(errno));
	return st.st_ino;
}

int main(int argc, char **argv)
{
	const char *kind = getenv("SK_KIND");
	volatile uint64_t counter = 0;
	int back, fd;
	ino_t made;

	test_init(argc, argv);
	back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (back < 0 || unshare(CLONE_NEWNET))
		fail("a network namespace of its own: %s", strerror(errno));
	if (kind && !strcmp(kind, "udp"))
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	else
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0 || dup2(fd, 7) != 7 || close(fd))
		fail("socket: %s", strerror(errno));
	made = sock_ns(7);
	if (setns(back, CLONE_NEWNET) || close(back))
		fail("back to the first namespace: %s", strerror(errno));
	if (made == ns_of_self())
		fail("the socket is in the process's namespace");
	test_ready();
	while (test_go())
		counter++;
	if (sock_ns(7) != made)
		fail("the socket moved from net:[%lu] to net:[%lu]", (unsigned long)made,
		     (unsigned long)sock_ns(7));
	pass();
}
