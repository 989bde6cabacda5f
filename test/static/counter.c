/* Counter loop: a busy loop keeps a counter in a register and in memory,
 * plus a high-water mark in a separate mapping.  Registers and memory must
 * come back from the same instant: the counter never goes backwards, the
 * copies always agree, and it keeps counting after the restore. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "test.h"

#define AFTER_RESTORE	(50 * 1000 * 1000ULL)

static volatile uint64_t counter_mem;

static void step(uint64_t *c, volatile uint64_t *hwm)
{
	uint64_t prev = *c;

	*c = prev + 1;
	counter_mem = *c;
	if (counter_mem != *c)
		fail("counter in memory %lu, in register %lu", (unsigned long)counter_mem,
		     (unsigned long)*c);
	if (*c <= prev || *c < *hwm)
		fail("counter went backwards: %lu after %lu (high-water mark %lu)",
		     (unsigned long)*c, (unsigned long)prev, (unsigned long)*hwm);
	if (!(*c & 0xfff))
		*hwm = *c;
}

int main(int argc, char **argv)
{
	volatile uint64_t *hwm;
	uint64_t c = 0, at_signal;

	test_init(argc, argv);
	hwm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hwm == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	test_ready();
	while (test_go())
		step(&c, hwm);
	at_signal = c;
	if (at_signal == 0)
		fail("the counter never ran");
	while (c < at_signal + AFTER_RESTORE)
		step(&c, hwm);
	test_msg("counted to %lu at the signal, %lu now", (unsigned long)at_signal,
		 (unsigned long)c);
	pass();
}
