/* A target with a unix socket (fd 5) bound to the relative name "rel" in
 * DIR/a, after which it moved to DIR: the name is not found from its
 * working directory, as CRIU requires, so lmproc refuses.  It counts until
 * SIGTERM, then checks the socket's name and that it still receives
 * through the name from DIR/a. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = "rel"}, n;
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + 4, nlen = sizeof(n);
	volatile uint64_t counter = 0;
	char dir[4096], buf[8];
	int s, u;

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "a");
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (s < 0 || mkdir(dir, 0755) || chdir(dir) || bind(s, (struct sockaddr *)&a, len) ||
	    dup2(s, 5) != 5 || chdir(".."))
		fail("socket: %s", strerror(errno));
	close(s);
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (getsockname(5, (struct sockaddr *)&n, &nlen) || nlen != len ||
	    strcmp(n.sun_path, "rel"))
		fail("fd 5 has another name");
	u = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (u < 0 || chdir(dir) || sendto(u, "hi", 2, 0, (struct sockaddr *)&a, len) != 2 ||
	    recv(5, buf, sizeof(buf), MSG_DONTWAIT) != 2)
		fail("fd 5 does not receive through its name: %s", strerror(errno));
	pass();
}
