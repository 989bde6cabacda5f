/* Pre-dump adversary: between pre-dump rounds it changes its memory in
 * every way a dirty tracker can get wrong, and after the restore every
 * page must hold exactly what the test last put there.
 *
 * The runner (test/run.sh, pre-dump mode) sends SIGUSR1 after each
 * pre-dump; the test then makes the changes of that round and writes the
 * round's number into DIR/round.  Rounds 1 to 3:
 *   dirty     a third of its pages rewritten every round (some every time)
 *   prot      mprotect(PROT_READ) and back around a write; read-only for a
 *             whole round, then writable again
 *   ro        written, then read-only at the final dump
 *   moved     mremap()ed to another address, right after `nextto` (same
 *             flags, but its own anon_vma: the kernel keeps them two VMAs),
 *             then written there
 *   replaced  munmap() and a new mapping at the same address, only partly
 *             written: the rest must be zero, not the old pages
 *   fixed     MAP_FIXED replacement of the whole region (same size and
 *             protection: only the tracker can tell), later of its middle
 *   dontneed  MADV_DONTNEED of dirtied and of clean pages: zero after the
 *             restore
 *   cow       fork() of a child that exits at once (and one that writes
 *             its own copies), reaped; the parent then writes
 *   file      a private file mapping: pages written (private copies), and
 *             MADV_DONTNEED of written pages: the file's content again
 *   kernel    written by the kernel, not by the test's instructions: pread()
 *             into it, process_vm_writev() to itself
 *   big       32 MiB of pages, mostly never rewritten
 * And whenever it notices it was stopped (a pre-dump freezes it, then
 * copies while it runs: its busy loop never sleeps, so a voluntary context
 * switch, which preemption is not, is a stop) it writes, exactly once, one
 * page of `once` at once and another a few milliseconds later: writes that
 * race with the copy of a round must be in the next round.
 *
 * Every region keeps, in the test's own memory, the tag of the content
 * each page must hold (0: all zero).  Without SIGUSR1 (other modes) only
 * the stop-triggered writes happen. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define PAGE		4096UL
#define WORDS		(PAGE / 8)
#define ROUNDS		3
#define LATE_NS		5000000ULL	/* the second write after a freeze */

enum {
	BIG, ONCE, DIRTY, PROT, RO, MOVED, NEXTTO, REPLACED, FIXED, DONTNEED, COW, FILE_PRIV,
	KERNEL, NR_REGIONS
};

struct region {
	const char *name;
	unsigned long nr_pages;
	unsigned long pad;		/* PROT_NONE pages reserved after it */
	unsigned char *addr;
	uint64_t *tags;
};

static struct region regions[NR_REGIONS] = {
	[BIG] = { "big", 8192 },
	[ONCE] = { "once", 64 },
	[DIRTY] = { "dirty", 256 },
	[PROT] = { "prot", 64 },
	[RO] = { "ro", 16 },
	[MOVED] = { "moved", 32 },
	[NEXTTO] = { "nextto", 32, 32 },
	[REPLACED] = { "replaced", 32 },
	[FIXED] = { "fixed", 32 },
	[DONTNEED] = { "dontneed", 64 },
	[COW] = { "cow", 64 },
	[FILE_PRIV] = { "file", 16 },
	[KERNEL] = { "kernel", 16 },
};

static uint64_t seed, nr_tags;
static char file_path[4096];
static volatile sig_atomic_t rounds_signalled;
static int rounds_done;
/* Pages of `once` written so far (each exactly once) and stops seen. */
static volatile unsigned long once_done;
static unsigned long stops;
static char round_path[4096];

static inline void barrier(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static void usr1_handler(int sig)
{
	(void)sig;
	rounds_signalled++;
}

static uint64_t new_tag(void)
{
	return test_mix(seed ^ ++nr_tags) | 1;
}

static uint64_t pattern(uint64_t tag, size_t i)
{
	return i ? test_mix(tag + i) : tag;
}

/* The tag of page PG of the file behind `file`. */
static uint64_t file_tag(unsigned long pg)
{
	return test_mix(seed ^ 0xf11e0000 ^ pg) | 1;
}

static unsigned char *page_addr(int r, unsigned long pg)
{
	return regions[r].addr + pg * PAGE;
}

/* Page PG of region R gets new content, and the table says so. */
static void write_page(int r, unsigned long pg)
{
	uint64_t *p = (uint64_t *)page_addr(r, pg), tag = new_tag();

	for (size_t i = 0; i < WORDS; i++)
		p[i] = pattern(tag, i);
	regions[r].tags[pg] = tag;
}

static void write_pages(int r, unsigned long from, unsigned long to)
{
	for (unsigned long pg = from; pg < to; pg++)
		write_page(r, pg);
}

static void zeroed(int r, unsigned long from, unsigned long to)
{
	for (unsigned long pg = from; pg < to; pg++)
		regions[r].tags[pg] = 0;
}

static void *map_anon(void *at, unsigned long pages, int extra)
{
	void *p = mmap(at, pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap of %lu pages at %p: %s", pages, at, strerror(errno));
	return p;
}

static void protect(int r, unsigned long from, unsigned long to, int prot)
{
	if (mprotect(page_addr(r, from), (to - from) * PAGE, prot))
		fail("mprotect %s pages %lu-%lu: %s", regions[r].name, from, to, strerror(errno));
}

/* Dropped pages read as zero, in a private file mapping as the file. */
static void dontneed(int r, unsigned long from, unsigned long to)
{
	if (madvise(page_addr(r, from), (to - from) * PAGE, MADV_DONTNEED))
		fail("madvise %s pages %lu-%lu: %s", regions[r].name, from, to, strerror(errno));
	for (unsigned long pg = from; pg < to; pg++)
		regions[r].tags[pg] = r == FILE_PRIV ? file_tag(pg) : 0;
}

/* The file behind `file`, mapped private and writable over the region's
 * place; every page read once. */
static void map_file(struct region *rg)
{
	static uint64_t buf[WORDS];
	volatile uint64_t sink = 0;
	int fd;

	fd = open(file_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fail("create %s: %s", file_path, strerror(errno));
	for (unsigned long pg = 0; pg < rg->nr_pages; pg++) {
		for (size_t i = 0; i < WORDS; i++)
			buf[i] = pattern(file_tag(pg), i);
		if (write(fd, buf, PAGE) != (ssize_t)PAGE)
			fail("write %s: %s", file_path, strerror(errno));
		rg->tags[pg] = file_tag(pg);
	}
	if (mmap(rg->addr, rg->nr_pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
		 fd, 0) != rg->addr)
		fail("mmap %s: %s", file_path, strerror(errno));
	close(fd);
	for (unsigned long pg = 0; pg < rg->nr_pages; pg++)
		sink += *(uint64_t *)page_addr(FILE_PRIV, pg);
}

/* The test's memory: every region mapped on its own (guard pages apart, so
 * no two merge; `nextto` with its landing place for `moved`) and filled;
 * the tag tables in a mapping of their own. */
static void setup(void)
{
	unsigned long total = 0;
	uint64_t *tags;

	for (int r = 0; r < NR_REGIONS; r++)
		total += regions[r].nr_pages;
	tags = map_anon(NULL, (total * 8 + PAGE - 1) / PAGE, 0);
	for (int r = 0; r < NR_REGIONS; r++) {
		struct region *rg = &regions[r];
		unsigned long len = rg->nr_pages + rg->pad;
		unsigned char *p = map_anon(NULL, len + 2, 0);

		if (munmap(p, PAGE) || munmap(p + (len + 1) * PAGE, PAGE))
			fail("munmap of a guard page: %s", strerror(errno));
		rg->addr = p + PAGE;
		if (rg->pad)
			protect(r, rg->nr_pages, len, PROT_NONE);
		rg->tags = tags;
		tags += rg->nr_pages;
		if (r == FILE_PRIV)
			map_file(rg);
		else
			write_pages(r, 0, rg->nr_pages);
		test_msg("region %s at %p, %lu pages", rg->name, (void *)rg->addr, rg->nr_pages);
	}
	dontneed(DONTNEED, 56, 64);	/* never-written zero pages, too */
}

/* Writes word 0 of the next page of `once`: the only write it ever gets. */
static void write_once(void)
{
	unsigned long pg = once_done;

	if (pg >= regions[ONCE].nr_pages)
		return;
	((volatile uint64_t *)page_addr(ONCE, pg))[0] = ~regions[ONCE].tags[pg];
	barrier();
	once_done = pg + 1;
}

/* The task was stopped for a while: if a pre-dump froze it, its copy is
 * running now. */
static long voluntary_switches(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		fail("getrusage: %s", strerror(errno));
	return ru.ru_nvcsw;
}

static void after_stop(void)
{
	uint64_t now = test_now_ns();

	stops++;
	write_once();
	while (test_now_ns() - now < LATE_NS)
		;
	write_once();
}

/* The kernel copies page FILE_PG of the file into page PG of `kernel`. */
static void pread_page(unsigned long pg, unsigned long file_pg)
{
	int fd = open(file_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || pread(fd, page_addr(KERNEL, pg), PAGE, file_pg * PAGE) != (ssize_t)PAGE)
		fail("pread of %s into kernel page %lu: %s", file_path, pg, strerror(errno));
	close(fd);
	regions[KERNEL].tags[pg] = file_tag(file_pg);
}

/* The kernel writes page PG of `kernel` as if for a debugger. */
static void vm_write_page(unsigned long pg)
{
	static uint64_t buf[WORDS];
	struct iovec local = { buf, PAGE }, remote = { page_addr(KERNEL, pg), PAGE };
	uint64_t tag = new_tag();

	for (size_t i = 0; i < WORDS; i++)
		buf[i] = pattern(tag, i);
	if (process_vm_writev(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)PAGE)
		fail("process_vm_writev to kernel page %lu: %s", pg, strerror(errno));
	regions[KERNEL].tags[pg] = tag;
}

static void round_1(void)
{
	struct region *mv = &regions[MOVED], *rp = &regions[REPLACED];
	void *to = page_addr(NEXTTO, regions[NEXTTO].nr_pages), *at;

	write_pages(DIRTY, 0, regions[DIRTY].nr_pages);
	write_pages(PROT, 0, 8);
	protect(PROT, 16, 48, PROT_READ);
	protect(PROT, 16, 48, PROT_READ | PROT_WRITE);
	write_page(PROT, 20);

	at = mremap(mv->addr, mv->nr_pages * PAGE, mv->nr_pages * PAGE,
		    MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (at != to)
		fail("mremap %p to %p: %s", (void *)mv->addr, to, strerror(errno));
	mv->addr = at;

	if (munmap(rp->addr, rp->nr_pages * PAGE))
		fail("munmap %p: %s", (void *)rp->addr, strerror(errno));
	at = map_anon(rp->addr, rp->nr_pages, MAP_FIXED_NOREPLACE);
	if (at != rp->addr)
		fail("the new mapping is at %p, not %p", at, (void *)rp->addr);
	zeroed(REPLACED, 0, rp->nr_pages);
	write_pages(REPLACED, 0, 8);

	map_anon(regions[FIXED].addr, regions[FIXED].nr_pages, MAP_FIXED);
	zeroed(FIXED, 0, regions[FIXED].nr_pages);
	write_page(FIXED, 5);

	write_pages(DONTNEED, 0, 16);
	dontneed(DONTNEED, 0, 8);
	dontneed(DONTNEED, 32, 40);

	write_pages(FILE_PRIV, 2, 4);
	pread_page(1, 0);
}

/* A child that exits at once; the parent's pages are shared copy-on-write
 * until it is gone. */
static void fork_and_reap(bool child_writes)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		if (child_writes)
			for (unsigned long pg = 8; pg < 16; pg++)
				memset(page_addr(COW, pg), 0xc5, PAGE);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("child %d: waitpid %s, status %#x", (int)pid, strerror(errno), status);
}

static void round_2(void)
{
	for (unsigned long pg = 0; pg < regions[DIRTY].nr_pages; pg++)
		if ((pg + 2) % 3 == 0)
			write_page(DIRTY, pg);
	write_pages(BIG, 100, 132);
	write_page(PROT, 40);
	protect(PROT, 0, regions[PROT].nr_pages, PROT_READ);
	write_pages(MOVED, 0, 4);
	write_page(NEXTTO, 31);

	map_anon(page_addr(FIXED, 8), 16, MAP_FIXED);
	zeroed(FIXED, 8, 24);
	write_pages(FIXED, 10, 12);

	write_pages(DONTNEED, 40, 48);
	dontneed(DONTNEED, 44, 48);
	write_pages(DONTNEED, 0, 4);

	fork_and_reap(false);
	write_pages(COW, 0, 8);

	write_page(FILE_PRIV, 5);
	dontneed(FILE_PRIV, 2, 3);
	vm_write_page(3);
}

static void round_3(void)
{
	for (unsigned long pg = 0; pg < regions[DIRTY].nr_pages; pg++)
		if ((pg + 3) % 3 == 0)
			write_page(DIRTY, pg);
	protect(PROT, 0, regions[PROT].nr_pages, PROT_READ | PROT_WRITE);
	write_page(PROT, 50);
	write_pages(RO, 0, 4);
	protect(RO, 0, regions[RO].nr_pages, PROT_READ);
	write_page(MOVED, 10);
	write_page(REPLACED, 20);
	dontneed(DONTNEED, 40, 44);
	fork_and_reap(true);
	write_page(COW, 16);
	write_page(FILE_PRIV, 9);
	dontneed(FILE_PRIV, 3, 4);
	pread_page(5, 1);
	vm_write_page(6);
}

static void say_round(int round)
{
	char tmp[4200], text[16];
	int fd, n;

	n = snprintf(text, sizeof(text), "%d\n", round);
	snprintf(tmp, sizeof(tmp), "%s.tmp", round_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, n) != n || close(fd) || rename(tmp, round_path))
		fail("can't write %s: %s", round_path, strerror(errno));
}

static void next_round(void)
{
	static void (*const changes[ROUNDS])(void) = { round_1, round_2, round_3 };

	if (rounds_done >= ROUNDS)
		fail("SIGUSR1 number %d: the test knows only %d rounds", rounds_done + 1, ROUNDS);
	changes[rounds_done++]();
	test_msg("changes of round %d made", rounds_done);
	say_round(rounds_done);
}

static char first_diff[512];

/* The first word of page PG of region R that is not what the table says,
 * described into BUF; false if the page is exact. */
static bool page_differs(int r, unsigned long pg, char *buf, size_t size)
{
	const uint64_t *p = (const uint64_t *)page_addr(r, pg);
	uint64_t tag = regions[r].tags[pg];

	for (size_t i = 0; i < WORDS; i++) {
		uint64_t want = tag ? pattern(tag, i) : 0;

		if (r == ONCE && i == 0 && (pg < once_done || (pg == once_done && p[0] == ~tag)))
			want = ~tag;
		if (p[i] == want)
			continue;
		snprintf(buf, size, "%s page %lu (%p) after round %d differs at byte %zu: %016lx, "
			 "expected %s %016lx", regions[r].name, pg, (void *)p, rounds_done, i * 8,
			 (unsigned long)p[i], !tag ? "zero page" : r == FILE_PRIV &&
			 tag == file_tag(pg) ? "the file's" : "content", (unsigned long)want);
		return true;
	}
	return false;
}

/* Pages of region R that differ; each is logged, the first kept in
 * first_diff. */
static unsigned long check_region(int r)
{
	unsigned long bad = 0;
	char what[512];

	for (unsigned long pg = 0; pg < regions[r].nr_pages; pg++) {
		if (!page_differs(r, pg, what, sizeof(what)))
			continue;
		if (!first_diff[0])
			memcpy(first_diff, what, sizeof(what));
		test_msg("%s", what);
		bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = usr1_handler, .sa_flags = SA_RESTART };
	unsigned long bad_pages = 0;
	int bad_regions = 0;
	long nvcsw;

	test_init(argc, argv);
	seed = test_seed();
	test_path(round_path, sizeof(round_path), "round");
	test_path(file_path, sizeof(file_path), "adversary.dat");
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL))
		fail("sigaction(SIGUSR1): %s", strerror(errno));
	setup();
	test_ready();

	/* The loop never sleeps (the changes of a round do: fork, wait). */
	nvcsw = voluntary_switches();
	while (test_go()) {
		if (voluntary_switches() != nvcsw) {
			after_stop();
			nvcsw = voluntary_switches();
		}
		if (rounds_signalled > rounds_done) {
			next_round();
			nvcsw = voluntary_switches();
		}
	}

	test_msg("%d rounds of changes, %lu stops noticed, %lu pages of once written",
		 rounds_done, stops, once_done);
	for (int r = 0; r < NR_REGIONS; r++) {
		unsigned long bad = check_region(r);

		bad_pages += bad;
		bad_regions += bad != 0;
	}
	if (bad_pages)
		fail("%lu pages in %d regions differ (all in the log); the first: %s", bad_pages,
		     bad_regions, first_diff);
	if (stops < (unsigned long)rounds_done)
		fail("%lu stops noticed, but %d pre-dumps froze the test", stops, rounds_done);
	/* Still private, writable memory where it was writable. */
	for (int r = 0; r < NR_REGIONS; r++) {
		if (r == RO || r == ONCE)
			continue;
		write_page(r, regions[r].nr_pages - 1);
		if (check_region(r))
			fail("a write to %s after the restore did not stay: %s", regions[r].name,
			     first_diff);
	}
	pass();
}
