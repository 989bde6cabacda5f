/* Owns the dump of SysV semaphore sets and message queues (sysvipc.img).
 * The tree names them through no fd and no mapping, so ownership is
 * decided from what the kernel records: in lmproc's own IPC namespace an
 * object belongs to the tree if a process of the tree created it or used
 * it last (a semaphore's sempid, a queue's msg_lspid or msg_lrpid; the
 * kernel keeps no creator pid for either).  A tree in another IPC
 * namespace is refused if that namespace holds any: restore can't make
 * the namespace again yet.  Reads only: IPC_STAT, GETALL, GETPID and
 * msgrcv(MSG_COPY) change nothing in the objects. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "interrupt.h"
#include "image.h"
#include "log.h"
#include "pstree.h"
#include "sysvipc.h"

#include "sysvipc.pb-c.h"

#define PROC_SEM "/proc/sysvipc/sem"
#define PROC_MSG "/proc/sysvipc/msg"

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

static int dump_sem(struct cr_img *img, const struct pstree *t, int id)
{
	SysvipcEntry e = SYSVIPC_ENTRY__INIT;
	SysvSemEntry s = SYSV_SEM_ENTRY__INIT;
	SysvIpcPerm p = SYSV_IPC_PERM__INIT;
	cleanup_free unsigned short *vals = NULL;
	cleanup_free uint32_t *vals32 = NULL;
	struct semid_ds ds;
	union semun arg = { .buf = &ds };
	int ret;

	if (semctl(id, 0, IPC_STAT, arg) < 0) {
		/* Removed since /proc listed it: not in use by the frozen tree. */
		if (errno == EINVAL || errno == EIDRM)
			return 0;
		pr_perror("Can't read SysV semaphore set %d", id);
		return -errno;
	}
	ret = sem_owner(t, id, ds.sem_nsems);
	if (ret <= 0)
		return ret;
	s.owner = pstree_vpid(ret);
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
	e.sem = &s;
	pr_debug("SysV semaphore set %d (key 0x%x, %lu semaphores) belongs to the tree\n", id,
		 ds.sem_perm.__key, (unsigned long)ds.sem_nsems);
	return img_write_msg(img, &e.base);
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

/* Message I of queue ID, a copy: the queue keeps it. */
static int copy_msg(int id, size_t i, struct msg_buf *buf, size_t size, SysvMsg **out)
{
	ssize_t n = msgrcv(id, buf, size, i, IPC_NOWAIT | MSG_COPY);
	SysvMsg *m;

	if (n < 0) {
		if (errno == ENOSYS)
			pr_err("SysV message queue %d: this kernel can't copy messages out (MSG_COPY needs CONFIG_CHECKPOINT_RESTORE)\n",
			       id);
		else
			pr_perror("Can't copy message %zu of SysV message queue %d", i, id);
		return errno == ENOSYS ? -EOPNOTSUPP : -errno;
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

static int dump_msg(struct cr_img *img, const struct pstree *t, int id)
{
	SysvipcEntry e = SYSVIPC_ENTRY__INIT;
	SysvMsgEntry q = SYSV_MSG_ENTRY__INIT;
	SysvIpcPerm p = SYSV_IPC_PERM__INIT;
	cleanup_free struct msg_buf *buf = NULL;
	struct msqid_ds ds;
	SysvMsg **msgs;
	int ret = 0;

	if (msgctl(id, IPC_STAT, &ds) < 0) {
		if (errno == EINVAL || errno == EIDRM)
			return 0;
		pr_perror("Can't read SysV message queue %d", id);
		return -errno;
	}
	if (!in_tree(t, ds.msg_lspid) && !in_tree(t, ds.msg_lrpid))
		return 0;
	/* No message is larger than all the bytes queued. */
	buf = malloc(sizeof(*buf) + ds.__msg_cbytes);
	msgs = calloc(ds.msg_qnum + 1, sizeof(*msgs));
	if (!buf || !msgs) {
		free(msgs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ds.msg_qnum && !ret; i++)
		ret = copy_msg(id, i, buf, ds.__msg_cbytes, &msgs[i]);
	if (!ret) {
		fill_perm(&p, &ds.msg_perm, id);
		q.perm = &p;
		q.qbytes = ds.msg_qbytes;
		q.n_msgs = ds.msg_qnum;
		q.msgs = msgs;
		q.owner = pstree_vpid(in_tree(t, ds.msg_lspid) ? ds.msg_lspid : ds.msg_lrpid);
		e.msg = &q;
		pr_debug("SysV message queue %d (key 0x%x, %lu messages) belongs to the tree\n",
			 id, ds.msg_perm.__key, (unsigned long)ds.msg_qnum);
		ret = img_write_msg(img, &e.base);
	}
	free_msgs(msgs, ds.msg_qnum);
	return ret;
}

/* Calls DUMP for the id of every object listed in /proc's file PATH. */
static int for_each_listed(const char *path, struct cr_img *img, const struct pstree *t,
			   int (*dump)(struct cr_img *, const struct pstree *, int))
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
			ret = dump(img, t, id);
	fclose(f);
	return ret;
}

/* Objects of PID's IPC namespace, counted from inside it by a child that
 * joins it (/proc/sysvipc shows the reader's namespace); -errno if the
 * count failed. */
static int count_in_ns(pid_t pid)
{
	static const char *const files[] = { PROC_SEM, PROC_MSG };
	pid_t parent = getpid(), child = fork();
	int status;

	if (child < 0) {
		pr_perror("Can't fork to look into the IPC namespace of pid %d", pid);
		return -errno;
	}
	if (!child) {
		char path[64], line[512];
		int fd, n = 0;

		helper_die_with(parent);
		helper_close_fds(-1);
		snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWIPC))
			_exit(255);
		for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
			FILE *f = fopen(files[i], "re");

			if (!f)
				_exit(255);
			while (fgets(line, sizeof(line), f))
				n++;
			n--; /* the header */
			fclose(f);
		}
		_exit(min(n, 254));
	}
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) == 255) {
		pr_err("pid %d: can't count the SysV objects of its IPC namespace\n", pid);
		return -EIO;
	}
	return WEXITSTATUS(status);
}

static int check_ipc_ns(const struct pstree *t)
{
	struct stat self, st;
	char path[64];

	if (stat("/proc/self/ns/ipc", &self)) {
		pr_perror("Can't stat lmproc's IPC namespace");
		return -errno;
	}
	for (size_t i = 0; i < t->nr; i++) {
		pid_t pid = t->items[i].pid;
		int n;

		if (t->items[i].zombie)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
		if (stat(path, &st)) {
			pr_perror("Can't stat the IPC namespace of pid %d", pid);
			return -errno;
		}
		if (st.st_ino == self.st_ino && st.st_dev == self.st_dev)
			continue;
		n = count_in_ns(pid);
		if (n < 0)
			return n;
		if (n) {
			pr_err("pid %d: its IPC namespace (not lmproc's) holds %d SysV semaphore sets and message queues: not supported\n",
			       pid, n);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

int dump_sysvipc(int dfd, const struct pstree *t)
{
	struct cr_img *img;
	int ret = check_ipc_ns(t);

	if (ret || dfd < 0)
		return ret;
	img = img_open_write(dfd, IMG_SYSVIPC, 0);
	if (!img)
		return -EIO;
	ret = for_each_listed(PROC_SEM, img, t, dump_sem);
	if (!ret)
		ret = for_each_listed(PROC_MSG, img, t, dump_msg);
	if (img_close(img) && !ret)
		ret = -EIO;
	return ret;
}
