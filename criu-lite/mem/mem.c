/* Owns the dump-side view of the target's address space: VMAs from smaps
 * (or the same lines from vma-iter.c), the files behind them, the mm fields and where its guard pages are.  Reads only; pages are moved
 * by page-xfer.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <linux/io_uring.h>

#include "aio.h"
#include "common.h"
#include "fd-types.h"
#include "image.h"
#include "io-uring.h"
#include "log.h"
#include "mem.h"
#include "mm-attrs.h"
#include "proc.h"
#include "pstree.h"
#include "shmem.h"
#include "uapi-compat.h"
#include "vma-iter.h"
#include "words.h"

/* At most this many guard ranges per process. */
#define MAX_GUARDS 65536

bool vma_has_flag(const struct vma *v, const char *flag)
{
	const char *p = v->vm_flags;
	size_t n = strlen(flag);

	while ((p = strstr(p, flag))) {
		if ((p == v->vm_flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

bool vma_has_dumpable_pages(const struct vma *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_FILE_PRIVATE;
}

bool vma_zero_pages_skippable(const struct vma *v)
{
	/* A zeroed page of a private file mapping differs from the file. */
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE;
}

/* "pid 12 mapping 0x7f00-0x7f10": how every refusal of a VMA starts. */
static struct words vma_words(pid_t pid, const struct vma *v)
{
	struct words w;

	snprintf(w.s, sizeof(w.s), "pid %d mapping 0x%lx-0x%lx", pid, (unsigned long)v->start,
		 (unsigned long)v->end);
	return w;
}

/* The lowest fd of PID whose file is ST and whose /proc link reads LINK
 * (anonymous inodes may share one inode), -1 if none. */
static int fd_holding(pid_t pid, const struct stat *st, const char *link)
{
	char path[64], name[4096];
	struct dirent *de;
	struct stat fst;
	int best = -1;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	while (dir && (de = readdir(dir))) {
		int fd = atoi(de->d_name);
		ssize_t n;

		if (de->d_name[0] == '.' || (best >= 0 && fd > best) ||
		    fstatat(dirfd(dir), de->d_name, &fst, 0) || fst.st_dev != st->st_dev ||
		    fst.st_ino != st->st_ino)
			continue;
		n = readlinkat(dirfd(dir), de->d_name, name, sizeof(name) - 1);
		if (n < 0)
			continue;
		name[n] = '\0';
		if (!strcmp(name, link))
			best = fd;
	}
	if (dir)
		closedir(dir);
	return best;
}

/* ", the file of fd 5" or ", held by no fd". */
static struct words holder_words(pid_t pid, const struct stat *st, const char *link)
{
	int fd = fd_holding(pid, st, link);
	struct words w;

	if (fd < 0)
		snprintf(w.s, sizeof(w.s), ", held by no fd");
	else
		snprintf(w.s, sizeof(w.s), ", the file of fd %d", fd);
	return w;
}

static int add_mapped_file(struct vm_area_list *vl, const char *path, const char *link,
			   const struct stat *st, uint32_t open_flags)
{
	struct mapped_file *f;

	for (size_t i = 0; i < vl->nr_files; i++) {
		f = &vl->files[i];
		if (f->dev == st->st_dev && f->ino == st->st_ino) {
			if (open_flags == O_RDWR)
				f->open_flags = O_RDWR;
			return i;
		}
	}
	f = realloc(vl->files, (vl->nr_files + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	vl->files = f;
	f = &vl->files[vl->nr_files];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	if (!f->path)
		return -ENOMEM;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	f->open_flags = open_flags;
	snprintf(f->link, sizeof(f->link), "%s", link);
	return vl->nr_files++;
}

static int classify_special(pid_t pid, struct vma *v, const char *path)
{
	static const struct {
		const char *name;
		VmaKind kind;
	} special[] = {
		{ "[vdso]", VMA_KIND__VMA_VDSO },
		{ "[vvar]", VMA_KIND__VMA_VVAR },
		{ "[vvar_vclock]", VMA_KIND__VMA_VVAR_VCLOCK },
		{ "[vsyscall]", VMA_KIND__VMA_VSYSCALL },
		{ "[heap]", VMA_KIND__VMA_ANON_PRIVATE },
		{ "[stack]", VMA_KIND__VMA_ANON_PRIVATE },
	};

	for (size_t i = 0; i < ARRAY_SIZE(special); i++) {
		if (!strcmp(path, special[i].name)) {
			v->kind = special[i].kind;
			snprintf(v->name, sizeof(v->name), "%s", path);
			return 0;
		}
	}
	if (!strncmp(path, "[anon:", 6)) {
		v->kind = VMA_KIND__VMA_ANON_PRIVATE;
		return 0;
	}
	pr_err("%s is the special mapping %s, which lmproc does not know: not supported\n",
	       vma_words(pid, v).s, path);
	return -EOPNOTSUPP;
}

/* The name a deleted file had: smaps adds " (deleted)". */
static int strip_deleted(char *path)
{
	static const char suffix[] = " (deleted)";
	size_t len = strlen(path), n = sizeof(suffix) - 1;

	if (len > n && !strcmp(path + len - n, suffix))
		path[len - n] = '\0';
	return 0;
}

/* The rings of an io_uring instance: mapped again from the fd of the
 * process that holds it (files/io-uring.c makes the instance). */
static int classify_io_uring(pid_t pid, struct vma *v, const struct stat *st)
{
	if (v->pgoff != IORING_OFF_SQ_RING && v->pgoff != IORING_OFF_CQ_RING &&
	    v->pgoff != IORING_OFF_SQES) {
		pr_err("%s maps an io_uring instance at offset 0x%llx, which is none of its "
		       "rings (a provided buffer ring?): not supported\n", vma_words(pid, v).s,
		       (unsigned long long)v->pgoff);
		return -EOPNOTSUPP;
	}
	v->io_uring_fd = io_uring_holder_fd(pid, st);
	if (v->io_uring_fd < 0) {
		pr_err("%s maps the rings of an io_uring instance no fd of the process holds: "
		       "not supported\n", vma_words(pid, v).s);
		return -EOPNOTSUPP;
	}
	v->kind = VMA_KIND__VMA_IO_URING;
	return 0;
}

static int classify_file(pid_t pid, struct vm_area_list *vl, struct vma *v, const char *path)
{
	char link[128];
	struct stat st;
	int idx;

	snprintf(link, sizeof(link), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)v->start,
		 (unsigned long)v->end);
	if (stat(link, &st)) {
		pr_perror("%s: can't stat its file %s", vma_words(pid, v).s, path);
		return -errno;
	}
	if (aio_ring_mapping(path, &st)) {
		v->kind = VMA_KIND__VMA_AIO;
		return 0;
	}
	if (io_uring_mapping(path))
		return classify_io_uring(pid, v, &st);
	if (v->flags & MAP_SHARED) {
		int ret = shmem_classify(pid, vl, v, path, &st);

		if (ret)
			return ret < 0 ? ret : 0;
	}
	if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 5 &&
	    (v->flags & MAP_PRIVATE)) {
		/* A private /dev/zero mapping is anonymous memory. */
		v->kind = VMA_KIND__VMA_ANON_PRIVATE;
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("%s maps %s (%s%s): only regular files, shared memory and private "
		       "/dev/zero are supported\n",
		       vma_words(pid, v).s, file_kind_words(st.st_mode, path).s, path,
		       holder_words(pid, &st, path).s);
		return -EOPNOTSUPP;
	}
	if ((v->flags & MAP_PRIVATE) && !strncmp(path, "/memfd:", 7)) {
		/* Made again from a copy, it would no longer show what is
		 * written through the memfd. */
		pr_err("%s is a private mapping of the memfd %s%s: not supported yet\n",
		       vma_words(pid, v).s, path, holder_words(pid, &st, path).s);
		return -EOPNOTSUPP;
	}
	if (v->flags & MAP_SHARED) {
		/* "mw": mprotect() may make it writable, so its file was
		 * opened for writing. */
		v->kind = VMA_KIND__VMA_FILE_SHARED;
		idx = add_mapped_file(vl, path, link, &st,
				      (v->prot & PROT_WRITE) || vma_has_flag(v, "mw") ? O_RDWR :
											O_RDONLY);
	} else {
		v->kind = VMA_KIND__VMA_FILE_PRIVATE;
		idx = add_mapped_file(vl, path, link, &st, O_RDONLY);
	}
	if (idx < 0)
		return idx;
	v->file = idx;
	if (st.st_nlink && strstr(path, " (deleted)")) {
		pr_err("%s maps %s, whose name is gone but another link remains (%lu links%s): "
		       "not supported\n",
		       vma_words(pid, v).s, path, (unsigned long)st.st_nlink,
		       holder_words(pid, &st, path).s);
		return -EOPNOTSUPP;
	}
	if (st.st_nlink)
		return 0;
	if (v->flags & MAP_SHARED) {
		/* Made again per process, it would no longer be shared. */
		pr_err("%s is shared and maps the deleted file %s%s: made again per process, "
		       "it would no longer be shared; not supported\n",
		       vma_words(pid, v).s, path, holder_words(pid, &st, path).s);
		return -EOPNOTSUPP;
	}
	/* Deleted: mem-ghost.c saves its contents with the files. */
	vl->files[idx].deleted = true;
	vl->files[idx].perm = st.st_mode & 07777;
	vl->files[idx].map_start = v->start;
	vl->files[idx].map_end = v->end;
	return strip_deleted(vl->files[idx].path);
}

static int parse_vma_header(const char *line, struct vma *v, unsigned long *ino, int *path_off)
{
	unsigned long start, end, pgoff;
	unsigned int maj, mnr;
	char perms[5];
	int n = 0;

	if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &start, &end, perms, &pgoff, &maj, &mnr,
		   ino, &n) < 7 || !n)
		return 0;
	memset(v, 0, sizeof(*v));
	v->start = start;
	v->end = end;
	v->pgoff = pgoff;
	v->file = -1;
	v->shmem = -1;
	v->io_uring_fd = -1;
	v->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	v->flags = perms[3] == 's' ? MAP_SHARED : MAP_PRIVATE;
	*path_off = n;
	return 1;
}

/* Every VmFlags mnemonic restored exactly or refused here, by name. */
static int check_vm_flags(pid_t pid, const struct vm_area_list *vl, const struct vma *v,
			  const char *path)
{
	struct vma_shape s = { v->kind, v->prot, v->flags, -1 };
	char *line = (char *)v->vm_flags, why[160];
	uint32_t bits;
	int ret;

	if (v->kind == VMA_KIND__VMA_FILE_SHARED)
		s.file_rw = vl->files[v->file].open_flags == O_RDWR;
	ret = vma_attrs_decode(&line, 1, &s, &bits, why, sizeof(why));
	if (ret)
		pr_err("%s (%s) %s: not supported\n", vma_words(pid, v).s,
		       path[0] ? path : "anonymous", why);
	return ret;
}

static int finish_vma(pid_t pid, struct vm_area_list *vl, struct vma *v, unsigned long ino,
		      const char *path)
{
	int ret;

	if (vma_has_flag(v, "gd"))
		v->flags |= MAP_GROWSDOWN;
	if (vma_has_flag(v, "nr"))
		v->flags |= MAP_NORESERVE;
	if (path[0] == '[')
		ret = classify_special(pid, v, path);
	else if (path[0] == '/' || ino)
		ret = classify_file(pid, vl, v, path);
	else if (v->flags & MAP_SHARED) {
		pr_err("%s is shared anonymous memory lmproc can't read as an object: not "
		       "supported yet\n", vma_words(pid, v).s);
		ret = -EOPNOTSUPP;
	} else {
		v->kind = VMA_KIND__VMA_ANON_PRIVATE;
		ret = 0;
	}
	if (ret)
		return ret;
	if (v->kind == VMA_KIND__VMA_AIO)
		return aio_check_vma(pid, v);
	if ((v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_FILE_PRIVATE ||
	     v->kind == VMA_KIND__VMA_FILE_SHARED) &&
	    (vma_has_flag(v, "ht") || vma_has_flag(v, "io") || vma_has_flag(v, "pf"))) {
		pr_err("%s (%s) is %s memory (VmFlags %s): not supported\n", vma_words(pid, v).s,
		       path[0] ? path : "anonymous",
		       vma_has_flag(v, "ht") ? "hugetlb" : "device (VM_IO/VM_PFNMAP)", v->vm_flags);
		return -EOPNOTSUPP;
	}
	if (v->kind == VMA_KIND__VMA_ANON_PRIVATE && (v->flags & MAP_SHARED)) {
		pr_err("%s (%s) is shared anonymous memory lmproc can't read as an object: not "
		       "supported yet\n", vma_words(pid, v).s, path[0] ? path : "anonymous");
		return -EOPNOTSUPP;
	}
	return check_vm_flags(pid, vl, v, path);
}

static int add_vma(struct vm_area_list *vl, const struct vma *v)
{
	struct vma *n = realloc(vl->vmas, (vl->nr + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	vl->vmas = n;
	vl->vmas[vl->nr++] = *v;
	return 0;
}

static int collect_exe(pid_t pid, struct vm_area_list *vl)
{
	char link[64], path[4096];
	struct stat st;
	int ret;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	ret = proc_readlink(link, path, sizeof(path));
	if (ret || stat(link, &st)) {
		pr_perror("Can't read the executable of pid %d", pid);
		return ret ? ret : -errno;
	}
	if (strstr(path, " (deleted)")) {
		/* Its text mapping brought it, deleted, with its contents. */
		for (size_t i = 0; i < vl->nr_files; i++)
			if (vl->files[i].deleted && vl->files[i].dev == st.st_dev &&
			    vl->files[i].ino == st.st_ino) {
				vl->exe_file = i;
				return 0;
			}
		pr_err("The executable of pid %d (%s) is deleted and not mapped: not supported\n",
		       pid, path);
		return -EOPNOTSUPP;
	}
	ret = add_mapped_file(vl, path, link, &st, O_RDONLY);
	if (ret < 0)
		return ret;
	vl->exe_file = ret;
	return 0;
}

static int flush_vma(pid_t pid, struct vm_area_list *vl, struct vma *v, unsigned long ino,
		     const char *path)
{
	int ret = finish_vma(pid, vl, v, ino, path);

	return ret ? ret : add_vma(vl, v);
}

/* The size, mtime and sums come from one fstat of the file read. */
static int file_sums(pid_t pid, struct mapped_file *f, enum file_valid_mode m)
{
	char what[PATH_MAX + 64];
	struct stat st;
	int fd, ret;

	fd = open(f->link, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(f->link, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		pr_perror("pid %d: can't open its mapped file %s to record its sums", pid, f->path);
		ret = -errno;
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (st.st_dev != f->dev || st.st_ino != f->ino) {
		pr_err("pid %d: its mapped file %s was replaced while it was dumped\n", pid,
		       f->path);
		close(fd);
		return -EAGAIN;
	}
	f->size = st.st_size;
	f->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	snprintf(what, sizeof(what), "pid %d maps %s", pid, f->path);
	ret = file_valid_sums(fd, &st, m, &f->sums, what);
	close(fd);
	return ret;
}

int mem_file_sums(pid_t pid, struct vm_area_list *vl, enum file_valid_mode m)
{
	if (m == FILE_VALID_FILESIZE)
		return 0;
	for (size_t i = 0; i < vl->nr_files; i++) {
		int ret = vl->files[i].deleted ? 0 : file_sums(pid, &vl->files[i], m);

		if (ret)
			return ret;
	}
	return 0;
}

void mem_file_sums_warm(pid_t pid, enum file_valid_mode m)
{
	struct vm_area_list vl = {};

	if (m != FILE_VALID_FILESIZE && !collect_vmas(pid, &vl))
		mem_file_sums(pid, &vl, m);
	free_vmas(&vl);
}

int collect_vmas(pid_t pid, struct vm_area_list *vl)
{
	cleanup_free char *buf = NULL;
	const char *cur_path = NULL;
	char *line, *save;
	unsigned long cur_ino = 0;
	struct vma cur, next;
	int ret = 0, off;

	memset(vl, 0, sizeof(*vl));
	buf = vma_text_read(pid);
	if (!buf) {
		pr_perror("Can't read the mappings of pid %d", pid);
		return -errno;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long ino;

		if (parse_vma_header(line, &next, &ino, &off)) {
			if (cur_path) {
				ret = flush_vma(pid, vl, &cur, cur_ino, cur_path);
				if (ret)
					goto err;
			}
			cur = next;
			cur_ino = ino;
			cur_path = line + off;
			continue;
		}
		if (cur_path && !strncmp(line, "VmFlags:", 8))
			snprintf(cur.vm_flags, sizeof(cur.vm_flags), "%s", line + 9);
	}
	if (cur_path) {
		ret = flush_vma(pid, vl, &cur, cur_ino, cur_path);
		if (ret)
			goto err;
	}
	ret = collect_exe(pid, vl);
	if (ret)
		goto err;
	return 0;
err:
	free_vmas(vl);
	return ret;
}

void free_vmas(struct vm_area_list *vl)
{
	for (size_t i = 0; i < vl->nr_files; i++) {
		free(vl->files[i].path);
		if (vl->files[i].ghost) {
			files_contents_free(vl->files[i].ghost);
			free(vl->files[i].ghost);
			free(vl->files[i].ghost_attrs);
		}
	}
	free(vl->files);
	free(vl->vmas);
	shmem_free(vl);
	memset(vl, 0, sizeof(*vl));
}

static int read_auxv(pid_t pid, uint64_t **auxv, size_t *nr)
{
	char path[64];
	size_t len;
	char *buf;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	buf = proc_read_file(path, &len);
	if (!buf) {
		pr_perror("Can't read %s", path);
		return -errno;
	}
	if (len % sizeof(uint64_t)) {
		pr_err("%s has a partial word (%zu bytes)\n", path, len);
		free(buf);
		return -EINVAL;
	}
	*auxv = (uint64_t *)buf;
	*nr = len / sizeof(uint64_t);
	return 0;
}

/* Splits the VmFlags line in place into the entry's vm_flags.  FLAGS must
 * outlive E. */
static int fill_vm_flags(VmaEntry *e, char *flags)
{
	char *tok, *save;
	size_t n = 0;

	e->vm_flags = calloc(strlen(flags) / 2 + 1, sizeof(char *));
	if (!e->vm_flags)
		return -ENOMEM;
	for (tok = strtok_r(flags, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		e->vm_flags[n++] = tok;
	e->n_vm_flags = n;
	return 0;
}

static void fill_vma_entry(VmaEntry *e, const struct vma *v, const struct vm_area_list *vl)
{
	e->start = v->start;
	e->end = v->end;
	e->kind = v->kind;
	e->prot = v->prot;
	e->flags = v->flags;
	if (v->file >= 0) {
		e->has_pgoff = e->has_file = true;
		e->pgoff = v->pgoff;
		e->file = v->file;
	}
	if (v->shmem >= 0) {
		e->has_pgoff = e->has_shmem = true;
		e->pgoff = v->pgoff;
		e->shmem = vl->shm[v->shmem].id;
	}
	if (v->kind == VMA_KIND__VMA_IO_URING) {
		e->has_pgoff = e->has_io_uring_fd = true;
		e->pgoff = v->pgoff;
		e->io_uring_fd = v->io_uring_fd;
	}
	if (v->name[0])
		e->name = (char *)v->name;
}

/* The bytes of the task's [vdso], malloc'ed into *OUT. */
static int read_vdso(pid_t pid, const struct vm_area_list *vl, ProtobufCBinaryData *out)
{
	char path[64];
	ssize_t n;
	int fd;

	for (size_t i = 0; i < vl->nr; i++) {
		const struct vma *v = &vl->vmas[i];

		if (v->kind != VMA_KIND__VMA_VDSO)
			continue;
		out->len = v->end - v->start;
		out->data = malloc(out->len);
		if (!out->data)
			return -ENOMEM;
		snprintf(path, sizeof(path), "/proc/%d/mem", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd < 0 ? -1 : pread(fd, out->data, out->len, v->start);
		if (fd >= 0)
			close(fd);
		if (n != (ssize_t)out->len) {
			pr_perror("Can't read the vDSO of pid %d at 0x%lx", pid,
				  (unsigned long)v->start);
			return -EIO;
		}
		return 0;
	}
	return 0;
}

static bool vma_special(const struct vma *v)
{
	return v->kind == VMA_KIND__VMA_VDSO || v->kind == VMA_KIND__VMA_VVAR ||
	       v->kind == VMA_KIND__VMA_VVAR_VCLOCK || v->kind == VMA_KIND__VMA_VSYSCALL ||
	       v->kind == VMA_KIND__VMA_AIO || v->kind == VMA_KIND__VMA_IO_URING;
}

struct guard_list {
	GuardRange *r;
	size_t nr;
};

static int add_guard(struct guard_list *g, uint64_t start, uint64_t end)
{
	GuardRange *r;

	if (g->nr && g->r[g->nr - 1].end == start) {
		g->r[g->nr - 1].end = end;
		return 0;
	}
	if (g->nr == MAX_GUARDS)
		return -E2BIG;
	r = realloc(g->r, (g->nr + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	g->r = r;
	guard_range__init(&r[g->nr]);
	r[g->nr].start = start;
	r[g->nr].end = end;
	g->nr++;
	return 0;
}

/* The guard pages of V, from PAGEMAP_SCAN (FD: the task's pagemap). */
static int vma_guards(int fd, pid_t pid, const struct vma *v, struct guard_list *g)
{
	struct page_region r[64];
	struct pm_scan_arg a = {
		.size = sizeof(a), .start = v->start, .end = v->end, .vec = (uintptr_t)r,
		.vec_len = ARRAY_SIZE(r), .category_mask = PAGE_IS_GUARD,
		.return_mask = PAGE_IS_GUARD,
	};

	while (a.start < v->end) {
		long n = ioctl(fd, PAGEMAP_SCAN, &a);

		/* EINVAL, ENOTTY: this kernel reports no guards (read_guards). */
		if (n < 0 && (errno == EINVAL || errno == ENOTTY))
			return -errno;
		if (n < 0) {
			pr_perror("Can't look for guard pages of pid %d in 0x%llx-0x%llx", pid,
				  (unsigned long long)v->start, (unsigned long long)v->end);
			return -errno;
		}
		for (long i = 0; i < n; i++) {
			int ret = add_guard(g, r[i].start, r[i].end);

			if (ret) {
				pr_err("pid %d has more than %d ranges of guard pages\n", pid,
				       MAX_GUARDS);
				return ret;
			}
		}
		a.start = a.walk_end;
	}
	return 0;
}

/* Guard pages (MADV_GUARD_INSTALL) hold no page: the page path skips
 * them, and they are installed again at restore.  A kernel whose
 * PAGEMAP_SCAN does not know PAGE_IS_GUARD (EINVAL: before 6.14), or
 * has no PAGEMAP_SCAN, reports none. */
static int read_guards(pid_t pid, const struct vm_area_list *vl, struct guard_list *g)
{
	char path[64];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open %s", path);
		return -errno;
	}
	for (size_t i = 0; i < vl->nr && !ret; i++)
		if (!vma_special(&vl->vmas[i]))
			ret = vma_guards(fd, pid, &vl->vmas[i], g);
	close(fd);
	if (ret == -EINVAL || ret == -ENOTTY) {
		pr_info("pid %d: this kernel reports no guard pages\n", pid);
		free(g->r);
		*g = (struct guard_list){};
		return 0;
	}
	return ret;
}

int dump_mm(int dfd, pid_t pid, const struct vm_area_list *vl, uint64_t brk)
{
	cleanup_free VmaEntry *vmas = NULL;
	cleanup_free VmaEntry **vma_ptrs = NULL;
	cleanup_free MappedFileEntry *files = NULL;
	cleanup_free MappedFileEntry **file_ptrs = NULL;
	cleanup_free uint64_t *auxv = NULL;
	cleanup_free char **flag_bufs = NULL;
	cleanup_free GuardRange **guard_ptrs = NULL;
	struct guard_list guards = {};
	MmEntry mm = MM_ENTRY__INIT;
	struct proc_stat st;
	size_t nr_auxv = 0;
	int ret;

	ret = proc_read_stat(pid, &st);
	if (ret) {
		pr_err("Can't read the mm fields of pid %d\n", pid);
		return ret;
	}
	ret = read_auxv(pid, &auxv, &nr_auxv);
	if (ret)
		return ret;
	ret = read_guards(pid, vl, &guards);
	if (ret)
		return ret;
	guard_ptrs = calloc(guards.nr + 1, sizeof(*guard_ptrs));
	if (!guard_ptrs) {
		free(guards.r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < guards.nr; i++)
		guard_ptrs[i] = &guards.r[i];
	vmas = calloc(vl->nr, sizeof(*vmas));
	vma_ptrs = calloc(vl->nr, sizeof(*vma_ptrs));
	files = calloc(vl->nr_files, sizeof(*files));
	file_ptrs = calloc(vl->nr_files, sizeof(*file_ptrs));
	flag_bufs = calloc(vl->nr + 1, sizeof(*flag_bufs));
	if (!flag_bufs || (vl->nr && (!vmas || !vma_ptrs)) || (vl->nr_files && (!files || !file_ptrs)))
		return -ENOMEM;
	for (size_t i = 0; i < vl->nr; i++) {
		vma_entry__init(&vmas[i]);
		fill_vma_entry(&vmas[i], &vl->vmas[i], vl);
		vma_ptrs[i] = &vmas[i];
		flag_bufs[i] = strdup(vl->vmas[i].vm_flags);
		if (!flag_bufs[i] || fill_vm_flags(&vmas[i], flag_bufs[i])) {
			ret = -ENOMEM;
			goto out;
		}
		if (vl->vmas[i].kind == VMA_KIND__VMA_AIO) {
			ret = aio_dump_ring(pid, &vl->vmas[i], &vmas[i]);
			if (ret)
				goto out;
		}
	}
	for (size_t i = 0; i < vl->nr_files; i++) {
		const struct mapped_file *f = &vl->files[i];

		mapped_file_entry__init(&files[i]);
		files[i].path = f->path;
		files[i].dev = f->dev;
		files[i].ino = f->ino;
		files[i].size = f->size;
		files[i].mtime_ns = f->mtime_ns;
		files[i].open_flags = f->open_flags;
		files[i].has_content_hash = f->sums.hash_len != 0;
		files[i].content_hash.data = (uint8_t *)f->sums.hash;
		files[i].content_hash.len = f->sums.hash_len;
		files[i].has_build_id = f->sums.build_id_len != 0;
		files[i].build_id.data = (uint8_t *)f->sums.build_id;
		files[i].build_id.len = f->sums.build_id_len;
		/* Pre-dump rounds save no contents: restore reads the dump's. */
		if (f->ghost) {
			files[i].ghost = f->ghost;
			files[i].has_ghost_perm = true;
			files[i].ghost_perm = f->perm;
			files[i].ghost_attrs = f->ghost_attrs;
		}
		file_ptrs[i] = &files[i];
	}
	mm.start_code = st.start_code;
	mm.end_code = st.end_code;
	mm.start_data = st.start_data;
	mm.end_data = st.end_data;
	mm.start_stack = st.start_stack;
	mm.start_brk = st.start_brk;
	mm.brk = brk;
	mm.arg_start = st.arg_start;
	mm.arg_end = st.arg_end;
	mm.env_start = st.env_start;
	mm.env_end = st.env_end;
	mm.n_auxv = nr_auxv;
	mm.auxv = auxv;
	mm.exe_file = vl->exe_file;
	mm.n_vmas = vl->nr;
	mm.vmas = vma_ptrs;
	mm.n_files = vl->nr_files;
	mm.files = file_ptrs;
	mm_attrs_fill(&mm, vl);
	mm.n_guards = guards.nr;
	mm.guards = guard_ptrs;
	ret = read_vdso(pid, vl, &mm.vdso);
	mm.has_vdso = mm.vdso.data != NULL;
	if (!ret)
		ret = img_write_one(dfd, IMG_MM, pstree_vpid(pid), &mm.base);
	free(mm.vdso.data);
out:
	for (size_t i = 0; i < vl->nr; i++) {
		free(vmas[i].vm_flags);
		free(vmas[i].aio_ring.data);
		free(flag_bufs[i]);
	}
	free(guards.r);
	return ret;
}
