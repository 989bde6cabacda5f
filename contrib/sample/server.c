/* The demo's sample server (contrib/demo.sh): a tally service over TCP.
 * "sample-server ADDR PORT" listens on ADDR:PORT (IPv4 or IPv6), prints
 * "listening on ADDR PORT", and serves one client at a time.  Each
 * request is a line "add V" (V a decimal u64); the answer is a line
 * "N H": N the number of requests it has answered since it started (over
 * every client) and H a hash chained over every V in order.  The tally
 * lives only in this process's memory, so every answer depends on all
 * the requests before it: a request lost, repeated or reordered on the
 * way (or a tally that did not move with the process) makes the client
 * (sample-client) see a wrong answer.  A line it can't parse is answered
 * "error ..." and ends the connection.  It first closes every descriptor
 * but stdio, like a daemon: what the caller left open is not part of
 * the sample. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tally.h"

struct tally {
	uint64_t count, hash;
};

static int listen_on(const char *addr, const char *port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr *sa = (struct sockaddr *)&a4;
	socklen_t len = sizeof(a4);
	int fd, one = 1;

	a4.sin_port = a6.sin6_port = htons(atoi(port));
	if (inet_pton(AF_INET, addr, &a4.sin_addr) != 1) {
		if (inet_pton(AF_INET6, addr, &a6.sin6_addr) != 1) {
			fprintf(stderr, "sample-server: %s is no IP address\n", addr);
			return -1;
		}
		sa = (struct sockaddr *)&a6;
		len = sizeof(a6);
	}
	fd = socket(sa->sa_family, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("sample-server: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, len) || listen(fd, 4)) {
		fprintf(stderr, "sample-server: %s port %s: %m\n", addr, port);
		close(fd);
		return -1;
	}
	return fd;
}

/* serve: answers one client's requests until it leaves or errs. */
static void serve(int fd, struct tally *t)
{
	FILE *in = fdopen(fd, "r");
	char line[64];
	uint64_t v;

	if (!in) {
		perror("sample-server: fdopen");
		close(fd);
		return;
	}
	while (fgets(line, sizeof(line), in)) {
		if (sscanf(line, "add %" SCNu64, &v) != 1) {
			dprintf(fd, "error: not 'add V': %.20s\n", line);
			break;
		}
		t->hash = tally_next(t->hash, v);
		t->count++;
		if (dprintf(fd, "%" PRIu64 " %016" PRIx64 "\n", t->count, t->hash) < 0)
			break;
	}
	fclose(in);
}

int main(int argc, char **argv)
{
	struct tally t = { 0, TALLY_SEED };
	int lfd, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: sample-server ADDR PORT\n");
		return 2;
	}
	syscall(SYS_close_range, 3U, ~0U, 0U);
	/* A client gone mid-answer ends its connection, not the server. */
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(argv[1], argv[2]);
	if (lfd < 0)
		return 1;
	printf("listening on %s %s\n", argv[1], argv[2]);
	fflush(stdout);
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			perror("sample-server: accept");
			return 1;
		}
		serve(fd, &t);
	}
}
