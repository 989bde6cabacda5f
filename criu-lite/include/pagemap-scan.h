/* PAGEMAP_SCAN (Linux >= 6.7) over a process's /proc/PID/pagemap: one
 * ioctl returns the regions of pages in some categories, so a range with
 * no page tables costs nothing.  Shared by the dump's page path
 * (page-xfer.c) and the pagemap-scan dirty tracker. */
#ifndef LMPROC_PAGEMAP_SCAN_H
#define LMPROC_PAGEMAP_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uapi-compat.h"

/* What one walk asks for (struct pm_scan_arg's flags and masks). */
struct pm_scan {
	int fd;			/* /proc/PID/pagemap */
	pid_t pid;		/* for messages */
	uint64_t flags;
	uint64_t category_mask;
	uint64_t anyof_mask;
	uint64_t return_mask;
};

/* One PAGEMAP_SCAN of [*START, END): at most NR regions into VEC holding
 * at most MAX_PAGES pages in all (0: no limit); *START moves to where the
 * walk stopped.  The number of regions, or -errno: -EPERM (a range the
 * tracker did not register, with PM_SCAN_CHECK_WPASYNC) is not logged. */
long pm_scan_step(const struct pm_scan *s, uint64_t *start, uint64_t end, uint64_t max_pages,
		  struct page_region *vec, size_t nr);

/* The pages present or swapped out in [START, END) into *PAGES. */
int pm_scan_resident(int fd, pid_t pid, uint64_t start, uint64_t end, uint64_t *pages);

/* Whether the page path finds pages with PAGEMAP_SCAN: the kerndat probe
 * (KD_PAGEMAP_SCAN), run once per run; LMPROC_FAULT=no-pagemap-scan
 * makes it say no, for the fallback's tests and measures. */
bool pm_scan_usable(void);

#endif
