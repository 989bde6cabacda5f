/* The pid fields of SysV objects, in an IPC namespace of the test's own:
 * three children A, C (both exit and are reaped before the checkpoint:
 * their pids must be lent at restore) and B (lives on) and the root R
 * each leave their pid somewhere.  A semaphore set whose sempids are A,
 * R, B (value 0), none (value 0) and C; a queue R sent two messages to,
 * A took one, B sent one (msg_lspid B, msg_lrpid A); an empty queue R
 * sent to and B took from (lspid R, lrpid B); two unattached segments,
 * one made by R and filled by A (shm_cpid R, shm_lpid A), one made by A
 * and filled by C.  After the restore GETPID, IPC_STAT and
 * /proc/sysvipc/ give the same pids, values, messages and bytes, and B
 * ends with status 0 when told to. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define NSEMS 5
#define SEG 8192
#define LEN 24

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

struct msg {
	long mtype;
	char data[LEN];
};

static key_t key;
static int sem, q1, q2, g1, g2;
static unsigned short vals[NSEMS];
static pid_t a, b, c, r;

static unsigned char byte(int i, int salt)
{
	return 1 + (i * 13 + salt) % 251;
}

static void set_val(int n, int v)
{
	if (semctl(sem, n, SETVAL, (union semun){ .val = v }) < 0)
		fail("SETVAL %d of semaphore %d: %s", v, n, strerror(errno));
}

static void send(int id, long type)
{
	struct msg m = { .mtype = type };

	for (int i = 0; i < LEN; i++)
		m.data[i] = byte(i, type);
	if (msgsnd(id, &m, LEN, IPC_NOWAIT))
		fail("msgsnd type %ld on %d: %s", type, id, strerror(errno));
}

static void take(int id, long type)
{
	struct msg m;

	if (msgrcv(id, &m, LEN, type, IPC_NOWAIT) != LEN)
		fail("msgrcv type %ld on %d: %s", type, id, strerror(errno));
}

static void fill(int id, int salt)
{
	unsigned char *m = shmat(id, NULL, 0);

	if (m == (void *)-1)
		fail("shmat %d: %s", id, strerror(errno));
	for (int i = 0; i < SEG; i += 5)
		m[i] = byte(i, salt);
	shmdt(m);
}

static int make_seg(int n)
{
	int id = shmget(key + n, SEG, IPC_CREAT | IPC_EXCL | 0600);

	if (id < 0)
		fail("shmget 0x%x: %s", key + n, strerror(errno));
	return id;
}

/* A: the first semaphore, the first message of queue 1, segment 2 made
 * and segment 1 filled. */
static void child_a(void)
{
	set_val(0, vals[0]);
	take(q1, 1);
	g2 = make_seg(5);
	fill(g1, 1);
	_exit(0);
}

static void child_c(void)
{
	set_val(4, vals[4]);
	fill(g2, 2);
	_exit(0);
}

/* B: lives on; its semaphore, a message sent, one taken. */
static void child_b(int go, int go_w, int done)
{
	char ch = 0;

	close(go_w);
	set_val(2, 0);
	send(q1, 3);
	take(q2, 7);
	if (write(done, &ch, 1) != 1)
		_exit(1);
	/* Until the root closes the pipe. */
	_exit(read(go, &ch, 1) == 0 ? 0 : 1);
}

static pid_t run(void (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (!pid)
		fn();
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child %d ended with status 0x%x", pid, st);
	return pid;
}

static void check_sems(void)
{
	pid_t want[NSEMS] = { a, r, b, 0, c };

	for (int i = 0; i < NSEMS; i++) {
		int pid = semctl(sem, i, GETPID), v = semctl(sem, i, GETVAL);

		if (pid != want[i] || v != vals[i])
			fail("semaphore %d: value %d sempid %d, not %u and %d", i, v, pid, vals[i],
			     want[i]);
	}
}

static void check_queue(int id, unsigned long n, pid_t ls, pid_t lr)
{
	struct msqid_ds ds;

	if (msgctl(id, IPC_STAT, &ds))
		fail("IPC_STAT of queue %d: %s", id, strerror(errno));
	if (ds.msg_qnum != n || ds.msg_lspid != ls || ds.msg_lrpid != lr)
		fail("queue %d: %lu messages, lspid %d lrpid %d; not %lu, %d, %d", id,
		     (unsigned long)ds.msg_qnum, ds.msg_lspid, ds.msg_lrpid, n, ls, lr);
}

static void check_seg(int id, pid_t cpid, pid_t lpid)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds))
		fail("IPC_STAT of segment %d: %s", id, strerror(errno));
	if (ds.shm_cpid != cpid || ds.shm_lpid != lpid || ds.shm_nattch)
		fail("segment %d: cpid %d lpid %d nattch %lu; not %d, %d, 0", id, ds.shm_cpid,
		     ds.shm_lpid, (unsigned long)ds.shm_nattch, cpid, lpid);
}

/* /proc/sysvipc/msg, read as the test's pid namespace: the same pids. */
static void check_proc_msg(void)
{
	char buf[4096], *l;
	int id, lspid, lrpid, seen = 0;

	if (test_read_file("/proc/sysvipc/msg", buf, sizeof(buf)) <= 0)
		fail("can't read /proc/sysvipc/msg");
	for (l = strchr(buf, '\n'); l; l = strchr(l + 1, '\n'))
		if (sscanf(l + 1, "%*d %d %*o %*u %*u %d %d", &id, &lspid, &lrpid) == 3 &&
		    id == q1 && ++seen && (lspid != b || lrpid != a))
			fail("/proc/sysvipc/msg: queue %d lspid %d lrpid %d", id, lspid, lrpid);
	if (!seen)
		fail("/proc/sysvipc/msg does not list queue %d", q1);
}

/* The messages left in queue 1: type 2 (R's), type 3 (B's). */
static void check_messages(void)
{
	struct msg m;

	for (long type = 2; type <= 3; type++) {
		if (msgrcv(q1, &m, LEN, 0, IPC_NOWAIT) != LEN || m.mtype != type)
			fail("queue %d: the next message is type %ld, not %ld", q1, m.mtype, type);
		for (int i = 0; i < LEN; i++)
			if ((unsigned char)m.data[i] != byte(i, type))
				fail("message type %ld: byte %d", type, i);
	}
}

static void check_bytes(int id, int salt)
{
	unsigned char *m = shmat(id, NULL, SHM_RDONLY);

	if (m == (void *)-1)
		fail("shmat %d: %s", id, strerror(errno));
	for (int i = 0; i < SEG; i++)
		if (m[i] != (i % 5 ? 0 : byte(i, salt)))
			fail("segment %d: byte %d is 0x%x", id, i, m[i]);
	shmdt(m);
}

static void check_all(void)
{
	check_sems();
	check_queue(q1, 2, b, a);
	check_queue(q2, 0, r, b);
	check_seg(g1, r, a);
	check_seg(g2, a, c);
	check_proc_msg();
}

int main(int argc, char **argv)
{
	struct sembuf up;
	int go[2], done[2], st = 0;
	uint64_t seed;
	char ch;

	test_init(argc, argv);
	seed = test_seed();
	if (unshare(CLONE_NEWIPC))
		fail("unshare(CLONE_NEWIPC): %s", strerror(errno));
	key = 0x4c500000 | (seed & 0xfff0);
	r = getpid();
	for (int i = 0; i < NSEMS; i++)
		vals[i] = i == 2 || i == 3 ? 0 : 1 + test_mix(seed + i) % 3000;
	sem = semget(key, NSEMS, IPC_CREAT | IPC_EXCL | 0600);
	q1 = msgget(key + 1, IPC_CREAT | IPC_EXCL | 0600);
	q2 = msgget(key + 2, IPC_CREAT | IPC_EXCL | 0600);
	g1 = make_seg(4);
	if (sem < 0 || q1 < 0 || q2 < 0)
		fail("semget/msgget: %s", strerror(errno));
	send(q1, 1);
	send(q1, 2);
	send(q2, 7);
	a = run(child_a);
	g2 = shmget(key + 5, 0, 0);
	c = run(child_c);
	up = (struct sembuf){ 1, (short)vals[1], 0 };
	if (semop(sem, &up, 1))
		fail("semop: %s", strerror(errno));
	if (pipe(go) || pipe(done))
		fail("pipe: %s", strerror(errno));
	b = fork();
	if (b < 0)
		fail("fork: %s", strerror(errno));
	if (!b)
		child_b(go[0], go[1], done[1]);
	close(go[0]);
	if (read(done[0], &ch, 1) != 1)
		fail("child %d did not do its part", b);
	check_all();

	test_waitsig();

	check_all();
	check_bytes(g1, 1);
	check_bytes(g2, 2);
	check_messages();
	close(go[1]);
	if (waitpid(b, &st, 0) != b || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child %d ended with status 0x%x", b, st);
	pass();
}
