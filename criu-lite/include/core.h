/* CPU and signal state of a seized process, every thread (core-PID.img). */
#ifndef LMPROC_CORE_H
#define LMPROC_CORE_H

#include "infect.h"
#include "seize.h"
#include "task-attrs.h"

/* Reads every thread's registers, xsave, signal mask, queued signals,
 * rseq, robust list, comm, attributes and credentials with ptrace and
 * /proc; TS[i] is what thread T->tids[i] told the parasite, ACT the 64
 * sigactions, MISC the process-wide attributes and timers. */
int dump_core(int dfd, const struct seized_task *t, const struct parasite_sigaction *act,
	      const struct parasite_thread_state *ts, const struct task_misc *misc);

#endif
