/* Freezing a process, every thread of it, with ptrace and letting it go
 * again. */
#ifndef LMPROC_SEIZE_H
#define LMPROC_SEIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A seized process: every thread traced by us and in a ptrace stop. */
struct seized_task {
	pid_t pid;
	pid_t *tids; /* tids[0] is pid, the others ascending */
	size_t nr_tids;
	bool was_stopped; /* the process was in a group stop */
	int stop_signo;	  /* ... by this signal (SIGSTOP, SIGTSTP...) */
};

/* Refuses targets lmproc must not or cannot dump (no such pid, pid 1 of
 * our namespace, lmproc itself, a traced task, a zombie or a process whose
 * main thread has exited, children), with the reason logged. */
int seize_check_target(pid_t pid);

/* PTRACE_SEIZE + PTRACE_INTERRUPT of every thread, again until no new
 * thread appears; a thread that exits meanwhile is waited for until it is
 * gone and left out.  On success every thread of T is stopped and traced
 * by us; on failure nothing is (and T is empty). */
/* TIMEOUT_MS: how long a thread may take to stop (0: the default,
 * TRACEE_STOP_TIMEOUT_MS). */
int seize_task(pid_t pid, struct seized_task *t, int timeout_ms);

/* Lets every thread run on as if nothing happened; frees T. */
int unseize_task(struct seized_task *t);

/* The process died while seized (killed: its threads can't exit
 * otherwise while they are stopped). */
bool seized_task_dead(const struct seized_task *t);
/* Reaps every thread of a dead seized process, which only lmproc, their
 * tracer, can do; frees T.  Returns the leader's wait status, or -1. */
int reap_dead_task(struct seized_task *t);

/* Kills a seized process after a successful dump, reaps its threads;
 * frees T. */
int kill_seized_task(struct seized_task *t);

#endif
