/* pd-mem.h: the memory patterns of the pre-dump benchmark, shared by
 * pd-hog (the process lmproc tracks), pd-scan (the bare kernel
 * baseline) and the sample server's writer (contrib/sample/server.c, for
 * bench/migrate.sh), so all dirty exactly the same pages and run exactly
 * the same writing loop.  Header-only: the bench programs are single files. */
#ifndef LMPROC_BENCH_PD_MEM_H
#define LMPROC_BENCH_PD_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PD_PAGE 4096UL
#define PD_WORDS_PER_PAGE (PD_PAGE / sizeof(uint64_t))
#define PD_SEED 0x9e3779b97f4a7c15ULL

static inline uint64_t pd_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return (x * 0x2545f4914f6cdd1dULL) | 1;
}

static inline uint64_t pd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* LEN bytes of private anonymous memory, populated and filled with
 * never-zero words: no page can be skipped as zero.  NULL on error. */
static inline uint64_t *pd_map_filled(size_t len)
{
	uint64_t *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	uint64_t s = PD_SEED;

	if (mem == MAP_FAILED)
		return NULL;
	/* MADV_POPULATE_WRITE (23): first-touch faults cost ~20 us each. */
	madvise(mem, len, 23);
	for (size_t i = 0; i < len / sizeof(*mem); i++)
		mem[i] = pd_next(&s);
	return mem;
}

/* The K-th of the NSEL pages chosen out of NPAGES: evenly spread over the
 * whole range, or the first NSEL when CONTIGUOUS. */
static inline size_t pd_pick(size_t k, size_t nsel, size_t npages, int contiguous)
{
	return contiguous ? k : (size_t)((unsigned __int128)k * npages / nsel);
}

static inline size_t pd_nsel(size_t npages, unsigned permille)
{
	return npages * permille / 1000;
}

/* Writes one word into PERMILLE per mille of the pages, evenly spread;
 * returns the number of pages written. */
static inline size_t pd_dirty(uint64_t *mem, size_t npages, unsigned permille, uint64_t *seq)
{
	size_t nsel = pd_nsel(npages, permille);

	for (size_t k = 0; k < nsel; k++)
		mem[pd_pick(k, nsel, npages, 0) * PD_WORDS_PER_PAGE] = pd_next(seq);
	return nsel;
}

/* A steady dirty rate: writes one word into each page due by NOW_NS at
 * PPS pages per second since START_NS, page after page through the whole
 * memory; *COUNT is the pages written so far.  A writer that falls behind
 * (a write-protect fault per page while tracked) catches up at the next
 * call, so COUNT over a window shows the rate it achieved. */
static inline void pd_rate_tick(uint64_t *mem, size_t npages, uint64_t pps, uint64_t start_ns,
				uint64_t now_ns, uint64_t *count, uint64_t *seq)
{
	uint64_t due = (now_ns - start_ns) * pps / 1000000000ULL;

	for (; *count < due; (*count)++)
		mem[(*count % npages) * PD_WORDS_PER_PAGE] = pd_next(seq);
}

/* The application loop: OPS stores of one 64-byte cache line each, at
 * pseudo-random lines of a hot set of NHOT pages (picked as pd_pick
 * does).  Random stores, so the loop is bound by memory, like a real
 * application's writes, not by one cache line. */
static inline void pd_hot_writes(uint64_t *mem, size_t npages, size_t nhot, int contiguous,
				 uint64_t *seq, unsigned ops)
{
	for (unsigned i = 0; i < ops; i++) {
		uint64_t r = pd_next(seq);
		size_t page = pd_pick((r >> 8) % nhot, nhot, npages, contiguous);
		uint64_t *line = mem + page * PD_WORDS_PER_PAGE + ((r >> 2) & 63) * 8;

		for (int w = 0; w < 8; w++)
			line[w] = r + w;
	}
}

#endif
