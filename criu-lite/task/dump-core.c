/* Owns core-PID.img on dump: per thread the registers (converted so the
 * thread resumes an interrupted system call), FPU state, signal mask and
 * queue, rseq, robust futex list, comm; for the process the sigactions
 * and personality.  Reads the task through ptrace and /proc only: what
 * needs the thread itself comes in from the parasite (infect.h). */
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "common.h"
#include "fault.h"
#include "core.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "seccomp.h"
#include "uapi-compat.h"

#include "core.pb-c.h"
#include "pstree.h"

/* include/linux/errno.h: never seen by user space, but ptrace shows them
 * in ax while a system call is interrupted. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

#define XSAVE_MAX (64 << 10)
#define MAX_PENDING 4096

static void fill_gpregs(X86Gpregs *g, const struct user_regs_struct *r)
{
	g->r15 = r->r15;
	g->r14 = r->r14;
	g->r13 = r->r13;
	g->r12 = r->r12;
	g->bp = r->rbp;
	g->bx = r->rbx;
	g->r11 = r->r11;
	g->r10 = r->r10;
	g->r9 = r->r9;
	g->r8 = r->r8;
	g->ax = r->rax;
	g->cx = r->rcx;
	g->dx = r->rdx;
	g->si = r->rsi;
	g->di = r->rdi;
	g->orig_ax = r->orig_rax;
	g->ip = r->rip;
	g->cs = r->cs;
	g->flags = r->eflags;
	g->sp = r->rsp;
	g->ss = r->ss;
	g->fs_base = r->fs_base;
	g->gs_base = r->gs_base;
	g->ds = r->ds;
	g->es = r->es;
	g->fs = r->fs;
	g->gs = r->gs;
}

/* The image holds the registers to resume with.  A task stopped inside a
 * system call would have the kernel restart it on the way out; a restored
 * task is not inside any call, so do what the kernel would: back up to the
 * syscall instruction with the call number in ax.  The restart block of
 * -ERESTART_RESTARTBLOCK (nanosleep, poll...) lives in the kernel and is
 * lost, so restart the original call instead, its arguments are still in
 * the registers. */
static void resume_regs(pid_t tid, struct user_regs_struct *r)
{
	if ((long)r->orig_rax < 0)
		return;
	if (r->orig_rax == __NR_restart_syscall && (long)r->rax == -ERESTART_RESTARTBLOCK)
		pr_warn("Thread %d was stopped by a signal inside a timed call and is in restart_syscall; after restore that call returns EINTR\n",
			tid);
	switch ((long)r->rax) {
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
	case -ERESTART_RESTARTBLOCK:
		pr_debug("Thread %d: restarting syscall %lld at 0x%llx\n", tid, r->orig_rax,
			 r->rip);
		r->rax = r->orig_rax;
		r->rip -= 2;
		break;
	}
	r->orig_rax = -1;
}

static int dump_pending(pid_t tid, bool shared, SiginfoEntry ***out, size_t *nr)
{
	struct __ptrace_peeksiginfo_args args = {
		.flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0,
		.nr = 1,
	};
	siginfo_t si;

	for (uint64_t off = 0;; off++) {
		SiginfoEntry **n, *e;
		long ret;

		args.off = off;
		ret = ptrace(PTRACE_PEEKSIGINFO, tid, &args, &si);
		if (ret < 0) {
			pr_perror("Can't read queued signals of thread %d", tid);
			return -errno;
		}
		if (ret == 0)
			return 0;
		if (*nr >= MAX_PENDING) {
			pr_err("Thread %d has more than %d queued signals\n", tid, MAX_PENDING);
			return -E2BIG;
		}
		n = realloc(*out, (*nr + 1) * sizeof(*n));
		e = malloc(sizeof(*e) + sizeof(si));
		if (!n || !e) {
			free(e);
			if (n)
				*out = n;
			return -ENOMEM;
		}
		*out = n;
		siginfo_entry__init(e);
		memcpy(e + 1, &si, sizeof(si));
		e->siginfo.data = (uint8_t *)(e + 1);
		e->siginfo.len = sizeof(si);
		e->shared = shared;
		(*out)[(*nr)++] = e;
	}
}

static int dump_sigactions(CoreEntry *core, const struct parasite_sigaction *act)
{
	SigactionEntry *ents = calloc(64, sizeof(*ents));
	SigactionEntry **ptrs = calloc(64, sizeof(*ptrs));

	if (!ents || !ptrs) {
		free(ents);
		free(ptrs);
		return -ENOMEM;
	}
	core->sigactions = ptrs;
	for (int sig = 1; sig <= 64; sig++) {
		const struct parasite_sigaction *a = &act[sig - 1];
		SigactionEntry *e = &ents[core->n_sigactions];

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (a->handler == (uint64_t)(uintptr_t)SIG_DFL && !a->flags && !a->mask)
			continue;
		sigaction_entry__init(e);
		e->sig = sig;
		e->handler = a->handler;
		e->flags = a->flags;
		e->restorer = a->restorer;
		e->mask = a->mask;
		ptrs[core->n_sigactions++] = e;
	}
	if (!core->n_sigactions)
		free(ents);
	return 0;
}

/* /proc/PID/task/TID/comm without its newline; NULL (errno set) on failure. */
static char *read_comm(pid_t pid, pid_t tid)
{
	char path[96], *buf, *nl;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	buf = proc_read_file(path, NULL);
	if (!buf)
		pr_perror("Can't read %s", path);
	else if ((nl = strchr(buf, '\n')))
		*nl = '\0';
	return buf;
}

static int read_personality(pid_t pid, uint32_t *pers)
{
	cleanup_free char *buf = NULL;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/personality", pid);
	buf = proc_read_file(path, NULL);
	if (!buf || sscanf(buf, "%x", pers) != 1) {
		pr_perror("Can't read %s", path);
		return -EIO;
	}
	return 0;
}

/* One thread's entry and the sub-messages it points to. */
struct thread_core {
	ThreadCoreEntry tc;
	X86Gpregs g;
	RseqEntry rseq;
	SigaltstackEntry ss;
	RobustListEntry robust;
};

static void free_threads(struct thread_core *th, size_t nr)
{
	for (size_t i = 0; th && i < nr; i++) {
		ThreadCoreEntry *tc = &th[i].tc;

		for (size_t k = 0; k < tc->n_pending; k++)
			free(tc->pending[k]);
		free(tc->pending);
		free(tc->xsave.data);
		free(tc->comm);
		free_thread_attrs(tc);
		free_thread_creds(tc);
	}
	free(th);
}

static int collect_regs(pid_t tid, struct thread_core *c)
{
	ThreadCoreEntry *tc = &c->tc;
	struct user_regs_struct regs;
	struct iovec iov;
	uint64_t mask;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs)) {
		pr_perror("Can't read registers of thread %d", tid);
		return -errno;
	}
	resume_regs(tid, &regs);
	fill_gpregs(&c->g, &regs);
	tc->gpregs = &c->g;

	tc->xsave.data = malloc(XSAVE_MAX);
	if (!tc->xsave.data)
		return -ENOMEM;
	iov.iov_base = tc->xsave.data;
	iov.iov_len = XSAVE_MAX;
	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov)) {
		pr_perror("Can't read the FPU state (xsave) of thread %d", tid);
		return -errno;
	}
	tc->xsave.len = iov.iov_len;

	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(mask), &mask)) {
		pr_perror("Can't read the signal mask of thread %d", tid);
		return -errno;
	}
	tc->blocked_sigs = mask;
	return 0;
}

static int collect_rseq(pid_t tid, struct thread_core *c)
{
	struct lm_ptrace_rseq_configuration rc = {};

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rc), &rc) < 0) {
		if (errno != EIO && errno != EINVAL) {
			pr_perror("Can't read the rseq registration of thread %d", tid);
			return -errno;
		}
	} else if (rc.rseq_abi_pointer) {
		c->rseq.rseq_abi_pointer = rc.rseq_abi_pointer;
		c->rseq.rseq_abi_size = rc.rseq_abi_size;
		c->rseq.signature = rc.signature;
		c->tc.rseq = &c->rseq;
	}
	return 0;
}

/* include/uapi/linux/rseq.h: where struct rseq keeps the pointer to the
 * critical section the thread is in, and that section's descriptor. */
#define RSEQ_CS_OFFSET 8
struct rseq_cs_desc {
	uint32_t version;
	uint32_t flags;
	uint64_t start_ip;
	uint64_t post_commit_offset;
	uint64_t abort_ip;
};

static int read_task(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};

	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* A thread stopped inside an rseq critical section has not been through
 * the kernel's abort yet (that comes on its way back to user mode): do it
 * here, or the restored thread would finish the section as if it had not
 * been interrupted. */
static void rseq_abort(pid_t pid, struct thread_core *c)
{
	struct rseq_cs_desc cs;
	uint64_t cs_ptr, ip = c->g.ip;

	if (!c->tc.rseq ||
	    read_task(pid, c->rseq.rseq_abi_pointer + RSEQ_CS_OFFSET, &cs_ptr, sizeof(cs_ptr)) ||
	    !cs_ptr || read_task(pid, cs_ptr, &cs, sizeof(cs)))
		return;
	if (ip < cs.start_ip || ip - cs.start_ip >= cs.post_commit_offset)
		return;
	pr_debug("Thread %u: in an rseq critical section at 0x%llx, resumes at its abort 0x%llx\n",
		 c->tc.tid, (unsigned long long)ip, (unsigned long long)cs.abort_ip);
	c->g.ip = cs.abort_ip;
}

/* The robust futex list the kernel walks at the thread's exit, and what
 * the thread said itself (signal stack, clear_child_tid). */
static int collect_exit_state(pid_t tid, struct thread_core *c,
			      const struct parasite_thread_state *ts)
{
	ThreadCoreEntry *tc = &c->tc;
	void *head = NULL;
	size_t len = 0;

	if (syscall(SYS_get_robust_list, tid, &head, &len)) {
		pr_perror("Can't read the robust futex list of thread %d", tid);
		return -errno;
	}
	if (head) {
		c->robust.head = (uintptr_t)head;
		c->robust.len = len;
		tc->robust_list = &c->robust;
	}
	if (!(ts->ss_flags & SS_DISABLE)) {
		c->ss.ss_sp = ts->ss_sp;
		c->ss.ss_size = ts->ss_size;
		c->ss.ss_flags = ts->ss_flags;
		tc->sigaltstack = &c->ss;
	}
	tc->has_clear_child_tid = ts->clear_child_tid != 0;
	tc->clear_child_tid = ts->clear_child_tid;
	return 0;
}

/* Thread TID of PID; the main thread also takes the process-wide queue
 * of pending signals. */
static int collect_thread(pid_t pid, pid_t tid, struct thread_core *c,
			  const struct parasite_thread_state *ts)
{
	ThreadCoreEntry *tc = &c->tc;
	int ret;

	thread_core_entry__init(tc);
	x86_gpregs__init(&c->g);
	rseq_entry__init(&c->rseq);
	sigaltstack_entry__init(&c->ss);
	robust_list_entry__init(&c->robust);
	tc->tid = pstree_vpid(tid);
	ret = collect_regs(tid, c);
	if (!ret)
		ret = dump_pending(tid, false, &tc->pending, &tc->n_pending);
	if (!ret && tid == pid)
		ret = dump_pending(tid, true, &tc->pending, &tc->n_pending);
	if (!ret)
		ret = collect_rseq(tid, c);
	if (!ret) {
		rseq_abort(pid, c);
		ret = collect_exit_state(tid, c, ts);
	}
	if (!ret) {
		tc->comm = read_comm(pid, tid);
		if (!tc->comm)
			ret = -errno ? -errno : -EIO;
	}
	if (!ret)
		ret = dump_thread_attrs(pid, tid, tc, ts);
	if (!ret)
		ret = dump_thread_creds(pid, tid, tc, ts);
	return ret;
}

int dump_core(int dfd, const struct seized_task *t, const struct parasite_sigaction *act,
	      const struct parasite_thread_state *ts, const struct task_misc *misc)
{
	CoreEntry core = CORE_ENTRY__INIT;
	struct thread_core *th = calloc(t->nr_tids, sizeof(*th));
	ThreadCoreEntry **others = calloc(t->nr_tids, sizeof(*others));
	ThreadCoreEntry **all = calloc(t->nr_tids, sizeof(*all));
	int ret = th && others && all ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < t->nr_tids; i++) {
		all[i] = &th[i].tc;
		ret = collect_thread(t->pid, t->tids[i], &th[i], &ts[i]);
	}
	if (!ret) {
		core.thread = &th[0].tc;
		for (size_t i = 1; i < t->nr_tids; i++)
			others[i - 1] = &th[i].tc;
		core.threads = others;
		core.n_threads = t->nr_tids - 1;
		core.comm = th[0].tc.comm;
		/* An image restore refuses: the dump's self-check must. */
		if (fault_injected("dump-image-invalid"))
			core.comm = (char *)"";
		ret = dump_sigactions(&core, act);
	}
	if (!ret)
		ret = read_personality(t->pid, &core.personality);
	if (!ret)
		ret = dump_process_attrs(t->pid, &core, misc);
	if (!ret)
		ret = dump_timers(&core, misc);
	if (!ret)
		ret = seccomp_dump(t, &core, all);
	if (!ret)
		ret = img_write_one(dfd, IMG_CORE, pstree_vpid(t->pid), &core.base);
	seccomp_free(&core, all, t->nr_tids);
	free_process_attrs(&core);
	free_dumped_timers(&core);
	if (core.n_sigactions)
		free(core.sigactions[0]);
	free(core.sigactions);
	free(others);
	free(all);
	free_threads(th, t->nr_tids);
	return ret;
}
