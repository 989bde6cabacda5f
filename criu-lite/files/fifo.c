/* Owns FIFOs (named pipes): each open file description's path and flags,
 * and, once per FIFO (by inode), the pipe's size and buffered bytes, copied
 * as pipes.c copies a pipe's (tee: nothing leaves the pipe).  Restore
 * needs the FIFO to exist at its path, as CRIU does (it is a file of the
 * filesystem, not of the process); it opens it read-write first, which
 * never blocks and keeps the pipe alive, refills the bytes through that
 * fd (and sets the FIFO's times back, which the writing moved), and opens
 * every description of the process from it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "words.h"

#define FIFO_FLAGS (O_ACCMODE | O_NONBLOCK | KERNEL_O_LARGEFILE)

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
	struct stat now;
	bool first;
	int ret;

	if (p->flags & ~FIFO_FLAGS)
		return files_refuse_flags(d, p, "a FIFO", FIFO_FLAGS);
	if (stat(p->link, &now) || now.st_dev != p->st.st_dev || now.st_ino != p->st.st_ino) {
		pr_err("pid %d fd %d is a FIFO whose path was removed or replaced (%s): not "
		       "supported\n", d->pid, p->fd, p->link);
		return -EOPNOTSUPP;
	}
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
	return files_write(d, fe);
}

static int fifo_validate(const FileEntry *f, uint64_t data_size)
{
	const FifoEntry *fi = f->fifo;

	if (!fi || !fi->pipe_id)
		return restore_plan_bad("files.img", "file id %u has no FIFO entry", f->id);
	if (fi->path[0] != '/' || strlen(fi->path) >= PATH_MAX)
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

	if (strcmp(fi->path, o->path))
		return restore_plan_bad("files.img", "FIFO %u is at both %s and %s", fi->pipe_id,
					fi->path, o->path);
	return 0;
}

static int fifo_check(const struct restore_plan *p, uint32_t desc)
{
	const FifoEntry *fi = p->fdesc[desc].fe->fifo;
	struct stat st;

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

/* Every description of the FIFO from one read-write fd of the FIFO,
 * which also refills it.  The read-write fd sits above every fd to come. */
static int fifo_open(struct task_files *tf, uint32_t desc)
{
	const struct file_desc *c = &tf->plan->fdesc[tf->plan->fdesc[desc].carrier];
	const char *path = c->fe->fifo->path;
	uint32_t m = desc;
	int keep, ret = 0;

	keep = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (keep < 0)
		return task_files_err(tf, desc, "can't open the FIFO %s: %s", path,
				      strerror(errno));
	keep = task_files_park(tf, keep);
	if (keep < 0)
		return -EMFILE;
	ret = pipe_fill(tf, desc, keep, c->fe->fifo->data);
	if (!ret && c->fe->fifo->data && c->fe->fifo->data->data_len)
		ret = task_inode_attrs_set(tf, keep, c->fe->fifo->attrs, false, -1, path);
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
