/* Freezing a task with ptrace and letting it go again. */
#ifndef LMPROC_SEIZE_H
#define LMPROC_SEIZE_H

#include <stdbool.h>
#include <sys/types.h>

/* Refuses targets lmproc must not or cannot dump (no such pid, pid 1 of
 * our namespace, lmproc itself, a traced task, a zombie, more than one
 * thread, children), with the reason logged. */
int seize_check_target(pid_t pid);

/* PTRACE_SEIZE + PTRACE_INTERRUPT; on return the task is stopped and
 * traced by us.  *was_stopped tells whether it was in a group stop. */
int seize_task(pid_t pid, bool *was_stopped);

/* Lets the task run on as if nothing happened. */
int unseize_task(pid_t pid);

/* Kills a seized task after a successful dump. */
int kill_seized_task(pid_t pid);

#endif
