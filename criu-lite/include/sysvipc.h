/* SysV semaphore sets and message queues of the tree, and the unattached
 * segments of its own IPC namespace (sysvipc.img).
 * Dump: sysvipc.c; restore: restore-sysvipc.c (made in lmproc before the
 * fork, once for the tree). */
#ifndef LMPROC_SYSVIPC_H
#define LMPROC_SYSVIPC_H

struct pstree;
struct restore_tree;

#include <sys/types.h>

/* Writes every semaphore set and message queue of lmproc's IPC namespace
 * that a process of T used last; for a tree in an IPC namespace of its
 * own, every set, queue and unattached segment of that namespace (refused:
 * a segment that a process outside the tree attaches, a locked or hugetlb
 * one, an unattached one under shm_rmid_forced).  The tree is frozen.
 * DFD -1 (a pre-dump): only the refusals. */
int dump_sysvipc(int dfd, const struct pstree *t);

/* lmproc's thread joins PID's IPC namespace if it is not the thread's
 * own: *BACK is then the namespace to return to, else -1. */
int ipcns_join(pid_t pid, int *back);
/* Back to *BACK (if >= 0), closed; -errno (logged) if lmproc's thread
 * could not go back: the command must fail. */
int ipcns_return(int *back);

/* Reads and validates sysvipc.img (absent in older dumps: no objects)
 * into T; makes nothing. */
int restore_read_sysvipc(int dfd, struct restore_tree *t);
/* restore_read_sysvipc(), then makes every object again, or finds it
 * still there. */
int restore_sysvipc(int dfd, struct restore_tree *t);
/* Under --pidns, once the namespace's init is forked: the sets and queues
 * restore_sysvipc() left, each made by a child with its owner's pid in
 * the new namespace. */
int restore_sysvipc_in_pidns(struct restore_tree *t);
/* After a failed restore: removes the objects restore_sysvipc() made. */
void restore_undo_sysvipc(struct restore_tree *t);
void restore_free_sysvipc(struct restore_tree *t);

#endif
