/* A TCP stream both ways for the TCP repair tests: "server ADDR PORT"
 * accepts one connection; "client ADDR PORT MS" connects to it.  Each
 * side writes consecutive 32-bit counters faster than the other reads
 * (so both queues hold data at any moment) and checks every word it
 * reads: a byte lost, duplicated or reordered breaks the sequence.  The
 * client writes for MS ms, shuts its side down; the server answers the
 * end with a marker and the number of words it read, which the client
 * checks against what it wrote.  The client prints its figures and exits
 * 0 if all matched; the server resets the connection on a bad word.
 * "pair ADDR PORT MS" and "self ADDR PORT MS" run both ends in one tree:
 * the client in a child process or in a thread of the server.
 * "client ADDR PORT MS stall" stops reading 200 ms in, keeps writing,
 * prints "stalled BYTES" once its receive queue stopped growing for
 * 400 ms (its window is zero: the server can send no more) and reads
 * again on SIGUSR1 (or after 20 s); MS and the gap count from then. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define END_MARK 0xffffffffu
#define CHUNK 4096

struct side {
	int fd;
	uint32_t wnext, rnext; /* next counter to write, to read */
	uint32_t wbuf[CHUNK / 4], rbuf[CHUNK / 4];
	size_t woff, wlen; /* bytes of wbuf still to write */
	uint8_t rpart[4];
	size_t rpartlen;
	uint8_t tail[CHUNK]; /* what came after the end marker */
	size_t tail_len;
};

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

/* Four chunks a round for one read: the writer outruns the reader. */
static int pump_out(struct side *s)
{
	for (int i = 0; i < 4; i++) {
		if (pump_chunk(s))
			return -1;
		if (s->woff < s->wlen)
			return 0;
	}
	return 0;
}

/* Reads a chunk and checks it: 1 at the end marker (*COUNT then follows
 * in the stream), 0 on progress, -1 on an error or a bad word. */
static int pump_in(struct side *s, bool *got)
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
			fprintf(stderr, "tcpstream: read %u, expected %u\n", w, s->rnext);
			return -1;
		}
		s->rnext++;
	}
	return 0;
}

static int listen_on(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	int len = addr_of(host, port, &ss), l, one = 1;

	l = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || len < 0 || bind(l, (void *)&ss, len) || listen(l, 1)) {
		perror("tcpstream: listen");
		return -1;
	}
	printf("listening\n");
	fflush(stdout);
	return l;
}

static int serve(int l)
{
	struct linger lg = { 1, 0 };
	struct side s = {};
	uint32_t tail[2] = { END_MARK };
	bool got;
	int r;

	s.fd = accept(l, NULL, NULL);
	close(l);
	if (s.fd < 0)
		return 1;
	for (;;) {
		struct pollfd p = { s.fd, POLLIN | POLLOUT, 0 };

		poll(&p, 1, 1000);
		if (pump_out(&s))
			return 1;
		r = pump_in(&s, &got);
		if (r == 2)
			break;
		if (r) {
			setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			return 1;
		}
		usleep(200);
	}
	/* The client wrote its last word: finish the current chunk, then the
	 * marker and the count. */
	while (s.woff < s.wlen) {
		ssize_t n = send(s.fd, (char *)s.wbuf + s.woff, s.wlen - s.woff, MSG_NOSIGNAL);

		if (n <= 0)
			return 1;
		s.woff += n;
	}
	tail[1] = s.rnext;
	if (send(s.fd, tail, sizeof(tail), MSG_NOSIGNAL) != sizeof(tail))
		return 1;
	shutdown(s.fd, SHUT_WR);
	close(s.fd);
	return 0;
}

static int server(const char *host, const char *port)
{
	int l = listen_on(host, port);

	return l < 0 ? 1 : serve(l);
}

static volatile sig_atomic_t resumed;

static void on_usr1(int sig)
{
	(void)sig;
	resumed = 1;
}

/* The stall: writes on without reading until the receive queue stopped
 * growing for 400 ms, says so, and waits for SIGUSR1 (at most 20 s). */
static int stall(struct side *s)
{
	uint64_t t0 = now_ms(), since = t0;
	int inq = -1, q;

	while (!resumed && now_ms() - t0 < 20000) {
		if (pump_out(s))
			return -1;
		if (ioctl(s->fd, SIOCINQ, &q))
			return -1;
		if (q != inq) {
			inq = q;
			since = now_ms();
		} else if (since && now_ms() - since >= 400) {
			printf("stalled %d\n", q);
			since = 0;
		}
		usleep(1000);
	}
	return 0;
}

static size_t min4(size_t n)
{
	return n < 4 ? n : 4;
}

static int client(const char *host, const char *port, int ms, bool stalls)
{
	struct sockaddr_storage ss;
	int len = addr_of(host, port, &ss), r;
	struct side s = {};
	uint64_t t0, last, gap = 0, t;
	uint32_t count;
	bool got, shut = false;

	signal(SIGUSR1, on_usr1);
	alarm(ms / 1000 + (stalls ? 40 : 20));
	s.fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (s.fd < 0 || len < 0 || connect(s.fd, (void *)&ss, len))
		return perror("tcpstream: connect"), 1;
	t0 = last = now_ms();
	for (;;) {
		if (stalls && now_ms() - t0 >= 200) {
			if (stall(&s))
				return perror("tcpstream: stalled"), 1;
			stalls = false;
			t0 = last = now_ms();
		}
		struct pollfd p = { s.fd, POLLIN | (shut ? 0 : POLLOUT), 0 };

		poll(&p, 1, 1000);
		t = now_ms();
		if (!shut && t - t0 >= (uint64_t)ms && s.woff == s.wlen) {
			shutdown(s.fd, SHUT_WR);
			shut = true;
		}
		if (!shut && pump_out(&s))
			return perror("tcpstream: send"), 1;
		r = pump_in(&s, &got);
		if (got) {
			gap = gap > t - last ? gap : t - last;
			last = t;
		}
		if (r == 1)
			break;
		if (r)
			return fprintf(stderr, "tcpstream: %s\n", r == 2 ? "early EOF" : strerror(errno)), 1;
		usleep(100);
	}
	/* The count after the marker. */
	memcpy(&count, s.tail, min4(s.tail_len));
	for (size_t got4 = min4(s.tail_len); got4 < 4;) {
		ssize_t n = recv(s.fd, (char *)&count + got4, 4 - got4, 0);

		if (n <= 0)
			return fprintf(stderr, "tcpstream: no count\n"), 1;
		got4 += n;
	}
	printf("sent %u read %u server_read %u gap_ms %llu\n", s.wnext, s.rnext, count,
	       (unsigned long long)gap);
	if (count != s.wnext)
		return fprintf(stderr, "tcpstream: the server read %u words of %u\n", count, s.wnext), 1;
	return 0;
}

struct client_args {
	const char *host, *port;
	int ms, ret;
};

static void *client_thread(void *arg)
{
	struct client_args *a = arg;

	a->ret = client(a->host, a->port, a->ms, false);
	return NULL;
}

/* Both ends in one tree: the client in a child process ("pair") or in a
 * thread of the server's process ("self").  Prints "pair ok" or "pair
 * failed" once both ends are done. */
static int both_ends(const char *host, const char *port, int ms, bool thread)
{
	struct client_args a = { host, port, ms, 1 };
	int l = listen_on(host, port), st = -1, sret;
	pthread_t th;
	pid_t pid = -1;

	if (l < 0)
		return 1;
	if (thread && pthread_create(&th, NULL, client_thread, &a))
		return 1;
	if (!thread) {
		pid = fork();
		if (pid < 0)
			return 1;
		if (!pid) {
			close(l);
			_exit(client(host, port, ms, false));
		}
	}
	sret = serve(l);
	if (thread)
		pthread_join(th, NULL);
	else if (waitpid(pid, &st, 0) == pid)
		a.ret = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	printf("pair %s\n", sret || a.ret ? "failed" : "ok");
	return sret || a.ret;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "server"))
		return server(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], argv[3], atoi(argv[4]), false);
	if (argc == 6 && !strcmp(argv[1], "client") && !strcmp(argv[5], "stall"))
		return client(argv[2], argv[3], atoi(argv[4]), true);
	if (argc == 5 && (!strcmp(argv[1], "pair") || !strcmp(argv[1], "self")))
		return both_ends(argv[2], argv[3], atoi(argv[4]), argv[1][0] == 's');
	fprintf(stderr, "usage: tcpstream server ADDR PORT | client ADDR PORT MS [stall] | "
		"pair|self ADDR PORT MS\n");
	return 2;
}
