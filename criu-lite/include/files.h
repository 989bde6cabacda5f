/* File descriptors of a process: collected from /proc on dump. */
#ifndef LMPROC_FILES_H
#define LMPROC_FILES_H

#include <sys/types.h>

/* Writes fdinfo-PID.img, files.img and fs-PID.img.  Refuses, naming pid,
 * fd and type, any descriptor lmproc cannot restore yet. */
int dump_files(int dfd, pid_t pid);

#endif
