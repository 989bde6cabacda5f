/* SysV semaphore sets and message queues of the tree (sysvipc.img).
 * Dump: sysvipc.c; restore: restore-sysvipc.c (made in lmproc before the
 * fork, once for the tree). */
#ifndef LMPROC_SYSVIPC_H
#define LMPROC_SYSVIPC_H

struct pstree;
struct restore_tree;

/* Writes every semaphore set and message queue of lmproc's IPC namespace
 * that a process of T created or used last; refuses a tree in another
 * IPC namespace that holds any.  The tree is frozen.  DFD -1: only the
 * refusal (a pre-dump's check). */
int dump_sysvipc(int dfd, const struct pstree *t);

/* Reads and validates sysvipc.img (absent in older dumps: no objects)
 * into T; makes nothing. */
int restore_read_sysvipc(int dfd, struct restore_tree *t);
/* restore_read_sysvipc(), then makes every object again, or finds it
 * still there. */
int restore_sysvipc(int dfd, struct restore_tree *t);
/* After a failed restore: removes the objects restore_sysvipc() made. */
void restore_undo_sysvipc(struct restore_tree *t);
void restore_free_sysvipc(struct restore_tree *t);

#endif
