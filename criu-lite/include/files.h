/* File descriptors of the processes of a dump: collected from /proc. */
#ifndef LMPROC_FILES_H
#define LMPROC_FILES_H

#include <stdbool.h>
#include <sys/types.h>

#include "file-valid.h"

struct files_dump;

/* Opens files.img and files-data.img for the whole tree; NULL on error
 * (logged).  SHELL_JOB: a terminal no process of the tree owns is its
 * shell's (--shell-job), dumped to be replaced by lmproc's at restore.
 * EXT_UNIX_SK: sockets may be connected to sockets outside the tree.
 * DFD -1: no image is written and no byte copied, only the refusals made
 * (a pre-dump refuses what the final dump would). */
struct files_dump *files_dump_start(int dfd, bool shell_job, bool ext_unix_sk,
				     const pid_t *tree_pids, size_t nr_tree_pids);
/* Writes fdinfo-PID.img and fs-PID.img, and into files.img every open
 * file description PID holds that no earlier process did.  Refuses,
 * naming pid, fd and type, any descriptor lmproc cannot restore yet; a
 * terminal the process does not own too, unless SHELL_JOB. */
int dump_files(int dfd, struct files_dump *d, pid_t pid);
/* files-reg.c: before the freeze, the sums of the regular files PID
 * holds open read-only (file-valid.c), for the frozen dump to find. */
void reg_file_sums_warm(pid_t pid, enum file_valid_mode m);
/* Closes the images; D may be NULL. */
int files_dump_end(struct files_dump *d, bool failed);

#endif
