/* Shared writable mappings of tmpfs objects:
 *   F  a file in /dev/shm mapped shared (8 pages, no fd kept)
 *   M  a memfd held as an fd and mapped shared: pages written through the
 *      fd and through the mapping
 *   N  a memfd whose fd was closed: only its mapping (with a hole) holds it
 *   D  a /dev/shm file unlinked after it was mapped (2 pages, the first
 *      never written), as shm_unlink() leaves it
 *   E  the same, with its fd kept: mapping and fd stay one file
 * After the restore each mapping has its content; a write through M's
 * mapping is seen through the fd and a write through the fd in the
 * mapping (one object, not a copy); F's mapping and the file at its path
 * are one object too.  The file is removed at the end (with
 * --leave-running the restore makes it again). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "test.h"

#define PAGE 4096
#define F_PAGES 8
#define M_PAGES 6
#define N_PAGES 4
#define D_PAGES 2

static uint64_t seed;

static uint64_t word(int obj, int pg, int i)
{
	return test_mix(seed + obj * 1000003ULL + pg * PAGE + i);
}

static void fill(unsigned char *m, int obj, int pg)
{
	for (int i = 0; i < PAGE / 8; i++)
		((uint64_t *)(m + pg * PAGE))[i] = word(obj, pg, i);
}

static void check(const unsigned char *m, int obj, int pg, const char *what)
{
	for (int i = 0; i < PAGE / 8; i++)
		if (((const uint64_t *)(m + pg * PAGE))[i] != word(obj, pg, i))
			fail("%s: page %d word %d differs", what, pg, i);
}

static void *map_fd(int fd, size_t len)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	return m;
}

/* A write on each side is seen on the other. */
static void check_one_object(unsigned char *m, int fd, off_t off, const char *what)
{
	unsigned char b = m[off] ^ 0x3c, r = 0;

	m[off] = b;
	if (pread(fd, &r, 1, off) != 1 || r != b)
		fail("%s: a write through the mapping is not seen through the fd", what);
	b ^= 0xff;
	if (pwrite(fd, &b, 1, off) != 1 || m[off] != b)
		fail("%s: a write through the fd is not seen in the mapping", what);
	b ^= 0xff ^ 0x3c;
	m[off] = b;
}

/* D (or E) is still a file without a name, with its data. */
static void check_deleted(unsigned char *dm)
{
	char link[96], target[256];
	struct stat st;
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/self/map_files/%lx-%lx", (unsigned long)dm,
		 (unsigned long)dm + D_PAGES * PAGE);
	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0 || stat(link, &st))
		fail("%s: %s", link, strerror(errno));
	target[len] = '\0';
	if (st.st_nlink || !strstr(target, " (deleted)"))
		fail("the unlinked file mapped at %p is %s with %lu links", (void *)dm, target,
		     (unsigned long)st.st_nlink);
	for (int i = 0; i < PAGE; i++)
		if (dm[i])
			fail("unlinked file: page 0, never written, is not zero");
	check(dm, 3, 1, "unlinked /dev/shm file mapping");
}

int main(int argc, char **argv)
{
	unsigned char *f, *mm, *n, *dm, *em;
	char path[128], dpath[128];
	struct statfs sf;
	int ffd, mfd, nfd, efd;

	test_init(argc, argv);
	seed = test_seed();
	if (statfs("/dev/shm", &sf) || sf.f_type != TMPFS_MAGIC)
		fail("/dev/shm is not tmpfs here");
	snprintf(path, sizeof(path), "/dev/shm/lmproc-shm_devshm.%d", getpid());
	ffd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0640);
	if (ffd < 0 || ftruncate(ffd, F_PAGES * PAGE))
		fail("create %s: %s", path, strerror(errno));
	f = map_fd(ffd, F_PAGES * PAGE);
	close(ffd);
	for (int pg = 0; pg < F_PAGES; pg++)
		fill(f, 0, pg);

	mfd = memfd_create("lmproc shm M", 0);
	if (mfd < 0 || ftruncate(mfd, M_PAGES * PAGE))
		fail("memfd M: %s", strerror(errno));
	mm = map_fd(mfd, M_PAGES * PAGE);
	fill(mm, 1, 0);
	fill(mm, 1, 1);
	for (int pg = 2; pg < M_PAGES; pg++) {
		static unsigned char buf[PAGE];

		for (int i = 0; i < PAGE / 8; i++)
			((uint64_t *)buf)[i] = word(1, pg, i);
		if (pwrite(mfd, buf, PAGE, pg * PAGE) != PAGE)
			fail("write memfd M: %s", strerror(errno));
	}

	nfd = memfd_create("lmproc shm N", 0);
	if (nfd < 0 || ftruncate(nfd, N_PAGES * PAGE))
		fail("memfd N: %s", strerror(errno));
	n = map_fd(nfd, N_PAGES * PAGE);
	close(nfd);
	fill(n, 2, 0);
	fill(n, 2, 3);

	snprintf(dpath, sizeof(dpath), "/dev/shm/lmproc-shm_devshm-d.%d", getpid());
	ffd = open(dpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (ffd < 0 || ftruncate(ffd, D_PAGES * PAGE))
		fail("create %s: %s", dpath, strerror(errno));
	dm = map_fd(ffd, D_PAGES * PAGE);
	if (unlink(dpath))
		fail("unlink %s: %s", dpath, strerror(errno));
	close(ffd);
	fill(dm, 3, 1);
	check_deleted(dm);
	snprintf(dpath, sizeof(dpath), "/dev/shm/lmproc-shm_devshm-e.%d", getpid());
	efd = open(dpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (efd < 0 || ftruncate(efd, D_PAGES * PAGE))
		fail("create %s: %s", dpath, strerror(errno));
	em = map_fd(efd, D_PAGES * PAGE);
	if (unlink(dpath))
		fail("unlink %s: %s", dpath, strerror(errno));
	fill(em, 3, 1);
	check_deleted(em);

	test_waitsig();

	for (int pg = 0; pg < F_PAGES; pg++)
		check(f, 0, pg, "/dev/shm file mapping");
	for (int pg = 0; pg < M_PAGES; pg++)
		check(mm, 1, pg, "memfd M mapping");
	check(n, 2, 0, "memfd N mapping");
	check(n, 2, 3, "memfd N mapping");
	for (int i = 0; i < 2 * PAGE; i++)
		if (n[PAGE + i])
			fail("memfd N: page %d, never written, is not zero", 1 + i / PAGE);
	check_deleted(dm);
	check_deleted(em);
	check_one_object(em, efd, PAGE + 3, "unlinked file E");
	check_one_object(mm, mfd, 2 * PAGE + 5, "memfd M");
	check_one_object(mm, mfd, 5, "memfd M");
	ffd = open(path, O_RDWR);
	if (ffd < 0)
		fail("open %s after restore: %s", path, strerror(errno));
	check_one_object(f, ffd, 3 * PAGE + 1, path);
	close(ffd);
	unlink(path);
	pass();
}
