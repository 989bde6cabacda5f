/* The tree's cgroup membership (cgroup.img), dump and restore side:
 * criu-lite/task/cgroup.c. */
#ifndef LMPROC_CGROUP_H
#define LMPROC_CGROUP_H

struct pstree;
struct restore_tree;

/* Writes every live process's cgroups (each hierarchy of
 * /proc/PID/cgroup), the limits of the cgroups the tree alone uses and,
 * for a tree in a cgroup namespace other than lmproc's, the cgroups it is
 * rooted at; refuses threads of one process in different cgroups or
 * cgroup namespaces, and processes of one tree in different ones.  The
 * tree is frozen.  DFD -1: only the refusals (a pre-dump's check). */
int dump_cgroups(int dfd, const struct pstree *t);

/* Reads and validates cgroup.img into T; touches nothing. */
int restore_read_cgroups(int dfd, struct restore_tree *t);
/* This machine: every dumped cgroup must be found under a mount of its
 * hierarchy, or, with --manage-cgroups, be one to make.  Makes nothing. */
int restore_check_cgroups(struct restore_tree *t);
/* In the tree's root, before it forks: with a cgroup namespace of the
 * tree's own, enters the cgroups it was rooted at and unshares it (an
 * error: a reason in ERR). */
int restore_enter_cgroupns(const struct restore_tree *t, char *err, size_t len);
/* --manage-cgroups: makes the missing cgroups, with their limits. */
int restore_make_cgroups(struct restore_tree *t);
/* Every task of T (and --pidns's init, into the root's cgroups) into its
 * dumped cgroups, while they wait before their restorers. */
int restore_place_cgroups(struct restore_tree *t);
/* After a failed restore, once its tasks are gone: removes the cgroups
 * restore_make_cgroups() made. */
void restore_undo_cgroups(struct restore_tree *t);
void restore_free_cgroups(struct restore_tree *t);

#endif
