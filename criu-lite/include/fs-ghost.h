/* A working directory removed while in use (files/fs-ghost.c). */
#ifndef LMPROC_FS_GHOST_H
#define LMPROC_FS_GHOST_H

#include <stddef.h>
#include <sys/types.h>

#include "fs.pb-c.h"

/* Dump: CWD and ROOT are /proc/PID/cwd's and root's links.  A cwd with no
 * link left ("PATH (deleted)") is cut to PATH and described in FS; a
 * removed root, or a cwd restore could not make again, is refused. */
int fs_ghost_dump(pid_t pid, char *cwd, const char *root, FsEntry *fs);
/* Restore, the image alone: NULL, or what is wrong with FS's fields. */
const char *fs_ghost_bad(const FsEntry *fs);
/* Restore, this machine: the directory the removed cwd was in is there. */
int fs_ghost_check(pid_t pid, const FsEntry *fs);
/* In the task: works in a directory made at FS's cwd and removed again. */
int fs_ghost_enter(const FsEntry *fs, char *err, size_t len);

#endif
