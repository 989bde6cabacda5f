/* lmproc's own signals while a command must finish or undo its step
 * (blocked during a dump or a pre-dump, caught during a restore), and the
 * waits for
 * traced threads that never block for ever (docs/architecture.md,
 * "Signals and dying processes"). */
#ifndef LMPROC_INTERRUPT_H
#define LMPROC_INTERRUPT_H

#include <stdbool.h>
#include <sys/types.h>

/* How long a traced thread may take to reach a stop it was sent to. */
#define TRACEE_STOP_TIMEOUT_MS 10000

/* Blocks every signal that would end lmproc (those the caller did not
 * leave ignored) and SIGCHLD: from here on they are only looked at. */
void interrupt_guard(void);
/* A restore: catches SIGINT, SIGTERM and SIGHUP (except one the caller
 * ignores: nohup, a background job of a shell), recording the first; its
 * blocking waits return EINTR and look at interrupt_signal(). */
int interrupt_catch(void);
/* Puts back the dispositions interrupt_catch() found. */
void interrupt_release(void);
/* In a helper forked from lmproc: the signal mask lmproc started with. */
void interrupt_child_reset(void);
/* The first signal that arrived, blocked or caught (and stays the
 * answer), or 0. */
int interrupt_signal(void);
/* -EINTR once a signal arrived: the safe points of a dump call it. */
int interrupt_check(void);

/* In a helper process just forked from lmproc (PARENT, its getpid()
 * before the fork): it dies with lmproc (SIGKILL as parent-death signal,
 * checked against getppid() for a lmproc already gone) and gets the
 * signal mask lmproc started with. */
void helper_die_with(pid_t parent);
/* In a helper: stdin, stdout and stderr become /dev/null (a caller
 * reading lmproc's output gets its EOF when lmproc ends) and every other
 * fd but KEEP (-1: none) is closed. */
void helper_close_fds(int keep);

/* waitpid(TID, __WALL) bounded by MS: 1 with *STATUS, 0 if TID is dead
 * but its exit can't be reported yet (a leader whose other threads are
 * zombies lmproc traces), -ETIMEDOUT, or -errno. */
int wait_traced(pid_t tid, int *status, int ms);
/* TID has exited or is on its way out. */
bool thread_dead(pid_t tid);

#endif
