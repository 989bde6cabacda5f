/* Owns the dump of a process's descriptors and filesystem context (cwd,
 * root, umask): lists the fds, reads what /proc says of each, finds the
 * fds that share one open file description (kcmp), hands each description
 * to its type (fd-types.h) and writes fdinfo-PID.img.  Anything no type
 * takes is refused naming pid, fd and kind.  The task is never changed:
 * types read through /proc, kcmp and copies of its fds (pidfd_getfd). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/kcmp.h>

#include "common.h"
#include "fd-types.h"
#include "files.h"
#include "fs-ghost.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "words.h"

#include "fdinfo.pb-c.h"
#include "fs.pb-c.h"
#include "pstree.h"

/* In the order they are asked: memfd before the path-based files. */
static const struct fd_ops *const all_ops[] = {
	&pipe_fd_ops,
	&fifo_fd_ops,
	&eventfd_fd_ops,
	&eventpoll_fd_ops,
	&timerfd_fd_ops,
	&signalfd_fd_ops,
	&inotify_fd_ops,
	&fanotify_fd_ops,
	&pidfd_fd_ops,
	&bpf_map_fd_ops,
	&io_uring_fd_ops,
	&memfd_fd_ops,
	&unix_sk_fd_ops,
	&inet_sk_fd_ops,
	&netlink_sk_fd_ops,
	&packet_sk_fd_ops,
	&tty_fd_ops,
	&reg_fd_ops,
};

const struct fd_ops *fd_ops_of(FdType type)
{
	for (size_t i = 0; i < ARRAY_SIZE(all_ops); i++)
		if (all_ops[i]->type == type)
			return all_ops[i];
	return NULL;
}

const char *fdinfo_field(const char *info, const char *key)
{
	size_t len = strlen(key);

	for (const char *l = info; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, key, len))
			return l + len;
	return NULL;
}

uint64_t fdinfo_hash_from(const char *info, const char *key)
{
	const char *s = fdinfo_field(info, key);
	uint64_t h = 1469598103934665603ULL;

	if (!s)
		return 0;
	for (s -= strlen(key); *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int parse_fdinfo(pid_t pid, struct fd_parms *p)
{
	const char *pos = fdinfo_field(p->info, "pos:");
	const char *flags = fdinfo_field(p->info, "flags:");
	unsigned long long v;
	unsigned int f;

	if (!pos || !flags || sscanf(pos, "%llu", &v) != 1 || sscanf(flags, "%o", &f) != 1) {
		pr_err("Can't parse /proc/%d/fdinfo/%d\n", pid, p->fd);
		return -EINVAL;
	}
	p->pos = v;
	p->flags = f & ~O_CLOEXEC;
	p->fd_flags = (f & O_CLOEXEC) ? FD_CLOEXEC : 0;
	return 0;
}

/* fdinfo is one seq_file record: a read that does not fill the buffer got
 * all of it (one read, not two: this runs for every fd). */
static char *read_fdinfo(int dir, const char *name)
{
	char buf[4096], *text;
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	if (n == sizeof(buf) - 1) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dir, name);
		return proc_read_file(path, NULL);
	}
	text = malloc(n + 1);
	if (text) {
		memcpy(text, buf, n);
		text[n] = '\0';
	}
	return text;
}

/* What /proc says of fd P->fd (through D's /proc/PID/fd and fdinfo). */
static int read_fd(struct files_dump *d, struct fd_parms *p)
{
	char name[16], link[4096];
	ssize_t n;

	snprintf(name, sizeof(name), "%d", p->fd);
	n = readlinkat(d->proc_fd, name, link, sizeof(link) - 1);
	if (n < 0 || fstatat(d->proc_fd, name, &p->st, 0)) {
		pr_perror("Can't inspect pid %d fd %d", d->pid, p->fd);
		return -errno;
	}
	link[n] = '\0';
	p->link = strdup(link);
	p->info = read_fdinfo(d->proc_fdinfo, name);
	if (!p->info) {
		pr_perror("Can't read /proc/%d/fdinfo/%d", d->pid, p->fd);
		return -errno;
	}
	if (!p->link)
		return -ENOMEM;
	return parse_fdinfo(d->pid, p);
}

static const char *socket_family(int family)
{
	switch (family) {
	case AF_UNIX:
		return "unix";
	case AF_INET:
		return "IPv4";
	case AF_INET6:
		return "IPv6";
	case AF_NETLINK:
		return "netlink";
	case AF_PACKET:
		return "packet";
	default:
		return NULL;
	}
}

/* "a netlink socket", "an IPv4 socket (type 1, protocol 6)". */
static void socket_kind(struct files_dump *d, const struct fd_parms *p, char *buf, size_t len)
{
	int fd = files_steal(d, p), family = -1, type = -1, proto = -1;
	socklen_t sl = sizeof(int);
	const char *name;

	if (fd >= 0) {
		getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &sl);
		getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl);
		getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &sl);
		close(fd);
	}
	name = socket_family(family);
	if (name)
		snprintf(buf, len, "a%s %s socket (type %d, protocol %d)",
			 strchr("aeiouAEIOU", name[0]) ? "n" : "", name, type, proto);
	else
		snprintf(buf, len, "a socket of family %d (type %d, protocol %d)", family, type,
			 proto);
}

/* Names the kind of a descriptor no type takes, for the error. */
static const char *unsupported_kind(struct files_dump *d, const struct fd_parms *p, char *buf,
				    size_t len)
{
	const struct stat *st = &p->st;

	if (S_ISFIFO(st->st_mode))
		return "a FIFO";
	if (S_ISSOCK(st->st_mode)) {
		socket_kind(d, p, buf, len);
		return buf;
	}
	if (!strncmp(p->link, "anon_inode:", 11) || !strncmp(p->link, "pidfd:", 6)) {
		snprintf(buf, len, "%s", file_kind_words(st->st_mode, p->link).s);
		return buf;
	}
	if (S_ISCHR(st->st_mode)) {
		unsigned int maj = major(st->st_rdev);

		if (maj == 4 || maj == 5 || (maj >= 136 && maj <= 143))
			return "a terminal";
		snprintf(buf, len, "a character device %u:%u", maj, minor(st->st_rdev));
		return buf;
	}
	if (S_ISBLK(st->st_mode)) {
		snprintf(buf, len, "a block device %u:%u", major(st->st_rdev), minor(st->st_rdev));
		return buf;
	}
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))
		return "a file without a path";
	snprintf(buf, len, "%s", file_kind_words(st->st_mode, p->link).s);
	return buf;
}

int files_refuse_flags(const struct files_dump *d, const struct fd_parms *p, const char *what,
		       uint32_t supported)
{
	pr_err("pid %d fd %d (%s) is %s with %s set: not supported yet (open flags %s)\n",
	       d->pid, p->fd, p->link, what, flag_bits_words(p->flags & ~supported).s,
	       open_flags_words(p->flags | (p->async ? O_ASYNC : 0)).s);
	return -EOPNOTSUPP;
}

static int classify(struct files_dump *d, struct fd_parms *p)
{
	char buf[256];
	int ret = fd_locks_collect(d, p);

	if (ret)
		return ret;

	for (size_t i = 0; i < ARRAY_SIZE(all_ops); i++)
		if (all_ops[i]->match(d, p)) {
			p->ops = all_ops[i];
			/* fown.c's, whatever the type. */
			p->async = p->flags & O_ASYNC;
			if (!p->ops->own_async)
				p->flags &= ~O_ASYNC;
			if (p->ops->share_key)
				p->share_key = p->ops->share_key(p);
			return 0;
		}
	pr_err("pid %d fd %d (%s) is %s: not supported yet\n", d->pid, p->fd, p->link,
	       unsupported_kind(d, p, buf, sizeof(buf)));
	return -EOPNOTSUPP;
}

static int kcmp_file(pid_t pid, int fd1, int fd2)
{
	return syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd1, fd2);
}

struct share_sort {
	struct files_dump *d;
	int kcmp_errno;
};

/* Orders fds so that those sharing a description end up next to each
 * other: cheap keys first, kcmp's order of the file pointers last. */
static int cmp_share(const void *a, const void *b, void *arg)
{
	struct share_sort *s = arg;
	const struct fd_parms *x = &s->d->fds[*(const int *)a], *y = &s->d->fds[*(const int *)b];
	int r;

	if (x->st.st_dev != y->st.st_dev)
		return x->st.st_dev < y->st.st_dev ? -1 : 1;
	if (x->st.st_ino != y->st.st_ino)
		return x->st.st_ino < y->st.st_ino ? -1 : 1;
	if (x->flags != y->flags)
		return x->flags < y->flags ? -1 : 1;
	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	if (x->share_key != y->share_key)
		return x->share_key < y->share_key ? -1 : 1;
	r = strcmp(x->link, y->link);
	if (r)
		return r;
	r = kcmp_file(s->d->pid, x->fd, y->fd);
	if (r < 0) {
		s->kcmp_errno = errno;
		return x->fd - y->fd;
	}
	return r == 0 ? 0 : r == 1 ? -1 : 1;
}

/* rep of every fd: the lowest-numbered fd sharing its description. */
static int find_shared(struct files_dump *d)
{
	cleanup_free int *idx = calloc(d->nr_fds + 1, sizeof(*idx));
	struct share_sort s = { .d = d };

	if (!idx)
		return -ENOMEM;
	for (int i = 0; i < d->nr_fds; i++)
		idx[i] = i;
	qsort_r(idx, d->nr_fds, sizeof(*idx), cmp_share, &s);
	if (s.kcmp_errno) {
		pr_err("Can't compare the files of pid %d with kcmp: %s\n", d->pid,
		       strerror(s.kcmp_errno));
		return -s.kcmp_errno;
	}
	for (int i = 0, j; i < d->nr_fds; i = j) {
		int rep = idx[i];

		for (j = i + 1; j < d->nr_fds && !cmp_share(&idx[i], &idx[j], &s); j++)
			rep = min(rep, idx[j]);
		for (int k = i; k < j; k++)
			d->fds[idx[k]].rep = rep;
	}
	return 0;
}

int files_write(struct files_dump *d, FileEntry *fe)
{
	return d->files ? img_write_msg(d->files, &fe->base) : 0;
}

char *files_scratch(struct files_dump *d)
{
	if (!d->scratch)
		d->scratch = malloc(FILES_SCRATCH_SIZE);
	return d->scratch;
}

int files_steal(struct files_dump *d, const struct fd_parms *p)
{
	int fd = syscall(SYS_pidfd_getfd, d->pidfd, p->fd, 0);

	if (fd < 0) {
		pr_perror("Can't take a copy of pid %d fd %d", d->pid, p->fd);
		return -errno;
	}
	return fd;
}

struct obj_seen {
	FdType type;
	uint64_t dev;
	uint64_t ino;
	uint32_t id;
};

static int cmp_seen(const void *a, const void *b)
{
	const struct obj_seen *x = a, *y = b;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

uint32_t files_obj_id(struct files_dump *d, FdType type, const struct stat *st, bool *first)
{
	struct obj_seen *o = malloc(sizeof(*o)), **found;

	if (!o)
		return 0;
	*o = (struct obj_seen){ type, st->st_dev, st->st_ino, d->nr_objs + 1 };
	found = tsearch(o, &d->objs_seen, cmp_seen);
	if (!found) {
		free(o);
		return 0;
	}
	*first = *found == o;
	if (*first)
		d->nr_objs++;
	else
		free(o);
	return (*found)->id;
}

static int write_fdinfo(struct files_dump *d, struct cr_img *img)
{
	for (int i = 0; i < d->nr_fds; i++) {
		FdinfoEntry fe = FDINFO_ENTRY__INIT;
		const struct fd_parms *p = &d->fds[i];
		int ret;

		fe.fd = p->fd;
		fe.type = p->ops->type;
		fe.id = d->fds[p->rep].id;
		fe.fd_flags = p->fd_flags;
		if (p->rep == (uint32_t)i) {
			fe.locks = p->locks;
			fe.n_locks = p->n_locks;
		}
		ret = img_write_msg(img, &fe.base);
		if (ret)
			return ret;
	}
	return 0;
}

/* A description dumped for an earlier process: the same (type, dev, ino)
 * in another process may be it (fork, SCM_RIGHTS); kcmp decides. */
struct desc_seen {
	FdType type;
	uint64_t dev, ino;
	size_t nr;
	struct {
		pid_t pid;
		int fd;
		uint32_t id;
	} *at;
};

static int cmp_desc_seen(const void *a, const void *b)
{
	const struct desc_seen *x = a, *y = b;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void free_desc_seen(void *p)
{
	struct desc_seen *s = p;

	free(s->at);
	free(s);
}

static struct desc_seen *desc_bucket(struct files_dump *d, const struct fd_parms *p)
{
	struct desc_seen key = { p->ops->type, p->st.st_dev, p->st.st_ino, 0, NULL }, *n, **f;

	f = tfind(&key, &d->descs_seen, cmp_desc_seen);
	if (f)
		return *f;
	n = malloc(sizeof(*n));
	if (!n)
		return NULL;
	*n = key;
	f = tsearch(n, &d->descs_seen, cmp_desc_seen);
	if (!f || *f != n) {
		free(n);
		return f ? *f : NULL;
	}
	return n;
}

/* The id an earlier process's fd already gave P's description, 0 if
 * none did, -errno.  This process's own descriptions are told apart
 * already (find_shared): comparing with them would make anonymous inodes,
 * which thousands of eventfds share, cost a kcmp per pair. */
static int64_t shared_id(struct files_dump *d, struct desc_seen *b, const struct fd_parms *p)
{
	for (size_t i = 0; i < b->nr; i++) {
		long r;

		if (b->at[i].pid == d->pid)
			continue;
		r = syscall(SYS_kcmp, b->at[i].pid, d->pid, KCMP_FILE, b->at[i].fd, p->fd);

		if (r < 0) {
			pr_perror("Can't compare pid %d fd %d with pid %d fd %d (kcmp)",
				  b->at[i].pid, b->at[i].fd, d->pid, p->fd);
			return -errno;
		}
		if (!r)
			return b->at[i].id;
	}
	return 0;
}

static int remember_desc(struct desc_seen *b, pid_t pid, const struct fd_parms *p)
{
	void *n = realloc(b->at, (b->nr + 1) * sizeof(*b->at));

	if (!n)
		return -ENOMEM;
	b->at = n;
	b->at[b->nr].pid = pid;
	b->at[b->nr].fd = p->fd;
	b->at[b->nr++].id = p->id;
	return 0;
}

/* Each open file description once in the whole dump, at the lowest fd of
 * the first process holding it. */
static int dump_descriptions(struct files_dump *d)
{
	for (int i = 0; i < d->nr_fds; i++) {
		struct fd_parms *p = &d->fds[i];
		FileEntry fe = FILE_ENTRY__INIT;
		FownEntry fown = FOWN_ENTRY__INIT;
		struct desc_seen *b;
		int64_t id;
		int ret;

		if (p->rep != (uint32_t)i)
			continue;
		b = desc_bucket(d, p);
		if (!b)
			return -ENOMEM;
		id = shared_id(d, b, p);
		if (id < 0)
			return id;
		if (id) {
			p->id = id;
			continue;
		}
		p->id = d->next_id++;
		ret = remember_desc(b, d->pid, p);
		if (ret)
			return ret;
		fe.id = p->id;
		fe.type = p->ops->type;
		ret = fown_dump(d, p, &fown);
		if (ret < 0)
			return ret;
		if (ret)
			fe.fown = &fown;
		ret = p->ops->dump(d, p, &fe);
		if (ret)
			return ret;
	}
	return 0;
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

static int open_proc_dir(pid_t pid, const char *what)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("Can't open %s", path);
	return fd < 0 ? -errno : fd;
}

/* Reads and classifies the fds FDS of d->pid (/proc dirs opened here). */
static int read_fds(struct files_dump *d, const int *fds, int nr)
{
	int ret;

	d->proc_fd = open_proc_dir(d->pid, "fd");
	if (d->proc_fd < 0)
		return d->proc_fd;
	d->proc_fdinfo = open_proc_dir(d->pid, "fdinfo");
	if (d->proc_fdinfo < 0)
		return d->proc_fdinfo;
	d->fds = calloc(nr + 1, sizeof(*d->fds));
	if (!d->fds)
		return -ENOMEM;
	for (int i = 0; i < nr; i++) {
		d->fds[i].fd = fds[i];
		d->nr_fds = i + 1;
		ret = read_fd(d, &d->fds[i]);
		if (!ret)
			ret = classify(d, &d->fds[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static int collect_fds(struct files_dump *d)
{
	cleanup_free int *fds = NULL;
	int nr = list_fds(d->pid, &fds);

	return nr < 0 ? nr : read_fds(d, fds, nr);
}

static int open_images(int dfd, struct files_dump *d)
{
	d->files = img_open_write(dfd, IMG_FILES, 0);
	if (!d->files)
		return -EIO;
	d->data = img_open_write(dfd, IMG_FILES_DATA, 0);
	return d->data ? 0 : -EIO;
}

/* What one process leaves behind: its fds and /proc handles. */
static void files_process_free(struct files_dump *d)
{
	for (int i = 0; i < d->nr_fds; i++) {
		free(d->fds[i].link);
		free(d->fds[i].info);
		fd_locks_free(&d->fds[i]);
	}
	free(d->fds);
	d->fds = NULL;
	d->nr_fds = 0;
	if (d->pidfd >= 0)
		close(d->pidfd);
	if (d->proc_fd >= 0)
		close(d->proc_fd);
	if (d->proc_fdinfo >= 0)
		close(d->proc_fdinfo);
	d->pidfd = d->proc_fd = d->proc_fdinfo = -1;
}

/* FDS, fds of lmproc's own, as the fds of a process of their own: read
 * and classified like a task's (through /proc/self), told apart with
 * kcmp, and each description dumped unless a process did already. */
static int dump_own_fds(struct files_dump *d, const int *fds, int nr, uint32_t *ids)
{
	int ret;

	d->pidfd = syscall(SYS_pidfd_open, d->pid, 0);
	if (d->pidfd < 0) {
		pr_perror("Can't open a pidfd for lmproc itself");
		return -errno;
	}
	ret = read_fds(d, fds, nr);
	if (!ret)
		ret = find_shared(d);
	if (!ret)
		ret = dump_descriptions(d);
	for (int i = 0; !ret && i < nr; i++)
		ids[i] = d->fds[d->fds[i].rep].id;
	return ret;
}

int files_dump_own(struct files_dump *d, const int *fds, int nr, uint32_t *ids)
{
	struct files_dump task = *d;
	int ret;

	d->pid = getpid();
	d->fds = NULL;
	d->nr_fds = 0;
	d->pidfd = d->proc_fd = d->proc_fdinfo = -1;
	ret = dump_own_fds(d, fds, nr, ids);
	files_process_free(d);
	d->pid = task.pid;
	d->pidfd = task.pidfd;
	d->proc_fd = task.proc_fd;
	d->proc_fdinfo = task.proc_fdinfo;
	d->fds = task.fds;
	d->nr_fds = task.nr_fds;
	return ret;
}

static int dump_fds(int dfd, struct files_dump *d)
{
	struct cr_img *fdinfo;
	int ret;

	d->pidfd = syscall(SYS_pidfd_open, d->pid, 0);
	if (d->pidfd < 0) {
		pr_perror("Can't open a pidfd for pid %d", d->pid);
		return -errno;
	}
	ret = collect_fds(d);
	if (!ret)
		ret = find_shared(d);
	if (!ret)
		ret = dump_descriptions(d);
	if (ret || dfd < 0)
		return ret;
	fdinfo = img_open_write(dfd, IMG_FDINFO, pstree_vpid(d->pid));
	if (!fdinfo)
		return -EIO;
	ret = write_fdinfo(d, fdinfo);
	return img_close(fdinfo) ?: ret;
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
	ret = fs_ghost_dump(pid, cwd, root, &fs);
	if (ret)
		return ret;
	ret = proc_read_status(pid, &st);
	if (ret)
		return ret;
	fs.cwd = cwd;
	fs.root = root;
	fs.umask = st.umask;
	return dfd < 0 ? 0 : img_write_one(dfd, IMG_FS, pstree_vpid(pid), &fs.base);
}

struct files_dump *files_dump_start(int dfd, bool shell_job, bool ext_unix_sk,
				     const pid_t *tree_pids, size_t nr_tree_pids)
{
	struct files_dump *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->shell_job = shell_job;
	d->pidfd = d->proc_fd = d->proc_fdinfo = -1;
	d->tee_pipe[0] = d->tee_pipe[1] = -1;
	d->next_id = 1;
	d->ext_unix_sk = ext_unix_sk;
	d->tree_pids = tree_pids;
	d->nr_tree_pids = nr_tree_pids;
	if (dfd >= 0 && open_images(dfd, d)) {
		files_dump_end(d, true);
		return NULL;
	}
	return d;
}

int dump_files(int dfd, struct files_dump *d, pid_t pid)
{
	int ret;

	d->pid = pid;
	ret = dump_fds(dfd, d);
	files_process_free(d);
	return ret ?: dump_fs(dfd, pid);
}

int files_dump_end(struct files_dump *d, bool failed)
{
	int ret = 0;

	if (!d)
		return 0;
	files_process_free(d);
	if (failed)
		img_discard(d->files);
	else if (d->files)
		ret = img_close(d->files);
	free(d->scratch);
	tdestroy(d->objs_seen, free);
	tdestroy(d->descs_seen, free_desc_seen);
	unix_diag_free(d->unix_diag);
	bpf_map_dump_end(d);
	unix_scm_dump_end(d);
	for (int i = 0; i < 2; i++)
		if (d->tee_pipe[i] >= 0)
			close(d->tee_pipe[i]);
	if (failed || ret || !d->data)
		img_discard(d->data);
	else
		ret = img_close(d->data);
	free(d);
	return ret;
}
