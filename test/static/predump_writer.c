/* Pre-dump writer: 256 MiB of pseudo-random pages, rewritten at a set rate
 * (WRITE_RATE pages/s, spread over the whole area, a tenth of the writes
 * into a small hot set) for as long as the test runs: through every
 * pre-dump round and up to the final freeze, which it cannot see coming.
 *
 * Each page holds the pattern of its generation, and a generation array
 * in the test's own memory says which generation every page must hold.
 * The array and the pages are checkpointed together, so after the restore
 * every page must match its entry: a page that matches an older entry is
 * a write the rounds lost, one that matches nothing is damage.  The one
 * page being written at the freeze may hold a mix of its two generations.
 * Cold pages (every COLD_EVERY-th) are never rewritten after the initial
 * fill: they come from the first round through the whole chain.
 *
 * PREDUMP_SHM=anon or sysv puts the pages in shared memory instead
 * (MAP_SHARED|MAP_ANONYMOUS, or a SysV segment marked for removal once
 * attached), which pre-dump rounds copy whole and the final dump compares
 * with the last round's copy.
 *
 * The log's "data at" line gives the area's address (the harness damages
 * a cold page through it). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "test.h"

#define PAGE		4096UL
#define WORDS		(PAGE / 8)
#define NR_PAGES	65536UL		/* 256 MiB */
#define COLD_EVERY	8
#define HOT_PAGES	64
#define WRITE_RATE	4000ULL		/* pages per second, unless PREDUMP_WRITE_RATE */
#define NO_PAGE		(~0UL)

static uint64_t seed;
static uint64_t *data;
static uint32_t *gen;
/* The page being written and the generation it gets, set before the
 * first store and cleared after the generation array says so. */
static volatile unsigned long inflight_pg = NO_PAGE;
static volatile uint32_t inflight_gen;
static uint64_t nr_writes;
/* PREDUMP_WRITE_RATE: more than the writer can do makes it write flat
 * out, bound by the CPU (migrate --auto-converge's test). */
static uint64_t write_rate = WRITE_RATE;

static inline void barrier(void)
{
	/* Stores stay in program order as seen by a ptrace stop. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static bool is_cold(unsigned long pg)
{
	return pg % COLD_EVERY == 0;
}

/* Word I of page PG at generation G.  Words 0 and 1 name the generation
 * and the page, so a wrong page can say what it holds. */
static uint64_t pattern(unsigned long pg, uint32_t g, size_t i)
{
	if (i == 0)
		return g;
	if (i == 1)
		return pg;
	return test_mix(seed ^ ((uint64_t)g << 20 ^ pg) * 0x10001ULL ^ (uint64_t)i << 52);
}

static void fill_page(unsigned long pg, uint32_t g)
{
	uint64_t *p = data + pg * WORDS;

	for (size_t i = 0; i < WORDS; i++)
		p[i] = pattern(pg, g, i);
}

static void write_page(unsigned long pg)
{
	uint32_t g = gen[pg] + 1;

	inflight_gen = g;
	inflight_pg = pg;
	barrier();
	fill_page(pg, g);
	barrier();
	gen[pg] = g;
	barrier();
	inflight_pg = NO_PAGE;
	nr_writes++;
}

static unsigned long pick_page(uint64_t n)
{
	uint64_t r = test_mix(seed ^ 0x5eed ^ n);
	unsigned long pg;

	if (r % 10 == 0)
		pg = (r >> 8) % HOT_PAGES * 3 + 1;	/* a small hot set */
	else
		pg = (r >> 8) % NR_PAGES;
	return is_cold(pg) ? pg + 1 : pg;
}

/* Writes at WRITE_RATE until SIGTERM.  After a long stop (a freeze, the
 * restore) it does not catch up in one burst. */
static void write_until_signal(void)
{
	uint64_t start = test_now_ns(), done = 0, due;

	while (test_go()) {
		due = (test_now_ns() - start) * write_rate / 1000000000ULL;
		if (due > done + write_rate / 10) {
			start = test_now_ns() - done * 1000000000ULL / write_rate;
			continue;
		}
		for (; done < due && test_go(); done++)
			write_page(pick_page(nr_writes));
	}
}

static void check_page(unsigned long pg)
{
	const uint64_t *p = data + pg * WORDS;
	uint32_t g = gen[pg];
	bool mixed = pg == inflight_pg;

	if (is_cold(pg) && g != 0)
		fail("cold page %lu has generation %u in the array, it is never rewritten", pg, g);
	for (size_t i = 0; i < WORDS; i++) {
		if (p[i] == pattern(pg, g, i))
			continue;
		if (mixed && (p[i] == pattern(pg, inflight_gen, i) ||
			      p[i] == pattern(pg, inflight_gen - 1, i)))
			continue;
		if (is_cold(pg))
			fail("cold page %lu (%p, not written since before round 1) differs at "
			     "byte %zu: %016lx, expected %016lx", pg, (void *)p, i * 8,
			     (unsigned long)p[i], (unsigned long)pattern(pg, g, i));
		fail("page %lu (%p) differs at byte %zu: it holds generation %lu of page %lu, "
		     "the generation array says %u%s", pg, (void *)p, i * 8, (unsigned long)p[0],
		     (unsigned long)p[1], g, p[0] < g ? " (a lost write)" : "");
	}
}

static void check_all(void)
{
	unsigned long rewritten = 0, cold = 0;
	uint32_t max_gen = 0;

	for (unsigned long pg = 0; pg < NR_PAGES; pg++) {
		check_page(pg);
		if (gen[pg])
			rewritten++;
		if (is_cold(pg))
			cold++;
		if (gen[pg] > max_gen)
			max_gen = gen[pg];
	}
	test_msg("%lu writes: %lu pages rewritten (highest generation %u), %lu cold pages intact",
		 (unsigned long)nr_writes, rewritten, max_gen, cold);
	if (!nr_writes)
		fail("the writer never wrote");
}

/* The pages: private memory, or the shared memory PREDUMP_SHM names. */
static uint64_t *map_data(const char *shm)
{
	void *p;
	int id;

	if (!shm || !*shm)
		return mmap(NULL, NR_PAGES * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!strcmp(shm, "anon"))
		return mmap(NULL, NR_PAGES * PAGE, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (strcmp(shm, "sysv"))
		fail("PREDUMP_SHM=%s: anon or sysv", shm);
	id = shmget(IPC_PRIVATE, NR_PAGES * PAGE, IPC_CREAT | 0600);
	if (id < 0)
		fail("shmget: %s", strerror(errno));
	p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		fail("shmat: %s", strerror(errno));
	/* Gone with the test, whatever happens to it. */
	shmctl(id, IPC_RMID, NULL);
	return p;
}

int main(int argc, char **argv)
{
	const char *rate = getenv("PREDUMP_WRITE_RATE");

	test_init(argc, argv);
	if (rate && strtoull(rate, NULL, 10))
		write_rate = strtoull(rate, NULL, 10);
	seed = test_seed();
	data = map_data(getenv("PREDUMP_SHM"));
	gen = mmap(NULL, NR_PAGES * sizeof(*gen), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (data == MAP_FAILED || gen == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	/* Populating first is much faster here than faulting page by page
	 * (KERNEL.md); an older kernel just faults. */
	madvise(data, NR_PAGES * PAGE, MADV_POPULATE_WRITE);
	for (unsigned long pg = 0; pg < NR_PAGES; pg++)
		fill_page(pg, 0);
	test_msg("data at %p, %lu pages, cold every %d", (void *)data, NR_PAGES, COLD_EVERY);
	test_ready();

	write_until_signal();

	check_all();
	/* Still writable memory. */
	for (unsigned long pg = 1; pg < NR_PAGES; pg += 2 * COLD_EVERY + 1)
		if (!is_cold(pg))
			write_page(pg);
	for (unsigned long pg = 1; pg < NR_PAGES; pg += 2 * COLD_EVERY + 1)
		check_page(pg);
	pass();
}
