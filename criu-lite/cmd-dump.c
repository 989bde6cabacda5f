/* `lmproc dump`: freezes one process, collects its state into images and
 * kills it (or lets it run on with -R).  Owns the order of the steps and
 * the guarantee that any failure leaves the target running as before. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common.h"
#include "core.h"
#include "fault.h"
#include "files.h"
#include "image.h"
#include "infect.h"
#include "log.h"
#include "mem.h"
#include "opts.h"
#include "page-xfer.h"
#include "proc.h"
#include "seize.h"
#include "track-round.h"

#include "inventory.pb-c.h"
#include "pstree.pb-c.h"
#include "stats.pb-c.h"

struct dump_ctx {
	struct lmproc_opts *opts;
	pid_t pid;
	struct seized_task task;
	/* What each thread (task.tids[i]) told the parasite. */
	struct parasite_thread_state *thread_states;
	int dfd;
	struct parasite_ctl *parasite;
	struct vm_area_list vl;
	struct parasite_sigaction sigactions[64];
	uint64_t brk;
	struct page_xfer_stats pages;
	struct track_round round;
	bool pre_dump;
	uint64_t t_start, t_frozen, t_thawed;
};

static int open_images_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0) {
		pr_perror("Can't open images directory %s", dir);
		return -errno;
	}
	if (faccessat(dfd, ".", W_OK, AT_EACCESS)) {
		pr_perror("Images directory %s is not writable", dir);
		close(dfd);
		return -errno;
	}
	/* A dump is complete only once inventory.img exists: remove an old
	 * one first so a failed dump never looks like a good one. */
	if (unlinkat(dfd, "inventory.img", 0) && errno != ENOENT) {
		pr_perror("Can't remove the old inventory.img in %s", dir);
		close(dfd);
		return -errno;
	}
	return dfd;
}

static int dump_pstree(struct dump_ctx *ctx)
{
	PstreeEntry pe = PSTREE_ENTRY__INIT;
	cleanup_free uint32_t *tids = calloc(ctx->task.nr_tids, sizeof(*tids));
	struct proc_stat st;
	int ret = proc_read_stat(ctx->pid, &st);

	if (ret)
		return ret;
	if (!tids)
		return -ENOMEM;
	for (size_t i = 0; i < ctx->task.nr_tids; i++)
		tids[i] = ctx->task.tids[i];
	pe.pid = ctx->pid;
	pe.ppid = st.ppid;
	pe.pgid = st.pgid;
	pe.sid = st.sid;
	pe.n_threads = ctx->task.nr_tids;
	pe.threads = tids;
	return img_write_one(ctx->dfd, IMG_PSTREE, 0, &pe.base);
}

static int dump_stats(struct dump_ctx *ctx)
{
	DumpStatsEntry ds = DUMP_STATS_ENTRY__INIT;
	uint64_t now = now_us();

	ds.freezing_time_us = ctx->t_frozen - ctx->t_start;
	ds.frozen_time_us = now - ctx->t_frozen;
	ds.memdump_time_us = ctx->pages.memdump_us;
	ds.memwrite_time_us = ctx->pages.memwrite_us;
	ds.pages_scanned = ctx->pages.pages_scanned;
	ds.pages_skipped_zero = ctx->pages.pages_zero;
	ds.pages_written = ctx->pages.pages_written;
	ds.has_total_time_us = true;
	ds.total_time_us = now - ctx->t_start;
	if (ctx->t_thawed)
		ds.frozen_time_us = ctx->t_thawed - ctx->t_frozen;
	ds.has_pages_skipped_parent = true;
	ds.pages_skipped_parent = ctx->pages.pages_skipped_parent;
	if (ctx->pre_dump || ctx->opts->prev_images_dir) {
		ds.has_track_collect_time_us = ds.has_pages_dirty = ds.has_incremental = true;
		ds.track_collect_time_us = ctx->round.collect_us;
		ds.pages_dirty = ctx->round.tracker.pages_dirty;
		ds.incremental = ctx->round.incremental;
		if (ctx->round.tracker.pft) {
			ds.has_dirty_rate_pps = ds.has_write_faults = true;
			ds.dirty_rate_pps = ctx->round.tracker.rate_pps;
			ds.write_faults = ctx->round.tracker.write_faults;
		}
	}
	return img_write_one(ctx->dfd, IMG_STATS_DUMP, 0, &ds.base);
}

static int dump_inventory(struct dump_ctx *ctx)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	struct utsname u;

	inv.img_version = IMAGE_VERSION;
	inv.root_pid = ctx->pid;
	inv.kind = ctx->pre_dump ? "pre-dump" : "dump";
	inv.parent_dir = (char *)ctx->opts->prev_images_dir;
	if (ctx->pre_dump) {
		inv.has_track_token = true;
		inv.track_token = ctx->round.token;
		inv.track_backend = (char *)track_backend_name(ctx->round.backend);
	}
	if (!uname(&u))
		inv.kernel_release = u.release;
	inv.has_dump_time_ns = true;
	inv.dump_time_ns = now_ns();
	return img_write_one(ctx->dfd, IMG_INVENTORY, 0, &inv.base);
}

/* Everything that needs code inside the task: brk and sigactions, and the
 * pages themselves on the splice path. */
static int run_parasite(struct dump_ctx *ctx)
{
	long brk;
	int ret;

	ctx->parasite = parasite_prepare(ctx->pid);
	if (!ctx->parasite)
		return -EIO;
	ret = parasite_syscall(ctx->parasite, &brk, __NR_brk, 0, 0, 0, 0, 0, 0);
	if (ret)
		return ret;
	ctx->brk = brk;
	ret = parasite_infect(ctx->parasite);
	if (ret)
		return ret;
	ret = parasite_dump_sigactions(ctx->parasite, ctx->sigactions);
	if (ret)
		return ret;
	if (ctx->opts->page_path == PAGE_PATH_SPLICE) {
		ret = dump_pages(ctx->dfd, ctx->pid, &ctx->vl, PAGE_PATH_SPLICE, ctx->parasite,
				 &ctx->round.plan, &ctx->pages);
		if (ret)
			return ret;
	}
	ret = parasite_cure(ctx->parasite);
	ctx->parasite = NULL;
	return ret;
}

/* Every thread answers two injected calls, all at once; the parasite
 * daemon later runs in the main thread only. */
static int dump_thread_states(struct dump_ctx *ctx)
{
	ctx->thread_states = calloc(ctx->task.nr_tids, sizeof(*ctx->thread_states));
	if (!ctx->thread_states)
		return -ENOMEM;
	return parasite_dump_threads(ctx->task.tids, ctx->task.nr_tids, ctx->thread_states);
}

/* Logs how long the task has been frozen when STAGE finished (-v4). */
static int stage_done(struct dump_ctx *ctx, const char *stage, int ret)
{
	pr_debug("pid %d: %s done at +%lu us (ret %d)\n", ctx->pid, stage,
		 (unsigned long)(now_us() - ctx->t_frozen), ret);
	return ret;
}

static int dump_frozen(struct dump_ctx *ctx)
{
	int ret;

	if (fault_injected("dump-after-seize"))
		return -EIO;
	/* /proc views are taken before the parasite adds its own mapping
	 * and socket to the task. */
	ret = stage_done(ctx, "vmas", collect_vmas(ctx->pid, &ctx->vl));
	if (!ret)
		ret = stage_done(ctx, "tracker", track_round_collect(&ctx->round, NULL, &ctx->vl));
	if (!ret)
		ret = stage_done(ctx, "files", dump_files(ctx->dfd, ctx->pid));
	if (!ret)
		ret = stage_done(ctx, "threads", dump_thread_states(ctx));
	if (!ret)
		ret = stage_done(ctx, "parasite", run_parasite(ctx));
	if (!ret && ctx->opts->page_path != PAGE_PATH_SPLICE)
		ret = stage_done(ctx, "pages", dump_pages(ctx->dfd, ctx->pid, &ctx->vl,
							  PAGE_PATH_READ, NULL, &ctx->round.plan,
							  &ctx->pages));
	if (!ret)
		ret = stage_done(ctx, "core", dump_core(ctx->dfd, &ctx->task, ctx->sigactions,
							ctx->thread_states));
	if (!ret)
		ret = stage_done(ctx, "mm", dump_mm(ctx->dfd, ctx->pid, &ctx->vl, ctx->brk));
	if (!ret)
		ret = stage_done(ctx, "pstree", dump_pstree(ctx));
	if (!ret && fault_injected("dump-before-inventory"))
		ret = -EIO;
	if (!ret)
		ret = dump_stats(ctx);
	if (!ret)
		ret = dump_inventory(ctx);
	return ret;
}

/* A pre-dump round: frozen only to read the VMAs and collect (or arm)
 * the dirty set; the pages are copied while the task runs again. */
static int pre_dump_frozen(struct dump_ctx *ctx)
{
	long brk;
	int ret;

	ret = stage_done(ctx, "vmas", collect_vmas(ctx->pid, &ctx->vl));
	if (ret)
		return ret;
	ctx->parasite = parasite_prepare(ctx->pid);
	if (!ctx->parasite)
		return -EIO;
	ret = parasite_syscall(ctx->parasite, &brk, __NR_brk, 0, 0, 0, 0, 0, 0);
	if (!ret) {
		ctx->brk = brk;
		ret = stage_done(ctx, "tracker",
				 track_round_collect(&ctx->round, ctx->parasite, &ctx->vl));
	}
	if (!ret && fault_injected("pre-dump-frozen"))
		ret = -EIO;
	if (!ret) {
		ret = parasite_cure(ctx->parasite);
		ctx->parasite = NULL;
	}
	if (!ret)
		ret = dump_mm(ctx->dfd, ctx->pid, &ctx->vl, ctx->brk);
	return ret;
}

static int pre_dump_running(struct dump_ctx *ctx)
{
	int ret;

	ret = dump_pages(ctx->dfd, ctx->pid, &ctx->vl, PAGE_PATH_READ, NULL, &ctx->round.plan,
			 &ctx->pages);
	if (!ret && fault_injected("pre-dump-running"))
		ret = -EIO;
	if (!ret)
		ret = dump_stats(ctx);
	if (!ret)
		ret = dump_inventory(ctx);
	if (!ret)
		ret = track_round_commit(&ctx->round);
	return ret;
}

static int run_pre_dump(struct dump_ctx *ctx)
{
	int ret;

	ret = seize_task(ctx->pid, &ctx->task);
	if (ret)
		return ret;
	ctx->t_frozen = now_us();
	ret = pre_dump_frozen(ctx);
	if (ctx->parasite) {
		parasite_cure(ctx->parasite);
		ctx->parasite = NULL;
	}
	unseize_task(&ctx->task);
	ctx->t_thawed = now_us();
	if (!ret)
		ret = pre_dump_running(ctx);
	return ret;
}

static int run_dump(struct dump_ctx *ctx)
{
	int ret;

	ret = seize_task(ctx->pid, &ctx->task);
	if (ret)
		return ret;
	ctx->t_frozen = now_us();
	ret = dump_frozen(ctx);
	if (ctx->parasite)
		parasite_cure(ctx->parasite);
	ctx->parasite = NULL;
	if (!ret)
		ret = track_round_commit(&ctx->round);
	if (ret)
		unseize_task(&ctx->task);
	else if (ctx->opts->leave_running)
		ret = unseize_task(&ctx->task);
	else
		ret = kill_seized_task(&ctx->task);
	ctx->t_thawed = now_us();
	return ret;
}

static int do_dump(struct lmproc_opts *opts, bool pre_dump)
{
	struct dump_ctx ctx = { .opts = opts, .pid = opts->pid, .dfd = -1, .pre_dump = pre_dump };
	const char *what = pre_dump ? "Pre-dump" : "Dump";
	int ret;

	ctx.t_start = now_us();
	ctx.dfd = open_images_dir(opts->images_dir);
	if (ctx.dfd < 0)
		return ctx.dfd;
	ret = seize_check_target(ctx.pid);
	if (!ret)
		ret = track_round_prepare(&ctx.round, opts, ctx.dfd, pre_dump);
	if (ret)
		goto out;
	ret = pre_dump ? run_pre_dump(&ctx) : run_dump(&ctx);
	if (ret) {
		unlinkat(ctx.dfd, "inventory.img", 0);
		track_round_abort(&ctx.round);
		if (log_error_count())
			pr_info("%s of pid %d failed; it keeps running\n", what, ctx.pid);
		else
			pr_err("%s of pid %d failed (%s); it keeps running\n", what, ctx.pid,
			       strerror(-ret));
	} else {
		pr_info("%s of pid %d: frozen %lu us, %lu pages written, %lu in earlier rounds\n",
			what, ctx.pid, (unsigned long)(ctx.t_thawed - ctx.t_frozen),
			(unsigned long)ctx.pages.pages_written,
			(unsigned long)ctx.pages.pages_skipped_parent);
	}
out:
	track_round_free(&ctx.round);
	free(ctx.thread_states);
	free_vmas(&ctx.vl);
	close(ctx.dfd);
	return ret;
}

int cmd_dump(struct lmproc_opts *opts)
{
	return do_dump(opts, false);
}

int cmd_pre_dump(struct lmproc_opts *opts)
{
	return do_dump(opts, true);
}
