/* A process whose fd 1 is a unix stream socket connected to a peer
 * outside the tree (a service's stdout to journald): "before" goes out
 * before the checkpoint, and after the restore "after" must go out too,
 * through whatever socket the restore put at fd 1.  Its test log is fd 2.
 * UNIX_EXT_STREAM_PEER names the peer's abstract address.  With
 * UNIX_EXT_STREAM_SERVE set it is the server instead (a database and its
 * psql session): it listens on that name (the listener stays at fd 5) and
 * the connection it accepts from a client outside is fd 1. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"

/* Listens at fd 5; the connection it accepts. */
static int serve(int l, const struct sockaddr_un *a, socklen_t len)
{
	int c;

	if (l < 0 || bind(l, (const struct sockaddr *)a, len) || listen(l, 1) ||
	    dup2(l, 5) != 5)
		fail("listen on @%s: %s", a->sun_path + 1, strerror(errno));
	close(l);
	c = accept4(5, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		fail("accept on @%s: %s", a->sun_path + 1, strerror(errno));
	return c;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *name = getenv("UNIX_EXT_STREAM_PEER");
	socklen_t len;
	int s;

	test_init(argc, argv);
	if (!name)
		fail("UNIX_EXT_STREAM_PEER is not set");
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s", name);
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (getenv("UNIX_EXT_STREAM_SERVE"))
		s = serve(s, &a, len);
	else
		for (int i = 0; s >= 0 && connect(s, (struct sockaddr *)&a, len) && i < 500; i++)
			usleep(10000);
	if (s < 0 || dup2(s, 1) != 1 || write(1, "before\n", 7) != 7)
		fail("connect to @%s: %s", name, strerror(errno));
	close(s);
	test_waitsig();

	if (write(1, "after\n", 6) != 6)
		fail("write after the restore: %s", strerror(errno));
	pass();
}
