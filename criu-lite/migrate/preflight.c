/* Owns migrate's preflight (docs/migration.md, PREFLIGHT): on the source,
 * what a running tree needs of a host, read from /proc without stopping
 * it (no ptrace, no parasite: its pids, mapped files as a dump records
 * them, the root's vDSO block, its bound IP sockets through copies of
 * their fds, whether it needs TCP repair or has a network namespace of
 * its own); on the destination, the validation of every field of a
 * received one and check -D's own checks on it (restore-check.c,
 * sk-inet.c), before the source freezes anything. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common.h"
#include "cpu.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "proc.h"
#include "restore.h"
#include "sk-tcp.h"
#include "vma-iter.h"

#include "preflight.pb-c.h"

#define PF_MAX_TASKS 4096u
#define PF_MAX_FILES 65536u /* mapped files of the whole tree */
#define PF_MAX_SOCKS 65536u
#define PF_MAX_VDSO (1u << 20)
#define PF_MAX_RELEASE 256u

/* The source's side: everything malloc'ed hangs off here. */
struct pf_src {
	PreflightEntry e;
	PreflightTask **tasks;
	struct vm_area_list *vl; /* per task: its files' strings */
	uint64_t special[2 * SPECIAL_NR];
	struct utsname u;
};

/* The mapped files as the dump records them (collect_vmas's own rule),
 * but those deleted while mapped, whose contents the dump carries. */
static int task_files(PreflightTask *t, struct vm_area_list *vl, char *why, size_t len)
{
	MappedFileEntry *f;
	int ret;

	/* What the pre-dump would refuse, it refuses itself, once. */
	log_capture_start(why, len);
	ret = collect_vmas(t->pid, vl);
	/* Read here, while the tree runs: the final dump of this process
	 * finds the sums of every file left as it was (file-valid.c). */
	if (!ret)
		ret = mem_file_sums(t->pid, vl, FILE_VALID_HASH);
	log_capture_end();
	if (ret)
		return ret;
	/* The pointers, then the entries, in one block. */
	t->files = calloc(1, (vl->nr_files + 1) * (sizeof(*t->files) + sizeof(*f)));
	if (!t->files)
		return -ENOMEM;
	f = (MappedFileEntry *)(t->files + vl->nr_files + 1);
	for (size_t i = 0; i < vl->nr_files; i++) {
		const struct mapped_file *m = &vl->files[i];

		if (m->deleted)
			continue;
		mapped_file_entry__init(&f[t->n_files]);
		f[t->n_files].path = m->path;
		f[t->n_files].dev = m->dev;
		f[t->n_files].ino = m->ino;
		f[t->n_files].size = m->size;
		f[t->n_files].mtime_ns = m->mtime_ns;
		f[t->n_files].open_flags = m->open_flags;
		f[t->n_files].has_content_hash = m->sums.hash_len != 0;
		f[t->n_files].content_hash.data = (uint8_t *)m->sums.hash;
		f[t->n_files].content_hash.len = m->sums.hash_len;
		f[t->n_files].has_build_id = m->sums.build_id_len != 0;
		f[t->n_files].build_id.data = (uint8_t *)m->sums.build_id;
		f[t->n_files].build_id.len = m->sums.build_id_len;
		t->files[t->n_files] = &f[t->n_files];
		t->n_files++;
	}
	return 0;
}

static int add_sock(PreflightTask *t, int fd, const InetSkEntry *e, const uint8_t *addr)
{
	PreflightSock **socks = realloc(t->socks, (t->n_socks + 1) * sizeof(*socks));
	PreflightSock *s;

	if (!socks)
		return -ENOMEM;
	t->socks = socks;
	s = calloc(1, sizeof(*s) + sizeof(*e) + 16);
	if (!s)
		return -ENOMEM;
	preflight_sock__init(s);
	s->fd = fd;
	s->sk = (InetSkEntry *)(s + 1);
	*s->sk = *e;
	s->sk->src_addr.data = (uint8_t *)(s->sk + 1);
	memcpy(s->sk->src_addr.data, addr, e->src_addr.len);
	socks[t->n_socks++] = s;
	return 0;
}

/* One fd of T's: a copy through its pidfd, read, closed. */
static int task_sock(PreflightEntry *pe, PreflightTask *t, int pidfd, int fd)
{
	InetSkEntry e = INET_SK_ENTRY__INIT;
	int copy = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	uint8_t addr[16];
	bool connected, bound;

	if (copy < 0)
		return 0;
	bound = inet_preflight_read(copy, &e, addr, &connected);
	close(copy);
	if (connected && !pe->has_tcp_repair_pid) {
		pe->has_tcp_repair_pid = true;
		pe->tcp_repair_pid = t->pid;
	}
	return bound ? add_sock(t, fd, &e, addr) : 0;
}

static int task_socks(PreflightEntry *pe, PreflightTask *t)
{
	char path[64], link[64];
	struct dirent *de;
	int pidfd = syscall(SYS_pidfd_open, t->pid, 0), ret = 0;
	DIR *dir;

	if (pidfd < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", t->pid);
	dir = opendir(path);
	while (!ret && dir && (de = readdir(dir))) {
		ssize_t n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);

		if (n < 0)
			continue;
		link[n] = '\0';
		if (!strncmp(link, "socket:[", 8))
			ret = task_sock(pe, t, pidfd, atoi(de->d_name));
	}
	if (dir)
		closedir(dir);
	close(pidfd);
	return ret;
}

static bool own_netns(pid_t root)
{
	struct stat its, own;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", root);
	if (stat(path, &its) || stat("/proc/self/ns/net", &own))
		return false;
	return its.st_ino != own.st_ino || its.st_dev != own.st_dev;
}

/* The root's vDSO block and code, read as the dump reads them. */
static int root_vdso(struct pf_src *s, pid_t root, ProtobufCBinaryData *code)
{
	struct special_layout l;
	char path[64];
	uint64_t len;
	int fd, ret = read_special_layout(root, &l);

	if (ret)
		return ret;
	for (int i = 0; i < SPECIAL_NR; i++) {
		s->special[2 * i] = l.start[i];
		s->special[2 * i + 1] = l.end[i];
	}
	s->e.n_special = 2 * SPECIAL_NR;
	s->e.special = s->special;
	len = l.end[SPECIAL_VDSO] - l.start[SPECIAL_VDSO];
	if (!l.start[SPECIAL_VDSO] || len > PF_MAX_VDSO)
		return 0;
	code->data = malloc(len);
	if (!code->data)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/mem", root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, code->data, len, l.start[SPECIAL_VDSO]) != (ssize_t)len) {
		/* The kernel release stands for it, as in an image without it. */
		free(code->data);
		code->data = NULL;
	} else {
		code->len = len;
		s->e.has_vdso = true;
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

static void src_free(struct pf_src *s)
{
	for (size_t i = 0; i < s->e.n_tasks; i++) {
		PreflightTask *t = s->tasks[i];

		free(t->files);
		for (size_t k = 0; k < t->n_socks; k++)
			free(t->socks[k]);
		free(t->socks);
		free_vmas(&s->vl[i]);
		free(t);
	}
	free(s->tasks);
	free(s->vl);
	free(s->e.vdso.data);
}

/* One process's files and sockets; a process that is gone, or whose
 * mappings can't be read while it runs, goes without them (the dump
 * reads them again, frozen, and refuses what it can't take). */
static int gather_task(struct pf_src *s, size_t i, pid_t pid)
{
	PreflightTask *t = calloc(1, sizeof(*t));
	char why[512];
	int ret;

	if (!t)
		return -ENOMEM;
	preflight_task__init(t);
	t->pid = pid;
	s->tasks[i] = t;
	s->e.n_tasks = i + 1;
	ret = task_files(t, &s->vl[i], why, sizeof(why));
	if (ret == -ENOMEM)
		return ret;
	if (ret)
		pr_info("The preflight goes without the mapped files of pid %d: %s\n", pid,
			why[0] ? why : strerror(-ret));
	return task_socks(&s->e, t);
}

static int gather(struct pf_src *s, pid_t root)
{
	cleanup_free pid_t *pids = NULL;
	CpuEntry cpu;
	size_t nr = 0;
	int ret = proc_tree_pids(root, PF_MAX_TASKS, &pids, &nr);

	if (ret)
		return ret;
	s->tasks = calloc(nr, sizeof(*s->tasks));
	s->vl = calloc(nr, sizeof(*s->vl));
	if (!s->tasks || !s->vl)
		return -ENOMEM;
	s->e.tasks = s->tasks;
	/* Loaded once per run, as the rounds' freezes would: smaps would
	 * walk the page tables of every mapping. */
	vma_iter_prepare();
	for (size_t i = 0; i < nr && !ret; i++)
		ret = gather_task(s, i, pids[i]);
	if (!ret)
		ret = root_vdso(s, root, &s->e.vdso);
	if (ret)
		return ret;
	cpu_record_here(&cpu);
	s->e.has_xsave_size = s->e.has_own_netns = true;
	s->e.xsave_size = cpu.xsave_size;
	s->e.own_netns = own_netns(root);
	if (!uname(&s->u))
		s->e.kernel_release = s->u.release;
	return 0;
}

int mig_preflight_make(pid_t root, uint8_t **buf, size_t *len, char *why, size_t why_len)
{
	struct pf_src s = {.e = PREFLIGHT_ENTRY__INIT};
	int ret;

	log_capture_start(why, why_len);
	ret = gather(&s, root);
	log_capture_end();

	if (!ret) {
		*len = preflight_entry__get_packed_size(&s.e);
		*buf = *len <= MIG_MAX_PREFLIGHT ? malloc(*len ?: 1) : NULL;
		if (*len > MIG_MAX_PREFLIGHT)
			ret = -E2BIG;
		else if (!*buf)
			ret = -ENOMEM;
		else
			preflight_entry__pack(&s.e, *buf);
	}
	src_free(&s);
	return ret;
}

/* The destination's side: what of a peer's message is read, checked
 * before use. */
static const char *file_bad(const MappedFileEntry *f)
{
	size_t len = f->path ? strnlen(f->path, PATH_MAX) : 0;

	if (!len || len >= PATH_MAX || f->path[0] != '/')
		return "a mapped file whose path is not absolute or too long";
	if (f->ghost || f->has_ghost_perm || f->ghost_attrs)
		return "a mapped file with contents (a deleted one is never sent)";
	return mapped_sums_bad(f);
}

static const char *task_bad(const PreflightTask *t, size_t *files, size_t *socks)
{
	const char *why;

	if (!t || !t->pid || t->pid > (uint32_t)INT32_MAX)
		return "a process whose pid is out of range";
	*files += t->n_files;
	*socks += t->n_socks;
	if (*files > PF_MAX_FILES || *socks > PF_MAX_SOCKS)
		return "more mapped files or sockets than its bound";
	for (size_t i = 0; i < t->n_files; i++)
		if ((why = file_bad(t->files[i])))
			return why;
	for (size_t i = 0; i < t->n_socks; i++) {
		const PreflightSock *s = t->socks[i];

		if (!s->sk || s->fd > (uint32_t)INT32_MAX)
			return "a socket whose fd is out of range";
		if ((why = inet_preflight_bad(s->sk)))
			return why;
	}
	return NULL;
}

static const char *entry_bad(const PreflightEntry *e)
{
	size_t files = 0, socks = 0;
	const char *why;

	if (!e->n_tasks || e->n_tasks > PF_MAX_TASKS)
		return "no process, or more than its bound";
	for (size_t i = 0; i < e->n_tasks; i++)
		if ((why = task_bad(e->tasks[i], &files, &socks)))
			return why;
	if (e->n_special && e->n_special != 2 * SPECIAL_NR)
		return "a vDSO layout of another length";
	for (size_t i = 0; i < e->n_special; i += 2)
		if (e->special[i] > e->special[i + 1])
			return "a vDSO layout whose mapping ends before it starts";
	if (e->has_vdso && (!e->n_special || e->vdso.len > PF_MAX_VDSO))
		return "vDSO code without a layout, or over its bound";
	if (e->kernel_release && strnlen(e->kernel_release, PF_MAX_RELEASE) >= PF_MAX_RELEASE)
		return "a kernel release over its bound";
	if (e->has_xsave_size && (!e->xsave_size || e->xsave_size > (1u << 20)))
		return "an xsave size out of range";
	if (e->has_tcp_repair_pid &&
	    (!e->tcp_repair_pid || e->tcp_repair_pid > (uint32_t)INT32_MAX))
		return "a pid out of range";
	return NULL;
}

/* The answer: a line per check, "NAME ok|FAIL DETAIL"; the reason: the
 * failed ones, "NAME: DETAIL; ...". */
struct pf_answer {
	char *lines;
	size_t len;
	char *reason;
	size_t reason_len;
	int failed;
};

static void answer(struct pf_answer *a, const char *name, int ret, const char *detail)
{
	size_t n = strlen(a->lines), r = strlen(a->reason);

	if (n < a->len)
		snprintf(a->lines + n, a->len - n, "%s %s %s\n", name, ret ? "FAIL" : "ok", detail);
	if (!ret)
		return;
	if (r < a->reason_len)
		snprintf(a->reason + r, a->reason_len - r, "%s%s: %s", a->failed ? "; " : "", name,
			 detail);
	a->failed++;
}

static void check_kernel(const PreflightEntry *e, struct pf_answer *a)
{
	char why[512], who[64];
	int missing;

	snprintf(who, sizeof(who), "TCP repair of the connections of pid %u", e->tcp_repair_pid);
	/* serve restores into a new pid namespace. */
	missing = restore_check_kernel(true, e->has_tcp_repair_pid ? who : NULL, why, sizeof(why));
	answer(a, "kernel", missing, why);
}

static void check_layout(const PreflightEntry *e, struct pf_answer *a)
{
	struct special_layout dumped = {}, here;
	char why[512] = "";
	int ret;

	for (size_t i = 0; i < e->n_special / 2; i++) {
		dumped.start[i] = e->special[2 * i];
		dumped.end[i] = e->special[2 * i + 1];
	}
	log_capture_start(why, sizeof(why));
	ret = restore_check_vdso(&dumped, &here, e->has_vdso ? &e->vdso : NULL, e->kernel_release);
	if (!ret && e->has_xsave_size)
		ret = restore_check_xsave(e->tasks[0]->pid, e->xsave_size);
	log_capture_end();
	answer(a, "layout", ret, ret ? why : "vDSO and xsave area as on the source");
}

static void check_files(const PreflightEntry *e, enum file_valid_mode m, struct pf_answer *a)
{
	char why[512] = "", who[PATH_MAX + 64];
	int ret = 0;

	log_capture_start(why, sizeof(why));
	for (size_t i = 0; i < e->n_tasks && !ret; i++) {
		const PreflightTask *t = e->tasks[i];

		for (size_t k = 0; k < t->n_files && !ret; k++) {
			snprintf(who, sizeof(who), "pid %u maps %s", t->pid, t->files[k]->path);
			ret = restore_check_mapped_file(t->pid, t->files[k], m, who);
		}
	}
	log_capture_end();
	answer(a, "files", ret, ret ? why : "every file mapped is there as on the source "
	       "(the same inode, or by --file-validation)");
}

static void check_ports(const PreflightEntry *e, struct pf_answer *a)
{
	char why[512] = "";
	int ret = 0;

	if (e->own_netns) {
		answer(a, "ports", 0,
		       "the tree's own network namespace: its addresses are its own");
		return;
	}
	log_capture_start(why, sizeof(why));
	for (size_t i = 0; i < e->n_tasks && !ret; i++)
		for (size_t k = 0; k < e->tasks[i]->n_socks && !ret; k++)
			ret = inet_check_port(e->tasks[i]->pid, e->tasks[i]->socks[k]->fd,
					      e->tasks[i]->socks[k]->sk);
	log_capture_end();
	answer(a, "ports", ret,
	       ret ? why : "every address an IP socket is bound to can be bound here");
}

static void check_pids(const PreflightEntry *e, struct pf_answer *a)
{
	cleanup_free pid_t *pids = calloc(e->n_tasks, sizeof(*pids));
	char why[512];
	int ret;

	if (!pids) {
		answer(a, "pids", -ENOMEM, "out of memory");
		return;
	}
	for (size_t i = 0; i < e->n_tasks; i++)
		pids[i] = e->tasks[i]->pid;
	/* serve restores into a new pid namespace. */
	ret = restore_check_pids(pids, e->n_tasks, true, why, sizeof(why));
	answer(a, "pids", ret, why);
}

int mig_preflight_check(const struct mig_msg *m, enum file_valid_mode fv, char *lines, size_t len,
			char *why, size_t why_len)
{
	struct pf_answer a = {.lines = lines, .len = len, .reason = why, .reason_len = why_len};
	PreflightEntry *e = preflight_entry__unpack(NULL, m->len, (const uint8_t *)m->data);
	const char *bad;

	lines[0] = why[0] = '\0';
	if (!e) {
		snprintf(why, why_len, "a PREFLIGHT of %u bytes that does not parse", m->len);
		return -EINVAL;
	}
	bad = entry_bad(e);
	if (bad) {
		snprintf(why, why_len, "a PREFLIGHT with %s", bad);
		preflight_entry__free_unpacked(e, NULL);
		return -EINVAL;
	}
	check_kernel(e, &a);
	check_layout(e, &a);
	check_files(e, fv, &a);
	check_ports(e, &a);
	check_pids(e, &a);
	preflight_entry__free_unpacked(e, NULL);
	return a.failed;
}
