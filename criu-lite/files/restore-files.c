/* Owns the files of a restore: the service fds lmproc opens before the
 * fork (the pages image, the mapped files and shared memory objects the
 * restorer needs and files-data.img), and, in the forked task, the dumped fds at their
 * numbers (each open file description made by its type, fd-types.h, and
 * dup'ed to every fd that shared it) and the fs context (cwd, root,
 * umask).  The task-side functions run between the fork and the
 * restorer: they report into a buffer, never through the log, since fds
 * 0-2 are the task's own by then. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "fs-ghost.h"
#include "image.h"
#include "log.h"
#include "restore.h"
#include "sk-unix.h"

/* Moves FD to the lowest free number >= BASE. */
static int move_above(int fd, int base)
{
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, base);
	int e = errno;

	close(fd);
	errno = e;
	return nfd;
}

static int note_service_fd(struct restore_ctx *ctx, int fd)
{
	if (ctx->svc_fds[0] < 0 || fd < ctx->svc_fds[0])
		ctx->svc_fds[0] = fd;
	if (fd > ctx->svc_fds[1])
		ctx->svc_fds[1] = fd;
	return fd;
}

/* Made again from files-data.img, which is opened here for it alone. */
static int open_mapped_ghost(struct restore_ctx *ctx, size_t i, int base)
{
	const MappedFileEntry *f = ctx->plan.mm->files[i];
	int data, fd;

	data = img_open_file(ctx->dfd, image_descs[IMG_FILES_DATA].name_fmt, false);
	if (data < 0)
		return data;
	fd = mem_ghost_make(f, data);
	close(data);
	if (fd < 0)
		return fd;
	fd = move_above(fd, base);
	if (fd < 0) {
		pr_perror("Can't move the fd of deleted mapped file %s above fd %d", f->path, base);
		return -errno;
	}
	ctx->mfile_fd[i] = note_service_fd(ctx, fd);
	return 0;
}

static int open_mapped_file(struct restore_ctx *ctx, size_t i, int base)
{
	const MappedFileEntry *f = ctx->plan.mm->files[i];
	struct file_dumped d;
	int fd, ret;

	if (f->ghost)
		return open_mapped_ghost(ctx, i, base);
	fd = open(f->path, f->open_flags | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("pid %d: can't open its mapped file %s", ctx->plan.pid, f->path);
		return -errno;
	}
	/* Checked again on what was opened: the path may have been replaced
	 * since the checks (another inode is accepted as they accepted it). */
	d = file_dumped_mapped(f);
	ret = file_valid_fd(&d, fd, ctx->tree->file_valid,
			    restore_mapper_words(&ctx->plan, i, f->path).s);
	if (ret) {
		close(fd);
		return ret;
	}
	fd = move_above(fd, base);
	if (fd < 0) {
		pr_perror("Can't move the fd of mapped file %s above fd %d", f->path, base);
		return -errno;
	}
	ctx->mfile_fd[i] = note_service_fd(ctx, fd);
	return 0;
}

/* The shared memory objects the restorer maps (restore-shmem.c). */
static int open_shmem(struct restore_ctx *ctx, int base)
{
	size_t n = ctx->plan.nr_shmem;
	int fd;

	ctx->shmem_fd = malloc((n + 1) * sizeof(int));
	ctx->shmem_made = calloc(n + 1, sizeof(bool));
	ctx->shmem_own = calloc(n + 1, sizeof(bool));
	if (!ctx->shmem_fd || !ctx->shmem_made || !ctx->shmem_own)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		ctx->shmem_fd[i] = -1;
	for (size_t i = 0; i < n; i++) {
		fd = restore_make_shmem(ctx, i);
		if (fd == RESTORE_SHMEM_NO_FD)
			continue;
		if (fd < 0)
			return fd;
		fd = move_above(fd, base);
		if (fd < 0) {
			pr_perror("Can't move the fd of shared memory object %zu above fd %d", i + 1,
				  base);
			return -errno;
		}
		ctx->shmem_fd[i] = note_service_fd(ctx, fd);
	}
	return 0;
}

/* lmproc's fds given with --inherit-fd, to every task: whichever makes
 * the pipe (the deepest above its holders) has them (pipes.c). */
static int open_inherited(struct restore_ctx *ctx, int base)
{
	for (int k = 0; k < ctx->opts->nr_inherit; k++) {
		int fd = fcntl(ctx->opts->inherit[k].fd, F_DUPFD_CLOEXEC, base);

		if (fd < 0) {
			pr_perror("Can't take lmproc's fd %d (--inherit-fd) above fd %d",
				  ctx->opts->inherit[k].fd, base);
			return -errno;
		}
		ctx->inherit_fd[k] = note_service_fd(ctx, fd);
	}
	return 0;
}

/* lmproc's terminal, for a task that had its shell's (tty.c). */
static int open_tty(struct restore_ctx *ctx, int base)
{
	int fd = restore_tty_fd(ctx);

	if (fd < 0)
		return fd == -1 ? 0 : fd;
	fd = fcntl(fd, F_DUPFD_CLOEXEC, base);
	if (fd < 0) {
		pr_perror("Can't move lmproc's terminal above fd %d", base);
		return -errno;
	}
	ctx->tty_fd = note_service_fd(ctx, fd);
	return 0;
}

/* The files the restorer maps, and the executable for PR_SET_MM_MAP. */
static bool *files_needed(const struct restore_plan *p)
{
	bool *need = calloc(p->mm->n_files + 1, sizeof(*need));

	if (!need)
		return NULL;
	for (size_t i = 0; i < p->mm->n_vmas; i++) {
		const VmaEntry *v = p->mm->vmas[i];

		if (v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED)
			need[v->file] = true;
	}
	need[p->mm->exe_file] = true;
	return need;
}

/* The service fds sit above every fd the task will get, so placing those
 * never collides with them; raise the soft limit if they would not fit,
 * with the task's parked fds (task_files_park) above them. */
static int service_fd_base(const struct restore_plan *p, int tree_base)
{
	int base = max(p->nr_fds ? (int)p->fds[p->nr_fds - 1]->fd + 1 : 0, tree_base);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		pr_perror("Can't read RLIMIT_NOFILE");
		return -errno;
	}
	if ((rlim_t)base + p->mm->n_files + p->nr_shmem + 3 + RESTORE_PARKED_FDS > rl.rlim_cur) {
		pr_info("Raising RLIMIT_NOFILE from %llu to %llu for fd %d\n",
			(unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, base - 1);
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			pr_perror("Can't raise RLIMIT_NOFILE");
			return -errno;
		}
	}
	return base;
}

int restore_open_service_fds(struct restore_ctx *ctx)
{
	const struct restore_plan *p = &ctx->plan;
	cleanup_free bool *need = NULL;
	char name[64];
	int base, fd, ret;

	ctx->svc_fds[0] = ctx->svc_fds[1] = -1;
	ctx->files_data_fd = -1;
	ctx->tty_fd = -1;
	for (int k = 0; k < MAX_INHERIT_FDS; k++)
		ctx->inherit_fd[k] = -1;
	ctx->mfile_fd = malloc((p->mm->n_files + 1) * sizeof(int));
	need = files_needed(p);
	if (!ctx->mfile_fd || !need)
		return -ENOMEM;
	for (size_t i = 0; i < p->mm->n_files; i++)
		ctx->mfile_fd[i] = -1;
	base = service_fd_base(p, ctx->tree->fd_base);
	if (base < 0)
		return base;
	snprintf(name, sizeof(name), image_descs[IMG_PAGES].name_fmt, p->pid);
	for (uint32_t l = 0; l < p->nr_levels; l++) {
		fd = img_open_file(p->level_dfd[l], name, false);
		if (fd < 0)
			return fd;
		fd = move_above(fd, base);
		if (fd < 0) {
			pr_perror("Can't move the fd of image %s above fd %d", name, base);
			return -errno;
		}
		ctx->pages_fds[l] = note_service_fd(ctx, fd);
	}
	for (size_t i = 0; i < p->mm->n_files; i++) {
		if (!need[i])
			continue;
		ret = open_mapped_file(ctx, i, base);
		if (ret)
			return ret;
	}
	ret = open_shmem(ctx, base);
	if (!ret)
		ret = open_tty(ctx, base);
	if (!ret)
		ret = open_inherited(ctx, base);
	if (ret)
		return ret;
	fd = img_open_file(ctx->dfd, image_descs[IMG_FILES_DATA].name_fmt, false);
	if (fd < 0)
		return fd;
	fd = move_above(fd, base);
	if (fd < 0) {
		pr_perror("Can't move the fd of files-data.img above fd %d", base);
		return -errno;
	}
	ctx->files_data_fd = note_service_fd(ctx, fd);
	return 0;
}

void restore_close_service_fds(struct restore_ctx *ctx)
{
	for (int k = 0; k < MAX_INHERIT_FDS; k++) {
		if (ctx->inherit_fd[k] >= 0)
			close(ctx->inherit_fd[k]);
		ctx->inherit_fd[k] = -1;
	}
	for (uint32_t l = 0; l < RESTORER_MAX_LEVELS; l++) {
		if (ctx->pages_fds[l] >= 0)
			close(ctx->pages_fds[l]);
		ctx->pages_fds[l] = -1;
	}
	/* mfile_fd is set once restore_open_service_fds() ran. */
	if (ctx->mfile_fd && ctx->files_data_fd >= 0)
		close(ctx->files_data_fd);
	for (size_t i = 0; ctx->mfile_fd && i < ctx->plan.mm->n_files; i++)
		if (ctx->mfile_fd[i] >= 0)
			close(ctx->mfile_fd[i]);
	free(ctx->mfile_fd);
	ctx->mfile_fd = NULL;
	for (size_t i = 0; ctx->shmem_fd && i < ctx->plan.nr_shmem; i++)
		if (ctx->shmem_fd[i] >= 0)
			close(ctx->shmem_fd[i]);
	free(ctx->shmem_fd);
	ctx->shmem_fd = NULL;
	if (ctx->tty_fd >= 0)
		close(ctx->tty_fd);
	ctx->tty_fd = -1;
}

static bool is_service_fd(const struct restore_ctx *ctx, int fd)
{
	if (!ctx->mfile_fd)
		return false;
	if (fd == ctx->files_data_fd || fd == ctx->tty_fd)
		return true;
	for (int k = 0; k < ctx->opts->nr_inherit; k++)
		if (fd == ctx->inherit_fd[k])
			return true;
	for (uint32_t l = 0; l < ctx->plan.nr_levels; l++)
		if (fd == ctx->pages_fds[l])
			return true;
	for (size_t i = 0; i < ctx->plan.mm->n_files; i++)
		if (ctx->mfile_fd[i] == fd)
			return true;
	for (size_t i = 0; ctx->shmem_fd && i < ctx->plan.nr_shmem; i++)
		if (ctx->shmem_fd[i] == fd)
			return true;
	return false;
}

/* The task keeps its own service fds, those of the processes it is yet
 * to fork below it, and the shared files they inherit. */
static bool kept_fd(const struct restore_ctx *ctx, int fd)
{
	const struct restore_tree *t = ctx->tree;

	if (fd >= t->inherit_base && fd < t->inherit_base + t->nr_inherit)
		return true;
	for (size_t i = ctx->idx; i < t->nr; i++) {
		const struct restore_ctx *c = &t->ctx[i];

		if (!restore_in_subtree(t, ctx->idx, i) || fd < c->svc_fds[0] || fd > c->svc_fds[1])
			continue;
		if (is_service_fd(c, fd))
			return true;
	}
	return false;
}

/* Everything lmproc had open goes, except what kept_fd() names: every
 * kept fd lies in [lowest service fd, end of the inherited ones). */
static int close_inherited(const struct restore_ctx *ctx, char *err, size_t len)
{
	const struct restore_tree *t = ctx->tree;
	int lo = t->inherit_base, hi = t->inherit_base + t->nr_inherit - 1;
	unsigned int from = 0;

	for (size_t i = 0; i < t->nr; i++)
		if (t->ctx[i].svc_fds[0] >= 0)
			lo = min(lo, t->ctx[i].svc_fds[0]);
	for (int fd = lo; fd >= 0 && fd <= hi; fd++) {
		if (!kept_fd(ctx, fd))
			continue;
		if ((unsigned int)fd > from && close_range(from, fd - 1, 0)) {
			snprintf(err, len, "can't close inherited fds %u-%d: %s", from, fd - 1,
				 strerror(errno));
			return -errno;
		}
		from = fd + 1;
	}
	if (close_range(from, ~0U, 0)) {
		snprintf(err, len, "can't close inherited fds from %u: %s", from, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Once its children are forked: the fds only they needed go. */
int restore_task_drop_inherited(struct restore_ctx *ctx, char *err, size_t len)
{
	const struct restore_tree *t = ctx->tree;

	for (size_t i = ctx->idx + 1; i < t->nr; i++) {
		const struct restore_ctx *c = &t->ctx[i];

		if (!restore_in_subtree(t, ctx->idx, i) || c->svc_fds[0] < 0)
			continue;
		for (int fd = c->svc_fds[0]; fd <= c->svc_fds[1]; fd++)
			if (!is_service_fd(ctx, fd) && is_service_fd(c, fd))
				close(fd);
	}
	if (t->nr_inherit &&
	    close_range(t->inherit_base, t->inherit_base + t->nr_inherit - 1, 0)) {
		snprintf(err, len, "can't close the shared files' fds: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int task_files_err(struct task_files *tf, uint32_t desc, const char *fmt, ...)
{
	const struct file_desc *d = &tf->plan->fdesc[desc];
	int e = errno ?: EIO, n;
	va_list ap;

	n = snprintf(tf->err, tf->len, "fd %d (%s): ", d->first_fd, d->ops->name);
	if (n >= 0 && (size_t)n < tf->len) {
		va_start(ap, fmt);
		vsnprintf(tf->err + n, tf->len - n, fmt, ap);
		va_end(ap);
	}
	return -e;
}

int task_files_install(struct task_files *tf, uint32_t desc, int tmp)
{
	int fd = tf->plan->fdesc[desc].first_fd;

	if (fd < 0) {
		if (tf->plan->fdesc[desc].in_flight_here)
			return unix_scm_keep(tf, desc, tmp);
		close(tmp);
		return 0;
	}
	if (tmp != fd) {
		if (dup2(tmp, fd) < 0) {
			int ret = task_files_err(tf, desc, "can't move fd %d to %d: %s", tmp, fd,
						 strerror(errno));

			close(tmp);
			return ret;
		}
		close(tmp);
	}
	tf->file_fd[desc] = fd;
	return 0;
}

bool task_files_in_the_way(const struct task_files *tf, uint32_t desc, int fd, uint32_t owner)
{
	uint32_t m = desc;

	do {
		if (m != owner && tf->plan->fdesc[m].first_fd == fd && tf->file_fd[m] < 0)
			return true;
		m = tf->plan->fdesc[m].obj_next;
	} while (m != desc);
	return false;
}

int task_files_park(struct task_files *tf, int fd)
{
	int nfd;

	if (fd >= tf->park_base)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, tf->park_base);
	if (nfd < 0) {
		snprintf(tf->err, tf->len, "can't move fd %d above fd %d: %s", fd, tf->park_base,
			 strerror(errno));
		nfd = -errno;
	}
	close(fd);
	return nfd;
}

int task_object_fd(const struct task_files *tf, uint32_t desc)
{
	for (uint32_t i = tf->plan->fdesc[desc].obj_next; i != desc;
	     i = tf->plan->fdesc[i].obj_next)
		if (tf->file_fd[i] >= 0)
			return tf->file_fd[i];
	return -1;
}

int task_reopen(int fd, uint32_t flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, (flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL | O_TRUNC)) | O_NOCTTY);
}

/* The fd of FDS[i]: made by its type the first time its description is
 * needed, dup'ed from there after. */
static int place_one(struct task_files *tf, size_t i)
{
	const FdinfoEntry *e = tf->plan->fds[i];
	uint32_t desc = tf->plan->fd_desc[i];
	int ret;

	if (tf->file_fd[desc] < 0) {
		ret = tf->plan->fdesc[desc].ops->open(tf, desc);
		if (ret)
			return ret;
	}
	if (tf->file_fd[desc] != (int)e->fd && dup2(tf->file_fd[desc], e->fd) < 0) {
		snprintf(tf->err, tf->len, "fd %u: can't dup fd %d: %s", e->fd, tf->file_fd[desc],
			 strerror(errno));
		return -errno;
	}
	if (fcntl(e->fd, F_SETFD, e->fd_flags)) {
		snprintf(tf->err, tf->len, "fd %u: can't set fd flags: %s", e->fd, strerror(errno));
		return -errno;
	}
	return 0;
}

/* This process made the description: its own, or a shared one it makes
 * for the processes below it (which inherit it finished). */
static bool made_here(const struct file_desc *d)
{
	return d->make_here || (d->first_fd >= 0 && d->inherit_fd < 0);
}

/* fds are placed in increasing order, so the lowest free number (where a
 * type's open() lands) is never an fd still to come; objects with more
 * than one fd park the others first (task_files_park). */
int restore_task_files(struct restore_ctx *ctx, char *err, size_t len)
{
	const struct restore_plan *p = &ctx->plan;
	struct task_files tf = { .plan = p, .data_fd = ctx->files_data_fd, .tty_fd = ctx->tty_fd,
				 .opts = ctx->opts, .inherit_fd = ctx->inherit_fd,
				 .err = err, .len = len };
	int ret;

	ret = close_inherited(ctx, err, len);
	if (ret)
		return ret;
	tf.park_base = p->nr_fds ? (int)p->fds[p->nr_fds - 1]->fd + 1 : 0;
	/* Above the shared files' fds too: a parked fd must not sit where
	 * one of them is still to be installed (RLIMIT_NOFILE has room). */
	if (ctx->tree->nr_inherit)
		tf.park_base = max(tf.park_base, ctx->tree->inherit_base + ctx->tree->nr_inherit);
	tf.file_fd = malloc((p->nr_files + 1) * sizeof(int));
	if (!tf.file_fd) {
		snprintf(err, len, "out of memory for %zu files", p->nr_files);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->nr_files; i++)
		tf.file_fd[i] = p->fdesc[i].make_here ? -1 : p->fdesc[i].inherit_fd;
	/* Shared ones first: their first_fd is their inherit_fd here. */
	for (size_t i = 0; i < p->nr_files && !ret; i++)
		if (p->fdesc[i].make_here && tf.file_fd[i] < 0)
			ret = p->fdesc[i].ops->open(&tf, i);
	for (size_t i = 0; i < p->nr_fds && !ret; i++)
		ret = place_one(&tf, i);
	for (size_t i = 0; i < p->nr_files && !ret; i++)
		if (p->fdesc[i].ops->post &&
		    (p->fdesc[i].ops->post_in_holders ? p->fdesc[i].first_fd >= 0 :
		     made_here(&p->fdesc[i])))
			ret = p->fdesc[i].ops->post(&tf, i);
	for (size_t i = 0; i < p->nr_files && !ret; i++)
		if (p->fdesc[i].ops->finish && made_here(&p->fdesc[i]))
			ret = p->fdesc[i].ops->finish(&tf, i);
	unix_scm_release(&tf);
	if (!ret)
		ret = task_take_locks(&tf);
	free(tf.file_fd);
	close(ctx->files_data_fd);
	if (ctx->tty_fd >= 0)
		close(ctx->tty_fd);
	for (int k = 0; k < ctx->opts->nr_inherit; k++) {
		close(ctx->inherit_fd[k]);
		ctx->inherit_fd[k] = -1;
	}
	return ret;
}

/* cwd first: its path is lmproc's view, which chroot would change. */
int restore_task_fs(struct restore_ctx *ctx, char *err, size_t len)
{
	const FsEntry *fs = ctx->plan.fs;
	int ret;

	if (fs->has_cwd_deleted_perm) {
		ret = fs_ghost_enter(fs, err, len);
		if (ret)
			return ret;
	} else if (chdir(fs->cwd)) {
		snprintf(err, len, "can't change to cwd %s: %s", fs->cwd, strerror(errno));
		return -errno;
	}
	if (strcmp(fs->root, "/") && chroot(fs->root)) {
		snprintf(err, len, "can't change root to %s: %s", fs->root, strerror(errno));
		return -errno;
	}
	umask(fs->umask);
	return 0;
}
