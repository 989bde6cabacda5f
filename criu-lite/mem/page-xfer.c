/* Owns the dump's page path: finds the pages to save with PAGEMAP_SCAN
 * (or, where the kernel lacks it, by reading pagemap entry by entry), copies
 * them out by process_vm_readv or through the parasite's vmsplice, and
 * writes the pagemap and pages images.  Never writes to the target. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "common.h"
#include "image.h"
#include "infect.h"
#include "log.h"
#include "mem-cow.h"
#include "page-xfer.h"
#include "progress.h"
#include "pagemap-scan.h"

#include "pagemap.pb-c.h"
#include "pstree.h"

#define PME_PRESENT (1ULL << 63)
#define PME_SWAP (1ULL << 62)
#define PME_FILE (1ULL << 61)
/* A guard page (MADV_GUARD_INSTALL): PM_GUARD_REGION of
 * Documentation/admin-guide/mm/pagemap.rst (6.14), the pagemap side of
 * PAGEMAP_SCAN's PAGE_IS_GUARD.  It has no page: reading it faults, and
 * mem.c saves where it is. */
#define PME_GUARD (1ULL << 58)

/* Pages per batch of the read path.  Copy and write overlap (struct
 * page_pipeline): 512 KiB batches in a ring of 4 measured best here (1 GiB
 * into tmpfs frozen 250-256 ms; 256 KiB: 277-283 ms, 1 MiB about the
 * same as 512 KiB; without the overlap 256 KiB was best at 408-422 ms).
 * The splice path is bounded by the pipe instead (pipe-max-size is 1 MiB
 * without CAP_SYS_RESOURCE, KERNEL.md). */
#define READ_BATCH_PAGES 128
#define MAX_RUNS 512
/* pagemap entries read at once */
#define PAGEMAP_CHUNK 4096

struct page_run {
	uint64_t start;
	uint64_t nr;
};

/* Where an entry's data is. */
enum pm_src {
	PM_DATA,		/* in this round's pages image */
	PM_PARENT_ROUND,	/* in_parent: an earlier round's */
	PM_PARENT_TASK,		/* in_parent_task: the parent process's page */
};

/* A pagemap entry of the VMA being dumped. */
struct pm_entry {
	uint64_t vaddr;
	uint64_t nr;
	enum pm_src src;
};

/* Entries of one VMA are kept until the VMA is done: in_parent entries
 * are noted before the copied pages between them, and the image wants
 * them in address order. */
struct page_writer {
	struct cr_img *pagemap;
	struct cr_img *pages;	/* its checksum follows every byte written */
	int pages_fd;
	struct pm_entry *ents;
	size_t nr_ents;
	size_t cap_ents;
	/* Segments of the batch being written: at most one per page. */
	struct iovec iov[READ_BATCH_PAGES];
	int nr_iov;
	struct page_xfer_stats *st;
};

static int note_run(struct page_writer *w, uint64_t vaddr, uint64_t nr, enum pm_src src)
{
	struct pm_entry *last = w->nr_ents ? &w->ents[w->nr_ents - 1] : NULL;

	if (last && last->src == src && last->vaddr + last->nr * PAGE_SIZE == vaddr) {
		last->nr += nr;
		return 0;
	}
	if (w->nr_ents == w->cap_ents) {
		size_t cap = w->cap_ents ? w->cap_ents * 2 : 256;
		struct pm_entry *e = realloc(w->ents, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		w->ents = e;
		w->cap_ents = cap;
	}
	w->ents[w->nr_ents++] = (struct pm_entry){ vaddr, nr, src };
	return 0;
}

static int pm_entry_cmp(const void *a, const void *b)
{
	const struct pm_entry *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static int write_entry(struct page_writer *w, const struct pm_entry *e)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;
	uint64_t left = e->nr, vaddr = e->vaddr;
	int ret = 0;

	/* nr_pages is 32 bits wide. */
	while (left && !ret) {
		pe.vaddr = vaddr;
		pe.nr_pages = min(left, (uint64_t)UINT32_MAX);
		pe.has_in_parent = pe.in_parent = e->src == PM_PARENT_ROUND;
		pe.has_in_parent_task = pe.in_parent_task = e->src == PM_PARENT_TASK;
		ret = img_write_msg(w->pagemap, &pe.base);
		vaddr += (uint64_t)pe.nr_pages * PAGE_SIZE;
		left -= pe.nr_pages;
	}
	return ret;
}

/* Writes the VMA's entries in address order, merging neighbours.  Data
 * entries are already in address order among themselves, as their pages
 * are in the pages image. */
static int flush_entries(struct page_writer *w)
{
	struct pm_entry cur;
	int ret = 0;

	if (!w->nr_ents)
		return 0;
	qsort(w->ents, w->nr_ents, sizeof(*w->ents), pm_entry_cmp);
	cur = w->ents[0];
	for (size_t i = 1; i < w->nr_ents && !ret; i++) {
		const struct pm_entry *e = &w->ents[i];

		if (e->src == cur.src && cur.vaddr + cur.nr * PAGE_SIZE == e->vaddr) {
			cur.nr += e->nr;
			continue;
		}
		ret = write_entry(w, &cur);
		cur = *e;
	}
	if (!ret)
		ret = write_entry(w, &cur);
	w->nr_ents = 0;
	return ret;
}

static int note_pages(struct page_writer *w, uint64_t vaddr, uint64_t nr)
{
	return note_run(w, vaddr, nr, PM_DATA);
}

static bool page_is_zero(const void *page)
{
	const uint64_t *p = page;
	uint64_t acc = 0;

	/* Most pages that hold data say so in their first bytes. */
	if (p[0] | p[1] | p[PAGE_SIZE / sizeof(*p) - 1])
		return false;
	for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
		acc |= p[i];
	return acc == 0;
}

/* /proc/PID/pagemap, read ahead in chunks: batches are much smaller than
 * a chunk. */
struct pme_cache {
	int fd;
	uint64_t start;
	uint64_t nr;
	uint64_t e[PAGEMAP_CHUNK];
};

/* The entries from ADDR on, *NR of them (none past END). */
static const uint64_t *pme_at(struct pme_cache *c, uint64_t addr, uint64_t end, uint64_t *nr)
{
	uint64_t off;

	if (addr < c->start || addr >= c->start + c->nr * PAGE_SIZE) {
		uint64_t n = min((end - addr) / PAGE_SIZE, (uint64_t)PAGEMAP_CHUNK);
		ssize_t got = pread(c->fd, c->e, n * sizeof(c->e[0]),
				    addr / PAGE_SIZE * sizeof(c->e[0]));

		if (got < 0) {
			pr_perror("Can't read pagemap at 0x%lx", (unsigned long)addr);
			c->nr = 0;
			return NULL;
		}
		if (got != (ssize_t)(n * sizeof(c->e[0]))) {
			/* The process is exiting: its caller says so. */
			pr_info("pagemap ends at 0x%lx: the memory is gone\n",
			       (unsigned long)(addr + got / sizeof(c->e[0]) * PAGE_SIZE));
			c->nr = 0;
			return NULL;
		}
		c->start = addr;
		c->nr = n;
	}
	off = (addr - c->start) / PAGE_SIZE;
	*nr = min(c->nr - off, (end - addr) / PAGE_SIZE);
	return c->e + off;
}

/* Collects the runs of pages in [*addr, hi) of V that must be saved,
 * until the batch is full; *addr tells where it stopped. */
static int scan_pagemap(struct pme_cache *pmc, const struct vma *v, uint64_t *addr, uint64_t hi,
			uint64_t batch, struct page_run *runs, int *nr_runs, uint64_t *nr_pages,
			struct page_xfer_stats *st)
{
	uint64_t want = batch - *nr_pages;
	bool file_private = v->kind == VMA_KIND__VMA_FILE_PRIVATE;
	uint64_t npages;
	/* Read ahead to the end of the VMA: windows inside it are many. */
	const uint64_t *buf = pme_at(pmc, *addr, v->end, &npages);

	if (!buf)
		return -EIO;
	npages = min(npages, (hi - *addr) / PAGE_SIZE);
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t pme = buf[i];
		uint64_t va = *addr + i * PAGE_SIZE;
		bool save;

		if (!want || *nr_runs == MAX_RUNS) {
			*addr = va;
			return 0;
		}
		if (!(pme & (PME_PRESENT | PME_SWAP)) || (pme & PME_GUARD))
			continue;
		st->pages_scanned++;
		/* In a private file mapping only the copied-on-write pages
		 * differ from the file. */
		save = (pme & PME_SWAP) || !(file_private && (pme & PME_FILE));
		if (!save)
			continue;
		if (*nr_runs && runs[*nr_runs - 1].start + runs[*nr_runs - 1].nr * PAGE_SIZE == va) {
			runs[*nr_runs - 1].nr++;
		} else {
			runs[*nr_runs].start = va;
			runs[*nr_runs].nr = 1;
			(*nr_runs)++;
		}
		(*nr_pages)++;
		want--;
	}
	*addr += npages * PAGE_SIZE;
	return 0;
}

/* Whether the pages of V in a region of CATEGORIES are saved: in a private
 * file mapping only the copied-on-write pages differ from the file;
 * swapped pages are saved either way. */
static bool region_saved(const struct vma *v, uint64_t categories)
{
	/* A guard page is a swap-type entry with no page behind it:
	 * mm.guards carries it (mem.c). */
	if (categories & PAGE_IS_GUARD)
		return false;
	if (categories & PAGE_IS_SWAPPED)
		return true;
	return !(v->kind == VMA_KIND__VMA_FILE_PRIVATE && (categories & PAGE_IS_FILE));
}

/* scan_pagemap() with PAGEMAP_SCAN: one call per batch returns the
 * regions of present and swapped pages, so the holes between them (an
 * untouched reservation of terabytes) cost nothing. */
static int scan_regions(const struct pm_scan *scan, const struct vma *v, uint64_t *addr,
			uint64_t hi, uint64_t batch, struct page_run *runs, int *nr_runs,
			uint64_t *nr_pages, struct page_xfer_stats *st)
{
	struct page_region vec[MAX_RUNS];
	long n = pm_scan_step(scan, addr, hi, batch - *nr_pages, vec, MAX_RUNS - *nr_runs);

	if (n < 0)
		return n;
	for (long i = 0; i < n; i++) {
		uint64_t nr = (vec[i].end - vec[i].start) / PAGE_SIZE;
		struct page_run *last = *nr_runs ? &runs[*nr_runs - 1] : NULL;

		st->pages_scanned += nr;
		if (!region_saved(v, vec[i].categories))
			continue;
		*nr_pages += nr;
		if (last && last->start + last->nr * PAGE_SIZE == vec[i].start) {
			last->nr += nr;
			continue;
		}
		runs[(*nr_runs)++] = (struct page_run){ vec[i].start, nr };
	}
	return 0;
}

/* Reads runs through /proc/PID/mem, which may force its way through
 * PROT_NONE.  While the task RUNS (pre-dump) it may unmap memory under
 * us: such a run is marked not OK and left out; the change of the VMA
 * or its write makes the next round copy it. */
static int read_runs_mem(pid_t pid, int mem_fd, const struct page_run *runs, int nr_runs,
			 char *buf, bool running, bool *ok)
{
	for (int i = 0; i < nr_runs; i++) {
		size_t len = runs[i].nr * PAGE_SIZE;
		ssize_t n = pread(mem_fd, buf, len, runs[i].start);

		buf += len;
		if (n == (ssize_t)len)
			continue;
		if (running) {
			pr_debug("pid %d: 0x%lx vanished while being copied\n", pid,
				 (unsigned long)runs[i].start);
			ok[i] = false;
			continue;
		}
		pr_perror("Can't read pid %d memory at 0x%lx", pid, (unsigned long)runs[i].start);
		return -EIO;
	}
	return 0;
}

static int read_runs(pid_t pid, int mem_fd, const struct vma *v, const struct page_run *runs,
		     int nr_runs, char *buf, uint64_t nr_pages, bool running, bool keep_shared,
		     bool *ok)
{
	struct iovec local = { .iov_base = buf, .iov_len = nr_pages * PAGE_SIZE };
	struct iovec remote[MAX_RUNS];
	ssize_t n;

	/* process_vm_readv does not read through PROT_NONE or write-only
	 * mappings; /proc/PID/mem does (FOLL_FORCE).  process_vm_readv pins
	 * the pages, and a pin gives the process its own copy of a page it
	 * shares copy-on-write (Linux >= 5.19, FAULT_FLAG_UNSHARE): the
	 * parent of a fork would lose what it shares with its children, in
	 * the tree left running and for the children's dump (mem-cow.c).
	 * /proc/PID/mem only takes references. */
	if (!(v->prot & PROT_READ) || (keep_shared && v->kind == VMA_KIND__VMA_ANON_PRIVATE))
		return read_runs_mem(pid, mem_fd, runs, nr_runs, buf, running, ok);
	for (int i = 0; i < nr_runs; i++) {
		remote[i].iov_base = (void *)runs[i].start;
		remote[i].iov_len = runs[i].nr * PAGE_SIZE;
	}
	n = process_vm_readv(pid, &local, 1, remote, nr_runs, 0);
	if (n == (ssize_t)local.iov_len)
		return 0;
	if (running)
		return read_runs_mem(pid, mem_fd, runs, nr_runs, buf, running, ok);
	pr_perror("Can't read pid %d memory at 0x%lx (%zd of %zu bytes)", pid,
		  (unsigned long)runs[0].start, n, local.iov_len);
	return -EIO;
}

/* Queues NR pages at DATA for the batch's one writev(). */
static int emit_segment(struct page_writer *w, uint64_t vaddr, uint64_t nr, const char *data)
{
	int ret = note_pages(w, vaddr, nr);

	if (ret)
		return ret;
	if (w->nr_iov && (char *)w->iov[w->nr_iov - 1].iov_base + w->iov[w->nr_iov - 1].iov_len ==
				 data) {
		w->iov[w->nr_iov - 1].iov_len += nr * PAGE_SIZE;
	} else {
		w->iov[w->nr_iov].iov_base = (void *)data;
		w->iov[w->nr_iov++].iov_len = nr * PAGE_SIZE;
	}
	w->st->pages_written += nr;
	return 0;
}

static int flush_iov(struct page_writer *w)
{
	struct iovec *iov = w->iov;
	int nr = w->nr_iov;

	w->nr_iov = 0;
	/* Summed here, where the batch is still in cache from the copy. */
	for (int i = 0; i < nr; i++)
		if (img_raw_sum(w->pages, iov[i].iov_base, iov[i].iov_len))
			return -ENOMEM;
	while (nr) {
		ssize_t n = writev(w->pages_fd, iov, nr);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("Can't write the pages image");
			return -errno;
		}
		while (nr && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			nr--;
		}
		if (nr) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

/* Writes one run's pages from DATA, leaving out zero pages where that is
 * allowed. */
static int write_run(struct page_writer *w, bool skip_zero, const struct page_run *run,
		     const char *data)
{
	uint64_t seg = 0, seg_nr = 0;
	int ret;

	if (!skip_zero)
		return emit_segment(w, run->start, run->nr, data);
	for (uint64_t j = 0; j < run->nr; j++) {
		if (page_is_zero(data + j * PAGE_SIZE)) {
			w->st->pages_zero++;
			if (seg_nr) {
				ret = emit_segment(w, run->start + seg * PAGE_SIZE, seg_nr,
						   data + seg * PAGE_SIZE);
				if (ret)
					return ret;
				seg_nr = 0;
			}
			continue;
		}
		if (!seg_nr)
			seg = j;
		seg_nr++;
	}
	if (!seg_nr)
		return 0;
	return emit_segment(w, run->start + seg * PAGE_SIZE, seg_nr, data + seg * PAGE_SIZE);
}

static int write_batch(struct page_writer *w, const struct vma *v, const struct page_run *runs,
		       int nr_runs, const char *buf, const bool *ok)
{
	bool skip_zero = vma_zero_pages_skippable(v);
	uint64_t t = now_us();
	int ret = 0;

	for (int i = 0; i < nr_runs && !ret; i++) {
		if (ok[i])
			ret = write_run(w, skip_zero, &runs[i], buf);
		buf += runs[i].nr * PAGE_SIZE;
	}
	if (!ret)
		ret = flush_iov(w);
	w->nr_iov = 0;
	w->st->memwrite_us += now_us() - t;
	return ret;
}

/* The read path overlaps copying and writing: lmproc's main thread reads
 * batch N+1 out of the target while a writer thread checks batch N for
 * zero pages and writes it (copy ~10 GB/s and write(2) ~6 GB/s here,
 * KERNEL.md: in turn they took the sum of both).  The writer alone
 * touches the page_writer's entries while batches are in flight; the ring
 * is drained before anyone else does (in_parent notes, flush_entries). */
#define NR_SLOTS 4

struct batch {
	const struct vma *v;
	struct page_run runs[MAX_RUNS];
	bool ok[MAX_RUNS];
	int nr_runs;
	char *buf;
	uint64_t populated;		/* pages of buf populated so far */
};

struct page_pipeline {
	struct page_writer *w;
	struct batch slots[NR_SLOTS];
	unsigned int head;		/* next slot the reader fills */
	unsigned int tail;		/* next slot the writer writes */
	unsigned int submitted;
	bool started;
	bool stop;
	int err;			/* the writer's first error */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static int write_slot(struct page_writer *w, const struct batch *b)
{
	return write_batch(w, b->v, b->runs, b->nr_runs, b->buf, b->ok);
}

static void *writer_main(void *arg)
{
	struct page_pipeline *pp = arg;

	pthread_mutex_lock(&pp->lock);
	for (;;) {
		struct batch *b;
		int ret;

		while (pp->tail == pp->head && !pp->stop)
			pthread_cond_wait(&pp->cond, &pp->lock);
		if (pp->tail == pp->head)
			break;
		b = &pp->slots[pp->tail % NR_SLOTS];
		pthread_mutex_unlock(&pp->lock);
		/* After an error the rest is dropped, not written. */
		ret = pp->err ? 0 : write_slot(pp->w, b);
		pthread_mutex_lock(&pp->lock);
		if (ret && !pp->err)
			pp->err = ret;
		pp->tail++;
		pthread_cond_broadcast(&pp->cond);
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

/* The slot the reader fills next, once the writer is done with it. */
static struct batch *pipeline_slot(struct page_pipeline *pp)
{
	if (pp->started) {
		pthread_mutex_lock(&pp->lock);
		while (pp->head - pp->tail == NR_SLOTS)
			pthread_cond_wait(&pp->cond, &pp->lock);
		pthread_mutex_unlock(&pp->lock);
	}
	return &pp->slots[pp->head % NR_SLOTS];
}

/* The writer thread starts with the second batch of a process: a small
 * one (one batch) does not pay for it.  Signals stay with the main
 * thread. */
static int pipeline_start(struct page_pipeline *pp)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(&pp->thread, NULL, writer_main, pp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		pr_err("Can't start the page writer thread: %s\n", strerror(ret));
		return -ret;
	}
	pp->started = true;
	return 0;
}

static int pipeline_submit(struct page_pipeline *pp)
{
	int ret;

	if (!pp->started && !pp->submitted++)
		return write_slot(pp->w, &pp->slots[pp->head % NR_SLOTS]);
	if (!pp->started) {
		ret = pipeline_start(pp);
		if (ret)
			return ret;
	}
	pthread_mutex_lock(&pp->lock);
	pp->head++;
	ret = pp->err;
	pthread_cond_broadcast(&pp->cond);
	pthread_mutex_unlock(&pp->lock);
	return ret;
}

/* Waits until every batch submitted is written; the writer's error. */
static int pipeline_drain(struct page_pipeline *pp)
{
	int ret;

	if (!pp->started)
		return 0;
	pthread_mutex_lock(&pp->lock);
	while (pp->tail != pp->head)
		pthread_cond_wait(&pp->cond, &pp->lock);
	ret = pp->err;
	pthread_mutex_unlock(&pp->lock);
	return ret;
}

static void pipeline_stop(struct page_pipeline *pp)
{
	if (pp->started) {
		pthread_mutex_lock(&pp->lock);
		pp->stop = true;
		pthread_cond_broadcast(&pp->cond);
		pthread_mutex_unlock(&pp->lock);
		pthread_join(pp->thread, NULL);
		pp->started = false;
	}
	for (int i = 0; i < NR_SLOTS; i++)
		if (pp->slots[i].buf)
			munmap(pp->slots[i].buf, READ_BATCH_PAGES * PAGE_SIZE);
	pthread_mutex_destroy(&pp->lock);
	pthread_cond_destroy(&pp->cond);
}

static int splice_batch(struct page_writer *w, struct parasite_ctl *ctl, const int pipe_fds[2],
			const struct page_run *runs, int nr_runs, uint64_t nr_pages)
{
	struct iovec iov[MAX_RUNS];
	size_t left = nr_pages * PAGE_SIZE;
	uint64_t t = now_us();
	int ret;

	for (int i = 0; i < nr_runs; i++) {
		iov[i].iov_base = (void *)runs[i].start;
		iov[i].iov_len = runs[i].nr * PAGE_SIZE;
	}
	ret = parasite_vmsplice(ctl, pipe_fds[1], iov, nr_runs);
	if (ret)
		return ret;
	w->st->memdump_us += now_us() - t;
	t = now_us();
	while (left) {
		ssize_t n = splice(pipe_fds[0], NULL, w->pages_fd, NULL, left, SPLICE_F_MOVE);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			pr_perror("Can't splice pages into the pages image");
			return n < 0 ? -errno : -EIO;
		}
		left -= n;
	}
	/* Spliced pages never pass through lmproc: summed from the page
	 * cache. */
	ret = img_raw_sum(w->pages, NULL, nr_pages * PAGE_SIZE);
	for (int i = 0; i < nr_runs && !ret; i++)
		ret = note_pages(w, runs[i].start, runs[i].nr);
	w->st->pages_written += nr_pages;
	w->st->memwrite_us += now_us() - t;
	return ret;
}

struct page_source {
	pid_t pid;
	enum page_path path;
	struct parasite_ctl *ctl;
	struct pme_cache pmc;
	bool use_scan;			/* PAGEMAP_SCAN, else pmc */
	struct pm_scan scan;
	int mem_fd;
	int pipe_fds[2];
	struct page_pipeline *pp;	/* the read path's (on both paths) */
	uint64_t batch;
	bool running;			/* the task runs while we copy */
	bool keep_shared;		/* plan->keep_shared */
};

/* Populates a copy buffer in bulk up to NR_PAGES, only as far as it is
 * used: a small process must not pay for what it will not fill, a large
 * one must not take a fault per page (KERNEL.md: 12-23 us each here). */
static void populate_buf(struct batch *b, uint64_t nr_pages)
{
	if (nr_pages <= b->populated)
		return;
	madvise(b->buf + b->populated * PAGE_SIZE, (nr_pages - b->populated) * PAGE_SIZE,
		MADV_POPULATE_WRITE);
	b->populated = nr_pages;
}

static int read_batch(struct page_source *src, const struct vma *v, struct batch *b,
		      uint64_t nr_pages)
{
	if (!b->buf) {
		b->buf = mmap(NULL, READ_BATCH_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b->buf == MAP_FAILED) {
			b->buf = NULL;
			pr_perror("Can't allocate a page buffer");
			return -errno;
		}
	}
	b->v = v;
	memset(b->ok, 1, sizeof(b->ok));
	populate_buf(b, nr_pages);
	return read_runs(src->pid, src->mem_fd, v, b->runs, b->nr_runs, b->buf, nr_pages,
			 src->running, src->keep_shared, b->ok);
}

/* Dumps the pages that exist now in the windows WIN[0..NWIN) of V
 * (sorted, inside V), batching across windows; every batch is written
 * when it returns. */
static int dump_windows(struct page_source *src, struct page_writer *w, const struct vma *v,
			const struct addr_range *win, size_t nwin)
{
	struct page_run splice_runs[MAX_RUNS];
	/* vmsplice reads only what the task could: PROT_NONE and write-only
	 * VMAs take the read path (/proc/PID/mem) on the splice path too. */
	bool splice = src->path == PAGE_PATH_SPLICE && (v->prot & PROT_READ);
	uint64_t batch = splice ? src->batch : READ_BATCH_PAGES;
	size_t wi = 0;
	uint64_t addr = nwin ? win[0].start : 0;
	int ret = 0;

	while (wi < nwin && !ret) {
		struct batch *b = splice ? NULL : pipeline_slot(src->pp);
		struct page_run *runs = b ? b->runs : splice_runs;
		uint64_t nr_pages = 0, t = now_us();
		int nr_runs = 0;

		while (wi < nwin && nr_pages < batch && nr_runs < MAX_RUNS) {
			if (src->use_scan)
				ret = scan_regions(&src->scan, v, &addr, win[wi].end, batch, runs,
						   &nr_runs, &nr_pages, w->st);
			else
				ret = scan_pagemap(&src->pmc, v, &addr, win[wi].end, batch, runs,
						   &nr_runs, &nr_pages, w->st);
			if (ret)
				break;
			if (addr >= win[wi].end && ++wi < nwin)
				addr = win[wi].start;
		}
		w->st->scan_us += now_us() - t;
		t = now_us();
		if (ret || !nr_runs)
			continue;
		progress_pages(nr_pages);
		if (!b) {
			ret = splice_batch(w, src->ctl, src->pipe_fds, runs, nr_runs, nr_pages);
			continue;
		}
		b->nr_runs = nr_runs;
		ret = read_batch(src, v, b, nr_pages);
		w->st->memdump_us += now_us() - t;
		if (!ret)
			ret = pipeline_submit(src->pp);
	}
	if (src->pp) {
		int r = pipeline_drain(src->pp);

		ret = ret ?: r;
	}
	return ret;
}

/* Index of the first range of S that ends after ADDR. */
static size_t range_first(const struct range_set *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The ranges of S inside [lo, hi), clipped; *nr of them (malloc'ed). */
static struct addr_range *clip_ranges(const struct range_set *s, uint64_t lo, uint64_t hi,
				      size_t *nr)
{
	size_t first = range_first(s, lo), n = 0;
	struct addr_range *out;

	while (first + n < s->nr && s->r[first + n].start < hi)
		n++;
	out = malloc((n + 1) * sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i].start = max(lo, s->r[first + i].start);
		out[i].end = min(hi, s->r[first + i].end);
	}
	*nr = n;
	return out;
}

/* Records as in_parent the pages of PARENT in [lo, hi) outside DIRTY. */
/* In a private file mapping a page the parent round copied may be the
 * file's own again without a write: MADV_DONTNEED of a write-protected
 * page leaves a uffd-wp marker, not a written page.  Pages still
 * copied-on-write (present, not the file's) keep the parent's data;
 * absent ones are the file's (no entry); swap entries may be a marker or
 * a swapped copy, so they are copied again (REREAD). */
static int note_parent_cow(struct page_source *src, struct page_writer *w, const struct vma *v,
			   uint64_t a, uint64_t b, struct range_set *reread)
{
	while (a < b) {
		uint64_t n, run = 0;
		const uint64_t *pme = pme_at(&src->pmc, a, v->end, &n);
		int ret;

		if (!pme)
			return -EIO;
		n = min(n, (b - a) / PAGE_SIZE);
		for (uint64_t i = 0; i <= n; i++) {
			bool cow = i < n && (pme[i] & PME_PRESENT) && !(pme[i] & PME_FILE);

			if (i < n && (pme[i] & PME_SWAP)) {
				ret = range_set_add(reread, a + i * PAGE_SIZE, a + (i + 1) * PAGE_SIZE);
				if (ret)
					return ret;
			}
			if (cow) {
				run++;
				continue;
			}
			if (run) {
				ret = note_run(w, a + (i - run) * PAGE_SIZE, run, PM_PARENT_ROUND);
				if (ret)
					return ret;
				w->st->pages_skipped_parent += run;
				run = 0;
			}
		}
		a += n * PAGE_SIZE;
	}
	return 0;
}

static int note_parent(struct page_source *src, struct page_writer *w, const struct vma *v,
		       const struct range_set *parent, const struct addr_range *dirty,
		       size_t nr_dirty, uint64_t lo, uint64_t hi, struct range_set *reread)
{
	size_t d = 0;

	for (size_t i = range_first(parent, lo); i < parent->nr && parent->r[i].start < hi; i++) {
		uint64_t a = max(lo, parent->r[i].start), b = min(hi, parent->r[i].end);

		while (a < b) {
			uint64_t to = b;
			int ret;

			while (d < nr_dirty && dirty[d].end <= a)
				d++;
			if (d < nr_dirty && dirty[d].start <= a) {
				a = min(b, dirty[d].end);
				continue;
			}
			if (d < nr_dirty)
				to = min(b, dirty[d].start);
			if (v->kind == VMA_KIND__VMA_FILE_PRIVATE) {
				ret = note_parent_cow(src, w, v, a, to, reread);
			} else {
				ret = note_run(w, a, (to - a) / PAGE_SIZE, PM_PARENT_ROUND);
				w->st->pages_skipped_parent += (to - a) / PAGE_SIZE;
			}
			if (ret)
				return ret;
			a = to;
		}
	}
	return 0;
}

/* [lo, hi) of an unchanged VMA of a later round: what was written since
 * the parent round is copied, what the parent chain holds is pointed at. */
static int dump_vma_incremental(struct page_source *src, struct page_writer *w,
				const struct vma *v, const struct page_plan *plan, uint64_t lo,
				uint64_t hi)
{
	struct range_set reread = {}, windows = {};
	struct addr_range *dirty;
	size_t nr, i = 0, j = 0;
	int ret;

	dirty = clip_ranges(plan->dirty, lo, hi, &nr);
	if (!dirty)
		return -ENOMEM;
	ret = note_parent(src, w, v, plan->parent, dirty, nr, lo, hi, &reread);
	/* The copies to make: written pages and pages to read again, merged
	 * in address order. */
	while (!ret && (i < nr || j < reread.nr)) {
		if (j == reread.nr || (i < nr && dirty[i].start <= reread.r[j].start)) {
			ret = range_set_add(&windows, dirty[i].start, dirty[i].end);
			i++;
		} else {
			ret = range_set_add(&windows, reread.r[j].start, reread.r[j].end);
			j++;
		}
	}
	if (!ret)
		ret = dump_windows(src, w, v, windows.r, windows.nr);
	range_set_free(&windows);
	range_set_free(&reread);
	free(dirty);
	return ret;
}

static int dump_range(struct page_source *src, struct page_writer *w, const struct vma *v,
		      const struct page_plan *plan, size_t idx, uint64_t lo, uint64_t hi)
{
	struct addr_range win = { lo, hi };

	if (lo >= hi)
		return 0;
	if (plan && !plan->whole[idx])
		return dump_vma_incremental(src, w, v, plan, lo, hi);
	return dump_windows(src, w, v, &win, 1);
}

/* The pages of V still shared with the parent process (mem-cow.c) are
 * in_parent_task entries, whatever the rounds say: the restore gives the
 * child the parent's page by fork.  The rest is dumped as usual. */
static int dump_vma_pages(struct page_source *src, struct page_writer *w, const struct vma *v,
			  const struct page_plan *plan, size_t idx)
{
	struct range_set shared = {};
	uint64_t a = v->start;
	int ret = 0;

	if (plan && plan->cow)
		ret = cow_find_shared(plan->cow, src->pmc.fd, v, &shared);
	for (size_t i = 0; i < shared.nr && !ret; i++) {
		uint64_t nr = (shared.r[i].end - shared.r[i].start) / PAGE_SIZE;

		ret = dump_range(src, w, v, plan, idx, a, shared.r[i].start);
		if (ret)
			break;
		ret = note_run(w, shared.r[i].start, nr, PM_PARENT_TASK);
		w->st->pages_shared_task += nr;
		a = shared.r[i].end;
	}
	range_set_free(&shared);
	if (!ret)
		ret = dump_range(src, w, v, plan, idx, a, v->end);
	/* Runs never span two VMAs: restore maps them one VMA at a time. */
	return ret ?: flush_entries(w);
}

static int open_source(struct page_source *src)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/pagemap", src->pid);
	src->pmc.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (src->pmc.fd < 0) {
		pr_perror("Can't open %s", path);
		return -errno;
	}
	src->use_scan = pm_scan_usable();
	src->scan = (struct pm_scan){
		.fd = src->pmc.fd,
		.pid = src->pid,
		.anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | PAGE_IS_GUARD,
	};
	snprintf(path, sizeof(path), "/proc/%d/mem", src->pid);
	src->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (src->mem_fd < 0) {
		pr_perror("Can't open %s", path);
		return -errno;
	}
	if (src->path == PAGE_PATH_SPLICE) {
		if (pipe2(src->pipe_fds, O_CLOEXEC)) {
			pr_perror("Can't create the page pipe");
			return -errno;
		}
		/* Below 1 MiB (pipe-max-size) the pipe holds fewer pages. */
		int size = fcntl(src->pipe_fds[1], F_SETPIPE_SZ, 1 << 20);

		if (size < 0) {
			pr_perror("Can't grow the page pipe");
			return -errno;
		}
		src->batch = min((uint64_t)size / PAGE_SIZE, (uint64_t)MAX_RUNS);
	} else {
		src->batch = READ_BATCH_PAGES;
	}
	src->pp = calloc(1, sizeof(*src->pp));
	if (!src->pp)
		return -ENOMEM;
	pthread_mutex_init(&src->pp->lock, NULL);
	pthread_cond_init(&src->pp->cond, NULL);
	return 0;
}

static void close_source(struct page_source *src)
{
	if (src->pp) {
		pipeline_stop(src->pp);
		free(src->pp);
	}
	for (int i = 0; i < 2; i++)
		if (src->pipe_fds[i] >= 0)
			close(src->pipe_fds[i]);
	if (src->pmc.fd >= 0)
		close(src->pmc.fd);
	if (src->mem_fd >= 0)
		close(src->mem_fd);
}

int dump_pages(int dfd, pid_t pid, const struct vm_area_list *vl, enum page_path path,
	       struct parasite_ctl *ctl, const struct page_plan *plan, struct page_xfer_stats *st)
{
	struct page_source src = { .pid = pid, .path = path, .ctl = ctl, .pmc.fd = -1,
				   .mem_fd = -1, .pipe_fds = { -1, -1 },
				   .running = plan && plan->running,
				   .keep_shared = plan && plan->keep_shared };
	struct page_writer w = { .st = st, .pages_fd = -1 };
	struct cr_img *pages = NULL;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = open_source(&src);
	if (ret)
		goto out;
	w.pagemap = img_open_write(dfd, IMG_PAGEMAP, pstree_vpid(pid));
	pages = img_open_write(dfd, IMG_PAGES, pstree_vpid(pid));
	if (!w.pagemap || !pages) {
		ret = -EIO;
		goto out;
	}
	w.pages = pages;
	w.pages_fd = pages->fd;
	if (src.pp)
		src.pp->w = &w;
	for (size_t i = 0; i < vl->nr && !ret; i++)
		if (vma_has_dumpable_pages(&vl->vmas[i]))
			ret = dump_vma_pages(&src, &w, &vl->vmas[i], plan, i);
out:
	free(w.ents);
	if (ret) {
		img_discard(w.pagemap);
		img_discard(pages);
	} else {
		ret = img_close(w.pagemap) ?: img_close(pages);
	}
	close_source(&src);
	return ret;
}
