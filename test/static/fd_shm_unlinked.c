/* Deleted files opened with O_NOFOLLOW, as shm_open(3) opens every file:
 *   S  shm_open'ed in /dev/shm, sized, mapped shared, written, then
 *      shm_unlink'ed: the anonymous shared memory of programs older than
 *      memfd_create
 *   F  a file of the test's directory opened O_RDWR|O_NOFOLLOW|O_APPEND,
 *      written, unlinked; and a second description of it, O_RDONLY
 * After the restore every fd has its flags back (O_NOFOLLOW too), its
 * contents and position, S's mapping still shares its pages with the fd,
 * and F's two descriptions still see each other's writes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test.h"

#define S_SIZE (64 << 10)

enum { S, F, F2, NR };

static const char *const names[NR] = { "S", "F", "F2" };
static int fds[NR], flags[NR];

int main(int argc, char **argv)
{
	char name[64], path[4096], word[32], buf[32];
	uint64_t seed;
	char *m;

	test_init(argc, argv);
	seed = test_seed();
	snprintf(word, sizeof(word), "%016llx", (unsigned long long)seed);
	snprintf(name, sizeof(name), "/lmproc-test-shm-%d", getpid());
	fds[S] = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fds[S] < 0 || ftruncate(fds[S], S_SIZE))
		fail("shm_open %s: %s", name, strerror(errno));
	m = mmap(NULL, S_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[S], 0);
	if (m == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	memcpy(m + S_SIZE - 16, word, 16);
	if (shm_unlink(name))
		fail("shm_unlink: %s", strerror(errno));
	test_path(path, sizeof(path), "f");
	fds[F] = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND, 0600);
	fds[F2] = open(path, O_RDONLY | O_NOFOLLOW);
	if (fds[F] < 0 || fds[F2] < 0 || write(fds[F], word, 16) != 16 || unlink(path))
		fail("file %s: %s", path, strerror(errno));
	for (int i = 0; i < NR; i++)
		flags[i] = fcntl(fds[i], F_GETFL);

	test_waitsig();

	for (int i = 0; i < NR; i++)
		if (fcntl(fds[i], F_GETFL) != flags[i])
			fail("%s: flags 0%o, were 0%o", names[i], fcntl(fds[i], F_GETFL), flags[i]);
	if (pread(fds[S], buf, 16, S_SIZE - 16) != 16 || memcmp(buf, word, 16))
		fail("S: its contents are not what was written through the mapping");
	m[0] = 'x';
	if (pread(fds[S], buf, 1, 0) != 1 || buf[0] != 'x')
		fail("S: the mapping no longer shares the fd's pages");
	if (lseek(fds[F], 0, SEEK_CUR) != 16 || write(fds[F], "tail", 4) != 4)
		fail("F: position or write: %s", strerror(errno));
	if (pread(fds[F2], buf, 20, 0) != 20 || memcmp(buf, word, 16) || memcmp(buf + 16, "tail", 4))
		fail("F2 does not see what F wrote");
	pass();
}
