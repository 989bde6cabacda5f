/* Shared anonymous memory across a tree: the root maps 8 pages
 * MAP_SHARED|MAP_ANONYMOUS and forks a child that inherits the mapping;
 * each writes half of the pages.  The dump saves the object once; after
 * the restore both still map one object: the root checks every page,
 * writes a token and wakes the child, which must see the token and answer
 * with one of its own that the root must see. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define PAGE 4096
#define NR_PAGES 8

static uint64_t seed;
static volatile uint64_t *mem;

static uint64_t word(int pg, int i)
{
	return test_mix(seed + pg * PAGE + i);
}

static void fill(int first)
{
	for (int pg = first; pg < first + NR_PAGES / 2; pg++)
		for (int i = 0; i < PAGE / 8; i++)
			mem[pg * PAGE / 8 + i] = word(pg, i);
}

static int check_pages(void)
{
	for (int pg = 0; pg < NR_PAGES; pg++)
		for (int i = 0; i < PAGE / 8; i++)
			if (mem[pg * PAGE / 8 + i] != word(pg, i))
				return pg;
	return -1;
}

/* The token slot: the last word (checked as data before the root writes
 * it after the restore). */
#define TOKEN (NR_PAGES * PAGE / 8 - 1)

static void child(int go, int res)
{
	char c, ok;

	fill(NR_PAGES / 2);
	if (read(go, &c, 1) != 1)
		_exit(1);
	ok = mem[TOKEN] == test_mix(seed ^ 1) ? 'y' : 'n';
	mem[TOKEN] = test_mix(seed ^ 2);
	if (write(res, &ok, 1) != 1)
		_exit(1);
	_exit(0);
}

int main(int argc, char **argv)
{
	int go[2], res[2], bad, st;
	pid_t pid;
	char c;

	test_init(argc, argv);
	seed = test_seed();
	mem = mmap(NULL, NR_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		   0);
	if (mem == MAP_FAILED || pipe(go) || pipe(res))
		fail("setup: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0)
		child(go[0], res[1]);
	fill(0);
	/* The child's half is written before the tree is dumped. */
	while (check_pages() >= 0)
		usleep(1000);

	test_waitsig();

	bad = check_pages();
	if (bad >= 0)
		fail("page %d of the shared memory differs", bad);
	mem[TOKEN] = test_mix(seed ^ 1);
	if (write(go[1], "g", 1) != 1 || read(res[0], &c, 1) != 1)
		fail("talk to the child: %s", strerror(errno));
	if (c != 'y')
		fail("the child does not see the root's write: not one object any more");
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("the child failed (status 0x%x)", st);
	if (mem[TOKEN] != test_mix(seed ^ 2))
		fail("the root does not see the child's write: not one object any more");
	pass();
}
