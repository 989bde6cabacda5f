/* Owns FIFOs (named pipes): each open file description's path and flags,
 * and, once per FIFO (by inode), the pipe's size and buffered bytes, copied
 * as pipes.c copies a pipe's (tee: nothing leaves the pipe).  Restore
 * needs the FIFO to exist at its path, as CRIU does (it is a file of the
 * filesystem, not of the process); it opens it read-write first, which
 * never blocks and keeps the pipe alive, refills the bytes through that
 * fd (and sets the FIFO's times back, which the writing moved), and opens
 * every description of the process from it.  Bytes to refill into a FIFO
 * that holds some already are refused (fifo_empty).  A FIFO whose path was
 * removed while open (its only name) is made again at that path, opened
 * and removed again, with its mode, owner and times; a file now at the
 * path steps aside meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "words.h"

#define FIFO_FLAGS (O_ACCMODE | O_NONBLOCK | KERNEL_O_LARGEFILE)
#define DELETED_SUFFIX " (deleted)"
#define ASIDE_SUFFIX ".lmproc-aside"

/* P's FIFO has no name left: its link is "PATH (deleted)", cut to PATH. */
static bool cut_deleted(struct fd_parms *p)
{
	size_t n = strlen(p->link), s = strlen(DELETED_SUFFIX);

	if (n <= s || strcmp(p->link + n - s, DELETED_SUFFIX))
		return false;
	p->link[n - s] = '\0';
	return true;
}

/* A FIFO can be made again at PATH if its directory is there. */
static bool dir_exists(const char *path)
{
	cleanup_free char *dir = strdup(path);
	struct stat st;

	return dir && !stat(dirname(dir), &st) && S_ISDIR(st.st_mode);
}

static int check_path(struct files_dump *d, struct fd_parms *p, bool *deleted)
{
	struct stat now;

	*deleted = cut_deleted(p);
	if (*deleted && (p->st.st_nlink || !dir_exists(p->link) ||
			 strlen(p->link) + sizeof(ASIDE_SUFFIX) > PATH_MAX)) {
		pr_err("pid %d fd %d is a FIFO whose path %s was removed, %s: not supported\n",
		       d->pid, p->fd, p->link,
		       p->st.st_nlink ? "with another name left" : "with its directory");
		return -EOPNOTSUPP;
	}
	if (!*deleted &&
	    (stat(p->link, &now) || now.st_dev != p->st.st_dev || now.st_ino != p->st.st_ino)) {
		pr_err("pid %d fd %d is a FIFO whose path was replaced (%s): not supported\n",
		       d->pid, p->fd, p->link);
		return -EOPNOTSUPP;
	}
	return 0;
}

static bool fifo_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return S_ISFIFO(p->st.st_mode) && !(p->flags & O_PATH) && p->link[0] == '/';
}

static int fifo_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	FifoEntry fi = FIFO_ENTRY__INIT;
	PipeDataEntry pd = PIPE_DATA_ENTRY__INIT;
	InodeAttrsEntry a;
	bool first, deleted;
	int ret;

	if (p->flags & ~FIFO_FLAGS)
		return files_refuse_flags(d, p, "a FIFO", FIFO_FLAGS);
	ret = check_path(d, p, &deleted);
	if (ret)
		return ret;
	fi.has_deleted_perm = deleted;
	fi.deleted_perm = p->st.st_mode & 07777;
	fi.pipe_id = files_obj_id(d, FD_TYPE__FD_FIFO, &p->st, &first);
	if (!fi.pipe_id)
		return -ENOMEM;
	fi.path = p->link;
	fi.flags = p->flags;
	if (first) {
		ret = pipe_dump_data(d, p, &pd);
		if (ret)
			return ret;
		fi.data = &pd;
		files_inode_attrs(&a, &p->st);
		fi.attrs = &a;
	}
	fe->fifo = &fi;
	ret = files_write(d, fe);
	free(pd.packet_lens);
	return ret;
}

static int fifo_validate(const FileEntry *f, uint64_t data_size)
{
	const FifoEntry *fi = f->fifo;

	if (!fi || !fi->pipe_id)
		return restore_plan_bad("files.img", "file id %u has no FIFO entry", f->id);
	if (fi->path[0] != '/' || strlen(fi->path) + sizeof(ASIDE_SUFFIX) > PATH_MAX ||
	    (fi->deleted_perm & ~07777))
		return restore_plan_bad("files.img", "FIFO file id %u has path \"%.64s\"", f->id,
					fi->path);
	if (fi->flags & ~FIFO_FLAGS)
		return restore_plan_bad("files.img", "FIFO file id %u has flags %s", f->id,
					open_flags_words(fi->flags).s);
	if (!fi->data != !fi->attrs)
		return restore_plan_bad("files.img", "FIFO file id %u: %s without the other", f->id,
					fi->data ? "buffered bytes" : "times");
	if (fi->attrs && files_inode_attrs_validate(fi->path, fi->attrs))
		return -EINVAL;
	return fi->data ? pipe_data_validate(fi->pipe_id, fi->data, data_size) : 0;
}

static uint64_t fifo_obj_key(const FileEntry *f)
{
	return f->fifo->pipe_id;
}

static bool fifo_obj_carrier(const FileEntry *f)
{
	return f->fifo->data;
}

/* Every description of one FIFO must name one path. */
static int fifo_validate_plan(const struct restore_plan *p, uint32_t desc)
{
	const FifoEntry *fi = p->fdesc[desc].fe->fifo;
	const FifoEntry *o = p->fdesc[p->fdesc[desc].obj_next].fe->fifo;

	if (strcmp(fi->path, o->path) || fi->has_deleted_perm != o->has_deleted_perm ||
	    fi->deleted_perm != o->deleted_perm)
		return restore_plan_bad("files.img", "FIFO %u is at both %s and %s (or deleted "
					"and not)", fi->pipe_id, fi->path, o->path);
	return 0;
}

static int fifo_check(const struct restore_plan *p, uint32_t desc)
{
	const FifoEntry *fi = p->fdesc[desc].fe->fifo;
	struct stat st;

	if (fi->has_deleted_perm) {
		if (dir_exists(fi->path))
			return 0;
		pr_err("fd %d of pid %d is the FIFO %s, deleted, whose directory can't be found "
		       "here: create it before restoring\n", p->fdesc[desc].first_fd, p->pid,
		       fi->path);
		return -ENOENT;
	}
	if (stat(fi->path, &st)) {
		pr_err("fd %d of pid %d is the FIFO %s, which can't be found here (%s): create it "
		       "(mkfifo) before restoring\n", p->fdesc[desc].first_fd, p->pid, fi->path,
		       strerror(errno));
		return -ENOENT;
	}
	if (!S_ISFIFO(st.st_mode)) {
		pr_err("fd %d of pid %d is the FIFO %s, which is not a FIFO here\n",
		       p->fdesc[desc].first_fd, p->pid, fi->path);
		return -ENOTSUP;
	}
	return 0;
}

/* The FIFO of FI, deleted: made at its path (what is there now steps
 * aside and comes back), opened read-write, its name removed again. */
static int open_deleted(struct task_files *tf, uint32_t desc, const FifoEntry *fi)
{
	char aside[PATH_MAX];
	bool moved;
	int fd = -1, ret = 0;

	snprintf(aside, sizeof(aside), "%s" ASIDE_SUFFIX, fi->path);
	moved = !renameat2(AT_FDCWD, fi->path, AT_FDCWD, aside, RENAME_NOREPLACE);
	if (!moved && errno != ENOENT)
		return task_files_err(tf, desc, "can't move %s aside to make the FIFO there: %s",
				      fi->path, strerror(errno));
	if (mknod(fi->path, S_IFIFO | 0600, 0)) {
		ret = task_files_err(tf, desc, "can't make the FIFO %s again: %s", fi->path,
				     strerror(errno));
	} else {
		fd = open(fi->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			ret = task_files_err(tf, desc, "can't open the FIFO %s: %s", fi->path,
					     strerror(errno));
		if (unlink(fi->path) && !ret)
			ret = task_files_err(tf, desc, "can't remove the FIFO %s again: %s",
					     fi->path, strerror(errno));
	}
	if (moved && renameat2(AT_FDCWD, aside, AT_FDCWD, fi->path, RENAME_NOREPLACE) && !ret)
		ret = task_files_err(tf, desc, "can't put %s back from %s: %s", fi->path, aside,
				     strerror(errno));
	if (ret && fd >= 0)
		close(fd);
	return ret ?: fd;
}

/* The FIFO at PATH, opened as KEEP, to be refilled with DATA bytes: it
 * must hold none yet.  Bytes there are another process's, which has the
 * FIFO open (on this host: a migration's source, frozen while its copy is
 * restored, shares the FIFO's pipe through the same file): the refill
 * would queue the dumped bytes after them, so the tree would read both. */
static int fifo_empty(struct task_files *tf, uint32_t desc, int keep, const char *path,
		      uint32_t data)
{
	int queued = 0;

	if (!data)
		return 0;
	if (ioctl(keep, FIONREAD, &queued))
		return task_files_err(tf, desc, "can't read how much the FIFO %s holds: %s", path,
				      strerror(errno));
	if (!queued)
		return 0;
	errno = EBUSY;
	return task_files_err(tf, desc, "the FIFO %s holds %d bytes already: another process has "
			      "it open (the dumped tree, frozen on this host?); its %u dumped bytes "
			      "would queue after them", path, queued, data);
}

/* Every description of the FIFO from one read-write fd of the FIFO,
 * which also refills it.  The read-write fd sits above every fd to come. */
static int fifo_open(struct task_files *tf, uint32_t desc)
{
	const FifoEntry *cf = tf->plan->fdesc[tf->plan->fdesc[desc].carrier].fe->fifo;
	const char *path = cf->path;
	uint32_t m = desc;
	int keep, ret = 0;

	if (cf->has_deleted_perm) {
		keep = open_deleted(tf, desc, cf);
		if (keep < 0)
			return keep;
	} else {
		keep = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (keep < 0)
			return task_files_err(tf, desc, "can't open the FIFO %s: %s", path,
					      strerror(errno));
	}
	keep = task_files_park(tf, keep);
	if (keep < 0)
		return -EMFILE;
	ret = fifo_empty(tf, desc, keep, path, cf->data ? cf->data->data_len : 0) ?:
	      pipe_fill(tf, desc, keep, cf->data);
	if (!ret && cf->has_deleted_perm)
		ret = task_inode_attrs_set(tf, keep, cf->attrs, true, cf->deleted_perm, path);
	else if (!ret && cf->data && cf->data->data_len)
		ret = task_inode_attrs_set(tf, keep, cf->attrs, false, -1, path);
	do {
		const FifoEntry *fi = tf->plan->fdesc[m].fe->fifo;
		int fd;

		if (ret)
			break;
		fd = task_reopen(keep, fi->flags | O_CLOEXEC);
		if (fd < 0) {
			ret = task_files_err(tf, m, "can't open the FIFO %s: %s", path,
					     strerror(errno));
			break;
		}
		ret = task_files_install(tf, m, fd);
		m = tf->plan->fdesc[m].obj_next;
	} while (m != desc);
	close(keep);
	return ret;
}

const struct fd_ops fifo_fd_ops = {
	.type = FD_TYPE__FD_FIFO,
	.name = "FIFO",
	.match = fifo_match,
	.dump = fifo_dump,
	.validate = fifo_validate,
	.obj_key = fifo_obj_key,
	.obj_carrier = fifo_obj_carrier,
	.validate_plan = fifo_validate_plan,
	.check = fifo_check,
	.open = fifo_open,
};
