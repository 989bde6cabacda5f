/* The restorer's last steps (pie/restorer-attrs.c): per-thread
 * attributes and credentials, the process's rlimits and prctl state, and
 * its timers.  Freestanding, like the rest of the restorer. */
#ifndef LMPROC_RESTORER_ATTRS_H
#define LMPROC_RESTORER_ATTRS_H

#include "restorer.h"

/* Each returns 0 or a negative errno, with the failed step and its object
 * in *step and *index (the thread's own err/step/index for the thread
 * ones). */

/* Scheduling, CPU affinity, timer slack, no_new_privs of the calling
 * thread. */
long rst_thread_attrs(struct restorer_thread *t);
/* Credentials of the calling thread, then what a credential change
 * resets (the parent-death signal).  The last thing a thread does. */
long rst_thread_creds(struct restorer_args *a, struct restorer_thread *t);
/* rlimits and child-subreaper of the process. */
long rst_process_attrs(struct restorer_args *a, uint32_t *step, uint64_t *index);
/* Every POSIX timer with its id, then the itimers: armed as late as
 * possible, the task's signals still blocked. */
long rst_timers(struct restorer_args *a, uint32_t *step, uint64_t *index);
/* Dumpable, which any credential change of any thread resets. */
long rst_dumpable(struct restorer_args *a, uint32_t *step, uint64_t *index);

#endif
