/* `lmproc restore -D DIR [-d]`: the order of the restore steps (read and
 * check everything for every process of the tree, build the restorer
 * areas, open service fds, fork the tree, restorers, registers; then the
 * hand-over: network locks released, addresses announced, connections
 * out of repair mode, detach),
 * the stats image, and the wait that forwards the root's exit status.
 * After the fork, every failure kills the tree: no half-restored process
 * is left behind.  SIGINT, SIGTERM and SIGHUP until the hand-over are
 * such a failure. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "announce.h"
#include "cgroup.h"
#include "common.h"
#include "cpu.h"
#include "fault.h"
#include "fd-types.h"
#include "sk-tcp.h"
#include "sk-unix.h"
#include "image.h"
#include "interrupt.h"
#include "json.h"
#include "log.h"
#include "mem-cow.h"
#include "namespaces.h"
#include "netns.h"
#include "opts.h"
#include "progress.h"
#include "restore.h"
#include "restore-stage.h"
#include "seccomp.h"
#include "sysvipc.h"
#include "task-attrs.h"
#include "tty.h"

#include "stats.pb-c.h"

/* What --json tells of a restore that succeeded: stats-restore.img's
 * figures (the root's) and each process's pid and pages. */
struct restore_report {
	RestoreStatsEntry stats;
	bool has_stats;
	size_t nr;
	pid_t *pids;
	uint64_t *pages;
};

static int open_images_dir(const char *dir)
{
	int dfd = img_dir_open(AT_FDCWD, dir);

	if (dfd < 0) {
		errno = -dfd;
		pr_perror("Can't open images directory %s", dir);
		return dfd;
	}
	if (faccessat(dfd, "inventory.img", F_OK, AT_SYMLINK_NOFOLLOW)) {
		pr_err("No complete dump in %s: inventory.img is missing\n", dir);
		close(dfd);
		return -ENOENT;
	}
	return dfd;
}

/* Stats are for bench/ and the planner; a read-only images directory
 * (a restore from shipped images) is no reason to fail. */
static void write_stats(const struct restore_ctx *ctx, struct restore_report *rep)
{
	RestoreStatsEntry st = RESTORE_STATS_ENTRY__INIT;
	struct stat sb;
	const struct restorer_args *a = ctx->args;
	/* The restorer's clock is the tree's: in a time namespace, offset. */
	uint64_t off = (uint64_t)restore_ns_mono_offset(ctx->tree);
	uint64_t entry = a->t_entry_ns ? a->t_entry_ns - off : ctx->t_fork_ns;
	uint64_t filled = a->t_filled_ns - off, done = a->t_done_ns - off;

	st.forking_time_us = (entry - ctx->t_fork_ns) / 1000;
	st.restore_time_us = (ctx->t_detach_ns - entry) / 1000;
	st.pages_restored = a->pages_restored + a->pages_premapped;
	st.has_total_time_us = true;
	st.total_time_us = (ctx->t_detach_ns - ctx->t_start_ns) / 1000;
	pr_debug("Restore of pid %d: fork to restorer %llu us, pages %llu us, rest of the "
		 "restorer %llu us, registers and detach %llu us\n",
		 ctx->pid, (unsigned long long)(entry - ctx->t_fork_ns) / 1000,
		 (unsigned long long)(filled - entry) / 1000,
		 (unsigned long long)(done - filled) / 1000,
		 (unsigned long long)(ctx->t_detach_ns - done) / 1000);
	pr_info("Restored pid %d: %llu pages, fork %llu us, restore %llu us, total %llu us\n",
		ctx->pid, (unsigned long long)st.pages_restored,
		(unsigned long long)st.forking_time_us, (unsigned long long)st.restore_time_us,
		(unsigned long long)st.total_time_us);
	rep->stats = st;
	rep->has_stats = true;
	if (faccessat(ctx->dfd, ".", W_OK, AT_EACCESS)) {
		pr_debug("Not writing stats-restore.img: %s is not writable (%s)\n",
			 ctx->opts->images_dir, strerror(errno));
		return;
	}
	/* The restore has succeeded: something planted at the name is worth
	 * a warning, not an error (image.c would refuse it as one). */
	if (!fstatat(ctx->dfd, "stats-restore.img", &sb, AT_SYMLINK_NOFOLLOW) &&
	    !S_ISREG(sb.st_mode)) {
		pr_warn("Not writing stats-restore.img in %s: that name is not a regular file\n",
			ctx->opts->images_dir);
		return;
	}
	if (img_write_one(ctx->dfd, IMG_STATS_RESTORE, 0, &st.base))
		pr_warn("Could not write stats-restore.img in %s\n", ctx->opts->images_dir);
}

/* Under --pidns the pids are the new namespace's: always free. */
static int check_machine(struct restore_tree *t)
{
	for (size_t i = 0; i < t->nr; i++) {
		int ret = 0;

		if (t->ctx[i].plan.pid)
			ret = restore_check_machine(&t->ctx[i].plan);
		if (!ret && !t->pidns)
			ret = restore_check_pid_free(t->entries[i]->pid);
		if (!ret && t->ctx[i].plan.pid)
			ret = restore_may_set_creds(&t->ctx[i].plan);
		if (!ret && t->ctx[i].plan.pid)
			ret = restore_may_set_attrs(&t->ctx[i].plan);
		if (!ret && t->ctx[i].plan.pid)
			ret = seccomp_may_restore(&t->ctx[i].plan);
		if (ret)
			return ret;
	}
	return 0;
}

static int prepare(struct restore_tree *t, struct lmproc_opts *opts, int dfd)
{
	int ret;

	ret = restore_plan_images(t, opts, dfd);
	if (!ret && opts->stage)
		ret = restore_stage_plan(t, opts->stage);
	if (!ret)
		ret = restore_check_cgroups(t);
	if (!ret)
		ret = pipe_check_inherit(t);
	if (!ret)
		ret = unix_check_inherit(t);
	if (!ret)
		ret = restore_check_netns(t, opts);
	if (!ret)
		ret = restore_check_ns(t, opts);
	/* Before any SysV object is made (the shared memory is, with the
	 * service fds). */
	if (!ret)
		ret = restore_make_ipcns(t);
	if (ret)
		return ret;
	t->fd_base = restore_tree_fd_base(t);
	for (size_t i = 0; i < t->nr && !ret; i++)
		if (t->ctx[i].plan.pid)
			ret = restore_open_service_fds(&t->ctx[i]);
	if (!ret)
		ret = restore_plan_shared_files(t);
	if (!ret)
		ret = cpu_check(t->inv->cpu, t->inv->root_pid, opts->cpu_cap, NULL, 0);
	if (!ret)
		ret = check_machine(t);
	if (!ret)
		ret = restore_make_cgroups(t);
	if (!ret)
		ret = restore_sysvipc(dfd, t);
	/* Before the areas, which then keep clear of it. */
	if (!ret)
		ret = restore_reserve_premap(t);
	if (!ret && opts->stage)
		ret = restore_stage_place(t, opts->stage);
	for (size_t i = 0; i < t->nr && !ret; i++)
		if (t->ctx[i].plan.pid)
			ret = restore_prepare_area(&t->ctx[i]);
	if (ret)
		return ret;
	t->sync = mmap(NULL, sizeof(*t->sync), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	if (t->sync == MAP_FAILED) {
		t->sync = NULL;
		pr_perror("Can't map the restore's shared state");
		return -ENOMEM;
	}
	return 0;
}

static void close_service_fds(struct restore_tree *t)
{
	for (size_t i = 0; t->ctx && i < t->nr; i++)
		if (t->ctx[i].plan.pid)
			restore_close_service_fds(&t->ctx[i]);
}

/* Shared memory, SysV objects and cgroups the restore made go again if it
 * fails (the cgroups once its tasks are gone).  SysV objects of the
 * tree's own IPC namespace are removed there, never in lmproc's (if it
 * can't be entered, they go with it). */
static void undo_shmem(struct restore_tree *t)
{
	int back, ipc = restore_enter_ipcns(t, &back);

	restore_undo_netns(t);
	if (!ipc)
		restore_undo_sysvipc(t);
	restore_undo_cgroups(t);
	for (size_t i = 0; t->ctx && i < t->nr; i++)
		if (t->ctx[i].plan.pid)
			restore_undo_shmem(&t->ctx[i], !ipc);
	ipcns_return(&back);
}

/* The dumped connections' packets pass again: the tree runs (or the
 * restore failed, and holding them helps no one). */
static void release_locks(struct restore_tree *t)
{
	char last[32] = "";
	/* A tree's own namespace holds its lock (netns.c made it there):
	 * none made yet, no lock to release. */
	int back = restore_enter_netns(t);

	if (t->netns && back < 0)
		return;
	for (size_t i = 0; t->ctx && i < t->nr; i++)
		if (t->ctx[i].plan.pid)
			tcp_release_locks(&t->ctx[i].plan, last);
	if (back >= 0)
		netns_leave(back);
}

/* Segments marked for removal are marked again in their namespace. */
static void done_shmem(struct restore_tree *t)
{
	int back;

	if (restore_enter_ipcns(t, &back)) {
		pr_warn("Can't enter the tree's IPC namespace: its segments marked for removal stay until it goes\n");
		return;
	}
	for (size_t i = 0; i < t->nr; i++)
		if (t->ctx[i].plan.pid)
			restore_done_shmem(&t->ctx[i]);
	ipcns_return(&back);
}

/* The processes restored, for --json, while their areas are there. */
static void report_procs(const struct restore_tree *t, struct restore_report *rep)
{
	rep->pids = calloc(t->nr, sizeof(*rep->pids));
	rep->pages = calloc(t->nr, sizeof(*rep->pages));
	if (!rep->pids || !rep->pages)
		return;
	for (size_t i = 0; i < t->nr; i++) {
		const struct restore_ctx *c = &t->ctx[i];

		if (!c->plan.pid)
			continue;
		rep->pids[rep->nr] = c->pid;
		rep->pages[rep->nr++] = c->args->pages_restored + c->args->pages_premapped;
	}
}

/* Each process's restorer has filled its pages once its task is
 * finished: the progress line counts them. */
static int finish_tasks(struct restore_tree *t)
{
	int ret = 0;

	for (size_t i = 0; i < t->nr && !ret; i++) {
		if (!t->ctx[i].plan.pid)
			continue;
		ret = restore_finish_task(&t->ctx[i]);
		progress_procs(i + 1, t->nr,
			       t->ctx[i].args->pages_restored + t->ctx[i].args->pages_premapped);
	}
	return ret;
}

/* restore --pidfile: the root's pid as this host sees it, CRIU's way
 * (the number alone), in a file made here (O_EXCL: never one lmproc did
 * not make), before the hand-over so that a failure fails the restore. */
static int write_pidfile(const struct restore_tree *t, const char *path)
{
	pid_t root = t->pidns ? t->ctx[0].host_pid : t->ctx[0].pid;
	char buf[16];
	int fd, len, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		pr_perror("Can't make the pid file %s", path);
		return -errno;
	}
	len = snprintf(buf, sizeof(buf), "%d", root);
	if (write(fd, buf, len) != len) {
		ret = -EIO;
		pr_perror("Can't write the pid file %s", path);
	}
	if (close(fd) && !ret) {
		ret = -errno;
		pr_perror("Can't write the pid file %s", path);
	}
	if (ret)
		unlink(path);
	return ret;
}

/* restore --leave-stopped: a SIGSTOP queued to each process while its
 * threads are still held stops it as soon as it is detached. */
static int stop_tree(const struct restore_tree *t)
{
	for (size_t i = 0; i < t->nr; i++) {
		const struct restore_ctx *c = &t->ctx[i];

		if (!c->plan.pid)
			continue;
		if (pidfd_send_signal(c->pidfd, SIGSTOP, NULL, 0)) {
			pr_perror("Can't stop the restored pid %d (--leave-stopped)", c->plan.pid);
			return -errno;
		}
	}
	return 0;
}

static int restore(struct restore_tree *t, struct lmproc_opts *opts, int dfd, uint64_t t_start,
		   struct restore_report *rep)
{
	int ret = prepare(t, opts, dfd);
	bool unlocked = false, committed = false, ran = false, pidfile = false;
	uint64_t in_init;

	if (!ret && opts->grace_ms && (!t->pidns || !opts->restore_hold)) {
		pr_err("A grace period is serve's: it needs --pidns (its init holds the running "
		       "tree) and a source to tell\n");
		ret = -EINVAL;
	}
	if (!ret && opts->grace_ms)
		t->ctx[0].args->init_hold = 1;
	if (!ret)
		ret = restore_check_interrupt(t);
	if (ret) {
		release_locks(t);
		undo_shmem(t);
		return ret;
	}
	t->ctx[0].t_start_ns = t_start;
	/* The tree is forked inside its network namespace, lmproc's thread
	 * only for the fork. */
	ret = restore_make_netns(t, opts);
	if (!ret) {
		ret = restore_make_ns(t, opts);
		if (ret)
			restore_leave_netns(t);
	}
	if (ret) {
		release_locks(t);
		undo_shmem(t);
		return ret;
	}
	ret = restore_fork_tree(t);
	ret = restore_leave_netns(t) ?: ret;
	ret = restore_leave_ns(t) ?: ret;
	/* Only the tasks need them, and they have their own copies. */
	close_service_fds(t);
	if (!ret)
		ret = finish_tasks(t);
	/* Before the tree runs: its own output never meets the line. */
	progress_end();
	/* The hand-over: the whole tree at once, or none of it. */
	if (!ret && !opts->grace_ms)
		ret = restore_pidns_wait_init(t) ?: restore_check_interrupt(t);
	/* serve --grace: the tree runs, its network locked, before the
	 * source is told; a failure kills it as below. */
	if (!ret && opts->grace_ms) {
		ran = true;
		ret = restore_grace(t, opts, dfd);
	}
	if (!ret && opts->pidfile) {
		ret = write_pidfile(t, opts->pidfile);
		pidfile = !ret;
	}
	if (!ret && opts->leave_stopped)
		ret = stop_tree(t);
	/* serve: the tree stays stopped (after a grace: runs, locked) until
	 * the source commits; from then on the source's copy is gone, and
	 * this one must run whatever fails (committed). */
	if (!ret && opts->restore_hold) {
		ret = opts->restore_hold(opts->hold_arg, t,
					 t->pidns ? t->ctx[0].host_pid : t->ctx[0].pid);
		committed = !ret;
	}
	/* Before the tasks run, and with their packets passing: the
	 * addresses announced (bridges and peers learn their new port), then
	 * each connection leaves repair mode, so its window probe reaches the
	 * peer, which resumes at once, not a retransmission timeout later. */
	if (!ret) {
		release_locks(t);
		unlocked = true;
		restore_announce(t);
		if (!ran)
			ret = tcp_restore_resume(t, dfd);
		if (!ret && committed && fault_injected("restore-after-commit")) {
			pr_err("The hand-over after the commit fails: fault injected\n");
			ret = -EIO;
		}
	}
	for (size_t i = 0; i < t->nr && !ran && (!ret || committed); i++)
		if (t->ctx[i].plan.pid)
			ret = restore_detach_task(&t->ctx[i]) ?: ret;
	/* After a grace the tree runs already: its init now outlives lmproc. */
	if (ran && (!ret || committed))
		ret = restore_pidns_let_go(t) ?: ret;
	if (ret && committed) {
		pr_warn("The hand-over after the source's commit failed (%s): the tree runs here "
			"anyway, the only copy left; check its connections\n", strerror(-ret));
		ret = 0;
	}
	if (ret) {
		/* A grace's connections left repair mode: back, and closed
		 * while the locks hold, so that nothing of them reaches the
		 * peers the source resumes with. */
		if (ran)
			restore_grace_drop(t, true);
		restore_kill_tree(t);
		if (pidfile)
			unlink(opts->pidfile);
		if (!unlocked)
			release_locks(t);
		undo_shmem(t);
		return ret;
	}
	/* The tree runs: lmproc's copy of its premap area (the staged
	 * memory) goes now, not in the frozen window. */
	in_init = restore_premap_handed_down(t);
	if (opts->stage && opts->stage->used_vmas) {
		opts->stage->handed_down = true;
		opts->stage->init_kb = in_init >> 10;
	}
	done_shmem(t);
	write_stats(&t->ctx[0], rep);
	report_procs(t, rep);
	return 0;
}

static void free_tree(struct restore_tree *t)
{
	restore_grace_drop(t, false);
	restore_release_tree(t);
	close_service_fds(t);
	for (size_t i = 0; t->ctx && i < t->nr; i++) {
		if (!t->ctx[i].plan.pid)
			continue;
		restore_free_area(&t->ctx[i]);
		free(t->ctx[i].shmem_made);
		free(t->ctx[i].shmem_own);
		restore_free_plan(&t->ctx[i].plan);
		free(t->ctx[i].host_tids);
	}
	free(t->ctx);
	restore_free_premap(t);
	restore_free_sysvipc(t);
	restore_free_netns(t);
	restore_free_ns(t);
	if (t->sync)
		munmap(t->sync, sizeof(*t->sync));
	restore_free_tree(t);
}

static int wait_task(pid_t pid)
{
	int status;

	for (;;) {
		if (waitpid(pid, &status, 0) < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("Can't wait for the restored pid %d", pid);
			return -errno;
		}
		if (WIFEXITED(status))
			return WEXITSTATUS(status);
		if (WIFSIGNALED(status))
			return 128 + WTERMSIG(status);
	}
}

/* A signal that came once the tree was handed over: the restore is done,
 * and lmproc, if it waits for the root now, takes it as a waiter would. */
static void late_interrupt(int sig, bool waiting)
{
	pr_warn("SIG%s came after the restored tree was handed over: the restore is complete\n",
		sigabbrev_np(sig));
	if (waiting)
		raise(sig);
}

/* --json: one object on stdout, printed once the tree runs (before the
 * wait without -d, so that a script learns the pid at once), or why the
 * restore failed. */
static void report_json(const struct lmproc_opts *opts, const struct restore_report *rep, pid_t pid,
			int ret)
{
	bool refused = ret == -EOPNOTSUPP || ret == -EINVAL || ret == -EPERM || ret == -EACCES ||
		       ret == -EBUSY || ret == -EEXIST || ret == -ENOENT || ret == -EPROTO;

	printf("{\"command\": \"restore\", \"result\": \"%s\", \"images_dir\": ",
	       ret ? (refused ? "refused" : "failed") : "restored");
	json_str(stdout, opts->images_dir);
	if (ret) {
		printf(", \"reason\": ");
		json_str(stdout, log_first_error()[0] ? log_first_error() : strerror(-ret));
		printf(", \"errno\": \"%s\"}\n", strerrorname_np(-ret) ?: "?");
		fflush(stdout);
		return;
	}
	printf(", \"pid\": %d, \"detach\": %s, \"pidns\": %s, \"processes\": [", pid,
	       opts->detach ? "true" : "false", opts->pidns ? "true" : "false");
	for (size_t i = 0; i < rep->nr; i++)
		printf("%s{\"pid\": %d, \"pages_restored\": %llu}", i ? ", " : "", rep->pids[i],
		       (unsigned long long)rep->pages[i]);
	printf("]");
	if (rep->has_stats) {
		printf(", \"stats\": {");
		json_pb_scalars(stdout, &rep->stats.base);
		printf("}");
	}
	printf("}\n");
	fflush(stdout);
}

int cmd_restore(struct lmproc_opts *opts)
{
	struct restore_tree t = { .init_pidfd = -1, .lmproc_pidfd = -1 };
	struct restore_report rep = {};
	uint64_t t_start = now_ns();
	pid_t pid = 0;
	int dfd, ret, sig;

	progress_start(opts->progress, "restore");
	ret = interrupt_catch();
	if (ret)
		goto out;
	dfd = open_images_dir(opts->images_dir);
	if (dfd < 0) {
		interrupt_release();
		ret = dfd;
		goto out;
	}
	ret = restore(&t, opts, dfd, t_start, &rep);
	/* With -d lmproc keeps them to its end: a signal after the hand-over
	 * must not make a complete restore look failed. */
	if (ret || !opts->detach)
		interrupt_release();
	if (t.ctx)
		pid = t.pidns ? t.init_pid : t.ctx[0].pid;
	free_tree(&t);
	close(dfd);
	if (ret)
		ret = ret < 0 ? ret : -EIO;
out:
	progress_end();
	if (opts->json_report)
		report_json(opts, &rep, pid, ret);
	if (!ret && opts->display_stats && rep.has_stats)
		stats_display(stdout, "restore", &rep.stats.base);
	free(rep.pids);
	free(rep.pages);
	if (ret)
		return ret;
	sig = interrupt_signal();
	if (sig)
		late_interrupt(sig, !opts->detach);
	if (opts->detach)
		return 0;
	/* Its own child, not reaped yet: the pid is its. */
	return wait_task(pid);
}
