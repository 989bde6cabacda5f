/* The tally that sample-server keeps and sample-client checks: a hash
 * chained over every request's value in order, so that one lost,
 * repeated or reordered request changes every answer after it. */
#ifndef LMPROC_SAMPLE_TALLY_H
#define LMPROC_SAMPLE_TALLY_H

#include <stdint.h>

#define TALLY_SEED 0xcbf29ce484222325ull

static inline uint64_t tally_next(uint64_t hash, uint64_t v)
{
	hash = (hash ^ v) * 0x100000001b3ull;
	return hash ^ (hash >> 29);
}

#endif
