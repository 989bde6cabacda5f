/* Owns the birth of the restored tree: clone3 with the dumped pids (each
 * process forks its children; threads' tids checked free first), seizing
 * every task once all are set up, and each task's own libc-side setup before it jumps into the restorer (signals, session,
 * files, fs, personality, comm, rseq).  The task never returns from
 * task_main(); it reports a failure of its setup in args->child_err and
 * exits.  restore-hold.c holds them and kills them on failure. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "common.h"
#include "fault.h"
#include "log.h"
#include "mem-cow.h"
#include "proc.h"
#include "restore.h"
#include "restorer-blob.h"
#include "task-attrs.h"
#include "sysvipc.h"
#include "tty.h"
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

/* A new session, or a group of its own, before its children are forked
 * (they inherit both). */
static int task_session(struct restore_ctx *ctx, const PstreeEntry *e)
{
	if (ctx->session == TASK_NEW_SESSION) {
		if (setsid() < 0)
			return task_err(ctx, "can't start session %u: %s", e->sid, strerror(errno));
		return 0;
	}
	if ((ctx->session == TASK_OWN_GROUP || ctx->own_group) && setpgid(0, 0))
		return task_err(ctx, "can't lead process group %u: %s", e->pgid, strerror(errno));
	return 0;
}

/* A group led by another process: every process of the tree exists once
 * lmproc says go. */
static int task_join_group(struct restore_ctx *ctx, const PstreeEntry *e)
{
	if ((ctx->session == TASK_JOIN_GROUP || ctx->join_late) && setpgid(0, e->pgid))
		return task_err(ctx, "can't join process group %u: %s", e->pgid, strerror(errno));
	return 0;
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

	if (!__rseq_size || ctx->tree->no_rseq)
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

void restore_task_fail(struct restore_ctx *ctx)
{
	ctx->tree->sync->failed = 1;
	syscall(SYS_futex, &ctx->tree->sync->ready, FUTEX_WAKE, 1, NULL, NULL, 0);
	_exit(1);
}

/* A zombie is born to exit at once, as it did, with its process group;
 * its parent does not reap it. */
static void __attribute__((noreturn)) zombie_main(struct restore_ctx *ctx, const PstreeEntry *e)
{
	struct rlimit no_core = { 0, 0 };
	sigset_t sig;
	int st = e->exit_status;

	if (restore_die_with_parent(ctx->tree->entries[ctx->tree->parent[ctx->idx]]->pid))
		_exit(1);
	if (e->comm)
		prctl(PR_SET_NAME, e->comm);
	if (ctx->own_group)
		setpgid(0, 0);
	else if (ctx->join_late || ctx->group_helper)
		setpgid(0, e->pgid);
	if (WIFSIGNALED(st)) {
		/* The dumped one already left its core file. */
		setrlimit(RLIMIT_CORE, &no_core);
		signal(WTERMSIG(st), SIG_DFL);
		sigemptyset(&sig);
		sigaddset(&sig, WTERMSIG(st));
		sigprocmask(SIG_UNBLOCK, &sig, NULL);
		raise(WTERMSIG(st));
	}
	_exit(WEXITSTATUS(st));
}

/* The leader of a group whose leader is gone: it makes the group and
 * waits to be killed once its parent has put the members in. */
struct group_helper {
	pid_t pid;
	int pidfd;
};

static int fork_group_helper(struct restore_ctx *ctx, pid_t pgid, struct group_helper *h)
{
	pid_t parent = getpid(), pid = restore_clone_with_pid(pgid, &h->pidfd);

	if (pid == 0) {
		if (restore_die_with_parent(parent))
			_exit(1);
		for (;;)
			pause();
	}
	if (pid < 0)
		return task_err(ctx, "can't create pid %d to remake process group %d: %s", pgid,
				pgid, strerror(errno));
	h->pid = pid;
	if (setpgid(pid, pid))
		return task_err(ctx, "can't remake process group %d: %s", pgid, strerror(errno));
	return 0;
}

static void end_group_helper(struct group_helper *h)
{
	siginfo_t si;

	if (h->pid <= 0)
		return;
	pidfd_send_signal(h->pidfd, SIGKILL, NULL, 0);
	waitid(P_PIDFD, h->pidfd, &si, WEXITED);
	close(h->pidfd);
	h->pid = 0;
	h->pidfd = -1;
}

static int fork_child(struct restore_ctx *ctx, size_t i, struct group_helper *helper)
{
	struct restore_tree *t = ctx->tree;
	struct restore_ctx *c = &t->ctx[i];
	pid_t pgid = t->entries[i]->pgid, pid;
	int ret;

	if (c->group_helper && helper->pid != pgid) {
		end_group_helper(helper);
		ret = fork_group_helper(ctx, pgid, helper);
		if (ret)
			return ret;
	}
	pid = restore_clone_with_pid(t->entries[i]->pid, NULL);
	if (pid == 0 && !c->plan.pid)
		zombie_main(c, t->entries[i]);
	if (pid == 0)
		restore_task_main(c);
	if (pid < 0)
		return task_err(ctx, "can't create child pid %u: %s", t->entries[i]->pid,
				strerror(errno));
	/* Now, while the helper lives: the next child's helper, or the
	 * end of the forks, kills it and the group is gone if nothing else
	 * joined.  A zombie also joins by itself and may have exited. */
	if (c->group_helper && setpgid(pid, pgid) && (c->plan.pid || getpgid(pid) != pgid))
		return task_err(ctx, "can't put pid %d into process group %d: %s", pid, pgid,
				strerror(errno));
	return 0;
}

/* Forks the children of CTX's process that EARLY says: those that stay in
 * the session it had before its setsid(), or the others. */
static int fork_children(struct restore_ctx *ctx, bool early)
{
	struct restore_tree *t = ctx->tree;
	struct group_helper helper = { 0, -1 };
	int ret = 0;

	for (size_t i = ctx->idx + 1; i < t->nr && !ret; i++)
		if (t->parent[i] == (int)ctx->idx && t->ctx[i].fork_early == early)
			ret = fork_child(ctx, i, &helper);
	end_group_helper(&helper);
	return ret;
}

/* The group zombie I joins by itself (zombie_main), 0 if none. */
static pid_t zombie_group(const struct restore_tree *t, size_t i)
{
	const struct restore_ctx *c = &t->ctx[i];

	if (c->own_group)
		return t->entries[i]->pid;
	return c->join_late || c->group_helper ? (pid_t)t->entries[i]->pgid : 0;
}

/* The zombies' exits (and group helpers') queued SIGCHLD here: the
 * dumped process had taken those, or they come back with its pending
 * signals, which the restorer queues later. */
static int wait_zombies(struct restore_ctx *ctx)
{
	struct restore_tree *t = ctx->tree;
	struct timespec zero = { 0, 0 };
	sigset_t chld;

	for (size_t i = ctx->idx + 1; i < t->nr; i++) {
		siginfo_t si;

		if (t->parent[i] != (int)ctx->idx || t->ctx[i].plan.pid)
			continue;
		if (waitid(P_PID, t->entries[i]->pid, &si, WEXITED | WNOWAIT))
			return task_err(ctx, "can't wait for zombie %u: %s", t->entries[i]->pid,
					strerror(errno));
		if (zombie_group(t, i) && getpgid(t->entries[i]->pid) != zombie_group(t, i))
			return task_err(ctx, "zombie %u came back in process group %d, not %d",
					t->entries[i]->pid, getpgid(t->entries[i]->pid),
					zombie_group(t, i));
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while (sigtimedwait(&chld, NULL, &zero) == SIGCHLD)
		;
	return 0;
}

/* The /proc of the task's tree: lmproc's, or under --pidns the one
 * restore-pidns.c mounted for the new pid namespace. */
static int open_proc_root(struct restore_ctx *ctx, char *err, size_t len)
{
	ctx->proc_root = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx->proc_root < 0) {
		snprintf(err, len, "can't open the tree's /proc: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* The task's root and cwd, then what it sets through /proc: every /proc
 * access goes through the tree's /proc opened before, as a chroot()
 * hides /proc.  The handle is taken once every fd is in place; it stays
 * open for the files under /proc/PID/ (restore_task_proc_files). */
static int task_fs_attrs(struct restore_ctx *ctx, char *err, size_t len)
{
	int ret = open_proc_root(ctx, err, len);

	if (!ret)
		ret = restore_task_fs(ctx, err, len);
	if (!ret)
		ret = task_identity(ctx);
	if (!ret)
		ret = restore_task_attrs(&ctx->plan, ctx->proc_root, err, len);
	return ret;
}

static int task_setup(struct restore_ctx *ctx, const PstreeEntry *e)
{
	struct restorer_args *a = ctx->args;
	char *err = a->child_err;
	size_t len = sizeof(a->child_err);

	/* Before any fork: the children inherit the memory they share. */
	if (restore_task_premap(ctx, err, len) || restore_task_files(ctx, err, len) ||
	    fork_children(ctx, true) ||
	    task_session(ctx, e) || restore_task_ctty(ctx, err, len) ||
	    restore_task_dev_tty(ctx, err, len) || fork_children(ctx, false) ||
	    restore_task_drop_inherited(ctx, err, len) || wait_zombies(ctx) ||
	    task_fs_attrs(ctx, err, len) || unregister_rseq(ctx))
		return -1;
	return 0;
}

/* A forked task.  It sets up what needs libc (and forks its children)
 * while lmproc waits, says it is ready, and waits until lmproc has seized
 * it (with EXITKILL, so lmproc's death kills it from then on; PDEATHSIG
 * covers the moment before) and leaves libc behind: the restorer must
 * not run untraced. */
void restore_task_main(struct restore_ctx *ctx)
{
	struct restore_tree *t = ctx->tree;
	const PstreeEntry *e = ctx->plan.pstree;
	struct restorer_args *a = ctx->args;
	pid_t parent = ctx->idx ? (pid_t)t->entries[t->parent[ctx->idx]]->pid :
		       t->pidns ? 1 : ctx->lmproc_pid;
	uint64_t all = ~0ULL;

	/* The raw call: glibc's sigprocmask() would leave its own signals
	 * (32, 33) unblocked. */
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof(all));
	if (!ctx->idx && !t->pidns)
		restore_fault_late_child();
	/* Its parent is the helper that forked it, until the init adopts it. */
	if (!ctx->idx && t->pidns && restore_pidns_wait_adopted(t))
		_exit(1);
	if (restore_die_with_parent(parent))
		restore_task_fail(ctx);
	if (task_setup(ctx, e))
		restore_task_fail(ctx);
	a->ready = 1;
	__atomic_add_fetch(&t->sync->ready, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &t->sync->ready, FUTEX_WAKE, 1, NULL, NULL, 0);
	while (!a->go)
		syscall(SYS_futex, &a->go, FUTEX_WAIT, 0, NULL, NULL, 0);
	/* Every process of the tree exists now. */
	if (restore_task_proc_files(ctx, ctx->proc_root, a->child_err, sizeof(a->child_err)) ||
	    restore_task_pidfds(ctx, a->child_err, sizeof(a->child_err)))
		restore_task_fail(ctx);
	/* The restorer's, for /proc/self/mem (it closes it). */
	a->proc_fd = ctx->proc_root;
	if (task_join_group(ctx, e) || restore_task_fg(ctx, a->child_err, sizeof(a->child_err)))
		restore_task_fail(ctx);
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
	/* A shell job joins lmproc's job, on lmproc's terminal. */
	if (ctx->opts->shell_job)
		return;
	if (e->sid == e->pid) {
		ctx->session = TASK_NEW_SESSION;
		return;
	}
	/* Under a new init nothing of lmproc's session is visible. */
	if (ctx->tree->pidns) {
		if (e->pgid == e->pid)
			ctx->session = TASK_OWN_GROUP;
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

/* restore-killed-at-fork: lmproc dies right after its first fork, before
 * the child (made late on purpose) has set its parent-death signal. */
void restore_fault_late_child(void)
{
	if (fault_injected("restore-killed-at-fork"))
		usleep(100 * 1000);
}

void restore_fault_killed_at_fork(void)
{
	if (fault_injected("restore-killed-at-fork"))
		raise(SIGKILL);
}

pid_t restore_clone_with_pid(pid_t pid, int *pidfd)
{
	struct lm_clone_args ca = {
	    .flags = pidfd ? CLONE_PIDFD : 0,
	    .pidfd = (uint64_t)(uintptr_t)pidfd,
	    .exit_signal = SIGCHLD,
	    .set_tid = (uint64_t)(uintptr_t)&pid,
	    .set_tid_size = 1,
	};

	return syscall(SYS_clone3, &ca, sizeof(ca));
}

/* First thing in every process a restore creates, until the hand-over:
 * it dies with its parent, and checks that the parent has not died
 * before (it would have been handed to a reaper, whose end is no
 * signal to it). */
int restore_die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		return -1;
	return 0;
}

int restore_clone_error(pid_t pid, int e)
{

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

#define SETUP_TIMEOUT_MS 30000
#define SETUP_POLL_MS 50

/* A task that died during its setup (or never got forked because its
 * parent failed) can't say so itself. */
static bool setup_failed(const struct restore_tree *t)
{
	struct proc_status st;

	if (t->sync->failed)
		return true;
	/* The tasks' pids are not lmproc's to look up: their init tells. */
	if (t->pidns)
		return proc_read_status(t->init_pid, &st) || st.state == 'Z' || st.state == 'X';
	for (size_t i = 0; i < t->nr; i++) {
		const struct restore_ctx *c = &t->ctx[i];
		int p = t->parent[i];

		if (!c->plan.pid || c->args->ready)
			continue;
		if (p >= 0 && !t->ctx[p].args->ready)
			continue;
		if (p < 0 && c->host_pid <= 0)
			continue;
		if (proc_read_status(c->plan.pid, &st) || st.state == 'Z' || st.state == 'X')
			return true;
	}
	return false;
}

static void report_setup_failure(const struct restore_tree *t)
{
	for (size_t i = 0; i < t->nr; i++)
		if (t->ctx[i].plan.pid && t->ctx[i].args->child_err[0]) {
			pr_err("Can't restore pid %d: %s\n", t->ctx[i].plan.pid,
			       t->ctx[i].args->child_err);
			return;
		}
	pr_err("Can't restore pid %d: a process of the tree died while being set up\n",
	       t->ctx[0].plan.pid);
}

static int wait_tree_ready(struct restore_tree *t, uint32_t nr_live)
{
	for (int waited = 0;; waited += SETUP_POLL_MS) {
		struct timespec ts = { 0, SETUP_POLL_MS * 1000000L };
		uint32_t seen = t->sync->ready;

		if (seen == nr_live)
			return 0;
		if (restore_check_interrupt(t))
			return -EINTR;
		if (setup_failed(t)) {
			report_setup_failure(t);
			return -EIO;
		}
		if (waited >= SETUP_TIMEOUT_MS) {
			pr_err("Can't restore pid %d: the tree was not set up within %d s\n",
			       t->ctx[0].plan.pid, SETUP_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		syscall(SYS_futex, &t->sync->ready, FUTEX_WAIT, seen, &ts, NULL, 0);
	}
}

static int seize_and_go(struct restore_tree *t)
{
	int ret = restore_map_host_pids(t);

	if (!ret)
		ret = restore_hold_tree(t);
	/* Held and waiting: into their cgroups before any runs its code. */
	if (!ret)
		ret = restore_place_cgroups(t);
	if (!ret)
		ret = restore_check_interrupt(t);
	if (ret)
		return ret;
	for (size_t i = 0; i < t->nr; i++) {
		struct restore_ctx *c = &t->ctx[i];

		if (!c->plan.pid)
			continue;
		c->args->go = 1;
		/* The root's word has a second waiter: --pidns's init. */
		syscall(SYS_futex, &c->args->go, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	}
	return 0;
}

int restore_fork_tree(struct restore_tree *t)
{
	struct restore_ctx *root = &t->ctx[0];
	uint32_t nr_live = 0;
	pid_t pid;
	int ret;

	if (fault_injected("restore-before-fork")) {
		pr_err("Can't restore pid %d: fault injected before the fork\n", root->plan.pid);
		return -EIO;
	}
	for (size_t i = 0; i < t->nr; i++) {
		if (!t->ctx[i].plan.pid)
			continue;
		nr_live++;
		ret = t->pidns ? 0 : check_tids_free(&t->ctx[i].plan);
		if (ret)
			return ret;
	}
	plan_session(root);
	/* Every check is made: a test runs another restore of these images
	 * meanwhile. */
	if (fault_injected("restore-stop-before-fork"))
		raise(SIGSTOP);
	ret = restore_check_interrupt(t);
	if (ret)
		return ret;
	for (size_t i = 0; i < t->nr; i++)
		t->ctx[i].lmproc_pid = getpid();
	root->t_fork_ns = now_ns();
	/* The init never holds the premap area: forked before it is
	 * forkable, it gets the root from the one fork that copies it. */
	if (t->pidns) {
		ret = restore_pidns_fork_init(t) ?: restore_sysvipc_in_pidns(t);
		if (ret)
			return ret;
		restore_fault_killed_at_fork();
	}
	restore_premap_dofork(t);
	if (t->pidns) {
		ret = restore_pidns_fork_root(t);
		if (ret == -EIO)
			report_setup_failure(t);
		if (ret)
			return ret;
	} else {
		pid = restore_clone_with_pid(root->plan.pid, &root->pidfd);
		if (pid == 0)
			restore_task_main(root);
		if (pid < 0)
			return restore_clone_error(root->plan.pid, errno);
		root->host_pid = root->pid = pid;
	}
	if (!t->pidns)
		restore_fault_killed_at_fork();
	ret = wait_tree_ready(t, nr_live);
	if (!ret)
		ret = seize_and_go(t);
	return ret;
}
