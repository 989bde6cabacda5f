/* Decoding of the soft-dirty bit, kept apart so a unit test can check it
 * on a kernel that lacks CONFIG_MEM_SOFT_DIRTY. */
#ifndef LMPROC_SOFT_DIRTY_H
#define LMPROC_SOFT_DIRTY_H

#include <stddef.h>
#include <stdint.h>

#include "dirty-track.h"

/* Documentation/admin-guide/mm/pagemap.rst: bit 55 is pte soft-dirty. */
#define PME_SOFT_DIRTY (1ULL << 55)

/* Adds to OUT the pages among NR pagemap entries PME (the first at
 * START) whose soft-dirty bit is set; counts them in *PAGES. */
int soft_dirty_ranges(const uint64_t *pme, size_t nr, uint64_t start, struct range_set *out,
		      uint64_t *pages);

#endif
