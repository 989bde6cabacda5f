/* One round of an iterative dump (pre-dump, or the final dump after
 * pre-dumps): finds the previous round's images, gets the dirty tracker
 * back from the keeper, and decides per VMA what this round copies. */
#ifndef LMPROC_TRACK_ROUND_H
#define LMPROC_TRACK_ROUND_H

#include <stdbool.h>
#include <stdint.h>

#include "dirty-track.h"
#include "mem.h"
#include "opts.h"
#include "page-xfer.h"

#include "mm.pb-c.h"

struct parasite_ctl;

struct track_round {
	pid_t pid;
	pid_t root_pid;			/* of the tree: the chain's inventories name it */
	bool pre_dump;
	const char *parent_dir;		/* as given: relative to the images dir */
	enum track_backend backend;
	struct dirty_tracker tracker;
	bool have_tracker;
	bool incremental;		/* the parent's tracking state is ours */
	bool rearmed;			/* a new tracker state: the keeper needs it */
	uint64_t token;			/* this round's */
	uint64_t parent_token;
	uint64_t parent_round_id;	/* the parent round's inventory round_id */
	MmEntry *parent_mm;
	struct range_set parent_pages;
	struct range_set dirty;
	bool *whole;
	struct page_plan plan;
	uint64_t collect_us;
	pid_t keeper_owner;		/* opts->keeper_owner */
};

/* Once the tree is frozen, per process: checks --prev-images-dir (complete, same pid, a
 * chain of pre-dumps without holes) and loads what the round compares
 * against.  Picks the backend. */
int track_round_prepare(struct track_round *r, const struct lmproc_opts *opts, pid_t pid,
			int dfd, bool pre_dump);
/* Frozen task: tracking state from the keeper (or armed anew through
 * CTL, which must be prepared), per-VMA decisions, dirty pages.  Fills
 * r->plan for dump_pages(). */
int track_round_collect(struct track_round *r, struct parasite_ctl *ctl,
			const struct vm_area_list *vl);
/* After the round's images are complete: a pre-dump leaves the tracker
 * with the keeper; a final dump ends tracking. */
int track_round_commit(struct track_round *r);
/* The round failed: tracking state can no longer be trusted. */
void track_round_abort(struct track_round *r);
void track_round_free(struct track_round *r);

#endif
