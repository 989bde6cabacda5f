/* A target with a listening unix socket (fd 5) and a client of it (fd 6)
 * whose connection was not accepted yet and which sent bytes: they wait in
 * a socket no fd holds, which nothing reads without accepting it, so
 * lmproc refuses (one without bytes is restored: sk_unix_pending): it counts
 * until SIGTERM, then accepts the connection and checks that the bytes
 * the client queued come through. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	volatile uint64_t counter = 0;
	socklen_t len;
	char buf[8];
	int l, c, s;

	test_init(argc, argv);
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "lmproc-pending-%d", getpid());
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 4) ||
	    dup2(l, 5) != 5 || dup2(c, 6) != 6 || connect(6, (struct sockaddr *)&a, len) ||
	    send(6, "hello", 5, 0) != 5)
		fail("sockets: %s", strerror(errno));
	close(l);
	close(c);
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	s = accept(5, NULL, NULL);
	if (s < 0 || recv(s, buf, sizeof(buf), 0) != 5 || memcmp(buf, "hello", 5))
		fail("the pending connection is gone: %s", strerror(errno));
	pass();
}
