/* Owns the dump of a process's descriptors and filesystem context (cwd,
 * root, umask).  Reads /proc only; the target is never touched. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/kcmp.h>

#include "common.h"
#include "files.h"
#include "image.h"
#include "log.h"
#include "proc.h"

#include "fdinfo.pb-c.h"
#include "fs.pb-c.h"

struct dumped_fd {
	int fd;
	int id;
	uint32_t fd_flags;
	struct stat st;
};

static int kcmp_file(pid_t pid, int fd1, int fd2)
{
	return syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd1, fd2);
}

static int read_fdinfo(pid_t pid, int fd, uint64_t *pos, uint32_t *flags)
{
	cleanup_free char *buf = NULL;
	char path[64];
	unsigned long long p;
	unsigned int f;
	char *line;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	buf = proc_read_file(path, NULL);
	if (!buf) {
		pr_perror("Can't read %s", path);
		return -errno;
	}
	line = strstr(buf, "pos:");
	if (!line || sscanf(line, "pos: %llu", &p) != 1)
		goto bad;
	line = strstr(buf, "flags:");
	if (!line || sscanf(line, "flags: %o", &f) != 1)
		goto bad;
	*pos = p;
	*flags = f;
	return 0;
bad:
	pr_err("Can't parse %s\n", path);
	return -EINVAL;
}

/* Names the kind of a descriptor lmproc cannot dump yet, for the error. */
static const char *unsupported_kind(const struct stat *st, const char *link)
{
	if (S_ISFIFO(st->st_mode))
		return "a pipe or FIFO";
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	if (!strncmp(link, "anon_inode:", 11))
		return link + 11;
	if (S_ISCHR(st->st_mode)) {
		unsigned int maj = major(st->st_rdev);

		if (maj == 4 || maj == 5 || (maj >= 136 && maj <= 143))
			return "a terminal";
		return NULL;
	}
	if (S_ISBLK(st->st_mode))
		return "a block device";
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return "an unknown file type";
	return NULL;
}

static int check_reg_path(pid_t pid, int fd, const char *path, const struct stat *st)
{
	struct stat now;

	if (strstr(path, " (deleted)") || (S_ISREG(st->st_mode) && st->st_nlink == 0)) {
		pr_err("pid %d fd %d: file %s is deleted; not supported yet\n", pid, fd, path);
		return -EOPNOTSUPP;
	}
	if (path[0] != '/') {
		pr_err("pid %d fd %d: %s has no path lmproc can reopen\n", pid, fd, path);
		return -EOPNOTSUPP;
	}
	if (stat(path, &now) || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
		pr_err("pid %d fd %d: %s now names another file (or none)\n", pid, fd, path);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int write_file_entry(struct cr_img *img, int id, const char *path, uint32_t flags,
			    uint64_t pos, const struct stat *st)
{
	FileEntry fe = FILE_ENTRY__INIT;
	RegFileEntry re = REG_FILE_ENTRY__INIT;

	re.path = (char *)path;
	re.flags = flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC);
	re.pos = pos;
	re.mode = st->st_mode & S_IFMT;
	if (S_ISREG(st->st_mode)) {
		re.has_size = true;
		re.size = st->st_size;
	}
	if (S_ISCHR(st->st_mode)) {
		re.has_rdev = true;
		re.rdev = st->st_rdev;
	}
	fe.id = id;
	fe.type = FD_TYPE__FD_REG;
	fe.reg = &re;
	return img_write_msg(img, &fe.base);
}

/* Finds an already dumped fd sharing FD's open file description. */
static int find_shared(pid_t pid, const struct dumped_fd *fds, int nr, int fd,
		       const struct stat *st)
{
	for (int i = 0; i < nr; i++) {
		if (fds[i].st.st_dev != st->st_dev || fds[i].st.st_ino != st->st_ino)
			continue;
		if (kcmp_file(pid, fds[i].fd, fd) == 0)
			return fds[i].id;
	}
	return -1;
}

static int dump_one_fd(pid_t pid, int fd, struct dumped_fd *fds, int *nr, int *next_id,
		       struct cr_img *files, struct cr_img *fdinfo)
{
	FdinfoEntry fe = FDINFO_ENTRY__INIT;
	char link[64], path[4096];
	const char *kind;
	uint32_t flags = 0;
	uint64_t pos = 0;
	struct stat st;
	int ret, id;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", pid, fd);
	if (stat(link, &st) || proc_readlink(link, path, sizeof(path))) {
		pr_perror("Can't inspect pid %d fd %d", pid, fd);
		return -errno;
	}
	kind = unsupported_kind(&st, path);
	if (kind) {
		pr_err("pid %d fd %d is %s (%s); not supported yet\n", pid, fd, kind, path);
		return -EOPNOTSUPP;
	}
	ret = read_fdinfo(pid, fd, &pos, &flags);
	if (ret)
		return ret;
	id = find_shared(pid, fds, *nr, fd, &st);
	if (id < 0) {
		ret = check_reg_path(pid, fd, path, &st);
		if (ret)
			return ret;
		id = (*next_id)++;
		ret = write_file_entry(files, id, path, flags, pos, &st);
		if (ret)
			return ret;
	}
	fds[*nr] = (struct dumped_fd){ .fd = fd, .id = id, .st = st,
				      .fd_flags = (flags & O_CLOEXEC) ? FD_CLOEXEC : 0 };
	fe.fd = fd;
	fe.type = FD_TYPE__FD_REG;
	fe.id = id;
	fe.fd_flags = fds[*nr].fd_flags;
	(*nr)++;
	return img_write_msg(fdinfo, &fe.base);
}

static int dump_fs(int dfd, pid_t pid)
{
	FsEntry fs = FS_ENTRY__INIT;
	char link[64], cwd[4096], root[4096];
	struct proc_status st;
	int ret;

	snprintf(link, sizeof(link), "/proc/%d/cwd", pid);
	ret = proc_readlink(link, cwd, sizeof(cwd));
	if (!ret) {
		snprintf(link, sizeof(link), "/proc/%d/root", pid);
		ret = proc_readlink(link, root, sizeof(root));
	}
	if (ret) {
		pr_err("Can't read the cwd/root of pid %d: %s\n", pid, strerror(-ret));
		return ret;
	}
	if (strstr(cwd, " (deleted)")) {
		pr_err("The working directory of pid %d (%s) is deleted\n", pid, cwd);
		return -EOPNOTSUPP;
	}
	ret = proc_read_status(pid, &st);
	if (ret)
		return ret;
	fs.cwd = cwd;
	fs.root = root;
	fs.umask = st.umask;
	return img_write_one(dfd, IMG_FS, pid, &fs.base);
}

static int fd_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The fd numbers of PID in increasing order (malloc'ed). */
static int list_fds(pid_t pid, int **out)
{
	char path[64];
	struct dirent *de;
	int *fds = NULL, nr = 0, cap = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d) {
		pr_perror("Can't open %s", path);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (nr == cap) {
			int *n = realloc(fds, (cap = cap ? cap * 2 : 64) * sizeof(*fds));

			if (!n) {
				free(fds);
				closedir(d);
				return -ENOMEM;
			}
			fds = n;
		}
		fds[nr++] = atoi(de->d_name);
	}
	closedir(d);
	qsort(fds, nr, sizeof(*fds), fd_cmp);
	*out = fds;
	return nr;
}

int dump_files(int dfd, pid_t pid)
{
	cleanup_free struct dumped_fd *dumped = NULL;
	cleanup_free int *fds = NULL;
	struct cr_img *files, *fdinfo;
	int nr_fds, nr = 0, next_id = 1, ret = 0;

	nr_fds = list_fds(pid, &fds);
	if (nr_fds < 0)
		return nr_fds;
	dumped = calloc(nr_fds + 1, sizeof(*dumped));
	if (!dumped)
		return -ENOMEM;
	files = img_open_write(dfd, IMG_FILES, 0);
	fdinfo = img_open_write(dfd, IMG_FDINFO, pid);
	if (!files || !fdinfo)
		ret = -EIO;
	for (int i = 0; i < nr_fds && !ret; i++)
		ret = dump_one_fd(pid, fds[i], dumped, &nr, &next_id, files, fdinfo);
	if (files) {
		int r = img_close(files);

		ret = ret ?: r;
	}
	if (fdinfo) {
		int r = img_close(fdinfo);

		ret = ret ?: r;
	}
	return ret ?: dump_fs(dfd, pid);
}
