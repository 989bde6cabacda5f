/* IP sockets whose restore depends on the network namespace they live
 * in; run by case_inet_netns (cases.sh) in a namespace it creates, whose
 * lo has 198.18.0.1 and fd00::1 and nothing else:
 *   F4  UDP, IP_FREEBIND, bound to 198.18.0.99:5000 (no such address)
 *   F6  TCP, IPV6_FREEBIND, bound to [fd00::99]:5001 (no such address),
 *       listening
 *   C4  TCP, connected to a listener on 198.18.0.1, the connection then
 *       closed on both sides (its port is held by TIME_WAIT)
 *   C6  the same on [fd00::1]
 * After the restore F4 and F6 have their addresses and FREEBIND back, F6
 * listens; C4 and C6 are closed TCP sockets (bound to their old address
 * or not bound at all) that connect again to a new listener. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

enum { F4, F6, C4, C6, NR };

static int fds[NR];
static struct sockaddr_storage local[NR];

static socklen_t addr(struct sockaddr_storage *ss, int family, const char *host, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (void *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, host, &a->sin_addr);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (void *)ss;

	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	inet_pton(AF_INET6, host, &a->sin6_addr);
	return sizeof(*a);
}

static int freebind_of(int fd, int family)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (family == AF_INET ? getsockopt(fd, IPPROTO_IP, IP_FREEBIND, &v, &len) :
				getsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &v, &len))
		fail("getsockopt FREEBIND: %s", strerror(errno));
	return v;
}

static int freebound(int family, int type, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = addr(&ss, family, host, port);
	int fd = socket(family, type, 0), one = 1;

	if (fd < 0 || (family == AF_INET ?
			       setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) :
			       setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&ss, len))
		fail("freebind to %s:%d: %s", host, port, strerror(errno));
	return fd;
}

static int listener(int family, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = addr(&ss, family, host, port);
	int fd = socket(family, SOCK_STREAM, 0), one = 1;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4))
		fail("listen on %s:%d: %s", host, port, strerror(errno));
	return fd;
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		fail("TCP_INFO: %s", strerror(errno));
	return ti.tcpi_state;
}

/* A client whose connection to HOST:PORT was closed on both sides, the
 * client first (so its port goes to TIME_WAIT). */
static int closed_client(int family, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = addr(&ss, family, host, port);
	int l = listener(family, host, port), c = socket(family, SOCK_STREAM, 0), a;
	char buf[8];

	if (c < 0 || connect(c, (struct sockaddr *)&ss, len))
		fail("connect to %s:%d: %s", host, port, strerror(errno));
	a = accept(l, NULL, NULL);
	if (a < 0 || write(c, "x", 1) != 1 || read(a, buf, 1) != 1)
		fail("a byte over the connection to %s:%d", host, port);
	close(l);
	if (shutdown(c, SHUT_WR) || read(a, buf, sizeof(buf)) != 0)
		fail("no end of file on the accepted socket");
	close(a);
	if (read(c, buf, sizeof(buf)) != 0)
		fail("no end of file on the client");
	for (int i = 0; i < 1000 && tcp_state(c) != TCP_CLOSE; i++)
		usleep(1000);
	if (tcp_state(c) != TCP_CLOSE)
		fail("the client to %s:%d is in TCP state %d, not closed", host, port,
		     tcp_state(c));
	return c;
}

static bool same_addr(int fd, const struct sockaddr_storage *want)
{
	struct sockaddr_storage now;
	socklen_t len = sizeof(now);

	memset(&now, 0, sizeof(now));
	if (getsockname(fd, (struct sockaddr *)&now, &len))
		fail("getsockname: %s", strerror(errno));
	return !memcmp(&now, want, sizeof(now));
}

static bool unbound(int fd, int family)
{
	struct sockaddr_storage any;

	addr(&any, family, family == AF_INET ? "0.0.0.0" : "::", 0);
	return same_addr(fd, &any);
}

/* A closed client connects again, to a new listener on HOST:PORT. */
static void reconnects(int c, int family, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = addr(&ss, family, host, port);
	int l = listener(family, host, port), a;

	if (connect(c, (struct sockaddr *)&ss, len))
		fail("a closed socket does not connect again to %s:%d: %s", host, port,
		     strerror(errno));
	a = accept(l, NULL, NULL);
	if (a < 0)
		fail("accept on %s:%d: %s", host, port, strerror(errno));
	close(a);
	close(l);
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	fds[F4] = freebound(AF_INET, SOCK_DGRAM, "198.18.0.99", 5000);
	fds[F6] = freebound(AF_INET6, SOCK_STREAM, "fd00::99", 5001);
	if (listen(fds[F6], 3))
		fail("listen on [fd00::99]:5001: %s", strerror(errno));
	fds[C4] = closed_client(AF_INET, "198.18.0.1", 6000);
	fds[C6] = closed_client(AF_INET6, "fd00::1", 6001);
	for (int i = 0; i < NR; i++) {
		socklen_t len = sizeof(local[i]);

		if (getsockname(fds[i], (struct sockaddr *)&local[i], &len))
			fail("getsockname: %s", strerror(errno));
	}

	test_waitsig();

	if (!same_addr(fds[F4], &local[F4]) || !same_addr(fds[F6], &local[F6]))
		fail("a FREEBIND socket lost its address");
	if (freebind_of(fds[F4], AF_INET) != 1 || freebind_of(fds[F6], AF_INET6) != 1)
		fail("FREEBIND is not set after the restore");
	if (tcp_state(fds[F6]) != TCP_LISTEN)
		fail("[fd00::99]:5001 does not listen after the restore");
	for (int i = C4; i <= C6; i++) {
		int family = i == C4 ? AF_INET : AF_INET6;

		if (tcp_state(fds[i]) != TCP_CLOSE)
			fail("closed socket %d is in TCP state %d", i, tcp_state(fds[i]));
		if (!same_addr(fds[i], &local[i]) && !unbound(fds[i], family))
			fail("closed socket %d is bound to another address", i);
	}
	reconnects(fds[C4], AF_INET, "198.18.0.1", 6002);
	reconnects(fds[C6], AF_INET6, "fd00::1", 6003);
	pass();
}
