/* Shared anonymous memory: one MAP_SHARED|MAP_ANONYMOUS object of 64
 * pages (some written, some written with zeros, some never touched) seen
 * through three mappings: the original, an alias made by mremap() with
 * old size 0 (the same object from offset 0) and a mapping of its
 * /proc/self/map_files entry at page 40.  After the restore every page
 * has its content, the three mappings are still one object (a write
 * through one is seen through the others, map_files names one inode) and
 * the memory still works. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define PAGE 4096
#define NR_PAGES 64
#define ALIAS_PAGES 16
#define VIEW_OFF 40
#define VIEW_PAGES 8

static uint64_t seed;

/* Every third page is left untouched, every fifth is written with zeros. */
static bool page_has_data(int pg)
{
	return pg % 3 && pg % 5;
}

static uint64_t word(int pg, int i)
{
	return page_has_data(pg) ? test_mix(seed + pg * PAGE + i) : 0;
}

static void check_pages(const unsigned char *m, int first, int nr, const char *what)
{
	for (int pg = first; pg < first + nr; pg++) {
		const uint64_t *w = (const uint64_t *)(m + (pg - first) * PAGE);

		for (int i = 0; i < PAGE / 8; i++)
			if (w[i] != word(pg, i))
				fail("%s: page %d word %d is 0x%llx, not 0x%llx", what, pg, i,
				     (unsigned long long)w[i], (unsigned long long)word(pg, i));
	}
}

static ino_t map_ino(const void *start, size_t len)
{
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)start,
		 (unsigned long)start + len);
	if (stat(path, &st))
		fail("stat %s: %s", path, strerror(errno));
	return st.st_ino;
}

static void check_shared(unsigned char *a, unsigned char *alias, unsigned char *view)
{
	if (map_ino(a, NR_PAGES * PAGE) != map_ino(alias, ALIAS_PAGES * PAGE) ||
	    map_ino(a, NR_PAGES * PAGE) != map_ino(view, VIEW_PAGES * PAGE))
		fail("the three mappings are not one object any more");
	a[3 * PAGE + 7] ^= 0x5a;
	if (alias[3 * PAGE + 7] != a[3 * PAGE + 7])
		fail("a write through %p is not seen through the alias %p", (void *)a,
		     (void *)alias);
	a[3 * PAGE + 7] ^= 0x5a;
	view[PAGE + 9] ^= 0xa5;
	if (a[(VIEW_OFF + 1) * PAGE + 9] != view[PAGE + 9])
		fail("a write through the map_files view %p is not seen at %p", (void *)view,
		     (void *)a);
	view[PAGE + 9] ^= 0xa5;
}

int main(int argc, char **argv)
{
	unsigned char *a, *alias, *view;
	char path[96];
	int fd;

	test_init(argc, argv);
	seed = test_seed();
	a = mmap(NULL, NR_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		 0);
	if (a == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	for (int pg = 0; pg < NR_PAGES; pg++) {
		if (pg % 3 == 0)
			continue;
		for (int i = 0; i < PAGE / 8; i++)
			((uint64_t *)(a + pg * PAGE))[i] = word(pg, i);
	}
	alias = mremap(a, 0, ALIAS_PAGES * PAGE, MREMAP_MAYMOVE);
	if (alias == MAP_FAILED)
		fail("mremap alias: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)a,
		 (unsigned long)a + NR_PAGES * PAGE);
	fd = open(path, O_RDWR);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	view = mmap(NULL, VIEW_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    VIEW_OFF * PAGE);
	if (view == MAP_FAILED)
		fail("mmap of map_files: %s", strerror(errno));
	close(fd);
	check_shared(a, alias, view);

	test_waitsig();

	check_pages(a, 0, NR_PAGES, "mapping");
	check_pages(alias, 0, ALIAS_PAGES, "mremap alias");
	check_pages(view, VIEW_OFF, VIEW_PAGES, "map_files view");
	check_shared(a, alias, view);
	/* A page never touched is still memory of the object. */
	a[45 * PAGE] = 1;
	if (view[(45 - VIEW_OFF) * PAGE] != 1)
		fail("page 45, never touched before, is not shared with the view");
	pass();
}
