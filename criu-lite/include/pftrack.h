/* The eBPF page-fault tracker (user side of bpf/pftrack.bpf.c): which
 * pages of a process took write faults, how often, and at what rate.
 *
 * It only sees writes to pages that fault: pages write-protected by a
 * userfaultfd in async write-protect mode (the pagemap-scan tracker) or
 * not populated yet.  It protects nothing itself, so it refuses a target
 * without uffd-wp registered memory.  Its state lives in BPF maps and
 * links, i.e. in PFTRACK_NR_FDS file descriptors; no bpffs pinning.  A
 * round hands them to the keeper (pftrack_fds) and the next round picks
 * them up (pftrack_reopen_from_fds).  docs/ebpf-tracker.md. */
#ifndef LMPROC_PFTRACK_H
#define LMPROC_PFTRACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

#include "dirty-track.h"
/* Map layout and bucket size shared with the program. */
#include "../../bpf/pftrack.h"

/* Descriptors of one tracker, in this order: the two links (user-mode
 * and kernel-mode faults), then the maps "pages", "rate", "totals". */
#define PFTRACK_NR_FDS 5
/* Pages listed in pftrack_stats.top. */
#define PFTRACK_NR_TOP 16
/* Pages written in at least this many protection cycles between two
 * drains go to the hot set: rewriting an unprotected page does not fault,
 * so hotness needs re-protection (a PAGEMAP_SCAN with PM_SCAN_WP_MATCHING)
 * more often than drains. */
#define PFTRACK_HOT_CYCLES 2
/* Window of pftrack_stats.rate_pps. */
#define PFTRACK_RATE_WINDOW_MS 1000

struct pftrack;

struct pftrack_page_count {
	uint64_t addr;
	uint64_t cycles;	/* protection cycles in which it was written */
	uint64_t faults;	/* write faults (struct pftrack_page) */
	uint64_t first_ns;	/* CLOCK_MONOTONIC */
	uint64_t last_ns;
};

struct pftrack_stats {
	uint64_t write_faults;	/* since the previous drain */
	uint64_t wp_faults;	/* of which lifted a write protection */
	uint64_t kernel_faults;	/* of which in kernel mode (copy_to_user) */
	/* Faults of pages the full map could not record: when non-zero the
	 * dirty set is incomplete and must not be trusted. */
	uint64_t dropped;
	uint64_t pages;		/* distinct pages drained */
	uint64_t hot_pages;	/* of which with >= PFTRACK_HOT_CYCLES cycles */
	/* pftrack_rate() over the last PFTRACK_RATE_WINDOW_MS, or since the
	 * previous drain (or the load) if that is nearer; < 0: unknown (less
	 * than one whole bucket since). */
	double rate_pps;
	size_t nr_top;
	struct pftrack_page_count top[PFTRACK_NR_TOP];	/* most cycles first */
};

/* Loads the program filtered on PID's thread group and attaches it.
 * PID must already have uffd-wp registered memory (-ENOTSUP if not). */
int pftrack_open(pid_t pid, struct pftrack **out);
/* Loads, before the freeze, the program pftrack_open will attach for ROOT
 * and each process below it (at most PFTRACK_PRELOAD_MAX, as /proc lists
 * them now): a process the freeze finds without one loads its own then.
 * pftrack_preload_drop unloads what no pftrack_open took. */
#define PFTRACK_PRELOAD_MAX 64
#define PFTRACK_PRELOAD_DEPTH 16
void pftrack_preload(pid_t root);
void pftrack_preload_drop(void);
/* Rebuilds a tracker of PID from descriptors pftrack_fds() gave out,
 * after checking they are a tracker's and that it filters on PID.  The
 * caller keeps FDS; the tracker works on copies. */
int pftrack_reopen_from_fds(pid_t pid, const int *fds, int nr_fds, struct pftrack **out);
/* Fills FDS (NR_FDS >= PFTRACK_NR_FDS) with new copies of the tracker's
 * descriptors, owned by the caller; returns PFTRACK_NR_FDS.  Tracking
 * goes on as long as any copy is open. */
int pftrack_fds(const struct pftrack *pt, int *fds, int nr_fds);
/* Moves the pages written since the previous drain into DIRTY (and those
 * written in >= PFTRACK_HOT_CYCLES protection cycles also into HOT, which
 * may be NULL), and fills ST.  Pages are added in address order: the sets
 * must be empty or end below them.  Entries come out and are deleted
 * atomically, so a fault during the drain is reported now or next time. */
int pftrack_drain(struct pftrack *pt, struct range_set *dirty, struct range_set *hot,
		  struct pftrack_stats *st);
/* ST's counts and rate alone (ST->pages 0): the pages written stay in the
 * map, whose drain walks every one of its 2^20 buckets (~4 ms here).  For
 * the last round, whose set is the scan's and which no round follows. */
int pftrack_totals(struct pftrack *pt, struct pftrack_stats *st);
/* The dirty rate: pages per second that became dirty (took their first
 * write fault since the previous drain) within [FROM_NS, TO_NS)
 * (CLOCK_MONOTONIC), counted over the PFTRACK_BUCKET_NS buckets wholly
 * inside it: how fast the next round's set grows.  -ERANGE when that
 * holds no bucket or reaches further back than the 5.12 s kept. */
int pftrack_rate(struct pftrack *pt, uint64_t from_ns, uint64_t to_ns, double *pps);
/* Closes this tracker's descriptors; copies given out stay valid. */
void pftrack_close(struct pftrack *pt);

#endif
