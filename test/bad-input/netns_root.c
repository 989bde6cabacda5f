/* A root that owns a network namespace: it unshares one, writes
 * DIR/netns.pid and waits (10 s at most) for DIR/netns.go, which holds the
 * IPv4 address the test gave its veth (netns-cases.sh); then it listens
 * on that address, port 7777, with a UDP socket on port 7778, and answers
 * each connection's byte with the next one until SIGTERM.  After SIGTERM
 * both sockets must still be bound where they were. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

static void wait_go(struct sockaddr_in *a)
{
	char path[512], buf[64] = "";
	ssize_t n = -1;

	for (int i = 0; i < 500 && n <= 0; i++) {
		test_path(path, sizeof(path), "netns.go");
		n = test_read_file(path, buf, sizeof(buf) - 1);
		if (n <= 0)
			usleep(20000);
	}
	if (n <= 0)
		fail("no %s within 10 s", path);
	buf[strcspn(buf, "\n")] = 0;
	a->sin_family = AF_INET;
	if (inet_pton(AF_INET, buf, &a->sin_addr) != 1)
		fail("bad address '%s' in netns.go", buf);
}

static int bound(int type, struct sockaddr_in *a, int port)
{
	int fd = socket(AF_INET, type, 0);

	a->sin_port = htons(port);
	if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)))
		fail("bind %s port %d: %s", inet_ntoa(a->sin_addr), port, strerror(errno));
	if (type == SOCK_STREAM && listen(fd, 8))
		fail("listen: %s", strerror(errno));
	return fd;
}

static void answer(int lfd)
{
	int c = accept(lfd, NULL, NULL);
	char b;

	if (c < 0)
		return;
	if (read(c, &b, 1) == 1) {
		b++;
		if (write(c, &b, 1) != 1)
			test_msg("write: %s", strerror(errno));
	}
	close(c);
}

static void still_bound(int fd, const struct sockaddr_in *want, int port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len) || a.sin_port != htons(port) ||
	    a.sin_addr.s_addr != want->sin_addr.s_addr)
		fail("socket of port %d is no longer bound to its address", port);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {};
	char path[512], buf[32];
	int lfd, ufd;
	FILE *f;

	test_init(argc, argv);
	if (unshare(CLONE_NEWNET))
		fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	test_path(path, sizeof(path), "netns.pid");
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	f = fopen(path, "w");
	if (!f || fputs(buf, f) < 0 || fclose(f))
		fail("can't write %s", path);
	wait_go(&a);
	lfd = bound(SOCK_STREAM, &a, 7777);
	ufd = bound(SOCK_DGRAM, &a, 7778);
	test_ready();
	while (test_go()) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		if (poll(&p, 1, 50) == 1)
			answer(lfd);
	}
	still_bound(lfd, &a, 7777);
	still_bound(ufd, &a, 7778);
	pass();
}
