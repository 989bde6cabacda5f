/* A sparse address space: an 8 TiB PROT_NONE reservation (as MariaDB
 * makes) holding two pages written while a slice of it was writable, and
 * a 1 TiB read-write MAP_NORESERVE mapping with a few pages written far
 * apart (first, last, and every 128 GiB).  The dump must find the few
 * pages without walking the terabytes; after the restore every written
 * page holds its content, every other page reads zero, and the mappings
 * are the same (the runner compares the maps). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "test.h"

#define PAGE		4096UL
#define RESERVE_SIZE	(8UL << 40)
#define SPARSE_SIZE	(1UL << 40)
#define SPARSE_STEP	(128UL << 30)
/* Where in the reservation the two pages were written. */
#define RESERVE_OFF_A	(3UL << 40)
#define RESERVE_OFF_B	(RESERVE_SIZE - PAGE)

static uint64_t seed;

static void fill(unsigned char *p, unsigned long tag)
{
	for (size_t i = 0; i < PAGE / 8; i++)
		((uint64_t *)p)[i] = test_mix(seed ^ (tag << 12) ^ i);
}

static void check(const unsigned char *p, unsigned long tag, const char *what)
{
	for (size_t i = 0; i < PAGE / 8; i++)
		if (((const uint64_t *)p)[i] != test_mix(seed ^ (tag << 12) ^ i))
			fail("%s page at %p differs at byte %zu", what, (const void *)p, i * 8);
}

static void check_zero(const unsigned char *p, const char *what)
{
	for (size_t i = 0; i < PAGE; i++)
		if (p[i])
			fail("%s page at %p is not zero at byte %zu", what, (const void *)p, i);
}

/* Writes one page of the reservation through a writable slice, which
 * then becomes PROT_NONE again (one VMA with the rest). */
static void write_reserved(unsigned char *res, unsigned long off)
{
	if (mprotect(res + off, PAGE, PROT_READ | PROT_WRITE))
		fail("mprotect of the reservation at +0x%lx: %s", off, strerror(errno));
	fill(res + off, off / PAGE);
	if (mprotect(res + off, PAGE, PROT_NONE))
		fail("mprotect back to PROT_NONE at +0x%lx: %s", off, strerror(errno));
}

static void check_reserved(unsigned char *res, unsigned long off)
{
	if (mprotect(res + off, PAGE, PROT_READ))
		fail("mprotect of the reservation at +0x%lx: %s", off, strerror(errno));
	check(res + off, off / PAGE, "reserved");
	if (mprotect(res + off, PAGE, PROT_NONE))
		fail("mprotect back to PROT_NONE at +0x%lx: %s", off, strerror(errno));
}

static bool sparse_written(unsigned long off)
{
	return off % SPARSE_STEP == 0 || off == SPARSE_SIZE - PAGE;
}

int main(int argc, char **argv)
{
	unsigned char *res, *sparse;

	test_init(argc, argv);
	seed = test_seed();
	res = mmap(NULL, RESERVE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		   0);
	sparse = mmap(NULL, SPARSE_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED || sparse == MAP_FAILED)
		fail("mmap of the sparse mappings: %s", strerror(errno));
	write_reserved(res, RESERVE_OFF_A);
	write_reserved(res, RESERVE_OFF_B);
	for (unsigned long off = 0; off < SPARSE_SIZE; off += SPARSE_STEP)
		fill(sparse + off, off / PAGE);
	fill(sparse + SPARSE_SIZE - PAGE, (SPARSE_SIZE - PAGE) / PAGE);

	test_waitsig();

	check_reserved(res, RESERVE_OFF_A);
	check_reserved(res, RESERVE_OFF_B);
	for (unsigned long off = 0; off < SPARSE_SIZE; off += SPARSE_STEP)
		check(sparse + off, off / PAGE, "sparse");
	check(sparse + SPARSE_SIZE - PAGE, (SPARSE_SIZE - PAGE) / PAGE, "sparse");
	/* Neighbours of written pages and pages far from any stay zero. */
	for (unsigned long off = PAGE; off < SPARSE_SIZE; off += SPARSE_STEP / 2 + PAGE)
		if (!sparse_written(off))
			check_zero(sparse + off, "untouched sparse");
	if (mprotect(res + RESERVE_OFF_A + PAGE, PAGE, PROT_READ))
		fail("mprotect of the reservation: %s", strerror(errno));
	check_zero(res + RESERVE_OFF_A + PAGE, "untouched reserved");
	if (mprotect(res + RESERVE_OFF_A + PAGE, PAGE, PROT_NONE))
		fail("mprotect back to PROT_NONE: %s", strerror(errno));
	/* Still writable, still private. */
	fill(sparse + PAGE, 1);
	check(sparse + PAGE, 1, "sparse after restore");
	pass();
}
