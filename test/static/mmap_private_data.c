/* A private mapping whose pages are partly the file's and partly the
 * task's own copies (a private mapping of a memfd is refused: bad-input
 * case mem-memfd-private):
 *   D  a 10-page file (page 6 a hole, the last page half written)
 *      mapped MAP_PRIVATE read-write from page 2 on, pages 3 and 6 written
 *      (the hole's page too), then deleted
 * After the restore every page is what the task saw, byte for byte. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test.h"

#define PAGE 4096
#define D_PAGES 10
#define D_OFF 2
#define D_HOLE 6

static unsigned char *d, want_d[D_PAGES - D_OFF][PAGE];
static uint64_t seed;

static void pattern(unsigned char *buf, size_t len, uint64_t tag)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = test_mix(seed ^ tag ^ i);

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

static void make_deleted(void)
{
	unsigned char buf[PAGE];
	char path[512];
	int fd;

	test_path(path, sizeof(path), "privdata.bin");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fail("create %s: %s", path, strerror(errno));
	for (int pg = 0; pg < D_PAGES; pg++) {
		size_t len = pg == D_PAGES - 1 ? PAGE / 2 : PAGE;

		if (pg == D_HOLE)
			continue;
		pattern(buf, len, 0x400 + pg);
		if (pwrite(fd, buf, len, (off_t)pg * PAGE) != (ssize_t)len)
			fail("write %s: %s", path, strerror(errno));
	}
	d = mmap(NULL, (size_t)(D_PAGES - D_OFF) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
		 (off_t)D_OFF * PAGE);
	if (d == MAP_FAILED)
		fail("mmap %s: %s", path, strerror(errno));
	close(fd);
	pattern(d + (3 - D_OFF) * PAGE, PAGE, 0x500 + 3);
	pattern(d + (D_HOLE - D_OFF) * PAGE + 100, 200, 0x500 + D_HOLE);
	if (unlink(path))
		fail("unlink %s: %s", path, strerror(errno));
}

static void check(void)
{
	for (int pg = 0; pg < D_PAGES - D_OFF; pg++)
		if (memcmp(d + (size_t)pg * PAGE, want_d[pg], PAGE))
			fail("deleted file mapping page %d (file page %d) is not what it was", pg,
			     pg + D_OFF);
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	seed = test_seed();
	make_deleted();
	memcpy(want_d, d, sizeof(want_d));
	test_waitsig();

	check();
	pass();
}
