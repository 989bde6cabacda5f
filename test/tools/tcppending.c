/* Connections waiting in a TCP listener's queue.  "server ADDR PORT GO"
 * listens and accepts nothing until the file GO exists, then accepts one
 * connection, answers its byte with the next one, prints "served" and
 * exits.  "pend ADDR PORT N" makes N connections (a byte sent on the
 * last), prints "pending" and the local port of each, then waits up to
 * 15 s for each to be reset: exits 0 if all were.  "conn ADDR PORT" sends
 * 'a' and expects 'b' within 5 s.  "qserver ADDR PORT GO N" and "qclient
 * ADDR PORT N": the client makes N connections, the last sending
 * PRE_LEN bytes at once, and prints "pending"; once GO exists the server
 * accepts the N in order and on each reads the bytes sent before, then
 * each side sends STREAM_LEN bytes the other checks, byte by byte (a
 * pattern of the connection's index and the offset): "served N", "ok
 * N", exit 0 if every byte matched; the client first "first_at MS",
 * when its first byte came (CLOCK_REALTIME).  "qclient ADDR PORT N
 * half" shuts the last connection's sending side after its bytes and
 * waits. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 16
#define PRE_LEN 3000
#define STREAM_LEN 200000

static void die(const char *what)
{
	printf("%s: %s\n", what, strerror(errno));
	exit(1);
}

static socklen_t addr_of(const char *host, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(atoi(port));
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
		printf("bad address %s\n", host);
		exit(2);
	}
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(atoi(port));
	return sizeof(*a6);
}

/* Waits up to MS ms for FD to be readable. */
static void wait_in(int fd, int ms, const char *what)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1) {
		printf("%s: nothing within %d ms\n", what, ms);
		exit(1);
	}
}

static int server(struct sockaddr_storage *ss, socklen_t len, const char *go)
{
	struct stat st;
	int l = socket(ss->ss_family, SOCK_STREAM, 0), c, i;
	char x;

	if (l < 0 || bind(l, (struct sockaddr *)ss, len) || listen(l, 8))
		die("listen");
	printf("listening\n");
	fflush(stdout);
	for (i = 0; i < 3000 && stat(go, &st); i++)
		usleep(20000);
	wait_in(l, 5000, "accept");
	c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	wait_in(c, 5000, "read");
	if (read(c, &x, 1) != 1)
		die("read");
	x++;
	if (write(c, &x, 1) != 1)
		die("write");
	printf("served\n");
	return 0;
}

/* When check_all first read a byte (CLOCK_REALTIME ms), 0 before. */
static unsigned long long first_at;

static uint8_t pattern(int conn, size_t i, int dir)
{
	return (i * 7 + conn * 13 + dir * 101 + i / 251) & 0xff;
}

static void send_all(int fd, int conn, size_t len, int dir)
{
	uint8_t buf[4096];

	for (size_t off = 0; off < len;) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(conn, off + i, dir);
		w = write(fd, buf, n);
		if (w <= 0)
			die("write");
		off += w;
	}
}

static void check_all(int fd, int conn, size_t len, int dir)
{
	uint8_t buf[4096];

	for (size_t off = 0; off < len;) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);
		ssize_t r;

		wait_in(fd, 10000, "the stream");
		r = read(fd, buf, n);
		if (r <= 0) {
			printf("connection %d: read at %zu of %zu: %s\n", conn, off, len,
			       r ? strerror(errno) : "end of stream");
			exit(1);
		}
		if (!first_at) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			first_at = ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern(conn, off + i, dir)) {
				printf("connection %d: byte %zu differs\n", conn, off + i);
				exit(1);
			}
		off += r;
	}
}

static int qserver(struct sockaddr_storage *ss, socklen_t len, const char *go, int n)
{
	struct stat st;
	int l = socket(ss->ss_family, SOCK_STREAM, 0), i;

	if (l < 0 || bind(l, (struct sockaddr *)ss, len) || listen(l, MAX_CONNS))
		die("listen");
	printf("listening\n");
	for (i = 0; i < 3000 && stat(go, &st); i++)
		usleep(20000);
	for (i = 0; i < n; i++) {
		int c;

		wait_in(l, 5000, "accept");
		c = accept(l, NULL, NULL);
		if (c < 0)
			die("accept");
		check_all(c, i, i == n - 1 ? PRE_LEN : 0, 0);
		send_all(c, i, STREAM_LEN, 1);
		check_all(c, i, STREAM_LEN, 2);
		close(c);
	}
	printf("served %d\n", n);
	return 0;
}

static int qclient(struct sockaddr_storage *ss, socklen_t len, int n, bool half)
{
	int fds[MAX_CONNS];

	for (int i = 0; i < n; i++) {
		fds[i] = socket(ss->ss_family, SOCK_STREAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)ss, len))
			die("connect");
	}
	send_all(fds[n - 1], n - 1, PRE_LEN, 0);
	if (half && shutdown(fds[n - 1], SHUT_WR))
		die("shutdown");
	printf("pending\n");
	if (half)
		pause();
	for (int i = 0; i < n; i++) {
		check_all(fds[i], i, STREAM_LEN, 1);
		send_all(fds[i], i, STREAM_LEN, 2);
	}
	printf("first_at %llu\nok %d\n", first_at, n);
	return 0;
}

static int pend(struct sockaddr_storage *ss, socklen_t len, int n)
{
	struct sockaddr_storage me;
	socklen_t mlen;
	int fds[MAX_CONNS], resets = 0;
	char x;

	for (int i = 0; i < n; i++) {
		fds[i] = socket(ss->ss_family, SOCK_STREAM, 0);
		mlen = sizeof(me);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)ss, len) ||
		    getsockname(fds[i], (struct sockaddr *)&me, &mlen))
			die("connect");
		printf("port %u\n", ntohs(((struct sockaddr_in *)&me)->sin_port));
	}
	if (send(fds[n - 1], "x", 1, 0) != 1)
		die("send");
	printf("pending\n");
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		wait_in(fds[i], 15000, "a reset");
		if (recv(fds[i], &x, 1, 0) < 0 && errno == ECONNRESET)
			resets++;
	}
	printf("reset %d of %d\n", resets, n);
	return resets == n ? 0 : 1;
}

static int conn(struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM, 0);
	char x = 'a';

	if (fd < 0 || connect(fd, (struct sockaddr *)ss, len) || write(fd, &x, 1) != 1)
		die("connect");
	wait_in(fd, 5000, "the answer");
	if (read(fd, &x, 1) != 1 || x != 'b') {
		printf("bad answer\n");
		return 1;
	}
	printf("answered\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4) {
		printf(
		    "usage: tcppending server ADDR PORT GO | pend ADDR PORT N | conn ADDR PORT\n");
		return 2;
	}
	len = addr_of(argv[2], argv[3], &ss);
	if (!strcmp(argv[1], "server") && argc == 5)
		return server(&ss, len, argv[4]);
	if (!strcmp(argv[1], "pend") && argc == 5 && atoi(argv[4]) > 0 &&
	    atoi(argv[4]) <= MAX_CONNS)
		return pend(&ss, len, atoi(argv[4]));
	if (!strcmp(argv[1], "conn"))
		return conn(&ss, len);
	if (!strcmp(argv[1], "qserver") && argc == 6 && atoi(argv[5]) > 0 &&
	    atoi(argv[5]) <= MAX_CONNS)
		return qserver(&ss, len, argv[4], atoi(argv[5]));
	if (!strcmp(argv[1], "qclient") && (argc == 5 || (argc == 6 && !strcmp(argv[5], "half"))) &&
	    atoi(argv[4]) > 0 && atoi(argv[4]) <= MAX_CONNS)
		return qclient(&ss, len, atoi(argv[4]), argc == 6);
	printf("bad arguments\n");
	return 2;
}
