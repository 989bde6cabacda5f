/* Owns the private anonymous pages a process shares copy-on-write with
 * its parent since a fork.  Dump: a page of a child is the parent's when
 * both map the same physical frame (pagemap PFN, visible to root) at the
 * same address, in a VMA the parent has with the same bounds, protection
 * and flags; it becomes an in_parent_task entry, not a copy.  Restore:
 * every such VMA gets a slot in one premap area lmproc reserves; the
 * first owner maps and fills it before it forks, a child that inherits
 * it drops every page that was not the parent's and writes its own, and
 * each restorer moves its slots to their places with mremap, so what was
 * shared stays shared and nothing else is. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "mem-cow.h"
#include "proc.h"
#include "restore.h"

#define PME_PRESENT (1ULL << 63)
#define PME_SWAP (1ULL << 62)
#define PME_PFN_MASK ((1ULL << 55) - 1)
#define PME_CHUNK 4096
/* Room kept free around the premap area. */
#define PREMAP_GUARD (1UL << 20)
/* Its start: staged slots (restore-stage.c) sit at their VMA's offset in
 * a 2 MiB block, so that mremap moves whole page tables. */
#define PREMAP_ALIGN (2UL << 20)

int cow_parent_open(struct cow_parent *cp, pid_t pid, const struct vm_area_list *vl)
{
	char path[64];

	cp->pid = pid;
	cp->vl = vl;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	cp->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (cp->pagemap_fd < 0) {
		pr_perror("Can't open %s", path);
		return -errno;
	}
	return 0;
}

void cow_parent_close(struct cow_parent *cp)
{
	if (cp->pagemap_fd >= 0)
		close(cp->pagemap_fd);
	cp->pagemap_fd = -1;
}

/* A VMA fork copies as it is, its pages shared: private anonymous, not
 * growing (a stack's bounds move), not dropped or wiped at fork. */
static bool vma_forkable(const struct vma *v)
{
	/* Accounted ("ac"): its slot, mapped writable to be filled, gets
	 * the accounting anyway (mm-attrs.c). */
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE && !(v->flags & MAP_GROWSDOWN) &&
	       !vma_has_flag(v, "dc") && !vma_has_flag(v, "wf") && vma_has_flag(v, "ac");
}

static const struct vma *parent_vma(const struct cow_parent *cp, const struct vma *v)
{
	size_t lo = 0, hi = cp->vl->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct vma *p = &cp->vl->vmas[mid];

		if (p->start == v->start)
			return p;
		if (p->start < v->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int read_pme(int fd, uint64_t *buf, uint64_t addr, uint64_t n)
{
	ssize_t got = pread(fd, buf, n * sizeof(*buf), addr / PAGE_SIZE * sizeof(*buf));

	if (got != (ssize_t)(n * sizeof(*buf))) {
		pr_perror("Can't read pagemap at 0x%lx", (unsigned long)addr);
		return got < 0 ? -errno : -EIO;
	}
	return 0;
}

/* One physical frame, present in both: the same page, whatever else. */
static bool same_frame(uint64_t a, uint64_t b)
{
	uint64_t pfn = a & PME_PFN_MASK;

	return (a & PME_PRESENT) && (b & PME_PRESENT) && !((a | b) & PME_SWAP) && pfn &&
	       pfn == (b & PME_PFN_MASK);
}

int cow_find_shared(const struct cow_parent *cp, int own_pagemap_fd, const struct vma *v,
		    struct range_set *out)
{
	const struct vma *p = parent_vma(cp, v);
	uint64_t *own, *par;
	int ret = 0;

	if (!vma_forkable(v) || !p || !vma_forkable(p) || p->end != v->end ||
	    p->prot != v->prot || p->flags != v->flags)
		return 0;
	own = malloc(2 * PME_CHUNK * sizeof(*own));
	if (!own)
		return -ENOMEM;
	par = own + PME_CHUNK;
	for (uint64_t a = v->start; a < v->end && !ret;) {
		uint64_t n = min((v->end - a) / PAGE_SIZE, (uint64_t)PME_CHUNK);

		ret = read_pme(own_pagemap_fd, own, a, n) ?: read_pme(cp->pagemap_fd, par, a, n);
		for (uint64_t i = 0; i < n && !ret; i++)
			if (same_frame(own[i], par[i]))
				ret = range_set_add(out, a + i * PAGE_SIZE, a + (i + 1) * PAGE_SIZE);
		a += n * PAGE_SIZE;
	}
	free(own);
	return ret;
}

/* The parent's VMA that child VMA V (with in_parent_task runs) came from:
 * its index, or -1. */
static int inherited_from(const MmEntry *pm, const VmaEntry *v)
{
	int j = restore_vma_of(pm, v->start, 0);
	const VmaEntry *p = j >= 0 ? pm->vmas[j] : NULL;

	if (!p || p->start != v->start || p->end != v->end || p->prot != v->prot ||
	    p->flags != v->flags || p->kind != VMA_KIND__VMA_ANON_PRIVATE)
		return -1;
	return j;
}

static int alloc_slots(struct restore_plan *p)
{
	size_t n = p->mm->n_vmas + 1;

	p->vma_slot = malloc(n * sizeof(*p->vma_slot));
	p->vma_inherited = calloc(n, sizeof(*p->vma_inherited));
	p->vma_forked = calloc(n, sizeof(*p->vma_forked));
	if (!p->vma_slot || !p->vma_inherited || !p->vma_forked)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		p->vma_slot[i] = COW_NO_SLOT;
	return 0;
}

/* Every in_parent_task run of task I: a live parent with the same VMA. */
static int check_inherited(struct restore_tree *t, size_t i)
{
	struct restore_plan *p = &t->ctx[i].plan;
	struct restore_plan *pp = t->parent[i] >= 0 ? &t->ctx[t->parent[i]].plan : NULL;
	char img[64];

	snprintf(img, sizeof(img), "pagemap-%d.img", p->pid);
	if (!p->nr_cow_runs)
		return 0;
	if (!pp || !pp->pid)
		return restore_plan_bad(img, "pages are the parent process's, but pid %d has no "
					"live parent in the tree", p->pid);
	for (size_t k = 0; k < p->nr_cow_runs; k++) {
		const VmaEntry *v = p->mm->vmas[p->cow_runs[k].vma];
		int j = inherited_from(pp->mm, v);

		if (v->kind != VMA_KIND__VMA_ANON_PRIVATE || (v->flags & MAP_GROWSDOWN) || j < 0)
			return restore_plan_bad(img, "page 0x%llx is the parent's, but vma "
						"0x%llx-0x%llx is not a private anonymous one "
						"its parent pid %d has too",
						(unsigned long long)p->cow_runs[k].vaddr,
						(unsigned long long)v->start,
						(unsigned long long)v->end, pp->pid);
		p->vma_inherited[p->cow_runs[k].vma] = true;
		pp->vma_forked[j] = true;
	}
	return 0;
}

/* Parents come before their children in the tree: a VMA a child inherits
 * has its slot already. */
static void assign_slots(struct restore_tree *t, size_t i, uint64_t *size)
{
	struct restore_plan *p = &t->ctx[i].plan;
	const MmEntry *pm = t->parent[i] >= 0 ? t->ctx[t->parent[i]].plan.mm : NULL;

	for (size_t j = 0; j < p->mm->n_vmas; j++) {
		const VmaEntry *v = p->mm->vmas[j];

		if (p->vma_inherited[j]) {
			p->vma_slot[j] = t->ctx[t->parent[i]].plan.vma_slot[inherited_from(pm, v)];
		} else if (p->vma_forked[j]) {
			p->vma_slot[j] = *size;
			*size += v->end - v->start + PAGE_SIZE;
		}
	}
}

int restore_plan_cow(struct restore_tree *t)
{
	int ret = 0;

	t->premap_size = 0;
	for (size_t i = 0; i < t->nr && !ret; i++)
		if (t->ctx[i].plan.pid)
			ret = alloc_slots(&t->ctx[i].plan);
	for (size_t i = 0; i < t->nr && !ret; i++)
		if (t->ctx[i].plan.pid)
			ret = check_inherited(t, i);
	for (size_t i = 0; i < t->nr && !ret; i++)
		if (t->ctx[i].plan.pid)
			assign_slots(t, i, &t->premap_size);
	return ret;
}

struct busy {
	uint64_t start, end;
};

static int busy_cmp(const void *a, const void *b)
{
	const struct busy *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int add_busy(struct busy **b, size_t *n, size_t *cap, uint64_t s, uint64_t e)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct busy *nb = realloc(*b, c * sizeof(*nb));

		if (!nb)
			return -ENOMEM;
		*b = nb;
		*cap = c;
	}
	(*b)[(*n)++] = (struct busy){ s, e };
	return 0;
}

/* lmproc's mappings and every dumped VMA of the tree, sorted. */
static int tree_busy(const struct restore_tree *t, struct busy **b, size_t *n)
{
	cleanup_free char *maps = proc_read_file("/proc/self/maps", NULL);
	size_t cap = 0;
	char *line, *save;
	int ret = 0;

	*b = NULL;
	*n = 0;
	if (!maps) {
		pr_perror("Can't read /proc/self/maps");
		return -EIO;
	}
	for (line = strtok_r(maps, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s < TASK_SIZE)
			ret = add_busy(b, n, &cap, s, e);
	}
	for (size_t i = 0; i < t->nr && !ret; i++) {
		const MmEntry *mm = t->ctx[i].plan.mm;

		for (size_t j = 0; t->ctx[i].plan.pid && j < mm->n_vmas && !ret; j++)
			if (mm->vmas[j]->kind != VMA_KIND__VMA_VSYSCALL)
				ret = add_busy(b, n, &cap, mm->vmas[j]->start, mm->vmas[j]->end);
	}
	if (!ret)
		qsort(*b, *n, sizeof(**b), busy_cmp);
	return ret;
}

int restore_reserve_premap(struct restore_tree *t)
{
	uint64_t want = t->premap_size + 2 * PREMAP_GUARD + PREMAP_ALIGN, end = 0, at = 0;
	uint64_t min_addr = t->ctx[0].plan.mmap_min_addr;
	struct busy *b;
	size_t n;
	void *m;
	int ret;

	if (!t->premap_size)
		return 0;
	ret = tree_busy(t, &b, &n);
	for (size_t i = 0; i <= n && !ret; i++) {
		uint64_t next = i < n ? b[i].start : TASK_SIZE;

		if (next > end && next - end >= want && end + PREMAP_GUARD >= min_addr)
			at = (next - PREMAP_GUARD - t->premap_size) & ~(PREMAP_ALIGN - 1);
		if (i < n)
			end = max(end, b[i].end);
	}
	free(b);
	if (ret)
		return ret;
	if (!at) {
		pr_err("No hole of %llu bytes for the memory children share is free both in "
		       "lmproc and in the dumped layouts\n", (unsigned long long)t->premap_size);
		return -ENOMEM;
	}
	m = mmap((void *)at, t->premap_size, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (m == MAP_FAILED || (uint64_t)m != at) {
		pr_perror("Can't reserve the premap area at 0x%llx", (unsigned long long)at);
		if (m != MAP_FAILED)
			munmap(m, t->premap_size);
		return -ENOMEM;
	}
	t->premap_start = at;
	/* Out of every fork but the one that hands it to the tree. */
	madvise(m, t->premap_size, MADV_DONTFORK);
	pr_debug("Premap area at 0x%llx-0x%llx\n", (unsigned long long)at,
		 (unsigned long long)(at + t->premap_size));
	return 0;
}

void restore_free_premap(struct restore_tree *t)
{
	if (t->premap_start)
		munmap((void *)(uintptr_t)t->premap_start, t->premap_size);
	t->premap_start = 0;
}

void restore_premap_dofork(struct restore_tree *t)
{
	if (t->premap_start)
		madvise((void *)(uintptr_t)t->premap_start, t->premap_size, MADV_DOFORK);
}

/* The part of [START, END) the init of --pidns maps: none unless it
 * inherited the area. */
static uint64_t init_maps(const struct restore_tree *t, uint64_t start, uint64_t end)
{
	cleanup_free char *maps = NULL;
	char path[64], *line, *save;
	uint64_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", t->init_pid);
	maps = proc_read_file(path, NULL);
	for (line = maps ? strtok_r(maps, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s < end && e > start)
			n += min((uint64_t)e, end) - max((uint64_t)s, start);
	}
	return n;
}

uint64_t restore_premap_handed_down(struct restore_tree *t)
{
	uint64_t start = t->premap_start, size = t->premap_size, t0 = now_ns(), in_init;

	if (!start)
		return 0;
	restore_free_premap(t);
	if (!t->pidns) {
		pr_info("The premap area (%llu MiB) went to pid %d by lmproc's fork; lmproc's "
			"copy dropped after the hand-over in %.1f ms\n",
			(unsigned long long)(size >> 20), t->ctx[0].plan.pid,
			(now_ns() - t0) / 1e6);
		return 0;
	}
	in_init = init_maps(t, start, start + size);
	if (in_init)
		pr_warn("The init (pid %d) of the new pid namespace maps %llu kB of the premap "
			"area\n", t->init_pid, (unsigned long long)(in_init >> 10));
	else
		pr_info("The premap area (%llu MiB) went to pid %d by one fork (the init, pid "
			"%d, maps none of it); lmproc's copy dropped after the hand-over in "
			"%.1f ms\n",
			(unsigned long long)(size >> 20), t->ctx[0].plan.pid, t->init_pid,
			(now_ns() - t0) / 1e6);
	return in_init;
}

static int task_fail(char *err, size_t len, const char *what, uint64_t addr)
{
	int e = errno;

	snprintf(err, len, "can't %s at 0x%llx: %s", what, (unsigned long long)addr, strerror(e));
	return -e;
}

/* Pages of the inherited slot of vma J that were not the parent's: they
 * must read as zero until the task's own pages are written over them. */
static int drop_not_shared(const struct restore_plan *p, size_t j, uint64_t delta, char *err,
			   size_t len)
{
	const VmaEntry *v = p->mm->vmas[j];
	uint64_t a = v->start;

	for (size_t k = 0; k <= p->nr_cow_runs; k++) {
		const struct cow_run *r = k < p->nr_cow_runs ? &p->cow_runs[k] : NULL;
		uint64_t to = r ? r->vaddr : v->end;

		if (r && r->vma != j)
			continue;
		if (to > a && madvise((void *)(uintptr_t)(a + delta), to - a, MADV_DONTNEED))
			return task_fail(err, len, "drop the parent's pages", a);
		if (r)
			a = r->vaddr + r->nr_pages * PAGE_SIZE;
	}
	return 0;
}

static int fill_run(const struct restore_ctx *ctx, const struct page_src_run *r, uint64_t delta,
		    char *err, size_t len)
{
	char *to = (char *)(uintptr_t)(r->vaddr + delta);
	uint64_t left = r->nr_pages * PAGE_SIZE, off = r->off;

	/* One populate for the run, not a fault per page (KERNEL.md). */
	madvise(to, left, MADV_POPULATE_WRITE);
	while (left) {
		ssize_t n = pread(ctx->pages_fds[r->level], to, left, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n < 0 ? errno : EIO;
			return task_fail(err, len, "read the pages of", r->vaddr);
		}
		to += n;
		off += n;
		left -= n;
	}
	return 0;
}

/* Maps the slot of vma J, or, inherited, drops what was not shared. */
static int premap_vma(struct restore_ctx *ctx, size_t j, char *err, size_t len)
{
	const struct restore_plan *p = &ctx->plan;
	const VmaEntry *v = p->mm->vmas[j];
	uint64_t slot = ctx->tree->premap_start + p->vma_slot[j];
	void *m;

	if (p->vma_inherited[j])
		return drop_not_shared(p, j, slot - v->start, err, len);
	m = mmap((void *)(uintptr_t)slot, v->end - v->start, v->prot | PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (v->flags & MAP_NORESERVE), -1, 0);
	return m == MAP_FAILED ? task_fail(err, len, "map the premap slot of", v->start) : 0;
}

int restore_task_premap(struct restore_ctx *ctx, char *err, size_t len)
{
	const struct restore_plan *p = &ctx->plan;
	int ret = 0;

	if (!p->vma_slot)
		return 0;
	/* A staged slot (restore-stage.c) came filled from lmproc. */
	for (size_t j = 0; j < p->mm->n_vmas && !ret; j++)
		if (p->vma_slot[j] != COW_NO_SLOT && !(p->vma_stage && p->vma_stage[j]))
			ret = premap_vma(ctx, j, err, len);
	for (size_t k = 0; k < p->nr_runs && !ret; k++) {
		const struct page_src_run *r = &p->runs[k];
		uint64_t slot = p->vma_slot[r->vma];

		if (slot == COW_NO_SLOT || (p->vma_stage && p->vma_stage[r->vma]))
			continue;
		ret = fill_run(ctx, r, ctx->tree->premap_start + slot - p->mm->vmas[r->vma]->start,
			       err, len);
		ctx->args->pages_premapped += r->nr_pages;
	}
	return ret;
}
