/* The demo's client (contrib/demo.sh) of sample-server.
 * "sample-client ADDR PORT [MS]" connects, then sends a request "add V"
 * every MS ms (5 by default; V pseudo-random), waits for its answer and
 * checks it against the tally it keeps itself (tally.h): the count and
 * the hash of every value sent so far, so a request lost, answered twice
 * or out of order, or a server that lost its memory, shows at once.
 * Every 250 ms it prints a line: the wall-clock time, requests sent,
 * answers checked and the longest gap so far between two answers (one
 * line rewritten in place when stdout is a terminal); and a line for
 * every gap of 4 MS or more (at least 20 ms): "gap N ms FROM to TO",
 * wall-clock times, so that a pause can be matched with what caused it.  SIGINT or SIGTERM
 * ends it after the answer it waits for: a last line "done: ..." and
 * exit 0.  A wrong answer, the connection closed or reset, or no answer
 * within 10 s: a line "error: ..." and exit 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tally.h"

#define ANSWER_TIMEOUT_MS 10000
#define PRINT_EVERY_MS 250

struct client {
	int fd;
	char buf[256];
	size_t len;
	uint64_t requests, answers, hash, rnd;
	unsigned interval;
	uint64_t last, gap;	       /* monotonic ms */
	char gap_from[16], gap_to[16]; /* wall clock of the longest gap */
	int tty;
	char err[200]; /* why it failed */
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static int failed(struct client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* wall: the time of day, HH:MM:SS.mmm, into buf (16 bytes). */
static void wall(char *buf, uint64_t ago_ms)
{
	struct timespec ts;
	struct tm tm;
	uint64_t ms;
	time_t s;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = ts.tv_sec * 1000ull + ts.tv_nsec / 1000000 - ago_ms;
	s = ms / 1000;
	localtime_r(&s, &tm);
	snprintf(buf, 16, "%02d:%02d:%02d.%03u", tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100,
		 (unsigned)(ms % 1000));
}

static int connect_to(struct client *c, const char *addr, const char *port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr *sa = (struct sockaddr *)&a4;
	socklen_t len = sizeof(a4);

	a4.sin_port = a6.sin6_port = htons(atoi(port));
	if (inet_pton(AF_INET, addr, &a4.sin_addr) != 1) {
		if (inet_pton(AF_INET6, addr, &a6.sin6_addr) != 1) {
			return failed(c, "%s is no IP address", addr);
		}
		sa = (struct sockaddr *)&a6;
		len = sizeof(a6);
	}
	c->fd = socket(sa->sa_family, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, sa, len))
		return failed(c, "can't connect to %s port %s: %s", addr, port, strerror(errno));
	return 0;
}

static int send_request(struct client *c, uint64_t v)
{
	char line[32];
	int len = snprintf(line, sizeof(line), "add %" PRIu64 "\n", v);

	if (send(c->fd, line, len, MSG_NOSIGNAL) != len)
		return failed(c, "request %" PRIu64 " not sent: %s", c->requests + 1,
			      strerror(errno));
	c->requests++;
	return 0;
}

/* read_answer: the next line from the server into line, NUL-terminated. */
static int read_answer(struct client *c, char *line, size_t size)
{
	uint64_t deadline = mono_ms() + ANSWER_TIMEOUT_MS, now;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char *nl;
	ssize_t n;

	while (!(nl = memchr(c->buf, '\n', c->len))) {
		now = mono_ms();
		if (now >= deadline || c->len == sizeof(c->buf))
			return failed(c, "no answer to request %" PRIu64 " within %d s",
				      c->requests, ANSWER_TIMEOUT_MS / 1000);
		if (poll(&p, 1, deadline - now) < 0 && errno != EINTR)
			return failed(c, "poll: %s", strerror(errno));
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n == 0)
			return failed(c, "the server closed the connection before answer %" PRIu64,
				      c->requests);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return failed(c, "connection lost waiting for answer %" PRIu64 ": %s",
				      c->requests, strerror(errno));
		if (n > 0)
			c->len += n;
	}
	*nl = '\0';
	snprintf(line, size, "%s", c->buf);
	c->len -= nl + 1 - c->buf;
	memmove(c->buf, nl + 1, c->len);
	return 0;
}

static void print_line(struct client *c)
{
	char t[16];

	wall(t, 0);
	printf("%s%s requests %" PRIu64 " answers %" PRIu64 " longest gap %" PRIu64 " ms%s",
	       c->tty ? "\r" : "", t, c->requests, c->answers, c->gap, c->tty ? "\033[K" : "\n");
	fflush(stdout);
}

static void print_gap(struct client *c, uint64_t gap)
{
	char from[16], to[16];

	wall(from, gap);
	wall(to, 0);
	printf("%sgap %" PRIu64 " ms %s to %s\n", c->tty ? "\r\033[K" : "", gap, from, to);
}

/* check_answer: the answer must be the tally of every request so far. */
static int check_answer(struct client *c, const char *line)
{
	char want[48];
	uint64_t now = mono_ms();

	snprintf(want, sizeof(want), "%" PRIu64 " %016" PRIx64, c->requests, c->hash);
	if (strcmp(line, want))
		return failed(c, "answer %" PRIu64 " is '%.40s', not '%s'", c->requests, line,
			      want);
	c->answers++;
	if (now - c->last >= 4 * c->interval && now - c->last >= 20)
		print_gap(c, now - c->last);
	if (now - c->last > c->gap) {
		c->gap = now - c->last;
		wall(c->gap_from, c->gap);
		wall(c->gap_to, 0);
	}
	c->last = now;
	return 0;
}

static int exchange(struct client *c)
{
	char line[256];

	/* xorshift64: values that are not the request's number. */
	c->rnd ^= c->rnd << 13;
	c->rnd ^= c->rnd >> 7;
	c->rnd ^= c->rnd << 17;
	c->hash = tally_next(c->hash, c->rnd % 1000000);
	if (send_request(c, c->rnd % 1000000) || read_answer(c, line, sizeof(line)))
		return -1;
	return check_answer(c, line);
}

static void sleep_until(uint64_t ms)
{
	uint64_t now = mono_ms();
	struct timespec ts;

	if (ms <= now)
		return;
	ts.tv_sec = (ms - now) / 1000;
	ts.tv_nsec = (ms - now) % 1000 * 1000000;
	nanosleep(&ts, NULL);
}

static int run(struct client *c)
{
	uint64_t next = mono_ms(), printed = next;

	c->last = next;
	while (!stop) {
		sleep_until(next);
		if (stop)
			break;
		next += c->interval;
		if (exchange(c))
			return -1;
		if (mono_ms() > next)
			next = mono_ms();
		if (mono_ms() - printed >= PRINT_EVERY_MS) {
			print_line(c);
			printed = mono_ms();
		}
	}
	print_line(c);
	printf("%sdone: %" PRIu64 " requests, %" PRIu64 " answers, every one right and in "
	       "order; longest gap %" PRIu64 " ms (%s to %s)\n",
	       c->tty ? "\n" : "", c->requests, c->answers, c->gap, c->gap_from, c->gap_to);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct client c = { .hash = TALLY_SEED, .rnd = 88172645463325252ull };

	c.interval = argc > 3 ? (unsigned)atoi(argv[3]) : 5;
	if (argc < 3 || argc > 4 || !c.interval) {
		fprintf(stderr, "usage: sample-client ADDR PORT [MS]\n");
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	c.tty = isatty(STDOUT_FILENO);
	snprintf(c.gap_from, sizeof(c.gap_from), "-");
	snprintf(c.gap_to, sizeof(c.gap_to), "-");
	if (connect_to(&c, argv[1], argv[2]) || run(&c)) {
		print_line(&c);
		printf("%serror: %s\n", c.tty ? "\n" : "", c.err);
		return 1;
	}
	return 0;
}
