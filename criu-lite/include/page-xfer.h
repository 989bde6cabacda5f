/* Moving the target's pages into pagemap-PID.img + pages-PID.img. */
#ifndef LMPROC_PAGE_XFER_H
#define LMPROC_PAGE_XFER_H

#include <stdint.h>
#include <sys/types.h>

#include "mem.h"
#include "opts.h"

struct parasite_ctl;

struct page_xfer_stats {
	uint64_t pages_scanned;		/* present or swapped pages looked at */
	uint64_t pages_zero;		/* left out: all zero, anonymous */
	uint64_t pages_written;
	uint64_t memdump_us;		/* reading the target's memory */
	uint64_t memwrite_us;		/* writing the pages image */
};

/* Dumps every page of VL that must be saved.  PATH_READ copies with
 * process_vm_readv (CTL may be NULL); PATH_SPLICE needs a live parasite
 * in CTL.  The task must be frozen for the whole call. */
int dump_pages(int dfd, pid_t pid, const struct vm_area_list *vl, enum page_path path,
	       struct parasite_ctl *ctl, struct page_xfer_stats *st);

#endif
