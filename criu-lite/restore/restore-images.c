/* Owns reading the images of a restore into a struct restore_plan and
 * validating every field read, so that nothing after it has to distrust a
 * value.  Checks only the images' own consistency; what depends on this
 * machine (pid, files, vDSO, CPU) is restore-check.c.  Starts nothing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "aio.h"
#include "common.h"
#include "cpu.h"
#include "fd-types.h"
#include "fs-ghost.h"
#include "cgroup.h"
#include "image.h"
#include "log.h"
#include "mm-attrs.h"
#include "restore.h"
#include "seccomp.h"
#include "task-attrs.h"
#include "words.h"

/* Signals the image may queue: not SIGKILL (the task was being killed)
 * nor SIGSTOP (it would stop the restorer). */
#define SIG_OK(s) ((s) >= 1 && (s) <= 64 && (s) != SIGKILL && (s) != SIGSTOP)
#define MAX_PENDING 4096
#define SIGINFO_SIZE 128
#define USER_CS 0x33
#define USER_DS 0x2b
#define XSAVE_MIN 576
#define XSAVE_MAX (64 << 10)
#define RSEQ_MIN_SIZE 32
/* pid_max's default: more threads than that is a corrupt image. */
#define MAX_THREADS 32768
#define MAX_PID (1U << 22)
/* struct robust_list_head: the only length set_robust_list() takes. */
#define ROBUST_LIST_LEN 24
#define SS_FLAGS_ALLOWED (SS_ONSTACK | (1U << 31)) /* SS_AUTODISARM */
#define MAP_ALLOWED (MAP_SHARED | MAP_PRIVATE | MAP_GROWSDOWN | MAP_NORESERVE)

#define bad restore_plan_bad

/* One line: which image, what is wrong with it. */
int restore_plan_bad(const char *img, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_err("Image %s is invalid: %s\n", img, msg);
	return -EINVAL;
}

static const char *img_name(char *buf, size_t len, int type, int pid)
{
	snprintf(buf, len, image_descs[type].name_fmt, pid);
	return buf;
}

/* The version is checked before the trailer: images of an older lmproc
 * have none, and deserve to be told so. */
static int read_inventory(int dfd, struct restore_tree *t)
{
	struct cr_img *img = img_open_read(dfd, IMG_INVENTORY, 0, false);
	InventoryEntry *inv;
	int ret;

	if (!img)
		return -EINVAL;
	ret = img_read_msg(img, (ProtobufCMessage **)&inv);
	if (ret == 0)
		ret = bad("inventory.img", "no message");
	if (ret > 0) {
		t->inv = inv;
		ret = inv->img_version == IMAGE_VERSION ? img_read_end(img) : 0;
	}
	img_close(img);
	if (ret)
		return ret;
	if (inv->img_version > IMAGE_VERSION)
		return bad("inventory.img", "image format version %u, newer than this lmproc's %u: "
			   "restore with the lmproc that dumped it, or a newer one",
			   inv->img_version, IMAGE_VERSION);
	if (inv->img_version != IMAGE_VERSION)
		return bad("inventory.img", "image format version %u, this lmproc reads only %u "
			   "(checksummed images): dump again with this lmproc",
			   inv->img_version, IMAGE_VERSION);
	if (!inv->has_round_id)
		return bad("inventory.img", "no round id");
	ret = cpu_validate(inv->cpu);
	if (ret)
		return ret;
	if (!strcmp(inv->kind, "pre-dump")) {
		pr_err("The images are a pre-dump (pages only): restore needs a full dump\n");
		return -EINVAL;
	}
	if (strcmp(inv->kind, "dump"))
		return bad("inventory.img", "unknown kind \"%s\"", inv->kind);
	if (!inv->root_pid || inv->root_pid > MAX_PID)
		return bad("inventory.img", "root pid %u out of range", inv->root_pid);
	return 0;
}

static int tid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* A process lists its pid first, then its other threads; a zombie none. */
static int check_threads(const PstreeEntry *e)
{
	if (e->has_exit_status) {
		if (e->n_threads)
			return bad("pstree.img", "zombie %u has %zu threads", e->pid, e->n_threads);
		if (e->comm && strlen(e->comm) >= 16)
			return bad("pstree.img", "zombie %u has a name of %zu bytes", e->pid,
				   strlen(e->comm));
		return 0;
	}
	if (!e->n_threads || e->threads[0] != e->pid)
		return bad("pstree.img", "the threads of pid %u do not start with it", e->pid);
	if (e->n_threads > MAX_THREADS)
		return bad("pstree.img", "pid %u has %zu threads (at most %d)", e->pid, e->n_threads,
			   MAX_THREADS);
	return 0;
}

/* Every pid and tid of the tree once, each in range. */
static int check_ids_unique(const struct restore_tree *t)
{
	cleanup_free uint32_t *all = NULL;
	size_t n = 0, total = 0;

	for (size_t i = 0; i < t->nr; i++)
		total += t->entries[i]->n_threads ?: 1;
	if (total > MAX_THREADS)
		return bad("pstree.img", "%zu tasks (at most %d)", total, MAX_THREADS);
	all = malloc(total * sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < t->nr; i++) {
		const PstreeEntry *e = t->entries[i];

		if (!e->n_threads)
			all[n++] = e->pid;
		for (size_t k = 0; k < e->n_threads; k++)
			all[n++] = e->threads[k];
	}
	qsort(all, n, sizeof(*all), tid_cmp);
	for (size_t i = 0; i < n; i++) {
		if (!all[i] || all[i] > MAX_PID)
			return bad("pstree.img", "pid or tid %u out of range", all[i]);
		if (i && all[i] == all[i - 1])
			return bad("pstree.img", "pid or tid %u appears twice", all[i]);
	}
	return 0;
}

/* Parents come before their children; the root is inventory's. */
static int link_parents(struct restore_tree *t)
{
	t->parent = calloc(t->nr, sizeof(*t->parent));
	if (!t->parent)
		return -ENOMEM;
	if (t->entries[0]->pid != t->inv->root_pid)
		return bad("pstree.img", "first pid %u, inventory.img's root is %u",
			   t->entries[0]->pid, t->inv->root_pid);
	if (t->entries[0]->has_exit_status)
		return bad("pstree.img", "the root pid %u is a zombie", t->entries[0]->pid);
	t->parent[0] = -1;
	for (size_t i = 1; i < t->nr; i++) {
		const PstreeEntry *e = t->entries[i];

		t->parent[i] = -1;
		for (size_t k = 0; k < i; k++)
			if (t->entries[k]->pid == e->ppid && !t->entries[k]->has_exit_status)
				t->parent[i] = k;
		if (t->parent[i] < 0)
			return bad("pstree.img", "pid %u has parent %u, not a live process listed "
				   "before it", e->pid, e->ppid);
	}
	return 0;
}

int restore_read_tree(int dfd, struct restore_tree *t)
{
	struct cr_img *img;
	PstreeEntry *e;
	int ret;

	ret = read_inventory(dfd, t);
	if (ret)
		return ret;
	img = img_open_read(dfd, IMG_PSTREE, 0, false);
	if (!img)
		return -EINVAL;
	while ((ret = img_read_msg(img, (ProtobufCMessage **)&e)) > 0) {
		PstreeEntry **n = realloc(t->entries, (t->nr + 1) * sizeof(*n));

		if (!n) {
			img_free_msg(&e->base);
			ret = -ENOMEM;
			break;
		}
		t->entries = n;
		t->entries[t->nr++] = e;
		if (t->nr > MAX_THREADS) {
			ret = bad("pstree.img", "more than %d processes", MAX_THREADS);
			break;
		}
		ret = check_threads(e);
		/* 0 is a group or session led from outside the dumper's pid
		 * namespace. */
		if (!ret && (e->pgid > MAX_PID || e->sid > MAX_PID))
			ret = bad("pstree.img", "pid %u has process group %u, session %u", e->pid,
				  e->pgid, e->sid);
		if (ret)
			break;
	}
	img_close(img);
	if (ret < 0)
		return ret;
	if (!t->nr)
		return bad("pstree.img", "no process");
	ret = check_ids_unique(t);
	if (!ret)
		ret = link_parents(t);
	return ret;
}

void restore_free_tree(struct restore_tree *t)
{
	img_free_msg((ProtobufCMessage *)t->inv);
	for (size_t i = 0; i < t->nr; i++)
		img_free_msg((ProtobufCMessage *)t->entries[i]);
	free(t->entries);
	free(t->parent);
	restore_free_cgroups(t);
}

static int check_gpregs(const char *img, const X86Gpregs *g)
{
	if (g->cs != USER_CS || g->ss != USER_DS) {
		pr_err("The dumped task runs 32-bit code (cs 0x%llx, ss 0x%llx): not supported\n",
		       (unsigned long long)g->cs, (unsigned long long)g->ss);
		return -EOPNOTSUPP;
	}
	if (g->ip >= TASK_SIZE || g->sp >= TASK_SIZE)
		return bad(img, "ip 0x%llx or sp 0x%llx outside user space",
			   (unsigned long long)g->ip, (unsigned long long)g->sp);
	if (g->fs_base >= TASK_SIZE || g->gs_base >= TASK_SIZE)
		return bad(img, "fs_base 0x%llx or gs_base 0x%llx outside user space",
			   (unsigned long long)g->fs_base, (unsigned long long)g->gs_base);
	return 0;
}

/* Only the main thread's list carries the process-wide queue. */
static int check_pending(const char *img, const ThreadCoreEntry *tc, bool main_thread)
{
	if (tc->n_pending > MAX_PENDING)
		return bad(img, "thread %u has %zu queued signals (at most %d)", tc->tid,
			   tc->n_pending, MAX_PENDING);
	for (size_t i = 0; i < tc->n_pending; i++) {
		const SiginfoEntry *si = tc->pending[i];
		int sig;

		if (si->siginfo.len != SIGINFO_SIZE)
			return bad(img, "queued signal %zu has a siginfo of %zu bytes, not %d", i,
				   si->siginfo.len, SIGINFO_SIZE);
		memcpy(&sig, si->siginfo.data, sizeof(sig));
		/* A pending SIGSTOP is sent by lmproc once the task is out of
		 * the restorer (restore-finish.c). */
		if (!SIG_OK(sig) && sig != SIGSTOP)
			return bad(img, "queued signal %zu is signal %d", i, sig);
		if (si->shared && !main_thread)
			return bad(img, "thread %u holds a signal of the process-wide queue",
				   tc->tid);
	}
	return 0;
}

/* What the kernel will be asked to take at the thread's exit or signal
 * delivery must lie in user space. */
static int check_exit_state(const char *img, const ThreadCoreEntry *tc)
{
	const SigaltstackEntry *ss = tc->sigaltstack;

	if (tc->has_clear_child_tid && tc->clear_child_tid >= TASK_SIZE)
		return bad(img, "thread %u has clear_child_tid 0x%llx", tc->tid,
			   (unsigned long long)tc->clear_child_tid);
	if (tc->robust_list &&
	    (tc->robust_list->head >= TASK_SIZE || tc->robust_list->len != ROBUST_LIST_LEN))
		return bad(img, "thread %u has robust list 0x%llx of %llu bytes", tc->tid,
			   (unsigned long long)tc->robust_list->head,
			   (unsigned long long)tc->robust_list->len);
	if (ss && ((ss->ss_flags & ~SS_FLAGS_ALLOWED) || ss->ss_sp >= TASK_SIZE ||
		   ss->ss_size > TASK_SIZE - ss->ss_sp))
		return bad(img, "thread %u has signal stack 0x%llx of %llu bytes, flags 0x%x",
			   tc->tid, (unsigned long long)ss->ss_sp, (unsigned long long)ss->ss_size,
			   ss->ss_flags);
	if (tc->comm && strlen(tc->comm) > 15)
		return bad(img, "thread %u has comm \"%.32s\", longer than 15 bytes", tc->tid,
			   tc->comm);
	return 0;
}

static int check_sigactions(const char *img, const CoreEntry *core)
{
	uint64_t seen = 0;

	for (size_t i = 0; i < core->n_sigactions; i++) {
		const SigactionEntry *sa = core->sigactions[i];

		if (!SIG_OK((int)sa->sig))
			return bad(img, "sigaction for signal %u", sa->sig);
		if (seen & (1ULL << (sa->sig - 1)))
			return bad(img, "two sigactions for signal %u", sa->sig);
		seen |= 1ULL << (sa->sig - 1);
		if ((sa->handler >= TASK_SIZE && sa->handler != (uint64_t)(uintptr_t)SIG_ERR) ||
		    sa->restorer >= TASK_SIZE)
			return bad(img, "signal %u handler 0x%llx, restorer 0x%llx", sa->sig,
				   (unsigned long long)sa->handler,
				   (unsigned long long)sa->restorer);
	}
	return 0;
}

static int check_thread(const char *img, uint32_t tid, const ThreadCoreEntry *tc,
			bool main_thread)
{
	int ret;

	if (tc->tid != tid)
		return bad(img, "thread %u, pstree.img says %u", tc->tid, tid);
	ret = check_gpregs(img, tc->gpregs);
	if (ret)
		return ret;
	if (tc->xsave.len < XSAVE_MIN || tc->xsave.len > XSAVE_MAX || tc->xsave.len % 64)
		return bad(img, "thread %u has an xsave area of %zu bytes", tid, tc->xsave.len);
	ret = check_pending(img, tc, main_thread);
	if (!ret)
		ret = check_exit_state(img, tc);
	if (ret)
		return ret;
	if (tc->rseq) {
		const RseqEntry *r = tc->rseq;

		if (!r->rseq_abi_pointer || r->rseq_abi_pointer % 32 ||
		    r->rseq_abi_pointer >= TASK_SIZE || r->rseq_abi_size < RSEQ_MIN_SIZE ||
		    r->rseq_abi_size > PAGE_SIZE)
			return bad(img, "rseq area 0x%llx of %u bytes",
				   (unsigned long long)r->rseq_abi_pointer, r->rseq_abi_size);
	}
	return 0;
}

static int read_core(int dfd, struct restore_plan *p)
{
	char img[64];
	CoreEntry *core;
	int ret;

	img_name(img, sizeof(img), IMG_CORE, p->pid);
	ret = img_read_one(dfd, IMG_CORE, p->pid, (ProtobufCMessage **)&core);
	if (ret)
		return ret;
	p->core = core;
	if (core->n_threads != p->pstree->n_threads - 1)
		return bad(img, "%zu threads, pstree.img has %zu", core->n_threads + 1,
			   p->pstree->n_threads);
	p->nr_threads = core->n_threads + 1;
	ret = check_thread(img, p->pid, core->thread, true);
	for (size_t i = 0; !ret && i < core->n_threads; i++) {
		ret = check_thread(img, p->pstree->threads[i + 1], core->threads[i], false);
		/* restore-check.c holds the main thread's to this CPU's. */
		if (!ret && core->threads[i]->xsave.len != core->thread->xsave.len)
			ret = bad(img, "thread %u has an xsave area of %zu bytes, the main thread %zu",
				  core->threads[i]->tid, core->threads[i]->xsave.len,
				  core->thread->xsave.len);
	}
	if (!ret)
		ret = check_sigactions(img, core);
	for (size_t i = 0; !ret && i < p->nr_threads; i++) {
		ret = check_thread_attrs(img, restore_thread_core(p, i));
		if (!ret)
			ret = check_creds(img, restore_thread_core(p, i));
	}
	if (!ret)
		ret = check_process_attrs(img, p);
	if (!ret)
		ret = check_timers(img, p);
	if (!ret)
		ret = seccomp_check_image(img, core);
	if (ret)
		return ret;
	if (core->personality & 0xff) {
		pr_err("pid %d runs with personality 0x%x: only Linux (0) is supported\n", p->pid,
		       core->personality);
		return -EOPNOTSUPP;
	}
	if (!core->comm[0] || strlen(core->comm) > 15)
		return bad(img, "comm \"%.32s\" is empty or longer than 15 bytes", core->comm);
	return 0;
}

/* Every VmFlags mnemonic restored exactly or refused (mm-attrs.c). */
static int vma_madv(const char *img, const MmEntry *mm, const VmaEntry *v, uint32_t *madv)
{
	struct vma_shape s = { v->kind, v->prot, v->flags, -1 };
	char why[160];

	if (v->kind == VMA_KIND__VMA_FILE_SHARED && v->has_file && v->file < mm->n_files)
		s.file_rw = mm->files[v->file]->open_flags == O_RDWR;
	if (vma_attrs_decode(v->vm_flags, v->n_vm_flags, &s, madv, why, sizeof(why)))
		return bad(img, "vma 0x%llx-0x%llx %s", (unsigned long long)v->start,
			   (unsigned long long)v->end, why);
	return 0;
}

static int check_vma_file(const char *img, const MmEntry *mm, const VmaEntry *v)
{
	const MappedFileEntry *f;

	if (!v->has_file || v->file >= mm->n_files)
		return bad(img, "vma 0x%llx-0x%llx names file %u of %zu",
			   (unsigned long long)v->start, (unsigned long long)v->end,
			   v->has_file ? v->file : 0, mm->n_files);
	if (!v->has_pgoff || !PAGE_ALIGNED(v->pgoff) || v->pgoff > (1ULL << 52))
		return bad(img, "vma 0x%llx-0x%llx has file offset 0x%llx",
			   (unsigned long long)v->start, (unsigned long long)v->end,
			   (unsigned long long)v->pgoff);
	f = mm->files[v->file];
	if (v->kind == VMA_KIND__VMA_FILE_SHARED && (v->prot & PROT_WRITE) &&
	    f->open_flags != O_RDWR)
		return bad(img, "writable shared vma 0x%llx-0x%llx of %s, file opened read-only",
			   (unsigned long long)v->start, (unsigned long long)v->end, f->path);
	return 0;
}

static int check_vma_kind(const char *img, const MmEntry *mm, const VmaEntry *v)
{
	uint32_t share = v->flags & (MAP_SHARED | MAP_PRIVATE);

	switch (v->kind) {
	case VMA_KIND__VMA_ANON_PRIVATE:
		if (share != MAP_PRIVATE)
			return bad(img, "anonymous private vma 0x%llx with flags 0x%x",
				   (unsigned long long)v->start, v->flags);
		return 0;
	case VMA_KIND__VMA_SHMEM:
		/* The object itself is checked with shmem.img (restore-shmem.c). */
		if (share != MAP_SHARED || (v->flags & MAP_GROWSDOWN) || !v->has_shmem ||
		    !v->has_pgoff || !PAGE_ALIGNED(v->pgoff) || v->pgoff > (1ULL << 52))
			return bad(img, "shared memory vma 0x%llx with flags 0x%x, object %u, offset 0x%llx",
				   (unsigned long long)v->start, v->flags, v->shmem,
				   (unsigned long long)v->pgoff);
		return 0;
	case VMA_KIND__VMA_FILE_PRIVATE:
	case VMA_KIND__VMA_FILE_SHARED:
		if (share != (v->kind == VMA_KIND__VMA_FILE_SHARED ? MAP_SHARED : MAP_PRIVATE) ||
		    (v->flags & MAP_GROWSDOWN))
			return bad(img, "file vma 0x%llx with flags 0x%x",
				   (unsigned long long)v->start, v->flags);
		return check_vma_file(img, mm, v);
	case VMA_KIND__VMA_VDSO:
	case VMA_KIND__VMA_VVAR:
	case VMA_KIND__VMA_VVAR_VCLOCK:
	case VMA_KIND__VMA_VSYSCALL:
		return 0;
	case VMA_KIND__VMA_AIO:
		return aio_check_entry(img, v);
	case VMA_KIND__VMA_IO_URING:
		/* Its fd and rings are checked with the files (io-uring.c). */
		if (share != MAP_SHARED || (v->flags & (MAP_GROWSDOWN | MAP_NORESERVE)) ||
		    !v->has_io_uring_fd || !v->has_pgoff ||
		    (v->pgoff != IORING_OFF_SQ_RING && v->pgoff != IORING_OFF_CQ_RING &&
		     v->pgoff != IORING_OFF_SQES) || (v->prot & PROT_EXEC))
			return bad(img, "io_uring vma 0x%llx with flags 0x%x, prot 0x%x, offset 0x%llx",
				   (unsigned long long)v->start, v->flags, v->prot,
				   (unsigned long long)v->pgoff);
		return 0;
	default:
		return bad(img, "vma 0x%llx has unknown kind %d", (unsigned long long)v->start,
			   v->kind);
	}
}

#define VSYSCALL_START 0xffffffffff600000ULL

static int check_vma(const char *img, const struct restore_plan *p, const VmaEntry *v,
		     uint64_t prev_end)
{
	if (v->kind == VMA_KIND__VMA_VSYSCALL) {
		if (v->start != VSYSCALL_START || v->end != VSYSCALL_START + PAGE_SIZE)
			return bad(img, "[vsyscall] at 0x%llx-0x%llx", (unsigned long long)v->start,
				   (unsigned long long)v->end);
		return 0;
	}
	if (!PAGE_ALIGNED(v->start) || !PAGE_ALIGNED(v->end) || v->start >= v->end ||
	    v->end > TASK_SIZE || v->start < p->mmap_min_addr)
		return bad(img, "vma 0x%llx-0x%llx is not a page-aligned user range",
			   (unsigned long long)v->start, (unsigned long long)v->end);
	if (v->start < prev_end)
		return bad(img, "vma 0x%llx-0x%llx overlaps or precedes the previous one",
			   (unsigned long long)v->start, (unsigned long long)v->end);
	if (v->prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
		return bad(img, "vma 0x%llx has prot 0x%x", (unsigned long long)v->start, v->prot);
	if (v->flags & ~MAP_ALLOWED)
		return bad(img, "vma 0x%llx has map flags 0x%x", (unsigned long long)v->start,
			   v->flags);
	return check_vma_kind(img, p->mm, v);
}

static int note_special(const char *img, struct restore_plan *p, const VmaEntry *v)
{
	int idx;

	switch (v->kind) {
	case VMA_KIND__VMA_VVAR:
		idx = SPECIAL_VVAR;
		break;
	case VMA_KIND__VMA_VVAR_VCLOCK:
		idx = SPECIAL_VVAR_VCLOCK;
		break;
	case VMA_KIND__VMA_VDSO:
		idx = SPECIAL_VDSO;
		break;
	default:
		return 0;
	}
	if (p->dumped.start[idx])
		return bad(img, "two %s vmas", special_name(idx));
	p->dumped.start[idx] = v->start;
	p->dumped.end[idx] = v->end;
	return 0;
}

static int check_mm_fields(const char *img, const struct restore_plan *p)
{
	const MmEntry *mm = p->mm;
	const uint64_t f[] = {mm->start_code,  mm->end_code,  mm->start_data, mm->end_data,
			      mm->start_stack, mm->start_brk, mm->brk,	      mm->arg_start,
			      mm->arg_end,     mm->env_start, mm->env_end};

	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (f[i] >= TASK_SIZE || f[i] < p->mmap_min_addr)
			return bad(img, "mm field %zu is 0x%llx", i, (unsigned long long)f[i]);
	/* The order prctl(PR_SET_MM_MAP) insists on. */
	if (mm->start_code >= mm->end_code || mm->start_data > mm->end_data ||
	    mm->start_brk > mm->brk || mm->arg_start > mm->arg_end || mm->env_start > mm->env_end)
		return bad(img, "mm ranges out of order (code, data, brk, args or env)");
	if (mm->n_auxv < 2 || mm->n_auxv % 2 || mm->n_auxv > RESTORER_MAX_AUXV)
		return bad(img, "auxv of %zu words", mm->n_auxv);
	for (size_t i = 0; i < mm->n_auxv; i += 2)
		if (mm->auxv[i] == 0)
			return 0;
	return bad(img, "auxv has no AT_NULL");
}

static int check_mapped_files(const char *img, const MmEntry *mm)
{
	for (size_t i = 0; i < mm->n_files; i++) {
		const MappedFileEntry *f = mm->files[i];
		const char *why;

		if (f->path[0] != '/')
			return bad(img, "mapped file %zu has relative path \"%s\"", i, f->path);
		if (f->open_flags != O_RDONLY && f->open_flags != O_RDWR)
			return bad(img, "mapped file %s has open flags %s", f->path,
				   open_flags_words(f->open_flags).s);
		why = mapped_sums_bad(f);
		if (why)
			return bad(img, "mapped file %s has %s", f->path, why);
	}
	if (mm->exe_file >= mm->n_files)
		return bad(img, "exe_file %u of %zu files", mm->exe_file, mm->n_files);
	return 0;
}

/* Guard ranges: page-aligned, ascending, each inside one VMA that can
 * take guards (not the vDSO's, vvar's or vsyscall's). */
static int check_guards(const char *img, const MmEntry *mm)
{
	uint64_t prev_end = 0;

	if (mm->n_guards > RESTORER_MAX_GUARDS)
		return bad(img, "%zu ranges of guard pages (at most %d)", mm->n_guards,
			   RESTORER_MAX_GUARDS);
	for (size_t i = 0; i < mm->n_guards; i++) {
		const GuardRange *g = mm->guards[i];
		int v = restore_vma_of(mm, g->start, 0);

		if (!PAGE_ALIGNED(g->start) || !PAGE_ALIGNED(g->end) || g->start >= g->end ||
		    g->start < prev_end || v < 0 || g->end > mm->vmas[v]->end ||
		    (mm->vmas[v]->kind != VMA_KIND__VMA_ANON_PRIVATE &&
		     mm->vmas[v]->kind != VMA_KIND__VMA_FILE_PRIVATE &&
		     mm->vmas[v]->kind != VMA_KIND__VMA_FILE_SHARED &&
		     mm->vmas[v]->kind != VMA_KIND__VMA_SHMEM))
			return bad(img, "guard pages 0x%llx-0x%llx: not page-aligned, out of "
				   "order, or outside a vma that takes them",
				   (unsigned long long)g->start, (unsigned long long)g->end);
		prev_end = g->end;
	}
	return 0;
}

static int read_mm(int dfd, struct restore_plan *p)
{
	uint64_t prev_end = 0;
	char img[64];
	int ret;

	img_name(img, sizeof(img), IMG_MM, p->pid);
	ret = img_read_one(dfd, IMG_MM, p->pid, (ProtobufCMessage **)&p->mm);
	if (ret)
		return ret;
	ret = check_mapped_files(img, p->mm);
	if (!ret)
		ret = check_mm_fields(img, p);
	if (!ret)
		ret = mm_attrs_check(img, p->mm);
	if (ret)
		return ret;
	p->vma_madv = calloc(p->mm->n_vmas + 1, sizeof(*p->vma_madv));
	p->vma_filled = calloc(p->mm->n_vmas + 1, sizeof(*p->vma_filled));
	if (!p->vma_madv || !p->vma_filled)
		return -ENOMEM;
	for (size_t i = 0; i < p->mm->n_vmas; i++) {
		const VmaEntry *v = p->mm->vmas[i];

		ret = check_vma(img, p, v, prev_end);
		if (!ret)
			ret = vma_madv(img, p->mm, v, &p->vma_madv[i]);
		if (!ret)
			ret = note_special(img, p, v);
		if (ret)
			return ret;
		if (v->kind != VMA_KIND__VMA_VSYSCALL)
			prev_end = v->end;
	}
	return check_guards(img, p->mm);
}

int restore_vma_of(const MmEntry *mm, uint64_t addr, size_t from)
{
	for (size_t i = from; i < mm->n_vmas; i++) {
		if (mm->vmas[i]->kind == VMA_KIND__VMA_VSYSCALL)
			continue;
		if (addr < mm->vmas[i]->start)
			return -1;
		if (addr < mm->vmas[i]->end)
			return i;
	}
	return -1;
}

/* The type's own fields are checked once every file is read
 * (restore_validate_files). */
static int check_file(const FileEntry *f)
{
	if (!fd_ops_of(f->type))
		return bad("files.img", "file id %u has unknown type %d", f->id, f->type);
	if (!f->id)
		return bad("files.img", "file id 0");
	return 0;
}

static int read_files(int dfd, struct restore_plan *p)
{
	struct cr_img *img = img_open_read(dfd, IMG_FILES, 0, false);
	FileEntry *f;
	int ret;

	if (!img)
		return -EINVAL;
	while ((ret = img_read_msg(img, (ProtobufCMessage **)&f)) > 0) {
		FileEntry **n = realloc(p->files, (p->nr_files + 1) * sizeof(*n));

		if (!n) {
			img_free_msg(&f->base);
			ret = -ENOMEM;
			break;
		}
		p->files = n;
		p->files[p->nr_files++] = f;
		ret = check_file(f);
		if (ret)
			break;
	}
	img_close(img);
	if (ret < 0)
		return ret;
	return img_raw_verify(dfd, IMG_FILES_DATA, 0, "", false, &p->files_data_size);
}

static int read_fdinfo(int dfd, struct restore_plan *p)
{
	struct cr_img *img = img_open_read(dfd, IMG_FDINFO, p->pid, false);
	FdinfoEntry *e;
	int ret;

	if (!img)
		return -EINVAL;
	while ((ret = img_read_msg(img, (ProtobufCMessage **)&e)) > 0) {
		FdinfoEntry **n = realloc(p->fds, (p->nr_fds + 1) * sizeof(*n));

		if (!n) {
			img_free_msg(&e->base);
			ret = -ENOMEM;
			break;
		}
		p->fds = n;
		p->fds[p->nr_fds++] = e;
	}
	img_close(img);
	if (ret < 0)
		return ret;
	return restore_validate_files(p);
}

static int read_fs(int dfd, struct restore_plan *p)
{
	char img[64];
	int ret;

	img_name(img, sizeof(img), IMG_FS, p->pid);
	ret = img_read_one(dfd, IMG_FS, p->pid, (ProtobufCMessage **)&p->fs);
	if (ret)
		return ret;
	if (p->fs->cwd[0] != '/' || p->fs->root[0] != '/')
		return bad(img, "cwd \"%s\" or root \"%s\" is not absolute", p->fs->cwd,
			   p->fs->root);
	if (p->fs->umask & ~0777)
		return bad(img, "umask 0%o", p->fs->umask);
	if (fs_ghost_bad(p->fs))
		return bad(img, "%s", fs_ghost_bad(p->fs));
	return 0;
}

static uint64_t read_mmap_min_addr(void)
{
	unsigned long v = PAGE_SIZE;
	FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "re");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = PAGE_SIZE;
		fclose(f);
	}
	return max((v + PAGE_SIZE - 1) & PAGE_MASK, PAGE_SIZE);
}

static const VmaEntry *vma_at(const MmEntry *mm, uint64_t addr)
{
	int idx = restore_vma_of(mm, addr, 0);

	return idx < 0 ? NULL : mm->vmas[idx];
}

/* Registers and rseq must point into the dumped layout, or the task would
 * fault at its first instruction. */
static int check_thread_in_mm(const char *img, const struct restore_plan *p,
			      const ThreadCoreEntry *tc)
{
	const VmaEntry *v = vma_at(p->mm, tc->gpregs->ip);

	if (!v || !(v->prot & PROT_EXEC))
		return bad(img, "thread %u: ip 0x%llx is not in executable memory", tc->tid,
			   (unsigned long long)tc->gpregs->ip);
	if (!tc->rseq)
		return 0;
	v = vma_at(p->mm, tc->rseq->rseq_abi_pointer);
	if (!v || !(v->prot & PROT_WRITE) ||
	    tc->rseq->rseq_abi_pointer + tc->rseq->rseq_abi_size > v->end)
		return bad(img, "thread %u: rseq area 0x%llx is not in writable memory", tc->tid,
			   (unsigned long long)tc->rseq->rseq_abi_pointer);
	return 0;
}

static int check_core_in_mm(const struct restore_plan *p)
{
	char img[64];
	int ret = 0;

	img_name(img, sizeof(img), IMG_CORE, p->pid);
	for (size_t i = 0; !ret && i < p->nr_threads; i++)
		ret = check_thread_in_mm(img, p, restore_thread_core(p, i));
	return ret;
}

const ThreadCoreEntry *restore_thread_core(const struct restore_plan *p, size_t i)
{
	return i ? p->core->threads[i - 1] : p->core->thread;
}

int restore_read_plan(int dfd, const struct restore_tree *t, size_t idx, struct restore_plan *p)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->mmap_min_addr = read_mmap_min_addr();
	p->inv = t->inv;
	p->pstree = t->entries[idx];
	p->tree = t;
	p->pid = p->pstree->pid;
	ret = read_core(dfd, p);
	if (!ret)
		ret = read_mm(dfd, p);
	if (!ret)
		ret = check_core_in_mm(p);
	if (!ret)
		ret = restore_read_pages(dfd, p);
	if (!ret)
		ret = read_files(dfd, p);
	for (size_t i = 0; !ret && i < p->mm->n_files; i++)
		ret = mem_ghost_validate(p->mm->files[i], p->files_data_size);
	if (!ret)
		ret = read_fdinfo(dfd, p);
	if (!ret)
		ret = read_fs(dfd, p);
	if (!ret)
		ret = restore_read_shmem(dfd, p);
	return ret;
}

void restore_free_plan(struct restore_plan *p)
{
	img_free_msg((ProtobufCMessage *)p->core);
	img_free_msg((ProtobufCMessage *)p->mm);
	img_free_msg((ProtobufCMessage *)p->fs);
	for (size_t i = 0; i < p->nr_fds; i++)
		img_free_msg((ProtobufCMessage *)p->fds[i]);
	for (size_t i = 0; i < p->nr_files; i++)
		img_free_msg((ProtobufCMessage *)p->files[i]);
	restore_free_chain(p);
	free(p->fds);
	free(p->files);
	restore_free_files(p);
	restore_free_shmem(p);
	free(p->vma_madv);
	free(p->vma_filled);
	free(p->vma_slot);
	free(p->vma_stage);
	free(p->vma_inherited);
	free(p->vma_forked);
	memset(p, 0, sizeof(*p));
}
