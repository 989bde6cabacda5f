/* A process whose fd 1 is a unix stream socket connected to a peer
 * outside the tree (a service's stdout to journald): "before" goes out
 * before the checkpoint, and after the restore "after" must go out too,
 * through whatever socket the restore put at fd 1.  Its test log is fd 2.
 * UNIX_EXT_STREAM_PEER names the peer's abstract address. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"

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
