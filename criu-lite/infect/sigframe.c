/* The signal frame a parasite returns through when lmproc goes away
 * before it is told to finish (pie/parasite.c): built here at infection
 * from the task's saved registers and signal mask and its FPU state, in
 * the layout x86-64 rt_sigreturn reads (struct parasite_sigframe).  Only
 * that return path uses it: lmproc's own cure restores the task with
 * ptrace. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "common.h"
#include "log.h"
#include "parasite-syscall.h"

/* arch/x86/include/uapi/asm/ucontext.h */
#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
/* arch/x86/include/uapi/asm/sigcontext.h */
#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_XSTATE_MAGIC2 0x46505845U
#define FX_SW_OFF 464 /* struct _fpx_sw_bytes in the fxsave area */
#define FXSAVE_SIZE 512
/* include/linux/errno.h */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* The largest XSAVE layout (AMX included) is under 12 KiB. */
#define XSTATE_MAX (16 * 1024)

struct fpx_sw_bytes {
	uint32_t magic1;
	uint32_t extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

/* Words of struct sigcontext, parasite_sigframe.mc. */
enum {
	MC_R8,
	MC_R9,
	MC_R10,
	MC_R11,
	MC_R12,
	MC_R13,
	MC_R14,
	MC_R15,
	MC_RDI,
	MC_RSI,
	MC_RBP,
	MC_RBX,
	MC_RDX,
	MC_RAX,
	MC_RCX,
	MC_RSP,
	MC_RIP,
	MC_EFLAGS,
	MC_SEGS,
	MC_ERR,
	MC_TRAPNO,
	MC_OLDMASK,
	MC_CR2,
	MC_FPSTATE
};

/* The registers the task resumes with, its interrupted syscall restarted
 * as the kernel restarts one when no handler runs.  rt_sigreturn makes
 * restart_syscall fail with EINTR (restore_sigcontext), so a call
 * interrupted with -ERESTART_RESTARTBLOCK is issued again instead, as
 * task_restore() does. */
static struct user_regs_struct frame_regs(const struct parasite_ctl *ctl)
{
	struct user_regs_struct r = ctl->orig_regs;

	if ((long)r.orig_rax < 0)
		return r;
	switch (-(long)r.rax) {
	case ERESTARTSYS:
	case ERESTARTNOINTR:
	case ERESTARTNOHAND:
	case ERESTART_RESTARTBLOCK:
		if (r.orig_rax == __NR_restart_syscall)
			break;
		r.rax = r.orig_rax;
		r.rip -= 2;
	}
	return r;
}

static void fill_mcontext(uint64_t *mc, const struct user_regs_struct *r)
{
	const uint64_t v[] = {
	    [MC_R8] = r->r8,   [MC_R9] = r->r9,		[MC_R10] = r->r10, [MC_R11] = r->r11,
	    [MC_R12] = r->r12, [MC_R13] = r->r13,	[MC_R14] = r->r14, [MC_R15] = r->r15,
	    [MC_RDI] = r->rdi, [MC_RSI] = r->rsi,	[MC_RBP] = r->rbp, [MC_RBX] = r->rbx,
	    [MC_RDX] = r->rdx, [MC_RAX] = r->rax,	[MC_RCX] = r->rcx, [MC_RSP] = r->rsp,
	    [MC_RIP] = r->rip, [MC_EFLAGS] = r->eflags,
	};
	uint16_t segs[4] = {r->cs, r->gs, r->fs, r->ss};

	memcpy(mc, v, sizeof(v));
	memcpy(&mc[MC_SEGS], segs, sizeof(segs));
}

/* The task's FPU state as XRSTOR reads it from a signal frame: the
 * NT_X86_XSTATE regset (fxsave area, software bytes, XSAVE header and
 * components), MAGIC2 after it.  Without XSAVE, the plain fxsave area. */
static int read_fpu(const struct parasite_ctl *ctl, uint8_t *buf, size_t *len)
{
	struct iovec iov = {buf, XSTATE_MAX};
	struct fpx_sw_bytes sw;
	uint32_t magic2 = FP_XSTATE_MAGIC2;

	if (ptrace(PTRACE_GETREGSET, ctl->pid, NT_X86_XSTATE, &iov) == 0 &&
	    iov.iov_len > FXSAVE_SIZE) {
		memset(&sw, 0, sizeof(sw));
		sw.magic1 = FP_XSTATE_MAGIC1;
		sw.xstate_size = iov.iov_len;
		sw.extended_size = iov.iov_len + sizeof(magic2);
		memcpy(&sw.xfeatures, buf + FX_SW_OFF, sizeof(sw.xfeatures));
		memcpy(buf + FX_SW_OFF, &sw, sizeof(sw));
		memcpy(buf + iov.iov_len, &magic2, sizeof(magic2));
		*len = iov.iov_len + sizeof(magic2);
		return 0;
	}
	iov.iov_len = FXSAVE_SIZE;
	if (ptrace(PTRACE_GETREGSET, ctl->pid, NT_PRFPREG, &iov) || iov.iov_len != FXSAVE_SIZE) {
		pr_perror("Can't read the FPU state of pid %d", ctl->pid);
		return -errno ? -errno : -EIO;
	}
	memset(buf + FX_SW_OFF, 0, FXSAVE_SIZE - FX_SW_OFF);
	*len = FXSAVE_SIZE;
	return 0;
}

int parasite_frame_build(const struct parasite_ctl *ctl, void **out, size_t *len)
{
	struct user_regs_struct regs = frame_regs(ctl);
	struct parasite_sigframe *f;
	size_t fpu_len;
	uint8_t *buf;
	int ret;

	buf = calloc(1, PARASITE_FRAME_FPU_OFF + XSTATE_MAX + 8);
	if (!buf)
		return -ENOMEM;
	ret = read_fpu(ctl, buf + PARASITE_FRAME_FPU_OFF, &fpu_len);
	if (ret) {
		free(buf);
		return ret;
	}
	f = (struct parasite_sigframe *)buf;
	f->uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	/* Until the parasite writes the thread's own signal stack here. */
	f->ss_flags = SS_DISABLE;
	fill_mcontext(f->mc, &regs);
	f->mc[MC_OLDMASK] = ctl->orig_sigmask;
	f->mc[MC_FPSTATE] = PARASITE_FRAME_FPU_OFF;
	f->uc_sigmask = ctl->orig_sigmask;
	*out = buf;
	*len = PARASITE_FRAME_FPU_OFF + fpu_len;
	return 0;
}

void parasite_frame_place(void *frame, unsigned long at)
{
	struct parasite_sigframe *f = frame;

	f->mc[MC_FPSTATE] = at + PARASITE_FRAME_FPU_OFF;
}
