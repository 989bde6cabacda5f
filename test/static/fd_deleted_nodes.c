/* Directories and device nodes removed while open (CRIU's rmdir_open and
 * deleted_dev):
 *   D  a directory, mode 0751, owner 1234:5678, an mtime from the run's
 *      seed, opened O_RDONLY|O_DIRECTORY (and dup'ed), then rmdir'ed
 *   N  a character device node 1:5 (as /dev/zero), mode 0640, opened
 *      O_RDWR, then unlinked
 * After the restore each fd has its flags back, fstat says the same type,
 * mode, owner, mtime (D), rdev (N) and link count 0, the paths are still
 * free, D still takes fchdir (and no file may be made in it) and N reads
 * zeros. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "test.h"

#define D_MODE 0751
#define N_MODE 0640
#define UID 1234
#define GID 5678

static char dpath[4096], npath[4096];
static int d, d2, n, dfl, nfl;
static struct stat dst, nst;

static void check_same(const char *name, int fd, const struct stat *was, int fl)
{
	struct stat st;

	if (fcntl(fd, F_GETFL) != fl)
		fail("%s: flags 0%o, were 0%o", name, fcntl(fd, F_GETFL), fl);
	if (fstat(fd, &st))
		fail("%s: fstat: %s", name, strerror(errno));
	if (st.st_mode != was->st_mode || st.st_uid != was->st_uid || st.st_gid != was->st_gid ||
	    st.st_rdev != was->st_rdev || st.st_nlink != 0)
		fail("%s: mode 0%o owner %u:%u rdev %llx links %lu, were 0%o %u:%u %llx 0", name,
		     st.st_mode, st.st_uid, st.st_gid, (unsigned long long)st.st_rdev,
		     (unsigned long)st.st_nlink, was->st_mode, was->st_uid, was->st_gid,
		     (unsigned long long)was->st_rdev);
	if (st.st_mtim.tv_sec != was->st_mtim.tv_sec || st.st_mtim.tv_nsec != was->st_mtim.tv_nsec)
		fail("%s: mtime %lld.%09ld, was %lld.%09ld", name, (long long)st.st_mtim.tv_sec,
		     st.st_mtim.tv_nsec, (long long)was->st_mtim.tv_sec, was->st_mtim.tv_nsec);
}

int main(int argc, char **argv)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT } };
	unsigned char z[16];

	test_init(argc, argv);
	test_path(dpath, sizeof(dpath), "removed-dir");
	test_path(npath, sizeof(npath), "removed-node");
	ts[1].tv_sec = 1000000000 + test_seed() % 100000000;
	ts[1].tv_nsec = test_seed() % 1000000000;
	if (mkdir(dpath, 0700) || chmod(dpath, D_MODE) || chown(dpath, UID, GID) ||
	    utimensat(AT_FDCWD, dpath, ts, 0))
		fail("mkdir %s: %s", dpath, strerror(errno));
	if (mknod(npath, S_IFCHR | N_MODE, makedev(1, 5)) || chmod(npath, N_MODE))
		fail("mknod %s: %s", npath, strerror(errno));
	d = open(dpath, O_RDONLY | O_DIRECTORY);
	n = open(npath, O_RDWR);
	if (d < 0 || n < 0 || (d2 = dup(d)) < 0)
		fail("open: %s", strerror(errno));
	if (rmdir(dpath) || unlink(npath))
		fail("remove: %s", strerror(errno));
	if (fstat(d, &dst) || fstat(n, &nst))
		fail("fstat: %s", strerror(errno));
	dfl = fcntl(d, F_GETFL);
	nfl = fcntl(n, F_GETFL);

	test_waitsig();

	check_same("D", d, &dst, dfl);
	check_same("D's dup", d2, &dst, dfl);
	check_same("N", n, &nst, nfl);
	if (!access(dpath, F_OK) || !access(npath, F_OK))
		fail("%s or %s exists again", dpath, npath);
	if (openat(d, "x", O_CREAT | O_RDWR, 0600) >= 0 || errno != ENOENT)
		fail("D: a file could be made in the removed directory (or not ENOENT: %s)",
		     strerror(errno));
	memset(z, 0xff, sizeof(z));
	if (read(n, z, sizeof(z)) != sizeof(z) || z[0] || z[15])
		fail("N: does not read zeros");
	if (fchdir(d))
		fail("D: fchdir: %s", strerror(errno));
	pass();
}
