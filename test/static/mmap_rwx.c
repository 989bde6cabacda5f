/* A private anonymous mapping that is readable, writable and executable
 * at once, as a JIT's code cache is (the JVM's): code written into it
 * must still run after the restore, and the mapping must keep all three
 * permissions.  A migration's staging once moved it into place as
 * read-write only, and the JVM died of SIGSEGV at its next compiled
 * method. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "test.h"

#define REGION (1UL << 20)

typedef int (*code_fn)(void);

/* x86-64: mov eax, 0x12345678; ret */
static const unsigned char code[] = {0xb8, 0x78, 0x56, 0x34, 0x12, 0xc3};

/* "rwxp" if the VMA starting at ADDR has all three permissions. */
static void check_perms(void *addr)
{
	static char maps[1 << 16];
	char start[32], *line;
	ssize_t n;

	n = test_read_file("/proc/self/maps", maps, sizeof(maps) - 1);
	if (n <= 0)
		fail("read /proc/self/maps: %s", strerror(errno));
	maps[n] = '\0';
	/* /proc/self/maps prints addresses in lower-case hex, no 0x. */
	snprintf(start, sizeof(start), "%lx-", (unsigned long)(uintptr_t)addr);
	line = maps;
	while (line && strncmp(line, start, strlen(start))) {
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	if (!line)
		fail("no VMA starts at %p", addr);
	line = strchr(line, ' ');
	if (!line || strncmp(line + 1, "rwxp", 4))
		fail("the region at %p lost a permission: %.4s", addr, line ? line + 1 : "?");
}

int main(int argc, char **argv)
{
	unsigned char *m;

	test_init(argc, argv);
	m = mmap(NULL, REGION, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (m == MAP_FAILED)
		fail("mmap rwx: %s", strerror(errno));
	for (size_t off = 0; off < REGION; off += 4096)
		memcpy(m + off, code, sizeof(code));
	check_perms(m);
	if (((code_fn)m)() != 0x12345678)
		fail("the code gave a wrong value before the checkpoint");
	test_waitsig();
	check_perms(m);
	for (size_t off = 0; off < REGION; off += 4096)
		if (memcmp(m + off, code, sizeof(code)))
			fail("the code at offset 0x%zx changed", off);
	if (((code_fn)(m + REGION - 4096))() != 0x12345678)
		fail("the code gave a wrong value after the restore");
	pass();
}
