/* unixpeer [-c] NAME OUT: the outside end of a unix stream connection, as
 * journald is for a service's stdout.  Listens on the abstract name NAME,
 * accepts one connection and appends what it reads to OUT until end of
 * file (or 60 s), then exits.  With -c it is the client instead, as psql
 * is for a database server: connects to NAME (retrying for 5 s). */
#include <fcntl.h>
#include <stdbool.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int connect_to(int s, const struct sockaddr_un *a, socklen_t len)
{
	for (int i = 0; i < 500; i++) {
		if (!connect(s, (const struct sockaddr *)a, len))
			return 0;
		usleep(10000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len;
	char buf[4096];
	int l, c, out;
	bool client = argc == 4 && !strcmp(argv[1], "-c");

	argv += client;
	argc -= client;
	if (argc != 3) {
		fprintf(stderr, "usage: unixpeer [-c] NAME OUT\n");
		return 2;
	}
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s", argv[1]);
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(argv[1]);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	alarm(60);
	if (client) {
		c = l;
		if (l < 0 || out < 0 || connect_to(l, &a, len)) {
			perror("unixpeer: connect");
			return 1;
		}
	} else if (l < 0 || out < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 1)) {
		perror("unixpeer");
		return 1;
	} else {
		c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	}
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
