/* Heap: 64 MiB of pseudo-random content (with all-zero pages and pages
 * that are zero but for one byte, which a zero-page filter must not drop)
 * in an mmap'd malloc block, plus a linked list of small blocks in the brk
 * heap.  Every byte must come back and stay writable. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define HEAP_SIZE	(64UL << 20)
#define PAGE		4096UL
#define NR_SMALL	2000

struct small_block {
	struct small_block *next;
	uint64_t index;
	uint64_t data[14];
};

static uint64_t seed;

enum page_kind { PAGE_RANDOM, PAGE_ZERO, PAGE_ALMOST_ZERO };

static enum page_kind page_kind(size_t pg)
{
	if (pg % 17 == 5)
		return PAGE_ZERO;
	if (pg % 31 == 7)
		return PAGE_ALMOST_ZERO;
	return PAGE_RANDOM;
}

static void fill_page(uint64_t *p, size_t pg)
{
	switch (page_kind(pg)) {
	case PAGE_ZERO:
		return;
	case PAGE_ALMOST_ZERO:
		((unsigned char *)p)[PAGE - 1] = 0x5a;
		return;
	case PAGE_RANDOM:
		for (size_t i = 0; i < PAGE / 8; i++)
			p[i] = test_mix(seed ^ (pg << 12) ^ i);
	}
}

static uint64_t checksum(const uint64_t *p, size_t words)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < words; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static void check_heap(uint64_t *buf)
{
	static uint64_t expect[PAGE / 8];

	for (size_t pg = 0; pg < HEAP_SIZE / PAGE; pg++) {
		uint64_t *p = buf + pg * (PAGE / 8);

		memset(expect, 0, PAGE);
		fill_page(expect, pg);
		if (memcmp(p, expect, PAGE)) {
			size_t i = 0;

			while (p[i] == expect[i])
				i++;
			fail("heap page %zu (%p) differs at byte %zu: %016lx, expected %016lx", pg,
			     (void *)p, i * 8, (unsigned long)p[i], (unsigned long)expect[i]);
		}
	}
}

static struct small_block *build_list(void)
{
	struct small_block *head = NULL;

	for (uint64_t i = 0; i < NR_SMALL; i++) {
		struct small_block *b = malloc(sizeof(*b));

		if (!b)
			fail("malloc of a small block failed");
		b->next = head;
		b->index = i;
		for (int j = 0; j < 14; j++)
			b->data[j] = test_mix(seed + i * 14 + j);
		head = b;
	}
	return head;
}

static void check_list(struct small_block *head)
{
	uint64_t i = NR_SMALL;

	for (struct small_block *b = head; b; b = b->next) {
		i--;
		if (b->index != i)
			fail("small block %p has index %lu, expected %lu", (void *)b,
			     (unsigned long)b->index, (unsigned long)i);
		for (int j = 0; j < 14; j++)
			if (b->data[j] != test_mix(seed + i * 14 + j))
				fail("small block %lu word %d differs", (unsigned long)i, j);
	}
	if (i != 0)
		fail("small block list lost %lu blocks", (unsigned long)i);
}

int main(int argc, char **argv)
{
	struct small_block *list;
	uint64_t *buf, sum;

	test_init(argc, argv);
	seed = test_seed();
	buf = malloc(HEAP_SIZE);
	if (!buf)
		fail("malloc(%lu) failed", HEAP_SIZE);
	for (size_t pg = 0; pg < HEAP_SIZE / PAGE; pg++)
		fill_page(buf + pg * (PAGE / 8), pg);
	sum = checksum(buf, HEAP_SIZE / 8);
	list = build_list();

	test_waitsig();

	check_heap(buf);
	if (checksum(buf, HEAP_SIZE / 8) != sum)
		fail("heap checksum differs");
	check_list(list);
	/* Still private, writable memory: write every page and read back. */
	for (size_t pg = 0; pg < HEAP_SIZE / PAGE; pg++)
		buf[pg * (PAGE / 8) + 1] = ~(uint64_t)pg;
	for (size_t pg = 0; pg < HEAP_SIZE / PAGE; pg++)
		if (buf[pg * (PAGE / 8) + 1] != ~(uint64_t)pg)
			fail("heap page %zu did not keep a write after restore", pg);
	free(buf);
	buf = malloc(HEAP_SIZE);
	if (!buf)
		fail("malloc after restore failed");
	memset(buf, 0xab, HEAP_SIZE);
	pass();
}
