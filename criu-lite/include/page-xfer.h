/* Moving the target's pages into pagemap-PID.img + pages-PID.img. */
#ifndef LMPROC_PAGE_XFER_H
#define LMPROC_PAGE_XFER_H

#include <stdint.h>
#include <sys/types.h>

#include "dirty-track.h"
#include "mem.h"
#include "opts.h"

struct parasite_ctl;
struct cow_parent;

struct page_xfer_stats {
	uint64_t pages_scanned;		/* present or swapped pages looked at */
	uint64_t pages_zero;		/* left out: all zero, anonymous */
	uint64_t pages_written;
	uint64_t pages_skipped_parent;	/* unchanged since the parent round */
	uint64_t pages_shared_task;	/* the parent process's (mem-cow.c) */
	uint64_t scan_us;		/* finding the pages (PAGEMAP_SCAN or pagemap) */
	uint64_t memdump_us;		/* reading the target's memory */
	uint64_t memwrite_us;		/* writing the pages image */
};

/* What a round after the first dumps: VMAs marked whole are dumped like
 * in a full dump; of the others, the pages in DIRTY that exist now are
 * copied and the pages in PARENT outside DIRTY become in_parent
 * entries. */
struct page_plan {
	const bool *whole;		/* per VMA of the list */
	const struct range_set *dirty;
	const struct range_set *parent;
	bool running;			/* pre-dump: the task runs during the copy */
	/* A dump: the parent process, whose pages this one may share. */
	const struct cow_parent *cow;
	/* The process has a parent or children in the tree: its private
	 * anonymous pages are read without a pin (page-xfer.c, read_runs). */
	bool keep_shared;
};

/* Dumps every page of VL that must be saved (PLAN NULL: all of them).
 * PATH_READ copies with process_vm_readv (CTL may be NULL); PATH_SPLICE
 * needs a live parasite in CTL and a frozen task. */
int dump_pages(int dfd, pid_t pid, const struct vm_area_list *vl, enum page_path path,
	       struct parasite_ctl *ctl, const struct page_plan *plan,
	       struct page_xfer_stats *st);

#endif
