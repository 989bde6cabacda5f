/* The ebpf tracker: the pagemap-scan tracker's protection and dirty set,
 * plus the page-fault program of pftrack.c watching the faults that
 * protection causes, for the dirty rate and the hot pages.  The dump set
 * stays the scan's: writes through /proc/PID/mem or process_vm_writev
 * fire no fault tracepoint (docs/ebpf-tracker.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dirty-track.h"
#include "log.h"
#include "pftrack.h"

static int ebpf_attach_fds(struct dirty_tracker *t)
{
	int n = pftrack_fds(t->pft, t->fds + t->nr_fds, TRACK_MAX_FDS - t->nr_fds);

	if (n < 0)
		return n;
	t->nr_fds += n;
	return 0;
}

static int ebpf_arm(struct dirty_tracker *t, struct parasite_ctl *ctl,
		    const struct vm_area_list *vl)
{
	int ret = pagemap_scan_tracker_ops.arm(t, ctl, vl);

	if (ret)
		return ret;
	ret = pftrack_open(t->pid, &t->pft);
	if (ret) {
		pr_err("Can't attach the eBPF page-fault tracker to pid %d: %s\n", t->pid,
		       strerror(-ret));
		return ret;
	}
	return ebpf_attach_fds(t);
}

/* fds[0] is the uffd, the program's follow. */
static int ebpf_resume(struct dirty_tracker *t)
{
	int ret;

	if (t->nr_fds != 1 + PFTRACK_NR_FDS) {
		pr_err("The keeper holds %d fds, not an ebpf tracker's %d\n", t->nr_fds,
		       1 + PFTRACK_NR_FDS);
		return -EINVAL;
	}
	ret = pftrack_reopen_from_fds(t->pid, t->fds + 1, PFTRACK_NR_FDS, &t->pft);
	if (ret)
		pr_err("Can't take the eBPF tracker of pid %d back: %s\n", t->pid, strerror(-ret));
	return ret;
}

static int ebpf_collect(struct dirty_tracker *t, const struct vma *v, struct range_set *out)
{
	return pagemap_scan_tracker_ops.collect(t, v, out);
}

static int ebpf_extend(struct dirty_tracker *t, struct parasite_ctl *ctl,
		       const struct vm_area_list *vl)
{
	return pagemap_scan_tracker_ops.extend(t, ctl, vl);
}

/* Reads what the program saw since the previous round, in the same frozen
 * window as the scans. */
static int ebpf_finish(struct dirty_tracker *t)
{
	struct range_set seen = {};
	struct pftrack_stats st;
	int ret;

	if (!t->pft)
		return 0;
	memset(&st, 0, sizeof(st));
	ret = t->last_round ? pftrack_totals(t->pft, &st) : pftrack_drain(t->pft, &seen, NULL, &st);
	range_set_free(&seen);
	if (ret)
		return ret;
	if (st.dropped)
		pr_warn("pid %d: the eBPF tracker dropped %lu faults (its map is full)\n", t->pid,
			(unsigned long)st.dropped);
	t->rate_pps = st.rate_pps;
	t->fault_pages = st.pages;
	t->write_faults = st.write_faults;
	pr_debug("pid %d: eBPF tracker: %lu write faults, %.0f pages/s\n", t->pid,
		 (unsigned long)st.write_faults, st.rate_pps);
	return 0;
}

static bool ebpf_trackable(const struct vma *v)
{
	return pagemap_scan_tracker_ops.trackable(v);
}

static void ebpf_release(struct dirty_tracker *t)
{
	if (t->pft)
		pftrack_close(t->pft);
	t->pft = NULL;
	pagemap_scan_tracker_ops.release(t);
}

const struct dirty_tracker_ops ebpf_tracker_ops = {
	.name = "ebpf",
	.backend = TRACK_EBPF,
	.arm = ebpf_arm,
	.extend = ebpf_extend,
	.collect = ebpf_collect,
	.finish = ebpf_finish,
	.resume = ebpf_resume,
	.trackable = ebpf_trackable,
	.release = ebpf_release,
};
