/* The soft-dirty tracker: /proc/PID/clear_refs = 4 write-protects every
 * page, pagemap bit 55 says which were written since.  Needs
 * CONFIG_MEM_SOFT_DIRTY, which fails silently where it is missing (the
 * write to clear_refs succeeds, bit 55 never appears), so availability is
 * decided by kerndat's experiment, never by this file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "dirty-track.h"
#include "log.h"
#include "soft-dirty.h"

#define PME_CHUNK 4096

static bool sd_trackable(const struct vma *v)
{
	return vma_has_dumpable_pages(v);
}

static int clear_soft_dirty(pid_t pid)
{
	char path[64];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/clear_refs", pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "4", 1) != 1) {
		pr_perror("Can't clear the soft-dirty bits of pid %d", pid);
		ret = -errno;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

int soft_dirty_ranges(const uint64_t *pme, size_t nr, uint64_t start, struct range_set *out,
		      uint64_t *pages)
{
	for (size_t i = 0; i < nr; i++) {
		uint64_t va = start + i * PAGE_SIZE;
		int ret;

		if (!(pme[i] & PME_SOFT_DIRTY))
			continue;
		ret = range_set_add(out, va, va + PAGE_SIZE);
		if (ret)
			return ret;
		(*pages)++;
	}
	return 0;
}

static int sd_collect(struct dirty_tracker *t, const struct vma *v, struct range_set *out)
{
	cleanup_free uint64_t *pme = malloc(PME_CHUNK * sizeof(*pme));
	cleanup_close int fd = -1;
	uint64_t ts = now_us();
	char path[64];
	int ret = 0;

	if (!pme)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open %s", path);
		return -errno;
	}
	for (uint64_t a = v->start; a < v->end && !ret;) {
		size_t nr = min((v->end - a) / PAGE_SIZE, (uint64_t)PME_CHUNK);
		ssize_t n = pread(fd, pme, nr * sizeof(*pme), a / PAGE_SIZE * sizeof(*pme));

		if (n != (ssize_t)(nr * sizeof(*pme))) {
			pr_perror("Can't read the pagemap of pid %d at 0x%lx", t->pid,
				  (unsigned long)a);
			return -EIO;
		}
		ret = soft_dirty_ranges(pme, nr, a, out, &t->pages_dirty);
		a += nr * PAGE_SIZE;
	}
	t->collect_us += now_us() - ts;
	return ret;
}

static int sd_finish(struct dirty_tracker *t)
{
	return clear_soft_dirty(t->pid);
}

static int sd_arm(struct dirty_tracker *t, struct parasite_ctl *ctl,
		  const struct vm_area_list *vl)
{
	(void)ctl;
	(void)vl;
	t->nr_fds = 0;
	return clear_soft_dirty(t->pid);
}

/* New VMAs carry VM_SOFTDIRTY: all their pages read as dirty until the
 * next clear, which finish() does for the whole process. */
static int sd_extend(struct dirty_tracker *t, struct parasite_ctl *ctl,
		     const struct vm_area_list *vl)
{
	(void)t;
	(void)ctl;
	(void)vl;
	return 0;
}

static void sd_release(struct dirty_tracker *t)
{
	(void)t;
}

const struct dirty_tracker_ops soft_dirty_tracker_ops = {
	.name = "soft-dirty",
	.backend = TRACK_SOFT_DIRTY,
	.arm = sd_arm,
	.extend = sd_extend,
	.collect = sd_collect,
	.finish = sd_finish,
	.trackable = sd_trackable,
	.release = sd_release,
};
