/* Owns the restore of SysV semaphore sets, message queues and unattached
 * segments (sysvipc.img): validates every entry, then, in lmproc before
 * the fork (in the tree's own IPC namespace if it has one: namespaces.c
 * made it and lmproc's thread is in it), makes each object with its key
 * and id (sem_next_id, msg_next_id, shm_next_id), its values, messages in
 * order or bytes, its mode and owner.  An object that
 * still exists with the dumped id and key (the same host, the dumped tree
 * killed) is the object itself and is left as it is: other processes may
 * have used it since, and its messages would otherwise come twice.  A
 * failed restore removes the objects it made. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "log.h"
#include "namespaces.h"
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

static int check_sem(size_t i, const SysvSemEntry *s)
{
	if (!s->nsems || s->nsems > SEMMSL_MAX || s->n_values != s->nsems)
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: semaphore set %d has %u semaphores and %zu values",
					i, s->perm->id, s->nsems, s->n_values);
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
	return 0;
}

static int check_shm(const struct restore_tree *t, size_t i, const SysvShmSeg *g)
{
	if (!restore_ipc_own(t))
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: segment %d, but the tree has no IPC namespace of its own",
					i, g->perm->id);
	if (!g->size || g->size > SHM_SIZE_MAX || g->data.len > g->size)
		return restore_plan_bad(SYSVIPC_IMG, "entry %zu: segment %d of %llu bytes with %zu written",
					i, g->perm->id, (unsigned long long)g->size, g->data.len);
	return 0;
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
	return check_unique(r, i);
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

/* The new object with the dumped id and key; *MADE once it exists. */
static int create(const SysvipcEntry *e, bool *made)
{
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
	*made = true;
	return 0;
}

static int fill_sem(const SysvSemEntry *s)
{
	cleanup_free unsigned short *vals = calloc(s->nsems, sizeof(*vals));
	struct semid_ds ds = {};
	union semun arg = { .array = vals };

	if (!vals)
		return -ENOMEM;
	for (size_t i = 0; i < s->nsems; i++)
		vals[i] = s->values[i];
	if (semctl(s->perm->id, 0, SETALL, arg) < 0) {
		pr_perror("Can't set the values of SysV semaphore set %d", s->perm->id);
		return -errno;
	}
	ds.sem_perm.uid = s->perm->uid;
	ds.sem_perm.gid = s->perm->gid;
	ds.sem_perm.mode = s->perm->mode;
	arg.buf = &ds;
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

/* qbytes first: the messages must fit.  Raising it above msgmnb needs
 * CAP_SYS_RESOURCE. */
static int fill_msg(const SysvMsgEntry *q)
{
	struct msqid_ds ds = {};
	int ret = 0;

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
	for (size_t i = 0; i < q->n_msgs && !ret; i++)
		ret = send_msg(q->perm->id, i, q->msgs[i]);
	return ret;
}

/* The bytes written through an attachment of lmproc's, then owner and
 * mode. */
static int fill_shm(const SysvShmSeg *g)
{
	struct shmid_ds ds = {};
	char *m = shmat(g->perm->id, NULL, 0);

	if (m == (void *)-1) {
		pr_perror("Can't attach SysV segment %d to fill it", g->perm->id);
		return -errno;
	}
	memcpy(m, g->data.data, g->data.len);
	shmdt(m);
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

/* In the child that has the owner's pid: 0 made and filled, 1 not
 * made, 2 made but not filled. */
static int make_and_fill(const SysvipcEntry *e)
{
	bool made = false;
	int ret = create(e, &made);

	if (!ret)
		ret = e->sem ? fill_sem(e->sem) : e->msg ? fill_msg(e->msg) : fill_shm(e->shm);
	return ret ? (made ? 2 : 1) : 0;
}

/* Made and filled by a child with the pid of its owner in the tree (free
 * until the tree is forked): the kernel records that pid as the last user
 * (sempid, msg_lspid, msg_lrpid), so the tree sees its own pid there and a
 * later dump of the restored tree finds the object again.  Under --pidns
 * (IN_NS) lmproc's children are forked into the tree's new namespace
 * (restore_sysvipc_in_pidns), where the child's parent, lmproc, has no
 * pid.  A segment, which records no last user until it is attached, is
 * made by lmproc itself, as is, under --pidns, an object of the tree's own
 * IPC namespace (BY_LMPROC, waits_for_pidns). */
static int make_object(const SysvipcEntry *e, bool by_lmproc, bool in_ns, bool *made)
{
	int ret = find_existing(e), status;
	pid_t child, self = in_ns ? 0 : getpid();

	if (ret)
		return ret > 0 ? 0 : ret;
	if (by_lmproc || e->shm) {
		ret = make_and_fill(e);
		*made = ret != 1;
		return ret ? -EIO : 0;
	}
	child = restore_clone_with_pid(owner_of(e), NULL);
	if (child < 0) {
		pr_perror("Can't make SysV %s %d as pid %u, its last user in the tree", kind_of(e),
			  perm_of(e)->id, owner_of(e));
		return -errno;
	}
	if (!child)
		_exit(restore_die_with_parent(self) ? 1 : make_and_fill(e));
	/* Its own child, not reaped yet: the pid is its.  Short: a signal
	 * lmproc catches is looked at once it is done. */
	while ((ret = waitpid(child, &status, 0)) < 0 && errno == EINTR)
		;
	if (ret < 0) {
		pr_perror("Can't wait for pid %d making SysV %s %d", child, kind_of(e),
			  perm_of(e)->id);
		return -errno;
	}
	*made = !WIFEXITED(status) || WEXITSTATUS(status) != 1;
	if (!WIFEXITED(status))
		pr_err("pid %d making SysV %s %d died (status 0x%x)\n", child, kind_of(e),
		       perm_of(e)->id, status);
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
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

/* Under --pidns a set or a queue of lmproc's IPC namespace waits for the
 * pid namespace's init: only then can its owner's pid be the tree's.  One
 * of the tree's own IPC namespace is made with lmproc's thread in it, its
 * sysctls written after it, before the fork: by lmproc. */
static bool waits_for_pidns(const struct restore_tree *t, const SysvipcEntry *e)
{
	return t->pidns && !e->shm && !restore_ipc_own(t);
}

int restore_sysvipc_in_pidns(struct restore_tree *t)
{
	struct sysvipc_restore *r = t->sysvipc;
	int own, ret = 0;
	size_t i;

	for (i = 0; r && i < r->nr && !waits_for_pidns(t, r->e[i]); i++)
		;
	if (!r || i == r->nr)
		return 0;
	own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (own < 0 || setns(t->init_pidfd, CLONE_NEWPID)) {
		ret = -errno;
		pr_perror("Can't enter the new pid namespace to make the tree's SysV objects");
		if (own >= 0)
			close(own);
		return ret;
	}
	for (; i < r->nr && !ret; i++)
		if (waits_for_pidns(t, r->e[i]))
			ret = make_object(r->e[i], false, true, &r->made[i]);
	/* Children lmproc forks from now on are its own namespace's. */
	if (setns(own, CLONE_NEWPID)) {
		pr_perror("Can't return to lmproc's pid namespace");
		ret = ret ?: -errno;
	}
	close(own);
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
	for (size_t i = 0; i < r->nr && !ret; i++)
		if (!waits_for_pidns(t, r->e[i]))
			ret = make_object(r->e[i], t->pidns, false, &r->made[i]);
	return ret;
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
