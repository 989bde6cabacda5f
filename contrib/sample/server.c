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
 * the sample.
 *
 * "sample-server ADDR PORT MIB MIB_S" also holds MIB MiB of memory
 * (filled before it listens) that a second thread rewrites at MIB_S MiB/s,
 * one word per page (bench/pd-mem.h's writer, as pd-hog -p), for
 * bench/migrate.sh: a service that dirties memory at a set rate and
 * answers a client.  Every 20 ms that thread prints a line "writes MS
 * PAGES CPU_US": the wall-clock time in ms (CLOCK_REALTIME: a migrated
 * process's monotonic clock is its time namespace's), the pages written
 * so far and its own CPU time, so the bench sees the write rate it
 * achieved while lmproc tracked it and what each write cost. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../bench/pd-mem.h"
#include "tally.h"

#define REPORT_NS (20 * 1000 * 1000ULL)

struct writer {
	uint64_t *mem;
	size_t npages;
	uint64_t pps;
};

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

static uint64_t clock_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

/* The writer thread: the pages due at its rate every millisecond, a
 * "writes" line every REPORT_NS. */
static void *writer_run(void *arg)
{
	struct timespec tick = { 0, 1000 * 1000 };
	struct writer *w = arg;
	uint64_t start = pd_now_ns(), next = start, count = 0, seq = PD_SEED ^ 0x5555, now;

	for (;;) {
		nanosleep(&tick, NULL);
		now = pd_now_ns();
		pd_rate_tick(w->mem, w->npages, w->pps, start, now, &count, &seq);
		if (now < next)
			continue;
		dprintf(STDOUT_FILENO, "writes %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			clock_us(CLOCK_REALTIME) / 1000, count, clock_us(CLOCK_THREAD_CPUTIME_ID));
		next = now - next > REPORT_NS ? now + REPORT_NS : next + REPORT_NS;
	}
	return NULL;
}

/* start_writer MIB MIB_S: the memory filled, and its writer running when
 * MIB_S is not 0. */
static int start_writer(const char *mib, const char *mib_s)
{
	static struct writer w;
	size_t len = strtoull(mib, NULL, 10) << 20;
	pthread_t th;
	int err;

	w.pps = strtoull(mib_s, NULL, 10) * (1 << 20) / PD_PAGE;
	w.npages = len / PD_PAGE;
	w.mem = len ? pd_map_filled(len) : NULL;
	if (!w.mem) {
		fprintf(stderr, "sample-server: can't hold %s MiB\n", mib);
		return -1;
	}
	if (!w.pps)
		return 0;
	err = pthread_create(&th, NULL, writer_run, &w);
	if (err) {
		fprintf(stderr, "sample-server: writer thread: %s\n", strerror(err));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct tally t = { 0, TALLY_SEED };
	int lfd, fd;

	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: sample-server ADDR PORT [MIB MIB_S]\n");
		return 2;
	}
	syscall(SYS_close_range, 3U, ~0U, 0U);
	if (argc == 5 && start_writer(argv[3], argv[4]))
		return 1;
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
