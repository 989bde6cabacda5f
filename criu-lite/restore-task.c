/* Owns the birth of the restored task: clone3 with the dumped pid (its
 * threads' tids checked free first), seizing it at once, and the task's
 * own libc-side setup before it jumps into the restorer (signals, session,
 * files, fs, personality, comm, rseq).  The task never returns from
 * task_main(); it reports a failure of its setup in args->child_err and
 * exits.  Also owns killing the task on failure. */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "fault.h"
#include "log.h"
#include "proc.h"
#include "restore.h"
#include "restorer-blob.h"
#include "uapi-compat.h"

/* glibc registers at least the original 32-byte struct rseq. */
#define RSEQ_MIN_LEN 32

static int task_err(struct restore_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int task_err(struct restore_ctx *ctx, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->args->child_err, sizeof(ctx->args->child_err), fmt, ap);
	va_end(ap);
	return -e;
}

static int task_session(struct restore_ctx *ctx)
{
	const PstreeEntry *e = ctx->plan.pstree;

	switch (ctx->session) {
	case TASK_NEW_SESSION:
		if (setsid() < 0)
			return task_err(ctx, "can't start session %u: %s", e->sid, strerror(errno));
		return 0;
	case TASK_OWN_GROUP:
		if (setpgid(0, 0))
			return task_err(ctx, "can't lead process group %u: %s", e->pgid,
					strerror(errno));
		return 0;
	case TASK_JOIN_GROUP:
		if (setpgid(0, e->pgid))
			return task_err(ctx, "can't join process group %u: %s", e->pgid,
					strerror(errno));
		return 0;
	default:
		return 0;
	}
}

static int task_identity(struct restore_ctx *ctx)
{
	const CoreEntry *core = ctx->plan.core;

	if (personality(core->personality) < 0)
		return task_err(ctx, "can't set personality 0x%x: %s", core->personality,
				strerror(errno));
	if (prctl(PR_SET_NAME, core->comm))
		return task_err(ctx, "can't set comm %s: %s", core->comm, strerror(errno));
	return 0;
}

/* The fork inherited lmproc's rseq registration, whose area the restorer
 * unmaps: the kernel would fault writing to it. */
static int unregister_rseq(struct restore_ctx *ctx)
{
	void *area = (char *)__builtin_thread_pointer() + __rseq_offset;
	unsigned int len = max(__rseq_size, (unsigned int)RSEQ_MIN_LEN);

	if (!__rseq_size)
		return 0;
	if (!syscall(SYS_rseq, area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG))
		return 0;
	if (!syscall(SYS_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG))
		return 0;
	return task_err(ctx, "can't unregister lmproc's rseq area: %s", strerror(errno));
}

static void __attribute__((noreturn)) jump_to_restorer(struct restore_ctx *ctx)
{
	uint64_t entry = ctx->area + restorer_export_entry_off;
	uint64_t sp = ctx->area + ctx->area_size;

	__asm__ volatile("mov %0, %%rsp\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "jmp *%1\n\t"
			 :
			 : "r"(sp), "r"(entry), "D"(ctx->args)
			 : "memory");
	__builtin_unreachable();
}

/* The forked task.  It sets up what needs libc while lmproc seizes it,
 * then waits until lmproc has (with EXITKILL, so lmproc's death kills it
 * from then on; PDEATHSIG covers the moment before) and leaves libc
 * behind: the restorer must not run untraced. */
static void __attribute__((noreturn)) task_main(struct restore_ctx *ctx)
{
	struct restorer_args *a = ctx->args;
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != ctx->lmproc_pid)
		_exit(1);
	if (task_session(ctx) || restore_task_files(ctx, a->child_err, sizeof(a->child_err)) ||
	    restore_task_fs(ctx, a->child_err, sizeof(a->child_err)) || task_identity(ctx) ||
	    unregister_rseq(ctx))
		_exit(1);
	while (!a->go)
		syscall(SYS_futex, &a->go, FUTEX_WAIT, 0, NULL, NULL, 0);
	prctl(PR_SET_PDEATHSIG, 0);
	jump_to_restorer(ctx);
}

/* Session and process group as dumped where this session allows it: a
 * task can only start a session of its own or join groups of lmproc's. */
static void plan_session(struct restore_ctx *ctx)
{
	const PstreeEntry *e = ctx->plan.pstree;
	pid_t our_sid = getsid(0);

	ctx->session = TASK_INHERIT;
	if (e->sid == e->pid) {
		ctx->session = TASK_NEW_SESSION;
		return;
	}
	/* 0: led from outside the dumper's pid namespace, lmproc's is as close as it gets. */
	if (!e->pgid)
		return;
	if ((pid_t)e->sid != our_sid)
		pr_warn("pid %d was in session %u; it is restored into lmproc's session %d\n",
			ctx->plan.pid, e->sid, our_sid);
	if (e->pgid == e->pid)
		ctx->session = TASK_OWN_GROUP;
	else if ((pid_t)e->pgid == getpgid(0))
		ctx->session = TASK_INHERIT;
	else if ((pid_t)e->sid == our_sid && !kill(-(pid_t)e->pgid, 0))
		/* The group outlives its leader while any member is left. */
		ctx->session = TASK_JOIN_GROUP;
	else
		pr_warn("pid %d was in process group %u, which is gone; it joins lmproc's\n",
			ctx->plan.pid, e->pgid);
}

static pid_t clone_with_pid(pid_t pid)
{
	struct lm_clone_args ca = {
	    .exit_signal = SIGCHLD,
	    .set_tid = (uint64_t)(uintptr_t)&pid,
	    .set_tid_size = 1,
	};

	return syscall(SYS_clone3, &ca, sizeof(ca));
}

static int clone_error(pid_t pid)
{
	int e = errno;

	if (e == EEXIST)
		pr_err("pid %d is in use (by a process, or as a process group or session id)\n",
		       pid);
	else if (e == EPERM)
		pr_err("Can't create pid %d: clone3 with a chosen pid needs CAP_SYS_ADMIN or "
		       "CAP_CHECKPOINT_RESTORE\n",
		       pid);
	else
		pr_err("Can't create pid %d with clone3: %s\n", pid, strerror(e));
	return -e;
}

/* The restorer clones the threads with their tids: say now, not after
 * the memory is rebuilt, that one is taken (restore-check.c has waited
 * for the dumped process to be gone). */
static int check_tids_free(const struct restore_plan *p)
{
	struct proc_status st;

	for (size_t i = 1; i < p->nr_threads; i++) {
		pid_t tid = restore_thread_core(p, i)->tid;

		if (proc_read_status(tid, &st))
			continue;
		pr_err("tid %d (a thread of pid %d) is in use by %s (pid %d)\n", tid, p->pid, st.comm,
		       st.tgid);
		return -EEXIST;
	}
	return 0;
}

int restore_fork_task(struct restore_ctx *ctx)
{
	pid_t pid;
	int ret;

	if (fault_injected("restore-before-fork")) {
		pr_err("Can't restore pid %d: fault injected before the fork\n", ctx->plan.pid);
		return -EIO;
	}
	ret = check_tids_free(&ctx->plan);
	if (ret)
		return ret;
	plan_session(ctx);
	ctx->lmproc_pid = getpid();
	ctx->t_fork_ns = now_ns();
	pid = clone_with_pid(ctx->plan.pid);
	if (pid == 0)
		task_main(ctx);
	if (pid < 0)
		return clone_error(ctx->plan.pid);
	ctx->pid = pid;
	if (ptrace(PTRACE_SEIZE, pid, NULL, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD)) {
		int e = errno;

		/* It fails to be seized if it failed its setup and exited. */
		if (ctx->args->child_err[0])
			pr_err("Can't restore pid %d: %s\n", pid, ctx->args->child_err);
		else
			pr_err("Can't seize the restored pid %d: %s\n", pid, strerror(e));
		return -e;
	}
	ctx->args->go = 1;
	syscall(SYS_futex, &ctx->args->go, FUTEX_WAKE, 1, NULL, NULL, 0);
	return 0;
}

/* The main thread can be reaped only after every thread lmproc traces:
 * reap whatever comes (lmproc has no other children). */
void restore_kill_task(struct restore_ctx *ctx)
{
	int status;
	pid_t w;

	if (ctx->pid <= 0)
		return;
	kill(ctx->pid, SIGKILL);
	for (;;) {
		w = waitpid(-1, &status, __WALL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (w == ctx->pid && (WIFEXITED(status) || WIFSIGNALED(status)))
			break;
	}
	pr_debug("Killed the half-restored pid %d\n", ctx->pid);
	ctx->pid = 0;
}
