/* Files deleted while mapped, as a library an upgrade replaced under a
 * running daemon:
 *   L  a 16-page file (page 9 a hole) mapped MAP_PRIVATE read-write, every
 *      page read, pages 2 and 11 written (private copies), then deleted
 *   R  another file mapped read-only at a page offset, deleted; with
 *      MMAP_DELETED_UPGRADE=1 in the environment a new file of the same
 *      name is made in its place (the upgrade: bad-input case
 *      mmap-deleted-name-taken, as the restored mapping then names an
 *      unnamed file of the directory and the suite's state check, which
 *      compares names, cannot hold)
 * After the restore both mappings show their old contents (L's dirtied
 * pages, its clean pages and its hole; R's pages, not a new file's), both
 * files are still deleted (under their old names unless taken), and a new
 * write to L stays private. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define PAGE 4096
#define L_PAGES 16
#define R_PAGES 6
#define R_OFF 2

static char lpath[512], rpath[512];
static unsigned char *l, *r;

static void file_page(unsigned char *buf, int file, int pg)
{
	memset(buf, 0x21 * (pg % 7 + 1) + file, PAGE);
	snprintf((char *)buf, 48, "file %d page %d", file, pg);
}

static void dirty_page(unsigned char *buf, int pg)
{
	memset(buf, 0xe0 + pg % 16, PAGE);
	snprintf((char *)buf + 64, 32, "dirty page %d", pg);
}

static bool l_dirty(int pg)
{
	return pg == 2 || pg == 11;
}

static void make_file(const char *path, int file, int pages, int hole)
{
	unsigned char buf[PAGE];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	if (fd < 0 || ftruncate(fd, (off_t)pages * PAGE))
		fail("create %s: %s", path, strerror(errno));
	for (int pg = 0; pg < pages; pg++) {
		if (pg == hole)
			continue;
		file_page(buf, file, pg);
		if (pwrite(fd, buf, PAGE, (off_t)pg * PAGE) != PAGE)
			fail("write %s: %s", path, strerror(errno));
	}
	close(fd);
}

static unsigned char *map_file(const char *path, size_t len, int prot, off_t off)
{
	int fd = open(path, prot & PROT_WRITE ? O_RDWR : O_RDONLY);
	unsigned char *m;

	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	m = mmap(NULL, len, prot, MAP_PRIVATE, fd, off);
	if (m == MAP_FAILED)
		fail("mmap %s: %s", path, strerror(errno));
	close(fd);
	return m;
}

static void check_contents(void)
{
	unsigned char want[PAGE];

	for (int pg = 0; pg < L_PAGES; pg++) {
		if (pg == 9)
			memset(want, 0, PAGE);
		else if (l_dirty(pg))
			dirty_page(want, pg);
		else
			file_page(want, 1, pg);
		if (memcmp(l + (size_t)pg * PAGE, want, PAGE))
			fail("L page %d is not what it was", pg);
	}
	for (int pg = 0; pg < R_PAGES; pg++) {
		file_page(want, 2, pg + R_OFF);
		if (memcmp(r + (size_t)pg * PAGE, want, PAGE))
			fail("R page %d is not the deleted file's", pg);
	}
}

/* The maps line of the mapping at ADDR names NAME, deleted. */
static void check_maps(const void *addr, const char *name, bool same_name)
{
	char buf[1 << 16], want[600], *line, *save;
	unsigned long start = (unsigned long)addr;

	if (test_read_file("/proc/self/maps", buf, sizeof(buf)) <= 0)
		fail("read /proc/self/maps: %s", strerror(errno));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strtoul(line, NULL, 16) != start)
			continue;
		if (!strstr(line, " (deleted)"))
			fail("the mapping at %p is not of a deleted file: %s", addr, line);
		snprintf(want, sizeof(want), "%s (deleted)", name);
		if (same_name && !strstr(line, want))
			fail("the mapping at %p is not %s: %s", addr, want, line);
		return;
	}
	fail("no mapping at %p", addr);
}

int main(int argc, char **argv)
{
	struct stat st;

	test_init(argc, argv);
	test_path(lpath, sizeof(lpath), "libdeleted.so.1");
	test_path(rpath, sizeof(rpath), "libupgraded.so.2");
	make_file(lpath, 1, L_PAGES, 9);
	make_file(rpath, 2, R_PAGES + R_OFF, -1);
	l = map_file(lpath, (size_t)L_PAGES * PAGE, PROT_READ | PROT_WRITE, 0);
	r = map_file(rpath, (size_t)R_PAGES * PAGE, PROT_READ, (off_t)R_OFF * PAGE);
	for (int pg = 0; pg < L_PAGES; pg++) {
		volatile unsigned char c = l[(size_t)pg * PAGE];

		(void)c;
		if (l_dirty(pg))
			dirty_page(l + (size_t)pg * PAGE, pg);
	}
	if (unlink(lpath) || unlink(rpath))
		fail("unlink: %s", strerror(errno));
	if (getenv("MMAP_DELETED_UPGRADE"))
		make_file(rpath, 3, 1, -1);
	check_contents();
	check_maps(l, lpath, true);
	test_waitsig();

	check_contents();
	check_maps(l, lpath, true);
	check_maps(r, rpath, !getenv("MMAP_DELETED_UPGRADE"));
	if (stat(lpath, &st) == 0)
		fail("%s exists again", lpath);
	l[5 * PAGE] = 0x7f;
	if (l[5 * PAGE] != 0x7f)
		fail("a new write to L did not stick");
	unlink(rpath);
	pass();
}
