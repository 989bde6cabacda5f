/* Private file mapping with dirtied pages: a 32-page file mapped
 * MAP_PRIVATE, every page read (present, clean), a few written (private
 * copies), a few never touched; plus a read-only private mapping of the
 * same file at a page offset.  After the restore the dirtied pages keep
 * their content, clean pages show the file, the file itself is unchanged,
 * and a new write stays private. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define PAGE		4096
#define NR_PAGES	32
#define OFF_PAGES	4
#define OFF_LEN		8

static const int dirty_pages[] = { 2, 3, 17, 31 };

static bool is_dirty(int pg)
{
	for (size_t i = 0; i < sizeof(dirty_pages) / sizeof(dirty_pages[0]); i++)
		if (dirty_pages[i] == pg)
			return true;
	return false;
}

static bool is_untouched(int pg)
{
	return pg >= 20 && pg < 24;
}

static void file_page(unsigned char *buf, int pg)
{
	memset(buf, 0x11 * (pg % 15 + 1), PAGE);
	snprintf((char *)buf, 32, "file page %d", pg);
}

static void dirty_page(unsigned char *buf, int pg)
{
	memset(buf, 0xd0 + pg % 16, PAGE);
	snprintf((char *)buf + 100, 32, "dirty page %d", pg);
}

static void check_page(const unsigned char *addr, int pg, bool dirty, const char *what)
{
	static unsigned char expect[PAGE];

	if (dirty)
		dirty_page(expect, pg);
	else
		file_page(expect, pg);
	if (memcmp(addr, expect, PAGE))
		fail("%s page %d at %p does not hold its %s content", what, pg, (void *)addr,
		     dirty ? "dirtied" : "file's");
}

static void check_file(const char *path, const struct stat *st0)
{
	static unsigned char buf[PAGE];
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		fail("open %s: %s", path, strerror(errno));
	if (st.st_size != st0->st_size || st.st_mtim.tv_sec != st0->st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != st0->st_mtim.tv_nsec)
		fail("%s changed: size %ld mtime %ld.%09ld", path, (long)st.st_size,
		     (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	for (int pg = 0; pg < NR_PAGES; pg++) {
		if (pread(fd, buf, PAGE, (off_t)pg * PAGE) != PAGE)
			fail("short read of %s page %d", path, pg);
		check_page(buf, pg, false, "on-disk");
	}
	close(fd);
}

/* The mapping must still be a private mapping of the file, at its offset. */
static void check_maps_line(void *addr, const char *path, unsigned long pgoff, const char *perms)
{
	static char maps[256 * 1024];
	char want[64];
	ssize_t n;
	char *line;

	n = test_read_file("/proc/self/maps", maps, sizeof(maps) - 1);
	if (n <= 0)
		fail("can't read /proc/self/maps");
	maps[n] = '\0';
	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	for (line = strtok(maps, "\n"); line; line = strtok(NULL, "\n")) {
		char p[8], file[4096] = "";
		unsigned long off;

		if (strncmp(line, want, strlen(want)))
			continue;
		if (sscanf(line, "%*s %7s %lx %*s %*s %4095s", p, &off, file) < 2)
			fail("bad maps line: %s", line);
		if (strcmp(p, perms) || off != pgoff * PAGE || strcmp(file, path))
			fail("mapping at %p is now '%s', expected %s offset %lx of %s", addr, line,
			     perms, pgoff * PAGE, path);
		return;
	}
	fail("mapping at %p is gone from /proc/self/maps", addr);
}

int main(int argc, char **argv)
{
	static unsigned char buf[PAGE];
	unsigned char *map, *ro;
	char path[4096];
	volatile unsigned char sink = 0;
	struct stat st0;
	int fd;

	test_init(argc, argv);
	test_path(path, sizeof(path), "mmap_private.dat");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fail("create %s: %s", path, strerror(errno));
	for (int pg = 0; pg < NR_PAGES; pg++) {
		file_page(buf, pg);
		if (write(fd, buf, PAGE) != PAGE)
			fail("write %s: %s", path, strerror(errno));
	}
	if (fsync(fd) || fstat(fd, &st0))
		fail("fsync %s: %s", path, strerror(errno));
	map = mmap(NULL, NR_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ro = mmap(NULL, OFF_LEN * PAGE, PROT_READ, MAP_PRIVATE, fd, OFF_PAGES * PAGE);
	if (map == MAP_FAILED || ro == MAP_FAILED)
		fail("mmap %s: %s", path, strerror(errno));
	close(fd);
	for (int pg = 0; pg < NR_PAGES; pg++)
		if (!is_untouched(pg))
			sink += map[pg * PAGE + 7];
	for (int pg = 0; pg < OFF_LEN; pg++)
		sink += ro[pg * PAGE];
	for (int pg = 0; pg < NR_PAGES; pg++)
		if (is_dirty(pg))
			dirty_page(map + pg * PAGE, pg);

	test_waitsig();

	for (int pg = 0; pg < NR_PAGES; pg++)
		check_page(map + pg * PAGE, pg, is_dirty(pg), "mapped");
	for (int pg = 0; pg < OFF_LEN; pg++)
		check_page(ro + pg * PAGE, pg + OFF_PAGES, false, "read-only mapped");
	check_maps_line(map, path, 0, "rw-p");
	check_maps_line(ro, path, OFF_PAGES, "r--p");
	check_file(path, &st0);
	/* A write to a clean page after restore must stay private too. */
	dirty_page(map + 5 * PAGE, 5);
	check_page(map + 5 * PAGE, 5, true, "mapped");
	check_file(path, &st0);
	pass();
}
