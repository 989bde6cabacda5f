/* Dirty-page tracking between dump rounds (pre-dump): one interface,
 * several backends (dirty-*.c).  A tracker is armed by the first round,
 * kept alive between rounds by the keeper (track-keeper.c) as a set of
 * file descriptors, and asked each round which pages were written since
 * the previous round asked.
 *
 * Correctness rule every backend keeps: a page written after a round's
 * collect() returns is reported by the next round's collect(); collect()
 * re-arms atomically with reporting (docs/dirty-tracking.md). */
#ifndef LMPROC_DIRTY_TRACK_H
#define LMPROC_DIRTY_TRACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mem.h"

struct parasite_ctl;

enum track_backend {
	TRACK_AUTO,
	TRACK_SOFT_DIRTY,
	TRACK_PAGEMAP_SCAN,
	TRACK_EBPF,
};

/* Sorted, non-overlapping, page-aligned [start, end) ranges. */
struct range_set {
	struct addr_range {
		uint64_t start;
		uint64_t end;
	} *r;
	size_t nr;
	size_t cap;
};

int range_set_add(struct range_set *s, uint64_t start, uint64_t end);
void range_set_free(struct range_set *s);

#define TRACK_MAX_FDS 8

struct dirty_tracker {
	const struct dirty_tracker_ops *ops;
	pid_t pid;
	/* The last round: collect() need not protect again, tracking ends
	 * with it (re-protecting costs TLB flushes inside the frozen
	 * window, measured 7-27 ms for 1% of 1 GiB). */
	bool last_round;
	/* Descriptors that hold the tracking state; the keeper keeps them
	 * between rounds.  fds[0] is the backend's main one. */
	int fds[TRACK_MAX_FDS];
	int nr_fds;
	/* Statistics of the last collect(). */
	uint64_t collect_us;
	uint64_t pages_dirty;
	/* The ebpf backend's view of the same period (dirty-ebpf.c). */
	struct pftrack *pft;
	double rate_pps;		/* pages/s becoming dirty, last second */
	uint64_t fault_pages;		/* pages it saw written */
	uint64_t write_faults;
	/* Backend data: live only within one round. */
	void *priv;
};

struct dirty_tracker_ops {
	const char *name;
	enum track_backend backend;
	/* Starts tracking VL of the frozen task: creates the state (FDS)
	 * and protects every trackable page, so the next collect() reports
	 * exactly the pages written after arm() returned. */
	int (*arm)(struct dirty_tracker *t, struct parasite_ctl *ctl,
		   const struct vm_area_list *vl);
	/* Extends tracking to VMAs of VL that are new since the previous
	 * round (they are dumped whole anyway).  Frozen task. */
	int (*extend)(struct dirty_tracker *t, struct parasite_ctl *ctl,
		      const struct vm_area_list *vl);
	/* Adds to OUT the pages of V written since the last arm/collect and
	 * re-protects them (or, for backends that can only re-protect the
	 * whole process, leaves that to finish()).  -EPERM: V is not
	 * tracked, dump it whole.  Frozen task. */
	int (*collect)(struct dirty_tracker *t, const struct vma *v, struct range_set *out);
	/* Ends a round after every collect(); may be NULL. */
	int (*finish)(struct dirty_tracker *t);
	/* Rebuilds what lives beside the fds after the keeper gave them
	 * back; may be NULL. */
	int (*resume)(struct dirty_tracker *t);
	/* Whether V can be tracked at all; untracked VMAs are dumped whole
	 * every round. */
	bool (*trackable)(const struct vma *v);
	void (*release)(struct dirty_tracker *t);
};

const struct dirty_tracker_ops *track_backend_ops(enum track_backend b);
/* Resolves TRACK_AUTO with the kernel's probes; logs why a backend the
 * user asked for is unavailable. */
/* Probes what the kernel offers for tracking, once per run: before the
 * tree is frozen, so that picking a backend in the frozen window is free. */
void track_probe_kernel(void);
int track_pick_backend(enum track_backend want, enum track_backend *out);
/* Why backend B cannot track here (the probe's words), NULL if it can;
 * says nothing in the log. */
const char *track_backend_unavailable(enum track_backend b);
/* What one userfaultfd write-protect fault costs a writer here, in us
 * (track-probe.c, measured on lmproc's own pages); < 0: not measurable. */
double track_wp_fault_us(void);
const char *track_backend_name(enum track_backend b);
int track_backend_by_name(const char *name, enum track_backend *out);

extern const struct dirty_tracker_ops pagemap_scan_tracker_ops;
extern const struct dirty_tracker_ops soft_dirty_tracker_ops;
extern const struct dirty_tracker_ops ebpf_tracker_ops;

#endif
