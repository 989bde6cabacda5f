/* A call made as a chosen pid (task/pid-lend.c). */
#ifndef LMPROC_PID_LEND_H
#define LMPROC_PID_LEND_H

#include <sys/types.h>

/* CALL(ARG) in a child made with pid PID (0: any) in pid namespace PIDNS
 * (an fd; -1: lmproc's), with clone FLAGS (CLONE_FILES: the caller's fd
 * table); CALL's -errno, which must be within 1..255, or 0.  -EEXIST: PID
 * is taken there; -ECHILD: the child died. */
int pid_lend_call(pid_t pid, int pidns, unsigned long flags, int (*call)(void *), void *arg);

#endif
