/* SysV objects used only by a child: the root makes a queue (a key of its
 * own) and a semaphore set and forks a child that sends three messages,
 * sets the semaphores and then blocks in msgrcv() for type 99 across the
 * checkpoint; the root never uses either object itself, so both belong
 * to the tree only through the child (msg_lspid, sempid).  After the
 * restore the root finds the same ids, the three messages (lspid the
 * child's) and the values (sempid the child's), takes the type-2 message,
 * and sends type 99: the child's restarted msgrcv() must get exactly it
 * and the child exit 0.  Both objects are removed at the end. */
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define LEN 40
#define NSEMS 3
#define WAKE_TYPE 99

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

struct msg {
	long mtype;
	char data[LEN];
};

static uint64_t seed;

static void fill_msg(struct msg *m, long type)
{
	m->mtype = type;
	for (int i = 0; i < LEN; i++)
		m->data[i] = test_mix(seed + type * 131 + i);
}

static unsigned short value(int i)
{
	return 1 + test_mix(seed + 7 + i) % 1000;
}

/* The child: its exit status says whether the wake-up message came. */
static void child(int q, int s)
{
	unsigned short vals[NSEMS];
	struct msg m, want;

	for (long t = 1; t <= 3; t++) {
		fill_msg(&m, t);
		if (msgsnd(q, &m, LEN, 0))
			_exit(2);
	}
	for (int i = 0; i < NSEMS; i++)
		vals[i] = value(i);
	if (semctl(s, 0, SETALL, (union semun){ .array = vals }))
		_exit(3);
	if (msgrcv(q, &m, LEN, WAKE_TYPE, 0) != LEN)
		_exit(4);
	fill_msg(&want, WAKE_TYPE);
	_exit(memcmp(&m, &want, sizeof(m)) ? 5 : 0);
}

static void check_objects(int q, int s, pid_t c)
{
	unsigned short vals[NSEMS];
	struct msqid_ds ds;

	if (msgctl(q, IPC_STAT, &ds))
		fail("IPC_STAT of queue %d: %s", q, strerror(errno));
	if (ds.msg_qnum != 3 || ds.__msg_cbytes != 3 * LEN || ds.msg_lspid != c)
		fail("queue %d: qnum %lu cbytes %lu lspid %d (child %d)", q,
		     (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes, ds.msg_lspid, c);
	if (semctl(s, 0, GETALL, (union semun){ .array = vals }))
		fail("GETALL of set %d: %s", s, strerror(errno));
	for (int i = 0; i < NSEMS; i++)
		if (vals[i] != value(i) || semctl(s, i, GETPID) != c)
			fail("set %d: semaphore %d is %u (last pid %d), not %u (child %d)", s, i,
			     vals[i], semctl(s, i, GETPID), value(i), c);
}

static int make(key_t key, bool sem)
{
	int id = sem ? semget(key, NSEMS, IPC_CREAT | IPC_EXCL | 0600) :
		       msgget(key, IPC_CREAT | IPC_EXCL | 0600);

	if (id < 0 && errno == EEXIST) {
		/* Left by an earlier run of a pid with the same low bits. */
		if (sem)
			semctl(semget(key, 0, 0), 0, IPC_RMID);
		else
			msgctl(msgget(key, 0), IPC_RMID, NULL);
		id = sem ? semget(key, NSEMS, IPC_CREAT | IPC_EXCL | 0600) :
			   msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	}
	if (id < 0)
		fail("make key 0x%x: %s", key, strerror(errno));
	return id;
}

int main(int argc, char **argv)
{
	struct msqid_ds ds = {};
	struct msg m, want;
	key_t key;
	int q, s, st;
	pid_t c;

	test_init(argc, argv);
	seed = test_seed();
	key = 0x4c540000 | (getpid() & 0xffff);
	q = make(key, false);
	s = make(key, true);
	c = fork();
	if (c < 0)
		fail("fork: %s", strerror(errno));
	if (!c)
		child(q, s);
	/* Ready once the child has set everything up. */
	for (int i = 0; i < 5000 && (semctl(s, NSEMS - 1, GETPID) != c || ds.msg_qnum != 3); i++) {
		usleep(1000);
		if (msgctl(q, IPC_STAT, &ds))
			fail("IPC_STAT of queue %d: %s", q, strerror(errno));
	}
	check_objects(q, s, c);

	test_waitsig();

	if (msgget(key, 0) != q || semget(key, 0, 0) != s)
		fail("key 0x%x names queue %d and set %d, not %d and %d", key, msgget(key, 0),
		     semget(key, 0, 0), q, s);
	check_objects(q, s, c);
	fill_msg(&want, 2);
	if (msgrcv(q, &m, LEN, 2, IPC_NOWAIT) != LEN || memcmp(&m, &want, sizeof(m)))
		fail("the type-2 message of queue %d is not the child's", q);
	fill_msg(&m, WAKE_TYPE);
	if (msgsnd(q, &m, LEN, 0))
		fail("msgsnd to queue %d: %s", q, strerror(errno));
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child %d: status 0x%x (4: msgrcv failed, 5: wrong message)", c, st);
	if (msgctl(q, IPC_STAT, &ds) || ds.msg_qnum != 2 || ds.msg_lrpid != c)
		fail("queue %d after the wake-up: qnum %lu lrpid %d", q, (unsigned long)ds.msg_qnum,
		     ds.msg_lrpid);
	if (msgctl(q, IPC_RMID, NULL) || semctl(s, 0, IPC_RMID))
		fail("remove queue %d and set %d: %s", q, s, strerror(errno));
	pass();
}
