/* The process tree of a dump: the target and every descendant, parents
 * before children (pstree.img's order). */
#ifndef LMPROC_PSTREE_H
#define LMPROC_PSTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "seize.h"

struct pstree_item {
	pid_t pid, ppid, pgid, sid;
	int parent; /* index in items, -1 for the root */
	bool seized;
	bool zombie;
	int exit_status; /* a zombie's, as wait(2) reports it */
	char comm[64];	 /* a zombie's, or one that died while seized */
	bool died;	 /* killed while seized: released by reaping it */
	int died_status; /* its wait status, -1 if none came */
	struct seized_task task; /* empty for a zombie */
};

struct pstree {
	struct pstree_item *items; /* items[0] is the root */
	size_t nr, cap;
	int stop_timeout_ms; /* seize_tree()'s TIMEOUT_MS */
};

/* Freezes ROOT and every descendant, each thread given TIMEOUT_MS to
 * stop (0: the default); a child that has exited is kept as a zombie.
 * On failure nothing stays frozen and T is empty. */
int seize_tree(pid_t root, struct pstree *t, int timeout_ms);
/* Lets every process run on (and reaps one that died while seized); T
 * keeps its items (no threads). */
void unseize_tree(struct pstree *t);
/* -ESRCH, logged at -v3, if a seized process of T has died. */
int pstree_check_alive(const struct pstree *t);
/* The first process that died while seized, once T was released. */
const struct pstree_item *pstree_first_death(const struct pstree *t);
/* After a good dump: kills every process of the tree. */
int kill_tree(struct pstree *t);
void pstree_free(struct pstree *t);
/* HOST, a pid or tid of lmproc's, as the tree being dumped sees it: the
 * same unless the tree lives in a pid namespace below lmproc's, 0 for a
 * process outside that namespace. */
pid_t pstree_vpid(pid_t host);
/* V, a pid as the tree being dumped sees it, is a live process of it. */
bool pstree_live_vpid(pid_t v);
/* The tree being dumped lives in a pid namespace below lmproc's. */
bool pstree_own_pidns(void);
/* An fd of the pid namespace the tree being dumped lives in, or -errno. */
int pstree_open_pidns(void);
/* pstree.img: one entry per process, in T's order. */
int dump_pstree(int dfd, const struct pstree *t);

#endif
