/* Seccomp, strict and filter mode, per thread (task/seccomp.c): suspended
 * for lmproc's own calls while a dump holds the task, read back with
 * PTRACE_SECCOMP_GET_FILTER into core-PID.img, validated, and installed
 * again by lmproc's last injected calls of a restore. */
#ifndef LMPROC_SECCOMP_H
#define LMPROC_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.pb-c.h"

struct seized_task;
struct restore_plan;
struct restore_ctx;

/* Once every thread of T is stopped: each gets PTRACE_O_SUSPEND_SECCOMP,
 * so that no filter judges the calls lmproc injects (the parasite's
 * too); the detach ends it.  Refused, naming it, only for a thread under
 * seccomp if lmproc may not. */
int seccomp_suspend(const struct seized_task *t);

/* Refuses, naming pid and tid, a thread whose seccomp state a restore
 * could not give back (a user notification filter, filters without
 * no_new_privs nor CAP_SYS_ADMIN): a pre-dump's check of what the final
 * dump's seccomp_dump() would refuse. */
int seccomp_check_task(const struct seized_task *t);

/* Each thread's mode and chain into TCS[i] (T's threads, in order), the
 * filters once into CORE. */
int seccomp_dump(const struct seized_task *t, CoreEntry *core, ThreadCoreEntry *const *tcs);
void seccomp_free(CoreEntry *core, ThreadCoreEntry *const *tcs, size_t nr);

/* Validation of core-PID.img's seccomp fields. */
int seccomp_check_image(const char *img, const CoreEntry *core);

/* The programs in the restorer area: their size, and their copy at
 * DST, which the task sees at ADDR. */
size_t seccomp_area_size(const struct restore_plan *p);
void seccomp_fill_area(const struct restore_plan *p, void *dst, uint64_t addr);

/* A thread of CORE is under seccomp. */
bool seccomp_in_use(const CoreEntry *core);
/* Refuses, before the fork, a restore of seccomp lmproc could not do. */
int seccomp_may_restore(const struct restore_plan *p);

/* The filters every thread has in common, installed by the main thread
 * (stopped, traced, out of the restorer) with SECCOMP_FILTER_FLAG_TSYNC,
 * so that the threads share them as they did: once every thread is
 * seized (with PTRACE_O_SUSPEND_SECCOMP), before any installs its own. */
int seccomp_restore_shared(struct restore_ctx *ctx);

/* The thread's mode and its own filters, oldest first, by calls injected into
 * it (stopped, traced, its dumped state not set yet): the last ones it
 * makes before its own code runs again. */
int seccomp_restore_thread(struct restore_ctx *ctx, const ThreadCoreEntry *tc, pid_t tid);

#endif
