/* sksquat NAME: a squatter on the abstract unix socket name NAME, as a
 * user who guessed the name a root daemon will use.  Listens, accepts
 * every connection and keeps it open without answering, and prints one
 * line to stdout per connection and per read (what the squatter learnt).
 * Exits after 120 s. */
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 64

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct pollfd p[MAX_CONN + 1];
	time_t end = time(NULL) + 120;
	socklen_t len;
	int n = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: sksquat NAME\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s", argv[1]);
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(argv[1]);
	p[0].fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	p[0].events = POLLIN;
	if (p[0].fd < 0 || bind(p[0].fd, (struct sockaddr *)&a, len) || listen(p[0].fd, 8)) {
		perror("sksquat");
		return 1;
	}
	while (time(NULL) < end) {
		char buf[256];

		if (poll(p, n, 1000) <= 0)
			continue;
		if ((p[0].revents & POLLIN) && n <= MAX_CONN) {
			p[n].fd = accept(p[0].fd, NULL, NULL);
			p[n].events = POLLIN;
			if (p[n].fd >= 0) {
				printf("connection %d\n", n);
				n++;
			}
		}
		for (int i = 1; i < n; i++) {
			ssize_t r;

			if (p[i].fd < 0 || !(p[i].revents & POLLIN))
				continue;
			r = recv(p[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r > 0)
				printf("connection %d sent %zd bytes\n", i, r);
			if (r == 0) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		}
	}
	return 0;
}
