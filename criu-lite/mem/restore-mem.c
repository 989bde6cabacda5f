/* Owns the restorer area: finds a hole free both in lmproc's address space
 * and in the dumped layout, maps it shared, copies the restorer blob in
 * and translates the plan into struct restorer_args and its tables
 * (pie/include/restorer.h).  Reads the plan; writes only the area. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "aio.h"
#include "common.h"
#include "fault.h"
#include "log.h"
#include "mem-cow.h"
#include "mm-attrs.h"
#include "proc.h"
#include "restore.h"
#include "restorer-blob.h"
#include "seccomp.h"
#include "task-attrs.h"

/* Batches of pages filled with one populate per run and one readv: runs
 * of one VMA, at most BATCH_MAX_BYTES, so that the freshly zeroed pages
 * are still in the cache when the copy overwrites them.  Gaps between
 * runs are not populated: the task did not have those pages either. */
#define BATCH_MAX_BYTES (8UL << 20)
#define BATCH_MAX_IOV 1024
/* Below this, starting a second filling thread costs more than it saves. */
#define HELPER_MIN_BYTES (32UL << 20)
/* Room kept free around the area so nothing grows into it. */
#define HOLE_GUARD (1UL << 20)

#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & PAGE_MASK)

struct range {
	uint64_t start;
	uint64_t end;
};

struct fill_plan {
	struct restorer_batch *batches;
	size_t nr_batches;
	struct restorer_iovec *iovs;
	size_t nr_iovs;
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* lmproc's mappings and the dumped ones, sorted by start (they overlap). */
static int busy_ranges(const struct restore_plan *p, struct range **out, size_t *nr)
{
	cleanup_free char *buf = proc_read_file("/proc/self/maps", NULL);
	size_t cap = p->mm->n_vmas + 64, n = 0;
	struct range *r = malloc(cap * sizeof(*r));
	char *line, *save;

	if (!buf || !r) {
		free(r);
		pr_perror("Can't read /proc/self/maps");
		return -ENOMEM;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) != 2 || s >= TASK_SIZE)
			continue;
		if (n == cap) {
			struct range *nr2 = realloc(r, (cap *= 2) * sizeof(*r));

			if (!nr2) {
				free(r);
				return -ENOMEM;
			}
			r = nr2;
		}
		r[n++] = (struct range){s, e};
	}
	for (size_t i = 0; i < p->mm->n_vmas; i++) {
		const VmaEntry *v = p->mm->vmas[i];

		if (v->kind == VMA_KIND__VMA_VSYSCALL)
			continue;
		if (n == cap) {
			struct range *nr2 = realloc(r, (cap *= 2) * sizeof(*r));

			if (!nr2) {
				free(r);
				return -ENOMEM;
			}
			r = nr2;
		}
		r[n++] = (struct range){v->start, v->end};
	}
	qsort(r, n, sizeof(*r), range_cmp);
	*out = r;
	*nr = n;
	return 0;
}

/* The highest gap that fits, so the area stays clear of the heap and of
 * low fixed mappings. */
static uint64_t find_hole(const struct range *r, size_t nr, uint64_t size, uint64_t min_addr)
{
	uint64_t want = size + 2 * HOLE_GUARD, best = 0, end = 0;

	for (size_t i = 0; i <= nr; i++) {
		uint64_t next = i < nr ? r[i].start : TASK_SIZE;

		if (next > end && next - end >= want && end + HOLE_GUARD >= min_addr)
			best = next - HOLE_GUARD - size;
		if (i < nr)
			end = max(end, r[i].end);
	}
	return best;
}

static void add_batch(struct fill_plan *f, uint64_t start, uint64_t len, uint32_t vma,
		      uint32_t level, uint64_t off)
{
	struct restorer_batch *b = f->nr_batches ? &f->batches[f->nr_batches - 1] : NULL;
	struct restorer_iovec *iov;

	/* One batch is one preadv: the same file, contiguous in it. */
	if (b && b->vma == vma && b->level == level && b->off + b->bytes == off &&
	    b->bytes + len <= BATCH_MAX_BYTES && b->nr_iov < BATCH_MAX_IOV) {
		iov = &f->iovs[f->nr_iovs - 1];
		if (iov->base + iov->len == start) {
			iov->len += len;
		} else {
			f->iovs[f->nr_iovs++] = (struct restorer_iovec){start, len};
			b->nr_iov++;
		}
		b->end = start + len;
		b->bytes += len;
		return;
	}
	f->batches[f->nr_batches++] = (struct restorer_batch){
	    .start = start,
	    .end = start + len,
	    .iov = f->nr_iovs,
	    .nr_iov = 1,
	    .vma = vma,
	    .level = level,
	    .bytes = len,
	    .off = off,
	};
	f->iovs[f->nr_iovs++] = (struct restorer_iovec){start, len};
}

static int plan_fill(const struct restore_plan *p, struct fill_plan *f)
{
	/* Each run adds at most one iovec and one batch per BATCH_MAX_BYTES. */
	size_t cap = p->nr_runs + p->nr_pages * PAGE_SIZE / BATCH_MAX_BYTES + 1;

	memset(f, 0, sizeof(*f));
	f->batches = malloc(cap * sizeof(*f->batches));
	f->iovs = malloc(cap * sizeof(*f->iovs));
	if (!f->batches || !f->iovs)
		return -ENOMEM;
	for (size_t i = 0; i < p->nr_runs; i++) {
		const struct page_src_run *r = &p->runs[i];
		uint64_t start = r->vaddr, off = r->off;
		uint64_t len = r->nr_pages << PAGE_SHIFT;

		/* Filled by the task before its fork (mem-cow.c). */
		if (p->vma_slot && p->vma_slot[r->vma] != COW_NO_SLOT)
			continue;

		while (len) {
			uint64_t piece = min(len, BATCH_MAX_BYTES);

			add_batch(f, start, piece, r->vma, r->level, off);
			start += piece;
			off += piece;
			len -= piece;
		}
	}
	return 0;
}

/* Not mapped by the restorer's map_vmas: the kernel's (an AIO ring is
 * made by rst_aio_rings). */
static bool is_special(VmaKind k)
{
	return k == VMA_KIND__VMA_VDSO || k == VMA_KIND__VMA_VVAR ||
	       k == VMA_KIND__VMA_VVAR_VCLOCK || k == VMA_KIND__VMA_VSYSCALL ||
	       k == VMA_KIND__VMA_AIO;
}

static size_t nr_mapped_vmas(const struct restore_plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->mm->n_vmas; i++)
		n += !is_special(p->mm->vmas[i]->kind);
	return n;
}

/* The first batch of the helper thread's half, by bytes; nr_batches when
 * there is too little to share or no second CPU to share it with. */
static uint32_t helper_from(const struct restore_plan *p, const struct fill_plan *f)
{
	uint64_t total = p->nr_pages * PAGE_SIZE, done = 0;
	cpu_set_t cpus;
	size_t i;

	if (total < HELPER_MIN_BYTES || sched_getaffinity(0, sizeof(cpus), &cpus) ||
	    CPU_COUNT(&cpus) < 2)
		return f->nr_batches;
	for (i = 0; i < f->nr_batches && done < total / 2; i++)
		done += f->batches[i].bytes;
	return i;
}

struct area_layout {
	uint64_t args, vmas, batches, iovs, siginfos, threads, timers, groups, close_fds, locks;
	uint64_t guards, fowns, seccomp, aio;
	uint64_t thread_stacks;
	uint64_t helper_stack, stack, size;
};

static size_t nr_siginfos(const struct restore_plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nr_threads; i++)
		n += restore_thread_core(p, i)->n_pending;
	return n;
}

static void layout_area(const struct restore_ctx *ctx, const struct fill_plan *f,
			struct area_layout *l)
{
	const struct restore_plan *p = &ctx->plan;
	uint64_t off;

	l->args = PAGE_ALIGN(max(restorer_blob_size, BLOB_MEM_SIZE_RESTORER));
	off = PAGE_ALIGN(l->args + sizeof(struct restorer_args));
	l->vmas = off;
	off += nr_mapped_vmas(p) * sizeof(struct restorer_vma);
	l->batches = off;
	off += f->nr_batches * sizeof(struct restorer_batch);
	l->iovs = off;
	off += f->nr_iovs * sizeof(struct restorer_iovec);
	l->siginfos = off;
	off += nr_siginfos(p) * sizeof(struct restorer_siginfo);
	l->threads = off;
	off += p->nr_threads * sizeof(struct restorer_thread);
	l->timers = off;
	off += nr_restore_timers(p) * sizeof(struct restorer_posix_timer);
	l->groups = off;
	off += nr_restore_groups(p) * sizeof(uint32_t);
	off = (off + 7) & ~7UL;
	l->close_fds = off;
	off += (p->mm->n_files + p->nr_shmem + p->nr_levels) * sizeof(int32_t);
	l->locks = off = (off + 7) & ~7ULL;
	off += restore_nr_posix_locks(p) * sizeof(struct restorer_lock);
	l->guards = off;
	off += p->mm->n_guards * sizeof(struct restorer_range);
	l->fowns = off;
	off += restore_nr_fowns(p) * sizeof(struct restorer_fown);
	l->seccomp = off = (off + 7) & ~7ULL;
	off += seccomp_area_size(p);
	l->aio = off = (off + 7) & ~7ULL;
	off += aio_area_size(p->mm);
	l->thread_stacks = PAGE_ALIGN(off);
	off = l->thread_stacks + (p->nr_threads - 1) * RESTORER_THREAD_STACK_SIZE;
	l->helper_stack = PAGE_ALIGN(off);
	off = l->helper_stack + (helper_from(p, f) < f->nr_batches ? RESTORER_STACK_SIZE : 0);
	l->stack = off;
	l->size = l->stack + RESTORER_STACK_SIZE;
}

static int map_area(struct restore_ctx *ctx, uint64_t size)
{
	cleanup_free struct range *busy = NULL;
	size_t nr;
	uint64_t at;
	void *m;
	int ret;

	ret = busy_ranges(&ctx->plan, &busy, &nr);
	if (ret)
		return ret;
	at = find_hole(busy, nr, size, ctx->plan.mmap_min_addr);
	if (!at) {
		pr_err("No hole of %llu bytes is free both in lmproc and in the dumped layout\n",
		       (unsigned long long)size);
		return -ENOMEM;
	}
	m = mmap((void *)at, size, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m == MAP_FAILED || (uint64_t)m != at) {
		pr_perror("Can't map the restorer area at 0x%llx (%llu bytes)",
			  (unsigned long long)at, (unsigned long long)size);
		if (m != MAP_FAILED)
			munmap(m, size);
		return -ENOMEM;
	}
	ctx->area = at;
	ctx->area_size = size;
	pr_debug("Restorer area at 0x%llx-0x%llx\n", (unsigned long long)at,
		 (unsigned long long)(at + size));
	return 0;
}

static bool overlaps(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 < e2 && s2 < e1;
}

/* A place for the vDSO block on its way when the old and the new place
 * overlap: by then only the area and the block itself are mapped. */
static uint64_t vdso_detour(const struct restore_ctx *ctx, uint64_t old_s, uint64_t old_e,
			    uint64_t new_s)
{
	uint64_t len = old_e - old_s, new_e = new_s + len;
	const uint64_t cand[] = {new_e + HOLE_GUARD, new_s - len - HOLE_GUARD, old_e + HOLE_GUARD,
				 old_s - len - HOLE_GUARD, ctx->area - len - HOLE_GUARD};
	uint64_t pm_s = ctx->tree->premap_start, pm_e = pm_s + ctx->tree->premap_size;

	for (size_t i = 0; i < ARRAY_SIZE(cand); i++) {
		uint64_t s = cand[i], e = s + len;

		if (s < ctx->plan.mmap_min_addr || e > TASK_SIZE || e < s)
			continue;
		if (overlaps(s, e, old_s, old_e) || overlaps(s, e, new_s, new_e) ||
		    overlaps(s, e, ctx->area, ctx->area + ctx->area_size) ||
		    overlaps(s, e, pm_s, pm_e))
			continue;
		return s;
	}
	return 0;
}

static int fill_vdso(struct restore_ctx *ctx, struct restorer_args *a)
{
	const struct restore_plan *p = &ctx->plan;
	uint64_t old_s = UINT64_MAX, old_e = 0, new_s, tmp;
	int64_t delta = 0;

	a->keep[a->nr_keep++] = (struct restorer_range){ctx->area, ctx->area + ctx->area_size};
	if (ctx->tree->premap_start) {
		a->premap_area = (struct restorer_range){
		    ctx->tree->premap_start, ctx->tree->premap_start + ctx->tree->premap_size};
		a->keep[a->nr_keep++] = a->premap_area;
	}
	for (int i = 0; i < SPECIAL_NR; i++) {
		if (!p->dumped.start[i] || !p->here.start[i])
			continue;
		a->special[a->nr_special++] =
		    (struct restorer_range){p->here.start[i], p->here.end[i]};
		a->keep[a->nr_keep++] = a->special[a->nr_special - 1];
		old_s = min(old_s, p->here.start[i]);
		old_e = max(old_e, p->here.end[i]);
		delta = p->dumped.start[i] - p->here.start[i];
	}
	qsort(a->keep, a->nr_keep, sizeof(a->keep[0]), range_cmp);
	if (!delta)
		return 0;
	new_s = old_s + delta;
	if (!overlaps(old_s, old_e, new_s, new_s + (old_e - old_s))) {
		a->vdso_moves[0] = delta;
		return 0;
	}
	tmp = vdso_detour(ctx, old_s, old_e, new_s);
	if (!tmp) {
		pr_err("No room to move the vDSO from 0x%llx to 0x%llx\n",
		       (unsigned long long)old_s, (unsigned long long)new_s);
		return -ENOMEM;
	}
	a->vdso_moves[0] = tmp - old_s;
	a->vdso_moves[1] = new_s - tmp;
	return 0;
}

/* The object's fd in lmproc, the task's own fd of a memfd, or the SysV
 * segment the restorer attaches. */
static void fill_shmem_vma(const struct restore_ctx *ctx, const VmaEntry *v,
			   struct restorer_vma *rv)
{
	const ShmemEntry *e = ctx->plan.shmem[v->shmem - 1];

	rv->pgoff = v->pgoff;
	if (e->kind == SHMEM_KIND__SHMEM_SYSV) {
		rv->fd = -1;
		rv->shmid = e->sysv->shmid;
	} else if (e->has_task_fd) {
		rv->fd = e->task_fd;
	} else {
		rv->fd = ctx->shmem_fd[v->shmem - 1];
	}
}

static void fill_vmas(const struct restore_ctx *ctx, struct restorer_vma *rv)
{
	const struct restore_plan *p = &ctx->plan;

	for (size_t i = 0; i < p->mm->n_vmas; i++) {
		const VmaEntry *v = p->mm->vmas[i];

		if (is_special(v->kind))
			continue;
		rv->start = v->start;
		rv->end = v->end;
		rv->prot = v->prot;
		rv->map_prot = p->vma_filled[i] ? v->prot | PROT_READ | PROT_WRITE : v->prot;
		rv->flags = v->flags & (MAP_SHARED | MAP_PRIVATE | MAP_NORESERVE);
		rv->madv = p->vma_madv[i];
		mm_attrs_map_vma(p, i, rv);
		/* Only accounted VMAs are shared (mem-cow.c): writable, as
		 * mm_attrs_map_vma() maps them too. */
		if (p->vma_slot && p->vma_slot[i] != COW_NO_SLOT) {
			rv->premap = ctx->tree->premap_start + p->vma_slot[i];
			rv->map_prot = v->prot | PROT_READ | PROT_WRITE;
		}
		rv->shmid = -1;
		rv->io_uring = 0;
		if (v->kind == VMA_KIND__VMA_ANON_PRIVATE) {
			rv->flags |= MAP_ANONYMOUS | (v->flags & MAP_GROWSDOWN);
			rv->fd = -1;
		} else if (v->kind == VMA_KIND__VMA_SHMEM) {
			fill_shmem_vma(ctx, v, rv);
		} else if (v->kind == VMA_KIND__VMA_IO_URING) {
			/* The task's own fd: its rings, made by io-uring.c. */
			rv->fd = v->io_uring_fd;
			rv->pgoff = v->pgoff;
			rv->io_uring = 1;
		} else {
			rv->fd = ctx->mfile_fd[v->file];
			rv->pgoff = v->pgoff;
		}
		rv++;
	}
}

static void fill_sigactions(const struct restore_plan *p, struct restorer_args *a)
{
	for (size_t i = 0; i < p->core->n_sigactions; i++) {
		const SigactionEntry *e = p->core->sigactions[i];

		a->sigactions[e->sig - 1] = (struct restorer_sigaction){
		    .handler = e->handler,
		    .flags = e->flags,
		    .restorer = e->restorer,
		    .mask = e->mask,
		};
	}
	a->stop_sig = p->stop_sig;
}

static void fill_guards(const struct restore_ctx *ctx, const struct area_layout *l,
			struct restorer_args *a)
{
	struct restorer_range *g = (struct restorer_range *)(uintptr_t)(ctx->area + l->guards);
	const MmEntry *mm = ctx->plan.mm;

	a->guards = ctx->area + l->guards;
	a->nr_guards = mm->n_guards;
	for (size_t i = 0; i < mm->n_guards; i++)
		g[i] = (struct restorer_range){ mm->guards[i]->start, mm->guards[i]->end };
}

/* One thread's part of the args; its queued signals go to SI, but a
 * SIGSTOP, which would stop the restorer: lmproc sends that one once
 * the task is out of it (restore-finish.c). */
static void fill_thread(const ThreadCoreEntry *tc, struct restorer_thread *t,
			struct restorer_siginfo *si)
{
	uint32_t n = 0;

	t->tid = tc->tid;
	for (size_t i = 0; i < tc->n_pending; i++) {
		memcpy(si[n].info, tc->pending[i]->siginfo.data, sizeof(si[n].info));
		memcpy(&si[n].sig, si[n].info, sizeof(si[n].sig));
		si[n].shared = tc->pending[i]->shared;
		if (si[n].sig != SIGSTOP)
			n++;
	}
	t->nr_sigs = n;
	if (tc->rseq) {
		t->has_rseq = 1;
		t->rseq_ptr = tc->rseq->rseq_abi_pointer;
		t->rseq_size = tc->rseq->rseq_abi_size;
		t->rseq_sig = tc->rseq->signature;
	}
	if (tc->has_clear_child_tid)
		t->clear_child_tid = tc->clear_child_tid;
	if (tc->robust_list) {
		t->robust_head = tc->robust_list->head;
		t->robust_len = tc->robust_list->len;
	}
	if (tc->sigaltstack) {
		t->has_altstack = 1;
		t->ss_sp = tc->sigaltstack->ss_sp;
		t->ss_size = tc->sigaltstack->ss_size;
		/* SS_ONSTACK says where the thread ran, not what to set. */
		t->ss_flags = tc->sigaltstack->ss_flags & ~SS_ONSTACK;
	}
}

/* The main thread's comm is set before the restorer (restore-task.c);
 * the clones set theirs, each on a stack of its own. */
static void fill_threads(const struct restore_ctx *ctx, const struct area_layout *l,
			 struct restorer_args *a)
{
	const struct restore_plan *p = &ctx->plan;
	struct restorer_siginfo *si = (struct restorer_siginfo *)(uintptr_t)a->siginfos;
	struct restorer_thread *t = (struct restorer_thread *)(uintptr_t)a->threads;
	uint32_t *groups = (uint32_t *)(uintptr_t)(ctx->area + l->groups);
	uint32_t nsig = 0;

	for (size_t i = 0; i < p->nr_threads; i++) {
		const ThreadCoreEntry *tc = restore_thread_core(p, i);

		t[i].first_sig = nsig;
		fill_thread(tc, &t[i], si + nsig);
		nsig += t[i].nr_sigs;
		fill_thread_attrs(tc, &t[i]);
		fill_creds(tc, &t[i], groups, (uintptr_t)groups);
		groups += tc->creds->n_groups;
		t[i].args = (uintptr_t)a;
		if (!i)
			continue;
		if (tc->comm)
			snprintf(t[i].comm, sizeof(t[i].comm), "%s", tc->comm);
		t[i].stack_top = ctx->area + l->thread_stacks + i * RESTORER_THREAD_STACK_SIZE;
	}
	a->nr_siginfos = nsig;
	a->nr_threads = p->nr_threads;
}

static void fill_mm(const struct restore_ctx *ctx, struct restorer_args *a)
{
	const MmEntry *mm = ctx->plan.mm;

	a->mm_map = (struct restorer_mm_map){
	    .start_code = mm->start_code,
	    .end_code = mm->end_code,
	    .start_data = mm->start_data,
	    .end_data = mm->end_data,
	    .start_brk = mm->start_brk,
	    .brk = mm->brk,
	    .start_stack = mm->start_stack,
	    .arg_start = mm->arg_start,
	    .arg_end = mm->arg_end,
	    .env_start = mm->env_start,
	    .env_end = mm->env_end,
	    .auxv = (uint64_t)(uintptr_t)a->auxv,
	    .auxv_size = mm->n_auxv * sizeof(uint64_t),
	    .exe_fd = ctx->mfile_fd[mm->exe_file],
	};
	memcpy(a->auxv, mm->auxv, mm->n_auxv * sizeof(uint64_t));
}

static void fill_fds(const struct restore_ctx *ctx, struct restorer_args *a, int32_t *fds)
{
	a->nr_levels = ctx->plan.nr_levels;
	for (uint32_t l = 0; l < ctx->plan.nr_levels; l++) {
		a->pages_fds[l] = ctx->pages_fds[l];
		fds[a->nr_close_fds++] = ctx->pages_fds[l];
	}
	for (size_t i = 0; i < ctx->plan.mm->n_files; i++)
		if (ctx->mfile_fd[i] >= 0)
			fds[a->nr_close_fds++] = ctx->mfile_fd[i];
	for (size_t i = 0; i < ctx->plan.nr_shmem; i++)
		if (ctx->shmem_fd[i] >= 0)
			fds[a->nr_close_fds++] = ctx->shmem_fd[i];
}

/* Batches of a VMA filled through /proc/self/mem (mm-attrs.c). */
static void mark_forced(const struct restore_ctx *ctx, struct restorer_args *a)
{
	const struct restorer_vma *rv = (const struct restorer_vma *)(uintptr_t)a->vmas;
	struct restorer_batch *b = (struct restorer_batch *)(uintptr_t)a->batches;

	for (uint32_t i = 0; i < a->nr_batches; i++) {
		const VmaEntry *v = ctx->plan.mm->vmas[b[i].vma];

		for (uint32_t k = 0; k < a->nr_vmas; k++)
			if (rv[k].start == v->start)
				b[i].force = !!(rv[k].madv & RST_VMA_FORCE_FILL);
	}
}

static int fill_args(struct restore_ctx *ctx, const struct fill_plan *f,
		     const struct area_layout *l)
{
	struct restorer_args *a = (struct restorer_args *)(uintptr_t)(ctx->area + l->args);

	memcpy((void *)(uintptr_t)ctx->area, restorer_blob, restorer_blob_size);
	a->magic = RESTORER_MAGIC;
	a->area_start = ctx->area;
	a->area_size = ctx->area_size;
	a->unmap_end = TASK_SIZE;
	a->vmas = ctx->area + l->vmas;
	a->nr_vmas = nr_mapped_vmas(&ctx->plan);
	a->batches = ctx->area + l->batches;
	a->nr_batches = f->nr_batches;
	a->helper_from = helper_from(&ctx->plan, f);
	a->helper_stack = ctx->area + l->stack;
	a->iovs = ctx->area + l->iovs;
	a->siginfos = ctx->area + l->siginfos;
	a->threads = ctx->area + l->threads;
	a->close_fds = ctx->area + l->close_fds;
	fill_guards(ctx, l, a);
	a->locks = ctx->area + l->locks;
	a->nr_locks = restore_nr_posix_locks(&ctx->plan);
	restore_fill_posix_locks(&ctx->plan, (struct restorer_lock *)(uintptr_t)a->locks);
	a->fowns = ctx->area + l->fowns;
	a->nr_fowns = restore_nr_fowns(&ctx->plan);
	restore_fill_fowns(&ctx->plan, (struct restorer_fown *)(uintptr_t)a->fowns);
	memcpy((void *)(uintptr_t)a->batches, f->batches, f->nr_batches * sizeof(*f->batches));
	memcpy((void *)(uintptr_t)a->iovs, f->iovs, f->nr_iovs * sizeof(*f->iovs));
	fill_vmas(ctx, (struct restorer_vma *)(uintptr_t)a->vmas);
	mark_forced(ctx, a);
	mm_attrs_fill_args(ctx->plan.mm, a);
	fill_sigactions(&ctx->plan, a);
	fill_threads(ctx, l, a);
	fill_mm(ctx, a);
	fill_process_attrs(&ctx->plan, a);
	a->posix_timers = ctx->area + l->timers;
	fill_timers(&ctx->plan, a, (struct restorer_posix_timer *)(uintptr_t)a->posix_timers);
	fill_fds(ctx, a, (int32_t *)(uintptr_t)a->close_fds);
	ctx->seccomp_progs = ctx->area + l->seccomp;
	seccomp_fill_area(&ctx->plan, (void *)(uintptr_t)ctx->seccomp_progs, ctx->seccomp_progs);
	aio_fill_args(ctx->plan.mm, ctx->area + l->aio, (void *)(uintptr_t)(ctx->area + l->aio), a);
	a->fail_at_end = fault_injected("restore-in-restorer");
	ctx->args = a;
	return fill_vdso(ctx, a);
}

int restore_prepare_area(struct restore_ctx *ctx)
{
	struct area_layout l;
	struct fill_plan f;
	int ret;

	ret = plan_fill(&ctx->plan, &f);
	if (!ret) {
		layout_area(ctx, &f, &l);
		ret = map_area(ctx, l.size);
	}
	if (!ret)
		ret = fill_args(ctx, &f, &l);
	free(f.batches);
	free(f.iovs);
	return ret;
}

void restore_free_area(struct restore_ctx *ctx)
{
	if (ctx->area)
		munmap((void *)(uintptr_t)ctx->area, ctx->area_size);
	ctx->area = 0;
	ctx->args = NULL;
}
