/* Owns files reopened by path: regular files, directories and character
 * devices with their flags and position, O_PATH fds of any file type, and
 * deleted regular files, whose contents travel in files-data.img and are
 * written back into a file created at the old path and unlinked again.
 * A file made with O_TMPFILE (never named, "DIR/#INO (deleted)") is a
 * deleted file too, made again with O_TMPFILE in DIR: still linkable, and
 * its O_TMPFILE description has its flags back.  Files under /proc/PID/
 * of a process of the tree are opened once every process exists, in the
 * tree's /proc.  A directory or character device node removed while open
 * is made again at its path (mkdir, mknod) with its owner, mode and
 * times, reopened and removed again (refused if the path is taken).
 * Never writes to a file that still has a name. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "file-valid.h"
#include "files.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "restore.h"
#include "words.h"

#define DELETED_SUFFIX " (deleted)"
/* ipc/mqueue.c: the mqueue file system's magic, in no uapi header. */
#define MQUEUE_MAGIC 0x19800202
#define OPEN_ALLOWED                                                                            \
	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT | KERNEL_O_LARGEFILE | \
	 O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_ASYNC | KERNEL_O_TMPFILE_BIT)
/* What open(2) keeps of the flags of an O_PATH fd. */
#define PATH_ALLOWED (O_PATH | O_NOFOLLOW | O_DIRECTORY)

static bool is_terminal(const struct stat *st)
{
	unsigned int maj = major(st->st_rdev);

	return S_ISCHR(st->st_mode) && (maj == 4 || maj == 5 || (maj >= 136 && maj <= 143));
}

static bool is_deleted(const struct fd_parms *p)
{
	size_t n = strlen(p->link), s = strlen(DELETED_SUFFIX);

	return (S_ISREG(p->st.st_mode) || S_ISDIR(p->st.st_mode) || S_ISCHR(p->st.st_mode)) &&
	       p->st.st_nlink == 0 && n > s &&
	       !strcmp(p->link + n - s, DELETED_SUFFIX);
}

static bool reg_match(struct files_dump *d, const struct fd_parms *p)
{
	mode_t m = p->st.st_mode;

	(void)d;
	if (p->link[0] != '/')
		return false;
	if (p->flags & O_PATH)
		return true;
	return S_ISREG(m) || S_ISDIR(m) || (S_ISCHR(m) && !is_terminal(&p->st));
}

/* The path as the tree sees it: in a pid namespace of its own its /proc
 * is not lmproc's, every other mount is (task/namespaces.c). */
static void tree_path(const struct files_dump *d, const char *link, char *buf, size_t len)
{
	if (pstree_own_pidns() && !strncmp(link, "/proc/", 6))
		snprintf(buf, len, "/proc/%d/root%s", d->pid, link);
	else
		snprintf(buf, len, "%s", link);
}

/* A POSIX message queue's fd links to "/NAME", a path of the mqueue
 * file system no open(2) reaches ("/NAME (deleted)" once unlinked, and
 * its read(2) gives a status line): say what it is. */
static int refuse_mqueue(struct files_dump *d, const struct fd_parms *p)
{
	struct statfs fs;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", d->pid, p->fd);
	if (statfs(path, &fs) || fs.f_type != MQUEUE_MAGIC)
		return 0;
	pr_err("pid %d fd %d: %s is a POSIX message queue (mq_open): not supported\n", d->pid,
	       p->fd, p->link);
	return -EOPNOTSUPP;
}

static int check_path(struct files_dump *d, const struct fd_parms *p)
{
	char path[PATH_MAX + 64];
	struct stat now;
	int ret, err;

	tree_path(d, p->link, path, sizeof(path));
	ret = (p->flags & O_NOFOLLOW) ? lstat(path, &now) : stat(path, &now);
	err = ret ? errno : 0;

	if (strstr(p->link, DELETED_SUFFIX) && !is_deleted(p) && p->st.st_nlink) {
		pr_err("pid %d fd %d: %s had its name removed, but %lu other hard links to the "
		       "file remain, which lmproc can't find: not supported\n",
		       d->pid, p->fd, p->link, (unsigned long)p->st.st_nlink);
		return -EOPNOTSUPP;
	}
	if (strstr(p->link, DELETED_SUFFIX) && !is_deleted(p)) {
		pr_err("pid %d fd %d: %s is deleted; only deleted regular files, directories and "
		       "character devices are supported\n",
		       d->pid, p->fd, p->link);
		return -EOPNOTSUPP;
	}
	if (ret) {
		pr_err("pid %d fd %d: its file %s can't be found by that path any more (%s): "
		       "restore could not open it again\n", d->pid, p->fd, p->link, strerror(err));
		return -EOPNOTSUPP;
	}
	if (now.st_dev != p->st.st_dev || now.st_ino != p->st.st_ino) {
		pr_err("pid %d fd %d: the path %s now names another file (inode %llu on %u:%u, the "
		       "fd's is inode %llu on %u:%u): restore could not open it again\n", d->pid,
		       p->fd, p->link, (unsigned long long)now.st_ino, major(now.st_dev),
		       minor(now.st_dev), (unsigned long long)p->st.st_ino, major(p->st.st_dev),
		       minor(p->st.st_dev));
		return -EOPNOTSUPP;
	}
	return 0;
}

/* The contents of a deleted file, read through a new open of it (a copy
 * of the task's fd would share, and move, its position).  A removed
 * directory (empty) or device node has none: its first description
 * carries its owner and times instead. */
static int dump_ghost(struct files_dump *d, const struct fd_parms *p, GhostFileEntry *g,
		      FileContents *c, InodeAttrsEntry *a)
{
	char path[64], what[64];
	bool first;
	int fd, ret;

	g->id = files_obj_id(d, FD_TYPE__FD_REG, &p->st, &first);
	if (!g->id)
		return -ENOMEM;
	g->perm = p->st.st_mode & 07777;
	if (!first)
		return 0;
	files_inode_attrs(a, &p->st);
	g->attrs = a;
	if (!S_ISREG(p->st.st_mode))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", d->pid, p->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0) {
		pr_perror("Can't open the deleted file %s of pid %d fd %d", p->link, d->pid, p->fd);
		return -errno;
	}
	snprintf(what, sizeof(what), "pid %d fd %d (deleted file)", d->pid, p->fd);
	ret = files_data_save_contents(d, fd, p->st.st_size, c, what);
	close(fd);
	g->contents = c;
	return ret;
}

/* The pid N of a path /proc/N or /proc/N/..., 0 if it is none; *REST
 * is what follows "/proc/". */
static uint32_t proc_pid_of(const char *path, const char **rest)
{
	char *end;
	unsigned long n;

	if (strncmp(path, "/proc/", 6) || path[6] < '1' || path[6] > '9')
		return 0;
	n = strtoul(path + 6, &end, 10);
	if ((*end && *end != '/') || n > INT32_MAX)
		return 0;
	*rest = path + 6;
	return n;
}

/* /proc/N/... of a live process N of the tree is reopened at restore
 * once N exists. */
static int note_proc_pid(struct files_dump *d, const struct fd_parms *p, const char *path,
			 RegFileEntry *re)
{
	const char *rest;
	uint32_t n = proc_pid_of(path, &rest);

	for (size_t i = 0; n && i < d->nr_tree_pids; i++)
		if ((uint32_t)pstree_vpid(d->tree_pids[i]) == n) {
			re->has_proc_pid = true;
			re->proc_pid = n;
		}
	if (!n || re->has_proc_pid || !pstree_own_pidns())
		return 0;
	/* Restore would open it in lmproc's /proc, where that pid is another. */
	pr_err("pid %d fd %d: its file %s is of pid %u of its own pid namespace, not part of "
	       "the tree: not supported\n", d->pid, p->fd, path, n);
	return -EOPNOTSUPP;
}

/* Files whose size is not their content's (or whose reading is no
 * plain read): they keep the rule of the files opened for writing. */
static bool pseudo_fs(int fd)
{
	static const long magics[] = { PROC_SUPER_MAGIC, SYSFS_MAGIC, CGROUP_SUPER_MAGIC,
				       CGROUP2_SUPER_MAGIC, DEBUGFS_MAGIC, TRACEFS_MAGIC,
				       SECURITYFS_MAGIC, BPF_FS_MAGIC };
	struct statfs fs;

	if (fstatfs(fd, &fs))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(magics); i++)
		if (fs.f_type == magics[i])
			return true;
	return false;
}

/* A regular file opened read-only by path gets its identity and sums
 * (file-valid.c): restore takes it by them.  One opened for writing is
 * the tree's own to change, and keeps lmproc's rule for it (the path
 * holds a regular file no shorter than the position). */
static bool validated(uint32_t flags, const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_nlink && !(flags & O_PATH) &&
	       (flags & O_ACCMODE) == O_RDONLY;
}

/* Its fdinfo INFO lists a lease (or NFS delegation) on the description:
 * an open of the file, even lmproc's for its sums, would break it. */
static bool holds_lease(const char *info)
{
	for (const char *l = info; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);

		if (!strncmp(l, "lock:", 5) && (memmem(l, len, "LEASE", 5) || memmem(l, len, "DELEG", 5)))
			return true;
	}
	return false;
}

/* The file of pid PID's fd FD for its sums: through /proc, whatever its
 * path names now; -1 (errno set) if it can't be read. */
static int open_fd_file(pid_t pid, int fd)
{
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	ret = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME | O_NONBLOCK);
	if (ret < 0 && errno == EPERM)
		ret = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	return ret;
}

static void put_sums(RegFileEntry *re, struct file_sums *s)
{
	re->has_content_hash = s->hash_len != 0;
	re->content_hash.data = s->hash;
	re->content_hash.len = s->hash_len;
	re->has_build_id = s->build_id_len != 0;
	re->build_id.data = s->build_id;
	re->build_id.len = s->build_id_len;
}

/* The size, mtime and sums of one fstat of the file read. */
static int note_identity(struct files_dump *d, const struct fd_parms *p, RegFileEntry *re,
			 struct file_sums *s)
{
	char what[PATH_MAX + 64];
	struct stat st;
	int fd, ret;

	if (re->ghost || re->has_proc_pid || !validated(p->flags, &p->st) || holds_lease(p->info))
		return 0;
	fd = open_fd_file(d->pid, p->fd);
	if (fd < 0 || fstat(fd, &st)) {
		pr_perror("pid %d fd %d: can't open its file %s to record it", d->pid, p->fd,
			  p->link);
		ret = -errno;
		if (fd >= 0)
			close(fd);
		return ret;
	}
	ret = 0;
	if (!pseudo_fs(fd)) {
		re->has_dev = re->has_ino = re->has_mtime_ns = true;
		re->dev = st.st_dev;
		re->ino = st.st_ino;
		re->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		re->size = st.st_size;
		snprintf(what, sizeof(what), "pid %d fd %d (%s)", d->pid, p->fd, p->link);
		if (d->file_valid != FILE_VALID_FILESIZE)
			ret = file_valid_sums(fd, &st, d->file_valid, s, what);
		put_sums(re, s);
	}
	close(fd);
	return ret;
}

/* Fd FD of PID, if it is a file validated(): its sums into the cache. */
static void warm_fd(pid_t pid, int fd, enum file_valid_mode m)
{
	char path[64], what[64];
	cleanup_free char *info = NULL;
	const char *flags;
	struct file_sums s;
	struct stat st;
	int f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	info = proc_read_file(path, NULL);
	flags = info ? fdinfo_field(info, "flags:") : NULL;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	/* Opened only if it is one: an open may break a lease. */
	if (!flags || holds_lease(info) || stat(path, &st) ||
	    !validated(strtoul(flags, NULL, 8), &st))
		return;
	f = open_fd_file(pid, fd);
	if (f < 0)
		return;
	snprintf(what, sizeof(what), "pid %d fd %d", pid, fd);
	if (!fstat(f, &st) && validated(strtoul(flags, NULL, 8), &st) && !pseudo_fs(f))
		file_valid_sums(f, &st, m, &s, what);
	close(f);
}

void reg_file_sums_warm(pid_t pid, enum file_valid_mode m)
{
	struct dirent *de;
	char path[64];
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	while (dir && (de = readdir(dir)))
		if (de->d_name[0] != '.')
			warm_fd(pid, atoi(de->d_name), m);
	if (dir)
		closedir(dir);
}

static int reg_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	RegFileEntry re = REG_FILE_ENTRY__INIT;
	GhostFileEntry g = GHOST_FILE_ENTRY__INIT;
	FileContents c = FILE_CONTENTS__INIT;
	struct file_sums sums = {};
	InodeAttrsEntry a;
	cleanup_free char *path = strdup(p->link);
	int ret;

	if (!path)
		return -ENOMEM;
	ret = refuse_mqueue(d, p);
	if (ret)
		return ret;
	if (is_deleted(p)) {
		path[strlen(path) - strlen(DELETED_SUFFIX)] = '\0';
		ret = dump_ghost(d, p, &g, &c, &a);
		re.ghost = &g;
	} else {
		ret = check_path(d, p);
	}
	if (ret)
		goto out;
	re.path = path;
	if (!re.ghost)
		ret = note_proc_pid(d, p, path, &re);
	if (ret)
		goto out;
	re.flags = p->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
	/* An O_TMPFILE file linked since is reopened by its name. */
	if (!re.ghost)
		re.flags &= ~KERNEL_O_TMPFILE_BIT;
	re.pos = p->pos;
	re.mode = p->st.st_mode & S_IFMT;
	if (S_ISREG(p->st.st_mode)) {
		re.has_size = true;
		re.size = p->st.st_size;
	}
	if (S_ISCHR(p->st.st_mode) || S_ISBLK(p->st.st_mode)) {
		re.has_rdev = true;
		re.rdev = p->st.st_rdev;
	}
	ret = note_identity(d, p, &re, &sums);
	if (ret)
		goto out;
	fe->reg = &re;
	ret = files_write(d, fe);
out:
	files_contents_free(&c);
	return ret;
}

static bool valid_type(uint32_t fmt)
{
	return fmt == S_IFREG || fmt == S_IFDIR || fmt == S_IFCHR || fmt == S_IFBLK ||
	       fmt == S_IFIFO || fmt == S_IFSOCK || fmt == S_IFLNK;
}

static int validate_flags(const FileEntry *f, const RegFileEntry *r)
{
	uint32_t fmt = r->mode & S_IFMT;

	if (r->mode != fmt || !valid_type(fmt))
		return restore_plan_bad("files.img", "file %s has mode 0%o (%s)", r->path, r->mode,
					file_kind_words(r->mode, NULL).s);
	if (r->flags & O_PATH) {
		if (r->flags & ~(PATH_ALLOWED | KERNEL_O_LARGEFILE))
			return restore_plan_bad("files.img", "O_PATH file %s has flags %s: O_PATH "
						"takes no %s", r->path, open_flags_words(r->flags).s,
						flag_bits_words(r->flags & ~(PATH_ALLOWED |
									 KERNEL_O_LARGEFILE)).s);
		return 0;
	}
	if ((r->flags & ~OPEN_ALLOWED) || (r->flags & O_ACCMODE) == O_ACCMODE)
		return restore_plan_bad("files.img", "file %s has open flags %s: lmproc does not "
					"restore %s", r->path, open_flags_words(r->flags).s,
					(r->flags & O_ACCMODE) == O_ACCMODE ?
						"O_ACCMODE" :
						flag_bits_words(r->flags & ~OPEN_ALLOWED).s);
	if ((r->flags & KERNEL_O_TMPFILE_BIT) &&
	    ((r->flags & O_TMPFILE) != O_TMPFILE || !r->ghost || (r->flags & O_ACCMODE) == O_RDONLY ||
	     fmt != S_IFREG))
		return restore_plan_bad("files.img", "file %s has open flags %s: O_TMPFILE needs an "
					"unnamed regular file opened for writing", r->path,
					open_flags_words(r->flags).s);
	if (fmt != S_IFREG && fmt != S_IFDIR && fmt != S_IFCHR)
		return restore_plan_bad("files.img", "file id %u (%s) is %s, which lmproc does not "
					"open by path", f->id, r->path,
					file_kind_words(r->mode, NULL).s);
	if (fmt == S_IFCHR && !r->has_rdev)
		return restore_plan_bad("files.img", "character device %s has no rdev", r->path);
	return 0;
}

/* All of dev, ino and mtime_ns, with size, or none; only for a regular
 * file opened read-only by path; sums of the lengths written. */
static int validate_identity(const RegFileEntry *r)
{
	bool any = r->has_dev || r->has_ino || r->has_mtime_ns || r->has_content_hash ||
		   r->has_build_id;
	const char *why;

	if (!any)
		return 0;
	if (!r->has_dev || !r->has_ino || !r->has_mtime_ns || !r->has_size)
		return restore_plan_bad("files.img", "file %s has part of its identity (dev, ino, "
					"mtime and size: all or none)", r->path);
	if (r->mode != S_IFREG || r->ghost || r->has_proc_pid ||
	    (r->flags & (O_PATH | O_ACCMODE)) != O_RDONLY)
		return restore_plan_bad("files.img", "file %s (%s, flags %s) has an identity, "
					"which only a regular file opened read-only by path has",
					r->path, file_kind_words(r->mode, NULL).s,
					open_flags_words(r->flags).s);
	why = file_valid_sums_bad(r->has_content_hash ? &r->content_hash : NULL,
				  r->has_build_id ? &r->build_id : NULL);
	if (why)
		return restore_plan_bad("files.img", "file %s has %s", r->path, why);
	return 0;
}

static int reg_validate(const FileEntry *f, uint64_t data_size)
{
	const RegFileEntry *r = f->reg;
	const GhostFileEntry *g;
	int ret;

	if (!r)
		return restore_plan_bad("files.img", "file id %u has no reg entry", f->id);
	if (r->path[0] != '/')
		return restore_plan_bad("files.img", "file id %u has relative path \"%s\"", f->id,
					r->path);
	ret = validate_flags(f, r);
	if (ret)
		return ret;
	if (r->pos > (uint64_t)INT64_MAX)
		return restore_plan_bad("files.img", "file %s has position %llu", r->path,
					(unsigned long long)r->pos);
	ret = validate_identity(r);
	if (ret)
		return ret;
	if (r->has_proc_pid) {
		const char *rest;

		if (r->ghost || proc_pid_of(r->path, &rest) != r->proc_pid || !r->proc_pid)
			return restore_plan_bad("files.img", "file %s: not under /proc/%u", r->path,
						r->proc_pid);
		return 0;
	}
	g = r->ghost;
	if (!g)
		return 0;
	if ((r->mode != S_IFREG && r->mode != S_IFDIR && r->mode != S_IFCHR) || !g->id ||
	    (g->perm & ~07777) || (r->mode != S_IFREG && g->contents))
		return restore_plan_bad("files.img", "deleted file %s: mode 0%o, perm 0%o, id %u%s",
					r->path, r->mode, g->perm, g->id,
					g->contents && r->mode != S_IFREG ? ", contents" : "");
	if (!g->contents && (r->mode == S_IFREG || !g->attrs))
		return 0;
	if (files_inode_attrs_validate(r->path, g->attrs))
		return -EINVAL;
	return g->contents ? files_contents_validate(r->path, g->contents, data_size) : 0;
}

static uint64_t reg_obj_key(const FileEntry *f)
{
	return f->reg->ghost ? f->reg->ghost->id : 0;
}

static bool reg_obj_carrier(const FileEntry *f)
{
	const GhostFileEntry *g = f->reg->ghost;

	return g && (g->contents || (f->reg->mode != S_IFREG && g->attrs));
}

static int access_mode(uint32_t flags)
{
	switch (flags & O_ACCMODE) {
	case O_WRONLY:
		return W_OK;
	case O_RDWR:
		return R_OK | W_OK;
	default:
		return R_OK;
	}
}

static int check_ghost(pid_t pid, int fd, const RegFileEntry *r)
{
	cleanup_free char *dir = strdup(r->path);
	struct stat st;

	if (!dir)
		return -ENOMEM;
	if (stat(dirname(dir), &st) || !S_ISDIR(st.st_mode)) {
		pr_err("pid %d fd %d: the directory of deleted file %s is gone; the file is "
		       "recreated there\n", pid, fd, r->path);
		return -ENOENT;
	}
	return 0;
}

static struct file_dumped reg_dumped(const RegFileEntry *r)
{
	return (struct file_dumped){
		.path = r->path, .dev = r->dev, .ino = r->ino, .size = r->size,
		.mtime_ns = r->mtime_ns,
		.hash = r->has_content_hash ? &r->content_hash : NULL,
		.build_id = r->has_build_id ? &r->build_id : NULL,
	};
}

static int reg_check(const struct restore_plan *p, uint32_t desc)
{
	const RegFileEntry *r = p->fdesc[desc].fe->reg;
	int fd = p->fdesc[desc].first_fd, ret;
	struct stat st;

	if (r->ghost)
		return check_ghost(p->pid, fd, r);
	/* Its process does not exist yet. */
	if (r->has_proc_pid)
		return 0;
	if (((r->flags & O_NOFOLLOW) ? lstat(r->path, &st) : stat(r->path, &st))) {
		pr_perror("pid %d fd %d: can't find %s", p->pid, fd, r->path);
		return -errno;
	}
	if ((st.st_mode & S_IFMT) != r->mode) {
		pr_err("pid %d fd %d: %s is no longer of the dumped type: it was %s, it is now %s\n",
		       p->pid, fd, r->path, file_kind_words(r->mode, NULL).s,
		       file_kind_words(st.st_mode, NULL).s);
		return -ESTALE;
	}
	if (r->flags & O_PATH)
		return 0;
	if (r->has_ino) {
		struct file_dumped d = reg_dumped(r);
		char who[64];

		snprintf(who, sizeof(who), "pid %d fd %d", p->pid, fd);
		ret = file_valid_path(&d, r->flags & O_NOFOLLOW, p->tree->file_valid, who);
		if (ret)
			return ret;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < r->pos) {
		pr_err("pid %d fd %d: %s is now %lld bytes, shorter than its saved position %llu\n",
		       p->pid, fd, r->path, (long long)st.st_size, (unsigned long long)r->pos);
		return -ESTALE;
	}
	if (S_ISCHR(st.st_mode) && st.st_rdev != r->rdev) {
		pr_err("pid %d fd %d: %s is another device now (%u:%u, dumped %u:%u)\n", p->pid,
		       fd, r->path, major(st.st_rdev), minor(st.st_rdev), major(r->rdev),
		       minor(r->rdev));
		return -ESTALE;
	}
	if (access(r->path, access_mode(r->flags))) {
		pr_perror("pid %d fd %d: can't open %s as dumped (flags %s)", p->pid, fd, r->path,
			  open_flags_words(r->flags).s);
		return -errno;
	}
	return 0;
}

static uint32_t open_flags(const RegFileEntry *r)
{
	if (r->flags & O_PATH)
		return r->flags & PATH_ALLOWED;
	return r->flags | O_NOCTTY | (r->mode == S_IFDIR ? O_DIRECTORY : 0);
}

/* A description of the file opened through another: never O_TMPFILE. */
static uint32_t reopen_flags(const RegFileEntry *r)
{
	uint32_t f = open_flags(r);

	return (f & KERNEL_O_TMPFILE_BIT) ? f & ~O_TMPFILE : f;
}

/* Some description of the object DESC belongs to was opened O_TMPFILE:
 * the file was never named. */
static bool object_is_tmpfile(const struct restore_plan *p, uint32_t desc)
{
	uint32_t m = desc;

	do {
		if (p->fdesc[m].fe->reg->flags & KERNEL_O_TMPFILE_BIT)
			return true;
		m = p->fdesc[m].obj_next;
	} while (m != desc);
	return false;
}

/* Writes the object's contents and permissions into FD's file through a
 * description of its own (FD's may append, or be read-only). */
static int ghost_fill(struct task_files *tf, uint32_t desc, int fd)
{
	const RegFileEntry *c = tf->plan->fdesc[tf->plan->fdesc[desc].carrier].fe->reg;
	int w = task_reopen(fd, O_WRONLY | O_CLOEXEC), ret;

	if (w < 0)
		return task_files_err(tf, desc, "can't reopen deleted file %s to fill it: %s",
				      c->path, strerror(errno));
	ret = task_contents_fill(tf, w, c->ghost->contents, c->path);
	if (!ret)
		ret = task_inode_attrs_set(tf, w, c->ghost->attrs, true, c->ghost->perm, c->path);
	close(w);
	return ret;
}

/* The file again with O_TMPFILE in its directory; with WANT, DESC's own
 * description, else one to reopen from. */
static int tmpfile_create(struct task_files *tf, uint32_t desc, bool want)
{
	const RegFileEntry *r = tf->plan->fdesc[desc].fe->reg;
	cleanup_free char *dir = strdup(r->path);
	int fd, ret;

	if (!dir)
		return -ENOMEM;
	fd = open(dirname(dir), want ? open_flags(r) : O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return task_files_err(tf, desc, "can't make O_TMPFILE file %s again: %s", r->path,
				      strerror(errno));
	ret = ghost_fill(tf, desc, fd);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* A removed directory or device node made again at its path, with its
 * owner, permissions and times, held by an O_PATH fd, and removed. */
static int ghost_node_create(struct task_files *tf, uint32_t desc, const RegFileEntry *r)
{
	bool dir = r->mode == S_IFDIR;
	int fd, ret;

	ret = dir ? mkdir(r->path, 0700) : mknod(r->path, S_IFCHR | 0600, r->rdev);
	if (ret)
		return task_files_err(tf, desc, "can't make removed %s %s again: %s",
				      dir ? "directory" : "device node", r->path, strerror(errno));
	fd = open(r->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		ret = task_files_err(tf, desc, "can't open %s: %s", r->path, strerror(errno));
	else
		ret = task_inode_attrs_set_path(tf, r->path, r->ghost->attrs, r->ghost->perm);
	if ((dir ? rmdir(r->path) : unlink(r->path)) && !ret)
		ret = task_files_err(tf, desc, "can't remove %s again: %s", r->path,
				     strerror(errno));
	if (ret && fd >= 0)
		close(fd);
	return ret ?: fd;
}

/* Creates the deleted file again under its old name (or, if that is taken
 * now, as an unnamed file in its directory), fills it, unlinks it. */
static int ghost_create(struct task_files *tf, uint32_t desc)
{
	const struct file_desc *c = &tf->plan->fdesc[tf->plan->fdesc[desc].carrier];
	const RegFileEntry *r = c->fe->reg;
	cleanup_free char *dir = strdup(r->path);
	bool named = true;
	int fd, ret;

	if (!dir)
		return -ENOMEM;
	if (object_is_tmpfile(tf->plan, desc))
		return tmpfile_create(tf, desc, false);
	if (r->mode != S_IFREG)
		return ghost_node_create(tf, desc, r);
	fd = open(r->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		named = false;
		fd = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return task_files_err(tf, desc, "can't create deleted file %s again: %s", r->path,
				      strerror(errno));
	if (named && unlink(r->path)) {
		ret = task_files_err(tf, desc, "can't unlink %s: %s", r->path, strerror(errno));
		close(fd);
		return ret;
	}
	ret = task_contents_fill(tf, fd, r->ghost->contents, r->path);
	if (!ret)
		ret = task_inode_attrs_set(tf, fd, r->ghost->attrs, true, r->ghost->perm, r->path);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* Another description of the deleted file ANCHOR holds, with FLAGS.  A
 * reopen through /proc/self/fd can't keep O_NOFOLLOW (the link is one),
 * which shm_open gives every fd: open it by its file handle instead, on
 * file systems that have them (tmpfs, ext4...). */
static int ghost_reopen(int anchor, uint32_t flags)
{
	union {
		struct file_handle h;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} fh = { .h.handle_bytes = MAX_HANDLE_SZ };
	int mnt, fd;

	if (!(flags & O_NOFOLLOW) || name_to_handle_at(anchor, "", &fh.h, &mnt, AT_EMPTY_PATH))
		return task_reopen(anchor, flags);
	fd = open_by_handle_at(anchor, &fh.h, (flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_NOCTTY);
	return fd >= 0 ? fd : task_reopen(anchor, flags);
}

static int ghost_open(struct task_files *tf, uint32_t desc)
{
	const RegFileEntry *r = tf->plan->fdesc[desc].fe->reg;
	int anchor = task_object_fd(tf, desc), created = -1, tmp;

	if (anchor < 0 && (r->flags & KERNEL_O_TMPFILE_BIT))
		return tmpfile_create(tf, desc, true);
	if (anchor < 0) {
		anchor = created = ghost_create(tf, desc);
		if (created < 0)
			return created;
	}
	tmp = ghost_reopen(anchor, reopen_flags(r));
	if (tmp < 0)
		tmp = task_files_err(tf, desc, "can't open deleted file %s again: %s", r->path,
				     strerror(errno));
	if (created >= 0)
		close(created);
	return tmp;
}

/* What was opened is checked again: the path may have been replaced
 * since the checks (another inode is taken as they took it). */
static int reopened_valid(struct task_files *tf, uint32_t desc, int fd)
{
	const RegFileEntry *r = tf->plan->fdesc[desc].fe->reg;
	struct file_dumped d = reg_dumped(r);
	char who[64];

	if (!r->has_ino)
		return 0;
	snprintf(who, sizeof(who), "pid %d fd %d", tf->plan->pid,
		 tf->plan->fdesc[desc].first_fd);
	return file_valid_fd(&d, fd, tf->plan->tree->file_valid, who);
}

static int reg_open(struct task_files *tf, uint32_t desc)
{
	const RegFileEntry *r = tf->plan->fdesc[desc].fe->reg;
	int tmp, ret, fd;

	if (r->ghost) {
		tmp = ghost_open(tf, desc);
		if (tmp < 0)
			return tmp;
	} else if (r->has_proc_pid) {
		/* Holds the fd until restore_task_proc_files(). */
		tmp = open("/", O_PATH | O_CLOEXEC);
		if (tmp < 0)
			return task_files_err(tf, desc, "can't hold a place for %s: %s", r->path,
					      strerror(errno));
		return task_files_install(tf, desc, tmp);
	} else {
		tmp = open(r->path, open_flags(r));
		if (tmp < 0)
			return task_files_err(tf, desc, "can't open %s (flags %s): %s", r->path,
					      open_flags_words(open_flags(r)).s, strerror(errno));
		ret = reopened_valid(tf, desc, tmp);
		if (ret) {
			close(tmp);
			return ret;
		}
	}
	ret = task_files_install(tf, desc, tmp);
	if (ret)
		return ret;
	fd = tf->file_fd[desc];
	if (fd < 0)
		return 0;
	/* Terminals and other character devices have no position. */
	if (r->pos && !(r->flags & O_PATH) && lseek(fd, r->pos, SEEK_SET) < 0 &&
	    r->mode != S_IFCHR)
		return task_files_err(tf, desc, "can't seek %s to %llu: %s", r->path,
				      (unsigned long long)r->pos, strerror(errno));
	return 0;
}

/* Fd E of a /proc file: what open() gives in PROC_ROOT, at its place. */
static int reopen_proc(const FdinfoEntry *e, const RegFileEntry *r, int proc_root, char *err,
		       size_t len)
{
	const char *rest;
	int fd;

	proc_pid_of(r->path, &rest);
	fd = openat(proc_root, rest, open_flags(r));
	if (fd < 0) {
		snprintf(err, len, "fd %u: can't open %s: %s", e->fd, r->path, strerror(errno));
		return -errno;
	}
	if (dup2(fd, e->fd) < 0 || fcntl(e->fd, F_SETFD, e->fd_flags) ||
	    (r->pos && !(r->flags & O_PATH) && lseek(e->fd, r->pos, SEEK_SET) < 0)) {
		snprintf(err, len, "fd %u: can't put %s in place at %llu: %s", e->fd, r->path,
			 (unsigned long long)r->pos, strerror(errno));
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

/* Each process opens its own: a description shared with another process
 * of the tree comes back as one per process, at the same position. */
int restore_task_proc_files(struct restore_ctx *ctx, int proc_root, char *err, size_t len)
{
	const struct restore_plan *p = &ctx->plan;

	for (size_t i = 0; i < p->nr_fds; i++) {
		const FileEntry *fe = p->fdesc[p->fd_desc[i]].fe;
		int ret;

		if (fe->type != FD_TYPE__FD_REG || !fe->reg->has_proc_pid)
			continue;
		ret = reopen_proc(p->fds[i], fe->reg, proc_root, err, len);
		if (ret)
			return ret;
	}
	return 0;
}

const struct fd_ops reg_fd_ops = {
	.type = FD_TYPE__FD_REG,
	.name = "file",
	.match = reg_match,
	.own_async = true,
	.dump = reg_dump,
	.validate = reg_validate,
	.obj_key = reg_obj_key,
	.obj_carrier = reg_obj_carrier,
	.check = reg_check,
	.open = reg_open,
};
