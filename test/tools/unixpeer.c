/* unixpeer NAME OUT: the outside end of a unix stream connection, as
 * journald is for a service's stdout.  Listens on the abstract name NAME,
 * accepts one connection and appends what it reads to OUT until end of
 * file (or 60 s), then exits. */
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len;
	char buf[4096];
	int l, c, out;

	if (argc != 3) {
		fprintf(stderr, "usage: unixpeer NAME OUT\n");
		return 2;
	}
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s", argv[1]);
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(argv[1]);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (l < 0 || out < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 1)) {
		perror("unixpeer");
		return 1;
	}
	alarm(60);
	c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) {
		perror("unixpeer: accept");
		return 1;
	}
	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));

		if (n <= 0 || write(out, buf, n) != n)
			break;
	}
	return 0;
}
