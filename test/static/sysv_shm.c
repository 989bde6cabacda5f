/* A SysV shared memory segment (3 pages and 100 bytes, mode 0640, a key
 * of its own) attached once, with data in pages 0 and 3 and page 2 left
 * zero.  After the restore it is attached at the same address, shmget()
 * of the key finds the same id, IPC_STAT says the same key, size, mode
 * and owner, one attachment, and this pid as the last to attach; the data
 * is there, and a second attachment shares it.  The segment is removed at
 * the end.
 *   A second segment (IPC_PRIVATE, one page) is marked for removal while
 * attached: after the restore it is still attached with its data and its
 * id, still marked, and gone once detached. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "test.h"

#define PAGE 4096
#define SEG_SIZE (3 * PAGE + 100)
#define MODE 0640

static uint64_t seed;

static uint64_t word(int i)
{
	return test_mix(seed + i);
}

static void check_data(const unsigned char *m, const char *what)
{
	const uint64_t *w = (const uint64_t *)m;

	for (int i = 0; i < PAGE / 8; i++)
		if (w[i] != word(i))
			fail("%s: word %d of page 0 differs", what, i);
	for (int i = 2 * PAGE; i < 3 * PAGE; i++)
		if (m[i])
			fail("%s: byte %d of page 2 is not zero", what, i);
	for (int i = 0; i < 100; i++)
		if (m[3 * PAGE + i] != (unsigned char)(word(i) >> 8))
			fail("%s: byte %d of the last page differs", what, i);
}

static void check_stat(int id, key_t key, int nattch)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds))
		fail("IPC_STAT of segment %d: %s", id, strerror(errno));
	if (ds.shm_perm.__key != key || ds.shm_segsz != SEG_SIZE ||
	    (ds.shm_perm.mode & 0777) != MODE || ds.shm_perm.uid != getuid() ||
	    ds.shm_perm.gid != getgid() || (int)ds.shm_nattch != nattch ||
	    ds.shm_lpid != getpid())
		fail("segment %d: key 0x%x size %zu mode 0%o uid %u gid %u nattch %lu lpid %d", id,
		     ds.shm_perm.__key, ds.shm_segsz, ds.shm_perm.mode, ds.shm_perm.uid,
		     ds.shm_perm.gid, (unsigned long)ds.shm_nattch, ds.shm_lpid);
}

/* The removed segment: marked, attached once, its data there; gone
 * after the detach when AFTER. */
static void check_removed(int id, const unsigned char *m, bool after)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds))
		fail("IPC_STAT of the removed segment %d: %s", id, strerror(errno));
	if (!(ds.shm_perm.mode & SHM_DEST) || ds.shm_perm.__key != IPC_PRIVATE ||
	    ds.shm_nattch != 1 || ds.shm_segsz != PAGE)
		fail("removed segment %d: mode 0%o key 0x%x nattch %lu size %zu", id,
		     ds.shm_perm.mode, ds.shm_perm.__key, (unsigned long)ds.shm_nattch,
		     ds.shm_segsz);
	for (int i = 0; i < PAGE / 8; i++)
		if (((const uint64_t *)m)[i] != word(i + 7))
			fail("removed segment %d: word %d differs", id, i);
	if (!after)
		return;
	if (shmdt(m))
		fail("detach the removed segment: %s", strerror(errno));
	if (!shmctl(id, IPC_STAT, &ds) || errno != EINVAL)
		fail("the removed segment %d is still there after its last detach", id);
}

int main(int argc, char **argv)
{
	key_t key;
	unsigned char *m, *m2, *r;
	int id, rid;

	test_init(argc, argv);
	seed = test_seed();
	key = 0x4c4d0000 | (getpid() & 0xffff);
	id = shmget(key, SEG_SIZE, IPC_CREAT | IPC_EXCL | MODE);
	if (id < 0 && errno == EEXIST) {
		/* Left by an earlier run of a pid with the same low bits. */
		shmctl(shmget(key, 0, 0), IPC_RMID, NULL);
		id = shmget(key, SEG_SIZE, IPC_CREAT | IPC_EXCL | MODE);
	}
	if (id < 0)
		fail("shmget 0x%x: %s", key, strerror(errno));
	m = shmat(id, NULL, 0);
	if (m == (void *)-1)
		fail("shmat %d: %s", id, strerror(errno));
	for (int i = 0; i < PAGE / 8; i++)
		((uint64_t *)m)[i] = word(i);
	m[2 * PAGE + 17] = 1;
	m[2 * PAGE + 17] = 0;
	for (int i = 0; i < 100; i++)
		m[3 * PAGE + i] = word(i) >> 8;
	check_stat(id, key, 1);
	rid = shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
	r = rid < 0 ? (void *)-1 : shmat(rid, NULL, 0);
	if (r == (void *)-1 || shmctl(rid, IPC_RMID, NULL))
		fail("the segment to remove: %s", strerror(errno));
	for (int i = 0; i < PAGE / 8; i++)
		((uint64_t *)r)[i] = word(i + 7);
	check_removed(rid, r, false);

	test_waitsig();

	check_removed(rid, r, true);

	if (shmget(key, 0, 0) != id)
		fail("key 0x%x now names segment %d, not %d", key, shmget(key, 0, 0), id);
	check_stat(id, key, 1);
	check_data(m, "attachment");
	m2 = shmat(id, NULL, SHM_RDONLY);
	if (m2 == (void *)-1)
		fail("second shmat %d: %s", id, strerror(errno));
	check_stat(id, key, 2);
	m[PAGE + 5] = 0x77;
	if (m2[PAGE + 5] != 0x77)
		fail("a write at %p is not seen through the second attachment %p", (void *)m,
		     (void *)m2);
	if (shmdt(m2) || shmdt(m) || shmctl(id, IPC_RMID, NULL))
		fail("detach and remove segment %d: %s", id, strerror(errno));
	pass();
}
