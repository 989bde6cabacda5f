/* Owns the restore of shared memory objects (shmem.img): validates them
 * and the VMAs that map them, then, in lmproc before the fork, makes each
 * object once (a shared anonymous mapping's shmem file, a memfd, the
 * tmpfs file at its path, the SysV segment with its key and id) and
 * fills it from shmem-pages.img.  The restorer maps the object's fd (or
 * attaches the segment) at every dumped address, so all the mappings
 * share it again.  A memfd the task holds as an fd is made by memfd.c;
 * its mappings map that fd (so does an unlinked tmpfs file the task holds,
 * made by files-reg.c).  A failed restore removes the files and
 * segments it created. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "image.h"
#include "log.h"
#include "restore.h"
#include "shmem.h"

#define SHMEM_IMG "shmem.img"
#define MEMFD_NAME_MAX 249
#define SHM_NEXT_ID "/proc/sys/kernel/shm_next_id"
#define COPY_CHUNK (1UL << 20)

#define PAGE_UP(x) (((x) + PAGE_SIZE - 1) & PAGE_MASK)

static int check_runs(const ShmemEntry *e, uint64_t *pages)
{
	if (shmem_check_runs(e, pages, NULL))
		return restore_plan_bad(SHMEM_IMG, "object %u: runs out of order or past its size",
					e->id);
	return 0;
}

static bool has_parent_runs(const ShmemEntry *e)
{
	for (size_t i = 0; i < e->n_runs; i++)
		if (e->runs[i]->has_in_parent && e->runs[i]->in_parent)
			return true;
	return false;
}

static int check_kind(const ShmemEntry *e)
{
	bool extra = e->path || e->has_mode || e->has_task_fd || e->sysv || e->has_seals ||
		     e->deleted;

	switch (e->kind) {
	case SHMEM_KIND__SHMEM_ANON:
		if (extra || !PAGE_ALIGNED(e->size))
			break;
		return 0;
	case SHMEM_KIND__SHMEM_MEMFD:
		if (!e->path || strlen(e->path) > MEMFD_NAME_MAX || e->has_mode || e->sysv ||
		    e->deleted ||
		    (e->has_task_fd && (e->task_fd < 0 || e->n_runs || e->has_seals)) ||
		    (e->seals & ~F_SEAL_SEAL))
			break;
		return 0;
	case SHMEM_KIND__SHMEM_TMPFS:
		if (!e->path || e->path[0] != '/' || strlen(e->path) >= 4096 || !e->has_mode ||
		    (e->mode & ~07777) || e->sysv || e->has_seals ||
		    (e->has_task_fd && (!e->deleted || e->task_fd < 0 || e->n_runs)))
			break;
		return 0;
	case SHMEM_KIND__SHMEM_SYSV:
		if (!e->sysv || e->sysv->shmid < 0 || (e->sysv->mode & ~0777) || e->path ||
		    e->has_mode || e->has_task_fd || e->has_seals || e->deleted ||
		    (e->sysv->removed && e->sysv->key != IPC_PRIVATE))
			break;
		return 0;
	default:
		return restore_plan_bad(SHMEM_IMG, "object %u has unknown kind %d", e->id, e->kind);
	}
	return restore_plan_bad(SHMEM_IMG, "object %u (%s): fields do not fit its kind", e->id,
				protobuf_c_enum_descriptor_get_value(&shmem_kind__descriptor,
								     e->kind)->name);
}

static int check_entry(const ShmemEntry *e, size_t i, uint64_t *pages)
{
	int ret;

	if (e->id != i + 1)
		return restore_plan_bad(SHMEM_IMG, "entry %zu has id %u", i, e->id);
	if (!e->size || e->size > SHMEM_MAX_SIZE)
		return restore_plan_bad(SHMEM_IMG, "object %u has size %llu", e->id,
					(unsigned long long)e->size);
	ret = check_kind(e);
	return ret ? ret : check_runs(e, pages);
}

static const FdinfoEntry *find_task_fd(const struct restore_plan *p, int fd, const FileEntry **fe)
{
	for (size_t i = 0; i < p->nr_fds; i++) {
		if ((int)p->fds[i]->fd != fd)
			continue;
		*fe = p->files[p->fd_desc[i]];
		return p->fds[i];
	}
	return NULL;
}

/* The task's fd that carries object E is of its kind. */
static bool fd_fits(const ShmemEntry *e, const FileEntry *fe)
{
	if (e->kind == SHMEM_KIND__SHMEM_MEMFD)
		return fe->type == FD_TYPE__FD_MEMFD;
	return fe->type == FD_TYPE__FD_REG && fe->reg->ghost && !strcmp(fe->reg->path, e->path);
}

static uint32_t fd_flags(const FileEntry *fe)
{
	return fe->type == FD_TYPE__FD_MEMFD ? fe->memfd->flags : fe->reg->flags;
}

/* A VMA maps an object that exists, inside it where that matters, and
 * through an fd that allows its protection. */
static int check_vma(const struct restore_plan *p, const VmaEntry *v)
{
	const ShmemEntry *e = v->shmem && v->shmem <= p->nr_shmem ? p->shmem[v->shmem - 1] : NULL;
	uint64_t len = v->end - v->start;
	const FileEntry *fe = NULL;

	if (!e)
		return restore_plan_bad("mm.img", "vma 0x%llx maps shared memory object %u of %zu",
					(unsigned long long)v->start, v->shmem, p->nr_shmem);
	if (e->kind == SHMEM_KIND__SHMEM_SYSV && (v->pgoff || len != PAGE_UP(e->size)))
		return restore_plan_bad("mm.img", "vma 0x%llx-0x%llx is not all of SysV segment %d",
					(unsigned long long)v->start, (unsigned long long)v->end,
					e->sysv->shmid);
	/* Past the object's end is allowed (mremap can grow a mapping there;
	 * touching it gives SIGBUS, as it did). */
	if (v->pgoff > SHMEM_MAX_SIZE || len > SHMEM_MAX_SIZE - v->pgoff)
		return restore_plan_bad("mm.img", "vma 0x%llx-0x%llx at offset 0x%llx of its object",
					(unsigned long long)v->start, (unsigned long long)v->end,
					(unsigned long long)v->pgoff);
	if (!e->has_task_fd)
		return 0;
	if (!find_task_fd(p, e->task_fd, &fe) || !fd_fits(e, fe))
		return restore_plan_bad(SHMEM_IMG, "object %u: fd %d is not its %s in the dump",
					e->id, e->task_fd,
					e->kind == SHMEM_KIND__SHMEM_MEMFD ? "memfd" : "unlinked file");
	if ((v->prot & PROT_WRITE) && (fd_flags(fe) & O_ACCMODE) != O_RDWR)
		return restore_plan_bad(SHMEM_IMG, "object %u: writable vma 0x%llx, fd %d is not O_RDWR",
					e->id, (unsigned long long)v->start, e->task_fd);
	return 0;
}

static int read_entries(int dfd, struct restore_plan *p)
{
	return img_read_all(dfd, IMG_SHMEM, 0, true, (ProtobufCMessage ***)&p->shmem, &p->nr_shmem);
}

static int check_data_size(int dfd, uint64_t pages)
{
	uint64_t len;
	int ret = img_raw_verify(dfd, IMG_SHMEM_PAGES, 0, "", !pages, &len);

	if (ret)
		return ret;
	if (len != pages * PAGE_SIZE)
		return restore_plan_bad("shmem-pages.img", "%llu bytes, shmem.img lists %llu pages",
					(unsigned long long)len, (unsigned long long)pages);
	return 0;
}

/* Pages listed in_parent are in the rounds behind the dump, which stay
 * open (the chain) until the objects are filled. */
static int check_parent_runs(int dfd, struct restore_plan *p)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < p->nr_shmem; i++) {
		if (!has_parent_runs(p->shmem[i]))
			continue;
		if (!p->shmem_chain && !p->inv->parent_dir)
			return restore_plan_bad(SHMEM_IMG, "object %u lists pages of a previous "
						"round, but inventory.img names none", p->shmem[i]->id);
		if (!p->shmem_chain)
			ret = shmem_chain_open(dfd, p->inv->parent_dir, p->inv, p->inv->root_pid,
					       &p->shmem_chain);
		if (!ret)
			ret = shmem_chain_check(p->shmem_chain, p->shmem[i], "");
	}
	return ret;
}

int restore_read_shmem(int dfd, struct restore_plan *p)
{
	uint64_t pages = 0;
	int ret = read_entries(dfd, p);

	if (ret)
		return ret;
	p->shmem_data_off = calloc(p->nr_shmem + 1, sizeof(*p->shmem_data_off));
	if (!p->shmem_data_off)
		return -ENOMEM;
	for (size_t i = 0; i < p->nr_shmem; i++) {
		p->shmem_data_off[i] = pages * PAGE_SIZE;
		ret = check_entry(p->shmem[i], i, &pages);
		if (ret)
			return ret;
	}
	ret = check_data_size(dfd, pages);
	if (!ret)
		ret = check_parent_runs(dfd, p);
	for (size_t i = 0; !ret && i < p->mm->n_vmas; i++)
		if (p->mm->vmas[i]->kind == VMA_KIND__VMA_SHMEM)
			ret = check_vma(p, p->mm->vmas[i]);
	return ret;
}

void restore_free_shmem(struct restore_plan *p)
{
	for (size_t i = 0; i < p->nr_shmem; i++)
		img_free_msg(&p->shmem[i]->base);
	free(p->shmem);
	free(p->shmem_data_off);
	shmem_chain_close(p->shmem_chain);
	p->shmem_chain = NULL;
	p->shmem = NULL;
	p->shmem_data_off = NULL;
	p->nr_shmem = 0;
}

static int read_full(int fd, void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_perror("Can't read shmem-pages.img at offset %llu", (unsigned long long)off);
			return n < 0 ? -errno : -EIO;
		}
		buf = (char *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len, uint64_t off, const char *what)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_perror("Can't write %s at offset %llu", what, (unsigned long long)off);
			return n < 0 ? -errno : -EIO;
		}
		buf = (const char *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

/* LEN bytes from SRC at SOFF into the object FD at OFF. */
static int copy_bytes(int src, uint64_t soff, int fd, uint64_t off, uint64_t len, char *buf,
		      const char *what)
{
	int ret = 0;

	while (len && !ret) {
		size_t n = min(len, COPY_CHUNK);

		ret = read_full(src, buf, n, soff);
		if (!ret)
			ret = write_full(fd, buf, n, off, what);
		off += n;
		soff += n;
		len -= n;
	}
	return ret;
}

/* A run in_parent: its pages from the rounds behind the dump, checked
 * there when the images were read. */
static int fill_from_parent(struct restore_ctx *ctx, const ShmemEntry *e, const ShmemRun *r,
			    int fd, char *buf, const char *what)
{
	uint64_t off = r->off, end = r->off + (uint64_t)r->nr_pages * PAGE_SIZE;
	int ret = 0;

	while (off < end && !ret) {
		struct shmem_src src;
		uint64_t len;

		ret = shmem_chain_find(ctx->plan.shmem_chain, e->dev, e->ino, off, &src);
		if (ret)
			return ret > 0 ? -EINVAL : ret;
		len = min(end - off, src.nr_pages * PAGE_SIZE);
		ret = copy_bytes(src.fd, src.off, fd, off, len, buf, what);
		off += len;
	}
	return ret;
}

/* The object's runs, from the images into FD. */
static int fill_object(struct restore_ctx *ctx, size_t i, int fd, const char *what)
{
	const ShmemEntry *e = ctx->plan.shmem[i];
	uint64_t doff = ctx->plan.shmem_data_off[i];
	cleanup_close int data = -1;
	cleanup_free char *buf = NULL;
	int ret = 0;

	if (!e->n_runs)
		return 0;
	data = img_open_file(ctx->dfd, image_descs[IMG_SHMEM_PAGES].name_fmt, false);
	if (data < 0)
		return data;
	buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	for (size_t r = 0; r < e->n_runs && !ret; r++) {
		const ShmemRun *run = e->runs[r];
		uint64_t len = (uint64_t)run->nr_pages * PAGE_SIZE;

		if (run->has_in_parent && run->in_parent) {
			ret = fill_from_parent(ctx, e, run, fd, buf, what);
			continue;
		}
		ret = copy_bytes(data, doff, fd, run->off, len, buf, what);
		doff += len;
	}
	return ret;
}

/* The kernel's "/dev/zero" shmem file, the same object a task's
 * MAP_SHARED|MAP_ANONYMOUS mapping gets: made by such a mapping in lmproc
 * and kept through map_files. */
static int make_anon(const ShmemEntry *e)
{
	char link[96];
	void *m = mmap(NULL, e->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int fd;

	if (m == MAP_FAILED) {
		pr_perror("Can't make shared anonymous memory of %llu bytes",
			  (unsigned long long)e->size);
		return -errno;
	}
	snprintf(link, sizeof(link), "/proc/self/map_files/%lx-%lx", (unsigned long)m,
		 (unsigned long)m + (unsigned long)e->size);
	fd = open(link, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		pr_perror("Can't open %s", link);
	munmap(m, e->size);
	return fd < 0 ? -errno : fd;
}

static int make_memfd(const ShmemEntry *e)
{
	int fd = memfd_create(e->path, MFD_CLOEXEC | (e->seals ? 0 : MFD_ALLOW_SEALING));

	if (fd < 0) {
		pr_perror("Can't create memfd \"%s\"", e->path);
		return -errno;
	}
	if (ftruncate(fd, e->size)) {
		pr_perror("Can't size memfd \"%s\" to %llu bytes", e->path,
			  (unsigned long long)e->size);
		close(fd);
		return -errno;
	}
	return fd;
}

/* A file that had been unlinked: made at its old path (the name the
 * mappings show) and unlinked again at once. */
static int make_deleted_tmpfs(const ShmemEntry *e)
{
	int fd = open(e->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, e->mode);

	if (fd < 0) {
		pr_perror("Can't make the deleted tmpfs file %s again", e->path);
		return -errno;
	}
	if (unlink(e->path)) {
		pr_perror("Can't unlink %s again", e->path);
		close(fd);
		return -errno;
	}
	return fd;
}

/* The file at its path, created if it is gone (another host), emptied
 * and sized as dumped: the dumped contents are what the task saw. */
static int make_tmpfs(const ShmemEntry *e, bool *made)
{
	struct statfs sf;
	struct stat st;
	int fd;

	if (e->deleted) {
		fd = make_deleted_tmpfs(e);
	} else {
		fd = open(e->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, e->mode);
		*made = fd >= 0;
		if (fd < 0 && errno == EEXIST)
			fd = open(e->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		pr_perror("Can't open tmpfs file %s", e->path);
		return -errno;
	}
	if (fstat(fd, &st) || fstatfs(fd, &sf) || !S_ISREG(st.st_mode) ||
	    sf.f_type != TMPFS_MAGIC) {
		pr_err("%s is not a regular file on tmpfs any more: its shared mappings can't be restored\n",
		       e->path);
		close(fd);
		return -EINVAL;
	}
	if (ftruncate(fd, 0) || ftruncate(fd, e->size)) {
		pr_perror("Can't size %s to %llu bytes", e->path, (unsigned long long)e->size);
		close(fd);
		return -errno;
	}
	return fd;
}

static int set_next_shmid(int id)
{
	char buf[16];
	int fd = open(SHM_NEXT_ID, O_WRONLY | O_CLOEXEC), n, ret = 0;

	if (fd < 0) {
		pr_perror("Can't open %s to choose SysV shm id %d", SHM_NEXT_ID, id);
		return -errno;
	}
	n = snprintf(buf, sizeof(buf), "%d", id);
	if (write(fd, buf, n) != n) {
		pr_perror("Can't write %d to %s", id, SHM_NEXT_ID);
		ret = -errno;
	}
	close(fd);
	return ret;
}

/* A segment with the dumped id, key and size (the same host, the dumped
 * process killed) is the object itself; otherwise it is created with that
 * id and key, if both are free. */
static int make_sysv(const ShmemEntry *e, bool *made)
{
	const SysvShmEntry *sv = e->sysv;
	struct shmid_ds ds;
	int id;

	if (!shmctl(sv->shmid, IPC_STAT, &ds)) {
		if (ds.shm_perm.__key == sv->key && ds.shm_segsz == e->size &&
		    !(ds.shm_perm.mode & SHM_DEST))
			return sv->shmid;
		pr_err("SysV shm id %d is taken by another segment (key 0x%x, %zu bytes); pid's segment had key 0x%x, %llu bytes\n",
		       sv->shmid, ds.shm_perm.__key, ds.shm_segsz, sv->key,
		       (unsigned long long)e->size);
		return -EEXIST;
	}
	if (sv->key != IPC_PRIVATE && (id = shmget(sv->key, 0, 0)) >= 0) {
		pr_err("SysV shm key 0x%x is taken by segment %d, not the dumped %d\n", sv->key, id,
		       sv->shmid);
		return -EEXIST;
	}
	id = set_next_shmid(sv->shmid);
	if (id)
		return id;
	id = shmget(sv->key, e->size, IPC_CREAT | IPC_EXCL | sv->mode);
	if (id < 0) {
		pr_perror("Can't create SysV segment key 0x%x of %llu bytes", sv->key,
			  (unsigned long long)e->size);
		return -errno;
	}
	*made = true;
	if (id != sv->shmid) {
		pr_err("SysV segment key 0x%x got id %d, not the dumped %d (this IPC namespace can't give it)\n",
		       sv->key, id, sv->shmid);
		shmctl(id, IPC_RMID, NULL);
		*made = false;
		return -EEXIST;
	}
	ds.shm_perm.uid = sv->uid;
	ds.shm_perm.gid = sv->gid;
	ds.shm_perm.mode = sv->mode;
	if (shmctl(id, IPC_SET, &ds)) {
		pr_perror("Can't set owner %u:%u of SysV segment %d", sv->uid, sv->gid, id);
		return -errno;
	}
	return id;
}

/* Attached in lmproc only to be filled, through its shmem file (writes
 * into a page-cache file are several times faster here than reads into
 * a shared mapping); pages the dump has not are punched out first (a
 * reused segment may hold newer data). */
static int fill_sysv(struct restore_ctx *ctx, size_t i, int id)
{
	uint64_t len = PAGE_UP(ctx->plan.shmem[i]->size);
	char what[64], link[96];
	char *m = shmat(id, NULL, 0);
	int fd = -1, ret = 0;

	snprintf(what, sizeof(what), "SysV segment %d", id);
	if (m == (void *)-1) {
		pr_perror("Can't attach %s to fill it", what);
		return -errno;
	}
	snprintf(link, sizeof(link), "/proc/self/map_files/%lx-%lx", (unsigned long)m,
		 (unsigned long)m + (unsigned long)len);
	if (madvise(m, len, MADV_REMOVE) || (fd = open(link, O_RDWR | O_CLOEXEC)) < 0) {
		pr_perror("Can't empty %s or open it through %s", what, link);
		ret = -errno;
	}
	shmdt(m);
	if (!ret)
		ret = fill_object(ctx, i, fd, what);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int make_object(struct restore_ctx *ctx, size_t i)
{
	const ShmemEntry *e = ctx->plan.shmem[i];
	char what[96];
	int fd, ret;

	switch (e->kind) {
	case SHMEM_KIND__SHMEM_SYSV:
		fd = make_sysv(e, &ctx->shmem_made[i]);
		ret = fd < 0 ? fd : fill_sysv(ctx, i, fd);
		return ret ? ret : RESTORE_SHMEM_NO_FD;
	case SHMEM_KIND__SHMEM_MEMFD:
		fd = make_memfd(e);
		break;
	case SHMEM_KIND__SHMEM_TMPFS:
		fd = make_tmpfs(e, &ctx->shmem_made[i]);
		break;
	default:
		fd = make_anon(e);
		break;
	}
	if (fd < 0)
		return fd;
	snprintf(what, sizeof(what), "shared memory object %u (%s)", e->id,
		 e->path ? e->path : "anonymous");
	ret = fill_object(ctx, i, fd, what);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

static bool maps_object(const struct restore_plan *p, size_t i)
{
	for (size_t v = 0; v < p->mm->n_vmas; v++)
		if (p->mm->vmas[v]->kind == VMA_KIND__VMA_SHMEM && p->mm->vmas[v]->shmem == i + 1)
			return true;
	return false;
}

/* The process of the tree that made object I before this one, or NULL. */
static const struct restore_ctx *made_before(const struct restore_ctx *ctx, size_t i)
{
	for (size_t k = 0; ctx->tree && k < ctx->idx; k++) {
		const struct restore_ctx *c = &ctx->tree->ctx[k];

		if (c->plan.pid && c->shmem_own && i < c->plan.nr_shmem && c->shmem_own[i])
			return c;
	}
	return NULL;
}

int restore_make_shmem(struct restore_ctx *ctx, size_t i)
{
	const ShmemEntry *e = ctx->plan.shmem[i];
	const struct restore_ctx *first;
	int fd;

	if (!maps_object(&ctx->plan, i) || e->has_task_fd)
		return RESTORE_SHMEM_NO_FD;
	first = made_before(ctx, i);
	if (!first) {
		fd = make_object(ctx, i);
		ctx->shmem_own[i] = fd >= 0 || fd == RESTORE_SHMEM_NO_FD;
		return fd;
	}
	if (e->kind == SHMEM_KIND__SHMEM_SYSV)
		return RESTORE_SHMEM_NO_FD;
	fd = dup(first->shmem_fd[i]);
	if (fd < 0)
		pr_perror("Can't share object %u with pid %d", e->id, first->plan.pid);
	return fd < 0 ? -errno : fd;
}

void restore_done_shmem(struct restore_ctx *ctx)
{
	for (size_t i = 0; ctx->shmem_own && i < ctx->plan.nr_shmem; i++) {
		const ShmemEntry *e = ctx->plan.shmem[i];

		if (e->kind != SHMEM_KIND__SHMEM_SYSV || !e->sysv->removed || !ctx->shmem_own[i])
			continue;
		if (shmctl(e->sysv->shmid, IPC_RMID, NULL))
			pr_warn("pid %d: can't mark SysV segment %d for removal again: %s\n",
				ctx->plan.pid, e->sysv->shmid, strerror(errno));
	}
}

void restore_undo_shmem(struct restore_ctx *ctx, bool sysv)
{
	for (size_t i = 0; ctx->shmem_made && i < ctx->plan.nr_shmem; i++) {
		const ShmemEntry *e = ctx->plan.shmem[i];

		if (!ctx->shmem_made[i] || (e->kind == SHMEM_KIND__SHMEM_SYSV && !sysv))
			continue;
		if (e->kind == SHMEM_KIND__SHMEM_SYSV)
			shmctl(e->sysv->shmid, IPC_RMID, NULL);
		else
			unlink(e->path);
		ctx->shmem_made[i] = false;
	}
}
