/* Owns memfds: name, permissions, seals and contents (holes left out, in
 * files-data.img) of each memfd, and the flags and position of each open
 * file description of it.  Dump reads the contents through a new open of
 * /proc/PID/fd/N (a copy of the task's fd would move its position).
 * Restore creates the memfd, fills it, gives back its owner, mode and
 * times, seals it last, and opens every further description of it
 * through /proc/self/fd.  The description memfd_create() made is kept as
 * the read-write one: a reopen for writing counts as a writer of the
 * inode, and execveat() of a file with a writer fails with ETXTBSY.
 * hugetlbfs memfds are refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "uapi-compat.h"
#include "words.h"

#define MEMFD_PREFIX "/memfd:"
#define DELETED_SUFFIX " (deleted)"
#define MEMFD_NAME_MAX 249
#define MEMFD_FLAGS (O_ACCMODE | O_APPEND | O_NONBLOCK | O_NOATIME | KERNEL_O_LARGEFILE)
#define ALL_SEALS                                                                       \
	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | \
	 F_SEAL_EXEC)

static bool memfd_match(struct files_dump *d, const struct fd_parms *p)
{
	size_t n = strlen(p->link), s = strlen(DELETED_SUFFIX);

	(void)d;
	return S_ISREG(p->st.st_mode) && !(p->flags & O_PATH) && p->st.st_nlink == 0 &&
	       !strncmp(p->link, MEMFD_PREFIX, strlen(MEMFD_PREFIX)) && n > s &&
	       !strcmp(p->link + n - s, DELETED_SUFFIX);
}

static int dump_inode(struct files_dump *d, const struct fd_parms *p, MemfdInodeEntry *m,
		      FileContents *c, InodeAttrsEntry *a, char *name)
{
	char path[64], what[64];
	struct statfs sf;
	int fd, seals, ret;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", d->pid, p->fd);
	if (!statfs(path, &sf) && sf.f_type == HUGETLBFS_MAGIC) {
		pr_err("pid %d fd %d is a hugetlbfs memfd (%s): not supported yet\n", d->pid,
		       p->fd, p->link);
		return -EOPNOTSUPP;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0) {
		pr_perror("Can't open pid %d fd %d (%s)", d->pid, p->fd, p->link);
		return -errno;
	}
	seals = fcntl(fd, F_GET_SEALS);
	snprintf(what, sizeof(what), "pid %d fd %d (memfd)", d->pid, p->fd);
	ret = seals < 0 ? -errno : files_data_save_contents(d, fd, p->st.st_size, c, what);
	if (seals < 0)
		pr_perror("Can't read the seals of pid %d fd %d", d->pid, p->fd);
	close(fd);
	m->name = name;
	m->perm = p->st.st_mode & 07777;
	files_inode_attrs(a, &p->st);
	m->attrs = a;
	m->seals = seals;
	m->contents = c;
	return ret;
}

static int memfd_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	MemfdEntry me = MEMFD_ENTRY__INIT;
	MemfdInodeEntry m = MEMFD_INODE_ENTRY__INIT;
	FileContents c = FILE_CONTENTS__INIT;
	InodeAttrsEntry a;
	cleanup_free char *name = strdup(p->link + strlen(MEMFD_PREFIX));
	bool first;
	int ret = 0;

	if (!name)
		return -ENOMEM;
	name[strlen(name) - strlen(DELETED_SUFFIX)] = '\0';
	if (p->flags & ~MEMFD_FLAGS)
		return files_refuse_flags(d, p, "a memfd", MEMFD_FLAGS);
	me.id = files_obj_id(d, FD_TYPE__FD_MEMFD, &p->st, &first);
	if (!me.id)
		return -ENOMEM;
	me.flags = p->flags;
	me.pos = p->pos;
	if (first) {
		ret = dump_inode(d, p, &m, &c, &a, name);
		me.inode = &m;
	}
	if (!ret) {
		fe->memfd = &me;
		ret = files_write(d, fe);
	}
	files_contents_free(&c);
	return ret;
}

static int memfd_validate(const FileEntry *f, uint64_t data_size)
{
	const MemfdEntry *me = f->memfd;
	const MemfdInodeEntry *m;

	if (!me || !me->id)
		return restore_plan_bad("files.img", "file id %u has no memfd entry", f->id);
	if ((me->flags & ~MEMFD_FLAGS) || (me->flags & O_ACCMODE) == O_ACCMODE ||
	    me->pos > (uint64_t)INT64_MAX)
		return restore_plan_bad("files.img", "memfd file id %u: flags %s, position %llu",
					f->id, open_flags_words(me->flags).s, (unsigned long long)me->pos);
	m = me->inode;
	if (!m)
		return 0;
	if (strlen(m->name) > MEMFD_NAME_MAX || (m->perm & ~07777) || (m->seals & ~ALL_SEALS))
		return restore_plan_bad("files.img", "memfd \"%.64s\": perm 0%o, seals 0x%x",
					m->name, m->perm, m->seals);
	if (files_inode_attrs_validate(m->name, m->attrs))
		return -EINVAL;
	return files_contents_validate(m->name, m->contents, data_size);
}

static uint64_t memfd_obj_key(const FileEntry *f)
{
	return f->memfd->id;
}

static bool memfd_obj_carrier(const FileEntry *f)
{
	return f->memfd->inode;
}

static int memfd_make(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

	/* Kernels before 6.3 know no MFD_EXEC (and make every memfd so). */
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	return fd;
}

/* Permissions before F_SEAL_EXEC, seals after the contents. */
static int memfd_create_inode(struct task_files *tf, uint32_t desc)
{
	const MemfdInodeEntry *m = tf->plan->fdesc[tf->plan->fdesc[desc].carrier].fe->memfd->inode;
	int fd = memfd_make(m->name), ret;

	if (fd < 0)
		return task_files_err(tf, desc, "can't create memfd \"%s\": %s", m->name,
				      strerror(errno));
	ret = task_contents_fill(tf, fd, m->contents, m->name);
	if (!ret)
		ret = task_inode_attrs_set(tf, fd, m->attrs, true, m->perm, m->name);
	if (!ret && m->seals && fcntl(fd, F_ADD_SEALS, m->seals))
		ret = task_files_err(tf, desc, "can't seal memfd \"%s\" with 0x%x: %s", m->name,
				     m->seals, strerror(errno));
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* memfd_create()'s own description, which is no writer of the inode
 * (a reopen for writing is), with the dumped status flags. */
static int keep_created(struct task_files *tf, uint32_t desc, int fd)
{
	const MemfdEntry *me = tf->plan->fdesc[desc].fe->memfd;

	if (fcntl(fd, F_SETFL, me->flags & (O_APPEND | O_NONBLOCK | O_NOATIME)))
		return task_files_err(tf, desc, "can't set the memfd's flags %s: %s",
				      open_flags_words(me->flags).s, strerror(errno));
	return fd;
}

static int memfd_open(struct task_files *tf, uint32_t desc)
{
	const MemfdEntry *me = tf->plan->fdesc[desc].fe->memfd;
	int anchor = task_object_fd(tf, desc), created = -1, tmp, ret;

	if (anchor < 0) {
		anchor = created = memfd_create_inode(tf, desc);
		if (created < 0)
			return created;
	}
	if (created >= 0 && (me->flags & O_ACCMODE) == O_RDWR) {
		tmp = keep_created(tf, desc, created);
	} else {
		tmp = task_reopen(anchor, me->flags);
		if (tmp < 0)
			tmp = task_files_err(tf, desc, "can't open the memfd again: %s",
					     strerror(errno));
	}
	if (created >= 0 && created != tmp)
		close(created);
	if (tmp < 0)
		return tmp;
	ret = task_files_install(tf, desc, tmp);
	if (ret || tf->file_fd[desc] < 0)
		return ret;
	if (lseek(tf->file_fd[desc], me->pos, SEEK_SET) < 0)
		return task_files_err(tf, desc, "can't seek to %llu: %s",
				      (unsigned long long)me->pos, strerror(errno));
	return 0;
}

const struct fd_ops memfd_fd_ops = {
	.type = FD_TYPE__FD_MEMFD,
	.name = "memfd",
	.match = memfd_match,
	.own_async = true,
	.dump = memfd_dump,
	.validate = memfd_validate,
	.obj_key = memfd_obj_key,
	.obj_carrier = memfd_obj_carrier,
	.open = memfd_open,
};
