/* Parasite control, ptrace level: prepares a seized task and runs single
 * system calls in it by the recipe of KERNEL.md ("ptrace and injection"),
 * keeping its interrupted syscall restartable and no signal lost.  Owns
 * the saved registers, code bytes and signal mask and puts them back.
 * Knows nothing of the parasite blob (infect.c) and never seizes or
 * detaches (seize.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "common.h"
#include "fault.h"
#include "infect.h"
#include "interrupt.h"
#include "log.h"
#include "parasite-syscall.h"

/* include/uapi/linux/ptrace.h (5.3): PTRACE_GETEVENTMSG at a syscall stop. */
#define EVENTMSG_SYSCALL_ENTRY 1
#define EVENTMSG_SYSCALL_EXIT 2

#define CODE_SYSCALL_TRAP 0xcccccccccccc050fUL /* syscall; int3; int3 ... */
#define CODE_TRAP_OFF 3			       /* rip after the int3 */

#define SIGBIT(sig) (1ULL << ((sig)-1))
/* Signals left unblocked while lmproc runs code in the task: the faults
 * that code could raise.  The kernel resets the handler of a forced
 * signal that is blocked (force_sig_info_to_task), so blocking them would
 * corrupt the task's dispositions; unblocked, they stop in ptrace first
 * and never reach the task's handlers.  Everything else stays pending. */
#define SYNC_SIGNALS                                                                            \
	(SIGBIT(SIGTRAP) | SIGBIT(SIGSEGV) | SIGBIT(SIGBUS) | SIGBIT(SIGILL) | SIGBIT(SIGFPE) | \
	 SIGBIT(SIGSYS))

static void defer_signal(struct parasite_ctl *ctl, const siginfo_t *si)
{
	int sig = si->si_signo;

	if (sig < 1 || sig > PARASITE_NSIG)
		return;
	/* Only non-queueing standard signals get here (the rest are
	 * blocked), so coalescing repeats is what the kernel would do. */
	pr_debug("pid %d: signal %d arrived while lmproc held the task, re-sent at cure\n",
		 ctl->pid, sig);
	ctl->deferred[sig - 1] = *si;
	ctl->deferred_set |= SIGBIT(sig);
}

/* Logged as information: the dump names the dead process once, when it
 * releases the tree (pstree.c). */
static int task_gone(struct parasite_ctl *ctl, int status)
{
	ctl->state = TASK_GONE;
	ctl->trapped = false;
	if (status == -1)
		pr_info("pid %d died while lmproc ran code in it\n", ctl->pid);
	else if (WIFEXITED(status))
		pr_info("pid %d exited with status %d while lmproc ran code in it\n", ctl->pid,
		       WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		pr_info("pid %d was killed by signal %d while lmproc ran code in it\n", ctl->pid,
			WTERMSIG(status));
	else
		pr_info("pid %d is exiting while lmproc ran code in it\n", ctl->pid);
	return -ESRCH;
}

int task_resume(struct parasite_ctl *ctl)
{
	if (ptrace(ctl->resume_request, ctl->pid, 0, 0)) {
		pr_perror("Can't resume pid %d", ctl->pid);
		return -errno;
	}
	return 0;
}

/* A signal-delivery stop while lmproc's code ran: ours (the int3 at
 * TRAP_IP), a fault of that code, or a signal someone sent (deferred).
 * Returns 1 when the task is stopped for good, 0 to keep waiting. */
static int signal_stop(struct parasite_ctl *ctl, int sig, unsigned long trap_ip,
		       struct user_regs_struct *regs)
{
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, ctl->pid, 0, &si)) {
		pr_perror("Can't get the signal that stopped pid %d", ctl->pid);
		return -errno;
	}
	/* Kernel-made signals (si_code > 0, SI_KERNEL) come from our code. */
	if (sig == SIGSTOP || si.si_code <= 0) {
		defer_signal(ctl, &si);
		return task_resume(ctl);
	}
	ctl->state = TASK_STOPPED;
	ctl->trapped = true;
	if (ptrace(PTRACE_GETREGS, ctl->pid, 0, regs)) {
		pr_perror("Can't get registers of pid %d", ctl->pid);
		return -errno;
	}
	if (sig == SIGTRAP && si.si_code == SI_KERNEL && regs->rip == trap_ip)
		return 1;
	pr_err("pid %d: signal %d (code %d, address %p) at %#llx while running lmproc's code\n",
	       ctl->pid, sig, si.si_code, si.si_addr, regs->rip);
	return -EFAULT;
}

/* While stepping an untrapped injection: a syscall stop (si_code SIGTRAP,
 * or SIGTRAP | 0x80 under PTRACE_O_TRACESYSGOOD; the event message says
 * entry or exit), the one we wait for or not, or else a real signal. */
static int syscall_stop(struct parasite_ctl *ctl, int status, unsigned long trap_ip,
			struct user_regs_struct *regs)
{
	unsigned long msg;
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, ctl->pid, 0, &si) ||
	    ptrace(PTRACE_GETEVENTMSG, ctl->pid, 0, &msg)) {
		pr_perror("Can't get the stop of pid %d", ctl->pid);
		return -errno;
	}
	if (si.si_code != SIGTRAP && si.si_code != (SIGTRAP | 0x80))
		return signal_stop(ctl, WSTOPSIG(status), trap_ip, regs);
	if (msg != (unsigned long)ctl->syscall_op)
		return task_resume(ctl);
	ctl->state = TASK_STOPPED;
	if (ptrace(PTRACE_GETREGS, ctl->pid, 0, regs)) {
		pr_perror("Can't get registers of pid %d", ctl->pid);
		return -errno;
	}
	return 1;
}

/* Returns 1 when the task reached the stop we wait for (registers in
 * *regs), 0 after handling any other stop (the task runs on), -errno. */
int task_handle_status(struct parasite_ctl *ctl, int status, unsigned long trap_ip,
		       struct user_regs_struct *regs)
{
	int event = status >> 16;

	if (WIFEXITED(status) || WIFSIGNALED(status))
		return task_gone(ctl, status);
	if (!WIFSTOPPED(status)) {
		pr_err("pid %d: unexpected wait status %#x\n", ctl->pid, status);
		return -EINVAL;
	}
	if (event == PTRACE_EVENT_EXIT)
		return task_gone(ctl, status);
	if (event == PTRACE_EVENT_STOP && ctl->interrupting) {
		ctl->state = TASK_STOPPED;
		ctl->trapped = false;
		if (ptrace(PTRACE_GETREGS, ctl->pid, 0, regs)) {
			pr_perror("Can't get registers of pid %d", ctl->pid);
			return -errno;
		}
		return 1;
	}
	/* Group stops, a stale interrupt, other events: not ours, go on. */
	if (event)
		return task_resume(ctl);
	if (ctl->syscall_op && (WSTOPSIG(status) & 0x7f) == SIGTRAP)
		return syscall_stop(ctl, status, trap_ip, regs);
	return signal_stop(ctl, WSTOPSIG(status), trap_ip, regs);
}

/* Bounded: a task killed while lmproc waits is noticed even when its exit
 * can't be reported (a leader whose other threads lmproc traces). */
int task_wait_stop(struct parasite_ctl *ctl, unsigned long trap_ip, struct user_regs_struct *regs)
{
	int status, ret;

	do {
		ret = wait_traced(ctl->pid, &status, TRACEE_STOP_TIMEOUT_MS);
		if (ret == 0)
			return task_gone(ctl, -1);
		if (ret == -ETIMEDOUT) {
			pr_err("pid %d did not stop in %d ms while lmproc ran code in it\n", ctl->pid,
			       TRACEE_STOP_TIMEOUT_MS);
			return ret;
		}
		if (ret < 0) {
			pr_err("Can't wait for pid %d: %s\n", ctl->pid, strerror(-ret));
			return ret;
		}
		ret = task_handle_status(ctl, status, trap_ip, regs);
	} while (!ret);
	return ret < 0 ? ret : 0;
}

static int poke_at(struct parasite_ctl *ctl, unsigned long addr, const long *words, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (ptrace(PTRACE_POKEDATA, ctl->pid, addr + i * 8, words[i])) {
			pr_perror("Can't write pid %d's memory at %#lx", ctl->pid, addr + i * 8);
			return -errno;
		}
	}
	return 0;
}

static int peek_at(struct parasite_ctl *ctl, unsigned long addr, long *words, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		errno = 0;
		words[i] = ptrace(PTRACE_PEEKDATA, ctl->pid, addr + i * 8, 0);
		if (errno) {
			pr_perror("Can't read pid %d's memory at %#lx", ctl->pid, addr + i * 8);
			return -errno;
		}
	}
	return 0;
}

int task_set_regs(struct parasite_ctl *ctl, struct user_regs_struct *regs)
{
	if (ptrace(PTRACE_SETREGS, ctl->pid, 0, regs)) {
		pr_perror("Can't set registers of pid %d", ctl->pid);
		return -errno;
	}
	return 0;
}

int task_block_signals(struct parasite_ctl *ctl)
{
	uint64_t block = ~SYNC_SIGNALS;

	if (ctl->mask_changed)
		return 0;
	if (ptrace(PTRACE_SETSIGMASK, ctl->pid, sizeof(uint64_t), &block)) {
		pr_perror("Can't block signals of pid %d", ctl->pid);
		return -errno;
	}
	ctl->mask_changed = true;
	return 0;
}

int task_unblock_signals(struct parasite_ctl *ctl)
{
	if (!ctl->mask_changed || ctl->state != TASK_STOPPED)
		return 0;
	if (ptrace(PTRACE_SETSIGMASK, ctl->pid, sizeof(uint64_t), &ctl->orig_sigmask)) {
		pr_perror("Can't restore the signal mask of pid %d", ctl->pid);
		return -errno;
	}
	ctl->mask_changed = false;
	return 0;
}

/* A task a dying tracer restarts from the signal-delivery stop of our
 * trap gets that SIGTRAP injected, says ptrace(2), and dies of it (this
 * kernel drops it; others need not).  Parking moves it to an interrupt
 * stop, which a dying tracer leaves as if never stopped: PTRACE_INTERRUPT,
 * then resume with no signal, and it stops again before user mode
 * (KERNEL.md).  park_wait() follows, also when there was nothing to move. */
int park_start(struct parasite_ctl *ctl)
{
	if (ctl->state != TASK_STOPPED || !ctl->trapped)
		return 0;
	if (ptrace(PTRACE_INTERRUPT, ctl->pid, 0, 0)) {
		pr_perror("Can't interrupt pid %d", ctl->pid);
		return -errno;
	}
	return task_resume(ctl);
}

/* The parked task gets its own signal mask back. */
int park_wait(struct parasite_ctl *ctl)
{
	struct user_regs_struct regs;
	int ret = 0;

	if (ctl->state == TASK_STOPPED && ctl->trapped) {
		ctl->interrupting = true;
		ret = task_wait_stop(ctl, 0, &regs);
		ctl->interrupting = false;
	}
	return ret ?: task_unblock_signals(ctl);
}

/* Runs syscall NR with ARGS, the first DATA_LEN bytes of DATA placed
 * right after the code at ctl->code_addr + 8.  Code and registers are put
 * back in the trap's signal-delivery stop, where the kernel still
 * restarts the task's own interrupted syscall on resume. */
static int start_injection(struct parasite_ctl *ctl, long nr, const unsigned long args[6],
			   const void *data, size_t data_len)
{
	struct user_regs_struct regs = ctl->orig_regs;
	long code[INJECT_WORDS] = {CODE_SYSCALL_TRAP};
	int nwords = 1 + (data_len + 7) / 8;
	int ret;

	if (ctl->state != TASK_STOPPED) {
		pr_err("pid %d is not stopped: can't run syscall %ld in it\n", ctl->pid, nr);
		return ctl->state == TASK_GONE ? -ESRCH : -EBUSY;
	}
	if (nwords > INJECT_WORDS)
		return -E2BIG;
	if (data_len)
		memcpy(&code[1], data, data_len);
	regs.rip = ctl->code_addr;
	regs.rax = nr;
	/* -1: resuming must not restart the syscall the task was in. */
	regs.orig_rax = -1;
	regs.rdi = args[0];
	regs.rsi = args[1];
	regs.rdx = args[2];
	regs.r10 = args[3];
	regs.r8 = args[4];
	regs.r9 = args[5];

	ctl->code_poked = nwords;
	ret = poke_at(ctl, ctl->code_addr, code, nwords);
	if (!ret)
		ret = task_set_regs(ctl, &regs);
	if (!ret)
		ret = task_block_signals(ctl);
	if (!ret)
		ret = task_resume(ctl);
	return ret;
}

/* Puts back code, registers and signal mask, wherever the task stopped:
 * the mask too before the park, which runs no signal (its resume meets
 * the interrupt before any dequeue). */
static int unpoke(struct parasite_ctl *ctl, int ret)
{
	if (ctl->state != TASK_STOPPED)
		return ret;
	if (!poke_at(ctl, ctl->code_addr, ctl->code_orig, ctl->code_poked))
		ctl->code_poked = 0;
	else
		keep_first(&ret, -EIO);
	keep_first(&ret, task_set_regs(ctl, &ctl->orig_regs));
	keep_first(&ret, task_unblock_signals(ctl));
	return ret;
}

static int finish_injection(struct parasite_ctl *ctl, int ret)
{
	static bool stopped;
	int err;

	ret = unpoke(ctl, ret);
	err = park_start(ctl);
	keep_first(&ret, err ?: park_wait(ctl));
	/* The test's moment to kill lmproc with a task parked. */
	if (!ret && !stopped && fault_injected("parasite-stop-parked")) {
		stopped = true;
		raise(SIGSTOP);
	}
	return ret;
}

int task_inject(struct parasite_ctl *ctl, long *res, long nr, const unsigned long args[6],
		const void *data, size_t data_len)
{
	struct user_regs_struct regs;
	int ret;

	ret = start_injection(ctl, nr, args, data, data_len);
	if (!ret)
		ret = task_wait_stop(ctl, ctl->code_addr + CODE_TRAP_OFF, &regs);
	if (!ret)
		*res = regs.rax;
	return finish_injection(ctl, ret);
}

/* The int3 that ends an injection is a forced SIGTRAP, and the kernel
 * resets an ignored forced signal to SIG_DFL (force_sig_info_to_task).
 * This variant raises no signal: PTRACE_SYSCALL stops it at the syscall's
 * exit, and PTRACE_INTERRUPT then stops it before it returns to user
 * mode, in a stop where registers go back as in a trap stop (restoring at
 * the syscall-exit stop itself would break the task's restart).  Three
 * stops instead of one: used only to give SIGTRAP back its SIG_IGN. */
static int inject_untrapped(struct parasite_ctl *ctl, long *res, long nr,
			    const unsigned long args[6])
{
	struct user_regs_struct regs;
	int ret;

	ctl->resume_request = PTRACE_SYSCALL;
	ctl->syscall_op = EVENTMSG_SYSCALL_ENTRY;
	ret = start_injection(ctl, nr, args, NULL, 0);
	if (!ret)
		ret = task_wait_stop(ctl, 0, &regs);
	ctl->syscall_op = EVENTMSG_SYSCALL_EXIT;
	if (!ret)
		ret = task_resume(ctl);
	if (!ret)
		ret = task_wait_stop(ctl, 0, &regs);
	ctl->syscall_op = 0;
	ctl->resume_request = PTRACE_CONT;
	if (!ret) {
		*res = regs.rax;
		if (ptrace(PTRACE_INTERRUPT, ctl->pid, 0, 0)) {
			pr_perror("Can't interrupt pid %d", ctl->pid);
			ret = -errno;
		}
	}
	if (!ret)
		ret = task_resume(ctl);
	if (!ret) {
		ctl->interrupting = true;
		ret = task_wait_stop(ctl, 0, &regs);
		ctl->interrupting = false;
	}
	return finish_injection(ctl, ret);
}

int parasite_syscall(struct parasite_ctl *ctl, long *ret, long nr, unsigned long a1,
		     unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5,
		     unsigned long a6)
{
	const unsigned long args[6] = {a1, a2, a3, a4, a5, a6};

	return task_inject(ctl, ret, nr, args, NULL, 0);
}

/* Injects a syscall whose failure is an error of lmproc's: logs it. */
int task_remote_call(struct parasite_ctl *ctl, long *res, const char *what, long nr,
		     const unsigned long args[6], const void *data, size_t data_len)
{
	int ret = task_inject(ctl, res, nr, args, data, data_len);

	if (ret)
		return ret;
	if ((unsigned long)*res > -4096UL) {
		pr_err("%s in pid %d failed: %s\n", what, ctl->pid, strerror(-*res));
		return *res;
	}
	return 0;
}

/* The injection site: the word holding rip, which is mapped and
 * executable; or the start of its page if the memfd name would spill
 * past the page end. */
static unsigned long pick_code_addr(unsigned long rip)
{
	unsigned long addr = rip & ~7UL;

	if ((addr & (PAGE_SIZE - 1)) + INJECT_WORDS * 8 > PAGE_SIZE)
		addr = rip & PAGE_MASK;
	return addr;
}

/* Tgid (to send signals back) and whether SIGTRAP is ignored. */
static int read_status(struct parasite_ctl *ctl)
{
	unsigned long long ignored = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", ctl->pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("Can't read %s", path);
		return -errno;
	}
	ctl->tgid = ctl->pid;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Tgid: %d", &ctl->tgid) == 1)
			continue;
		if (sscanf(line, "SigIgn: %llx", &ignored) == 1)
			break;
	}
	fclose(f);
	ctl->trap_ignored = ignored & SIGBIT(SIGTRAP);
	return 0;
}

/* LIKE, if set, is a thread of the same process prepared before: the tgid
 * and the process-wide SIGTRAP disposition are its. */
static struct parasite_ctl *prepare_ctl(pid_t pid, const struct parasite_ctl *like)
{
	struct parasite_ctl *ctl;

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		pr_err("Out of memory preparing pid %d\n", pid);
		return NULL;
	}
	ctl->pid = pid;
	ctl->state = TASK_STOPPED;
	ctl->resume_request = PTRACE_CONT;
	ctl->remote_fd = -1;
	ctl->local_fd = -1;
	ctl->listen_fd = -1;
	ctl->sk = -1;
	if (ptrace(PTRACE_GETREGS, pid, 0, &ctl->orig_regs)) {
		pr_perror("Can't get registers of pid %d", pid);
		goto err;
	}
	if (ptrace(PTRACE_GETSIGMASK, pid, sizeof(uint64_t), &ctl->orig_sigmask)) {
		pr_perror("Can't get the signal mask of pid %d", pid);
		goto err;
	}
	ctl->code_addr = pick_code_addr(ctl->orig_regs.rip);
	if (peek_at(ctl, ctl->code_addr, ctl->code_orig, INJECT_WORDS))
		goto err;
	if (like) {
		ctl->tgid = like->tgid;
		ctl->trap_ignored = like->trap_ignored;
	} else if (read_status(ctl)) {
		goto err;
	}
	return ctl;
err:
	free(ctl);
	return NULL;
}

struct parasite_ctl *parasite_prepare(pid_t pid)
{
	return prepare_ctl(pid, NULL);
}

/* Scratch space in a thread for the results of injected calls: below the
 * red zone of the stack it stopped on, which no code of the thread relies
 * on keeping. */
#define SCRATCH_WORDS 4
#define SCRATCH_BELOW (128 + SCRATCH_WORDS * 8)
/* Threads asked at once: bounds lmproc's memory (a ctl is ~9 KiB). */
#define THREAD_BATCH 256

typedef long scratch_t[SCRATCH_WORDS];

static unsigned long scratch_of(const struct parasite_ctl *ctl)
{
	return (ctl->orig_regs.rsp - SCRATCH_BELOW) & ~15UL;
}

/* One system call for the whole scratch, not one ptrace per word. */
static int scratch_io(const struct parasite_ctl *ctl, bool write, scratch_t buf)
{
	struct iovec local = {buf, sizeof(scratch_t)};
	struct iovec remote = {(void *)scratch_of(ctl), sizeof(scratch_t)};
	ssize_t n = write ? process_vm_writev(ctl->pid, &local, 1, &remote, 1, 0) :
			    process_vm_readv(ctl->pid, &local, 1, &remote, 1, 0);

	if (n != (ssize_t)sizeof(scratch_t)) {
		pr_perror("Can't %s the stack of thread %d at %#lx", write ? "write" : "read",
			  ctl->pid, scratch_of(ctl));
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

/* Runs NR with ARGS, argument ARG (if >= 0) pointing at each thread's scratch, in
 * every thread of CTLS at once, so that their stops overlap.  Threads may
 * stand at the same code: all are started (code poked) and all are
 * waited for before any code goes back.  RES[i] is thread i's result. */
static int inject_batch(struct parasite_ctl **ctls, size_t n, long nr, const unsigned long args[6],
			int arg, long *res)
{
	int parked[THREAD_BATCH];
	struct user_regs_struct regs;
	size_t started, running = 0;
	int ret = 0;

	for (started = 0; !ret && started < n; started++) {
		unsigned long a[6];

		memcpy(a, args, sizeof(a));
		if (arg >= 0)
			a[arg] = scratch_of(ctls[started]);
		ret = start_injection(ctls[started], nr, a, NULL, 0);
		if (!ret)
			running++;
	}
	for (size_t i = 0; i < running; i++) {
		int err = task_wait_stop(ctls[i], ctls[i]->code_addr + CODE_TRAP_OFF, &regs);

		if (!err)
			res[i] = regs.rax;
		keep_first(&ret, err);
	}
	for (size_t i = 0; i < started; i++) {
		parked[i] = unpoke(ctls[i], 0) ?: park_start(ctls[i]);
		keep_first(&ret, parked[i]);
	}
	for (size_t i = 0; i < started; i++)
		if (!parked[i])
			keep_first(&ret, park_wait(ctls[i]));
	return ret;
}

/* One call in every thread, its result checked, its scratch read. */
static int ask_batch(struct parasite_ctl **ctls, size_t n, const char *what, long nr,
		     const unsigned long args[6], long *res, scratch_t *out)
{
	int ret = inject_batch(ctls, n, nr, args, 1, res);

	for (size_t i = 0; !ret && i < n; i++) {
		if (res[i]) {
			pr_err("%s in thread %d failed: %s\n", what, ctls[i]->pid, strerror(-res[i]));
			return res[i];
		}
		ret = scratch_io(ctls[i], false, out[i]);
	}
	return ret;
}

/* One prctl() in every thread whose answer is its return value. */
static int ask_value_batch(struct parasite_ctl **ctls, size_t n, const char *what,
			   const unsigned long args[6], long *res)
{
	int ret = inject_batch(ctls, n, __NR_prctl, args, -1, res);

	for (size_t i = 0; !ret && i < n; i++) {
		if ((unsigned long)res[i] > -4096UL) {
			pr_err("%s in thread %d failed: %s\n", what, ctls[i]->pid, strerror(-res[i]));
			return res[i];
		}
	}
	return ret;
}

static int dump_batch(struct parasite_ctl **ctls, size_t n, struct parasite_thread_state *st)
{
	unsigned long args[6] = {};
	scratch_t *saved = calloc(n, sizeof(*saved)), *out = calloc(n, sizeof(*out));
	long *res = calloc(n, sizeof(*res));
	size_t nsaved = 0;
	int ret = saved && out && res ? 0 : -ENOMEM;

	for (; !ret && nsaved < n; nsaved++)
		ret = scratch_io(ctls[nsaved], false, saved[nsaved]);
	if (ret && nsaved)
		nsaved--;
	/* stack_t: ss_sp, ss_flags (int, padded), ss_size. */
	if (!ret)
		ret = ask_batch(ctls, n, "sigaltstack()", __NR_sigaltstack, args, res, out);
	for (size_t i = 0; !ret && i < n; i++) {
		st[i].ss_sp = out[i][0];
		st[i].ss_flags = (uint32_t)out[i][1];
		st[i].ss_size = out[i][2];
	}
	args[0] = PR_GET_TID_ADDRESS;
	if (!ret)
		ret = ask_batch(ctls, n, "prctl(PR_GET_TID_ADDRESS)", __NR_prctl, args, res, out);
	for (size_t i = 0; !ret && i < n; i++)
		st[i].clear_child_tid = out[i][0];
	args[0] = PR_GET_PDEATHSIG;
	if (!ret)
		ret = ask_batch(ctls, n, "prctl(PR_GET_PDEATHSIG)", __NR_prctl, args, res, out);
	for (size_t i = 0; !ret && i < n; i++)
		st[i].pdeathsig = (uint32_t)out[i][0];
	args[0] = PR_GET_SECUREBITS;
	if (!ret)
		ret = ask_value_batch(ctls, n, "prctl(PR_GET_SECUREBITS)", args, res);
	for (size_t i = 0; !ret && i < n; i++)
		st[i].secbits = res[i];
	args[0] = PR_GET_TIMERSLACK;
	if (!ret)
		ret = ask_value_batch(ctls, n, "prctl(PR_GET_TIMERSLACK)", args, res);
	for (size_t i = 0; !ret && i < n; i++)
		st[i].timerslack_ns = res[i];
	for (size_t i = 0; i < nsaved; i++)
		keep_first(&ret, scratch_io(ctls[i], true, saved[i]));
	free(saved);
	free(out);
	free(res);
	return ret;
}

int parasite_dump_threads(const pid_t *tids, size_t nr, struct parasite_thread_state *st)
{
	int ret = 0;

	for (size_t off = 0; !ret && off < nr; off += THREAD_BATCH) {
		size_t n = min(nr - off, (size_t)THREAD_BATCH), prepared = 0;
		struct parasite_ctl **ctls = calloc(n, sizeof(*ctls));

		if (!ctls)
			return -ENOMEM;
		for (; prepared < n; prepared++) {
			ctls[prepared] = prepare_ctl(tids[off + prepared], prepared ? ctls[0] : NULL);
			if (!ctls[prepared]) {
				ret = -EIO;
				break;
			}
		}
		if (!ret)
			ret = dump_batch(ctls, n, st + off);
		for (size_t i = 0; i < prepared; i++)
			keep_first(&ret, parasite_cure(ctls[i]));
		free(ctls);
	}
	return ret;
}

/* Closes *FD in the task.  EBADF is fine: the parasite may have closed
 * it just before it was stopped, without getting to say so. */
int task_close_fd(struct parasite_ctl *ctl, int32_t *fd)
{
	unsigned long args[6] = {(unsigned long)*fd};
	long res;
	int ret;

	ret = task_inject(ctl, &res, __NR_close, args, NULL, 0);
	if (ret)
		return ret;
	if (res < 0 && res != -EBADF) {
		pr_err("Can't close fd %d in pid %d: %s\n", *fd, ctl->pid, strerror(-res));
		return res;
	}
	*fd = -1;
	return 0;
}

/* Sends the deferred signals again, with their siginfo where the kernel
 * lets another process queue it (negative codes other than SI_TKILL), to
 * the queue they came from: only tgkill() (SI_TKILL) aims at one thread;
 * kill(), sigqueue() and the kernel's job control signals (a pending
 * SIGSTOP of a stopped task) go to the process-wide queue. */
static int resend_signals(struct parasite_ctl *ctl)
{
	siginfo_t *si;
	int sig, ret = 0;
	long r;

	for (sig = 1; sig <= PARASITE_NSIG; sig++) {
		if (!(ctl->deferred_set & SIGBIT(sig)))
			continue;
		si = &ctl->deferred[sig - 1];
		if (si->si_code == SI_TKILL)
			r = syscall(SYS_tgkill, ctl->tgid, ctl->pid, sig);
		else if (si->si_code < 0)
			r = syscall(SYS_rt_sigqueueinfo, ctl->tgid, sig, si);
		else
			r = kill(ctl->tgid, sig);
		if (r) {
			pr_perror("Can't send signal %d back to pid %d", sig, ctl->pid);
			keep_first(&ret, -errno);
		}
	}
	ctl->deferred_set = 0;
	return ret;
}

/* Gives SIGTRAP back the SIG_IGN our traps took from it.  The reset
 * left its flags, mask and restorer alone: read them into scratch space
 * below the stack's red zone (saved and put back), set SIG_IGN there and
 * install that with the injection that raises no trap. */
static int restore_trap_ignored(struct parasite_ctl *ctl)
{
	unsigned long scratch = (ctl->orig_regs.rsp - 128 - 32) & ~15UL;
	unsigned long args[6] = {SIGTRAP, 0, scratch, sizeof(uint64_t)};
	long saved[4], act[4], res;
	int ret;

	ret = peek_at(ctl, scratch, saved, 4);
	if (ret) {
		pr_err("pid %d ignored SIGTRAP; lmproc's traps reset it to SIG_DFL\n", ctl->pid);
		return ret;
	}
	ret =
	    task_remote_call(ctl, &res, "rt_sigaction(SIGTRAP)", __NR_rt_sigaction, args, NULL, 0);
	if (!ret)
		ret = peek_at(ctl, scratch, act, 4);
	act[0] = (long)SIG_IGN;
	if (!ret)
		ret = poke_at(ctl, scratch, act, 4);
	args[1] = scratch;
	args[2] = 0;
	if (!ret)
		ret = inject_untrapped(ctl, &res, __NR_rt_sigaction, args);
	if (!ret && res) {
		pr_err("Can't set SIGTRAP back to SIG_IGN in pid %d: %s\n", ctl->pid,
		       strerror(-res));
		ret = res;
	}
	keep_first(&ret, poke_at(ctl, scratch, saved, 4));
	if (!ret)
		ctl->trap_ignored = false;
	return ret;
}

/* include/linux/errno.h */
#define ERESTART_RESTARTBLOCK 516

/* The registers the task resumes with.  A call interrupted with
 * -ERESTART_RESTARTBLOCK (nanosleep, clock_nanosleep, poll, futex wait
 * with a timeout) would resume through restart_syscall, whose restart
 * block lives only in this kernel task: a later dump could not say which
 * call to restart, and a restored task would get EINTR.  Re-issue the
 * original call instead, with its original arguments (still in the
 * registers): an absolute sleep is exact, a relative one sleeps its full
 * time again, which the call's contract ("at least") allows. */
static struct user_regs_struct resume_regs(const struct parasite_ctl *ctl)
{
	struct user_regs_struct r = ctl->orig_regs;

	if ((long)r.orig_rax >= 0 && (long)r.rax == -ERESTART_RESTARTBLOCK &&
	    r.orig_rax != __NR_restart_syscall) {
		r.rax = r.orig_rax;
		r.rip -= 2;
		r.orig_rax = -1;
	}
	return r;
}

int task_restore(struct parasite_ctl *ctl)
{
	struct user_regs_struct regs = resume_regs(ctl);
	int ret = 0;

	if (ctl->trap_ignored)
		ret = restore_trap_ignored(ctl);
	keep_first(&ret, task_set_regs(ctl, &regs));
	keep_first(&ret, task_unblock_signals(ctl));
	keep_first(&ret, resend_signals(ctl));
	return ret;
}
