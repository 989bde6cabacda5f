/* The rings of io_uring instances mapped again at their dumped addresses.
 * io_uring refuses an address from the caller (MAP_FIXED and mremap
 * alike: io_uring_get_unmapped_area() fails any hint), so the restorer
 * makes the kernel choose the dumped one: each mapping the kernel offers
 * elsewhere is kept, with the rest of its free gap filled by inaccessible
 * placeholders (MAP_FIXED_NOREPLACE: nothing mapped is touched), down to
 * the dumped range when the offer lies above it (the kernel searches
 * down from the mmap base) and up to it when below (the search from the
 * bottom, once no gap below the base fits); an offer across the dumped
 * range is dropped and the space around the range held, until the offer
 * is the dumped address; then every placeholder goes. */
#include <stdint.h>
#include <linux/errno.h>
#include <linux/mman.h>

#include "pie-syscall.h"
#include "restorer-io-uring.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096UL
/* The lowest and highest addresses a placeholder takes (mmap_min_addr is
 * at most 64 KiB; the 47-bit user address space). */
#define LOW_END 0x10000UL
#define HIGH_END 0x7ffffffff000UL
/* Gaps to fill before giving up. */
#define MAX_TRIES 256

struct span {
	uint64_t start, end;
};

static int is_err(long ret)
{
	return (unsigned long)ret >= -4095UL;
}

static int hold(uint64_t start, uint64_t len)
{
	long r = sys_mmap(start, len, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);

	if (is_err(r))
		return 0;
	if ((uint64_t)r != start) {
		sys_munmap(r, len);
		return 0;
	}
	return 1;
}

/* The free space below TOP, down to FLOOR at most, held: the new bottom. */
static uint64_t hold_down(uint64_t top, uint64_t floor)
{
	for (uint64_t sz = 1UL << 46; sz >= PAGE; sz >>= 1)
		while (top >= floor + sz && hold(top - sz, sz))
			top -= sz;
	return top;
}

/* The free space from BOTTOM up to CEIL at most, held: the new top. */
static uint64_t hold_up(uint64_t bottom, uint64_t ceil)
{
	for (uint64_t sz = 1UL << 46; sz >= PAGE; sz >>= 1)
		while (bottom + sz <= ceil && hold(bottom, sz))
			bottom += sz;
	return bottom;
}

long rst_io_uring_map(const struct restorer_vma *v)
{
	struct span held[MAX_TRIES];
	uint64_t len = v->end - v->start;
	long ret = -EADDRNOTAVAIL;
	int n = 0;

	while (n < MAX_TRIES - 1) {
		long a = sys_mmap(0, len, v->map_prot, v->flags, v->fd, v->pgoff);
		uint64_t lo, hi;

		if (is_err(a)) {
			ret = a;
			break;
		}
		if ((uint64_t)a == v->start) {
			ret = 0;
			break;
		}
		if ((uint64_t)a < v->end && (uint64_t)a + len > v->start) {
			/* Across the dumped range: its gap is held above and
			 * below the range (below matters when the range
			 * crosses the mmap base: only the search from the
			 * bottom finds it, once nothing fits below it). */
			sys_munmap(a, len);
			held[n++] = (struct span){v->end, hold_up(v->end, HIGH_END)};
			lo = hold_down(v->start, LOW_END);
			hi = v->start;
		} else {
			lo = hold_down(a, (uint64_t)a > v->start ? v->end : LOW_END);
			hi = hold_up(a + len, (uint64_t)a < v->start ? v->start : HIGH_END);
		}
		held[n++] = (struct span){lo, hi};
	}
	while (n--)
		sys_munmap(held[n].start, held[n].end - held[n].start);
	return ret;
}
