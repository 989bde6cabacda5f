/* N TCP streams both ways for the TCP repair tests (tcp-netns.sh, the
 * 1,000-connection case, bench/tcp.sh; tcpstream.c has the one-stream
 * modes of the other cases): "server ADDR PORT [N]" accepts N connections (1 by default); "client ADDR PORT MS [N]"
 * opens N to it (with N > 1 both ends keep small buffers, so that 1,000
 * connections hold data in flight without pressing on tcp_mem).  Each
 * side writes consecutive 32-bit counters faster than the other reads
 * (so both queues hold data at any moment) and checks every word it
 * reads: a byte lost, duplicated or reordered breaks the sequence.  The
 * client writes for MS ms, shuts its side down; the server answers the
 * end with a marker and the number of words it read, which the client
 * checks against what it wrote.  The client prints its figures (totals
 * over the connections; gap_ms, the longest time one connection went
 * without a byte) and exits 0 if all matched; the server resets the
 * connection on a bad word. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define END_MARK 0xffffffffu
#define CHUNK 4096
#define MAX_CONNS 4000
#define SMALL_BUF 32768

/* Chunks written a round: one connection's writer outruns its reader
 * (four for one read); many connections' writers write one chunk every
 * PACE_MS and their readers drain what came, so that their windows stay
 * open (a zero window at the freeze is the single connection's case). */
#define PACE_MS 100
static int out_chunks = 4;
static uint64_t pace_ms, round_ms;

struct side {
	int fd;
	uint32_t wnext, rnext; /* next counter to write, to read */
	uint32_t wbuf[CHUNK / 4], rbuf[CHUNK / 4];
	size_t woff, wlen; /* bytes of wbuf still to write */
	uint8_t rpart[4];
	size_t rpartlen;
	uint8_t tail[CHUNK]; /* what came after the end marker */
	size_t tail_len;
	bool shut, done;
	bool ending, marked; /* the server: the client's end seen; marker queued */
	uint64_t last;	/* when it last read a byte */
	uint64_t wlast; /* when it last wrote a chunk */
};

static void small_bufs(int fd, int n)
{
	int v = SMALL_BUF;

	if (n == 1)
		return;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
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

/* Writes what it can of the counter stream, one chunk. */
static int pump_chunk(struct side *s)
{
	ssize_t n;

	if (s->woff == s->wlen) {
		for (size_t i = 0; i < CHUNK / 4; i++)
			s->wbuf[i] = s->wnext++;
		s->woff = 0;
		s->wlen = CHUNK;
	}
	n = send(s->fd, (char *)s->wbuf + s->woff, s->wlen - s->woff, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	s->woff += n;
	return 0;
}

/* Chunks read a round: many connections' readers outrun their writers,
 * so that their windows stay open but for the freeze. */
static int in_chunks = 1;

static int pump_out(struct side *s)
{
	if (pace_ms && round_ms - s->wlast < pace_ms && s->woff == s->wlen)
		return 0;
	s->wlast = round_ms;
	for (int i = 0; i < out_chunks; i++) {
		if (pump_chunk(s))
			return -1;
		if (s->woff < s->wlen)
			return 0;
	}
	return 0;
}

/* Reads a chunk and checks it: 1 at the end marker (*COUNT then follows
 * in the stream), 0 on progress, -1 on an error or a bad word. */
static int pump_in_chunk(struct side *s, bool *got)
{
	uint8_t buf[CHUNK];
	ssize_t n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);

	*got = n > 0;
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (!n)
		return 2;
	for (ssize_t i = 0; i < n; i++) {
		uint32_t w;

		s->rpart[s->rpartlen++] = buf[i];
		if (s->rpartlen < 4)
			continue;
		s->rpartlen = 0;
		memcpy(&w, s->rpart, 4);
		if (w == END_MARK) {
			s->tail_len = n - i - 1;
			memcpy(s->tail, buf + i + 1, s->tail_len);
			return 1;
		}
		if (w != s->rnext) {
			fprintf(stderr, "tcpmany: read %u, expected %u\n", w, s->rnext);
			return -1;
		}
		s->rnext++;
	}
	return 0;
}

static int pump_in(struct side *s, bool *got)
{
	bool any = false;
	int r = 0;

	for (int i = 0; i < in_chunks && !r; i++) {
		r = pump_in_chunk(s, got);
		any |= *got;
		if (!*got)
			break;
	}
	*got = any;
	return r;
}

/* Connection S's end, a step a round (a thousand connections end
 * together): the current chunk, the marker and the number of words it
 * read, then its side shut.  1 once done, 0 on progress, -1 on error. */
static int server_end(struct side *s)
{
	uint32_t tail[2] = { END_MARK, s->rnext };
	ssize_t n;

	if (s->woff == s->wlen && !s->marked) {
		memcpy(s->wbuf, tail, sizeof(tail));
		s->woff = 0;
		s->wlen = sizeof(tail);
		s->marked = true;
	}
	n = send(s->fd, (char *)s->wbuf + s->woff, s->wlen - s->woff, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	s->woff += n;
	if (s->woff < s->wlen || !s->marked)
		return 0;
	shutdown(s->fd, SHUT_WR);
	close(s->fd);
	s->done = true;
	return 1;
}

static int server(const char *host, const char *port, int nr)
{
	struct sockaddr_storage ss;
	struct linger lg = { 1, 0 };
	int len = addr_of(host, port, &ss), l, one = 1, r, left = nr;
	struct side *s = calloc(nr, sizeof(*s));
	bool got;

	l = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	small_bufs(l, nr);
	if (!s || l < 0 || len < 0 || bind(l, (void *)&ss, len) || listen(l, nr))
		return perror("tcpmany: listen"), 1;
	printf("listening\n");
	fflush(stdout);
	for (int i = 0; i < nr; i++) {
		s[i].fd = accept(l, NULL, NULL);
		if (s[i].fd < 0)
			return 1;
	}
	close(l);
	while (left) {
		round_ms = now_ms();
		for (int i = 0; i < nr; i++) {
			if (s[i].done)
				continue;
			if (s[i].ending) {
				r = server_end(&s[i]);
				if (r < 0)
					return 1;
				left -= r;
				continue;
			}
			if (pump_out(&s[i]))
				return 1;
			r = pump_in(&s[i], &got);
			if (r == 2) {
				/* The client wrote its last word. */
				s[i].ending = true;
				continue;
			}
			if (r) {
				setsockopt(s[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				return 1;
			}
		}
		if (nr == 1) {
			struct pollfd p = { s[0].fd, POLLIN | POLLOUT, 0 };

			if (left)
				poll(&p, 1, 1000);
		}
		usleep(200);
	}
	return 0;
}

/* The count after connection S's marker, read a step a round: 1 once it
 * came and is the number of words S wrote, 0 on progress, -1 if not. */
static int client_end(struct side *s)
{
	uint32_t count;
	ssize_t n;

	if (s->tail_len < 4) {
		n = recv(s->fd, s->tail + s->tail_len, 4 - s->tail_len, MSG_DONTWAIT);
		if (n <= 0 && !(n < 0 && errno == EAGAIN))
			return fprintf(stderr, "tcpmany: no count\n"), -1;
		s->tail_len += n > 0 ? n : 0;
		if (s->tail_len < 4)
			return 0;
	}
	memcpy(&count, s->tail, 4);
	if (count != s->wnext)
		return fprintf(stderr, "tcpmany: the server read %u words of %u\n", count,
			       s->wnext), -1;
	close(s->fd);
	s->done = true;
	return 1;
}

/* One round over connection S at time T: 1 once it ended well. */
static int client_round(struct side *s, uint64_t t, bool stop, uint64_t *gap)
{
	bool got;
	int r;

	if (s->marked)
		return client_end(s);
	if (!s->shut && stop && s->woff == s->wlen) {
		shutdown(s->fd, SHUT_WR);
		s->shut = true;
	}
	if (!s->shut && pump_out(s))
		return perror("tcpmany: send"), -1;
	r = pump_in(s, &got);
	if (got) {
		*gap = *gap > t - s->last ? *gap : t - s->last;
		s->last = t;
	}
	if (r == 1) {
		s->marked = true;
		return client_end(s);
	}
	if (r)
		return fprintf(stderr, "tcpmany: %s\n", r == 2 ? "early EOF" : strerror(errno)), -1;
	return 0;
}

static int client(const char *host, const char *port, int ms, int nr)
{
	struct sockaddr_storage ss;
	int len = addr_of(host, port, &ss), left = nr, r;
	struct side *s = calloc(nr, sizeof(*s));
	uint64_t t0, gap = 0, t, sent = 0, read = 0;

	alarm(ms / 1000 + 30);
	if (!s || len < 0)
		return 1;
	for (int i = 0; i < nr; i++) {
		s[i].fd = socket(ss.ss_family, SOCK_STREAM, 0);
		small_bufs(s[i].fd, nr);
		if (s[i].fd < 0 || connect(s[i].fd, (void *)&ss, len))
			return perror("tcpmany: connect"), 1;
	}
	t0 = now_ms();
	for (int i = 0; i < nr; i++)
		s[i].last = t0;
	while (left) {
		round_ms = now_ms();
		if (nr == 1) {
			struct pollfd p = { s[0].fd, POLLIN | (s[0].shut ? 0 : POLLOUT), 0 };

			poll(&p, 1, 1000);
		}
		t = now_ms();
		for (int i = 0; i < nr; i++) {
			if (s[i].done)
				continue;
			r = client_round(&s[i], t, t - t0 >= (uint64_t)ms, &gap);
			if (r < 0)
				return 1;
			left -= r;
		}
		usleep(100);
	}
	for (int i = 0; i < nr; i++) {
		sent += s[i].wnext;
		read += s[i].rnext;
	}
	printf("sent %llu read %llu server_read %llu conns %d gap_ms %llu\n",
	       (unsigned long long)sent, (unsigned long long)read, (unsigned long long)sent, nr,
	       (unsigned long long)gap);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct rlimit rl;
	int nr = 1;

	/* A thousand connections pass the usual soft limit on fds. */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((argc == 5 && !strcmp(argv[1], "server")) || argc == 6)
		nr = atoi(argv[argc - 1]);
	if (nr < 1 || nr > MAX_CONNS)
		return fprintf(stderr, "tcpmany: 1 to %d connections\n", MAX_CONNS), 2;
	if (nr > 1) {
		out_chunks = 1;
		in_chunks = 16;
		pace_ms = PACE_MS;
	}
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "server"))
		return server(argv[2], argv[3], nr);
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "client"))
		return client(argv[2], argv[3], atoi(argv[4]), nr);
	fprintf(stderr, "usage: tcpmany server ADDR PORT [N] | client ADDR PORT MS [N]\n");
	return 2;
}
