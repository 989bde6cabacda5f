/* Owns core-PID.img on dump: registers (converted so the task resumes an
 * interrupted system call), FPU state, signal state, rseq.  Reads the task
 * through ptrace only. */
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
#include "core.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "uapi-compat.h"

#include "core.pb-c.h"

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
static void resume_regs(pid_t pid, struct user_regs_struct *r)
{
	if ((long)r->orig_rax < 0)
		return;
	if (r->orig_rax == __NR_restart_syscall && (long)r->rax == -ERESTART_RESTARTBLOCK)
		pr_warn("pid %d was stopped by a signal inside a timed call and is in restart_syscall; after restore that call returns EINTR\n",
			pid);
	switch ((long)r->rax) {
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
	case -ERESTART_RESTARTBLOCK:
		pr_debug("pid %d: restarting syscall %lld at 0x%llx\n", pid, r->orig_rax, r->rip);
		r->rax = r->orig_rax;
		r->rip -= 2;
		break;
	}
	r->orig_rax = -1;
}

static int dump_pending(pid_t pid, bool shared, SiginfoEntry ***out, size_t *nr)
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
		ret = ptrace(PTRACE_PEEKSIGINFO, pid, &args, &si);
		if (ret < 0) {
			pr_perror("Can't read queued signals of pid %d", pid);
			return -errno;
		}
		if (ret == 0)
			return 0;
		if (*nr >= MAX_PENDING) {
			pr_err("pid %d has more than %d queued signals\n", pid, MAX_PENDING);
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

static char *read_comm(pid_t pid)
{
	char path[64], *buf, *nl;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	buf = proc_read_file(path, NULL);
	if (buf && (nl = strchr(buf, '\n')))
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

static void free_core(CoreEntry *core)
{
	ThreadCoreEntry *tc = core->thread;

	for (size_t i = 0; i < tc->n_pending; i++)
		free(tc->pending[i]);
	free(tc->pending);
	free(tc->xsave.data);
	if (core->n_sigactions)
		free(core->sigactions[0]);
	free(core->sigactions);
	free(core->comm);
}

static int collect_thread(pid_t pid, ThreadCoreEntry *tc, X86Gpregs *g, RseqEntry *rseq)
{
	struct lm_ptrace_rseq_configuration rc = {};
	struct user_regs_struct regs;
	struct iovec iov;
	uint64_t mask;
	int ret;

	if (ptrace(PTRACE_GETREGS, pid, NULL, &regs)) {
		pr_perror("Can't read registers of pid %d", pid);
		return -errno;
	}
	resume_regs(pid, &regs);
	fill_gpregs(g, &regs);
	tc->gpregs = g;
	tc->tid = pid;

	tc->xsave.data = malloc(XSAVE_MAX);
	if (!tc->xsave.data)
		return -ENOMEM;
	iov.iov_base = tc->xsave.data;
	iov.iov_len = XSAVE_MAX;
	if (ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov)) {
		pr_perror("Can't read the FPU state (xsave) of pid %d", pid);
		return -errno;
	}
	tc->xsave.len = iov.iov_len;

	if (ptrace(PTRACE_GETSIGMASK, pid, sizeof(mask), &mask)) {
		pr_perror("Can't read the signal mask of pid %d", pid);
		return -errno;
	}
	tc->blocked_sigs = mask;

	ret = dump_pending(pid, false, &tc->pending, &tc->n_pending);
	if (!ret)
		ret = dump_pending(pid, true, &tc->pending, &tc->n_pending);
	if (ret)
		return ret;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, sizeof(rc), &rc) < 0) {
		if (errno != EIO && errno != EINVAL) {
			pr_perror("Can't read the rseq registration of pid %d", pid);
			return -errno;
		}
	} else if (rc.rseq_abi_pointer) {
		rseq->rseq_abi_pointer = rc.rseq_abi_pointer;
		rseq->rseq_abi_size = rc.rseq_abi_size;
		rseq->signature = rc.signature;
		tc->rseq = rseq;
	}
	return 0;
}

int dump_core(int dfd, pid_t pid, const struct parasite_sigaction *act)
{
	CoreEntry core = CORE_ENTRY__INIT;
	ThreadCoreEntry tc = THREAD_CORE_ENTRY__INIT;
	X86Gpregs g = X86_GPREGS__INIT;
	RseqEntry rseq = RSEQ_ENTRY__INIT;
	int ret;

	core.thread = &tc;
	ret = collect_thread(pid, &tc, &g, &rseq);
	if (!ret)
		ret = dump_sigactions(&core, act);
	if (!ret)
		ret = read_personality(pid, &core.personality);
	if (!ret) {
		core.comm = read_comm(pid);
		if (!core.comm)
			ret = -errno;
	}
	if (!ret)
		ret = img_write_one(dfd, IMG_CORE, pid, &core.base);
	free_core(&core);
	return ret;
}
