/* pd-hog: the process the pre-dump benchmark tracks.  Holds MIB MiB of
 * private anonymous memory filled with never-zero words (pd-mem.h) and
 * writes into it in one of three ways:
 *   -d PERMILLE  on SIGUSR2, write one word into PERMILLE per mille of its
 *                pages, evenly spread, then answer "dirtied N" in RESULT;
 *   -p PPS       write one word per page into PPS pages per second, page
 *                after page through the whole memory (a steady dirty rate);
 *   -w PERMILLE  rewrite a hot set of PERMILLE per mille of the pages as
 *                fast as it can (64-byte stores at random lines; -c: the
 *                hot set is contiguous instead of evenly spread).
 * On SIGUSR1 it answers "ops COUNT NS" in RESULT: stores (-w) or pages
 * written (-p) so far and CLOCK_MONOTONIC at that count, so the caller
 * gets a rate without timing the signal.  Answers are renamed into place,
 * never seen half-written.  Only /dev/null and regular files stay open,
 * so lmproc can dump it; READY_FD is written once and closed.
 *
 * usage: pd-hog -m MIB -o RESULT -r READY_FD (-d PERMILLE | -p PPS | -w PERMILLE [-c]) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pd-mem.h"

#define HOT_BATCH 4096
#define TICK_NS (1000 * 1000)

enum mode { M_NONE, M_DIRTY, M_RATE, M_HOT };

struct hog {
	enum mode mode;
	unsigned long arg;
	int contiguous;
	const char *result;
	uint64_t *mem;
	size_t npages;
	uint64_t seq;
	uint64_t count;
};

static volatile sig_atomic_t ops_requested, dirty_requested;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		ops_requested = 1;
	else
		dirty_requested = 1;
}

static void answer(const struct hog *h, const char *line)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", h->result);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fputs(line, f);
	if (fclose(f) == 0)
		rename(tmp, h->result);
}

static void serve_signals(struct hog *h)
{
	char line[96];

	if (ops_requested) {
		ops_requested = 0;
		snprintf(line, sizeof(line), "ops %llu %llu\n", (unsigned long long)h->count,
			 (unsigned long long)pd_now_ns());
		answer(h, line);
	}
	if (dirty_requested) {
		dirty_requested = 0;
		if (h->mode == M_DIRTY) {
			size_t n = pd_dirty(h->mem, h->npages, h->arg, &h->seq);

			snprintf(line, sizeof(line), "dirtied %zu\n", n);
			answer(h, line);
		}
	}
}

static int parse_args(int argc, char **argv, struct hog *h, size_t *len, int *ready_fd)
{
	int c;

	while ((c = getopt(argc, argv, "m:o:r:d:p:w:c")) != -1) {
		switch (c) {
		case 'm':
			*len = strtoul(optarg, NULL, 10) << 20;
			break;
		case 'o':
			h->result = optarg;
			break;
		case 'r':
			*ready_fd = atoi(optarg);
			break;
		case 'd':
			h->mode = M_DIRTY;
			h->arg = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			h->mode = M_RATE;
			h->arg = strtoul(optarg, NULL, 10);
			break;
		case 'w':
			h->mode = M_HOT;
			h->arg = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			h->contiguous = 1;
			break;
		default:
			return -1;
		}
	}
	if (!*len || !h->result || *ready_fd < 0 || h->mode == M_NONE || !h->arg ||
	    ((h->mode == M_DIRTY || h->mode == M_HOT) && h->arg > 1000))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec tick = { 0, TICK_NS };
	struct hog h = { .seq = PD_SEED ^ 0x5555 };
	int ready_fd = -1;
	uint64_t start;
	size_t len = 0, nhot;

	if (parse_args(argc, argv, &h, &len, &ready_fd)) {
		fprintf(stderr, "usage: pd-hog -m MIB -o RESULT -r READY_FD "
			"(-d PERMILLE | -p PPS | -w PERMILLE [-c])\n");
		return 2;
	}
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	h.mem = pd_map_filled(len);
	if (!h.mem) {
		perror("pd-hog: mmap");
		return 1;
	}
	h.npages = len / PD_PAGE;
	nhot = pd_nsel(h.npages, h.arg);
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	close(ready_fd);
	start = pd_now_ns();
	for (;;) {
		if (h.mode == M_HOT && nhot) {
			pd_hot_writes(h.mem, h.npages, nhot, h.contiguous, &h.seq, HOT_BATCH);
			h.count += HOT_BATCH;
		} else {
			nanosleep(&tick, NULL);
			if (h.mode == M_RATE)
				pd_rate_tick(h.mem, h.npages, h.arg, start, pd_now_ns(), &h.count,
					     &h.seq);
		}
		serve_signals(&h);
	}
}
