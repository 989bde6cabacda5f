/* `lmproc restore -D DIR [-d]`: the order of the restore steps (read and
 * check everything, build the restorer area, open service fds, fork,
 * restorer, registers, detach), the stats image, and the wait that
 * forwards the restored task's exit status.  After the fork, every failure
 * kills and reaps the task: no half-restored process is left behind. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "log.h"
#include "opts.h"
#include "restore.h"

#include "stats.pb-c.h"

static int open_images_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0) {
		pr_perror("Can't open images directory %s", dir);
		return -errno;
	}
	if (faccessat(dfd, "inventory.img", F_OK, 0)) {
		pr_err("No complete dump in %s: inventory.img is missing\n", dir);
		close(dfd);
		return -ENOENT;
	}
	return dfd;
}

/* Stats are for bench/ and the planner; a read-only images directory
 * (a restore from shipped images) is no reason to fail. */
static void write_stats(const struct restore_ctx *ctx)
{
	RestoreStatsEntry st = RESTORE_STATS_ENTRY__INIT;
	const struct restorer_args *a = ctx->args;
	uint64_t entry = a->t_entry_ns ? a->t_entry_ns : ctx->t_fork_ns;

	st.forking_time_us = (entry - ctx->t_fork_ns) / 1000;
	st.restore_time_us = (ctx->t_detach_ns - entry) / 1000;
	st.pages_restored = a->pages_restored;
	st.has_total_time_us = true;
	st.total_time_us = (ctx->t_detach_ns - ctx->t_start_ns) / 1000;
	pr_debug("Restore of pid %d: fork to restorer %llu us, pages %llu us, rest of the "
		 "restorer %llu us, registers and detach %llu us\n",
		 ctx->pid, (unsigned long long)(entry - ctx->t_fork_ns) / 1000,
		 (unsigned long long)(a->t_filled_ns - entry) / 1000,
		 (unsigned long long)(a->t_done_ns - a->t_filled_ns) / 1000,
		 (unsigned long long)(ctx->t_detach_ns - a->t_done_ns) / 1000);
	pr_info("Restored pid %d: %llu pages, fork %llu us, restore %llu us, total %llu us\n",
		ctx->pid, (unsigned long long)st.pages_restored,
		(unsigned long long)st.forking_time_us, (unsigned long long)st.restore_time_us,
		(unsigned long long)st.total_time_us);
	if (faccessat(ctx->dfd, ".", W_OK, AT_EACCESS)) {
		pr_debug("Not writing stats-restore.img: %s is not writable (%s)\n",
			 ctx->opts->images_dir, strerror(errno));
		return;
	}
	if (img_write_one(ctx->dfd, IMG_STATS_RESTORE, 0, &st.base))
		pr_warn("Could not write stats-restore.img in %s\n", ctx->opts->images_dir);
}

static int prepare(struct restore_ctx *ctx)
{
	int ret;

	ret = restore_read_plan(ctx->dfd, &ctx->plan);
	if (!ret)
		ret = restore_check_machine(&ctx->plan);
	if (!ret)
		ret = restore_open_service_fds(ctx);
	if (!ret)
		ret = restore_prepare_area(ctx);
	return ret;
}

static int restore(struct restore_ctx *ctx)
{
	int ret = prepare(ctx);

	if (ret)
		return ret;
	ret = restore_fork_task(ctx);
	/* Only the task needs them, and it has its own copies. */
	restore_close_service_fds(ctx);
	if (!ret)
		ret = restore_finish_task(ctx);
	if (ret) {
		restore_kill_task(ctx);
		return ret;
	}
	write_stats(ctx);
	return 0;
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

int cmd_restore(struct lmproc_opts *opts)
{
	struct restore_ctx ctx = {.opts = opts};
	pid_t pid;
	int ret;

	for (uint32_t l = 0; l < RESTORER_MAX_LEVELS; l++)
		ctx.pages_fds[l] = -1;
	ctx.t_start_ns = now_ns();
	ctx.dfd = open_images_dir(opts->images_dir);
	if (ctx.dfd < 0)
		return ctx.dfd;
	ret = restore(&ctx);
	pid = ctx.pid;
	restore_close_service_fds(&ctx);
	restore_free_area(&ctx);
	restore_free_plan(&ctx.plan);
	close(ctx.dfd);
	if (ret)
		return ret < 0 ? ret : -EIO;
	if (opts->detach)
		return 0;
	return wait_task(pid);
}
