/* TCP sockets in TCP_CLOSE that hold an address (CRIU restores them
 * unbound: criu #2286):
 *   B4  bound to 127.0.0.1, port chosen by the kernel, never connected
 *   B6  bound to [::1] on a port given to bind(), never connected
 *   E4  bound to 127.0.0.1 on a port given to bind(), connected to L,
 *       its connection over (the peer closed first, so no TIME_WAIT of
 *       its own holds the port)
 *   E6  the same over [::1], SO_REUSEADDR
 *   L   the listener E4 connected to (IPv4) and L6 (IPv6), SO_REUSEADDR:
 *       the accepted ends' TIME_WAIT holds their ports
 * After the restore each is bound where it was and still closed, and
 * holds its port: another socket can't bind it, B4 and B6 can listen
 * (E4 and E6 can't: a socket once connected never listens again; the
 * restored ones could, a socket made again is one never connected). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

enum { B4, B6, E4, E6, L, L6, NR };

static const char *const names[NR] = { "B4", "B6", "E4", "E6", "L", "L6" };
static int fds[NR];
static struct sockaddr_storage local[NR];
static socklen_t local_len[NR];

static int sock(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fail("socket: %s", strerror(errno));
	return fd;
}

/* Binds FD to the loopback of FAMILY on PORT (0: the kernel's choice). */
static void bind_lo(int fd, int family, unsigned port)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int ret = family == AF_INET ? bind(fd, (struct sockaddr *)&a4, sizeof(a4)) :
				      bind(fd, (struct sockaddr *)&a6, sizeof(a6));

	if (ret)
		fail("bind to port %u: %s", port, strerror(errno));
}

/* A port of FAMILY's loopback free now. */
static unsigned free_port(int family)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = sock(family);
	unsigned port;

	bind_lo(fd, family, 0);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		fail("getsockname: %s", strerror(errno));
	port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					 ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return port;
}

static void save_name(int i)
{
	local_len[i] = sizeof(local[i]);
	if (getsockname(fds[i], (struct sockaddr *)&local[i], &local_len[i]))
		fail("getsockname %s: %s", names[i], strerror(errno));
}

static int state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		fail("TCP_INFO: %s", strerror(errno));
	return ti.tcpi_state;
}

/* E (bound to a port of its own) connects to listener L, which closes
 * the accepted end first; E reads the end and closes its side: its
 * connection is over and it is in TCP_CLOSE. */
static void connect_and_end(int e, int l)
{
	char c;
	int a;

	if (connect(fds[e], (struct sockaddr *)&local[l], local_len[l]))
		fail("connect %s: %s", names[e], strerror(errno));
	a = accept4(fds[l], NULL, NULL, SOCK_CLOEXEC);
	if (a < 0)
		fail("accept: %s", strerror(errno));
	close(a);
	if (recv(fds[e], &c, 1, 0) != 0)
		fail("%s did not see its peer close", names[e]);
	if (shutdown(fds[e], SHUT_WR))
		fail("shutdown %s: %s", names[e], strerror(errno));
	for (int i = 0; i < 500 && state(fds[e]) != TCP_CLOSE; i++)
		usleep(2000);
	if (state(fds[e]) != TCP_CLOSE)
		fail("%s is in state %d, not closed", names[e], state(fds[e]));
}

/* Whether a new socket can't bind socket I's address: it holds it. */
static bool port_held(int i)
{
	int fd = sock(local[i].ss_family), ret;

	ret = bind(fd, (struct sockaddr *)&local[i], local_len[i]);
	close(fd);
	return ret && errno == EADDRINUSE;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	test_init(argc, argv);
	for (int i = 0; i < NR; i++)
		fds[i] = sock(i == B6 || i == E6 || i == L6 ? AF_INET6 : AF_INET);
	bind_lo(fds[B4], AF_INET, 0);
	bind_lo(fds[B6], AF_INET6, free_port(AF_INET6));
	/* The accepted ends' TIME_WAIT sits on the listeners' ports. */
	if (setsockopt(fds[L], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fds[L6], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		fail("SO_REUSEADDR: %s", strerror(errno));
	bind_lo(fds[L], AF_INET, 0);
	bind_lo(fds[L6], AF_INET6, 0);
	if (listen(fds[L], 4) || listen(fds[L6], 4))
		fail("listen: %s", strerror(errno));
	save_name(L);
	save_name(L6);
	bind_lo(fds[E4], AF_INET, free_port(AF_INET));
	if (setsockopt(fds[E6], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		fail("SO_REUSEADDR: %s", strerror(errno));
	bind_lo(fds[E6], AF_INET6, free_port(AF_INET6));
	connect_and_end(E4, L);
	connect_and_end(E6, L6);
	for (int i = 0; i < NR; i++)
		save_name(i);
	test_waitsig();

	for (int i = 0; i < NR; i++) {
		len = sizeof(ss);
		if (getsockname(fds[i], (struct sockaddr *)&ss, &len) || len != local_len[i] ||
		    memcmp(&ss, &local[i], len))
			fail("%s is no longer bound where it was", names[i]);
		if (i != L && i != L6 && state(fds[i]) != TCP_CLOSE)
			fail("%s is in state %d, not closed", names[i], state(fds[i]));
	}
	for (int i = E4; i <= E6; i++)
		if (!port_held(i))
			fail("%s no longer holds its port", names[i]);
	for (int i = B4; i <= B6; i++)
		if (listen(fds[i], 1))
			fail("%s can't listen on its port: %s", names[i], strerror(errno));
	pass();
}
