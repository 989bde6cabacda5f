/* Staging (mem/restore-stage.c): serve brings each pre-copy round's
 * private anonymous memory into mappings of its own while the source's
 * tree runs; the final restore moves them into place instead of filling
 * every page while the source is frozen. */
#ifndef LMPROC_RESTORE_STAGE_H
#define LMPROC_RESTORE_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mm.pb-c.h"

struct restore_tree;

/* One VMA of one process, its pages as the staged round resolves them. */
struct stage_vma {
	pid_t pid;
	uint64_t start, end; /* the dumped VMA */
	uint32_t flags;	     /* its MAP_NORESERVE */
	uint64_t addr;	     /* the staging mapping in this process */
	bool seen;	     /* in the round being staged */
};

struct restore_stage {
	struct stage_vma *v;
	size_t nr, cap;
	/* The round the staged pages are exactly as of: its round_id, 0
	 * when nothing is staged. */
	uint64_t round_id;
	unsigned int round;
	/* The final restore's use of it, for serve's log and the tests. */
	uint64_t used_vmas, used_bytes, filled_pages, zapped_pages, moved_pages;
	uint64_t unused_vmas;
	/* After the hand-over (mem-cow.c): the premap area went to the tree
	 * (HANDED_DOWN), and what of it the init of --pidns maps (none: the
	 * root's was the one fork that copied it). */
	bool handed_down;
	uint64_t init_kb;
};

/* Round DFD (pre-K) into S: VMAs of the same bounds as the round before
 * updated with what the round carries, the others staged afresh.  0, or
 * -errno with WHY set: then nothing is staged any more. */
int restore_stage_round(struct restore_stage *s, int dfd, unsigned int k, char *why, size_t len);
void restore_stage_drop(struct restore_stage *s);
/* Is V one that staging takes? */
bool restore_stage_vma_ok(const VmaEntry *v);

/* The final restore, in lmproc: every VMA of the tree that a staged VMA
 * matches gets a premap slot (after restore_plan_cow)... */
int restore_stage_plan(struct restore_tree *t, struct restore_stage *s);
/* ... which the staged mapping moves into once the premap area is
 * reserved, then the final dump's pages go over it and the pages it
 * says are absent are dropped; every other staging mapping is unmapped. */
int restore_stage_place(struct restore_tree *t, struct restore_stage *s);

#endif
