/* Half-closed and closing TCP connections for the TCP repair tests:
 * "server ADDR PORT STATE DIR" accepts one connection and brings it to
 * STATE (fin_wait1, fin_wait2, close_wait, last_ack, closing, shut_rd;
 * fin_wait1_sent and last_ack_sent: its FIN sent, not acknowledged)
 * with its "client ADDR PORT STATE DIR", prints "ready", and waits for
 * the file DIR/go (made once the server was dumped and restored) to
 * finish the connection: each side writes consecutive 32-bit counters
 * in the direction still open and checks every word it reads until
 * EOF.  Both print "read R wrote W" (bytes) at the end (the client then
 * the ms from DIR/go to its EOF, and on the line before "first_at MS"
 * if it read a byte after the go: when, CLOCK_REALTIME), the server then
 * "done"; the caller compares the counts.  "syn ADDR PORT" connects to
 * a port whose SYNs are dropped and waits in SYN_SENT; "tfo-server ADDR
 * PORT" accepts a TCP Fast Open connection of "tfo-client ADDR PORT"
 * whose handshake the caller stops, and holds it in SYN_RECV. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#define WORDS 1024
/* What the client writes before its FIN: fits any receive buffer. */
#define CLIENT_WORDS 4096
/* What the server still writes once restored. */
#define MORE_WORDS 65536
#define WAIT_MS 20000

struct side {
	int fd;
	uint32_t wnext, rnext;
	uint64_t wrote, read; /* bytes */
	uint32_t wbuf[WORDS];
	size_t woff, wlen;
	uint8_t part[4];
	size_t partlen;
};

static const char *dir;
/* The client: the go seen; when it then read its first byte (ms). */
static bool gone;
static uint64_t first_at;

static int die(const char *what)
{
	printf("error: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int addr_of(const char *host, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(atoi(port));
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
		return -1;
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(atoi(port));
	return sizeof(*a6);
}

/* Writes one chunk of counters, as much as goes: the bytes written, 0
 * if nothing went (EAGAIN). */
static ssize_t put(struct side *s, int flags)
{
	ssize_t n;

	if (s->woff == s->wlen) {
		for (size_t i = 0; i < WORDS; i++)
			s->wbuf[i] = s->wnext++;
		s->woff = 0;
		s->wlen = sizeof(s->wbuf);
	}
	n = send(s->fd, (char *)s->wbuf + s->woff, s->wlen - s->woff, flags | MSG_NOSIGNAL);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0)
		die("send");
	s->woff += n;
	s->wrote += n;
	return n;
}

/* The current chunk written out, blocking. */
static void put_rest(struct side *s)
{
	while (s->woff < s->wlen)
		put(s, 0);
}

/* Until the peer's window and both buffers are full: nothing could be
 * written for 200 ms. */
static void fill(struct side *s)
{
	struct pollfd p = { s->fd, POLLOUT, 0 };

	for (;;) {
		if (put(s, MSG_DONTWAIT))
			continue;
		if (poll(&p, 1, 200) == 0)
			break;
	}
}

static void put_words(struct side *s, uint32_t words)
{
	uint32_t end = s->wnext + words;

	while (s->wnext < end || s->woff < s->wlen)
		put(s, 0);
}

/* Reads and checks what is there: 0 at EOF, 1 otherwise. */
static int get(struct side *s, int flags)
{
	uint8_t buf[4096];
	ssize_t n = recv(s->fd, buf, sizeof(buf), flags);

	if (n < 0 && errno == EAGAIN)
		return 1;
	if (n < 0)
		die("recv");
	s->read += n;
	if (gone && n > 0 && !first_at)
		first_at = now_ms();
	for (ssize_t i = 0; i < n; i++) {
		uint32_t w;

		s->part[s->partlen++] = buf[i];
		if (s->partlen < 4)
			continue;
		s->partlen = 0;
		memcpy(&w, s->part, 4);
		if (w != s->rnext) {
			printf("error: read %u, expected %u\n", w, s->rnext);
			exit(1);
		}
		s->rnext++;
	}
	return n != 0;
}

static void get_all(struct side *s)
{
	while (get(s, 0))
		;
	/* A writer stopped by a closed window may end inside a word. */
	if (memcmp(s->part, &s->rnext, s->partlen)) {
		printf("error: a partial last word, not %u\n", s->rnext);
		exit(1);
	}
}

static bool exists(const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return !stat(path, &st);
}

static void wait_file(const char *name)
{
	for (int i = 0; i < WAIT_MS / 5; i++) {
		if (exists(name))
			return;
		usleep(5000);
	}
	printf("error: no %s/%s\n", dir, name);
	exit(1);
}

static void make_file(const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		die("create the step file");
	close(fd);
}

static int state_of(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		die("TCP_INFO");
	return ti.tcpi_state;
}

static void wait_state(int fd, int state)
{
	for (int i = 0; i < WAIT_MS / 5; i++) {
		if (state_of(fd) == state)
			return;
		usleep(5000);
	}
	printf("error: state %d, not %d\n", state_of(fd), state);
	exit(1);
}

/* Waits for poll event EV (the peer's FIN, or the end of both sides). */
static void wait_event(int fd, short ev, const char *what)
{
	struct pollfd p = { fd, ev, 0 };

	if (poll(&p, 1, WAIT_MS) != 1 || !(p.revents & ev)) {
		printf("error: no %s (state %d)\n", what, state_of(fd));
		exit(1);
	}
}

/* Before this side's FIN: with SENT, the caller drops what the client
 * sends (told by "hold", answered by DIR/held), so that the FIN goes
 * out and is not acknowledged; otherwise writes until the client's
 * window closes, so that the FIN waits behind unsent bytes. */
static void before_fin(struct side *s, bool sent)
{
	if (!sent) {
		fill(s);
		return;
	}
	printf("hold\n");
	wait_file("held");
	put_words(s, WORDS);
}

static void ready(const char *state)
{
	printf("ready %s\n", state);
	wait_file("go");
}

static int server(const char *host, const char *port, const char *st)
{
	struct sockaddr_storage ss;
	int len = addr_of(host, port, &ss), l, one = 1, rdhup = 0;
	struct side s = {};
	bool sent = strstr(st, "_sent");

	l = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || len < 0 || bind(l, (void *)&ss, len) || listen(l, 1))
		die("listen");
	printf("listening\n");
	s.fd = accept(l, NULL, NULL);
	close(l);
	if (s.fd < 0)
		die("accept");
	if (!strncmp(st, "fin_wait1", 9)) {
		before_fin(&s, sent);
		shutdown(s.fd, SHUT_WR);
		wait_state(s.fd, TCP_FIN_WAIT1);
		ready(st);
		get_all(&s);
	} else if (!strcmp(st, "fin_wait2")) {
		put_words(&s, WORDS);
		shutdown(s.fd, SHUT_WR);
		wait_state(s.fd, TCP_FIN_WAIT2);
		ready(st);
		get_all(&s);
	} else if (!strcmp(st, "close_wait")) {
		wait_event(s.fd, POLLRDHUP, "FIN from the client");
		fill(&s);
		wait_state(s.fd, TCP_CLOSE_WAIT);
		ready(st);
		put_rest(&s);
		put_words(&s, MORE_WORDS);
		get_all(&s);
		shutdown(s.fd, SHUT_WR);
		wait_event(s.fd, POLLHUP, "end of the connection");
	} else if (!strncmp(st, "last_ack", 8)) {
		wait_event(s.fd, POLLRDHUP, "FIN from the client");
		before_fin(&s, sent);
		shutdown(s.fd, SHUT_WR);
		wait_state(s.fd, TCP_LAST_ACK);
		ready(st);
		get_all(&s);
		wait_event(s.fd, POLLHUP, "end of the connection");
	} else if (!strcmp(st, "closing")) {
		fill(&s);
		shutdown(s.fd, SHUT_WR);
		wait_state(s.fd, TCP_FIN_WAIT1);
		make_file("step");
		wait_state(s.fd, TCP_CLOSING);
		ready(st);
		get_all(&s);
		wait_event(s.fd, POLLHUP, "end of the connection");
	} else if (!strcmp(st, "shut_rd")) {
		shutdown(s.fd, SHUT_RD);
		fill(&s);
		ready(st);
		put_rest(&s);
		put_words(&s, MORE_WORDS);
		rdhup = get(&s, MSG_DONTWAIT) == 0;
		if (!rdhup)
			printf("error: the read side is open again\n");
	} else {
		printf("error: unknown state %s\n", st);
		return 2;
	}
	printf("read %llu wrote %llu\n", (unsigned long long)s.read, (unsigned long long)s.wrote);
	close(s.fd);
	printf("done\n");
	return 0;
}

static int client(const char *host, const char *port, const char *st)
{
	struct sockaddr_storage ss;
	int len = addr_of(host, port, &ss);
	struct side s = {};
	bool writes = !strncmp(st, "fin_wait", 8);
	uint64_t go;

	alarm(60);
	s.fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (s.fd < 0 || len < 0 || connect(s.fd, (void *)&ss, len))
		die("connect");
	if (!strcmp(st, "fin_wait2"))
		get_all(&s);
	if (strcmp(st, "shut_rd"))
		put_words(&s, CLIENT_WORDS);
	if (!strcmp(st, "closing"))
		wait_file("step");
	if (!writes && strcmp(st, "shut_rd"))
		shutdown(s.fd, SHUT_WR);
	wait_file("go");
	go = now_ms();
	gone = true;
	/* The direction still open: 300 ms more of counters, read meanwhile. */
	if (writes) {
		uint64_t t0 = now_ms();
		bool eof = !strcmp(st, "fin_wait2");

		while (now_ms() - t0 < 300) {
			put(&s, MSG_DONTWAIT);
			if (!eof)
				eof = !get(&s, MSG_DONTWAIT);
			usleep(200);
		}
		put_rest(&s);
		shutdown(s.fd, SHUT_WR);
	}
	get_all(&s);
	if (first_at)
		printf("first_at %llu\n", (unsigned long long)first_at);
	printf("read %llu wrote %llu eof_ms %llu\n", (unsigned long long)s.read,
	       (unsigned long long)s.wrote, (unsigned long long)(now_ms() - go));
	close(s.fd);
	return 0;
}

static int syn(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	int len = addr_of(host, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0 || len < 0 || (connect(fd, (void *)&ss, len) && errno != EINPROGRESS))
		die("connect");
	printf("ready syn_sent\n");
	sleep(60);
	return 0;
}

/* A TCP Fast Open listener: the connection its client opens with data
 * in the SYN is accepted in SYN_RECV (the client's ACK dropped). */
static int tfo_server(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	int len = addr_of(host, port, &ss), l, fd, qlen = 5, one = 1;

	l = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || len < 0 || setsockopt(l, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)) ||
	    bind(l, (void *)&ss, len) || listen(l, 1))
		die("listen");
	printf("listening\n");
	fd = accept(l, NULL, NULL);
	if (fd < 0)
		die("accept");
	close(l);
	printf("ready %s\n", state_of(fd) == TCP_SYN_RECV ? "syn_recv" : "not in SYN_RECV");
	sleep(60);
	return 0;
}

static int tfo_client(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	int len = addr_of(host, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0 || len < 0 || sendto(fd, "x", 1, MSG_FASTOPEN, (void *)&ss, len) != 1)
		die("sendto MSG_FASTOPEN");
	sleep(60);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && !strcmp(argv[1], "server")) {
		dir = argv[5];
		return server(argv[2], argv[3], argv[4]);
	}
	if (argc == 6 && !strcmp(argv[1], "client")) {
		dir = argv[5];
		return client(argv[2], argv[3], argv[4]);
	}
	if (argc == 4 && !strcmp(argv[1], "syn"))
		return syn(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "tfo-server"))
		return tfo_server(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "tfo-client"))
		return tfo_client(argv[2], argv[3]);
	fprintf(stderr, "usage: tcphalf server|client ADDR PORT STATE DIR | "
			"syn|tfo-server|tfo-client ADDR PORT\n");
	return 2;
}
