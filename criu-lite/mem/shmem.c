/* Owns the dump of shared memory objects: which MAP_SHARED mappings are
 * of one (anonymous shared memory, memfds, tmpfs files, SysV segments),
 * one object per inode however many mappings use it, and each object's
 * pages, read once through /proc/PID/map_files (holes and zero pages left
 * out) into shmem-pages.img.  After a previous round, a page byte for byte
 * the same as that round's copy (shmem-chain.c) is listed in_parent, not
 * written; a pre-dump round opens the objects while the tree is frozen
 * and copies them once it runs again.  A memfd the task also holds as an
 * fd is left to memfd.c: its mappings name that fd.  Reads only; never
 * changes the task or the objects. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "log.h"
#include "mem.h"
#include "proc.h"
#include "shmem.h"
#include "sysvipc.h"
#include "uapi-compat.h"

#define DELETED " (deleted)"
#define MEMFD_PREFIX "/memfd:"
#define SYSV_PREFIX "/SYSV"
/* Pages read from an object at a time. */
#define READ_CHUNK (256 * PAGE_SIZE)

/* An object written to shmem.img, for the tree's later processes. */
struct shmem_seen {
	uint64_t dev;
	uint64_t ino;
	uint32_t id;
	pid_t task_pid; /* whose fd carries it (task_fd), 0: none */
};

/* An object a pre-dump copies once the tree runs again. */
struct shmem_later {
	struct shmem_obj o; /* its own copy of path */
	pid_t pid;
	int fd;		    /* opened while frozen; -1: carried by the task's fd */
};

/* The previous round's copy of pages [off, off + nr pages) of the object
 * being read, in pbuf. */
struct parent_window {
	uint64_t off;
	size_t nr;
};

/* The dump of the tree's shared memory: the images and every object
 * written so far. */
struct shmem_dump {
	struct cr_img *img;  /* shmem.img */
	struct cr_img *data; /* shmem-pages.img */
	char *buf;
	ShmemRun *runs;
	size_t nr_runs, cap_runs;
	struct shmem_seen *seen;
	size_t nr_seen;
	struct shmem_chain *parent; /* the previous rounds, if any */
	char *pbuf;
	struct parent_window win;
	bool later;		    /* a pre-dump: objects copied by shmem_dump_copy() */
	struct shmem_later *todo;
	size_t nr_todo;
	uint64_t pages_written, pages_in_parent;
};

static bool is_deleted(const char *path)
{
	size_t n = strlen(path), d = strlen(DELETED);

	return n > d && !strcmp(path + n - d, DELETED);
}

static int find_obj(struct vm_area_list *vl, const struct stat *st)
{
	for (size_t i = 0; i < vl->nr_shm; i++)
		if (vl->shm[i].dev == st->st_dev && vl->shm[i].ino == st->st_ino)
			return i;
	return -1;
}

static int add_obj(struct vm_area_list *vl, ShmemKind kind, const char *name,
		   const struct stat *st, const struct vma *v)
{
	struct shmem_obj *o = realloc(vl->shm, (vl->nr_shm + 1) * sizeof(*o));

	if (!o)
		return -ENOMEM;
	vl->shm = o;
	o = &vl->shm[vl->nr_shm];
	memset(o, 0, sizeof(*o));
	o->path = name ? strdup(name) : NULL;
	if (name && !o->path)
		return -ENOMEM;
	o->id = vl->nr_shm + 1;
	o->kind = kind;
	o->dev = st->st_dev;
	o->ino = st->st_ino;
	o->size = st->st_size;
	o->mode = st->st_mode & 07777;
	o->task_fd = -1;
	o->start = v->start;
	o->end = v->end;
	return vl->nr_shm++;
}

/* IPC_STAT of segment SHMID of PID's IPC namespace (the tree's own, or
 * lmproc's): read from inside it. */
static int stat_in_ns(pid_t pid, int shmid, struct shmid_ds *ds)
{
	int back, ret = ipcns_join(pid, &back), err;

	if (ret) {
		errno = -ret;
		return -1;
	}
	ret = shmctl(shmid, IPC_STAT, ds);
	err = errno;
	if (ipcns_return(&back))
		return -1;
	errno = err;
	return ret;
}

/* shmat() gives back whole segments only: a mapping must be one. */
static int check_sysv(pid_t pid, const struct vma *v, const char *path, int shmid, int32_t *key,
		      uint64_t *size)
{
	struct shmid_ds ds;
	unsigned int k;

	if (sscanf(path, SYSV_PREFIX "%8x", &k) != 1) {
		pr_err("pid %d: SysV mapping at 0x%lx has an unexpected name %s\n", pid,
		       (unsigned long)v->start, path);
		return -EINVAL;
	}
	if (stat_in_ns(pid, shmid, &ds) < 0) {
		pr_perror("pid %d: can't IPC_STAT SysV segment %d", pid, shmid);
		return -errno;
	}
	if ((unsigned int)ds.shm_perm.__key != k || v->pgoff ||
	    v->end - v->start != ((ds.shm_segsz + PAGE_SIZE - 1) & PAGE_MASK)) {
		pr_err("pid %d: SysV segment %d (key 0x%x, %zu bytes) is mapped in part at 0x%lx-0x%lx: not supported\n",
		       pid, shmid, k, ds.shm_segsz, (unsigned long)v->start,
		       (unsigned long)v->end);
		return -EOPNOTSUPP;
	}
	*key = (int32_t)k;
	*size = ds.shm_segsz;
	return 0;
}

/* What kind of object the shared mapping V of PATH is; 0: none (a file
 * that holds its own data). */
static int shmem_kind_of(pid_t pid, const struct vma *v, const char *path, const struct stat *st)
{
	char link[128];
	struct statfs sf;

	if (!S_ISREG(st->st_mode))
		return 0;
	snprintf(link, sizeof(link), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)v->start,
		 (unsigned long)v->end);
	if (statfs(link, &sf)) {
		pr_perror("pid %d: can't statfs the file mapped at 0x%lx (%s)", pid,
			  (unsigned long)v->start, path);
		return -errno;
	}
	if (sf.f_type != TMPFS_MAGIC)
		return 0;
	if (!strncmp(path, SYSV_PREFIX, strlen(SYSV_PREFIX)) && is_deleted(path))
		return SHMEM_KIND__SHMEM_SYSV;
	if (!strcmp(path, "/dev/zero" DELETED) && !st->st_nlink)
		return SHMEM_KIND__SHMEM_ANON;
	if (!strncmp(path, MEMFD_PREFIX, strlen(MEMFD_PREFIX)) && is_deleted(path))
		return SHMEM_KIND__SHMEM_MEMFD;
	/* A read-only view of a tmpfs file that has a name changes nothing:
	 * the file holds the data as any other file does. */
	if (!vma_has_flag(v, "mw") && !is_deleted(path))
		return 0;
	return SHMEM_KIND__SHMEM_TMPFS;
}

int shmem_classify(pid_t pid, struct vm_area_list *vl, struct vma *v, const char *path,
		   const struct stat *st)
{
	int kind = shmem_kind_of(pid, v, path, st), idx;
	char name[256];
	struct stat ost = *st;
	int32_t key = 0;

	if (kind <= 0)
		return kind;
	if (kind == SHMEM_KIND__SHMEM_SYSV) {
		uint64_t size = 0;
		int ret = check_sysv(pid, v, path, st->st_ino, &key, &size);

		if (ret)
			return ret;
		ost.st_size = size;
	}
	idx = find_obj(vl, st);
	if (idx < 0) {
		snprintf(name, sizeof(name), "%s", path);
		if (kind == SHMEM_KIND__SHMEM_MEMFD)
			snprintf(name, sizeof(name), "%s", path + strlen(MEMFD_PREFIX));
		if ((kind == SHMEM_KIND__SHMEM_MEMFD || kind == SHMEM_KIND__SHMEM_TMPFS) &&
		    is_deleted(name))
			name[strlen(name) - strlen(DELETED)] = '\0';
		idx = add_obj(vl, kind, name, &ost, v);
		if (idx < 0)
			return idx;
		vl->shm[idx].sysv_key = key;
		vl->shm[idx].deleted = kind == SHMEM_KIND__SHMEM_TMPFS && !st->st_nlink;
	}
	vl->shm[idx].may_write |= vma_has_flag(v, "mw");
	v->kind = VMA_KIND__VMA_SHMEM;
	v->shmem = idx;
	return 1;
}

/* The access mode of the task's fd NAME, -1 for O_PATH or unknown. */
static int fd_access(pid_t pid, int fd)
{
	char path[64];
	cleanup_free char *info = NULL;
	const char *f;
	unsigned int flags;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	info = proc_read_file(path, NULL);
	f = info ? strstr(info, "flags:") : NULL;
	if (!f || sscanf(f + 6, "%o", &flags) != 1 || (flags & O_PATH))
		return -1;
	return flags & O_ACCMODE;
}

/* A memfd or an unlinked tmpfs file the task holds as an fd is restored
 * by its fd type (memfd.c, files-reg.c) with its contents; its mappings
 * map that fd, so both stay one object. */
static bool fd_carries(const struct shmem_obj *o)
{
	return o->kind == SHMEM_KIND__SHMEM_MEMFD || (o->kind == SHMEM_KIND__SHMEM_TMPFS && o->deleted);
}

static int link_task_fds(pid_t pid, struct vm_area_list *vl)
{
	char path[64];
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d) {
		pr_perror("Can't read %s", path);
		return -errno;
	}
	while ((de = readdir(d))) {
		int idx, acc;

		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0))
			continue;
		idx = find_obj(vl, &st);
		if (idx < 0 || !fd_carries(&vl->shm[idx]))
			continue;
		acc = fd_access(pid, atoi(de->d_name));
		if (acc == O_RDWR || (acc == O_RDONLY && !vl->shm[idx].may_write))
			vl->shm[idx].task_fd = atoi(de->d_name);
		else if (vl->shm[idx].task_fd < 0)
			vl->shm[idx].task_fd = -2; /* held, but not usable for the mapping */
	}
	closedir(d);
	for (size_t i = 0; i < vl->nr_shm; i++) {
		if (vl->shm[i].task_fd != -2)
			continue;
		pr_err("pid %d: %s \"%s\" mapped shared at 0x%lx is held by no fd it could be mapped through again (needs O_RDWR): not supported\n",
		       pid, vl->shm[i].kind == SHMEM_KIND__SHMEM_MEMFD ? "memfd" : "unlinked file",
		       vl->shm[i].path, (unsigned long)vl->shm[i].start);
		return -EOPNOTSUPP;
	}
	return 0;
}

static bool page_is_zero(const char *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < PAGE_SIZE / sizeof(*w); i++)
		if (w[i])
			return false;
	return true;
}

static int add_page(struct shmem_dump *sd, uint64_t off, bool in_parent)
{
	ShmemRun *r = sd->nr_runs ? &sd->runs[sd->nr_runs - 1] : NULL;

	if (in_parent)
		sd->pages_in_parent++;
	else
		sd->pages_written++;
	if (r && r->off + (uint64_t)r->nr_pages * PAGE_SIZE == off && r->nr_pages < UINT32_MAX &&
	    r->in_parent == in_parent) {
		r->nr_pages++;
		return 0;
	}
	if (sd->nr_runs == sd->cap_runs) {
		size_t cap = sd->cap_runs ? sd->cap_runs * 2 : 16;
		ShmemRun *n = realloc(sd->runs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sd->runs = n;
		sd->cap_runs = cap;
	}
	r = &sd->runs[sd->nr_runs++];
	shmem_run__init(r);
	r->off = off;
	r->nr_pages = 1;
	r->has_in_parent = in_parent;
	r->in_parent = in_parent;
	return 0;
}

/* Reads the previous round's copy of the object's pages from OFF on
 * into the window, as many as lie together there (at most a chunk). */
static int read_parent(struct shmem_dump *sd, const struct shmem_obj *o, uint64_t off)
{
	struct shmem_src src;
	ssize_t n;
	int ret = shmem_chain_find(sd->parent, o->dev, o->ino, off, &src);

	sd->win = (struct parent_window){ off, 0 };
	if (ret)
		return ret > 0 ? 0 : ret;
	src.nr_pages = min(src.nr_pages, (uint64_t)(READ_CHUNK / PAGE_SIZE));
	n = pread(src.fd, sd->pbuf, src.nr_pages * PAGE_SIZE, src.off);
	if (n != (ssize_t)(src.nr_pages * PAGE_SIZE)) {
		pr_perror("Can't read the previous round's copy of shared memory object %llu:%llu",
			  (unsigned long long)o->dev, (unsigned long long)o->ino);
		return n < 0 ? -errno : -EIO;
	}
	sd->win.nr = src.nr_pages;
	return 0;
}

/* The page at OFF, read as P, is the previous round's copy byte for byte. */
static int same_as_parent(struct shmem_dump *sd, const struct shmem_obj *o, uint64_t off,
			  const char *p, bool *same)
{
	int ret;

	*same = false;
	if (!sd->parent)
		return 0;
	if (off < sd->win.off || off >= sd->win.off + sd->win.nr * PAGE_SIZE) {
		ret = read_parent(sd, o, off);
		if (ret)
			return ret;
	}
	if (sd->win.nr)
		*same = !memcmp(sd->pbuf + (off - sd->win.off), p, PAGE_SIZE);
	return 0;
}

/* Bytes [from, to) of the object (data, not a hole): nonzero pages go to
 * the image, each in the run it belongs to, but those the previous round
 * has as they are. */
static int copy_extent(struct shmem_dump *sd, const struct shmem_obj *o, int fd, uint64_t from,
		       uint64_t to, const char *what)
{
	while (from < to) {
		size_t len = min(to - from, (uint64_t)READ_CHUNK);
		ssize_t n = pread(fd, sd->buf, len, from);
		int ret;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_perror("Can't read %s at offset %llu", what, (unsigned long long)from);
			return n < 0 ? -errno : -EIO;
		}
		/* The tail of the last page reads short: it is zero. */
		if ((size_t)n < len)
			memset(sd->buf + n, 0, len - n);
		for (size_t p = 0; p < len; p += PAGE_SIZE) {
			bool same;

			if (page_is_zero(sd->buf + p))
				continue;
			ret = same_as_parent(sd, o, from + p, sd->buf + p, &same);
			if (!ret)
				ret = add_page(sd, from + p, same);
			if (!ret && !same)
				ret = img_write_raw(sd->data, sd->buf + p, PAGE_SIZE);
			if (ret)
				return ret;
		}
		from += len;
	}
	return 0;
}

static int open_object(pid_t pid, const struct shmem_obj *o)
{
	char link[128];
	int fd;

	snprintf(link, sizeof(link), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)o->start,
		 (unsigned long)o->end);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open pid %d shared memory at 0x%lx", pid, (unsigned long)o->start);
		return -errno;
	}
	return fd;
}

static int read_object(pid_t pid, struct shmem_dump *sd, const struct shmem_obj *o, int fd,
		       int *seals)
{
	uint64_t end = (o->size + PAGE_SIZE - 1) & PAGE_MASK, off = 0;
	char what[96];
	int ret = 0;

	snprintf(what, sizeof(what), "pid %d shared memory at 0x%lx", pid,
		 (unsigned long)o->start);
	sd->win = (struct parent_window){ 0, 0 };
	if (o->kind == SHMEM_KIND__SHMEM_MEMFD) {
		*seals = fcntl(fd, F_GET_SEALS);
		/* F_SEAL_SEAL alone: made without MFD_ALLOW_SEALING. */
		if (*seals & ~F_SEAL_SEAL) {
			pr_err("%s: memfd \"%s\" is sealed (0x%x) and held by no fd: not supported yet\n",
			       what, o->path, *seals);
			return -EOPNOTSUPP;
		}
	}
	while (off < end && !ret) {
		off_t data = lseek(fd, off, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break;
		hole = data < 0 ? -1 : lseek(fd, data, SEEK_HOLE);
		if (hole < 0) {
			pr_perror("Can't find the data of %s", what);
			return -errno;
		}
		data &= PAGE_MASK;
		hole = min(((uint64_t)hole + PAGE_SIZE - 1) & PAGE_MASK, end);
		ret = copy_extent(sd, o, fd, data, hole, what);
		off = hole;
	}
	return ret;
}

static void fill_entry(ShmemEntry *e, SysvShmEntry *sv, const struct shmem_obj *o, pid_t pid)
{
	struct shmid_ds ds;

	e->id = o->id;
	e->kind = o->kind;
	e->dev = o->dev;
	e->ino = o->ino;
	e->size = o->size;
	if (o->kind == SHMEM_KIND__SHMEM_TMPFS || o->kind == SHMEM_KIND__SHMEM_MEMFD)
		e->path = o->path;
	if (o->kind == SHMEM_KIND__SHMEM_TMPFS) {
		e->has_mode = e->has_deleted = true;
		e->mode = o->mode;
		e->deleted = o->deleted;
	}
	if (o->task_fd >= 0) {
		e->has_task_fd = true;
		e->task_fd = o->task_fd;
	}
	if (o->kind != SHMEM_KIND__SHMEM_SYSV)
		return;
	sv->key = o->sysv_key;
	sv->shmid = o->ino;
	/* Read again at the dump: check_sysv() saw it when the VMAs were
	 * collected, with the task already frozen. */
	if (!stat_in_ns(pid, o->ino, &ds)) {
		sv->mode = ds.shm_perm.mode & 0777;
		sv->uid = ds.shm_perm.uid;
		sv->gid = ds.shm_perm.gid;
		sv->has_removed = true;
		sv->removed = ds.shm_perm.mode & SHM_DEST;
	}
	e->sysv = sv;
}

/* The entry of object O, its pages read through FD (-1: carried by the
 * task's fd, no pages here). */
static int write_entry(struct cr_img *img, pid_t pid, struct shmem_dump *sd,
		       const struct shmem_obj *o, int fd)
{
	ShmemEntry e = SHMEM_ENTRY__INIT;
	SysvShmEntry sv = SYSV_SHM_ENTRY__INIT;
	cleanup_free ShmemRun **ptrs = NULL;
	int ret = 0, seals = 0;

	sd->nr_runs = 0;
	if (fd >= 0)
		ret = read_object(pid, sd, o, fd, &seals);
	if (ret)
		return ret;
	ptrs = calloc(sd->nr_runs + 1, sizeof(*ptrs));
	if (!ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < sd->nr_runs; i++)
		ptrs[i] = &sd->runs[i];
	fill_entry(&e, &sv, o, pid);
	e.n_runs = sd->nr_runs;
	e.runs = ptrs;
	if (o->kind == SHMEM_KIND__SHMEM_MEMFD && o->task_fd < 0) {
		e.has_seals = true;
		e.seals = seals;
	}
	return img_write_msg(img, &e.base);
}

struct shmem_dump *shmem_dump_start(int dfd, const char *parent_dir, pid_t root_pid,
				    bool pre_dump)
{
	struct shmem_dump *sd = calloc(1, sizeof(*sd));

	if (!sd)
		return NULL;
	sd->later = pre_dump;
	sd->img = img_open_write(dfd, IMG_SHMEM, 0);
	sd->data = img_open_write(dfd, IMG_SHMEM_PAGES, 0);
	sd->buf = malloc(READ_CHUNK);
	sd->pbuf = parent_dir ? malloc(READ_CHUNK) : NULL;
	if (!sd->img || !sd->data || !sd->buf || (parent_dir && !sd->pbuf) ||
	    (parent_dir && shmem_chain_open(dfd, parent_dir, NULL, root_pid, &sd->parent))) {
		shmem_dump_end(sd, true);
		return NULL;
	}
	return sd;
}

/* A pre-dump: the object's fd now, its pages once the tree runs. */
static int copy_later(struct shmem_dump *sd, pid_t pid, const struct shmem_obj *o)
{
	struct shmem_later *n = realloc(sd->todo, (sd->nr_todo + 1) * sizeof(*n));
	struct shmem_later *t;

	if (!n)
		return -ENOMEM;
	sd->todo = n;
	t = &sd->todo[sd->nr_todo];
	*t = (struct shmem_later){ .o = *o, .pid = pid, .fd = -1 };
	t->o.path = o->path ? strdup(o->path) : NULL;
	if (o->path && !t->o.path)
		return -ENOMEM;
	sd->nr_todo++;
	if (o->task_fd >= 0)
		return 0;
	t->fd = open_object(pid, o);
	return t->fd < 0 ? t->fd : 0;
}

int shmem_dump_copy(struct shmem_dump *sd)
{
	int ret = 0;

	for (size_t i = 0; i < sd->nr_todo && !ret; i++)
		ret = write_entry(sd->img, sd->todo[i].pid, sd, &sd->todo[i].o, sd->todo[i].fd);
	return ret;
}

void shmem_dump_pages(const struct shmem_dump *sd, uint64_t *written, uint64_t *in_parent)
{
	*written = sd ? sd->pages_written : 0;
	*in_parent = sd ? sd->pages_in_parent : 0;
}

/* A memfd or unlinked file carried by one process's fd can only be mapped
 * through that process's own fd: another process of the tree mapping it
 * is not handled yet. */
static int check_carrier(pid_t pid, const struct shmem_seen *seen, const struct shmem_obj *o)
{
	if (!seen->task_pid && o->task_fd < 0)
		return 0;
	pr_err("pid %d: %s \"%s\" at 0x%lx is mapped by pid %d too and held by an fd: not supported yet\n",
	       pid, o->kind == SHMEM_KIND__SHMEM_MEMFD ? "memfd" : "unlinked file", o->path,
	       (unsigned long)o->start, seen->task_pid ?: pid);
	return -EOPNOTSUPP;
}

/* Each object of PID once in the tree: one already written gets its id. */
static int dump_object(struct shmem_dump *sd, pid_t pid, struct shmem_obj *o)
{
	struct shmem_seen *n;
	int fd, ret;

	for (size_t i = 0; i < sd->nr_seen; i++) {
		if (sd->seen[i].dev != o->dev || sd->seen[i].ino != o->ino)
			continue;
		o->id = sd->seen[i].id;
		return check_carrier(pid, &sd->seen[i], o);
	}
	n = realloc(sd->seen, (sd->nr_seen + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	sd->seen = n;
	o->id = sd->nr_seen + 1;
	sd->seen[sd->nr_seen++] = (struct shmem_seen){
		.dev = o->dev, .ino = o->ino, .id = o->id, .task_pid = o->task_fd >= 0 ? pid : 0,
	};
	if (sd->later)
		return copy_later(sd, pid, o);
	if (o->task_fd >= 0)
		return write_entry(sd->img, pid, sd, o, -1);
	fd = open_object(pid, o);
	if (fd < 0)
		return fd;
	ret = write_entry(sd->img, pid, sd, o, fd);
	close(fd);
	return ret;
}

int dump_shmem(struct shmem_dump *sd, pid_t pid, struct vm_area_list *vl)
{
	int ret = link_task_fds(pid, vl);

	for (size_t i = 0; i < vl->nr_shm && !ret; i++)
		ret = dump_object(sd, pid, &vl->shm[i]);
	return ret;
}

int shmem_dump_end(struct shmem_dump *sd, bool failed)
{
	int ret = 0;

	if (!sd)
		return 0;
	if (failed) {
		img_discard(sd->data);
		img_discard(sd->img);
	} else {
		if (sd->data && img_close(sd->data))
			ret = -EIO;
		if (sd->img && img_close(sd->img))
			ret = -EIO;
	}
	for (size_t i = 0; i < sd->nr_todo; i++) {
		free(sd->todo[i].o.path);
		if (sd->todo[i].fd >= 0)
			close(sd->todo[i].fd);
	}
	free(sd->todo);
	shmem_chain_close(sd->parent);
	free(sd->runs);
	free(sd->buf);
	free(sd->pbuf);
	free(sd->seen);
	free(sd);
	return ret;
}

void shmem_free(struct vm_area_list *vl)
{
	for (size_t i = 0; i < vl->nr_shm; i++)
		free(vl->shm[i].path);
	free(vl->shm);
	vl->shm = NULL;
	vl->nr_shm = 0;
}
