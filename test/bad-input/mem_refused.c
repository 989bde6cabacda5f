/* A target with memory lmproc refuses to dump, named by MEM_REFUSED in
 * the environment: "droppable" maps anonymous memory MAP_DROPPABLE
 * (VmFlags dp), "memfd" maps a memfd MAP_PRIVATE (restored from a copy,
 * it would stop showing writes through the fd).  It checks its memory
 * after SIGTERM, spinning until then: a refused dump must leave it as it was. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test.h"

#define PAGE 4096
/* include/uapi/linux/mman.h (Linux 6.11), not in 6.1's headers. */
#define MAP_DROPPABLE_ 0x08

int main(int argc, char **argv)
{
	const char *kind = getenv("MEM_REFUSED");
	volatile unsigned long spins = 0;
	unsigned char *m;
	int fd = -1;

	test_init(argc, argv);
	if (kind && !strcmp(kind, "memfd")) {
		fd = memfd_create("refused", 0);
		if (fd < 0 || ftruncate(fd, PAGE))
			fail("memfd: %s", strerror(errno));
		m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	} else {
		m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_DROPPABLE_ | MAP_ANONYMOUS, -1, 0);
	}
	if (m == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	memset(m, 0x5a, PAGE);
	test_ready();
	/* Busy: the suite checks that a refused dump left it running. */
	while (test_go())
		spins++;

	if (fd >= 0 && m[0] != 0x5a)
		fail("the private memfd page changed");
	pass();
}
