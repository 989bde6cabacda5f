/* Private anonymous pages a process shares copy-on-write with its parent
 * (mem/mem-cow.c): found at dump by their frames, kept shared at restore
 * by filling the parent's copy before it forks. */
#ifndef LMPROC_MEM_COW_H
#define LMPROC_MEM_COW_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "dirty-track.h"
#include "mem.h"

/* The parent process of the one being dumped, frozen like it. */
struct cow_parent {
	pid_t pid;
	const struct vm_area_list *vl;
	int pagemap_fd;
};

/* Opens PID's pagemap: 0, or -errno (logged). */
int cow_parent_open(struct cow_parent *cp, pid_t pid, const struct vm_area_list *vl);
void cow_parent_close(struct cow_parent *cp);
/* The pages of V (OWN_PAGEMAP_FD: its process's pagemap) that are the
 * parent's own frame at the same address, into OUT (empty if V is not an
 * inherited private anonymous VMA). */
int cow_find_shared(const struct cow_parent *cp, int own_pagemap_fd, const struct vma *v,
		    struct range_set *out);

struct restore_tree;
struct restore_ctx;

/* No premap slot (restore_plan.vma_slot). */
#define COW_NO_SLOT UINT64_MAX

/* Checks every in_parent_task run of the tree against the parent's VMAs
 * and gives each VMA that a child inherits a slot of the premap area. */
int restore_plan_cow(struct restore_tree *t);
/* In lmproc, before the fork: reserves the premap area in a hole free in
 * lmproc and in every dumped layout of the tree. */
int restore_reserve_premap(struct restore_tree *t);
void restore_free_premap(struct restore_tree *t);
/* Right before the one fork that hands the area down (lmproc's of the
 * root, under --pidns through a helper that shares lmproc's memory): the
 * area, kept out of every other fork (the init's, lmproc's helpers'), is
 * forkable. */
void restore_premap_dofork(struct restore_tree *t);
/* After the hand-over, while the tree runs: lmproc's copy goes (until
 * then a first write of the tree copies its page).  Returns the bytes of
 * it the init of --pidns maps (0: it never had any). */
uint64_t restore_premap_handed_down(struct restore_tree *t);
/* In the task, before it forks its children: its slots mapped (or, when
 * inherited, its own pages put over the parent's) and filled. */
int restore_task_premap(struct restore_ctx *ctx, char *err, size_t len);

#endif
