/* What a process and each of its threads have besides memory, registers,
 * signals and files: attributes (task-attrs.c), credentials (creds.c) and
 * timers (timers.c), in core-PID.img.  Each part: dump (outside views and
 * what the parasite said), validation of the image, the check that this
 * restore may set it, and the restorer's args. */
#ifndef LMPROC_TASK_ATTRS_H
#define LMPROC_TASK_ATTRS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "infect.h"
#include "parasite.h"
#include "restorer.h"

#include "core.pb-c.h"

struct restore_plan;

/* A POSIX timer as /proc/PID/timers lists it and the parasite reads it. */
struct posix_timer_state {
	struct parasite_posix_timer t;
	int clock_id;
	int notify;
	uint32_t signo;
	uint64_t sival;
	pid_t notify_tid;
};

/* Process-wide state collected while the task is frozen. */
struct task_misc {
	struct parasite_misc misc;
	struct posix_timer_state *timers;
	size_t nr_timers;
	bool stopped;
	int stop_signo;
	uint32_t membarrier; /* MEMBARRIER_CMD_GET_REGISTRATIONS */
};

/* timers.c */
/* /proc/PID/timers, then the parasite's timer_gettime() of each. */
int collect_posix_timers(struct parasite_ctl *ctl, pid_t pid, struct task_misc *m);
int dump_timers(CoreEntry *core, const struct task_misc *m);
void free_dumped_timers(CoreEntry *core);
int check_timers(const char *img, const struct restore_plan *p);
size_t nr_restore_timers(const struct restore_plan *p);
void fill_timers(const struct restore_plan *p, struct restorer_args *a,
		 struct restorer_posix_timer *pt);

/* task-attrs.c */
/* membarrier registrations by an injected call: before parasite_infect(). */
int collect_membarrier(struct parasite_ctl *ctl, pid_t pid, struct task_misc *m);
/* Misc and timers through the parasite: call after parasite_infect(). */
int collect_task_misc(struct parasite_ctl *ctl, pid_t pid, struct task_misc *m);
void free_task_misc(struct task_misc *m);
int dump_process_attrs(pid_t pid, CoreEntry *core, const struct task_misc *m);
void free_process_attrs(CoreEntry *core);
int dump_thread_attrs(pid_t pid, pid_t tid, ThreadCoreEntry *tc,
		      const struct parasite_thread_state *ts);
void free_thread_attrs(ThreadCoreEntry *tc);
int check_process_attrs(const char *img, const struct restore_plan *p);
int check_thread_attrs(const char *img, const ThreadCoreEntry *tc);
/* This restore may set them: lmproc's own limits and capabilities. */
int restore_may_set_attrs(const struct restore_plan *p);
void fill_process_attrs(const struct restore_plan *p, struct restorer_args *a);
void fill_thread_attrs(const ThreadCoreEntry *tc, struct restorer_thread *t);
/* In the forked task, before the restorer (after its children are
 * forked: membarrier registrations are inherited by fork): oom_score_adj,
 * loginuid, membarrier registrations, through PROC, the tree's /proc
 * opened before its root changed.  Errors go into ERR (one line). */
int restore_task_attrs(const struct restore_plan *p, int proc, char *err, size_t len);

/* creds.c */
int dump_thread_creds(pid_t pid, pid_t tid, ThreadCoreEntry *tc,
		      const struct parasite_thread_state *ts);
void free_thread_creds(ThreadCoreEntry *tc);
int check_creds(const char *img, const ThreadCoreEntry *tc);
/* Refuses creds that would give the task more privilege than lmproc's. */
int restore_may_set_creds(const struct restore_plan *p);
size_t nr_restore_groups(const struct restore_plan *p);
/* GROUPS: where this thread's supplementary groups go in the area. */
void fill_creds(const ThreadCoreEntry *tc, struct restorer_thread *t, uint32_t *groups,
		uint64_t groups_addr);

#endif
