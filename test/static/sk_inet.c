/* IPv4 and IPv6 sockets that need no TCP repair:
 *   L4  a TCP listener on 127.0.0.1 (ephemeral port), SO_REUSEADDR,
 *       non-blocking, backlog 7
 *   L6  a TCP listener on [::1], IPV6_V6ONLY and SO_REUSEPORT, without
 *       SO_REUSEADDR
 *   U   a UDP socket bound to 127.0.0.1, SO_BROADCAST
 *   C   a UDP socket connected to U
 *   T   a TCP socket never bound, TCP_NODELAY
 *   B   a TCP socket bound to 127.0.0.1 but not listening
 * After the restore every socket has its address, peer and options back;
 * both listeners accept a new client (L4 without blocking), C and U
 * exchange datagrams both ways, T connects to L4, B can listen. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

enum { L4, L6, U, C, T, B, NR };

static const char *const names[NR] = { "L4", "L6", "U", "C", "T", "B" };
static int fds[NR];
static struct sockaddr_storage local[NR], peer;
static socklen_t local_len[NR];

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

static int sock(int family, int type)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fail("socket: %s", strerror(errno));
	return fd;
}

static void bind_loopback(int fd, int family)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int ret = family == AF_INET ? bind(fd, (struct sockaddr *)&a4, sizeof(a4)) :
				      bind(fd, (struct sockaddr *)&a6, sizeof(a6));

	if (ret)
		fail("bind: %s", strerror(errno));
}

static void save_names(bool connected)
{
	socklen_t len = sizeof(peer);

	for (int i = 0; i < NR; i++) {
		local_len[i] = sizeof(local[i]);
		if (getsockname(fds[i], (struct sockaddr *)&local[i], &local_len[i]))
			fail("getsockname %s: %s", names[i], strerror(errno));
	}
	if (connected && getpeername(fds[C], (struct sockaddr *)&peer, &len))
		fail("getpeername C: %s", strerror(errno));
}

static void check_names(void)
{
	struct sockaddr_storage ss;
	socklen_t len;

	for (int i = 0; i < NR; i++) {
		len = sizeof(ss);
		if (getsockname(fds[i], (struct sockaddr *)&ss, &len) || len != local_len[i] ||
		    memcmp(&ss, &local[i], len))
			fail("%s is no longer bound where it was", names[i]);
	}
	len = sizeof(ss);
	if (getpeername(fds[C], (struct sockaddr *)&ss, &len) || memcmp(&ss, &peer, len))
		fail("C is no longer connected to U");
	len = sizeof(ss);
	if (!getpeername(fds[U], (struct sockaddr *)&ss, &len))
		fail("U got a peer");
}

static void check_options(void)
{
	if (opt(fds[L4], SOL_SOCKET, SO_REUSEADDR) != 1 || !(fcntl(fds[L4], F_GETFL) & O_NONBLOCK))
		fail("L4 lost SO_REUSEADDR or O_NONBLOCK");
	if (opt(fds[L4], SOL_SOCKET, SO_ACCEPTCONN) != 1 || opt(fds[L6], SOL_SOCKET, SO_ACCEPTCONN) != 1)
		fail("a listener no longer listens");
	if (opt(fds[L6], IPPROTO_IPV6, IPV6_V6ONLY) != 1 || opt(fds[L6], SOL_SOCKET, SO_REUSEPORT) != 1 ||
	    opt(fds[L6], SOL_SOCKET, SO_REUSEADDR) != 0)
		fail("L6's options changed");
	if (opt(fds[U], SOL_SOCKET, SO_BROADCAST) != 1 || opt(fds[C], SOL_SOCKET, SO_BROADCAST))
		fail("SO_BROADCAST changed");
	if (opt(fds[T], IPPROTO_TCP, TCP_NODELAY) != 1 || opt(fds[B], IPPROTO_TCP, TCP_NODELAY))
		fail("TCP_NODELAY changed");
	if (opt(fds[B], SOL_SOCKET, SO_ACCEPTCONN) != 0)
		fail("B listens");
}

/* A new client of listener L is accepted; the client closes first, so
 * that no TIME_WAIT stays on the listener's port. */
static void accept_one(int l, int family, int client)
{
	struct pollfd p = { .fd = l, .events = POLLIN };
	char c;
	int a;

	if (client < 0)
		client = sock(family, SOCK_STREAM);
	if (connect(client, (struct sockaddr *)&local[l == fds[L4] ? L4 : L6],
		    local_len[l == fds[L4] ? L4 : L6]))
		fail("connect to a listener: %s", strerror(errno));
	if (poll(&p, 1, 5000) != 1)
		fail("the listener does not see its client");
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (a < 0 || send(client, "x", 1, 0) != 1 || recv(a, &c, 1, 0) != 1 || c != 'x')
		fail("accept/exchange: %s", strerror(errno));
	close(client);
	if (recv(a, &c, 1, 0) != 0)
		fail("the accepted socket did not see its client close");
	close(a);
}

static void check_datagrams(void)
{
	char buf[8];

	if (send(fds[C], "ping", 4, 0) != 4 || recv(fds[U], buf, sizeof(buf), 0) != 4 ||
	    memcmp(buf, "ping", 4))
		fail("C to U: %s", strerror(errno));
	if (sendto(fds[U], "pong", 4, 0, (struct sockaddr *)&local[C], local_len[C]) != 4 ||
	    recv(fds[C], buf, sizeof(buf), 0) != 4 || memcmp(buf, "pong", 4))
		fail("U to C: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	fds[L4] = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	set(fds[L4], SOL_SOCKET, SO_REUSEADDR, 1);
	bind_loopback(fds[L4], AF_INET);
	fds[L6] = sock(AF_INET6, SOCK_STREAM);
	set(fds[L6], IPPROTO_IPV6, IPV6_V6ONLY, 1);
	set(fds[L6], SOL_SOCKET, SO_REUSEPORT, 1);
	bind_loopback(fds[L6], AF_INET6);
	if (listen(fds[L4], 7) || listen(fds[L6], 16))
		fail("listen: %s", strerror(errno));
	fds[U] = sock(AF_INET, SOCK_DGRAM);
	set(fds[U], SOL_SOCKET, SO_BROADCAST, 1);
	bind_loopback(fds[U], AF_INET);
	fds[C] = sock(AF_INET, SOCK_DGRAM);
	fds[T] = sock(AF_INET, SOCK_STREAM);
	set(fds[T], IPPROTO_TCP, TCP_NODELAY, 1);
	fds[B] = sock(AF_INET, SOCK_STREAM);
	bind_loopback(fds[B], AF_INET);
	save_names(false);
	if (connect(fds[C], (struct sockaddr *)&local[U], local_len[U]))
		fail("connect C: %s", strerror(errno));
	save_names(true);
	test_waitsig();

	check_names();
	check_options();
	check_datagrams();
	accept_one(fds[L4], AF_INET, -1);
	accept_one(fds[L6], AF_INET6, -1);
	accept_one(fds[L4], AF_INET, fds[T]);
	if (listen(fds[B], 1))
		fail("B can't listen: %s", strerror(errno));
	pass();
}
