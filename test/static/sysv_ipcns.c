/* SysV objects of an IPC namespace of the test's own (unshare, as
 * containers and `unshare --ipc` do), each with an id chosen through the
 * namespace's *_next_id:
 *  - a semaphore set (3 semaphores, values 5 0 42, mode 0640);
 *  - a message queue (mode 0620, 65536 bytes at most: msgmnb when it was
 *    made) holding three messages of types 1 2 3;
 *  - a segment of 3 pages and 100 bytes attached, written, and shared
 *    with a child through its attachment;
 *  - a segment of 2 pages not attached, written in page 0 only;
 *  - a private segment attached and marked for removal (IPC_RMID);
 * and msg_next_id set to 70 at the end, and the limits lowered below
 * what the objects need (msgmnb, shmmax, msgmni, shmmni, sem; msgmax too,
 * but not below the messages, which MSG_COPY could not copy then): the
 * kernel lets a namespace do so once they exist.  After the restore
 * every object has its key, id, mode, owner and contents (the queue its
 * size, 65536 bytes, above what a new namespace allows), msg_next_id and the limits are as they were, and
 * all of them work: the messages come in order, semop() counts, the child
 * (blocked in a read across the checkpoint) sees the root's write to the
 * shared segment and answers through it and the semaphore set, the
 * unattached segment attaches with its bytes, and the removed one goes
 * with its last detach. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define PAGE 4096
#define SEG_SIZE (3 * PAGE + 100)
#define LONE_SIZE (2 * PAGE)
#define SEM_ID 57
#define MSG_ID 33
#define SEG_ID 21
#define LONE_ID 22
#define RM_ID 23
#define MSG_NEXT 70
#define QBYTES 65536
#define NSEMS 3
#define LEN 32

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

struct msg {
	long mtype;
	char text[LEN];
};

/* Each lower than what the objects need. */
static const struct {
	const char *name, *value;
} limits[] = {
	{ "msgmax", "64" }, { "msgmnb", "100" }, { "shmmax", "4096" },
	{ "msgmni", "1" }, { "shmmni", "3" }, { "sem", "250\t32000\t32\t1" },
};

static uint64_t seed;
static key_t key_sem, key_msg, key_seg, key_lone;

static void write_sysctl(const char *name, int value)
{
	char path[64], buf[16];
	int fd, n;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	n = snprintf(buf, sizeof(buf), "%d", value);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, n) != n)
		fail("write %d to %s: %s", value, path, strerror(errno));
	close(fd);
}

static int read_sysctl(const char *name)
{
	char path[64], buf[16] = "";
	int v;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	if (test_read_file(path, buf, sizeof(buf) - 1) <= 0 || sscanf(buf, "%d", &v) != 1)
		fail("read %s", path);
	return v;
}

static void lower_limits(void)
{
	char path[64];

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		ssize_t n = strlen(limits[i].value);
		int fd;

		snprintf(path, sizeof(path), "/proc/sys/kernel/%s", limits[i].name);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, limits[i].value, n) != n)
			fail("write %s to %s: %s", limits[i].value, path, strerror(errno));
		close(fd);
	}
}

static void check_limits(void)
{
	char path[64], buf[64];

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/sys/kernel/%s", limits[i].name);
		memset(buf, 0, sizeof(buf));
		n = test_read_file(path, buf, sizeof(buf) - 1);
		if (n <= 0 || buf[n - 1] != '\n' || (buf[n - 1] = '\0', strcmp(buf, limits[i].value)))
			fail("%s is \"%s\", not \"%s\"", path, buf, limits[i].value);
	}
}

static unsigned char byte(int i)
{
	return test_mix(seed + i) >> 16;
}

static void text(char *buf, long type)
{
	snprintf(buf, LEN, "msg %ld of %llx", type, (unsigned long long)seed);
}

static void check_perm(const struct ipc_perm *p, key_t key, unsigned int mode, const char *what)
{
	if (p->__key != key || (p->mode & 0777) != mode || p->uid != getuid() ||
	    p->gid != getgid())
		fail("%s: key 0x%x mode 0%o uid %u gid %u", what, p->__key, p->mode, p->uid,
		     p->gid);
}

static void make_sem(void)
{
	unsigned short vals[NSEMS] = { 5, 0, 42 };
	union semun arg = { .array = vals };
	int id;

	write_sysctl("sem_next_id", SEM_ID);
	id = semget(key_sem, NSEMS, IPC_CREAT | IPC_EXCL | 0640);
	if (id != SEM_ID || semctl(id, 0, SETALL, arg))
		fail("semaphore set: id %d: %s", id, strerror(errno));
}

static void make_msg(void)
{
	struct msg m;
	int id;

	/* Its size is msgmnb's now: above a new namespace's. */
	write_sysctl("msgmnb", QBYTES);
	write_sysctl("msg_next_id", MSG_ID);
	id = msgget(key_msg, IPC_CREAT | IPC_EXCL | 0620);
	if (id != MSG_ID)
		fail("message queue: id %d: %s", id, strerror(errno));
	for (long t = 1; t <= 3; t++) {
		m.mtype = t;
		text(m.text, t);
		if (msgsnd(id, &m, strlen(m.text) + 1, IPC_NOWAIT))
			fail("msgsnd type %ld: %s", t, strerror(errno));
	}
}

static unsigned char *make_seg(key_t key, int id, size_t size, int mode)
{
	unsigned char *m;

	write_sysctl("shm_next_id", id);
	if (shmget(key, size, IPC_CREAT | IPC_EXCL | mode) != id)
		fail("segment %d: %s", id, strerror(errno));
	m = shmat(id, NULL, 0);
	if (m == (void *)-1)
		fail("shmat %d: %s", id, strerror(errno));
	return m;
}

/* Detaches the removed segment (the fork attached it here too) and says
 * so; blocked in a read across the checkpoint; then checks the root's
 * byte in the shared segment, answers with its own and semop +1 on sem
 * 1. */
static void child(unsigned char *seg, unsigned char *r, int rfd, int wfd)
{
	struct sembuf up = { .sem_num = 1, .sem_op = 1 };
	char c = 'd';

	if (shmdt(r) || write(wfd, &c, 1) != 1)
		_exit(3);
	if (read(rfd, &c, 1) != 1 || seg[PAGE + 1] != 0x5a)
		_exit(1);
	seg[PAGE + 2] = 0xa5;
	_exit(semop(SEM_ID, &up, 1) ? 2 : 0);
}

static void check_sem(void)
{
	unsigned short vals[NSEMS];
	struct semid_ds ds;
	union semun arg = { .buf = &ds };

	if (semget(key_sem, 0, 0) != SEM_ID || semctl(SEM_ID, 0, IPC_STAT, arg))
		fail("semaphore set key 0x%x: %s", key_sem, strerror(errno));
	check_perm(&ds.sem_perm, key_sem, 0640, "semaphore set");
	arg.array = vals;
	if (ds.sem_nsems != NSEMS || semctl(SEM_ID, 0, GETALL, arg) || vals[0] != 5 ||
	    vals[1] != 0 || vals[2] != 42)
		fail("semaphore set: %lu semaphores, values %u %u %u", (unsigned long)ds.sem_nsems,
		     vals[0], vals[1], vals[2]);
}

static void check_msg(void)
{
	struct msqid_ds ds;
	struct msg m;
	char want[LEN];

	if (msgget(key_msg, 0) != MSG_ID || msgctl(MSG_ID, IPC_STAT, &ds))
		fail("message queue key 0x%x: %s", key_msg, strerror(errno));
	check_perm(&ds.msg_perm, key_msg, 0620, "message queue");
	if (ds.msg_qnum != 3 || ds.msg_qbytes != QBYTES)
		fail("message queue: %lu messages, %lu bytes at most", (unsigned long)ds.msg_qnum,
		     (unsigned long)ds.msg_qbytes);
	for (long t = 1; t <= 3; t++) {
		text(want, t);
		if (msgrcv(MSG_ID, &m, LEN, 0, IPC_NOWAIT) != (ssize_t)strlen(want) + 1 ||
		    m.mtype != t || strcmp(m.text, want))
			fail("message %ld: type %ld \"%.*s\"", t, m.mtype, LEN, m.text);
	}
}

static void check_seg(int id, key_t key, size_t size, int mode, int nattch)
{
	struct shmid_ds ds;
	char what[32];

	snprintf(what, sizeof(what), "segment %d", id);
	if ((key != IPC_PRIVATE && shmget(key, 0, 0) != id) || shmctl(id, IPC_STAT, &ds))
		fail("%s key 0x%x: %s", what, key, strerror(errno));
	check_perm(&ds.shm_perm, key, mode, what);
	if (ds.shm_segsz != size || (int)ds.shm_nattch != nattch)
		fail("%s: %zu bytes, %lu attachments", what, ds.shm_segsz,
		     (unsigned long)ds.shm_nattch);
}

static void check_lone(void)
{
	unsigned char *m;

	check_seg(LONE_ID, key_lone, LONE_SIZE, 0600, 0);
	m = shmat(LONE_ID, NULL, 0);
	if (m == (void *)-1)
		fail("shmat the unattached segment: %s", strerror(errno));
	for (int i = 0; i < LONE_SIZE; i++)
		if (m[i] != (i < PAGE ? byte(i + 3) : 0))
			fail("unattached segment: byte %d is 0x%x", i, m[i]);
	shmdt(m);
}

static void check_removed(unsigned char *r)
{
	struct shmid_ds ds;

	if (shmctl(RM_ID, IPC_STAT, &ds) || !(ds.shm_perm.mode & SHM_DEST) ||
	    ds.shm_nattch != 1)
		fail("removed segment: mode 0%o, %lu attachments: %s", ds.shm_perm.mode,
		     (unsigned long)ds.shm_nattch, strerror(errno));
	for (int i = 0; i < PAGE; i++)
		if (r[i] != byte(i + 9))
			fail("removed segment: byte %d differs", i);
	if (shmdt(r) || !shmctl(RM_ID, IPC_STAT, &ds) || errno != EINVAL)
		fail("the removed segment is still there after its last detach");
}

/* The root writes, the child answers through the segment and sem 1. */
static void talk(unsigned char *seg, int wfd, pid_t pid)
{
	struct sembuf down = { .sem_num = 1, .sem_op = -1 };
	struct timespec ts = { .tv_sec = 10 };
	int status;

	seg[PAGE + 1] = 0x5a;
	if (write(wfd, "g", 1) != 1)
		fail("wake the child: %s", strerror(errno));
	if (semtimedop(SEM_ID, &down, 1, &ts))
		fail("the child's semop never came: %s", strerror(errno));
	if (seg[PAGE + 2] != 0xa5)
		fail("the child's write to the shared segment is not seen");
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child ended with status 0x%x", status);
}

int main(int argc, char **argv)
{
	unsigned char *seg, *r, *lone;
	int p[2], q[2];
	pid_t pid;
	char c;

	test_init(argc, argv);
	seed = test_seed();
	if (unshare(CLONE_NEWIPC))
		fail("unshare(CLONE_NEWIPC): %s", strerror(errno));
	key_sem = 0x4c490000 | (seed & 0xffff);
	key_msg = key_sem + 0x10000;
	key_seg = key_sem + 0x20000;
	key_lone = key_sem + 0x30000;
	make_sem();
	make_msg();
	seg = make_seg(key_seg, SEG_ID, SEG_SIZE, 0640);
	for (int i = 0; i < SEG_SIZE; i += 7)
		seg[i] = byte(i);
	lone = make_seg(key_lone, LONE_ID, LONE_SIZE, 0600);
	for (int i = 0; i < PAGE; i++)
		lone[i] = byte(i + 3);
	shmdt(lone);
	r = make_seg(IPC_PRIVATE, RM_ID, PAGE, 0600);
	for (int i = 0; i < PAGE; i++)
		r[i] = byte(i + 9);
	if (shmctl(RM_ID, IPC_RMID, NULL))
		fail("IPC_RMID: %s", strerror(errno));
	write_sysctl("msg_next_id", MSG_NEXT);
	lower_limits();
	if (pipe(p) || pipe(q))
		fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (!pid)
		child(seg, r, p[0], q[1]);
	if (read(q[0], &c, 1) != 1)
		fail("the child did not detach the removed segment");

	test_waitsig();

	if (read_sysctl("msg_next_id") != MSG_NEXT)
		fail("msg_next_id is %d, not %d", read_sysctl("msg_next_id"), MSG_NEXT);
	check_limits();
	check_sem();
	check_msg();
	check_seg(SEG_ID, key_seg, SEG_SIZE, 0640, 2);
	for (int i = 0; i < SEG_SIZE; i++)
		if (seg[i] != (i % 7 ? 0 : byte(i)))
			fail("shared segment: byte %d is 0x%x", i, seg[i]);
	check_lone();
	check_removed(r);
	talk(seg, p[1], pid);
	pass();
}
