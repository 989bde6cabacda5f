/* Staging churn (migrate-staging-churn): its memory layout changes on its
 * own every STEP_MS while a migration's pre-copy rounds run, so that
 * serve's staging (mem/restore-stage.c) sees, between rounds, pages
 * rewritten and dropped, VMAs grown, shrunk, replaced and moved, and a
 * child process forked and gone; after the migration every page must
 * hold exactly what the test last put there.
 *
 *   stable    16 MiB whose bounds never change: pages rewritten and
 *             dropped (MADV_DONTNEED: zero after) every step; the staging
 *             must carry it (the test checks serve's log)
 *   grow      grows by 64 pages (a new mapping right after it, which the
 *             kernel merges) up to 2048, then shrinks back, page by page
 *             of its reservation
 *   replace   a fresh mapping at the same address every step, a few of
 *             its pages written: the rest must be zero
 *   move      mremap()ed between two places every step, then written
 *   child     forked now and then, lives a few steps (writing its own
 *             region, its copies of `grow` and `move` left as inherited,
 *             shared with the parent: the restore keeps them shared, not
 *             staged; `stable` unmapped, so that the parent's is not
 *             shared), and exits; one alive at SIGTERM checks its memory
 *             and says so by its exit status
 * Each region lives in a PROT_NONE reservation of its own, so none merges
 * with another.  Each page holds the pattern of its tag, kept in the
 * test's own memory (0: all zero). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define PAGE 4096UL
#define WORDS (PAGE / 8)
#define STEP_MS 40

enum { STABLE, GROW, REPLACE, MOVE, CHILD, NR_REGIONS };

struct region {
	const char *name;
	unsigned long max_pages; /* of its reservation's usable part */
	unsigned long nr_pages;	 /* mapped now */
	unsigned char *res;	 /* the reservation, PAGE of pad each side */
	unsigned char *addr;
	uint64_t *tags;
};

static struct region regions[NR_REGIONS] = {
    [STABLE] = {"stable", 4096, 4096},
    [GROW] = {"grow", 2048, 64},
    [REPLACE] = {"replace", 512, 512},
    /* Two places of 256 pages. */
    [MOVE] = {"move", 512, 256},
    [CHILD] = {"child", 256, 256},
};

static uint64_t seed, nr_tags, step;
static bool growing = true;
static pid_t child;
static unsigned long child_end;

static uint64_t new_tag(void)
{
	return test_mix(seed ^ ++nr_tags) | 1;
}

static unsigned char *page_of(int r, unsigned long pg)
{
	return regions[r].addr + pg * PAGE;
}

static void put(int r, unsigned long pg, uint64_t tag)
{
	uint64_t *p = (uint64_t *)page_of(r, pg);

	for (size_t i = 0; i < WORDS; i++)
		p[i] = i ? test_mix(tag + i) : tag;
	regions[r].tags[pg] = tag;
}

/* Page PG of R as its tag says; a message and false if not. */
static bool page_ok(int r, unsigned long pg)
{
	const uint64_t *p = (const uint64_t *)page_of(r, pg);
	uint64_t tag = regions[r].tags[pg];

	for (size_t i = 0; i < WORDS; i++) {
		uint64_t want = !tag ? 0 : i ? test_mix(tag + i) : tag;

		if (p[i] != want) {
			test_msg("%s page %lu (%p) differs at byte %zu: %016lx, expected %016lx "
				 "(tag %016lx)",
				 regions[r].name, pg, (void *)p, i * 8, (unsigned long)p[i],
				 (unsigned long)want, (unsigned long)tag);
			return false;
		}
	}
	return true;
}

static bool region_ok(int r)
{
	for (unsigned long pg = 0; pg < regions[r].nr_pages; pg++)
		if (!page_ok(r, pg))
			return false;
	return true;
}

static void map_fixed(void *at, unsigned long pages, int prot)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (prot ? 0 : MAP_NORESERVE);

	if (mmap(at, pages * PAGE, prot, flags, -1, 0) != at)
		fail("mmap at %p: %s", at, strerror(errno));
}

static void reserve(int r)
{
	struct region *g = &regions[r];

	g->res = mmap(NULL, (g->max_pages + 2) * PAGE, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	g->tags = mmap(NULL, g->max_pages * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->res == MAP_FAILED || g->tags == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	g->addr = g->res + PAGE;
	map_fixed(g->addr, g->nr_pages, PROT_READ | PROT_WRITE);
	for (unsigned long pg = 0; pg < g->nr_pages; pg++)
		put(r, pg, new_tag());
}

static unsigned long pick(unsigned long n)
{
	return test_mix(seed ^ 0x9a9e ^ ++nr_tags) % n;
}

static void churn_stable(void)
{
	unsigned long at = pick(4096 - 8), n = 1 + pick(8);

	for (int i = 0; i < 32; i++)
		put(STABLE, pick(4096), new_tag());
	if (madvise(page_of(STABLE, at), n * PAGE, MADV_DONTNEED))
		fail("madvise: %s", strerror(errno));
	memset(regions[STABLE].tags + at, 0, n * sizeof(uint64_t));
}

static void churn_grow(void)
{
	struct region *g = &regions[GROW];

	if (growing) {
		map_fixed(page_of(GROW, g->nr_pages), 64, PROT_READ | PROT_WRITE);
		memset(g->tags + g->nr_pages, 0, 64 * sizeof(uint64_t));
		g->nr_pages += 64;
		for (int i = 0; i < 8; i++)
			put(GROW, g->nr_pages - 64 + pick(64), new_tag());
		growing = g->nr_pages < g->max_pages;
	} else {
		g->nr_pages -= 64;
		map_fixed(page_of(GROW, g->nr_pages), 64, PROT_NONE);
		growing = g->nr_pages <= 64;
	}
}

static void churn_replace(void)
{
	map_fixed(regions[REPLACE].addr, 512, PROT_READ | PROT_WRITE);
	memset(regions[REPLACE].tags, 0, 512 * sizeof(uint64_t));
	for (int i = 0; i < 16; i++)
		put(REPLACE, pick(512), new_tag());
}

static void churn_move(void)
{
	struct region *g = &regions[MOVE];
	unsigned char *to = g->addr == g->res + PAGE ? g->res + PAGE + 256 * PAGE : g->res + PAGE;

	if (mremap(g->addr, 256 * PAGE, 256 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, to) != to)
		fail("mremap: %s", strerror(errno));
	/* The old place stays reserved. */
	map_fixed(g->addr, 256, PROT_NONE);
	g->addr = to;
	for (int i = 0; i < 4; i++)
		put(MOVE, pick(256), new_tag());
}

/* The child: writes its own region until its end or SIGTERM; at SIGTERM
 * its region and its copies of `grow` and `move` must be as it left them. */
static void __attribute__((noreturn)) child_main(unsigned long steps)
{
	if (munmap(regions[STABLE].res, (regions[STABLE].max_pages + 2) * PAGE))
		_exit(1);
	for (unsigned long pg = 0; pg < 256; pg++)
		put(CHILD, pg, new_tag());
	for (unsigned long s = 0; s < steps && test_go(); s++) {
		put(CHILD, pick(256), new_tag());
		usleep(STEP_MS * 1000);
	}
	if (test_go())
		_exit(0);
	if (!region_ok(CHILD) || !region_ok(GROW) || !region_ok(MOVE))
		_exit(1);
	test_msg("child %d: its memory is exact", getpid());
	_exit(0);
}

static void churn_child(void)
{
	int st;

	if (child && waitpid(child, &st, WNOHANG) == child) {
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail("child %d ended with status %#x", child, st);
		child = 0;
	}
	if (child || step < child_end)
		return;
	child = fork();
	if (child < 0)
		fail("fork: %s", strerror(errno));
	if (!child)
		child_main(3 + pick(8));
	child_end = step + 5;
}

static void check_all(void)
{
	int st;

	for (int r = STABLE; r < CHILD; r++)
		if (!region_ok(r))
			fail("region %s is not what the test put there", regions[r].name);
	if (child) {
		kill(child, SIGTERM);
		if (waitpid(child, &st, 0) != child)
			fail("waitpid: %s", strerror(errno));
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail("child %d: its memory differs (status %#x)", child, st);
	}
	test_msg("%lu steps: every page exact (grow at %lu pages)", (unsigned long)step,
		 regions[GROW].nr_pages);
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	seed = test_seed();
	for (int r = 0; r < NR_REGIONS; r++)
		reserve(r);
	test_msg("stable at %p, %lu pages", (void *)regions[STABLE].addr, regions[STABLE].nr_pages);
	test_ready();
	while (test_go()) {
		step++;
		churn_stable();
		churn_grow();
		churn_replace();
		churn_move();
		churn_child();
		usleep(STEP_MS * 1000);
	}
	check_all();
	/* Still private, writable memory. */
	for (int r = STABLE; r < CHILD; r++) {
		put(r, 0, new_tag());
		if (!page_ok(r, 0))
			fail("region %s: a write after the restore did not stay", regions[r].name);
	}
	pass();
}
