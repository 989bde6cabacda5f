/* memfds: after the restore each has its name, permissions, seals, size
 * and contents (holes stay holes) back, each open file description its
 * flags and position, dups still share one, two descriptions of one
 * memfd still see each other's writes, and the seals still hold.
 *   A  "lmproc test A": 100 KiB, a hole, 64 bytes at 2 MiB; sealed against
 *      shrinking and growing; at 777, dup'ed
 *   B  "b" without sealing (F_SEAL_SEAL), mode 0600, 3 bytes; a second
 *      description opened O_RDONLY through /proc/self/fd, at 1
 *   C  "c c": 4096 bytes, write-sealed and sealed */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define A_DATA (100 << 10)
#define A_TAIL_OFF (2 << 20)
#define A_TAIL 64

enum { A, A2, B, B2, C, NR };

struct fd_state {
	int fd;
	int fl;
	int seals;
	off_t pos;
	struct stat st;
	char link[128];
};

static struct fd_state st[NR];
static unsigned char adata[A_DATA + A_TAIL], cdata[4096], buf[A_DATA];

static void save(struct fd_state *s, int fd)
{
	char path[64];
	ssize_t n;

	s->fd = fd;
	s->fl = fcntl(fd, F_GETFL);
	s->seals = fcntl(fd, F_GET_SEALS);
	s->pos = lseek(fd, 0, SEEK_CUR);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, s->link, sizeof(s->link) - 1);
	if (s->fl < 0 || s->seals < 0 || s->pos < 0 || fstat(fd, &s->st) || n < 0)
		fail("fd %d: %s", fd, strerror(errno));
	s->link[n] = '\0';
}

static void check(const struct fd_state *s)
{
	struct fd_state now;

	save(&now, s->fd);
	if (now.fl != s->fl || now.seals != s->seals || now.pos != s->pos)
		fail("fd %d: flags 0%o seals 0x%x pos %ld, were 0%o 0x%x %ld", s->fd, now.fl,
		     now.seals, (long)now.pos, s->fl, s->seals, (long)s->pos);
	if (strcmp(now.link, s->link))
		fail("fd %d is \"%s\", was \"%s\"", s->fd, now.link, s->link);
	if (now.st.st_size != s->st.st_size || now.st.st_mode != s->st.st_mode ||
	    now.st.st_nlink != 0)
		fail("fd %d: size %ld mode 0%o links %lu, were %ld 0%o 0", s->fd,
		     (long)now.st.st_size, now.st.st_mode, (unsigned long)now.st.st_nlink,
		     (long)s->st.st_size, s->st.st_mode);
}

static void expect(int fd, off_t off, const unsigned char *want, size_t len, const char *what)
{
	if (pread(fd, buf, len, off) != (ssize_t)len)
		fail("%s: pread %zu at %ld: %s", what, len, (long)off, strerror(errno));
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (want ? want[i] : 0))
			fail("%s: byte %ld is 0x%02x, expected 0x%02x", what, (long)(off + i),
			     buf[i], want ? want[i] : 0);
}

static int reopen(int fd, int flags)
{
	char path[64];
	int nfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, flags);
	if (nfd < 0)
		fail("open %s: %s", path, strerror(errno));
	return nfd;
}

int main(int argc, char **argv)
{
	int fd[NR], probe;
	uint64_t seed;

	test_init(argc, argv);
	seed = test_seed();
	for (size_t i = 0; i < sizeof(adata); i++)
		adata[i] = (unsigned char)test_mix(seed + i);
	for (size_t i = 0; i < sizeof(cdata); i++)
		cdata[i] = (unsigned char)test_mix(~seed + i);
	fd[A] = memfd_create("lmproc test A", MFD_ALLOW_SEALING);
	fd[B] = memfd_create("b", 0);
	fd[C] = memfd_create("c c", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (fd[A] < 0 || fd[B] < 0 || fd[C] < 0)
		fail("memfd_create: %s", strerror(errno));
	if (pwrite(fd[A], adata, A_DATA, 0) != A_DATA ||
	    pwrite(fd[A], adata + A_DATA, A_TAIL, A_TAIL_OFF) != A_TAIL ||
	    fcntl(fd[A], F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) ||
	    lseek(fd[A], 777, SEEK_SET) != 777)
		fail("memfd A: %s", strerror(errno));
	fd[A2] = dup(fd[A]);
	if (write(fd[B], "xyz", 3) != 3 || fchmod(fd[B], 0600))
		fail("memfd B: %s", strerror(errno));
	fd[B2] = reopen(fd[B], O_RDONLY);
	if (lseek(fd[B2], 1, SEEK_SET) != 1)
		fail("lseek: %s", strerror(errno));
	if (write(fd[C], cdata, sizeof(cdata)) != sizeof(cdata) ||
	    fcntl(fd[C], F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL))
		fail("memfd C: %s", strerror(errno));
	for (int i = 0; i < NR; i++)
		save(&st[i], fd[i]);

	test_waitsig();

	for (int i = 0; i < NR; i++)
		check(&st[i]);
	expect(fd[A], 0, adata, A_DATA, "memfd A");
	for (off_t off = A_DATA; off + A_DATA <= A_TAIL_OFF; off += A_DATA)
		expect(fd[A], off, NULL, A_DATA, "the hole of memfd A");
	expect(fd[A], A_TAIL_OFF, adata + A_DATA, A_TAIL, "the tail of memfd A");
	probe = reopen(fd[A], O_RDONLY);
	if (lseek(probe, A_DATA, SEEK_DATA) != A_TAIL_OFF - A_TAIL_OFF % 4096)
		fail("memfd A has data in its hole (at %ld)",
		     (long)lseek(probe, A_DATA, SEEK_DATA));
	close(probe);
	if (write(fd[A], "AB", 2) != 2 || lseek(fd[A2], 0, SEEK_CUR) != 779)
		fail("memfd A's dup no longer shares its position");
	if (ftruncate(fd[A], 10) != -1 || errno != EPERM)
		fail("memfd A could shrink: its seals are gone");
	if (pwrite(fd[C], "z", 1, 0) != -1 || errno != EPERM)
		fail("memfd C could be written: its seals are gone");
	expect(fd[C], 0, cdata, sizeof(cdata), "memfd C");
	if (fcntl(fd[B], F_ADD_SEALS, F_SEAL_GROW) != -1 || errno != EPERM)
		fail("memfd B could be sealed");
	if (pwrite(fd[B], "Q", 1, 1) != 1)
		fail("write memfd B: %s", strerror(errno));
	expect(fd[B2], 0, (const unsigned char *)"xQz", 3, "memfd B through its second fd");
	pass();
}
