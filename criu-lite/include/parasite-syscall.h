/* Private to the parasite-control library (infect.c, parasite-syscall.c):
 * the control block and the ptrace-level steps infect.c builds on.  The
 * rest of lmproc uses infect.h only. */
#ifndef LMPROC_PARASITE_SYSCALL_H
#define LMPROC_PARASITE_SYSCALL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/user.h>

#include "parasite.h"

/* Words written at the injection site: `syscall; int3` and padding, then
 * up to 16 bytes of data for the syscall (the memfd name). */
#define INJECT_WORDS 3
#define INJECT_DATA_MAX ((INJECT_WORDS - 1) * 8)

enum task_state {
	TASK_STOPPED,	  /* in a ptrace stop: registers may be set */
	TASK_IN_PARASITE, /* running the parasite's daemon loop */
	TASK_GONE,	  /* exited or killed: nothing left to undo in it */
};

struct parasite_ctl {
	pid_t pid;
	pid_t tgid;
	enum task_state state;
	bool interrupting;  /* a PTRACE_INTERRUPT stop is what we wait for */
	int syscall_op;	    /* the syscall stop we wait for, 0 if none */
	int resume_request; /* PTRACE_CONT, or PTRACE_SYSCALL to catch that */
	bool mask_changed; /* blocked while lmproc's code runs in it */
	bool trapped;	   /* in a signal-delivery stop, not parked */
	bool trap_ignored; /* SIGTRAP was SIG_IGN: our traps reset it */
	struct user_regs_struct orig_regs;
	uint64_t orig_sigmask;
	unsigned long code_addr;
	long code_orig[INJECT_WORDS];
	int code_poked; /* words of code_orig replaced right now */

	/* Signals that stopped the task while we held it, re-sent by cure
	 * so none is lost; indexed by signal number - 1. */
	siginfo_t deferred[PARASITE_NSIG];
	uint64_t deferred_set;

	/* The memfd's fd in the task until the area (memfd_fd) takes it
	 * over; -1 then or once closed. */
	int remote_fd;
	unsigned long remote_map; /* its mapping in the task, 0 if none */
	int local_fd;		  /* lmproc's fd on the same memfd */
	size_t map_size;

	int listen_fd;
	int sk;
	bool sk_broken; /* a command failed midway: the stream is unusable */
	uint32_t seq;
	bool pipe_passed;
	dev_t pipe_dev;
	ino_t pipe_ino;

	/* The task's fds before the parasite ran (sorted; NULL: not
	 * listed): the cure closes any other, which a parasite stopped by
	 * force between its syscall and its note in the area made. */
	int *fds_before;
	size_t nr_fds_before;
};

static inline void keep_first(int *ret, int err)
{
	if (!*ret && err)
		*ret = err;
}

int task_resume(struct parasite_ctl *ctl);
int task_set_regs(struct parasite_ctl *ctl, struct user_regs_struct *regs);

/* Interprets one wait status of the task while lmproc's code runs in it.
 * Returns 1 when the task reached the int3 at TRAP_IP, a fault, or (with
 * ctl->interrupting) an interrupt stop, with its registers in *regs and
 * ctl->state = TASK_STOPPED; 0 after handling any other stop (signals
 * are deferred, the task runs on); -errno (TASK_GONE if it died). */
int task_handle_status(struct parasite_ctl *ctl, int status, unsigned long trap_ip,
		       struct user_regs_struct *regs);
/* Blocks until task_handle_status() says the task is stopped for good. */
int task_wait_stop(struct parasite_ctl *ctl, unsigned long trap_ip, struct user_regs_struct *regs);

/* parasite_syscall() with DATA_LEN (<= INJECT_DATA_MAX) bytes of DATA
 * placed at ctl->code_addr + 8 for the duration of the call. */
int task_inject(struct parasite_ctl *ctl, long *res, long nr, const unsigned long args[6],
		const void *data, size_t data_len);
/* task_inject() where a failed syscall is an error: logged with WHAT. */
int task_remote_call(struct parasite_ctl *ctl, long *res, const char *what, long nr,
		     const unsigned long args[6], const void *data, size_t data_len);
/* Closes *FD in the task and sets it to -1; EBADF counts as closed. */
int task_close_fd(struct parasite_ctl *ctl, int32_t *fd);

/* Puts back the saved registers and signal mask and re-sends deferred
 * signals: the last step of a cure. */
int task_restore(struct parasite_ctl *ctl);

/* Signals blocked (fault signals excepted) before lmproc's code runs
 * in the task; the task's own mask is back whenever it is parked. */
int task_block_signals(struct parasite_ctl *ctl);
int task_unblock_signals(struct parasite_ctl *ctl);
int park_start(struct parasite_ctl *ctl);
int park_wait(struct parasite_ctl *ctl);

/* sigframe.c: the frame the parasite returns through if lmproc goes
 * away (struct parasite_sigframe, then the FPU state), in a buffer of
 * *LEN bytes to free; parasite_frame_place() points it at the address
 * AT where the task sees it. */
int parasite_frame_build(const struct parasite_ctl *ctl, void **frame, size_t *len);
void parasite_frame_place(void *frame, unsigned long at);

#endif
