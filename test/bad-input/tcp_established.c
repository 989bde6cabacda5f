/* An established TCP connection over loopback (client at fd 8, the
 * accepted end at fd 9, a byte queued each way), which needs TCP repair:
 * the dump must be refused naming the fd, and the connection must still
 * carry both bytes and more afterwards.  It counts in a busy loop until
 * SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	volatile uint64_t counter = 0;
	socklen_t len = sizeof(a);
	int l, c, s;
	char x;

	test_init(argc, argv);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len) || dup2(c, 8) != 8 ||
	    connect(8, (struct sockaddr *)&a, sizeof(a)))
		fail("connect: %s", strerror(errno));
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0 || dup2(s, 9) != 9 || send(8, "c", 1, 0) != 1 || send(9, "s", 1, 0) != 1)
		fail("accept: %s", strerror(errno));
	close(c);
	close(s);
	test_ready();
	while (test_go())
		counter++;
	if (recv(9, &x, 1, 0) != 1 || x != 'c' || recv(8, &x, 1, 0) != 1 || x != 's')
		fail("the queued bytes are gone");
	if (send(8, "z", 1, 0) != 1 || recv(9, &x, 1, 0) != 1 || x != 'z')
		fail("the connection no longer carries bytes");
	if (!counter)
		fail("the counter did not count");
	pass();
}
