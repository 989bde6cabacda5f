/* The pagemap-scan dirty tracker: a userfaultfd of the target in async
 * write-protect mode, read and re-armed with one PAGEMAP_SCAN per VMA
 * (Linux >= 6.7).  The uffd is created by the target (injected syscall),
 * taken with pidfd_getfd and closed in the target again, so the target's
 * fd table is unchanged; lmproc (or the keeper) holds the only copy. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#include "common.h"
#include "dirty-track.h"
#include "infect.h"
#include "log.h"
#include "pagemap-scan.h"

#define SCAN_VEC 512

/* Only writable VMAs are registered: a read-only one can change only by
 * an mprotect(), which a round sees as a changed VMA and copies whole.
 * Registering changes the VMA's flags, and the kernel then merges it
 * with neighbours it had left apart (libc's read-only text and RELRO
 * parts, measured): the target's maps would differ after a pre-dump. */
static bool pms_trackable(const struct vma *v)
{
	return vma_has_dumpable_pages(v) && (v->prot & PROT_WRITE);
}

static int uffd_take_from_task(struct parasite_ctl *ctl, pid_t pid, int *out)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	long rfd, rc;
	int pidfd, fd = -1, ret;

	ret = parasite_syscall(ctl, &rfd, __NR_userfaultfd,
			       O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, 0, 0, 0, 0, 0);
	if (ret)
		return ret;
	if (rfd < 0) {
		pr_err("Can't create a userfaultfd in pid %d: %s\n", pid, strerror(-rfd));
		return rfd;
	}
	pidfd = pidfd_open(pid, 0);
	if (pidfd >= 0) {
		fd = pidfd_getfd(pidfd, rfd, 0);
		if (fd < 0)
			pr_perror("Can't take the userfaultfd (fd %ld) of pid %d", rfd, pid);
		close(pidfd);
	} else {
		pr_perror("Can't open a pidfd for pid %d", pid);
	}
	ret = parasite_syscall(ctl, &rc, __NR_close, rfd, 0, 0, 0, 0, 0);
	if (!ret && rc < 0)
		ret = rc;
	if (ret || fd < 0) {
		pr_err("Can't move the userfaultfd out of pid %d\n", pid);
		if (fd >= 0)
			close(fd);
		return ret ?: -EIO;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		pr_perror("Can't enable async write-protect tracking on pid %d", pid);
		close(fd);
		return -errno;
	}
	*out = fd;
	return 0;
}

/* Registers V; a VMA the kernel will not track (another uffd owns it, a
 * special mapping) is reported so the caller dumps it whole each round. */
static int register_vma(int uffd, pid_t pid, const struct vma *v)
{
	struct uffdio_register reg = {
		.range = { .start = v->start, .len = v->end - v->start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (!ioctl(uffd, UFFDIO_REGISTER, &reg))
		return 0;
	pr_warn("pid %d: can't track writes at 0x%lx-0x%lx (%s); it is copied whole each round\n",
		pid, (unsigned long)v->start, (unsigned long)v->end, strerror(errno));
	return -errno;
}

/* One PAGEMAP_SCAN pass over [start, end) that reports written pages and
 * (with PROTECT) write-protects them again in the same walk. */
static int scan_written(pid_t pid, int pm_fd, bool protect, uint64_t start, uint64_t end,
			struct range_set *out, uint64_t *pages)
{
	struct page_region vec[SCAN_VEC];
	const struct pm_scan s = {
		.fd = pm_fd,
		.pid = pid,
		.flags = (protect ? PM_SCAN_WP_MATCHING : 0) | PM_SCAN_CHECK_WPASYNC,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};

	while (start < end) {
		/* -EPERM: not registered, the caller dumps it whole. */
		long n = pm_scan_step(&s, &start, end, 0, vec, SCAN_VEC);

		if (n < 0)
			return n;
		for (long i = 0; i < n; i++) {
			int ret = range_set_add(out, vec[i].start, vec[i].end);

			if (ret)
				return ret;
			*pages += (vec[i].end - vec[i].start) / PAGE_SIZE;
		}
	}
	return 0;
}

struct pms_priv {
	int pm_fd;
};

static int pms_open_pagemap(struct dirty_tracker *t)
{
	struct pms_priv *p;
	char path[64];

	if (t->priv)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", t->pid);
	p->pm_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->pm_fd < 0) {
		pr_perror("Can't open %s", path);
		free(p);
		return -errno;
	}
	t->priv = p;
	return 0;
}

static int pms_collect(struct dirty_tracker *t, const struct vma *v, struct range_set *out)
{
	struct pms_priv *p;
	uint64_t ts = now_us();
	int ret = pms_open_pagemap(t);

	if (ret)
		return ret;
	p = t->priv;
	ret = scan_written(t->pid, p->pm_fd, !t->last_round, v->start, v->end, out, &t->pages_dirty);
	t->collect_us += now_us() - ts;
	return ret;
}

/* Arming write-protects the holes of a VMA too (WP_UNPOPULATED puts a
 * marker in each): 28 s and 2 GiB of page tables for an untouched 1 TiB
 * here, frozen.  A VMA whose holes would cost more to arm than its pages
 * cost to copy (a GiB of holes ~28 ms, a GiB of pages into the images
 * ~250 ms: measured) stays untracked and is copied whole each round,
 * which with PAGEMAP_SCAN costs only its resident pages. */
#define ARM_FREE_HOLE_PAGES (1ULL << 18)	/* 1 GiB */
#define ARM_HOLES_PER_PAGE 8

static bool pms_too_sparse(struct dirty_tracker *t, const struct vma *v)
{
	uint64_t pages = (v->end - v->start) / PAGE_SIZE, resident;
	struct pms_priv *p;

	if (pages <= ARM_FREE_HOLE_PAGES || pms_open_pagemap(t))
		return false;
	p = t->priv;
	if (pm_scan_resident(p->pm_fd, t->pid, v->start, v->end, &resident))
		return false;
	if (pages - resident <= ARM_FREE_HOLE_PAGES + ARM_HOLES_PER_PAGE * resident)
		return false;
	pr_info("pid %d: 0x%lx-0x%lx is sparse (%lu of %lu pages resident): copied whole each "
		"round, not tracked\n",
		t->pid, (unsigned long)v->start, (unsigned long)v->end, (unsigned long)resident,
		(unsigned long)pages);
	return true;
}

/* Registers and protects every trackable VMA of VL; a VMA that cannot be
 * registered, or is too sparse to arm, stays untracked (collect() on it
 * fails, and the caller dumps it whole). */
static int pms_extend(struct dirty_tracker *t, struct parasite_ctl *ctl,
		      const struct vm_area_list *vl)
{
	struct range_set discard = {};
	int ret = 0;

	(void)ctl;
	for (size_t i = 0; i < vl->nr && !ret; i++) {
		const struct vma *v = &vl->vmas[i];

		if (!pms_trackable(v) || pms_too_sparse(t, v) ||
		    register_vma(t->fds[0], t->pid, v))
			continue;
		/* The first scan of a newly registered range reports every
		 * page and protects them all: that is the arming. */
		ret = pms_collect(t, v, &discard);
		discard.nr = 0;
	}
	range_set_free(&discard);
	return ret;
}

static int pms_arm(struct dirty_tracker *t, struct parasite_ctl *ctl,
		   const struct vm_area_list *vl)
{
	int ret = uffd_take_from_task(ctl, t->pid, &t->fds[0]);

	if (ret)
		return ret;
	t->nr_fds = 1;
	return pms_extend(t, ctl, vl);
}

static void pms_release(struct dirty_tracker *t)
{
	struct pms_priv *p = t->priv;

	if (p) {
		close(p->pm_fd);
		free(p);
		t->priv = NULL;
	}
}

const struct dirty_tracker_ops pagemap_scan_tracker_ops = {
	.name = "pagemap-scan",
	.backend = TRACK_PAGEMAP_SCAN,
	.arm = pms_arm,
	.extend = pms_extend,
	.collect = pms_collect,
	.trackable = pms_trackable,
	.release = pms_release,
};
