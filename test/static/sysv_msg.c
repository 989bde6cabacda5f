/* A SysV message queue with a key of its own (mode 0620, msg_qbytes
 * lowered to 12000) holding five messages of different types and sizes
 * (one empty, one of 3000 bytes), and a private queue with one message.
 * After the restore msgget() of the key finds the same id, IPC_STAT says
 * the same key, mode, owner, size limit, count and bytes, this pid as the
 * last sender and no receiver yet; msgrcv by type
 * takes the right messages, the others come in their order with their
 * types and bytes, and msgsnd still works.  Both queues are removed at
 * the end. */
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include "test.h"

#define NMSG 5
#define MODE 0620
#define QBYTES 12000
#define MAXLEN 3000

static const long types[NMSG] = { 3, 1, 2, 1, 5 };
static const size_t lens[NMSG] = { 0, 1, 100, MAXLEN, 17 };
static uint64_t seed;

static struct {
	long mtype;
	char data[MAXLEN + 1];
} buf;

static char byte(int m, size_t i)
{
	return test_mix(seed + m * 7919 + i);
}

static void send(int id, long type, size_t len, int m)
{
	buf.mtype = type;
	for (size_t i = 0; i < len; i++)
		buf.data[i] = byte(m, i);
	if (msgsnd(id, &buf, len, IPC_NOWAIT))
		fail("msgsnd of message %d to queue %d: %s", m, id, strerror(errno));
}

/* Takes the first message of TYPE (0: any) and checks it is message M. */
static void take(int id, long type, int m, long want_type, size_t want_len)
{
	ssize_t n = msgrcv(id, &buf, sizeof(buf.data), type, IPC_NOWAIT);

	if (n < 0)
		fail("msgrcv of type %ld from queue %d: %s", type, id, strerror(errno));
	if (buf.mtype != want_type || (size_t)n != want_len)
		fail("queue %d: message %d has type %ld and %zd bytes, not %ld and %zu", id, m,
		     buf.mtype, n, want_type, want_len);
	for (size_t i = 0; i < want_len; i++)
		if (buf.data[i] != byte(m, i))
			fail("queue %d: byte %zu of message %d differs", id, i, m);
}

/* LRPID: the last receiver expected (0: none yet); this pid sent last. */
static void check_queue(int id, key_t key, unsigned long qbytes, unsigned long qnum,
			unsigned long cbytes, pid_t lrpid)
{
	struct msqid_ds ds;

	if (msgctl(id, IPC_STAT, &ds))
		fail("IPC_STAT of queue %d: %s", id, strerror(errno));
	if (ds.msg_perm.__key != key || (ds.msg_perm.mode & 0777) != MODE ||
	    ds.msg_perm.uid != getuid() || ds.msg_perm.gid != getgid() ||
	    ds.msg_qbytes != qbytes || ds.msg_qnum != qnum || ds.__msg_cbytes != cbytes ||
	    ds.msg_lspid != getpid() || ds.msg_lrpid != lrpid)
		fail("queue %d: key 0x%x mode 0%o uid %u gid %u qbytes %lu qnum %lu cbytes %lu lspid %d lrpid %d",
		     id, ds.msg_perm.__key, ds.msg_perm.mode, ds.msg_perm.uid, ds.msg_perm.gid,
		     (unsigned long)ds.msg_qbytes, (unsigned long)ds.msg_qnum,
		     (unsigned long)ds.__msg_cbytes, ds.msg_lspid, ds.msg_lrpid);
}

static int make_queue(key_t key)
{
	int id = msgget(key, IPC_CREAT | IPC_EXCL | MODE);

	if (id < 0 && errno == EEXIST) {
		/* Left by an earlier run of a pid with the same low bits. */
		msgctl(msgget(key, 0), IPC_RMID, NULL);
		id = msgget(key, IPC_CREAT | IPC_EXCL | MODE);
	}
	if (id < 0)
		fail("msgget 0x%x: %s", key, strerror(errno));
	return id;
}

int main(int argc, char **argv)
{
	struct msqid_ds ds;
	unsigned long total = 0;
	key_t key;
	int id, pid_q;

	test_init(argc, argv);
	seed = test_seed();
	key = 0x4c510000 | (getpid() & 0xffff);
	id = make_queue(key);
	if (msgctl(id, IPC_STAT, &ds))
		fail("IPC_STAT of queue %d: %s", id, strerror(errno));
	ds.msg_qbytes = QBYTES;
	if (msgctl(id, IPC_SET, &ds))
		fail("IPC_SET of queue %d: %s", id, strerror(errno));
	for (int m = 0; m < NMSG; m++) {
		send(id, types[m], lens[m], m);
		total += lens[m];
	}
	check_queue(id, key, QBYTES, NMSG, total, 0);
	pid_q = make_queue(IPC_PRIVATE);
	send(pid_q, 9, 42, 9);

	test_waitsig();

	if (msgget(key, 0) != id)
		fail("key 0x%x now names queue %d, not %d", key, msgget(key, 0), id);
	check_queue(id, key, QBYTES, NMSG, total, 0);
	if (msgctl(pid_q, IPC_STAT, &ds))
		fail("IPC_STAT of the private queue %d: %s", pid_q, strerror(errno));
	check_queue(pid_q, IPC_PRIVATE, ds.msg_qbytes, 1, 42, 0);
	take(pid_q, 0, 9, 9, 42);
	take(id, 5, 4, 5, lens[4]);
	take(id, 2, 2, 2, lens[2]);
	take(id, 0, 0, 3, lens[0]);
	take(id, 0, 1, 1, lens[1]);
	take(id, 0, 3, 1, lens[3]);
	if (msgrcv(id, &buf, sizeof(buf.data), 0, IPC_NOWAIT) >= 0 || errno != ENOMSG)
		fail("queue %d holds more than its five messages", id);
	send(id, 4, 64, 11);
	take(id, 4, 11, 4, 64);
	check_queue(id, key, QBYTES, 0, 0, getpid());
	if (msgctl(id, IPC_RMID, NULL) || msgctl(pid_q, IPC_RMID, NULL))
		fail("remove the queues: %s", strerror(errno));
	pass();
}
