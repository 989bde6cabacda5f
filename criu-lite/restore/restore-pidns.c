/* Owns `restore --pidns`: the tree is restored into a new pid namespace,
 * where its pids are free whatever runs on the host.  lmproc forks the
 * namespace's init (a small reaper, still lmproc's code), which gets a
 * mount namespace with a /proc of its own pid namespace; then lmproc
 * forks the root into that namespace through a helper sharing its memory
 * (clone CLONE_VM|CLONE_VFORK, no copy), which exits at once, so that
 * the init adopts the root: the tree's premap area (staged memory
 * included) is handed down by that one fork, never through the init.
 * The tasks see their dumped pids; lmproc, outside, traces them by their
 * host pids, read from NSpid. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "proc.h"
#include "restore.h"
#include "uapi-compat.h"

static volatile int init_root_fd = -1;

static void forward(int sig)
{
	if (init_root_fd >= 0)
		pidfd_send_signal(init_root_fd, sig, NULL, 0);
}

/* Its parent, lmproc, is outside the namespace (getppid() says 0): its
 * pidfd, inherited, tells whether it has ended. */
static bool lmproc_gone(const struct restore_tree *t)
{
	struct pollfd p = { .fd = t->lmproc_pidfd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

/* --grace: the tree runs untraced while lmproc may still fail the
 * restore, so this init keeps its parent-death signal (a SIGKILL of lmproc
 * ends the namespace) and reaps (within 50 ms) until lmproc lets go. */
static void grace_reap(struct restore_ctx *root, pid_t pid)
{
	while (root->args->init_hold) {
		struct timespec nap = { 0, 50 * 1000000L };
		pid_t w;
		int st;

		syscall(SYS_futex, &root->args->init_hold, FUTEX_WAIT, 1, &nap, NULL, 0);
		while ((w = waitpid(-1, &st, WNOHANG)) > 0)
			if (w == pid)
				_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
}

static void futex_nap(volatile uint32_t *w, uint32_t val)
{
	struct timespec nap = { 0, 50 * 1000000L };

	syscall(SYS_futex, w, FUTEX_WAIT, val, &nap, NULL, 0);
}

/* The helper lmproc forks into this namespace (to fork the root) gets
 * the pid after ns_last_pid: never the root's, whatever that is. */
static int set_last_pid(pid_t pid)
{
	char buf[16];
	int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC), n, ret = 0;

	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%d", pid);
	if (write(fd, buf, n) != n)
		ret = -1;
	close(fd);
	return ret;
}

/* Its namespace made, the init waits (as long as lmproc lives) for
 * lmproc to fork the root into it and reap the helper that did, which
 * hands the root to this init. */
static pid_t wait_root(struct restore_tree *t)
{
	struct tree_sync *sync = t->sync;

	sync->init_ready = 1;
	syscall(SYS_futex, &sync->init_ready, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	while (!sync->root_adopted) {
		futex_nap(&sync->root_adopted, 0);
		if (lmproc_gone(t))
			_exit(1);
	}
	if (sync->root_adopted != ROOT_ADOPTED)
		_exit(1);
	return t->ctx[0].plan.pid;
}

/* Pid 1 of the new namespace: forwards the signals a service manager
 * sends to the root, reaps orphans, and exits as the root does. */
static void __attribute__((noreturn)) pidns_init(struct restore_tree *t)
{
	static const int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	struct restore_ctx *root = &t->ctx[0];
	struct sigaction sa = { .sa_handler = forward };
	sigset_t none;
	int st, root_fd;
	pid_t pid;

	/* Until lmproc has seized the tree (PTRACE_O_EXITKILL from then on),
	 * its death must take this init, and so the whole namespace, along. */
	restore_fault_late_child();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || lmproc_gone(t))
		_exit(1);
	/* A slave of lmproc's: the host's later mounts reach the tree as they
	 * would in lmproc's namespace, and its /proc stays its own, so a dump
	 * finds lmproc's mounts but for /proc (task/namespaces.c). */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		snprintf(root->args->child_err, sizeof(root->args->child_err),
			 "can't mount a /proc for the new pid namespace: %s", strerror(errno));
		restore_task_fail(root);
	}
	if (set_last_pid(root->plan.pid)) {
		snprintf(root->args->child_err, sizeof(root->args->child_err),
			 "can't set ns_last_pid of the new pid namespace: %s", strerror(errno));
		restore_task_fail(root);
	}
	for (size_t i = 0; i < ARRAY_SIZE(fwd); i++)
		sigaction(fwd[i], &sa, NULL);
	pid = wait_root(t);
	root_fd = pidfd_open(pid, 0);
	if (root_fd < 0) {
		snprintf(root->args->child_err, sizeof(root->args->child_err),
			 "the init can't open a pidfd of pid %d: %s", pid, strerror(errno));
		restore_task_fail(root);
	}
	init_root_fd = root_fd;
	/* lmproc's fds (its stdio, log, images) are not the init's to keep:
	 * a pipe lmproc writes to must see its end when lmproc exits. */
	close_range(0, root_fd - 1, 0);
	close_range(root_fd + 1, ~0U, 0);
	while (!root->args->go) {
		futex_nap(&root->args->go, 0);
		if (waitpid(pid, &st, WNOHANG) == pid)
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	grace_reap(root, pid);
	prctl(PR_SET_PDEATHSIG, 0);
	root->args->init_free = 1;
	syscall(SYS_futex, &root->args->init_free, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (;;) {
		pid_t w = waitpid(-1, &st, 0);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			_exit(0);
		if (w == pid)
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
}

/* The init may not have run since lmproc woke the root: until it drops
 * its PR_SET_PDEATHSIG, lmproc's exit would kill it, and with it the
 * whole namespace (a loaded machine lost restored trees so). */
int restore_pidns_wait_init(const struct restore_tree *t)
{
	struct restorer_args *a = t->ctx[0].args;

	for (int i = 0; t->pidns && !a->init_free && i < 100; i++) {
		struct timespec nap = { 0, 50 * 1000000L };

		syscall(SYS_futex, &a->init_free, FUTEX_WAIT, 0, &nap, NULL, 0);
	}
	if (!t->pidns || a->init_free)
		return 0;
	pr_err("The init of the restored pid namespace did not start within 5 s\n");
	return -ETIMEDOUT;
}

/* --grace is over and committed: the init outlives lmproc from now on. */
int restore_pidns_let_go(const struct restore_tree *t)
{
	struct restorer_args *a = t->ctx[0].args;

	a->init_hold = 0;
	syscall(SYS_futex, &a->init_hold, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	return restore_pidns_wait_init(t);
}

int restore_pidns_fork_init(struct restore_tree *t)
{
	struct lm_clone_args ca = {
	    .flags = CLONE_NEWPID | CLONE_PIDFD,
	    .pidfd = (uint64_t)(uintptr_t)&t->init_pidfd,
	    .exit_signal = SIGCHLD,
	};
	pid_t pid;

	t->lmproc_pidfd = pidfd_open(getpid(), 0);
	if (t->lmproc_pidfd < 0) {
		pr_perror("Can't open a pidfd of lmproc for the namespace's init");
		return -errno;
	}
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		pidns_init(t);
	if (pid < 0) {
		t->init_pidfd = -1;
		pr_perror("Can't create a pid namespace for the restore");
		return -errno;
	}
	t->init_pid = pid;
	return 0;
}

/* Until then the init has no /proc of its own, and the root's helper
 * would join lmproc's mount namespace. */
static int wait_init_ready(struct restore_tree *t)
{
	struct pollfd p = { .fd = t->init_pidfd, .events = POLLIN };

	for (int i = 0; !t->sync->init_ready; i++) {
		if (t->sync->failed || poll(&p, 1, 0) != 0)
			return -EIO;
		if (i >= 100)
			return -ETIMEDOUT;
		futex_nap(&t->sync->init_ready, 0);
	}
	return 0;
}

struct root_fork {
	struct restore_tree *t;
	pid_t pid;
	int err;
};

/* The helper: in the init's pid namespace (lmproc's pid_for_children)
 * and on lmproc's memory, lmproc stopped until it exits.  It joins the
 * init's mount namespace and forks the root, the one fork that copies
 * the premap area; its exit hands the root to the init (the reaper of
 * the namespace it dies in). */
static int root_fork_main(void *arg)
{
	struct root_fork *f = arg;
	struct restore_ctx *root = &f->t->ctx[0];
	pid_t pid;

	if (setns(f->t->init_pidfd, CLONE_NEWNS)) {
		snprintf(root->args->child_err, sizeof(root->args->child_err),
			 "can't join the mount namespace of the new pid namespace's init: %s",
			 strerror(errno));
		f->t->sync->failed = 1;
		f->err = 0;
		return 1;
	}
	pid = restore_clone_with_pid(root->plan.pid, NULL);
	if (pid == 0) {
		f->t->no_rseq = true;
		restore_task_main(root);
	}
	f->pid = pid;
	f->err = pid < 0 ? errno : 0;
	return 0;
}

#define ROOT_FORK_STACK (8UL << 20)

static int vfork_root(struct restore_tree *t, struct root_fork *f)
{
	char *stack = mmap(NULL, ROOT_FORK_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	pid_t helper;
	int st;

	if (stack == MAP_FAILED)
		return -errno;
	f->t = t;
	f->pid = -1;
	f->err = ECHILD;
	helper = clone(root_fork_main, stack + ROOT_FORK_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD,
		       f);
	if (helper < 0) {
		f->err = errno;
	} else {
		while (waitpid(helper, &st, 0) < 0 && errno == EINTR)
			;
	}
	munmap(stack, ROOT_FORK_STACK);
	return helper < 0 ? -f->err : 0;
}

static int fork_root_in_ns(struct restore_tree *t)
{
	struct root_fork f = {};
	int own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC), ret;

	if (own < 0 || setns(t->init_pidfd, CLONE_NEWPID)) {
		pr_perror("Can't enter the new pid namespace to fork pid %d", t->ctx[0].plan.pid);
		ret = -errno;
		goto out;
	}
	ret = vfork_root(t, &f);
	/* Children lmproc forks from now on are its own namespace's. */
	if (setns(own, CLONE_NEWPID)) {
		pr_perror("Can't return to lmproc's pid namespace");
		ret = ret ?: -errno;
	}
	if (ret)
		pr_err("Can't start the helper that forks pid %d: %s\n", t->ctx[0].plan.pid,
		       strerror(-ret));
	else if (f.pid < 0)
		ret = f.err ? restore_clone_error(t->ctx[0].plan.pid, f.err) : -EIO;
out:
	if (own >= 0)
		close(own);
	return ret;
}

int restore_pidns_fork_root(struct restore_tree *t)
{
	int ret = wait_init_ready(t);

	if (ret == -ETIMEDOUT)
		pr_err("The init of the restored pid namespace did not mount its /proc within "
		       "5 s\n");
	if (!ret)
		ret = fork_root_in_ns(t);
	t->sync->root_adopted = ret ? ROOT_ABANDONED : ROOT_ADOPTED;
	syscall(SYS_futex, &t->sync->root_adopted, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	return ret;
}

int restore_pidns_wait_adopted(const struct restore_tree *t)
{
	while (t->sync->root_adopted != ROOT_ADOPTED) {
		if (t->sync->root_adopted)
			return -1;
		futex_nap(&t->sync->root_adopted, 0);
	}
	return 0;
}

/* The pid TASK has in its own (innermost) namespace, 0 if unknown. */
static pid_t inner_pid(pid_t host, pid_t task)
{
	pid_t ns[33]; /* MAX_PID_NS_LEVEL + 1 */
	int n = proc_read_nspid(host, task, ns, ARRAY_SIZE(ns));

	return n > 0 ? ns[n - 1] : 0;
}

static int map_children(struct restore_tree *t, pid_t host)
{
	char path[96];
	cleanup_free char *buf = NULL;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", host, host);
	buf = proc_read_file(path, NULL);
	if (!buf) {
		pr_perror("Can't read %s", path);
		return -errno;
	}
	for (char *s = buf, *end; !ret; s = end) {
		pid_t child = strtol(s, &end, 10), in;

		if (end == s)
			break;
		in = inner_pid(child, child);
		for (size_t i = 0; i < t->nr; i++)
			if (t->ctx[i].plan.pid && t->ctx[i].plan.pid == in)
				t->ctx[i].host_pid = child;
		ret = map_children(t, child);
	}
	return ret;
}

int restore_map_host_pids(struct restore_tree *t)
{
	int ret;

	for (size_t i = 0; i < t->nr; i++)
		t->ctx[i].host_pid = t->pidns ? 0 : t->ctx[i].plan.pid;
	if (!t->pidns)
		return 0;
	ret = map_children(t, t->init_pid);
	if (ret)
		return ret;
	for (size_t i = 0; i < t->nr; i++) {
		if (t->ctx[i].plan.pid && !t->ctx[i].host_pid) {
			pr_err("Can't find the restored pid %d in the new pid namespace\n",
			       t->ctx[i].plan.pid);
			return -ESRCH;
		}
	}
	pr_info("The tree runs in a new pid namespace: its root pid %d is pid %d here\n",
		t->ctx[0].plan.pid, t->ctx[0].host_pid);
	return 0;
}

int restore_map_host_tids(struct restore_ctx *ctx)
{
	const struct restore_plan *p = &ctx->plan;
	char path[64];
	struct dirent *de;
	DIR *d;

	free(ctx->host_tids);
	ctx->host_tids = calloc(p->nr_threads, sizeof(*ctx->host_tids));
	if (!ctx->host_tids)
		return -ENOMEM;
	ctx->host_tids[0] = ctx->pid;
	for (size_t i = 1; !ctx->tree->pidns && i < p->nr_threads; i++)
		ctx->host_tids[i] = restore_thread_core(p, i)->tid;
	if (!ctx->tree->pidns)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", ctx->pid);
	d = opendir(path);
	if (!d) {
		pr_perror("Can't list %s", path);
		return -errno;
	}
	while ((de = readdir(d))) {
		pid_t host = atoi(de->d_name), in = host ? inner_pid(ctx->pid, host) : 0;

		for (size_t i = 1; in && i < p->nr_threads; i++)
			if (restore_thread_core(p, i)->tid == (uint32_t)in)
				ctx->host_tids[i] = host;
	}
	closedir(d);
	for (size_t i = 1; i < p->nr_threads; i++) {
		if (!ctx->host_tids[i]) {
			pr_err("Can't find thread %u of the restored pid %d\n",
			       restore_thread_core(p, i)->tid, ctx->plan.pid);
			return -ESRCH;
		}
	}
	return 0;
}
