/* A target with 3,000 mappings, more than one read of the BPF VMA
 * iterator holds (its seq_file's buffer: 682 records): pages of one
 * reservation alternately read-only and read-write, each writable page
 * filled with its own pattern.  After SIGTERM every page has its
 * protection (a write to a read-only page would fault) and pattern. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "test.h"

#define PAGE 4096
#define NR_PAGES 3000

static uint64_t pattern(size_t i)
{
	return test_mix(i + 1);
}

int main(int argc, char **argv)
{
	unsigned char *m;

	test_init(argc, argv);
	m = mmap(NULL, (size_t)NR_PAGES * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	for (size_t i = 0; i < NR_PAGES; i++) {
		uint64_t *w = (uint64_t *)(m + i * PAGE);

		*w = pattern(i);
		if (i % 2 && mprotect(m + i * PAGE, PAGE, PROT_READ))
			fail("mprotect: %s", strerror(errno));
	}
	test_waitsig();
	for (size_t i = 0; i < NR_PAGES; i++) {
		uint64_t *w = (uint64_t *)(m + i * PAGE);

		if (*w != pattern(i))
			fail("page %zu: 0x%llx, not 0x%llx", i, (unsigned long long)*w,
			     (unsigned long long)pattern(i));
		if (!(i % 2))
			*w = 0;
	}
	pass();
}
