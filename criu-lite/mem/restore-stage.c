/* Owns staging: the private anonymous memory of pre-copy rounds brought,
 * while the source's tree still runs, into mappings of serve's process,
 * and their use by the final restore.  A staged VMA holds exactly the
 * pages its round resolves to through the chain (restore-chain.c): round
 * K writes the pages it carries, drops the pages its pagemap no longer
 * lists and keeps those "in parent", so it is the round before's staging
 * brought forward; a VMA whose bounds changed is staged afresh.  The
 * final restore takes a staged VMA only when the dump's parent is the
 * staged round and the VMA has the same bounds: it moves it into a slot
 * of the premap area (mem-cow.c), writes the final dump's pages over it
 * and drops the pages the dump says are absent; the restorer moves the
 * slot into place as it moves any premapped VMA. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "log.h"
#include "mem-cow.h"
#include "restore-stage.h"
#include "restore.h"

/* Slots and staging mappings start at the VMA's offset in a 2 MiB block,
 * so that mremap moves whole page tables, not one entry per page. */
#define STAGE_ALIGN (2UL << 20)
#define STAGE_MAX_BYTES (64ULL << 30)

/* One round's pagemap of one process. */
struct stage_map {
	PagemapEntry **e;
	uint64_t *off;
	size_t nr;
	int pages_fd;
};

bool restore_stage_vma_ok(const VmaEntry *v)
{
	bool ac = false;

	for (size_t i = 0; i < v->n_vm_flags; i++) {
		if (!strcmp(v->vm_flags[i], "dc") || !strcmp(v->vm_flags[i], "wf"))
			return false;
		ac |= !strcmp(v->vm_flags[i], "ac");
	}
	/* Accounted, as the restorer would map it (a staging mapping keeps
	 * its accounting when it moves); not a stack, whose bounds move. */
	return ac && v->kind == VMA_KIND__VMA_ANON_PRIVATE && !(v->flags & MAP_GROWSDOWN) &&
	       PAGE_ALIGNED(v->start) && PAGE_ALIGNED(v->end) && v->start < v->end &&
	       v->end <= TASK_SIZE && v->end - v->start <= STAGE_MAX_BYTES;
}

static void unmap_one(struct stage_vma *sv)
{
	if (sv->addr)
		munmap((void *)(uintptr_t)sv->addr, sv->end - sv->start);
	sv->addr = 0;
}

void restore_stage_drop(struct restore_stage *s)
{
	for (size_t i = 0; i < s->nr; i++)
		unmap_one(&s->v[i]);
	free(s->v);
	s->v = NULL;
	s->nr = s->cap = 0;
	s->round_id = 0;
}

static struct stage_vma *find(struct restore_stage *s, pid_t pid, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < s->nr; i++)
		if (s->v[i].addr && s->v[i].pid == pid && s->v[i].start == start &&
		    s->v[i].end == end)
			return &s->v[i];
	return NULL;
}

/* Anywhere, at V's offset in a 2 MiB block. */
static int map_anywhere(const VmaEntry *v, int flags, uint64_t *out)
{
	uint64_t len = v->end - v->start, skew = v->start & (STAGE_ALIGN - 1), at;
	char *m;

	m = mmap(NULL, len + STAGE_ALIGN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	at = ((uint64_t)(uintptr_t)m + STAGE_ALIGN - 1) / STAGE_ALIGN * STAGE_ALIGN + skew;
	if (at >= (uint64_t)(uintptr_t)m + STAGE_ALIGN)
		at -= STAGE_ALIGN;
	if (at > (uint64_t)(uintptr_t)m)
		munmap(m, at - (uint64_t)(uintptr_t)m);
	munmap((void *)(uintptr_t)(at + len), (uint64_t)(uintptr_t)m + STAGE_ALIGN - at);
	if (mmap((void *)(uintptr_t)at, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, -1, 0) ==
	    MAP_FAILED) {
		munmap((void *)(uintptr_t)at, len);
		return -errno;
	}
	*out = at;
	return 0;
}

/* A fresh staging mapping for V: at V's own address if that is free
 * here, so that the VMA keeps the anon pgoff a restore without staging
 * gives it (mremap keeps it; a neighbour mapped later merges with it as
 * it would), else anywhere. */
static int map_new(struct restore_stage *s, pid_t pid, const VmaEntry *v, struct stage_vma **out)
{
	uint64_t len = v->end - v->start, at = v->start;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (v->flags & MAP_NORESERVE);
	void *m;
	int ret;

	if (s->nr == s->cap) {
		size_t n = s->cap ? s->cap * 2 : 32;
		struct stage_vma *nv = realloc(s->v, n * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = n;
	}
	m = mmap((void *)(uintptr_t)at, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED_NOREPLACE,
		 -1, 0);
	if (m != (void *)(uintptr_t)at) {
		if (m != MAP_FAILED)
			munmap(m, len);
		ret = map_anywhere(v, flags, &at);
		if (ret)
			return ret;
	}
	/* Until the restore hands it to the tree, no helper that lmproc
	 * forks copies its page tables. */
	madvise((void *)(uintptr_t)at, len, MADV_DONTFORK);
	s->v[s->nr] = (struct stage_vma){.pid = pid,
					 .start = v->start,
					 .end = v->end,
					 .flags = v->flags & MAP_NORESERVE,
					 .addr = at,
					 .seen = true};
	*out = &s->v[s->nr++];
	return 0;
}

static int read_at(int fd, uint64_t to, uint64_t len, uint64_t off)
{
	madvise((void *)(uintptr_t)to, len, MADV_POPULATE_WRITE);
	while (len) {
		ssize_t n = pread(fd, (void *)(uintptr_t)to, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		to += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int zap(uint64_t addr, uint64_t len)
{
	if (len && madvise((void *)(uintptr_t)addr, len, MADV_DONTNEED))
		return -errno;
	return 0;
}

static bool in_parent(const PagemapEntry *e)
{
	return e->has_in_parent && e->in_parent;
}

static void free_map(struct stage_map *m)
{
	for (size_t i = 0; i < m->nr; i++)
		img_free_msg(&m->e[i]->base);
	free(m->e);
	free(m->off);
	if (m->pages_fd >= 0)
		close(m->pages_fd);
	memset(m, 0, sizeof(*m));
	m->pages_fd = -1;
}

/* The round's pagemap of PID, checked as restore-chain.c checks it:
 * aligned, ordered, non-empty runs, none the parent process's; its
 * pages image verified whole against its sums, once: the final restore
 * then checks only its footer (image-verify.c). */
static int load_map(int dfd, pid_t pid, struct stage_map *m)
{
	uint64_t prev_end = 0, data = 0, len;
	char name[64];
	int ret;

	m->pages_fd = -1;
	ret = img_read_all(dfd, IMG_PAGEMAP, pid, false, (ProtobufCMessage ***)&m->e, &m->nr);
	if (ret)
		return ret;
	m->off = malloc((m->nr + 1) * sizeof(*m->off));
	if (!m->off)
		return -ENOMEM;
	for (size_t i = 0; i < m->nr; i++) {
		const PagemapEntry *e = m->e[i];
		uint64_t end = e->vaddr + ((uint64_t)e->nr_pages << PAGE_SHIFT);

		if (!PAGE_ALIGNED(e->vaddr) || !e->nr_pages || end > TASK_SIZE ||
		    e->vaddr < prev_end || (e->has_in_parent_task && e->in_parent_task))
			return -EINVAL;
		m->off[i] = data;
		if (!in_parent(e))
			data += end - e->vaddr;
		prev_end = end;
	}
	snprintf(name, sizeof(name), image_descs[IMG_PAGES].name_fmt, pid);
	m->pages_fd = img_open_file(dfd, name, false);
	if (m->pages_fd < 0)
		return m->pages_fd;
	ret = img_raw_verify(dfd, IMG_PAGES, pid, "", false, &len);
	if (!ret && len != data)
		ret = -EINVAL;
	return ret ?: img_raw_mark_verified(m->pages_fd);
}

/* Round K over the round before's staging of the same VMA: what the round
 * carries is written, what it does not list any more is dropped, pages
 * in parent stay. */
static int update(const struct stage_vma *sv, const struct stage_map *m)
{
	uint64_t a = sv->start, delta = sv->addr - sv->start;
	int ret = 0;

	for (size_t i = 0; i < m->nr && a < sv->end && !ret; i++) {
		const PagemapEntry *e = m->e[i];
		uint64_t s = e->vaddr, end = s + ((uint64_t)e->nr_pages << PAGE_SHIFT);

		if (end <= a)
			continue;
		if (s >= sv->end)
			break;
		s = max(s, a);
		end = min(end, sv->end);
		ret = zap(a + delta, s - a);
		if (!ret && !in_parent(e))
			ret = read_at(m->pages_fd, s + delta, end - s, m->off[i] + (s - e->vaddr));
		a = end;
	}
	return ret ?: zap(a + delta, sv->end - a);
}

/* A fresh staging of VMA J of PLAN: every page the chain resolves it to
 * (restore-chain.c's own resolution, PLAN's runs). */
static int fill_fresh(const struct stage_vma *sv, const struct restore_plan *p, uint32_t j)
{
	char name[64];
	int fds[RESTORER_MAX_LEVELS], ret = 0;

	snprintf(name, sizeof(name), image_descs[IMG_PAGES].name_fmt, p->pid);
	for (uint32_t l = 0; l < p->nr_levels; l++)
		fds[l] = -1;
	for (size_t k = 0; k < p->nr_runs && !ret; k++) {
		const struct page_src_run *r = &p->runs[k];

		if (r->vma != j)
			continue;
		if (fds[r->level] < 0)
			fds[r->level] = img_open_file(p->level_dfd[r->level], name, false);
		ret = fds[r->level] < 0 ? fds[r->level]
					: read_at(fds[r->level], r->vaddr - sv->start + sv->addr,
						  r->nr_pages << PAGE_SHIFT, r->off);
	}
	for (uint32_t l = 0; l < p->nr_levels; l++)
		if (fds[l] >= 0)
			close(fds[l]);
	return ret;
}

/* The chain's resolution of round DFD's pages of PID (MM its VMAs). */
static int resolve(int dfd, const InventoryEntry *inv, pid_t pid, MmEntry *mm,
		   struct restore_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->inv = inv;
	p->mm = mm;
	p->vma_filled = calloc(mm->n_vmas + 1, sizeof(bool));
	if (!p->vma_filled)
		return -ENOMEM;
	return restore_read_pages(dfd, p);
}

static void free_resolved(struct restore_plan *p)
{
	restore_free_chain(p);
	free(p->vma_filled);
	p->vma_filled = NULL;
}

static int stage_task(struct restore_stage *s, int dfd, const InventoryEntry *inv, pid_t pid,
		      bool incremental)
{
	struct stage_map m = {.pages_fd = -1};
	struct restore_plan p = {};
	bool resolved = false;
	MmEntry *mm;
	int ret;

	ret = img_read_one(dfd, IMG_MM, pid, (ProtobufCMessage **)&mm);
	if (ret)
		return ret;
	ret = load_map(dfd, pid, &m);
	/* THP off: the restorer turns it off before it fills a page. */
	if (!ret && mm->has_thp_disable && mm->thp_disable)
		goto out;
	for (size_t j = 0; j < mm->n_vmas && !ret; j++) {
		const VmaEntry *v = mm->vmas[j];
		struct stage_vma *sv;

		if (!restore_stage_vma_ok(v))
			continue;
		sv = find(s, pid, v->start, v->end);
		if (sv && (v->flags & MAP_NORESERVE) != sv->flags) {
			unmap_one(sv);
			sv = NULL;
		}
		if (sv && incremental) {
			sv->seen = true;
			ret = update(sv, &m);
			continue;
		}
		if (sv)
			unmap_one(sv);
		if (!resolved) {
			ret = resolve(dfd, inv, pid, mm, &p);
			resolved = true;
		}
		if (!ret)
			ret = map_new(s, pid, v, &sv);
		if (!ret)
			ret = fill_fresh(sv, &p, j);
	}
out:
	if (resolved)
		free_resolved(&p);
	free_map(&m);
	img_free_msg(&mm->base);
	return ret;
}

static int stage_tree(struct restore_stage *s, int dfd, const InventoryEntry *inv, bool incremental)
{
	PstreeEntry **e = NULL;
	size_t nr = 0;
	int ret;

	ret = img_read_all(dfd, IMG_PSTREE, 0, false, (ProtobufCMessage ***)&e, &nr);
	for (size_t i = 0; i < nr && !ret; i++)
		if (!e[i]->has_exit_status && img_exists(dfd, IMG_PAGEMAP, e[i]->pid) &&
		    img_exists(dfd, IMG_MM, e[i]->pid))
			ret = stage_task(s, dfd, inv, e[i]->pid, incremental);
	for (size_t i = 0; i < nr; i++)
		img_free_msg(&e[i]->base);
	free(e);
	return ret;
}

/* Staged VMAs the round no longer has (unmapped, moved, resized, or their
 * process gone) go. */
static void sweep(struct restore_stage *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nr; i++) {
		if (!s->v[i].seen)
			unmap_one(&s->v[i]);
		if (s->v[i].addr)
			s->v[n++] = s->v[i];
	}
	s->nr = n;
}

int restore_stage_round(struct restore_stage *s, int dfd, unsigned int k, char *why, size_t len)
{
	InventoryEntry *inv;
	bool incremental;
	int ret;

	ret = img_read_one(dfd, IMG_INVENTORY, 0, (ProtobufCMessage **)&inv);
	if (ret) {
		restore_stage_drop(s);
		snprintf(why, len, "round %u's inventory.img is unreadable", k);
		return ret;
	}
	incremental =
	    s->round_id && inv->has_parent_round_id && inv->parent_round_id == s->round_id;
	if (inv->img_version != IMAGE_VERSION || strcmp(inv->kind, "pre-dump") ||
	    !inv->has_round_id || !inv->round_id) {
		ret = -EINVAL;
	} else {
		for (size_t i = 0; i < s->nr; i++)
			s->v[i].seen = false;
		ret = stage_tree(s, dfd, inv, incremental);
	}
	if (!ret) {
		sweep(s);
		s->round_id = inv->round_id;
		s->round = k;
	} else {
		restore_stage_drop(s);
		snprintf(why, len, "round %u: %s", k, strerror(-ret));
	}
	img_free_msg(&inv->base);
	return ret;
}

/* The final restore: VMA J of PLAN takes the staged SV into a slot of
 * the premap area (laid out after mem-cow.c's slots). */
static int take(struct restore_tree *t, struct restore_plan *p, size_t j,
		const struct stage_vma *sv)
{
	const VmaEntry *v = p->mm->vmas[j];
	uint64_t skew = v->start & (STAGE_ALIGN - 1);

	if (!p->vma_stage) {
		p->vma_stage = calloc(p->mm->n_vmas + 1, sizeof(*p->vma_stage));
		if (!p->vma_stage)
			return -ENOMEM;
	}
	t->premap_size = (t->premap_size + STAGE_ALIGN - 1) / STAGE_ALIGN * STAGE_ALIGN + skew;
	p->vma_slot[j] = t->premap_size;
	p->vma_stage[j] = sv->addr;
	t->premap_size += v->end - v->start + PAGE_SIZE;
	return 0;
}

int restore_stage_plan(struct restore_tree *t, struct restore_stage *s)
{
	int ret = 0;

	if (!s->nr)
		return 0;
	if (!t->inv->has_parent_round_id || t->inv->parent_round_id != s->round_id) {
		pr_info("Staging is of round %u, which is not the dump's parent: not used\n",
			s->round);
		restore_stage_drop(s);
		return 0;
	}
	for (size_t i = 0; i < t->nr && !ret; i++) {
		struct restore_plan *p = &t->ctx[i].plan;

		if (!p->pid || !p->vma_slot || (p->mm->has_thp_disable && p->mm->thp_disable))
			continue;
		for (size_t j = 0; j < p->mm->n_vmas && !ret; j++) {
			const VmaEntry *v = p->mm->vmas[j];
			struct stage_vma *sv = find(s, p->pid, v->start, v->end);

			if (!sv || !restore_stage_vma_ok(v) || p->vma_slot[j] != COW_NO_SLOT ||
			    p->vma_inherited[j] || p->vma_forked[j] ||
			    (v->flags & MAP_NORESERVE) != sv->flags)
				continue;
			ret = take(t, p, j, sv);
		}
	}
	return ret;
}

/* The final dump's pages of VMA J over its slot, and the pages it says
 * are absent dropped: runs from earlier rounds are the staging's. */
static int finish_slot(struct restore_ctx *ctx, size_t j, struct restore_stage *s)
{
	const struct restore_plan *p = &ctx->plan;
	const VmaEntry *v = p->mm->vmas[j];
	uint64_t delta = ctx->tree->premap_start + p->vma_slot[j] - v->start, a = v->start;
	int ret = 0;

	for (size_t k = 0; k < p->nr_runs && !ret; k++) {
		const struct page_src_run *r = &p->runs[k];
		uint64_t len = r->nr_pages << PAGE_SHIFT;

		if (r->vma != j)
			continue;
		ret = zap(a + delta, r->vaddr - a);
		s->zapped_pages += (r->vaddr - a) >> PAGE_SHIFT;
		if (!ret && !r->level) {
			ret = read_at(ctx->pages_fds[0], r->vaddr + delta, len, r->off);
			s->filled_pages += r->nr_pages;
		} else {
			s->moved_pages += r->nr_pages;
		}
		a = r->vaddr + len;
	}
	s->zapped_pages += (v->end - a) >> PAGE_SHIFT;
	return ret ?: zap(a + delta, v->end - a);
}

static int place_task(struct restore_ctx *ctx, struct restore_stage *s)
{
	struct restore_plan *p = &ctx->plan;
	int ret = 0;

	for (size_t j = 0; p->vma_stage && j < p->mm->n_vmas && !ret; j++) {
		const VmaEntry *v = p->mm->vmas[j];
		uint64_t len = v->end - v->start, to = ctx->tree->premap_start + p->vma_slot[j];
		struct stage_vma *sv;
		void *m;

		if (!p->vma_stage[j])
			continue;
		sv = find(s, p->pid, v->start, v->end);
		m = sv ? mremap((void *)(uintptr_t)sv->addr, len, len,
				MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(uintptr_t)to)
		       : MAP_FAILED;
		if (m == MAP_FAILED) {
			/* The restorer maps and fills it as without staging. */
			pr_warn("pid %d: staged vma 0x%llx-0x%llx not moved: %s\n", p->pid,
				(unsigned long long)v->start, (unsigned long long)v->end,
				strerror(errno));
			p->vma_slot[j] = COW_NO_SLOT;
			p->vma_stage[j] = 0;
			continue;
		}
		sv->addr = 0;
		/* Staged read-write, the slot must be what premap_vma()
		 * maps: the restorer only mprotects a VMA whose prot
		 * differs from that, so an rwx one (a JIT's code cache)
		 * would otherwise stay rw-. */
		if (mprotect(m, len, v->prot | PROT_READ | PROT_WRITE)) {
			ret = -errno;
			pr_perror("pid %d: can't give the staged vma 0x%llx-0x%llx its protection",
				  p->pid, (unsigned long long)v->start,
				  (unsigned long long)v->end);
			break;
		}
		ret = finish_slot(ctx, j, s);
		s->used_vmas++;
		s->used_bytes += len;
	}
	return ret;
}

int restore_stage_place(struct restore_tree *t, struct restore_stage *s)
{
	int ret = 0;

	for (size_t i = 0; i < t->nr && !ret; i++)
		if (t->ctx[i].plan.pid)
			ret = place_task(&t->ctx[i], s);
	for (size_t i = 0; i < s->nr; i++)
		s->unused_vmas += !!s->v[i].addr;
	/* Whatever the tree does not take goes before any fork. */
	restore_stage_drop(s);
	if (s->used_vmas)
		pr_info("Staging of round %u: %llu vmas (%llu MiB) moved into place, %llu pages "
			"of the dump filled over them, %llu dropped, %llu kept\n",
			s->round, (unsigned long long)s->used_vmas,
			(unsigned long long)(s->used_bytes >> 20),
			(unsigned long long)s->filled_pages, (unsigned long long)s->zapped_pages,
			(unsigned long long)s->moved_pages);
	return ret;
}
