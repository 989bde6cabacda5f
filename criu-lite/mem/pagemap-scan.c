/* Owns the PAGEMAP_SCAN walk of another process's pagemap (Linux >= 6.7):
 * the ioctl, its progress check, and whether the page path may use it.
 * The page path asks it for present and swapped pages, the pagemap-scan
 * tracker for written ones. */
#include <errno.h>
#include <sys/ioctl.h>

#include "common.h"
#include "fault.h"
#include "kerndat.h"
#include "log.h"
#include "pagemap-scan.h"

#define RESIDENT_VEC 256

long pm_scan_step(const struct pm_scan *s, uint64_t *start, uint64_t end, uint64_t max_pages,
		  struct page_region *vec, size_t nr)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = s->flags,
		.start = *start,
		.end = end,
		.vec = (uint64_t)(uintptr_t)vec,
		.vec_len = nr,
		.max_pages = max_pages,
		.category_mask = s->category_mask,
		.category_anyof_mask = s->anyof_mask,
		.return_mask = s->return_mask,
	};
	long n = ioctl(s->fd, PAGEMAP_SCAN, &arg);

	/* A kernel before 6.14 knows no PAGE_IS_GUARD (EINVAL), and so
	 * reports no guard page: asked again without it. */
	if (n < 0 && errno == EINVAL && (arg.return_mask & PAGE_IS_GUARD)) {
		arg.return_mask &= ~PAGE_IS_GUARD;
		n = ioctl(s->fd, PAGEMAP_SCAN, &arg);
	}
	if (n < 0 && errno == EPERM)
		return -EPERM;
	if (n < 0) {
		pr_perror("PAGEMAP_SCAN of pid %d at 0x%lx failed", s->pid, (unsigned long)*start);
		return -errno;
	}
	/* A full VEC or MAX_PAGES stops the walk early, never before START. */
	if (arg.walk_end <= *start) {
		pr_err("PAGEMAP_SCAN of pid %d made no progress at 0x%lx\n", s->pid,
		       (unsigned long)*start);
		return -EIO;
	}
	*start = arg.walk_end;
	return n;
}

int pm_scan_resident(int fd, pid_t pid, uint64_t start, uint64_t end, uint64_t *pages)
{
	const struct pm_scan s = {
		.fd = fd,
		.pid = pid,
		.anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};
	struct page_region vec[RESIDENT_VEC];

	*pages = 0;
	while (start < end) {
		long n = pm_scan_step(&s, &start, end, 0, vec, RESIDENT_VEC);

		if (n < 0)
			return n;
		for (long i = 0; i < n; i++)
			*pages += (vec[i].end - vec[i].start) / PAGE_SIZE;
	}
	return 0;
}

bool pm_scan_usable(void)
{
	static int usable = -1;
	struct kerndat kd;

	if (usable >= 0)
		return usable;
	if (fault_injected("no-pagemap-scan")) {
		usable = 0;
		return false;
	}
	kd_probe_pagemap_scan(&kd);
	usable = kd.feat[KD_PAGEMAP_SCAN].ok;
	if (!usable)
		pr_info("PAGEMAP_SCAN is unavailable (%s): pages are found by reading pagemap\n",
			kd.feat[KD_PAGEMAP_SCAN].why);
	return usable;
}
