/* Two SysV semaphore sets: one with a key of its own (5 semaphores at
 * seeded values, mode 0640) and a private one (1 semaphore).  After the
 * restore semget() of the key finds the same id, IPC_STAT says the same
 * key, size, mode and owner, every value is what it was and this pid
 * the last to have changed it, and semop still
 * works: a decrement and an increment land, a decrement below zero with
 * IPC_NOWAIT fails with EAGAIN.  Both sets are removed at the end. */
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

#include "test.h"

#define NSEMS 5
#define MODE 0640

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static unsigned short vals[NSEMS];

static void check_set(int id, key_t key, int nsems, const unsigned short *want)
{
	unsigned short got[NSEMS];
	struct semid_ds ds;
	union semun arg = { .buf = &ds };

	if (semctl(id, 0, IPC_STAT, arg) < 0)
		fail("IPC_STAT of set %d: %s", id, strerror(errno));
	if (ds.sem_perm.__key != key || (int)ds.sem_nsems != nsems ||
	    (ds.sem_perm.mode & 0777) != MODE || ds.sem_perm.uid != getuid() ||
	    ds.sem_perm.gid != getgid())
		fail("set %d: key 0x%x nsems %lu mode 0%o uid %u gid %u", id, ds.sem_perm.__key,
		     (unsigned long)ds.sem_nsems, ds.sem_perm.mode, ds.sem_perm.uid,
		     ds.sem_perm.gid);
	arg.array = got;
	if (semctl(id, 0, GETALL, arg) < 0)
		fail("GETALL of set %d: %s", id, strerror(errno));
	for (int i = 0; i < nsems; i++) {
		if (got[i] != want[i] || semctl(id, i, GETVAL) != want[i])
			fail("set %d: semaphore %d is %u, not %u", id, i, got[i], want[i]);
		/* What makes the set this process's for a dump. */
		if (semctl(id, i, GETPID) != getpid())
			fail("set %d: semaphore %d was used last by pid %d", id, i,
			     semctl(id, i, GETPID));
	}
}

static int make_set(key_t key, int nsems)
{
	int id = semget(key, nsems, IPC_CREAT | IPC_EXCL | MODE);

	if (id < 0 && errno == EEXIST) {
		/* Left by an earlier run of a pid with the same low bits. */
		semctl(semget(key, 0, 0), 0, IPC_RMID);
		id = semget(key, nsems, IPC_CREAT | IPC_EXCL | MODE);
	}
	if (id < 0)
		fail("semget 0x%x: %s", key, strerror(errno));
	return id;
}

static void check_semop(int id, key_t key)
{
	struct sembuf ops[2] = { { 0, -1, 0 }, { 4, 3, 0 } };
	struct sembuf over = { 1, -(short)(vals[1] + 1), IPC_NOWAIT };

	if (semop(id, ops, 2))
		fail("semop on set %d: %s", id, strerror(errno));
	vals[0]--;
	vals[4] += 3;
	check_set(id, key, NSEMS, vals);
	if (semop(id, &over, 1) == 0 || errno != EAGAIN)
		fail("a decrement of semaphore 1 below zero did not fail with EAGAIN: %s",
		     strerror(errno));
}

int main(int argc, char **argv)
{
	unsigned short one = 0;
	key_t key;
	uint64_t seed;
	int id, pid_set;

	test_init(argc, argv);
	seed = test_seed();
	key = 0x4c530000 | (getpid() & 0xffff);
	id = make_set(key, NSEMS);
	for (int i = 0; i < NSEMS; i++)
		vals[i] = 1 + test_mix(seed + i) % 30000;
	if (semctl(id, 0, SETALL, (union semun){ .array = vals }) < 0)
		fail("SETALL of set %d: %s", id, strerror(errno));
	check_set(id, key, NSEMS, vals);
	pid_set = make_set(IPC_PRIVATE, 1);
	one = test_mix(seed) % 100 + 7;
	if (semctl(pid_set, 0, SETVAL, (union semun){ .val = one }) < 0)
		fail("SETVAL of set %d: %s", pid_set, strerror(errno));

	test_waitsig();

	if (semget(key, 0, 0) != id)
		fail("key 0x%x now names set %d, not %d", key, semget(key, 0, 0), id);
	check_set(id, key, NSEMS, vals);
	check_set(pid_set, IPC_PRIVATE, 1, &one);
	check_semop(id, key);
	if (semctl(id, 0, IPC_RMID) || semctl(pid_set, 0, IPC_RMID))
		fail("remove the sets: %s", strerror(errno));
	pass();
}
