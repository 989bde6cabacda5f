/* brk: the program break is grown by 1 MiB and filled before the
 * checkpoint.  After the restore the kernel's break is where it was, the
 * content is there, and the break still grows (new memory writable),
 * shrinks and grows again.  No malloc here: it would move the break. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

#define GROW1	(1UL << 20)
#define GROW2	(4UL << 20)

static unsigned long kernel_brk(void)
{
	return syscall(SYS_brk, 0);
}

/* start_brk from /proc/self/stat (field 47). */
static unsigned long start_brk(void)
{
	char buf[4096], *p;
	unsigned long v = 0;
	ssize_t n;

	n = test_read_file("/proc/self/stat", buf, sizeof(buf) - 1);
	if (n <= 0)
		fail("can't read /proc/self/stat");
	buf[n] = '\0';
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 47; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%lu", &v) != 1)
		fail("can't parse start_brk");
	return v;
}

int main(int argc, char **argv)
{
	unsigned long brk0, start0;
	uint64_t seed, *area, *more;

	test_init(argc, argv);
	seed = test_seed();
	start0 = start_brk();
	area = sbrk(GROW1);
	if (area == (void *)-1)
		fail("sbrk(%lu): %s", GROW1, strerror(errno));
	for (size_t i = 0; i < GROW1 / 8; i++)
		area[i] = test_mix(seed + i);
	brk0 = kernel_brk();
	if (brk0 != (unsigned long)area + GROW1)
		fail("break %#lx, expected %#lx", brk0, (unsigned long)area + GROW1);

	test_waitsig();

	if (kernel_brk() != brk0)
		fail("kernel break %#lx after restore, was %#lx", kernel_brk(), brk0);
	if (start_brk() != start0)
		fail("start_brk %#lx after restore, was %#lx", start_brk(), start0);
	for (size_t i = 0; i < GROW1 / 8; i++)
		if (area[i] != test_mix(seed + i))
			fail("brk area word %zu at %p differs", i, (void *)&area[i]);
	more = sbrk(GROW2);
	if (more == (void *)-1)
		fail("sbrk(%lu) after restore: %s", GROW2, strerror(errno));
	if ((unsigned long)more != brk0 || kernel_brk() != brk0 + GROW2)
		fail("brk grew to %#lx from %p, expected %#lx from %#lx", kernel_brk(),
		     (void *)more, brk0 + GROW2, brk0);
	for (size_t i = 0; i < GROW2 / 8; i += 512)
		more[i] = ~i;
	for (size_t i = 0; i < GROW2 / 8; i += 512)
		if (more[i] != ~i)
			fail("new brk memory at %p does not hold a write", (void *)&more[i]);
	if (sbrk(-(long)GROW2) == (void *)-1 || kernel_brk() != brk0)
		fail("shrinking the break failed: %#lx", kernel_brk());
	if (sbrk(GROW2) == (void *)-1 || kernel_brk() != brk0 + GROW2)
		fail("growing the break again failed: %#lx", kernel_brk());
	for (size_t i = 0; i < GROW2 / 8; i += 512)
		if (more[i] != 0)
			fail("re-grown brk memory at %p is not zero", (void *)&more[i]);
	pass();
}
