/* Owns the dump of SysV semaphore sets and message queues (sysvipc.img),
 * and of the segments of the tree's own IPC namespace that no process
 * attaches.  The tree names them through no fd and no mapping, so
 * ownership is decided from what the kernel records: in lmproc's own IPC
 * namespace an object belongs to the tree if a process of the tree used
 * it last (a semaphore's sempid, a queue's msg_lspid or msg_lrpid; the
 * kernel keeps no creator pid for either).  In an IPC namespace of the
 * tree's own every object is the tree's, read from inside it (lmproc's
 * thread joins it: /proc/sysvipc and the ids are the reader's
 * namespace's); lmproc's own objects are never looked at then.  Reads
 * only: IPC_STAT, GETALL, GETPID and msgrcv(MSG_COPY) change nothing in
 * the objects; an unattached segment is attached read-only to be copied,
 * which changes its times, and its last pid unless the copy can be made
 * as that pid (copy_seg_as).  Every pid field is written as the tree's
 * pid namespace reads it (tree_pids). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "interrupt.h"
#include "image.h"
#include "log.h"
#include "pid-lend.h"
#include "pstree.h"
#include "sysvipc.h"

#include "sysvipc.pb-c.h"

#define PROC_SEM "/proc/sysvipc/sem"
#define PROC_MSG "/proc/sysvipc/msg"
#define PROC_SHM "/proc/sysvipc/shm"
#define SYSV_MAP "/SYSV"

struct sysv_dump {
	struct cr_img *img;
	const struct pstree *t;
	/* The tree's own IPC namespace: every object is the tree's. */
	bool own_ns;
	/* The tree lives on after the dump (dump -R). */
	bool leave_running;
	/* The tree's pid namespace when it is not lmproc's, else -1. */
	int pidns;
};

/* The pid fields of object ID (its KIND: 's', 'q' or 'm'), N of them:
 * every semaphore's sempid; a queue's msg_lspid and msg_lrpid; a
 * segment's shm_cpid and shm_lpid.  PID: a shared mapping, written by
 * the child that reads them in the tree's pid namespace. */
struct sysv_pids {
	char kind;
	int id;
	unsigned long n;
	uint32_t *pid;
};

/* A copy of an unattached segment's bytes, in a shared mapping. */
struct seg_out {
	size_t len;
	unsigned char data[];
};

struct seg_copy {
	pid_t root;
	int id;
	size_t size;
	struct seg_out *out;
};

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

struct msg_buf {
	long mtype;
	char data[];
};

static bool in_tree(const struct pstree *t, pid_t pid)
{
	for (size_t i = 0; pid > 0 && i < t->nr; i++)
		if (t->items[i].pid == pid)
			return true;
	return false;
}

/* The tree's own pid for V (its pid namespace's). */
static bool in_tree_v(const struct pstree *t, uint32_t v)
{
	for (size_t i = 0; v && i < t->nr; i++)
		if ((uint32_t)pstree_vpid(t->items[i].pid) == v)
			return true;
	return false;
}

static int read_pids(void *arg)
{
	struct sysv_pids *r = arg;
	struct msqid_ds mds;
	struct shmid_ds sds;
	int pid;

	for (unsigned long i = 0; r->kind == 's' && i < r->n; i++) {
		pid = semctl(r->id, i, GETPID);
		if (pid < 0)
			return -errno;
		r->pid[i] = pid;
	}
	if (r->kind == 'q') {
		if (msgctl(r->id, IPC_STAT, &mds) < 0)
			return -errno;
		r->pid[0] = mds.msg_lspid;
		r->pid[1] = mds.msg_lrpid;
	}
	if (r->kind == 'm') {
		if (shmctl(r->id, IPC_STAT, &sds) < 0)
			return -errno;
		r->pid[0] = sds.shm_cpid;
		r->pid[1] = sds.shm_lpid;
	}
	return 0;
}

static void *map_shared(size_t len)
{
	void *m = mmap(NULL, len ?: 1, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return m == MAP_FAILED ? NULL : m;
}

/* The N pid fields of object ID as the tree reads them (see struct
 * sysv_pids), in *OUT (munmap N * 4 bytes).  The kernel gives each in
 * its reader's pid namespace: in lmproc's the tree reads what lmproc
 * does; in one of its own (even a process that has exited keeps its
 * number there), a child made in it reads them. */
static int tree_pids(const struct sysv_dump *d, char kind, int id, unsigned long n, uint32_t **out)
{
	struct sysv_pids r = { .kind = kind, .id = id, .n = n };
	int ret;

	r.pid = map_shared(n * sizeof(uint32_t));
	*out = r.pid;
	if (!r.pid)
		return -ENOMEM;
	ret = d->pidns < 0 ? read_pids(&r) : pid_lend_call(0, d->pidns, 0, read_pids, &r);
	if (ret) {
		pr_err("Can't read the last pids of SysV object %d in the tree's pid namespace: %s\n", id,
		       strerror(-ret));
		munmap(r.pid, n * sizeof(uint32_t) ?: 1);
		*out = NULL;
	}
	return ret;
}

/* Pid 1 of the tree's pid namespace is its init, never of the tree:
 * restore can't lend it. */
static int check_pid(const struct sysv_dump *d, const char *what, int id, key_t key,
		     const char *field, uint32_t pid)
{
	if (pid != 1 || in_tree_v(d->t, 1))
		return 0;
	pr_err("pid %d: SysV %s %d (key 0x%x): %s is pid 1, the init of its pid namespace, which restore can't be: not supported\n",
	       d->t->items[0].pid, what, id, key, field);
	return -EOPNOTSUPP;
}

static void fill_perm(SysvIpcPerm *p, const struct ipc_perm *ip, int id)
{
	p->key = ip->__key;
	p->id = id;
	p->mode = ip->mode & 0777;
	p->uid = ip->uid;
	p->gid = ip->gid;
	p->cuid = ip->cuid;
	p->cgid = ip->cgid;
}

/* -errno, 0 not the tree's, else the process of the tree that used a
 * semaphore of the set last. */
static int sem_owner(const struct pstree *t, int id, unsigned long nsems)
{
	for (unsigned long i = 0; i < nsems; i++) {
		int pid = semctl(id, i, GETPID);

		if (pid < 0) {
			pr_perror("Can't read the last user of semaphore %lu of set %d", i, id);
			return -errno;
		}
		if (in_tree(t, pid))
			return pid;
	}
	return 0;
}

/* The owner written for an object of the tree: its last user in the
 * tree, or in the tree's own namespace (where every object is the tree's)
 * the root if that was another process. */
static pid_t owner_pid(const struct sysv_dump *d, pid_t pid)
{
	return pid > 0 ? pid : d->t->items[0].pid;
}

static uint32_t owner_vpid(const struct sysv_dump *d, pid_t pid)
{
	return pstree_vpid(owner_pid(d, pid));
}

static int dump_sem(struct sysv_dump *d, int id)
{
	SysvipcEntry e = SYSVIPC_ENTRY__INIT;
	SysvSemEntry s = SYSV_SEM_ENTRY__INIT;
	SysvIpcPerm p = SYSV_IPC_PERM__INIT;
	cleanup_free unsigned short *vals = NULL;
	cleanup_free uint32_t *vals32 = NULL;
	uint32_t *pids = NULL;
	struct semid_ds ds;
	union semun arg = { .buf = &ds };
	char field[48];
	int ret;

	if (semctl(id, 0, IPC_STAT, arg) < 0) {
		/* Removed since /proc listed it: not in use by the frozen tree. */
		if (errno == EINVAL || errno == EIDRM)
			return 0;
		pr_perror("Can't read SysV semaphore set %d", id);
		return -errno;
	}
	ret = sem_owner(d->t, id, ds.sem_nsems);
	if (ret < 0 || (!ret && !d->own_ns))
		return ret;
	s.owner = owner_vpid(d, ret);
	vals = calloc(ds.sem_nsems, sizeof(*vals));
	vals32 = calloc(ds.sem_nsems, sizeof(*vals32));
	if (!vals || !vals32)
		return -ENOMEM;
	arg.array = vals;
	if (semctl(id, 0, GETALL, arg) < 0) {
		pr_perror("Can't read the values of SysV semaphore set %d", id);
		return -errno;
	}
	for (unsigned long i = 0; i < ds.sem_nsems; i++)
		vals32[i] = vals[i];
	fill_perm(&p, &ds.sem_perm, id);
	s.perm = &p;
	s.nsems = ds.sem_nsems;
	s.n_values = ds.sem_nsems;
	s.values = vals32;
	ret = tree_pids(d, 's', id, ds.sem_nsems, &pids);
	for (unsigned long i = 0; !ret && i < ds.sem_nsems; i++) {
		snprintf(field, sizeof(field), "semaphore %lu's sempid", i);
		ret = check_pid(d, "semaphore set", id, ds.sem_perm.__key, field, pids[i]);
	}
	s.n_sempids = ds.sem_nsems;
	s.sempids = pids;
	e.sem = &s;
	pr_debug("SysV semaphore set %d (key 0x%x, %lu semaphores) belongs to the tree\n", id,
		 ds.sem_perm.__key, (unsigned long)ds.sem_nsems);
	if (!ret)
		ret = img_write_msg(d->img, &e.base);
	if (pids)
		munmap(pids, ds.sem_nsems * sizeof(*pids) ?: 1);
	return ret;
}

static void free_msgs(SysvMsg **m, size_t n)
{
	for (size_t i = 0; m && i < n; i++) {
		if (m[i])
			free(m[i]->data.data);
		free(m[i]);
	}
	free(m);
}

/* Message I of queue ID, a copy: the queue keeps it.  PID: the process
 * a refusal names. */
static int copy_msg(pid_t pid, int id, size_t i, struct msg_buf *buf, size_t size,
		    SysvMsg **out)
{
	ssize_t n = msgrcv(id, buf, size, i, IPC_NOWAIT | MSG_COPY);
	SysvMsg *m;

	if (n < 0) {
		if (errno == ENOSYS)
			pr_err("SysV message queue %d: this kernel can't copy messages out (MSG_COPY needs CONFIG_CHECKPOINT_RESTORE)\n",
			       id);
		/* BUF holds any message: only kernel.msgmax bounds the copy. */
		else if (errno == EINVAL)
			pr_err("pid %d: message %zu of its SysV message queue %d is larger than kernel.msgmax, the most MSG_COPY copies: not supported\n",
			       pid, i, id);
		else
			pr_perror("Can't copy message %zu of SysV message queue %d", i, id);
		return errno == ENOSYS || errno == EINVAL ? -EOPNOTSUPP : -errno;
	}
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	sysv_msg__init(m);
	m->mtype = buf->mtype;
	m->data.len = n;
	m->data.data = malloc(n ?: 1);
	*out = m;
	if (!m->data.data)
		return -ENOMEM;
	memcpy(m->data.data, buf->data, n);
	return 0;
}

/* The process of the tree that sent last, else received last, else 0. */
static pid_t last_user(const struct pstree *t, const struct msqid_ds *ds)
{
	if (in_tree(t, ds->msg_lspid))
		return ds->msg_lspid;
	return in_tree(t, ds->msg_lrpid) ? ds->msg_lrpid : 0;
}

/* Without D's image (a pre-dump's), only the messages' copy is tried. */
static int dump_msg(struct sysv_dump *d, int id)
{
	const struct pstree *t = d->t;
	SysvipcEntry e = SYSVIPC_ENTRY__INIT;
	SysvMsgEntry q = SYSV_MSG_ENTRY__INIT;
	SysvIpcPerm p = SYSV_IPC_PERM__INIT;
	cleanup_free struct msg_buf *buf = NULL;
	struct msqid_ds ds;
	SysvMsg **msgs;
	uint32_t *pids = NULL;
	int ret = 0;

	if (msgctl(id, IPC_STAT, &ds) < 0) {
		if (errno == EINVAL || errno == EIDRM)
			return 0;
		pr_perror("Can't read SysV message queue %d", id);
		return -errno;
	}
	if (!last_user(t, &ds) && !d->own_ns)
		return 0;
	/* No message is larger than all the bytes queued. */
	buf = malloc(sizeof(*buf) + ds.__msg_cbytes);
	msgs = calloc(ds.msg_qnum + 1, sizeof(*msgs));
	if (!buf || !msgs) {
		free(msgs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ds.msg_qnum && !ret; i++)
		ret = copy_msg(owner_pid(d, last_user(t, &ds)), id, i, buf, ds.__msg_cbytes,
			       &msgs[i]);
	if (!ret && d->img)
		ret = tree_pids(d, 'q', id, 2, &pids);
	if (!ret && pids)
		ret = check_pid(d, "message queue", id, ds.msg_perm.__key, "msg_lspid", pids[0]) ?:
		      check_pid(d, "message queue", id, ds.msg_perm.__key, "msg_lrpid", pids[1]);
	if (!ret) {
		fill_perm(&p, &ds.msg_perm, id);
		q.perm = &p;
		q.qbytes = ds.msg_qbytes;
		q.n_msgs = ds.msg_qnum;
		q.msgs = msgs;
		q.owner = owner_vpid(d, last_user(t, &ds));
		q.has_lspid = q.has_lrpid = true;
		q.lspid = pids ? pids[0] : 0;
		q.lrpid = pids ? pids[1] : 0;
		e.msg = &q;
		pr_debug("SysV message queue %d (key 0x%x, %lu messages) belongs to the tree\n",
			 id, ds.msg_perm.__key, (unsigned long)ds.msg_qnum);
		ret = d->img ? img_write_msg(d->img, &e.base) : 0;
	}
	free_msgs(msgs, ds.msg_qnum);
	if (pids)
		munmap(pids, 2 * sizeof(*pids));
	return ret;
}

/* How many mappings of the tree's processes attach segment ID (a SysV
 * mapping's inode is its id); -errno if a maps file can't be read. */
static int tree_attachments(const struct pstree *t, int id)
{
	char path[64], line[PATH_MAX + 256], name[256];
	unsigned long ino;
	int n = 0;

	for (size_t i = 0; i < t->nr; i++) {
		FILE *f;

		if (t->items[i].zombie)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/maps", t->items[i].pid);
		f = fopen(path, "re");
		if (!f) {
			pr_perror("Can't open %s", path);
			return -errno;
		}
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%*s %*s %*s %*s %lu %255s", &ino, name) == 2 &&
			    ino == (unsigned long)id && !strncmp(name, SYSV_MAP, strlen(SYSV_MAP)))
				n++;
		fclose(f);
	}
	return n;
}

/* SHM_HUGETLB shows only in the file behind lmproc's attachment M (its
 * mapping, whatever its length, starts at M): shmget() without it would
 * make another kind of segment. */
static int check_huge(pid_t root, int id, const void *m)
{
	char prefix[32], link[300] = "";
	struct dirent *de;
	struct statfs sf;
	DIR *dir = opendir("/proc/self/map_files");

	if (!dir) {
		pr_perror("Can't open /proc/self/map_files");
		return -errno;
	}
	snprintf(prefix, sizeof(prefix), "%lx-", (unsigned long)m);
	while ((de = readdir(dir)) && !link[0])
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			snprintf(link, sizeof(link), "/proc/self/map_files/%s", de->d_name);
	closedir(dir);
	if (!link[0] || statfs(link, &sf)) {
		pr_err("Can't find the file of SysV segment %d attached at %p\n", id, m);
		return -EIO;
	}
	if (sf.f_type != HUGETLBFS_MAGIC)
		return 0;
	pr_err("pid %d: SysV segment %d of its IPC namespace is hugetlb memory (SHM_HUGETLB): not supported\n",
	       root, id);
	return -EOPNOTSUPP;
}

/* The bytes of unattached segment C->id up to its last non-zero one,
 * read through a read-only attachment into C->out (made by the caller,
 * maybe in a child with a lent pid). */
static int copy_seg(void *arg)
{
	struct seg_copy *c = arg;
	const unsigned char *m = shmat(c->id, NULL, SHM_RDONLY);
	size_t len = c->size;
	int ret;

	if (m == (void *)-1) {
		pr_perror("Can't attach SysV segment %d to copy it", c->id);
		return -errno;
	}
	ret = check_huge(c->root, c->id, m);
	if (ret) {
		shmdt(m);
		return ret;
	}
	while (len && !m[len - 1])
		len--;
	c->out->len = len;
	memcpy(c->out->data, m, len);
	shmdt(m);
	return 0;
}

/* An attachment makes its process the segment's shm_lpid: the copy is
 * made as LPID where that pid is free (a process that has exited), by
 * lmproc where the tree can't see lmproc and LPID is 0.  Else lmproc
 * becomes the last attacher: the image keeps LPID, read before, but a
 * tree left running reads lmproc's pid from now on (said). */
static int copy_seg_as(const struct sysv_dump *d, key_t key, uint32_t lpid, struct seg_copy *c)
{
	const char *why = "none it can see";
	int ret;

	if (lpid > 1 && !in_tree_v(d->t, lpid)) {
		ret = pid_lend_call(lpid, d->pidns, 0, copy_seg, c);
		if (ret != -EEXIST)
			return ret;
		why = "another process now";
	} else if (!lpid && d->pidns >= 0) {
		return copy_seg(c);
	} else if (lpid) {
		why = "a process of the tree";
	}
	if (d->leave_running)
		pr_warn("pid %d: SysV segment %d (key 0x%x) of its IPC namespace: its last attacher (shm_lpid %u) is %s: lmproc's copy becomes it in the tree left running (the images keep %u)\n",
			c->root, c->id, key, lpid, why, lpid);
	return copy_seg(c);
}

/* kernel.shm_rmid_forced of the namespace lmproc's thread is in: an
 * unattached segment then lives only as long as its creator.  Unreadable:
 * taken as set. */
static bool rmid_forced(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/shm_rmid_forced", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	return n <= 0 || buf[0] != '0';
}

/* A segment of the tree's own namespace: attached ones are memory
 * (mem/shmem.c, every attachment must be the tree's); an unattached one
 * is written here with its bytes (without D's image, a pre-dump's: only
 * checked). */
static int dump_shm(struct sysv_dump *d, int id)
{
	SysvipcEntry e = SYSVIPC_ENTRY__INIT;
	SysvShmSeg g = SYSV_SHM_SEG__INIT;
	SysvIpcPerm p = SYSV_IPC_PERM__INIT;
	pid_t root = d->t->items[0].pid;
	struct seg_copy c = { .root = root, .id = id };
	uint32_t *pids = NULL;
	struct shmid_ds ds;
	int ret;

	if (shmctl(id, IPC_STAT, &ds) < 0) {
		if (errno == EINVAL || errno == EIDRM)
			return 0;
		pr_perror("Can't read SysV segment %d", id);
		return -errno;
	}
	c.size = ds.shm_segsz;
	if (ds.shm_nattch) {
		ret = tree_attachments(d->t, id);
		if (ret < 0 || (unsigned long)ret == ds.shm_nattch)
			return min(ret, 0);
		pr_err("pid %d: SysV segment %d (key 0x%x) of its IPC namespace is attached %lu times, %d of them by the tree: a process outside the tree shares it: not supported\n",
		       root, id, ds.shm_perm.__key, (unsigned long)ds.shm_nattch, ret);
		return -EOPNOTSUPP;
	}
	if (ds.shm_perm.mode & SHM_LOCKED) {
		pr_err("pid %d: SysV segment %d (key 0x%x) of its IPC namespace is locked in memory (SHM_LOCK): not supported\n",
		       root, id, ds.shm_perm.__key);
		return -EOPNOTSUPP;
	}
	if (rmid_forced()) {
		pr_err("pid %d: SysV segment %d (key 0x%x) of its IPC namespace is attached by no one and kernel.shm_rmid_forced is set there: made again by lmproc, it would go when lmproc exits: not supported\n",
		       root, id, ds.shm_perm.__key);
		return -EOPNOTSUPP;
	}
	if (!d->img)
		return 0;
	/* Before the copy, which attaches it. */
	ret = tree_pids(d, 'm', id, 2, &pids);
	if (!ret)
		ret = check_pid(d, "segment", id, ds.shm_perm.__key, "shm_cpid", pids[0]) ?:
		      check_pid(d, "segment", id, ds.shm_perm.__key, "shm_lpid", pids[1]);
	c.out = ret ? NULL : map_shared(sizeof(*c.out) + ds.shm_segsz);
	if (!ret && !c.out)
		ret = -ENOMEM;
	if (!ret)
		ret = copy_seg_as(d, ds.shm_perm.__key, pids[1], &c);
	if (!ret) {
		fill_perm(&p, &ds.shm_perm, id);
		g.perm = &p;
		g.size = ds.shm_segsz;
		g.data.len = c.out->len;
		g.data.data = c.out->data;
		g.has_cpid = g.has_lpid = true;
		g.cpid = pids[0];
		g.lpid = pids[1];
		e.shm = &g;
		pr_debug("SysV segment %d (key 0x%x, %zu bytes, %zu of them written) unattached\n",
			 id, ds.shm_perm.__key, ds.shm_segsz, g.data.len);
		ret = img_write_msg(d->img, &e.base);
	}
	if (c.out)
		munmap(c.out, sizeof(*c.out) + ds.shm_segsz);
	if (pids)
		munmap(pids, 2 * sizeof(*pids));
	return ret;
}

/* Calls DUMP for the id of every object listed in /proc's file PATH. */
static int for_each_listed(const char *path, struct sysv_dump *d,
			   int (*dump)(struct sysv_dump *, int))
{
	FILE *f = fopen(path, "re");
	char line[512];
	int ret = 0, key, id;

	if (!f) {
		pr_perror("Can't open %s", path);
		return -errno;
	}
	/* The first line is a header. */
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	while (!ret && fgets(line, sizeof(line), f))
		if (sscanf(line, "%d %d", &key, &id) == 2)
			ret = dump(d, id);
	fclose(f);
	return ret;
}

int ipcns_join(pid_t pid, int *back)
{
	struct stat self, st;
	char path[64];
	int fd;

	*back = -1;
	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
	if (stat("/proc/thread-self/ns/ipc", &self) || stat(path, &st)) {
		pr_perror("Can't stat the IPC namespace of pid %d or lmproc's", pid);
		return -errno;
	}
	if (st.st_ino == self.st_ino && st.st_dev == self.st_dev)
		return 0;
	*back = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*back < 0 || fd < 0 || setns(fd, CLONE_NEWIPC)) {
		pr_perror("Can't join the IPC namespace of pid %d", pid);
		if (fd >= 0)
			close(fd);
		ipcns_return(back);
		return -EIO;
	}
	close(fd);
	return 0;
}

int ipcns_return(int *back)
{
	int ret = 0;

	if (*back < 0)
		return 0;
	if (setns(*back, CLONE_NEWIPC)) {
		pr_perror("Can't return to lmproc's IPC namespace");
		ret = -errno;
	}
	close(*back);
	*back = -1;
	return ret;
}

static int dump_all(struct sysv_dump *d)
{
	int ret = for_each_listed(PROC_SEM, d, dump_sem);

	if (!ret)
		ret = for_each_listed(PROC_MSG, d, dump_msg);
	if (!ret && d->own_ns)
		ret = for_each_listed(PROC_SHM, d, dump_shm);
	return ret;
}

int dump_sysvipc(int dfd, const struct pstree *t, bool leave_running)
{
	struct sysv_dump d = { .t = t, .leave_running = leave_running, .pidns = -1 };
	int back, ret;

	/* Every process of the tree shares the root's (task/namespaces.c). */
	ret = ipcns_join(t->items[0].pid, &back);
	if (ret)
		return ret;
	d.own_ns = back >= 0;
	if (dfd < 0) {
		/* A pre-dump refuses the queues and segments the dump would
		 * (no set can be). */
		ret = for_each_listed(PROC_MSG, &d, dump_msg);
		if (!ret && d.own_ns)
			ret = for_each_listed(PROC_SHM, &d, dump_shm);
		return ipcns_return(&back) ?: ret;
	}
	if (pstree_own_pidns()) {
		d.pidns = pstree_open_pidns();
		if (d.pidns < 0) {
			pr_err("Can't open the pid namespace of pid %d: %s\n", t->items[0].pid,
			       strerror(-d.pidns));
			return ipcns_return(&back) ?: d.pidns;
		}
	}
	d.img = img_open_write(dfd, IMG_SYSVIPC, 0);
	ret = d.img ? dump_all(&d) : -EIO;
	if (d.pidns >= 0)
		close(d.pidns);
	if (d.img && img_close(d.img) && !ret)
		ret = -EIO;
	return ipcns_return(&back) ?: ret;
}
