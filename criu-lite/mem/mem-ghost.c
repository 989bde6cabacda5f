/* Owns files deleted while mapped (a library an upgrade replaced under a
 * running daemon): their contents go into files-data.img with the dump,
 * read through /proc/PID/map_files, and at restore each is made again as
 * a deleted file (under its old name if that is free, else unnamed in its
 * directory), with its owner, permissions and times, for the restorer to
 * map, so /proc/PID/maps shows it deleted as before. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "mem.h"
#include "restore.h"

static int save_one(struct files_dump *d, pid_t pid, struct mapped_file *f)
{
	char path[96], what[64];
	struct stat st;
	int fd, ret;

	f->ghost = calloc(1, sizeof(*f->ghost));
	f->ghost_attrs = calloc(1, sizeof(*f->ghost_attrs));
	if (!f->ghost || !f->ghost_attrs)
		return -ENOMEM;
	file_contents__init(f->ghost);
	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid,
		 (unsigned long)f->map_start, (unsigned long)f->map_end);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0) {
		pr_perror("Can't open deleted file %s mapped by pid %d at 0x%lx", f->path, pid,
			  (unsigned long)f->map_start);
		return -errno;
	}
	snprintf(what, sizeof(what), "pid %d deleted mapped file", pid);
	if (fstat(fd, &st)) {
		pr_perror("Can't stat deleted file %s mapped by pid %d", f->path, pid);
		close(fd);
		return -errno;
	}
	files_inode_attrs(f->ghost_attrs, &st);
	ret = files_data_save_contents(d, fd, f->size, f->ghost, what);
	close(fd);
	return ret;
}

int mem_save_ghosts(struct files_dump *d, pid_t pid, struct vm_area_list *vl)
{
	for (size_t i = 0; i < vl->nr_files; i++) {
		int ret;

		if (!vl->files[i].deleted)
			continue;
		ret = save_one(d, pid, &vl->files[i]);
		if (ret)
			return ret;
	}
	return 0;
}

int mem_ghost_validate(const MappedFileEntry *f, uint64_t data_size)
{
	if (!f->has_ghost_perm && !f->ghost)
		return 0;
	if (!f->has_ghost_perm || !f->ghost || (f->ghost_perm & ~07777) ||
	    f->ghost->size != f->size)
		return restore_plan_bad("mm.img", "deleted mapped file %s: contents %s, perm 0%o",
					f->path, f->ghost ? "present" : "missing", f->ghost_perm);
	if (files_inode_attrs_validate(f->path, f->ghost_attrs))
		return -EINVAL;
	return files_contents_validate(f->path, f->ghost, data_size);
}

/* Its directory must still exist: the file is made again there. */
int mem_ghost_check(pid_t pid, const MappedFileEntry *f)
{
	cleanup_free char *dir = strdup(f->path);
	struct stat st;

	if (!dir)
		return -ENOMEM;
	if (stat(dirname(dir), &st) || !S_ISDIR(st.st_mode)) {
		pr_err("pid %d maps the deleted file %s, whose directory is gone: the file is "
		       "made again there\n", pid, f->path);
		return -ENOENT;
	}
	return 0;
}

/* An executable's file must have no writer (PR_SET_MM_MAP's exe_fd, as
 * execve): the mappings get an fd of the flags they need. */
static int reopen(int fd, const MappedFileEntry *f)
{
	char path[64];
	int nfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, f->open_flags | O_CLOEXEC);
	if (nfd < 0) {
		pr_perror("Can't open deleted mapped file %s again", f->path);
		return -errno;
	}
	return nfd;
}

/* A new deleted file with the dumped contents, opened with the flags
 * the mappings need; DATA_FD is files-data.img. */
int mem_ghost_make(const MappedFileEntry *f, int data_fd)
{
	cleanup_free char *dir = strdup(f->path);
	char err[256] = "";
	struct task_files tf = { .data_fd = data_fd, .err = err, .len = sizeof(err) };
	bool named = true;
	int fd, ret;

	if (!dir)
		return -ENOMEM;
	fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		named = false;
		fd = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		pr_perror("Can't make deleted mapped file %s again", f->path);
		return -errno;
	}
	if (named && unlink(f->path)) {
		pr_perror("Can't unlink %s", f->path);
		close(fd);
		return -errno;
	}
	ret = task_contents_fill(&tf, fd, f->ghost, f->path);
	if (!ret)
		ret = task_inode_attrs_set(&tf, fd, f->ghost_attrs, true, f->ghost_perm, f->path);
	if (ret)
		pr_err("%s\n", err);
	if (!ret)
		ret = reopen(fd, f);
	close(fd);
	return ret;
}
