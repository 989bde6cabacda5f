/* Parasite control: the only interface the rest of lmproc uses to run
 * code inside a seized task (compare compel's infect.h).  Every call that
 * changes the task has an undo, and parasite_cure() undoes whatever is
 * still in place, on success and on every failure path: after any failed
 * call, still call parasite_cure().
 *
 * While lmproc's code runs in the task its maskable signals are blocked
 * (fault signals excepted); a signal that stops it meanwhile (SIGSTOP, a
 * sent SIGTRAP) is held and sent again by the cure.  Between runs the
 * task is parked in an interrupt stop with its own registers, code and
 * signal mask, which lmproc's death (even by SIGKILL) leaves as if it
 * never stopped; and a parasite whose lmproc dies cures the task itself
 * (docs/architecture.md, "lmproc killed").  After the cure the task sits
 * in a ptrace stop with its own registers; detach it with signal 0
 * (seize.c). */
#ifndef LMPROC_INFECT_H
#define LMPROC_INFECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct parasite_ctl;

/* The task must be ptrace-seized and in a group-stop or interrupt stop
 * (seize.c).  Saves its registers, signal mask and the code bytes at its
 * rip.  NULL (logged) on failure, nothing changed. */
struct parasite_ctl *parasite_prepare(pid_t pid);

/* Runs one system call inside the task and returns the kernel's result
 * (negative errno) in *ret.  Returns 0 if the call was made, -errno if
 * the injection itself failed.  Leaves an interrupted syscall of the task
 * restartable.  Not while the parasite runs (-EBUSY). */
int parasite_syscall(struct parasite_ctl *ctl, long *ret, long nr, unsigned long a1,
		     unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5,
		     unsigned long a6);

/* What only a thread itself can tell: its signal stack (sigaltstack(2)),
 * its clear_child_tid (prctl(PR_GET_TID_ADDRESS)), securebits, timer
 * slack and parent-death signal (prctl PR_GET_*). */
struct parasite_thread_state {
	uint64_t ss_sp;
	uint64_t ss_size;
	uint32_t ss_flags;
	uint64_t clear_child_tid;
	uint32_t secbits;
	uint64_t timerslack_ns;
	uint32_t pdeathsig;
};

/* Asks the threads TIDS[0..NR) (seized, stopped, not prepared) with two
 * system calls injected into all of them at once, whose results land in
 * scratch space below each one's stack red zone (saved before and put
 * back after); ST[i] is thread TIDS[i]'s.  Every thread is cured, also on
 * failure. */
int parasite_dump_threads(const pid_t *tids, size_t nr, struct parasite_thread_state *st);

/* Maps the parasite blob into the task and starts its command loop; the
 * task runs it (blocked signals, own stack) until parasite_cure(). */
int parasite_infect(struct parasite_ctl *ctl);

/* Fetches the task's 64 signal dispositions (kernel struct sigaction
 * layout: handler, flags, restorer, mask) through the parasite. */
struct parasite_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};
int parasite_dump_sigactions(struct parasite_ctl *ctl, struct parasite_sigaction act[64]);

/* Fetches itimers, rlimits, dumpable and child-subreaper through the
 * parasite (pie/include/parasite.h, struct parasite_misc). */
struct parasite_misc;
int parasite_dump_misc(struct parasite_ctl *ctl, struct parasite_misc *misc);

/* Fills timer_gettime() and timer_getoverrun() of the timers
 * T[0..NR).id through the parasite. */
struct parasite_posix_timer;
int parasite_dump_timers(struct parasite_ctl *ctl, struct parasite_posix_timer *t, size_t nr);

/* Has the parasite vmsplice() the task's memory ranges IOV[0..NR) into
 * the write end of a pipe PIPE_WR of lmproc's (passed by SCM_RIGHTS once
 * and cached).  The caller splices the data out of the read end; the
 * pipe must have a free buffer for every page each range touches
 * (F_SETPIPE_SZ), else -E2BIG before anything is spliced.  Returns 0 once
 * every byte is in the pipe.  The parasite holds the write end open until
 * the cure, so the read end sees no EOF before then. */
int parasite_vmsplice(struct parasite_ctl *ctl, int pipe_wr, const struct iovec *iov,
		      unsigned int nr);

/* Stops the parasite, unmaps it, restores registers, signal mask and any
 * patched code; frees CTL.  Safe on a partly infected CTL. Returns 0 or
 * the first error (the task is still left as clean as possible). */
int parasite_cure(struct parasite_ctl *ctl);

#endif
