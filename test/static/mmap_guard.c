/* Guard pages (MADV_GUARD_INSTALL, Linux 6.13): five pages of private
 * anonymous memory with guards on the second and fourth, and a private
 * file mapping with a guard on its first page.  After the restore the
 * data pages hold their bytes, the guards are guards again (reading one
 * faults: process_vm_readv gets EFAULT; PAGEMAP_SCAN says PAGE_IS_GUARD)
 * and removing them (MADV_GUARD_REMOVE) gives zero pages back. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "test.h"

/* Newer than the Debian 12 headers: include/uapi/asm-generic/mman-common.h
 * (6.13) and include/uapi/linux/fs.h (6.7, 6.14). */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start, end, categories;
};

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD (1 << 8)
#endif

#define PG 4096
#define NR 5

static char *anon, *file;
static uint64_t seed;

static bool guarded(const char *p)
{
	struct iovec local = { .iov_base = (char[1]){ 0 }, .iov_len = 1 };
	struct iovec remote = { .iov_base = (void *)p, .iov_len = 1 };

	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) < 0 && errno == EFAULT;
}

/* PAGEMAP_SCAN's guard pages in [P, P + LEN), as a bit per page. */
static unsigned scan_guards(const char *p, size_t len)
{
	struct page_region r[8];
	struct pm_scan_arg a = {
		.size = sizeof(a), .start = (uintptr_t)p, .end = (uintptr_t)p + len,
		.vec = (uintptr_t)r, .vec_len = 8, .category_mask = PAGE_IS_GUARD,
		.return_mask = PAGE_IS_GUARD,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY);
	unsigned bits = 0;
	long n;

	if (fd < 0)
		fail("open pagemap: %s", strerror(errno));
	n = ioctl(fd, PAGEMAP_SCAN, &a);
	if (n < 0)
		fail("PAGEMAP_SCAN: %s", strerror(errno));
	close(fd);
	for (long i = 0; i < n; i++)
		for (uint64_t q = r[i].start; q < r[i].end; q += PG)
			bits |= 1U << ((q - (uintptr_t)p) / PG);
	return bits;
}

static void fill(char *p, int i)
{
	for (int k = 0; k < PG; k += 8)
		*(uint64_t *)(p + k) = test_mix(seed + i * PG + k);
}

static bool filled(const char *p, int i)
{
	for (int k = 0; k < PG; k += 8)
		if (*(const uint64_t *)(p + k) != test_mix(seed + i * PG + k))
			return false;
	return true;
}

static void guard(char *p)
{
	if (madvise(p, PG, MADV_GUARD_INSTALL))
		fail("MADV_GUARD_INSTALL at %p: %s", (void *)p, strerror(errno));
}

int main(int argc, char **argv)
{
	char path[4096];
	int fd;

	test_init(argc, argv);
	seed = test_seed();
	anon = mmap(NULL, NR * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	for (int i = 0; i < NR; i++)
		fill(anon + i * PG, i);
	guard(anon + PG);
	guard(anon + 3 * PG);
	test_path(path, sizeof(path), "file");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 2 * PG))
		fail("%s: %s", path, strerror(errno));
	file = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (file == MAP_FAILED)
		fail("mmap %s: %s", path, strerror(errno));
	close(fd);
	fill(file + PG, NR + 1);
	guard(file);

	test_waitsig();

	if (scan_guards(anon, NR * PG) != 0xa || scan_guards(file, 2 * PG) != 0x1)
		fail("guard pages after the restore: anon 0x%x (want 0xa), file 0x%x (want 0x1)",
		     scan_guards(anon, NR * PG), scan_guards(file, 2 * PG));
	for (int i = 0; i < NR; i++)
		if ((i == 1 || i == 3) != guarded(anon + i * PG))
			fail("anon page %d: %s", i, guarded(anon + i * PG) ? "a guard" : "no guard");
	if (!guarded(file) || guarded(file + PG))
		fail("file pages: guard %d %d, want 1 0", guarded(file), guarded(file + PG));
	for (int i = 0; i < NR; i += 2)
		if (!filled(anon + i * PG, i))
			fail("anon page %d lost its bytes", i);
	if (!filled(file + PG, NR + 1))
		fail("the file mapping's second page lost its bytes");
	if (madvise(anon, NR * PG, MADV_GUARD_REMOVE))
		fail("MADV_GUARD_REMOVE: %s", strerror(errno));
	if (anon[PG] || anon[3 * PG + PG - 1])
		fail("a former guard page is not zero");
	pass();
}
