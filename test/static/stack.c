/* Deep stack: 10000 nested frames, each holding values derived from its
 * depth, wait for the checkpoint at the bottom, then check every frame's
 * values while unwinding.  The stack VMA has grown far below its start. */
#include "test.h"

#define DEPTH	10000
#define SLOTS	8

static uint64_t seed;

static uint64_t slot_value(int depth, int slot)
{
	return test_mix(seed ^ ((uint64_t)depth << 8) ^ slot);
}

static __attribute__((noinline)) int dive(int depth)
{
	volatile uint64_t local[SLOTS];
	int ret;

	for (int i = 0; i < SLOTS; i++)
		local[i] = slot_value(depth, i);
	if (depth == DEPTH)
		test_waitsig();
	ret = depth == DEPTH ? 0 : dive(depth + 1);
	for (int i = 0; i < SLOTS; i++)
		if (local[i] != slot_value(depth, i))
			fail("frame %d slot %d at %p: %016lx, expected %016lx", depth, i,
			     (void *)&local[i], (unsigned long)local[i],
			     (unsigned long)slot_value(depth, i));
	return ret + 1;
}

int main(int argc, char **argv)
{
	int frames;

	test_init(argc, argv);
	seed = test_seed();
	frames = dive(1);
	if (frames != DEPTH)
		fail("unwound %d frames, expected %d", frames, DEPTH);
	pass();
}
