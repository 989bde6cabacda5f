/* The namespaces of a tree other than network (netns.h), pid (--pidns)
 * and cgroup (cgroup.h), in task/namespaces.c: its time namespace and
 * its clocks, its UTS and IPC namespaces (ns.img; SysV objects are
 * sysvipc.h's), and the refusal of a mount or user namespace other than
 * lmproc's. */
#ifndef LMPROC_NAMESPACES_H
#define LMPROC_NAMESPACES_H

#include <stdbool.h>

#include "opts.h"
#include "pstree.h"

struct restore_tree;

/* Dump side: refuses what the tree's namespaces can't be restored as;
 * DFD < 0 checks only (pre-dump), else writes ns.img with the clocks the
 * tree reads now. */
int ns_dump(int dfd, const struct pstree *t);
/* FN run by a helper that setns()es into PID's namespace of type NSTYPE
 * (/proc/PID/ns/KIND); the LEN bytes it left in BUF come back in BUF. */
int ask_in_ns(pid_t pid, const char *kind, int nstype, int (*fn)(void *buf), void *buf,
	      size_t len);

/* Restore side.  Reads and validates ns.img into T. */
int restore_read_ns(int dfd, struct restore_tree *t);
void restore_free_ns(struct restore_tree *t);
/* Before anything is made: images of another boot need --timens. */
int restore_check_ns(const struct restore_tree *t, const struct lmproc_opts *opts);
/* Makes the tree's own IPC namespace with those of its limits that are
 * higher than a new namespace's, and leaves lmproc's thread in it until
 * restore_leave_ns(): the SysV objects are made there before the tree. */
int restore_make_ipcns(struct restore_tree *t);
/* The tree has an IPC namespace of its own. */
bool restore_ipc_own(const struct restore_tree *t);
/* lmproc's thread into the tree's own IPC namespace (after
 * restore_leave_ns(); with none, or still in it, nothing): *BACK the
 * namespace to return to with ipcns_return(), else -1.  An error: nothing
 * of that namespace may be touched. */
int restore_enter_ipcns(const struct restore_tree *t, int *back);
/* The tree's own IPC namespace's sysctls as dumped, under --pidns once
 * its objects are made (restore_sysvipc_pidns); lmproc's thread in it. */
int restore_ipc_sysctls(struct restore_tree *t);
/* Makes the tree's UTS namespace, writes its IPC namespace's sysctls as
 * dumped (next ids, limits, shm_rmid_forced; under --pidns later:
 * restore_ipc_sysctls), and makes its time namespace (the
 * offsets it had, or with --timens ones that continue its clocks from the
 * dump), for the children of lmproc's thread: the fork of the tree. */
int restore_make_ns(struct restore_tree *t, const struct lmproc_opts *opts);
/* How far the tree's CLOCK_MONOTONIC is ahead of lmproc's (0 without a
 * time namespace): the restorer's timestamps are read on the tree's. */
int64_t restore_ns_mono_offset(const struct restore_tree *t);
/* After the fork: lmproc's thread's children back in lmproc's. */
int restore_leave_ns(struct restore_tree *t);

#endif
