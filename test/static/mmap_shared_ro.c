/* Read-only shared file mapping: after the restore the mapping shows the
 * file's content and is still backed by the file itself (a change written
 * to the file through a new descriptor shows up in the mapping), not by a
 * private copy.  The file is put back as it was, mtime included: with
 * --leave-running the original runs these checks before the restored copy
 * is restored, and lmproc rightly refuses a mapped file that changed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define PAGE		4096
#define NR_PAGES	16

static void file_page(unsigned char *buf, int pg, uint64_t seed)
{
	for (int i = 0; i < PAGE / 8; i++)
		((uint64_t *)buf)[i] = test_mix(seed + pg * PAGE + i);
}

int main(int argc, char **argv)
{
	static unsigned char buf[PAGE];
	const char *marker = "written after restore";
	volatile unsigned char sink = 0;
	unsigned char *map;
	char path[4096], saved[64];
	struct stat st;
	uint64_t seed;
	int fd;

	test_init(argc, argv);
	seed = test_seed();
	test_path(path, sizeof(path), "mmap_shared_ro.dat");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fail("create %s: %s", path, strerror(errno));
	for (int pg = 0; pg < NR_PAGES; pg++) {
		file_page(buf, pg, seed);
		if (write(fd, buf, PAGE) != PAGE)
			fail("write %s: %s", path, strerror(errno));
	}
	close(fd);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	map = mmap(NULL, NR_PAGES * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || fstat(fd, &st))
		fail("mmap %s: %s", path, strerror(errno));
	close(fd);
	for (int pg = 0; pg < NR_PAGES; pg += 2)
		sink += map[pg * PAGE];

	test_waitsig();

	for (int pg = 0; pg < NR_PAGES; pg++) {
		file_page(buf, pg, seed);
		if (memcmp(map + pg * PAGE, buf, PAGE))
			fail("shared mapping page %d at %p differs from the file", pg,
			     (void *)(map + pg * PAGE));
	}
	fd = open(path, O_WRONLY);
	memcpy(saved, map + 3 * PAGE + 10, strlen(marker));
	if (fd < 0 || pwrite(fd, marker, strlen(marker), 3 * PAGE + 10) != (ssize_t)strlen(marker))
		fail("write to %s after restore: %s", path, strerror(errno));
	if (memcmp(map + 3 * PAGE + 10, marker, strlen(marker)))
		fail("shared mapping at %p no longer follows the file %s", (void *)map, path);
	if (pwrite(fd, saved, strlen(marker), 3 * PAGE + 10) != (ssize_t)strlen(marker) ||
	    futimens(fd, (struct timespec[]){ st.st_atim, st.st_mtim }))
		fail("putting back %s: %s", path, strerror(errno));
	close(fd);
	pass();
}
