/* Owns the restore of SysV semaphore sets, message queues and unattached
 * segments (sysvipc.img): validates every entry, then, in lmproc before
 * the tree is forked (in the tree's own IPC namespace if it has one:
 * namespaces.c made it and lmproc's thread is in it; under --pidns once
 * the new pid namespace's init is there), makes each object with its key
 * and id (sem_next_id, msg_next_id, shm_next_id), its values, messages in
 * order or bytes, its mode and owner.  Every pid field comes back as the
 * tree read it: the call the kernel records a pid for (SETVAL: sempid;
 * msgsnd, msgrcv: msg_lspid, msg_lrpid; shmget, shmat: shm_cpid,
 * shm_lpid) is made as that pid, lent to a child (task/pid-lend.c), or
 * for 0 by lmproc where the tree's pid namespace does not see it.  An
 * object that still exists with the dumped id and key (the same host,
 * the dumped tree killed) is the object itself and is left as it is:
 * other processes may have used it since, and its messages would
 * otherwise come twice.  A failed restore removes the objects it made. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "log.h"
#include "namespaces.h"
#include "pid-lend.h"
#include "restore.h"
#include "sysvipc.h"

#include "sysvipc.pb-c.h"

#define SYSVIPC_IMG "sysvipc.img"
#define SEM_NEXT_ID "/proc/sys/kernel/sem_next_id"
#define MSG_NEXT_ID "/proc/sys/kernel/msg_next_id"
#define SHM_NEXT_ID "/proc/sys/kernel/shm_next_id"
#define MSGMNB "/proc/sys/kernel/msgmnb"
#define MSGMAX "/proc/sys/kernel/msgmax"
/* Far beyond any segment an image carries, inside every type here. */
#define SHM_SIZE_MAX (1ULL << 40)
/* The kernel's hard limits (SEMMSL_MAX is ipc/sem.c's bound, SEMVMX a
 * semaphore's largest value). */
#define SEMMSL_MAX 32000
#define SEMVMX 32767
/* The kernel's PID_MAX_LIMIT. */
#define PID_MAX 4194304

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

struct sysvipc_restore {
	SysvipcEntry **e;
	size_t nr;
	bool *made; /* per entry: this restore created it */
};

static const SysvIpcPerm *perm_of(const SysvipcEntry *e)
{
	return e->sem ? e->sem->perm : e->msg ? e->msg->perm : e->shm->perm;
}

static const char *kind_of(const SysvipcEntry *e)
{
	return e->sem ? "semaphore set" : e->msg ? "message queue" : "shared memory segment";
}

static int kind_nr(const SysvipcEntry *e)
{
	return e->sem ? 0 : e->msg ? 1 : 2;
}

/* 0 for a segment: lmproc makes it. */
static uint32_t owner_of(const SysvipcEntry *e)
{
	return e->sem ? e->sem->owner : e->msg ? e->msg->owner : 0;
}

/* Pid 1 is the init of the namespace the tree is restored into, never
 * lent. */
static int check_pid(size_t i, const SysvIpcPerm *p, const char *field, uint32_t pid)
{
	if (pid != 1 && pid <= PID_MAX)
		return 0;
	return restore_plan_bad(SYSVIPC_IMG, "entry %zu: SysV object %d: %s is pid %u", i, p->id, field,
				pid);
}

static int check_sem(size_t i, const SysvSemEntry *s)
{
	if (!s->nsems || s->nsems > SEMMSL_MAX || s->n_values != s->nsems ||
	    (s->n_sempids && s->n_sempids != s->nsems))
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: semaphore set %d has %u semaphores, %zu values and %zu sempids",
					i, s->perm->id, s->nsems, s->n_values, s->n_sempids);
	for (size_t v = 0; v < s->n_sempids; v++)
		if (check_pid(i, s->perm, "a sempid", s->sempids[v]))
			return -EINVAL;
	for (size_t v = 0; v < s->n_values; v++)
		if (s->values[v] > SEMVMX)
			return restore_plan_bad(SYSVIPC_IMG, "entry %zu: semaphore %zu of set %d has value %u",
						i, v, s->perm->id, s->values[v]);
	return 0;
}

static int check_msg(size_t i, const SysvMsgEntry *q)
{
	uint64_t bytes = 0;

	if (q->qbytes > INT32_MAX)
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: message queue %d holds %llu bytes at most",
					i, q->perm->id, (unsigned long long)q->qbytes);
	for (size_t m = 0; m < q->n_msgs; m++) {
		bytes += q->msgs[m]->data.len;
		if (q->msgs[m]->mtype <= 0 || q->msgs[m]->data.len > INT32_MAX)
			return restore_plan_bad(SYSVIPC_IMG, "entry %zu: message %zu of queue %d has type %lld and %zu bytes",
						i, m, q->perm->id, (long long)q->msgs[m]->mtype,
						q->msgs[m]->data.len);
	}
	if (bytes > INT32_MAX)
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: message queue %d holds %llu bytes",
					i, q->perm->id, (unsigned long long)bytes);
	if (q->has_lspid != q->has_lrpid)
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: message queue %d has one of msg_lspid and msg_lrpid",
					i, q->perm->id);
	return check_pid(i, q->perm, "msg_lspid", q->lspid) ?:
	       check_pid(i, q->perm, "msg_lrpid", q->lrpid);
}

static int check_shm(const struct restore_tree *t, size_t i, const SysvShmSeg *g)
{
	if (!restore_ipc_own(t))
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: segment %d, but the tree has no IPC namespace of its own",
					i, g->perm->id);
	if (!g->size || g->size > SHM_SIZE_MAX || g->data.len > g->size)
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: segment %d of %llu bytes with %zu written",
					i, g->perm->id, (unsigned long long)g->size, g->data.len);
	if (g->has_cpid != g->has_lpid)
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: segment %d has one of shm_cpid and shm_lpid",
					i, g->perm->id);
	return check_pid(i, g->perm, "shm_cpid", g->cpid) ?:
	       check_pid(i, g->perm, "shm_lpid", g->lpid);
}

/* A semaphore's pid: the one the tree read, or in older images the
 * set's owner. */
static uint32_t sem_pid(const SysvSemEntry *s, size_t i)
{
	return s->n_sempids ? s->sempids[i] : s->owner;
}

/* The last sender and receiver restore makes a queue's (older images:
 * the owner sent, no one received). */
static void msg_pids(const SysvMsgEntry *q, uint32_t *ls, uint32_t *lr)
{
	*ls = q->has_lspid ? q->lspid : q->n_msgs ? q->owner : 0;
	*lr = q->has_lspid ? q->lrpid : 0;
}

/* The name of a pid field that was set but reads 0 in the tree's pid
 * namespace (a process it does not see set it), or NULL: only a process
 * that the namespace does not see can set it so again. */
static const char *unseen_setter(const SysvipcEntry *e)
{
	uint32_t ls, lr;

	for (size_t v = 0; e->sem && v < e->sem->nsems; v++)
		if (!sem_pid(e->sem, v) && e->sem->values[v])
			return "a semaphore's sempid";
	if (e->msg) {
		msg_pids(e->msg, &ls, &lr);
		if (!ls && (e->msg->n_msgs || lr))
			return "msg_lspid";
		if (!lr && ls && !e->msg->n_msgs)
			return "msg_lrpid";
	}
	if (e->shm && e->shm->has_cpid && !e->shm->cpid)
		return "shm_cpid";
	if (e->shm && e->shm->has_cpid && !e->shm->lpid && e->shm->data.len)
		return "shm_lpid";
	return NULL;
}

/* Under --pidns lmproc is outside the tree's pid namespace: what it
 * does reads 0 there.  In lmproc's own no process restore can make is
 * unseen. */
static int check_unseen(const struct restore_tree *t, const SysvipcEntry *e)
{
	const char *field = t->pidns ? NULL : unseen_setter(e);

	if (!field)
		return 0;
	pr_err("SysV %s %d (key 0x%x): its %s reads 0 though it was set, by a process the tree's pid namespace does not see: a restore in lmproc's pid namespace can't make it so (restore --pidns can)\n",
	       kind_of(e), perm_of(e)->id, perm_of(e)->key, field);
	return -EOPNOTSUPP;
}

/* Two objects of one kind never share an id, nor a key other than
 * IPC_PRIVATE. */
static int check_unique(const struct sysvipc_restore *r, size_t i)
{
	const SysvIpcPerm *p = perm_of(r->e[i]);

	for (size_t k = 0; k < i; k++) {
		const SysvIpcPerm *o = perm_of(r->e[k]);

		if (kind_nr(r->e[k]) != kind_nr(r->e[i]))
			continue;
		if (o->id == p->id || (p->key != IPC_PRIVATE && o->key == p->key))
			return restore_plan_bad(SYSVIPC_IMG, "entries %zu and %zu: two %ss with id %d, key 0x%x",
						k, i, kind_of(r->e[i]), p->id, p->key);
	}
	return 0;
}

static int check_entry(const struct restore_tree *t, const struct sysvipc_restore *r, size_t i)
{
	const SysvipcEntry *e = r->e[i];
	const SysvIpcPerm *p;

	if (!!e->sem + !!e->msg + !!e->shm != 1)
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu is not one semaphore set, message queue or segment",
					i);
	p = perm_of(e);
	if (!e->shm && !restore_tree_has(t, owner_of(e)))
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: %s %d belongs to pid %u, not of the tree",
					i, kind_of(e), p->id, owner_of(e));
	if (p->id < 0 || (p->mode & ~0777))
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: %s id %d, mode 0%o", i, kind_of(e),
					p->id, p->mode);
	if (e->sem ? check_sem(i, e->sem) : e->msg ? check_msg(i, e->msg) : check_shm(t, i, e->shm))
		return -EINVAL;
	return check_unique(r, i) ?: check_unseen(t, e);
}

static int read_entries(int dfd, struct sysvipc_restore *r)
{
	return img_read_all(dfd, IMG_SYSVIPC, 0, true, (ProtobufCMessage ***)&r->e, &r->nr);
}

/* VALUE into sysctl KNOB: a next id, or a limit. */
static int write_knob(const char *knob, int value)
{
	char buf[16];
	int fd = open(knob, O_WRONLY | O_CLOEXEC), n, ret = 0;

	if (fd < 0) {
		pr_perror("Can't open %s to write %d", knob, value);
		return -errno;
	}
	n = snprintf(buf, sizeof(buf), "%d", value);
	if (write(fd, buf, n) != n) {
		pr_perror("Can't write %d to %s", value, knob);
		ret = -errno;
	}
	close(fd);
	return ret;
}

/* A segment is only made in the tree's own, new, namespace: its id and
 * key must be free (-EEXIST: taken by one of shmem.img's). */
static int shm_free(const SysvIpcPerm *p)
{
	struct shmid_ds ds;
	int id;

	if (!shmctl(p->id, IPC_STAT, &ds)) {
		pr_err("SysV shm id %d is taken by another segment (key 0x%x); the dumped one had key 0x%x\n",
		       p->id, ds.shm_perm.__key, p->key);
		return -EEXIST;
	}
	if (p->key != IPC_PRIVATE && (id = shmget(p->key, 0, 0)) >= 0) {
		pr_err("SysV shm key 0x%x is taken by segment %d, not the dumped %d\n", p->key, id,
		       p->id);
		return -EEXIST;
	}
	return 0;
}

static int remove_id(const SysvipcEntry *e, int id)
{
	if (e->sem)
		return semctl(id, 0, IPC_RMID);
	if (e->msg)
		return msgctl(id, IPC_RMID, NULL);
	return shmctl(id, IPC_RMID, NULL);
}

/* 1: the object with the dumped id and key is still there (reused);
 * 0: neither its id nor its key is taken; -EEXIST otherwise. */
static int find_existing(const SysvipcEntry *e)
{
	const SysvIpcPerm *p = perm_of(e);
	struct semid_ds sds;
	struct msqid_ds mds;
	union semun arg = { .buf = &sds };
	int found, id;
	key_t key;

	if (e->shm)
		return shm_free(p);
	found = e->sem ? semctl(p->id, 0, IPC_STAT, arg) : msgctl(p->id, IPC_STAT, &mds);
	if (found >= 0) {
		key = e->sem ? sds.sem_perm.__key : mds.msg_perm.__key;
		if (key == p->key && (!e->sem || sds.sem_nsems == e->sem->nsems)) {
			pr_info("SysV %s %d (key 0x%x) still exists: reused as it is now\n", kind_of(e),
				p->id, p->key);
			return 1;
		}
		pr_err("SysV %s id %d is taken by another one (key 0x%x); the dumped one had key 0x%x\n",
		       kind_of(e), p->id, key, p->key);
		return -EEXIST;
	}
	if (p->key == IPC_PRIVATE)
		return 0;
	id = e->sem ? semget(p->key, 0, 0) : msgget(p->key, 0);
	if (id >= 0) {
		pr_err("SysV %s key 0x%x is taken by id %d, not the dumped %d\n", kind_of(e), p->key,
		       id, p->id);
		return -EEXIST;
	}
	return 0;
}

/* The new object with the dumped id and key (E, a SysvipcEntry). */
static int create(void *arg)
{
	const SysvipcEntry *e = arg;
	const SysvIpcPerm *p = perm_of(e);
	int id, ret = write_knob(e->sem ? SEM_NEXT_ID : e->msg ? MSG_NEXT_ID : SHM_NEXT_ID, p->id);

	if (ret)
		return ret;
	if (e->sem)
		id = semget(p->key, e->sem->nsems, IPC_CREAT | IPC_EXCL | p->mode);
	else if (e->msg)
		id = msgget(p->key, IPC_CREAT | IPC_EXCL | p->mode);
	else
		id = shmget(p->key, e->shm->size, IPC_CREAT | IPC_EXCL | p->mode);
	if (id < 0) {
		pr_perror("Can't create SysV %s key 0x%x", kind_of(e), p->key);
		return -errno;
	}
	if (id != p->id) {
		pr_err("SysV %s key 0x%x got id %d, not the dumped %d (this IPC namespace can't give it)\n",
		       kind_of(e), p->key, id, p->id);
		remove_id(e, id);
		return -EEXIST;
	}
	return 0;
}

/* The dumped id names an object now: find_existing() found it free, so
 * this restore made it. */
static bool id_taken(const SysvipcEntry *e)
{
	struct semid_ds sds;
	struct msqid_ds mds;
	struct shmid_ds hds;
	union semun arg = { .buf = &sds };
	int id = perm_of(e)->id;

	if (e->sem)
		return semctl(id, 0, IPC_STAT, arg) >= 0;
	return e->msg ? msgctl(id, IPC_STAT, &mds) >= 0 : shmctl(id, IPC_STAT, &hds) >= 0;
}

/* CALL on E as PID, the pid the tree read in a field of E, so that the
 * kernel records it: a child with that pid, lent (in the tree's pid
 * namespace under --pidns), or for 0 lmproc itself, which that
 * namespace does not see (check_unseen() refused it elsewhere).  WHAT:
 * what the call does, for the error. */
static int call_as(const struct restore_tree *t, const SysvipcEntry *e, uint32_t pid,
		   const char *what, int (*call)(void *), void *arg)
{
	int ret;

	if (!pid)
		return call(arg);
	ret = pid_lend_call(pid, t->pidns ? t->init_pidfd : -1, 0, call, arg);
	if (ret)
		pr_err("Can't %s SysV %s %d (key 0x%x) as pid %u, whose pid it records: %s\n", what,
		       kind_of(e), perm_of(e)->id, perm_of(e)->key, pid,
		       ret == -EEXIST ? "that pid is in use (or the id was taken)" : strerror(-ret));
	return ret;
}

struct sem_fill {
	const SysvSemEntry *s;
	uint32_t pid;
	/* SETALL made every semaphore the most frequent pid's. */
	bool after_all;
};

/* SETALL records the caller as every semaphore's sempid. */
static int set_all(void *arg)
{
	const SysvSemEntry *s = ((const struct sem_fill *)arg)->s;
	cleanup_free unsigned short *vals = calloc(s->nsems, sizeof(*vals));
	union semun v = { .array = vals };

	if (!vals)
		return -ENOMEM;
	for (size_t i = 0; i < s->nsems; i++)
		vals[i] = s->values[i];
	if (semctl(s->perm->id, 0, SETALL, v) < 0) {
		pr_perror("Can't set the values of SysV semaphore set %d", s->perm->id);
		return -errno;
	}
	return 0;
}

/* SETVAL records the caller as the semaphore's sempid: every semaphore
 * of F->pid (none of 0 whose value is 0, unless SETALL set it: nothing
 * ever did). */
static int set_values(void *arg)
{
	const struct sem_fill *f = arg;
	const SysvSemEntry *s = f->s;

	for (size_t i = 0; i < s->nsems; i++) {
		union semun v = { .val = s->values[i] };

		if (sem_pid(s, i) != f->pid || (!f->pid && !s->values[i] && !f->after_all))
			continue;
		if (semctl(s->perm->id, i, SETVAL, v) < 0) {
			pr_perror("Can't set semaphore %zu of SysV set %d to %u", i, s->perm->id,
				  s->values[i]);
			return -errno;
		}
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The distinct pids of S's semaphores, sorted, in *OUT (*N of them);
 * *MOST: the one most semaphores have. */
static int distinct_pids(const SysvSemEntry *s, uint32_t **out, size_t *n, uint32_t *most)
{
	uint32_t *p = calloc(s->nsems, sizeof(*p));
	size_t run = 0, best = 0;

	*out = p;
	*n = 0;
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < s->nsems; i++)
		p[i] = sem_pid(s, i);
	qsort(p, s->nsems, sizeof(*p), cmp_u32);
	for (size_t i = 0; i < s->nsems; i++) {
		run = i && p[i - 1] == p[i] ? run + 1 : 1;
		if (run > best) {
			best = run;
			*most = p[i];
		}
	}
	for (size_t i = 0; i < s->nsems; i++)
		if (!*n || p[*n - 1] != p[i])
			p[(*n)++] = p[i];
	return 0;
}

/* One call per distinct pid of the set: the most frequent one sets all
 * (SETALL), the others theirs (SETVAL).  Not where a semaphore must keep
 * sempid 0 and lmproc can't give it (in lmproc's pid namespace): SETVAL
 * only then. */
static int fill_sem(const struct restore_tree *t, const SysvipcEntry *e)
{
	const SysvSemEntry *s = e->sem;
	cleanup_free uint32_t *pids = NULL;
	struct semid_ds ds = {};
	union semun arg = { .buf = &ds };
	struct sem_fill f = { .s = s };
	uint32_t most = 0;
	size_t n;
	int ret = distinct_pids(s, &pids, &n, &most);

	f.after_all = !ret && (t->pidns || pids[0]);
	if (f.after_all)
		ret = call_as(t, e, most, "set the values of", set_all, &f);
	for (size_t k = 0; k < n && !ret; k++) {
		f.pid = pids[k];
		if (!f.after_all || f.pid != most)
			ret = call_as(t, e, f.pid, "set the values of", set_values, &f);
	}
	if (ret)
		return ret;
	ds.sem_perm.uid = s->perm->uid;
	ds.sem_perm.gid = s->perm->gid;
	ds.sem_perm.mode = s->perm->mode;
	if (semctl(s->perm->id, 0, IPC_SET, arg) < 0) {
		pr_perror("Can't set owner %u:%u and mode 0%o of SysV semaphore set %d",
			  s->perm->uid, s->perm->gid, s->perm->mode, s->perm->id);
		return -errno;
	}
	return 0;
}

static int send_msg(int id, size_t i, const SysvMsg *m)
{
	cleanup_free struct {
		long mtype;
		char data[];
	} *buf = malloc(sizeof(*buf) + m->data.len);

	if (!buf)
		return -ENOMEM;
	buf->mtype = m->mtype;
	memcpy(buf->data, m->data.data, m->data.len);
	if (msgsnd(id, buf, m->data.len, IPC_NOWAIT) < 0) {
		pr_perror("Can't queue message %zu (type %lld, %zu bytes) on SysV message queue %d",
			  i, (long long)m->mtype, m->data.len, id);
		return -errno;
	}
	return 0;
}

/* What one pid does to a queue: msgsnd records it as msg_lspid, msgrcv
 * as msg_lrpid.  A receiver takes an empty message sent for it into the
 * empty queue. */
struct msg_fill {
	const SysvMsgEntry *q;
	bool send_empty, receive, send_all;
};

static const SysvMsg empty_msg = { .mtype = 1 };

static int queue_ops(void *arg)
{
	const struct msg_fill *f = arg;
	int id = f->q->perm->id, ret = 0;
	struct {
		long mtype;
	} buf;

	if (f->send_empty)
		ret = send_msg(id, 0, &empty_msg);
	if (!ret && f->receive && msgrcv(id, &buf, 0, 0, IPC_NOWAIT) < 0) {
		pr_perror("Can't take the empty message from SysV message queue %d", id);
		ret = -errno;
	}
	for (size_t i = 0; i < f->q->n_msgs && f->send_all && !ret; i++)
		ret = send_msg(id, i, f->q->msgs[i]);
	return ret;
}

/* A receive first (into the empty queue, before qbytes, which may be
 * too small for even an empty message), then qbytes (the messages must
 * fit; above msgmnb it needs CAP_SYS_RESOURCE), then the messages as
 * their last sender. */
static int fill_msg(const struct restore_tree *t, const SysvipcEntry *e)
{
	const SysvMsgEntry *q = e->msg;
	struct msqid_ds ds = {};
	struct msg_fill f = { .q = q };
	uint32_t ls, lr;
	int ret = 0;

	msg_pids(q, &ls, &lr);
	if (lr && q->n_msgs) {
		f.send_empty = f.receive = true;
		ret = call_as(t, e, lr, "receive on", queue_ops, &f);
	} else if (lr || (ls && !q->n_msgs)) {
		f.send_empty = true;
		ret = call_as(t, e, ls, "send on", queue_ops, &f);
		f.send_empty = false;
		f.receive = true;
		ret = ret ?: call_as(t, e, lr, "receive on", queue_ops, &f);
	}
	if (ret)
		return ret;
	ds.msg_perm.uid = q->perm->uid;
	ds.msg_perm.gid = q->perm->gid;
	ds.msg_perm.mode = q->perm->mode;
	ds.msg_qbytes = q->qbytes;
	if (msgctl(q->perm->id, IPC_SET, &ds) < 0) {
		pr_perror("Can't set owner %u:%u, mode 0%o and size %llu of SysV message queue %d",
			  q->perm->uid, q->perm->gid, q->perm->mode,
			  (unsigned long long)q->qbytes, q->perm->id);
		return -errno;
	}
	f = (struct msg_fill){ .q = q, .send_all = true };
	return q->n_msgs ? call_as(t, e, ls, "queue the messages of", queue_ops, &f) : 0;
}

/* The bytes written through an attachment, which records its process as
 * shm_lpid. */
static int write_bytes(void *arg)
{
	const SysvShmSeg *g = arg;
	char *m = shmat(g->perm->id, NULL, 0);

	if (m == (void *)-1) {
		pr_perror("Can't attach SysV segment %d to fill it", g->perm->id);
		return -errno;
	}
	memcpy(m, g->data.data, g->data.len);
	shmdt(m);
	return 0;
}

/* The bytes as the last attacher (older images: by lmproc), then owner
 * and mode.  Nothing attaches one never attached. */
static int fill_shm(const struct restore_tree *t, const SysvipcEntry *e)
{
	const SysvShmSeg *g = e->shm;
	struct shmid_ds ds = {};
	int ret = 0;

	if (!g->has_lpid)
		ret = write_bytes((void *)g);
	else if (g->lpid || g->data.len)
		ret = call_as(t, e, g->lpid, "fill", write_bytes, (void *)g);
	if (ret)
		return ret;
	ds.shm_perm.uid = g->perm->uid;
	ds.shm_perm.gid = g->perm->gid;
	ds.shm_perm.mode = g->perm->mode;
	if (shmctl(g->perm->id, IPC_SET, &ds)) {
		pr_perror("Can't set owner %u:%u and mode 0%o of SysV segment %d", g->perm->uid,
			  g->perm->gid, g->perm->mode, g->perm->id);
		return -errno;
	}
	return 0;
}

/* Made by lmproc (a set or queue records no creator; a segment by its
 * creator, shm_cpid), then filled with every pid field as the tree read
 * it (call_as).  Before the tree is forked: its pids are free, and so,
 * in the namespace restore puts it in, are those of processes that have
 * exited. */
static int make_object(const struct restore_tree *t, const SysvipcEntry *e, bool *made)
{
	int ret = find_existing(e);

	if (ret)
		return ret > 0 ? 0 : ret;
	if (e->shm && e->shm->has_cpid)
		ret = call_as(t, e, e->shm->cpid, "create", create, (void *)e);
	else
		ret = create((void *)e);
	*made = id_taken(e);
	if (ret)
		return ret;
	return e->sem ? fill_sem(t, e) : e->msg ? fill_msg(t, e) : fill_shm(t, e);
}

int restore_read_sysvipc(int dfd, struct restore_tree *t)
{
	struct sysvipc_restore *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	t->sysvipc = r;
	ret = read_entries(dfd, r);
	for (size_t i = 0; i < r->nr && !ret; i++)
		ret = check_entry(t, r, i);
	return ret;
}

/* Raises sysctl KNOB of the tree's new namespace to NEED if it is lower:
 * the tree may have lowered it once its queues were full (IPC_SET of a
 * size above msgmnb needs CAP_SYS_RESOURCE).  namespaces.c writes the
 * dumped value once every object is made. */
static int raise_limit(const char *knob, uint64_t need)
{
	char buf[32] = "";
	int fd = open(knob, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		pr_perror("Can't read %s", knob);
		return -EIO;
	}
	if (strtoull(buf, NULL, 10) >= need)
		return 0;
	pr_info("%s raised to %llu while the tree's queues are made\n", knob,
		(unsigned long long)need);
	return write_knob(knob, need);
}

/* The largest queue size and message of the image fit the tree's own
 * namespace (never lmproc's, whose limits are not the restore's). */
static int fit_limits(const struct restore_tree *t, const struct sysvipc_restore *r)
{
	uint64_t qbytes = 0, msg = 0;

	if (!restore_ipc_own(t))
		return 0;
	for (size_t i = 0; i < r->nr; i++) {
		const SysvMsgEntry *q = r->e[i]->msg;

		for (size_t m = 0; q && m < q->n_msgs; m++)
			msg = max(msg, (uint64_t)q->msgs[m]->data.len);
		if (q)
			qbytes = max(qbytes, q->qbytes);
	}
	return raise_limit(MSGMNB, qbytes) ?: raise_limit(MSGMAX, msg);
}

static int make_all(struct restore_tree *t)
{
	struct sysvipc_restore *r = t->sysvipc;
	int ret = 0;

	for (size_t i = 0; i < r->nr && !ret; i++)
		ret = make_object(t, r->e[i], &r->made[i]);
	return ret;
}

int restore_sysvipc(int dfd, struct restore_tree *t)
{
	struct sysvipc_restore *r;
	int ret = restore_read_sysvipc(dfd, t);

	if (ret)
		return ret;
	r = t->sysvipc;
	r->made = calloc(r->nr + 1, sizeof(*r->made));
	if (!r->made)
		return -ENOMEM;
	ret = fit_limits(t, r);
	return ret || t->pidns ? ret : make_all(t);
}

int restore_sysvipc_pidns(struct restore_tree *t)
{
	if (!t->pidns)
		return 0;
	return (t->sysvipc ? make_all(t) : 0) ?: restore_ipc_sysctls(t);
}

void restore_undo_sysvipc(struct restore_tree *t)
{
	struct sysvipc_restore *r = t->sysvipc;

	for (size_t i = 0; r && r->made && i < r->nr; i++) {
		const SysvipcEntry *e = r->e[i];

		if (!r->made[i])
			continue;
		remove_id(e, perm_of(e)->id);
		r->made[i] = false;
	}
}

void restore_free_sysvipc(struct restore_tree *t)
{
	struct sysvipc_restore *r = t->sysvipc;

	if (!r)
		return;
	for (size_t i = 0; i < r->nr; i++)
		img_free_msg(&r->e[i]->base);
	free(r->e);
	free(r->made);
	free(r);
	t->sysvipc = NULL;
}
