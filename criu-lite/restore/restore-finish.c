/* Owns the tracer's side of the end of a restore: waits until the restorer
 * stops with its stop signal, turns its report into an error message,
 * takes over every other thread (parked by the restorer) and sets its
 * dumped registers, FPU state and signal mask at a syscall-exit stop, has
 * the main thread unmap the restorer area once no thread runs in it any
 * more, sets its state at that syscall-exit stop, and, once every task
 * of the tree is that far, detaches them all.  On any failure the task
 * is left stopped (or already reaped) for the caller to kill. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "fault.h"
#include "log.h"
#include "proc.h"
#include "restore.h"
#include "restorer-blob.h"
#include "seccomp.h"

#define SYSCALL_STOP (SIGTRAP | 0x80)

/* Waits for the task's next stop.  A task that died is reaped here
 * (ctx->pid becomes 0) and reported. */
static int wait_stop(struct restore_ctx *ctx, int *sig)
{
	int status;

	for (;;) {
		if (waitpid(ctx->pid, &status, __WALL) < 0) {
			if (errno == EINTR && restore_check_interrupt(ctx->tree))
				return -EINTR;
			if (errno == EINTR)
				continue;
			pr_perror("Can't wait for the restored pid %d", ctx->pid);
			return -errno;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (!WIFSTOPPED(status))
			continue;
		/* A group stop (PTRACE_EVENT_STOP): the task has work to do. */
		if (status >> 16) {
			ptrace(PTRACE_CONT, ctx->pid, NULL, NULL);
			continue;
		}
		*sig = WSTOPSIG(status);
		return 0;
	}
	if (ctx->args->child_err[0])
		pr_err("Can't restore pid %d: %s\n", ctx->plan.pid, ctx->args->child_err);
	else if (WIFEXITED(status))
		pr_err("Can't restore pid %d: it exited with %d during the restore\n",
		       ctx->plan.pid, WEXITSTATUS(status));
	else
		pr_err("Can't restore pid %d: it was killed by signal %d (%s) during the "
		       "restore\n",
		       ctx->plan.pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	ctx->pid = 0;
	return -ECHILD;
}

static const char *const step_what[] = {
    [RST_STEP_NONE] = "no step",
    [RST_STEP_UNMAP] = "unmapping lmproc's memory",
    [RST_STEP_VDSO] = "moving the vDSO",
    [RST_STEP_MAP] = "mapping",
    [RST_STEP_POPULATE] = "populating",
    [RST_STEP_READ] = "reading pages into",
    [RST_STEP_PROTECT] = "protecting",
    [RST_STEP_MADVISE] = "madvise() of",
    [RST_STEP_CLOSE] = "closing service fd",
    [RST_STEP_MM_MAP] = "prctl(PR_SET_MM_MAP) of the dumped mm fields",
    [RST_STEP_RSEQ] = "registering rseq at",
    [RST_STEP_SIGACTION] = "setting the action of signal",
    [RST_STEP_SIGQUEUE] = "queueing pending signal",
    [RST_STEP_FAULT] = "at a fault injected for tests",
    [RST_STEP_STOP] = "stopping",
    [RST_STEP_CLONE] = "creating thread",
    [RST_STEP_ROBUST] = "registering the robust futex list at",
    [RST_STEP_ALTSTACK] = "setting the signal stack at",
    [RST_STEP_COMM] = "setting the thread's name",
    [RST_STEP_LOCK] = "taking the POSIX lock",
    [RST_STEP_SCHED] = "setting the scheduling policy",
    [RST_STEP_AFFINITY] = "setting the CPU affinity",
    [RST_STEP_TIMERSLACK] = "setting the timer slack",
    [RST_STEP_IOPRIO] = "setting the I/O priority",
    [RST_STEP_NO_NEW_PRIVS] = "setting no_new_privs",
    [RST_STEP_PDEATHSIG] = "setting the parent-death signal",
    [RST_STEP_RLIMIT] = "setting rlimit",
    [RST_STEP_DUMPABLE] = "setting dumpable",
    [RST_STEP_SUBREAPER] = "setting child-subreaper",
    [RST_STEP_ITIMER] = "arming itimer",
    [RST_STEP_POSIX_TIMER] = "creating or arming POSIX timer",
    [RST_STEP_GROUPS] = "setting the supplementary groups",
    [RST_STEP_GIDS] = "setting the gids",
    [RST_STEP_UIDS] = "setting the uids",
    [RST_STEP_BSET] = "dropping from the bounding set capability",
    [RST_STEP_CAPS] = "setting the capability sets",
    [RST_STEP_AMBIENT] = "raising ambient capability",
    [RST_STEP_SECBITS] = "setting securebits",
    [RST_STEP_MLOCK] = "mlock() of",
    [RST_STEP_THP] = "prctl(PR_SET_THP_DISABLE) or mlockall(MCL_FUTURE)",
    [RST_STEP_MSEAL] = "mseal() of",
    [RST_STEP_GUARD] = "installing the guard pages at",
    [RST_STEP_FOWN] = "setting the owner, signal and O_ASYNC for signal-driven I/O of",
    [RST_STEP_AIO] = "making the AIO ring (io_setup, then moved) of",
};

/* "vma START-END" and the file behind it, if any. */
static void vma_object(const struct restore_ctx *ctx, uint64_t start, uint64_t end, char *buf,
		       size_t len)
{
	const MmEntry *mm = ctx->plan.mm;
	const char *path = NULL;

	for (size_t k = 0; k < mm->n_vmas; k++)
		if (mm->vmas[k]->start == start && mm->vmas[k]->has_file)
			path = mm->files[mm->vmas[k]->file]->path;
	snprintf(buf, len, " vma 0x%llx-0x%llx%s%s", (unsigned long long)start,
		 (unsigned long long)end, path ? " of " : "", path ? path : "");
}

/* The object the failed step worked on, for the message. */
static void step_object(const struct restore_ctx *ctx, char *buf, size_t len)
{
	const struct restorer_args *a = ctx->args;
	uint64_t i = a->err_index;

	buf[0] = '\0';
	switch (a->step) {
	case RST_STEP_UNMAP:
	case RST_STEP_RSEQ:
	case RST_STEP_ROBUST:
	case RST_STEP_ALTSTACK:
		snprintf(buf, len, " 0x%llx", (unsigned long long)i);
		break;
	case RST_STEP_MAP:
	case RST_STEP_PROTECT:
	case RST_STEP_MADVISE:
	case RST_STEP_MLOCK:
	case RST_STEP_MSEAL: {
		const struct restorer_vma *v = (const struct restorer_vma *)(uintptr_t)a->vmas;

		if (i < a->nr_vmas)
			vma_object(ctx, v[i].start, v[i].end, buf, len);
		break;
	}
	case RST_STEP_POPULATE:
	case RST_STEP_READ: {
		const struct restorer_batch *b =
		    (const struct restorer_batch *)(uintptr_t)a->batches;

		if (i < a->nr_batches)
			snprintf(buf, len, " 0x%llx-0x%llx", (unsigned long long)b[i].start,
				 (unsigned long long)b[i].end);
		break;
	}
	case RST_STEP_GUARD: {
		const struct restorer_range *g =
		    (const struct restorer_range *)(uintptr_t)a->guards;

		if (i < a->nr_guards)
			snprintf(buf, len, " 0x%llx-0x%llx", (unsigned long long)g[i].start,
				 (unsigned long long)g[i].end);
		break;
	}
	case RST_STEP_AIO: {
		const struct restorer_aio_ring *r =
		    (const struct restorer_aio_ring *)(uintptr_t)a->aio_rings;

		if (i < a->nr_aio_rings)
			snprintf(buf, len, " 0x%llx-0x%llx (%u events)",
				 (unsigned long long)r[i].addr,
				 (unsigned long long)(r[i].addr + r[i].len), r[i].nr);
		break;
	}
	case RST_STEP_VDSO:
		if (i < a->nr_special)
			snprintf(buf, len, " block at 0x%llx",
				 (unsigned long long)a->special[i].start);
		break;
	case RST_STEP_LOCK: {
		const struct restorer_lock *l = (const struct restorer_lock *)(uintptr_t)a->locks;

		if (i < a->nr_locks)
			snprintf(buf, len, " %s %llu+%llu on fd %d",
				 l[i].type == F_WRLCK ? "write" : "read",
				 (unsigned long long)l[i].start, (unsigned long long)l[i].len,
				 l[i].fd);
		break;
	}
	case RST_STEP_FOWN: {
		const struct restorer_fown *f = (const struct restorer_fown *)(uintptr_t)a->fowns;

		if (i < a->nr_fowns)
			snprintf(buf, len, " fd %d (owner type %u, id %d, signal %u)", f[i].fd,
				 f[i].type, f[i].pid, f[i].sig);
		break;
	}
	case RST_STEP_CLONE:
	case RST_STEP_CLOSE:
	case RST_STEP_SIGACTION:
	case RST_STEP_SIGQUEUE:
	case RST_STEP_RLIMIT:
	case RST_STEP_ITIMER:
	case RST_STEP_POSIX_TIMER:
	case RST_STEP_BSET:
	case RST_STEP_AMBIENT:
		snprintf(buf, len, " %llu", (unsigned long long)i);
		break;
	default:
		break;
	}
}

static int report_restorer(const struct restore_ctx *ctx)
{
	const struct restorer_args *a = ctx->args;
	const char *what = a->step < ARRAY_SIZE(step_what) ? step_what[a->step] : "?";
	const char *why = strerror(-a->err);
	char obj[96], thread[32] = "";

	step_object(ctx, obj, sizeof(obj));
	if (a->step == RST_STEP_READ && a->err == -EIO)
		why = "the pages image ended early";
	if (a->step == RST_STEP_MM_MAP && a->err == -EPERM)
		why = "needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE";
	if (a->step == RST_STEP_LOCK && a->err == -EAGAIN)
		why = "another process holds a conflicting lock";
	if (a->step == RST_STEP_FOWN && a->err == -EOPNOTSUPP)
		why = "the file does not take O_ASYNC (it has no fasync method)";
	if (a->step == RST_STEP_CLONE && a->err == -EEXIST)
		why = "the tid is in use (by a process, or as a process group or session id)";
	if (a->err_thread && a->step != RST_STEP_CLONE)
		snprintf(thread, sizeof(thread), " in thread %u",
			 restore_thread_core(&ctx->plan, a->err_thread)->tid);
	pr_err("Can't restore pid %d: restorer failed %s%s%s: %s\n", ctx->plan.pid, what, obj,
	       thread, why);
	return a->err < 0 ? a->err : -EIO;
}

static int crashed(const struct restore_ctx *ctx, int sig)
{
	struct user_regs_struct r = {};

	ptrace(PTRACE_GETREGS, ctx->pid, NULL, &r);
	pr_err("Can't restore pid %d: the restorer got signal %d (%s) at 0x%llx\n", ctx->plan.pid,
	       sig, strsignal(sig), (unsigned long long)r.rip);
	return -EFAULT;
}

/* Only SIGKILL and SIGSTOP get past the restorer's mask besides faults:
 * a SIGSTOP from outside is swallowed, a fault is a crash. */
static int wait_restorer(struct restore_ctx *ctx)
{
	int sig, ret;

	for (;;) {
		ret = wait_stop(ctx, &sig);
		if (ret)
			return ret;
		if (sig == (int)ctx->args->stop_sig && ctx->args->status != RESTORER_RUNNING)
			break;
		if (sig != SIGSTOP)
			return crashed(ctx, sig);
		if (ptrace(PTRACE_CONT, ctx->pid, NULL, NULL)) {
			pr_perror("Can't resume the restored pid %d", ctx->pid);
			return -errno;
		}
	}
	if (ctx->args->status != RESTORER_DONE)
		return report_restorer(ctx);
	return 0;
}

static int syscall_stop(struct restore_ctx *ctx, const char *which)
{
	int sig, ret;

	if (ptrace(PTRACE_SYSCALL, ctx->pid, NULL, NULL)) {
		pr_perror("Can't resume the restored pid %d to its %s", ctx->pid, which);
		return -errno;
	}
	ret = wait_stop(ctx, &sig);
	if (ret)
		return ret;
	if (sig != SYSCALL_STOP)
		return crashed(ctx, sig);
	return 0;
}

static void to_user_regs(const X86Gpregs *g, struct user_regs_struct *r)
{
	*r = (struct user_regs_struct){
	    .r15 = g->r15,
	    .r14 = g->r14,
	    .r13 = g->r13,
	    .r12 = g->r12,
	    .rbp = g->bp,
	    .rbx = g->bx,
	    .r11 = g->r11,
	    .r10 = g->r10,
	    .r9 = g->r9,
	    .r8 = g->r8,
	    .rax = g->ax,
	    .rcx = g->cx,
	    .rdx = g->dx,
	    .rsi = g->si,
	    .rdi = g->di,
	    .rip = g->ip,
	    .cs = g->cs,
	    .eflags = g->flags,
	    .rsp = g->sp,
	    .ss = g->ss,
	    .fs_base = g->fs_base,
	    .gs_base = g->gs_base,
	    .ds = g->ds,
	    .es = g->es,
	    .fs = g->fs,
	    .gs = g->gs,
	};
	/* Not inside a system call: no restart processing on the way out
	 * (the dump already turned an interrupted call into a restart). */
	r->orig_rax = -1;
}

/* At a syscall-exit stop the kernel returns to user mode with exactly
 * these registers. */
static int set_dumped_state(struct restore_ctx *ctx, const ThreadCoreEntry *tc, pid_t tid)
{
	struct iovec iov = {tc->xsave.data, tc->xsave.len};
	struct user_regs_struct r;
	uint64_t mask = tc->blocked_sigs;

	to_user_regs(tc->gpregs, &r);
	if (ptrace(PTRACE_SETREGS, tid, NULL, &r)) {
		pr_perror("Can't restore pid %d: the kernel refused the registers of thread %d",
			  ctx->plan.pid, tid);
		return -errno;
	}
	if (ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov)) {
		pr_perror("Can't restore pid %d: the kernel refused the FPU state (%zu bytes) of "
			  "thread %d",
			  ctx->plan.pid, iov.iov_len, tid);
		return -errno;
	}
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask)) {
		pr_perror("Can't restore pid %d: can't set the signal mask of thread %d",
			  ctx->plan.pid, tid);
		return -errno;
	}
	return 0;
}

/* The next stop of thread TID that is ours to handle: a SIGSTOP from
 * outside is swallowed (the whole restore runs with the task's signals
 * blocked), a thread that died is an error. */
static int wait_thread(struct restore_ctx *ctx, pid_t tid, int *status)
{
	for (;;) {
		if (waitpid(tid, status, __WALL) < 0) {
			if (errno == EINTR && restore_check_interrupt(ctx->tree))
				return -EINTR;
			if (errno == EINTR)
				continue;
			pr_perror("Can't wait for thread %d of the restored pid %d", tid, ctx->pid);
			return -errno;
		}
		if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
			pr_err(
			    "Can't restore pid %d: its thread %d died while lmproc took it over\n",
			    ctx->plan.pid, tid);
			return -ECHILD;
		}
		if (WIFSTOPPED(*status) && !(*status >> 16) && WSTOPSIG(*status) == SIGSTOP) {
			if (ptrace(PTRACE_CONT, tid, NULL, NULL)) {
				pr_perror("Can't resume thread %d of pid %d", tid, ctx->pid);
				return -errno;
			}
			continue;
		}
		return 0;
	}
}

static int thread_crashed(struct restore_ctx *ctx, pid_t tid, int status)
{
	struct user_regs_struct r = {};

	ptrace(PTRACE_GETREGS, tid, NULL, &r);
	pr_err("Can't restore pid %d: its thread %d stopped with status 0x%x at 0x%llx\n",
	       ctx->plan.pid, tid, status, (unsigned long long)r.rip);
	return -EFAULT;
}

static int thread_syscall_stop(struct restore_ctx *ctx, pid_t tid)
{
	int status, ret;

	if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL)) {
		pr_perror("Can't resume thread %d of the restored pid %d", tid, ctx->pid);
		return -errno;
	}
	ret = wait_thread(ctx, tid, &status);
	if (!ret && (!WIFSTOPPED(status) || (status >> 16) || WSTOPSIG(status) != SYSCALL_STOP))
		ret = thread_crashed(ctx, tid, status);
	return ret;
}

int restore_inject_call(struct restore_ctx *ctx, pid_t tid, long nr, uint64_t a1, uint64_t a2,
			uint64_t a3, long *res)
{
	struct user_regs_struct r;
	int ret;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &r)) {
		pr_perror("Can't read the registers of thread %d of the restored pid %d", tid,
			  ctx->pid);
		return -errno;
	}
	r.rip = ctx->area + restorer_export_syscall_off;
	r.rax = nr;
	r.rdi = a1;
	r.rsi = a2;
	r.rdx = a3;
	r.orig_rax = -1;
	if (ptrace(PTRACE_SETREGS, tid, NULL, &r)) {
		pr_perror("Can't set the registers of thread %d of the restored pid %d", tid,
			  ctx->pid);
		return -errno;
	}
	if (tid == ctx->pid) {
		ret = syscall_stop(ctx, "injected call's entry");
		if (!ret)
			ret = syscall_stop(ctx, "injected call's exit");
	} else {
		ret = thread_syscall_stop(ctx, tid);
		if (!ret)
			ret = thread_syscall_stop(ctx, tid);
	}
	if (ret)
		return ret;
	if (ptrace(PTRACE_GETREGS, tid, NULL, &r)) {
		pr_perror("Can't read the registers of thread %d of the restored pid %d", tid,
			  ctx->pid);
		return -errno;
	}
	*res = (long)r.rax;
	return 0;
}

/* The task unmaps the area itself, from its syscall instruction; lmproc
 * takes over at the syscall-exit stop, so the task never returns into the
 * unmapped blob. */
static int unmap_area(struct restore_ctx *ctx)
{
	long res;
	int ret;

	ret = restore_inject_call(ctx, ctx->pid, __NR_munmap, ctx->area, ctx->area_size, 0, &res);
	if (ret)
		return ret;
	if (res) {
		pr_err("Can't restore pid %d: unmapping the restorer area failed: %s\n",
		       ctx->plan.pid, strerror(-res));
		return res;
	}
	return 0;
}

/* A thread parked by the restorer, in its interrupt stop: pointed at the
 * blob's syscall instruction with a harmless call (orig_ax -1: the futex
 * it waited in is not restarted) and stepped to that call's exit, where
 * its dumped state is set like the main thread's. */
static int take_thread(struct restore_ctx *ctx, const ThreadCoreEntry *tc, pid_t tid)
{
	struct user_regs_struct r;
	int status, ret;

	ret = wait_thread(ctx, tid, &status);
	if (ret)
		return ret;
	if (!WIFSTOPPED(status) || (status >> 16) != PTRACE_EVENT_STOP)
		return thread_crashed(ctx, tid, status);
	if (ptrace(PTRACE_GETREGS, tid, NULL, &r)) {
		pr_perror("Can't read the registers of thread %d of pid %d", tid, ctx->pid);
		return -errno;
	}
	r.rip = ctx->area + restorer_export_syscall_off;
	r.rax = __NR_getpid;
	r.orig_rax = -1;
	if (ptrace(PTRACE_SETREGS, tid, NULL, &r)) {
		pr_perror("Can't set the registers of thread %d of pid %d", tid, ctx->pid);
		return -errno;
	}
	ret = thread_syscall_stop(ctx, tid);
	if (!ret)
		ret = thread_syscall_stop(ctx, tid);
	if (!ret)
		ret = seccomp_restore_thread(ctx, tc, tid);
	if (!ret)
		ret = set_dumped_state(ctx, tc, tid);
	return ret;
}

/* Seizes every parked thread first, so that all their interrupt stops
 * come at once, then takes them over one by one. */
static int take_threads(struct restore_ctx *ctx)
{
	const struct restore_plan *p = &ctx->plan;
	long opts = PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD;
	int ret = restore_map_host_tids(ctx);

	/* No filter a thread shares (below) may judge the restorer's last
	 * calls or lmproc's. */
	if (seccomp_in_use(p->core))
		opts |= PTRACE_O_SUSPEND_SECCOMP;
	for (size_t i = 1; !ret && i < p->nr_threads; i++) {
		pid_t tid = ctx->host_tids[i];

		if (ptrace(PTRACE_SEIZE, tid, NULL, opts) ||
		    ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)) {
			pr_perror("Can't seize thread %d of the restored pid %d", tid, ctx->pid);
			return -errno;
		}
	}
	if (!ret)
		ret = seccomp_restore_shared(ctx);
	for (size_t i = 1; !ret && i < p->nr_threads; i++)
		ret = take_thread(ctx, restore_thread_core(p, i), ctx->host_tids[i]);
	return ret;
}

/* A task dumped in a group stop goes back into one: its stop signal
 * (SIGSTOP, SIGTSTP...) queued now, while every thread is still held,
 * stops it once detached, and its parent's waitpid(WUNTRACED) reports
 * that signal as before. */
static int restore_stopped(struct restore_ctx *ctx)
{
	const ProcessAttrsEntry *e = ctx->plan.core->attrs;

	if (!e->stopped)
		return 0;
	if (pidfd_send_signal(ctx->pidfd, e->stop_signo, NULL, 0)) {
		pr_perror("Can't stop the restored pid %d again with signal %u", ctx->pid,
			  e->stop_signo);
		return -errno;
	}
	return 0;
}

static pid_t host_tid(const struct restore_ctx *ctx, size_t i)
{
	return i ? ctx->host_tids[i] : ctx->pid;
}

/* Every thread of a task dumped in a group stop is stopped again (at
 * most 2 s after the detach). */
static bool all_stopped(const struct restore_ctx *ctx)
{
	for (int tries = 0; tries < 2000; tries++) {
		size_t i = 0;

		for (; i < ctx->plan.nr_threads; i++) {
			struct proc_stat st;

			if (proc_read_stat(host_tid(ctx, i), &st) || st.state != 'T')
				break;
		}
		if (i == ctx->plan.nr_threads)
			return true;
		usleep(1000);
	}
	return false;
}

/* A SIGSTOP the task had queued (sent while it was stopped, it waits for
 * a SIGCONT to discard it) would have stopped the restorer: it is sent
 * now, to the queue it was in, once a task dumped stopped is stopped
 * again. */
static int restore_pending_stops(struct restore_ctx *ctx)
{
	const struct restore_plan *p = &ctx->plan;
	bool waited = false;

	for (size_t i = 0; i < p->nr_threads; i++) {
		const ThreadCoreEntry *tc = restore_thread_core(p, i);

		for (size_t k = 0; k < tc->n_pending; k++) {
			const SiginfoEntry *si = tc->pending[k];
			int sig;

			memcpy(&sig, si->siginfo.data, sizeof(sig));
			if (sig != SIGSTOP)
				continue;
			if (p->core->attrs->stopped && !waited && !all_stopped(ctx)) {
				pr_warn("The restored pid %d did not stop again within 2 s: its "
					"pending SIGSTOP is not sent\n",
					ctx->pid);
				return 0;
			}
			waited = true;
			if (si->shared ? kill(ctx->pid, SIGSTOP)
				       : syscall(SYS_tgkill, ctx->pid, host_tid(ctx, i), SIGSTOP)) {
				pr_perror("Can't queue the pending SIGSTOP of the restored pid %d "
					  "again",
					  ctx->pid);
				return -errno;
			}
		}
	}
	return 0;
}

static int detach_all(struct restore_ctx *ctx)
{
	const struct restore_plan *p = &ctx->plan;

	for (size_t i = p->nr_threads; i-- > 0;) {
		pid_t tid = i ? ctx->host_tids[i] : ctx->pid;

		if (ptrace(PTRACE_DETACH, tid, NULL, NULL)) {
			pr_perror("Can't detach from thread %d of the restored pid %d", tid,
				  ctx->pid);
			return -errno;
		}
	}
	return 0;
}

int restore_finish_task(struct restore_ctx *ctx)
{
	int ret;

	ret = wait_restorer(ctx);
	if (!ret)
		ret = take_threads(ctx);
	/* Every other thread has left the area: its registers are set.  The
	 * main thread's filters go in before the area, which holds them,
	 * goes. */
	if (!ret)
		ret = seccomp_restore_thread(ctx, ctx->plan.core->thread, ctx->pid);
	if (!ret)
		ret = unmap_area(ctx);
	if (!ret)
		ret = set_dumped_state(ctx, ctx->plan.core->thread, ctx->pid);
	if (ret)
		return ret;
	if (fault_injected("restore-before-detach")) {
		pr_err("Can't restore pid %d: fault injected before detach\n", ctx->plan.pid);
		return -EIO;
	}
	return restore_stopped(ctx);
}

int restore_detach_task(struct restore_ctx *ctx)
{
	int ret = detach_all(ctx);

	if (!ret)
		ret = restore_pending_stops(ctx);
	if (!ret)
		ctx->t_detach_ns = now_ns();
	return ret;
}
