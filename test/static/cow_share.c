/* Pages a parent shares copy-on-write with its forked children stay
 * shared across a checkpoint, and no process ever sees another's page
 * where it had its own.  The parent fills 32 MiB, forks A and B, then A,
 * B and the parent each write some parts (A also zeroes some, the parent
 * also writes pages no one had before the fork).  After the restore every
 * process checks every page of the region against what it alone should
 * see, and the parent checks through /proc/PID/pagemap (PFNs: root) that
 * the pages no one wrote since the fork are one physical page in all
 * three, and that every page someone wrote is that process's own.  The
 * Rss and Pss of the three (smaps_rollup) go to the log before the dump
 * and after the restore. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "tree-child.h"

#define REGION_PAGES 8192UL	/* 32 MiB */
#define PAGE 4096UL
#define WORDS (PAGE / sizeof(uint64_t))

/* Parts of the region, in pages. */
enum part { P_A_WRITES, P_PARENT_WRITES, P_A_ZEROES, P_ZERO, P_UNTOUCHED, P_PARENT_NEW,
	    P_B_NEW, P_NR };
static const unsigned long part_start[P_NR + 1] = { 0, 1024, 2048, 2176, 2304, 7168, 7680,
						     REGION_PAGES };

enum who { PARENT, CHILD_A, CHILD_B };
/* The pattern tags: 0 is what the parent wrote before the fork. */
enum tag { T_ZERO = -1, T_ORIG = 0, T_PARENT = 1, T_A = 2, T_B = 3 };

static uint64_t *region;
static uint64_t seed;
static int go_pipe[2];

static enum part part_of(unsigned long page)
{
	int p = 0;

	while (page >= part_start[p + 1])
		p++;
	return p;
}

/* What WHO must see in page PAGE after everything was written. */
static enum tag expected(enum who who, unsigned long page)
{
	switch (part_of(page)) {
	case P_A_WRITES:
		return who == CHILD_A ? T_A : T_ORIG;
	case P_PARENT_WRITES:
		return who == PARENT ? T_PARENT : T_ORIG;
	case P_A_ZEROES:
		return who == CHILD_A ? T_ZERO : T_ORIG;
	case P_ZERO:
		return T_ZERO;
	case P_UNTOUCHED:
		return T_ORIG;
	case P_PARENT_NEW:
		return who == PARENT ? T_PARENT : T_ZERO;
	default:
		return who == CHILD_B ? T_B : T_ZERO;
	}
}

static uint64_t word(enum tag tag, unsigned long page, unsigned long w)
{
	return tag == T_ZERO ? 0 : test_mix(seed + tag * 0x100000000ULL + page * WORDS + w);
}

static void write_part(enum part p, enum tag tag)
{
	for (unsigned long pg = part_start[p]; pg < part_start[p + 1]; pg++)
		for (unsigned long w = 0; w < WORDS; w++)
			region[pg * WORDS + w] = word(tag, pg, w);
}

/* The first page of the region that differs from what WHO must see, or -1. */
static long check_contents(enum who who)
{
	for (unsigned long pg = 0; pg < REGION_PAGES; pg++) {
		enum tag t = expected(who, pg);

		for (unsigned long w = 0; w < WORDS; w++)
			if (region[pg * WORDS + w] != word(t, pg, w))
				return pg;
	}
	return -1;
}

/* The child's side: waits across the checkpoint, then checks its pages. */
static void child_body(enum who who)
{
	long bad;
	char c;

	if (who == CHILD_A) {
		write_part(P_A_WRITES, T_A);
		write_part(P_A_ZEROES, T_ZERO);
	} else {
		write_part(P_B_NEW, T_B);
	}
	if (write(tree_res_pipe[1], "r", 1) != 1)
		_exit(3);
	if (read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	bad = check_contents(who);
	if (bad >= 0)
		tree_report(who, 0, "page %ld (part %d) holds %s data", bad, part_of(bad),
			    region[bad * WORDS] ? "wrong" : "zero");
	else
		tree_report(who, 1, "ok");
	_exit(0);
}

#define PM_PFN_MASK ((1ULL << 55) - 1)
#define PM_PRESENT (1ULL << 63)

static void read_pfns(pid_t pid, uint64_t *pfn)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0 || pread(fd, pfn, REGION_PAGES * 8, (uintptr_t)region / PAGE * 8) !=
			      (ssize_t)(REGION_PAGES * 8))
		fail("read %s: %s", path, strerror(errno));
	close(fd);
	for (unsigned long i = 0; i < REGION_PAGES; i++)
		pfn[i] = (pfn[i] & PM_PRESENT) ? pfn[i] & PM_PFN_MASK : 0;
}

static uint64_t pfns[3][REGION_PAGES];

/* One page in two processes: both present and the same frame. */
static bool same(int x, int y, unsigned long pg)
{
	return pfns[x][pg] && pfns[x][pg] == pfns[y][pg];
}

/* Untouched pages: one frame in all three; pages someone wrote: that
 * process's own. */
static void check_sharing(const char *when, const pid_t *pids)
{
	unsigned long shared = 0;

	for (int i = 0; i < 3; i++)
		read_pfns(pids[i], pfns[i]);
	for (unsigned long pg = 0; pg < REGION_PAGES; pg++) {
		switch (part_of(pg)) {
		case P_UNTOUCHED:
			if (!same(PARENT, CHILD_A, pg) || !same(PARENT, CHILD_B, pg))
				fail("%s: untouched page %lu is not shared (pfns %llx %llx %llx)",
				     when, pg, (unsigned long long)pfns[0][pg],
				     (unsigned long long)pfns[1][pg],
				     (unsigned long long)pfns[2][pg]);
			shared++;
			break;
		case P_A_WRITES:
		case P_A_ZEROES:
			if (same(PARENT, CHILD_A, pg))
				fail("%s: page %lu A wrote is the parent's", when, pg);
			if (part_of(pg) == P_A_WRITES && !same(PARENT, CHILD_B, pg))
				fail("%s: page %lu only A wrote is not shared by parent and B",
				     when, pg);
			break;
		case P_PARENT_WRITES:
		case P_PARENT_NEW:
		case P_B_NEW:
			if (same(PARENT, CHILD_A, pg) || same(PARENT, CHILD_B, pg))
				fail("%s: page %lu one process wrote is shared", when, pg);
			break;
		default:
			break;
		}
	}
	test_msg("%s: %lu pages shared by all three", when, shared);
}

static void log_rss(const char *when, const pid_t *pids)
{
	static const char *names[] = { "parent", "A", "B" };

	for (int i = 0; i < 3; i++) {
		char path[64], buf[2048], *rss, *pss;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pids[i]);
		n = test_read_file(path, buf, sizeof(buf) - 1);
		if (n <= 0)
			fail("read %s: %s", path, strerror(errno));
		buf[n] = '\0';
		rss = strstr(buf, "\nRss:");
		pss = strstr(buf, "\nPss:");
		if (!rss || !pss)
			fail("%s has no Rss or Pss", path);
		test_msg("%s: %s Rss %lu kB Pss %lu kB", when, names[i],
			 strtoul(rss + 5, NULL, 10), strtoul(pss + 5, NULL, 10));
	}
}

static pid_t fork_child(enum who who)
{
	pid_t pid = fork();

	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0)
		child_body(who);
	return pid;
}

int main(int argc, char **argv)
{
	pid_t pids[3];
	char c;
	long bad;

	test_init(argc, argv);
	seed = test_seed();
	region = mmap(NULL, REGION_PAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	if (pipe(go_pipe) || pipe(tree_res_pipe))
		fail("pipe: %s", strerror(errno));
	for (int p = P_A_WRITES; p <= P_UNTOUCHED; p++)
		write_part(p, T_ORIG);
	/* Pages that were data and are zero now, before the fork. */
	write_part(P_ZERO, T_ZERO);
	pids[PARENT] = getpid();
	pids[CHILD_A] = fork_child(CHILD_A);
	pids[CHILD_B] = fork_child(CHILD_B);
	write_part(P_PARENT_WRITES, T_PARENT);
	write_part(P_PARENT_NEW, T_PARENT);
	for (int i = 0; i < 2; i++)
		if (read(tree_res_pipe[0], &c, 1) != 1)
			fail("children did not start: %s", strerror(errno));
	check_sharing("before the dump", pids);
	log_rss("before the dump", pids);
	test_waitsig();

	check_sharing("after the restore", pids);
	log_rss("after the restore", pids);
	bad = check_contents(PARENT);
	if (bad >= 0)
		fail("parent: page %ld (part %d) holds %s data", bad, part_of(bad),
		     region[bad * WORDS] ? "wrong" : "zero");
	if (write(go_pipe[1], "gg", 2) != 2)
		fail("wake the children: %s", strerror(errno));
	tree_collect(2);
	for (int i = 1; i < 3; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			fail("child %d ended badly", pids[i]);
	}
	pass();
}
