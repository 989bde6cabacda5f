/* `lmproc dump`: freezes a process tree, collects its state into images
 * and kills it (or lets it run on with -R).  Owns the order of the steps and
 * the guarantee that any failure leaves the target running as before. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aio.h"
#include "common.h"
#include "cpu.h"
#include "core.h"
#include "fault.h"
#include "files.h"
#include "image.h"
#include "infect.h"
#include "interrupt.h"
#include "pftrack.h"
#include "io-uring.h"
#include "json.h"
#include "kstate-iter.h"
#include "log.h"
#include "mem.h"
#include "mem-cow.h"
#include "mm-attrs.h"
#include "opts.h"
#include "page-xfer.h"
#include "parasite-syscall.h"
#include "progress.h"
#include "proc.h"
#include "pstree.h"
#include "restore.h"
#include "seccomp.h"
#include "seize.h"
#include "sk-tcp.h"
#include "shmem.h"
#include "cgroup.h"
#include "namespaces.h"
#include "netns.h"
#include "sysvipc.h"
#include "task-attrs.h"
#include "track-round.h"
#include "vma-iter.h"

#include "inventory.pb-c.h"
#include "stats.pb-c.h"

/* warm_file_sums() reads the files of this many processes at most. */
#define WARM_MAX_TASKS 4096

/* The stages of the frozen window, in stats-dump.img as NAME_time_us. */
enum frozen_stage {
	ST_ROUNDS,
	ST_VMAS,
	ST_TRACKER,
	ST_FILES,
	ST_THREADS,
	ST_PARASITE,
	ST_PAGEMAP_SCAN,
	ST_PAGE_COPY,
	ST_PAGE_WRITE,
	ST_CORE,
	ST_SHMEM,
	ST_MM,
	ST_TREE,
	ST_IMAGES,
	ST_SELF_CHECK,
	ST_RELEASE,
	ST_NR,
};

static const char *const stage_names[ST_NR] = {
	[ST_ROUNDS] = "rounds",	    [ST_VMAS] = "vmas",
	[ST_TRACKER] = "tracker",   [ST_FILES] = "files",
	[ST_THREADS] = "threads",   [ST_PARASITE] = "parasite",
	[ST_PAGEMAP_SCAN] = "pagemap_scan", [ST_PAGE_COPY] = "page_copy",
	[ST_PAGE_WRITE] = "page_write", [ST_CORE] = "core",
	[ST_SHMEM] = "shmem",	    [ST_MM] = "mm",
	[ST_TREE] = "tree",	    [ST_IMAGES] = "images",
	[ST_SELF_CHECK] = "self_check", [ST_RELEASE] = "release",
};

/* One process of the tree being dumped. */
struct proc_dump {
	struct pstree_item *item;
	/* What each thread (item->task.tids[i]) told the parasite. */
	struct parasite_thread_state *thread_states;
	struct vm_area_list vl;
	struct parasite_sigaction sigactions[64];
	struct task_misc misc;
	uint64_t brk;
	struct page_xfer_stats pages;
	struct track_round round;
	bool exited; /* during a pre-dump's running phase */
};

struct dump_ctx {
	struct lmproc_opts *opts;
	pid_t pid; /* the root */
	struct pstree tree;
	struct proc_dump *procs; /* per tree item; unused for zombies */
	int dfd;
	struct parasite_ctl *parasite;
	struct files_dump *files;
	pid_t *live; /* the pids of the live processes */
	size_t nr_live;
	struct shmem_dump *shmem;
	uint64_t shmem_written, shmem_in_parent; /* its pages, once it is closed */
	struct tcp_dump *tcp; /* connections in repair mode, to the release */
	struct page_xfer_stats pages; /* the sum over the processes */
	bool pre_dump;
	uint64_t t_start, t_seize, t_frozen, t_thawed;
	/* The frozen window, stage by stage: each charge takes the time
	 * since the last one (t_mark). */
	uint64_t stage_us[ST_NR];
	uint64_t t_mark;
	DumpStatsEntry stats; /* the last stats-dump.img written, for --json */
	bool has_stats;
};

static int open_images_dir(const char *dir)
{
	int dfd = img_dir_open(AT_FDCWD, dir), ret;

	if (dfd < 0) {
		errno = -dfd;
		pr_perror("Can't open images directory %s", dir);
		return dfd;
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
	/* Before any process is touched, not when its image is written. */
	ret = img_dir_check(dfd);
	if (ret) {
		close(dfd);
		return ret;
	}
	return dfd;
}

/* Charges the time since the last charge to STAGE, while frozen. */
static void charge(struct dump_ctx *ctx, enum frozen_stage stage)
{
	uint64_t now = now_us();

	if (ctx->t_thawed)
		return;
	ctx->stage_us[stage] += now - ctx->t_mark;
	ctx->t_mark = now;
}

/* Charges a process's page stage: what finding and copying took on this
 * thread, the rest to writing (the writer thread's work that the copy
 * did not overlap, and the images' open and close). */
static void charge_pages(struct dump_ctx *ctx, const struct page_xfer_stats *st)
{
	uint64_t now = now_us(), spent = now - ctx->t_mark;
	uint64_t scan = min(st->scan_us, spent), copy = min(st->memdump_us, spent - scan);

	ctx->stage_us[ST_PAGEMAP_SCAN] += scan;
	ctx->stage_us[ST_PAGE_COPY] += copy;
	ctx->stage_us[ST_PAGE_WRITE] += spent - scan - copy;
	ctx->t_mark = now;
}

static void sum_pages(struct dump_ctx *ctx)
{
	struct page_xfer_stats *s = &ctx->pages;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < ctx->tree.nr; i++) {
		const struct page_xfer_stats *p = &ctx->procs[i].pages;

		s->pages_scanned += p->pages_scanned;
		s->pages_zero += p->pages_zero;
		s->pages_written += p->pages_written;
		s->pages_skipped_parent += p->pages_skipped_parent;
		s->scan_us += p->scan_us;
		s->memdump_us += p->memdump_us;
		s->memwrite_us += p->memwrite_us;
	}
}

/* The root's round speaks for the tree in the stats. */
static const struct track_round *root_round(const struct dump_ctx *ctx)
{
	return &ctx->procs[0].round;
}

/* Sets the optional uint64 field NAME of M. */
static void set_u64(ProtobufCMessage *m, const char *name, uint64_t v)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);

	*(uint64_t *)((char *)m + f->offset) = v;
	*(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = true;
}

/* The stages of the frozen window and what they leave over; logged
 * (-v4) once the window is closed. */
static void stats_stages(const struct dump_ctx *ctx, DumpStatsEntry *ds)
{
	char name[64], line[1024];
	uint64_t sum = 0;
	size_t off;

	off = snprintf(line, sizeof(line), "pid %d: frozen %lu us:", ctx->pid,
		       (unsigned long)ds->frozen_time_us);
	for (int i = 0; i < ST_NR; i++) {
		snprintf(name, sizeof(name), "%s_time_us", stage_names[i]);
		set_u64(&ds->base, name, ctx->stage_us[i]);
		sum += ctx->stage_us[i];
		if (off < sizeof(line))
			off += snprintf(line + off, sizeof(line) - off, " %s %lu", stage_names[i],
					(unsigned long)ctx->stage_us[i]);
	}
	if (sum > ds->frozen_time_us)
		pr_warn("pid %d: the frozen stages add up to %lu us, more than the %lu us frozen\n",
			ctx->pid, (unsigned long)sum, (unsigned long)ds->frozen_time_us);
	ds->has_other_time_us = true;
	ds->other_time_us = sum > ds->frozen_time_us ? 0 : ds->frozen_time_us - sum;
	if (ctx->t_thawed)
		pr_debug("%s other %lu\n", line, (unsigned long)ds->other_time_us);
}

static int dump_stats(struct dump_ctx *ctx)
{
	DumpStatsEntry ds = DUMP_STATS_ENTRY__INIT;
	uint64_t now = now_us();

	ds.freezing_time_us = ctx->t_frozen - ctx->t_seize;
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
	ds.has_shmem_pages_written = ds.has_shmem_pages_in_parent = true;
	ds.shmem_pages_written = ctx->shmem_written;
	ds.shmem_pages_in_parent = ctx->shmem_in_parent;
	if (ctx->pre_dump || ctx->opts->prev_images_dir) {
		const struct track_round *r = root_round(ctx);

		ds.has_track_collect_time_us = ds.has_pages_dirty = ds.has_incremental = true;
		ds.incremental = true;
		for (size_t i = 0; i < ctx->tree.nr; i++) {
			const struct track_round *pr = &ctx->procs[i].round;

			if (ctx->tree.items[i].zombie || ctx->procs[i].exited)
				continue;
			ds.track_collect_time_us += pr->collect_us;
			ds.pages_dirty += pr->tracker.pages_dirty;
			/* A process forked since the parent round has all to copy. */
			if (pr->parent_dir && !pr->incremental)
				ds.incremental = false;
		}
		if (r->tracker.pft) {
			ds.has_write_faults = true;
			ds.write_faults = r->tracker.write_faults;
			/* Unknown when the round came less than a bucket after the last. */
			ds.has_dirty_rate_pps = r->tracker.rate_pps >= 0;
			ds.dirty_rate_pps = max(r->tracker.rate_pps, 0.0);
		}
	}
	stats_stages(ctx, &ds);
	ctx->stats = ds;
	ctx->has_stats = true;
	return img_write_one(ctx->dfd, IMG_STATS_DUMP, 0, &ds.base);
}

/* stats-dump.img again, now that the frozen window is closed: the first
 * one was written before the inventory, the self-check and the release.
 * The images are complete either way; a failure here costs only the
 * figures. */
static void dump_final_stats(struct dump_ctx *ctx)
{
	if (dump_stats(ctx))
		pr_warn("Can't rewrite stats-dump.img of pid %d with the whole frozen window\n",
			ctx->pid);
}

static int dump_inventory(struct dump_ctx *ctx)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	struct utsname u;
	CpuEntry cpu;

	inv.img_version = IMAGE_VERSION;
	inv.root_pid = pstree_vpid(ctx->pid);
	inv.kind = ctx->pre_dump ? "pre-dump" : "dump";
	inv.parent_dir = (char *)ctx->opts->prev_images_dir;
	inv.has_round_id = true;
	if (getrandom(&inv.round_id, sizeof(inv.round_id), 0) != sizeof(inv.round_id))
		inv.round_id = now_ns() ^ ((uint64_t)getpid() << 32);
	if (inv.parent_dir) {
		inv.has_parent_round_id = true;
		inv.parent_round_id = root_round(ctx)->parent_round_id;
	}
	if (ctx->pre_dump) {
		inv.has_track_token = true;
		inv.track_token = root_round(ctx)->token;
		inv.track_backend = (char *)track_backend_name(root_round(ctx)->backend);
	}
	if (!uname(&u))
		inv.kernel_release = u.release;
	inv.has_dump_time_ns = true;
	inv.dump_time_ns = now_ns();
	cpu_record_here(&cpu);
	inv.cpu = &cpu;
	return img_write_one(ctx->dfd, IMG_INVENTORY, 0, &inv.base);
}

/* Images restore would refuse are a refused dump, the tree still frozen
 * (or, for a pre-dump round, running): restore's own checks of the
 * images, none of this machine's. */
static int self_check(struct dump_ctx *ctx)
{
	uint64_t t0 = now_us();
	char why[512];
	int ret = restore_self_check(ctx->dfd, ctx->pre_dump, why, sizeof(why));

	charge(ctx, ST_SELF_CHECK);

	pr_debug("pid %d: self-check of the images took %lu us\n", ctx->pid,
		 (unsigned long)(now_us() - t0));
	if (ret)
		pr_err("%s of pid %d refused, its images would not restore: %s\n",
		       ctx->pre_dump ? "Pre-dump" : "Dump", ctx->pid, why);
	return ret;
}

/* Its pages may be shared with its parent or children in the tree
 * (mem-cow.c): a pre-dump round that pinned them would unshare them
 * before the dump finds them. */
static bool may_share_pages(const struct dump_ctx *ctx, const struct proc_dump *pd)
{
	int idx = pd - ctx->procs;

	if (pd->item->parent >= 0)
		return true;
	for (size_t i = 0; i < ctx->tree.nr; i++)
		if (ctx->tree.items[i].parent == idx && !ctx->tree.items[i].zombie)
			return true;
	return false;
}

/* A dump's pages of a child: those still the parent's own frames are
 * left to it (mem-cow.c).  The parent, dumped before, is frozen too. */
static int dump_one_pages(struct dump_ctx *ctx, struct proc_dump *pd, enum page_path path,
			  struct parasite_ctl *ctl)
{
	int parent = pd->item->parent;
	struct cow_parent cp = { .pagemap_fd = -1 };
	pid_t pid = pd->item->pid;
	int ret = 0;

	if (parent >= 0)
		ret = cow_parent_open(&cp, ctx->tree.items[parent].pid, &ctx->procs[parent].vl);
	if (!ret) {
		pd->round.plan.cow = parent >= 0 ? &cp : NULL;
		ret = dump_pages(ctx->dfd, pid, &pd->vl, path, ctl, &pd->round.plan, &pd->pages);
		pd->round.plan.cow = NULL;
	}
	cow_parent_close(&cp);
	if (pd->pages.pages_shared_task)
		pr_info("pid %d: %llu pages are its parent's, shared since its fork\n", pid,
			(unsigned long long)pd->pages.pages_shared_task);
	return ret;
}

/* Everything that needs code inside the task: brk and sigactions, and the
 * pages themselves on the splice path. */
static int run_parasite(struct dump_ctx *ctx, struct proc_dump *pd)
{
	pid_t pid = pd->item->pid;
	long brk;
	int ret;

	ctx->parasite = parasite_prepare(pid);
	if (!ctx->parasite)
		return -EIO;
	ret = parasite_syscall(ctx->parasite, &brk, __NR_brk, 0, 0, 0, 0, 0, 0);
	if (ret)
		return ret;
	pd->brk = brk;
	ret = collect_membarrier(ctx->parasite, pid, &pd->misc);
	if (!ret)
		ret = aio_check_contexts(ctx->parasite, pid, &pd->vl);
	if (!ret)
		ret = parasite_infect(ctx->parasite);
	if (ret)
		return ret;
	/* A child of the tree dies with the parasite running in it. */
	if (pd->item->parent >= 0 && fault_injected("dump-member-dies"))
		kill(pid, SIGKILL);
	ret = parasite_dump_sigactions(ctx->parasite, pd->sigactions);
	if (!ret)
		ret = collect_task_misc(ctx->parasite, pid, &pd->misc);
	if (!ret)
		ret = mm_attrs_collect(pid, ctx->parasite->remote_map, &pd->misc.misc, &pd->vl);
	if (ret)
		return ret;
	if (ctx->opts->page_path == PAGE_PATH_SPLICE) {
		charge(ctx, ST_PARASITE);
		ret = dump_one_pages(ctx, pd, PAGE_PATH_SPLICE, ctx->parasite);
		charge_pages(ctx, &pd->pages);
		if (ret)
			return ret;
	}
	ret = parasite_cure(ctx->parasite);
	ctx->parasite = NULL;
	return ret;
}

/* Every thread answers two injected calls, all at once; the parasite
 * daemon later runs in the main thread only. */
static int dump_thread_states(struct proc_dump *pd)
{
	const struct seized_task *t = &pd->item->task;

	pd->thread_states = calloc(t->nr_tids, sizeof(*pd->thread_states));
	if (!pd->thread_states)
		return -ENOMEM;
	return parasite_dump_threads(t->tids, t->nr_tids, pd->thread_states);
}

/* Logs how long the tree has been frozen when STAGE finished (-v4).  The
 * end of a stage is a safe point: a signal that arrived stops the dump
 * here, and the usual undo releases the tree. */
static int stage_done(struct dump_ctx *ctx, pid_t pid, enum frozen_stage stage, int ret)
{
	charge(ctx, stage);
	pr_debug("pid %d: %s done at +%lu us (ret %d)\n", pid, stage_names[stage],
		 (unsigned long)(ctx->t_mark - ctx->t_frozen), ret);
	return ret ?: interrupt_check();
}

/* stage_done() of a process's pages, split into their stages. */
static int pages_done(struct dump_ctx *ctx, struct proc_dump *pd, int ret)
{
	charge_pages(ctx, &pd->pages);
	pr_debug("pid %d: pages done at +%lu us (ret %d)\n", pd->item->pid,
		 (unsigned long)(ctx->t_mark - ctx->t_frozen), ret);
	return ret ?: interrupt_check();
}

static int dump_one_frozen(struct dump_ctx *ctx, struct proc_dump *pd)
{
	pid_t pid = pd->item->pid;
	int ret;

	/* /proc views are taken before the parasite adds its own mapping
	 * and socket to the task. */
	ret = stage_done(ctx, pid, ST_VMAS, collect_vmas(pid, &pd->vl));
	if (!ret)
		ret = stage_done(ctx, pid, ST_FILES,
				 mem_file_sums(pid, &pd->vl, ctx->opts->file_valid));
	if (!ret)
		ret = stage_done(ctx, pid, ST_TRACKER, track_round_collect(&pd->round, NULL, &pd->vl));
	pd->round.plan.keep_shared = may_share_pages(ctx, pd);
	if (!ret)
		ret = stage_done(ctx, pid, ST_FILES, dump_files(ctx->dfd, ctx->files, pid));
	if (!ret)
		ret = stage_done(ctx, pid, ST_FILES, mem_save_ghosts(ctx->files, pid, &pd->vl));
	if (!ret)
		ret = stage_done(ctx, pid, ST_THREADS, dump_thread_states(pd));
	if (!ret)
		ret = stage_done(ctx, pid, ST_PARASITE, run_parasite(ctx, pd));
	if (!ret && ctx->opts->page_path != PAGE_PATH_SPLICE)
		ret = pages_done(ctx, pd, dump_one_pages(ctx, pd, PAGE_PATH_READ, NULL));
	if (!ret) {
		pd->misc.stopped = pd->item->task.was_stopped;
		pd->misc.stop_signo = pd->item->task.stop_signo;
		ret = stage_done(ctx, pid, ST_CORE,
				 dump_core(ctx->dfd, &pd->item->task, pd->sigactions,
					   pd->thread_states, &pd->misc));
	}
	if (!ret)
		ret = stage_done(ctx, pid, ST_SHMEM, dump_shmem(ctx->shmem, pid, &pd->vl));
	if (!ret)
		ret = stage_done(ctx, pid, ST_MM, dump_mm(ctx->dfd, pid, &pd->vl, pd->brk));
	return ret;
}

/* The tree's live processes, for what one process's files may share
 * with another's. */
static int live_pids(struct dump_ctx *ctx)
{
	ctx->live = calloc(ctx->tree.nr, sizeof(*ctx->live));
	if (!ctx->live)
		return -ENOMEM;
	for (size_t i = 0; i < ctx->tree.nr; i++)
		if (!ctx->tree.items[i].zombie)
			ctx->live[ctx->nr_live++] = ctx->tree.items[i].pid;
	return 0;
}

static int dump_frozen(struct dump_ctx *ctx)
{
	int ret = 0;

	if (fault_injected("dump-after-seize"))
		return -EIO;
	ret = interrupt_check();
	if (!ret)
		ret = live_pids(ctx);
	if (!ret)
		ret = netns_dump(ctx->dfd, &ctx->tree);
	/* The namespaces are checked now, written once every process's
	 * timers are read (below). */
	if (!ret)
		ret = ns_dump(-1, &ctx->tree);
	if (ret)
		return ret;
	ctx->files = files_dump_start(ctx->dfd, ctx->opts->shell_job, ctx->opts->ext_unix_sk,
				      ctx->live, ctx->nr_live);
	ctx->shmem = shmem_dump_start(ctx->dfd, ctx->opts->prev_images_dir,
				      pstree_vpid(ctx->pid), false);
	if (ctx->opts->tcp_established)
		ctx->tcp = tcp_dump_start(ctx->opts->network_lock);
	charge(ctx, ST_FILES);
	if (!ctx->files || !ctx->shmem || (ctx->opts->tcp_established && !ctx->tcp))
		ret = -EIO;
	if (ctx->files) {
		ctx->files->tcp_established = ctx->opts->tcp_established;
		ctx->files->skip_in_flight = ctx->opts->skip_in_flight;
		ctx->files->tcp = ctx->tcp;
		ctx->files->file_valid = ctx->opts->file_valid;
	}
	if (!ret)
		ret = tcp_dump_lock(ctx->tcp, ctx->live, ctx->nr_live);
	for (size_t i = 0; i < ctx->tree.nr && !ret; i++) {
		progress_procs(i, ctx->tree.nr, 0);
		if (!ctx->tree.items[i].zombie)
			ret = dump_one_frozen(ctx, &ctx->procs[i]);
	}
	progress_procs(ctx->tree.nr, ctx->tree.nr, 0);
	ret = files_dump_end(ctx->files, ret) ?: ret;
	charge(ctx, ST_FILES);
	/* The clocks a restore with --timens continues from, read after
	 * every timer (timerfds, POSIX timers, itimers): read before, each
	 * timer would come back short by the time in between. */
	if (!ret)
		ret = stage_done(ctx, ctx->pid, ST_TREE, ns_dump(ctx->dfd, &ctx->tree));
	shmem_dump_pages(ctx->shmem, &ctx->shmem_written, &ctx->shmem_in_parent);
	ret = shmem_dump_end(ctx->shmem, ret) ?: ret;
	charge(ctx, ST_SHMEM);
	ctx->files = NULL;
	ctx->shmem = NULL;
	if (!ret)
		ret = stage_done(ctx, ctx->pid, ST_TREE,
				 dump_sysvipc(ctx->dfd, &ctx->tree, ctx->opts->leave_running));
	if (!ret)
		ret = stage_done(ctx, ctx->pid, ST_TREE, dump_cgroups(ctx->dfd, &ctx->tree));
	if (!ret)
		ret = stage_done(ctx, ctx->pid, ST_TREE, dump_pstree(ctx->dfd, &ctx->tree));
	if (!ret && fault_injected("dump-before-inventory"))
		ret = -EIO;
	/* The last safe point: once inventory.img exists the dump is done. */
	if (!ret)
		ret = pstree_check_alive(&ctx->tree) ?: interrupt_check();
	charge(ctx, ST_TREE);
	sum_pages(ctx);
	/* Written again once the tree is released (dump_final_stats), with
	 * the self-check and the release in it. */
	if (!ret)
		ret = dump_stats(ctx);
	if (!ret)
		ret = dump_inventory(ctx);
	charge(ctx, ST_IMAGES);
	if (!ret)
		ret = self_check(ctx);
	return ret;
}

/* A pre-dump round of one process: frozen only to read the VMAs and
 * collect (or arm) the dirty set; the pages are copied while the tree
 * runs again. */
static int pre_dump_one_frozen(struct dump_ctx *ctx, struct proc_dump *pd)
{
	pid_t pid = pd->item->pid;
	long brk;
	int ret;

	ret = stage_done(ctx, pid, ST_VMAS, collect_vmas(pid, &pd->vl));
	if (!ret)
		ret = stage_done(ctx, pid, ST_THREADS, seccomp_check_task(&pd->item->task));
	if (!ret)
		ret = stage_done(ctx, pid, ST_SHMEM, dump_shmem(ctx->shmem, pid, &pd->vl));
	/* The fds the final dump would refuse are refused now. */
	if (!ret)
		ret = stage_done(ctx, pid, ST_FILES, dump_files(-1, ctx->files, pid));
	if (ret)
		return ret;
	ctx->parasite = parasite_prepare(pid);
	if (!ctx->parasite)
		return -EIO;
	ret = parasite_syscall(ctx->parasite, &brk, __NR_brk, 0, 0, 0, 0, 0, 0);
	charge(ctx, ST_PARASITE);
	if (!ret) {
		pd->brk = brk;
		ret = stage_done(ctx, pid, ST_TRACKER,
				 track_round_collect(&pd->round, ctx->parasite, &pd->vl));
	}
	pd->round.plan.keep_shared = may_share_pages(ctx, pd);
	if (!ret && fault_injected("pre-dump-frozen"))
		ret = -EIO;
	if (!ret) {
		ret = parasite_cure(ctx->parasite);
		ctx->parasite = NULL;
	}
	charge(ctx, ST_PARASITE);
	if (!ret)
		ret = dump_mm(ctx->dfd, pid, &pd->vl, pd->brk);
	charge(ctx, ST_MM);
	return ret;
}

static bool process_gone(pid_t pid)
{
	struct proc_status st;

	return proc_read_status(pid, &st) || st.state == 'Z' || st.state == 'X' ||
	       proc_pid_exiting(pid);
}

/* A process that exited while the tree ran is in no later round: its
 * images go, and its tracking ends. */
static void drop_exited(struct dump_ctx *ctx, struct proc_dump *pd)
{
	static const int imgs[] = { IMG_MM, IMG_PAGEMAP, IMG_PAGES };
	char name[64];

	pr_info("pid %d exited during the pre-dump: left out of this round\n", pd->item->pid);
	for (size_t k = 0; k < ARRAY_SIZE(imgs); k++) {
		snprintf(name, sizeof(name), image_descs[imgs[k]].name_fmt,
			 pstree_vpid(pd->item->pid));
		unlinkat(ctx->dfd, name, 0);
	}
	track_round_abort(&pd->round);
	pd->exited = true;
}

/* The shared memory objects the frozen step opened, copied now. */
static int pre_dump_shmem(struct dump_ctx *ctx)
{
	int ret = shmem_dump_copy(ctx->shmem);

	shmem_dump_pages(ctx->shmem, &ctx->shmem_written, &ctx->shmem_in_parent);
	ret = shmem_dump_end(ctx->shmem, ret) ?: ret;
	ctx->shmem = NULL;
	return ret;
}

/* The test's moment for a child of the tree to exit once its pages are
 * copied (the first round only), as a process may while a pre-dump runs. */
static void fault_child_exits(pid_t pid)
{
	static bool done;

	if (done || !fault_injected("pre-dump-child-exits"))
		return;
	done = true;
	kill(pid, SIGKILL);
	for (int i = 0; i < 5000 && !process_gone(pid); i++)
		usleep(1000);
}

static int pre_dump_running(struct dump_ctx *ctx)
{
	int ret = 0;

	for (size_t i = 0; i < ctx->tree.nr && !ret; i++) {
		struct proc_dump *pd = &ctx->procs[i];

		progress_procs(i, ctx->tree.nr, 0);
		if (ctx->tree.items[i].zombie)
			continue;
		ret = interrupt_check();
		if (!ret && !process_gone(pd->item->pid))
			ret = dump_pages(ctx->dfd, pd->item->pid, &pd->vl, PAGE_PATH_READ, NULL,
					 &pd->round.plan, &pd->pages);
		if (!ret && i)
			fault_child_exits(pd->item->pid);
		/* Whatever reading its memory said, if it is on its way out. */
		if (i && process_gone(pd->item->pid)) {
			drop_exited(ctx, pd);
			ret = 0;
		}
	}
	progress_procs(ctx->tree.nr, ctx->tree.nr, 0);
	if (!ret)
		ret = pre_dump_shmem(ctx);
	if (!ret && fault_injected("pre-dump-running"))
		ret = -EIO;
	if (!ret)
		ret = interrupt_check();
	sum_pages(ctx);
	if (!ret)
		ret = dump_stats(ctx);
	if (!ret)
		ret = dump_inventory(ctx);
	if (!ret)
		ret = self_check(ctx);
	for (size_t i = 0; i < ctx->tree.nr && !ret; i++) {
		struct proc_dump *pd = &ctx->procs[i];

		if (ctx->tree.items[i].zombie || pd->exited)
			continue;
		/* The keeper can't hold the tracker of a process that has just
		 * exited: no later round will ask for it. */
		ret = track_round_commit(&pd->round);
		if (ret && i && process_gone(pd->item->pid)) {
			drop_exited(ctx, pd);
			ret = 0;
		}
	}
	/* Whatever failed on the way, the reason is the root's end. */
	if (ret && process_gone(ctx->tree.items[0].pid)) {
		pr_err("pid %d, the root of the tree, exited during the pre-dump: the round is "
		       "void\n", ctx->tree.items[0].pid);
		ret = -ESRCH;
	}
	return ret;
}

static void cure_leftover(struct dump_ctx *ctx)
{
	if (ctx->parasite)
		parasite_cure(ctx->parasite);
	ctx->parasite = NULL;
}

/* The tree is known only once it is frozen: each process's round is
 * prepared then (reading the previous round's images of that pid). */
static int prepare_rounds(struct dump_ctx *ctx)
{
	ctx->procs = calloc(ctx->tree.nr, sizeof(*ctx->procs));
	if (!ctx->procs)
		return -ENOMEM;
	for (size_t i = 0; i < ctx->tree.nr; i++) {
		struct proc_dump *pd = &ctx->procs[i];
		int ret;

		pd->item = &ctx->tree.items[i];
		if (pd->item->zombie)
			continue;
		ret = track_round_prepare(&pd->round, ctx->opts, pd->item->pid, ctx->dfd,
					  ctx->pre_dump);
		if (ret)
			return ret;
		/* One token for the round: the inventory keeps the root's, and
		 * the next round checks every keeper against it. */
		pd->round.token = ctx->procs[0].round.token;
	}
	return 0;
}

/* The sums of the files the tree maps or opens read-only, read before
 * the freeze: frozen, reading a big file (~25 ms per 100 MiB cached)
 * would stretch the frozen time.  A file changed since is read again
 * then; what fails here is the frozen dump's to refuse. */
static void warm_file_sums(pid_t root, enum file_valid_mode m)
{
	cleanup_free pid_t *pids = NULL;
	char why[256];
	size_t nr = 0;

	if (m == FILE_VALID_FILESIZE)
		return;
	log_capture_start(why, sizeof(why));
	if (!proc_tree_pids(root, WARM_MAX_TASKS, &pids, &nr))
		for (size_t i = 0; i < nr; i++) {
			mem_file_sums_warm(pids[i], m);
			reg_file_sums_warm(pids[i], m);
		}
	log_capture_end();
}

static int seize(struct dump_ctx *ctx)
{
	int ret;

	if (ctx->pre_dump || ctx->opts->prev_images_dir)
		track_probe_kernel();
	vma_iter_prepare();
	if (!ctx->pre_dump) {
		kstate_prepare(ctx->pid);
		io_uring_prepare(ctx->pid);
		warm_file_sums(ctx->pid, ctx->opts->file_valid);
	}
	netns_dump_prepare(ctx->pid);
	/* A first round arms the eBPF tracker: its programs load now. */
	if (ctx->pre_dump && !ctx->opts->prev_images_dir && ctx->opts->track == TRACK_EBPF)
		pftrack_preload(ctx->pid);
	ctx->t_seize = now_us();
	ret = seize_tree(ctx->pid, &ctx->tree, ctx->opts->freeze_timeout_s * 1000);
	if (ret)
		return ret;
	ctx->t_frozen = ctx->t_mark = now_us();
	ret = prepare_rounds(ctx);
	charge(ctx, ST_ROUNDS);
	if (ret)
		unseize_tree(&ctx->tree);
	return ret;
}

static int run_pre_dump(struct dump_ctx *ctx)
{
	int ret = seize(ctx);

	if (ret) {
		pftrack_preload_drop();
		return ret;
	}
	ret = live_pids(ctx);
	if (!ret)
		ret = netns_dump(-1, &ctx->tree);
	if (!ret)
		ret = ns_dump(-1, &ctx->tree);
	if (!ret) {
		ctx->shmem = shmem_dump_start(ctx->dfd, ctx->opts->prev_images_dir,
					      pstree_vpid(ctx->pid), true);
		ret = ctx->shmem ? 0 : -EIO;
	}
	if (!ret) {
		ctx->files = files_dump_start(-1, ctx->opts->shell_job, ctx->opts->ext_unix_sk,
					      ctx->live, ctx->nr_live);
		ret = ctx->files ? 0 : -EIO;
		if (ctx->files) {
			ctx->files->tcp_established = ctx->opts->tcp_established;
			ctx->files->skip_in_flight = ctx->opts->skip_in_flight;
			ctx->files->file_valid = FILE_VALID_FILESIZE;
		}
	}
	charge(ctx, ST_FILES);
	for (size_t i = 0; i < ctx->tree.nr && !ret; i++)
		if (!ctx->tree.items[i].zombie)
			ret = interrupt_check() ?: pre_dump_one_frozen(ctx, &ctx->procs[i]);
	if (!ret)
		ret = dump_sysvipc(-1, &ctx->tree, true);
	if (!ret)
		ret = dump_cgroups(-1, &ctx->tree);
	charge(ctx, ST_TREE);
	files_dump_end(ctx->files, true);
	ctx->files = NULL;
	charge(ctx, ST_FILES);
	cure_leftover(ctx);
	charge(ctx, ST_PARASITE);
	if (!ret)
		ret = dump_pstree(ctx->dfd, &ctx->tree);
	charge(ctx, ST_TREE);
	unseize_tree(&ctx->tree);
	charge(ctx, ST_RELEASE);
	ctx->t_thawed = ctx->t_mark;
	pftrack_preload_drop();
	if (!ret)
		ret = pre_dump_running(ctx);
	shmem_dump_end(ctx->shmem, true);
	ctx->shmem = NULL;
	return ret;
}

/* Each seized process gets a SIGSTOP that it takes as soon as it is
 * detached (a group stop: SIGCONT resumes it). */
static void stop_seized(struct dump_ctx *ctx)
{
	for (size_t i = 0; i < ctx->tree.nr; i++)
		if (ctx->tree.items[i].seized)
			kill(ctx->tree.items[i].pid, SIGSTOP);
}

/* The outcome of a migration is unknown: the tree may run on the
 * destination, so it must not run here, nor die.  Each process gets a
 * SIGSTOP that it takes as soon as it is detached; the connections stay
 * in repair mode and the lock in place, as for a killed tree. */
static void keep_stopped(struct dump_ctx *ctx)
{
	tcp_dump_keep_repair(ctx->tcp);
	stop_seized(ctx);
	tcp_dump_end(ctx->tcp, true);
	ctx->tcp = NULL;
	unseize_tree(&ctx->tree);
	ctx->t_thawed = now_us();
}

static int run_dump(struct dump_ctx *ctx)
{
	int ret = seize(ctx);

	if (ret)
		return ret;
	ret = dump_frozen(ctx);
	cure_leftover(ctx);
	charge(ctx, ST_PARASITE);
	for (size_t i = 0; i < ctx->tree.nr && !ret; i++)
		if (!ctx->tree.items[i].zombie)
			ret = track_round_commit(&ctx->procs[i].round);
	charge(ctx, ST_TRACKER);
	/* migrate: the images go to the destination while the tree stays
	 * frozen; its answer decides between the kill and the release. */
	if (!ret && ctx->opts->dump_hold) {
		ctx->opts->hold_tcp = ctx->tcp;
		ret = ctx->opts->dump_hold(ctx->opts->hold_arg, ctx->dfd, ctx->t_frozen);
	}
	if (ret == DUMP_HOLD_FROZEN) {
		keep_stopped(ctx);
		return ret;
	}
	/* The connections leave repair mode before the tree runs again;
	 * a killed tree's stay in it, so that closing them sends nothing,
	 * behind the lock the restore removes. */
	if (!ret && !ctx->opts->leave_running)
		ret = tcp_dump_commit(ctx->tcp);
	if (ret || ctx->opts->leave_running) {
		ret = tcp_dump_end(ctx->tcp, false) ?: ret;
		if (!ret && ctx->opts->leave_stopped)
			stop_seized(ctx);
		unseize_tree(&ctx->tree);
	} else {
		ret = kill_tree(&ctx->tree);
		tcp_dump_end(ctx->tcp, !ret);
	}
	ctx->tcp = NULL;
	charge(ctx, ST_RELEASE);
	ctx->t_thawed = ctx->t_mark;
	if (!ret)
		dump_final_stats(ctx);
	return ret;
}

static void free_procs(struct dump_ctx *ctx, bool failed)
{
	for (size_t i = 0; ctx->procs && i < ctx->tree.nr; i++) {
		struct proc_dump *pd = &ctx->procs[i];

		if (failed)
			track_round_abort(&pd->round);
		track_round_free(&pd->round);
		free(pd->thread_states);
		free_task_misc(&pd->misc);
		free_vmas(&pd->vl);
	}
	free(ctx->procs);
	ctx->procs = NULL;
	free(ctx->live);
	pstree_free(&ctx->tree);
}

/* Why a failed dump failed, when it is not a step's error: a process
 * that died while frozen, or a signal to lmproc.  True if it said so. */
static bool report_cause(const struct dump_ctx *ctx)
{
	const struct pstree_item *dead = pstree_first_death(&ctx->tree);
	const char *what = ctx->pre_dump ? "pre-dump" : "dump";
	int st, sig = interrupt_signal();

	if (dead) {
		st = dead->died_status;
		if (st == -1)
			pr_err("pid %d (%s) exited during the %s: the tree was released\n",
			       dead->pid, dead->comm, what);
		else if (WIFSIGNALED(st))
			pr_err("pid %d (%s) exited during the %s (killed by signal %d): the tree "
			       "was released\n",
			       dead->pid, dead->comm, what, WTERMSIG(st));
		else
			pr_err("pid %d (%s) exited during the %s (status %d): the tree was "
			       "released\n",
			       dead->pid, dead->comm, what, WEXITSTATUS(st));
		return true;
	}
	if (!sig)
		return false;
	pr_err("%s of pid %d interrupted by SIG%s: the tree was released, nothing dumped\n", what,
	       ctx->pid, sigabbrev_np(sig));
	return true;
}

/* A refusal: lmproc would not dump what it found (the target, a file,
 * a mapping, images restore would refuse); anything else failed (I/O,
 * memory, a process that died, a signal). */
static bool is_refusal(const struct dump_ctx *ctx, int ret)
{
	if (pstree_first_death(&ctx->tree) || interrupt_signal())
		return false;
	return ret == -EOPNOTSUPP || ret == -EINVAL || ret == -EPERM || ret == -EACCES ||
	       ret == -EBUSY || ret == -ESRCH || ret == -EEXIST;
}

/* The number and bytes of the images in the directory, for --json. */
static void images_size(int dfd, unsigned int *nr, uint64_t *bytes)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct stat sb;

	*nr = 0;
	*bytes = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 4 || strcmp(de->d_name + len - 4, ".img") ||
		    fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) || !S_ISREG(sb.st_mode))
			continue;
		(*nr)++;
		*bytes += sb.st_size;
	}
	closedir(d);
}

static void report_proc_json(const struct dump_ctx *ctx, size_t i)
{
	const struct pstree_item *it = &ctx->tree.items[i];
	const struct proc_dump *pd = &ctx->procs[i];
	const struct page_xfer_stats *p = &pd->pages;

	printf("%s{\"pid\": %d", i ? ", " : "", it->pid);
	if (it->zombie || pd->exited) {
		printf(", \"%s\": true}", it->zombie ? "zombie" : "exited");
		return;
	}
	printf(", \"pages_scanned\": %llu, \"pages_written\": %llu, "
	       "\"pages_skipped_zero\": %llu, \"pages_skipped_parent\": %llu, "
	       "\"pages_shared_parent\": %llu, \"pagemap_scan_time_us\": %llu, "
	       "\"memdump_time_us\": %llu, \"memwrite_time_us\": %llu}",
	       (unsigned long long)p->pages_scanned, (unsigned long long)p->pages_written,
	       (unsigned long long)p->pages_zero, (unsigned long long)p->pages_skipped_parent,
	       (unsigned long long)p->pages_shared_task, (unsigned long long)p->scan_us,
	       (unsigned long long)p->memdump_us, (unsigned long long)p->memwrite_us);
}

/* --json: one object on stdout, what the dump did and its figures (the
 * stats-dump.img fields under their names), or why it did not. */
static void report_json(const struct dump_ctx *ctx, int ret)
{
	const char *result = ctx->pre_dump ? "pre-dumped" : "dumped";
	unsigned int nr_images;
	uint64_t bytes;

	if (ret)
		result = is_refusal(ctx, ret) ? "refused" : "failed";
	printf("{\"command\": \"%s\", \"result\": \"%s\", \"pid\": %d, \"images_dir\": ",
	       ctx->pre_dump ? "pre-dump" : "dump", result, ctx->pid);
	json_str(stdout, ctx->opts->images_dir);
	printf(", \"prev_images_dir\": ");
	if (ctx->opts->prev_images_dir)
		json_str(stdout, ctx->opts->prev_images_dir);
	else
		printf("null");
	if (ret) {
		printf(", \"reason\": ");
		json_str(stdout, log_first_error()[0] ? log_first_error() : strerror(-ret));
		printf(", \"errno\": \"%s\"}\n", strerrorname_np(-ret) ?: "?");
		fflush(stdout);
		return;
	}
	if (!ctx->pre_dump)
		printf(", \"leave_running\": %s, \"leave_stopped\": %s",
		       ctx->opts->leave_running && !ctx->opts->leave_stopped ? "true" : "false",
		       ctx->opts->leave_stopped ? "true" : "false");
	else
		printf(", \"track_backend\": \"%s\"", track_backend_name(root_round(ctx)->backend));
	images_size(ctx->dfd, &nr_images, &bytes);
	printf(", \"images\": %u, \"bytes_written\": %llu, \"processes\": [", nr_images,
	       (unsigned long long)bytes);
	for (size_t i = 0; i < ctx->tree.nr; i++)
		report_proc_json(ctx, i);
	printf("]");
	if (ctx->has_stats) {
		printf(", \"stats\": {");
		json_pb_scalars(stdout, &ctx->stats.base);
		printf("}");
	}
	printf("}\n");
	fflush(stdout);
}

static int do_dump(struct lmproc_opts *opts, bool pre_dump)
{
	struct dump_ctx ctx = { .opts = opts, .pid = opts->pid, .dfd = -1, .pre_dump = pre_dump };
	const char *what = pre_dump ? "Pre-dump" : "Dump";
	int ret;

	/* From here on a signal to lmproc is taken at the next safe point,
	 * never in the middle of a step that must finish. */
	interrupt_guard();
	progress_start(opts->progress, pre_dump ? "pre-dump" : "dump");
	ctx.t_start = now_us();
	ctx.dfd = open_images_dir(opts->images_dir);
	if (ctx.dfd < 0) {
		progress_end();
		if (opts->json_report)
			report_json(&ctx, ctx.dfd);
		return ctx.dfd;
	}
	ret = seize_check_target(ctx.pid) ?: interrupt_check();
	if (!ret)
		ret = pre_dump ? run_pre_dump(&ctx) : run_dump(&ctx);
	progress_end();
	if (ret == DUMP_HOLD_FROZEN) {
		pr_info("Dump of pid %d: the tree is left stopped\n", ctx.pid);
	} else if (ret) {
		unlinkat(ctx.dfd, "inventory.img", 0);
		if (report_cause(&ctx) || log_error_count())
			pr_info("%s of pid %d failed; it keeps running\n", what, ctx.pid);
		else
			pr_err("%s of pid %d failed (%s); it keeps running\n", what, ctx.pid,
			       strerror(-ret));
	} else {
		if (interrupt_signal())
			pr_warn("SIG%s came after the %s was complete: its images are kept\n",
				sigabbrev_np(interrupt_signal()), pre_dump ? "pre-dump" : "dump");
		pr_info("%s of pid %d: %zu processes, frozen %lu us, %lu pages written, %lu in "
			"earlier rounds\n",
			what, ctx.pid, ctx.tree.nr, (unsigned long)(ctx.t_thawed - ctx.t_frozen),
			(unsigned long)ctx.pages.pages_written,
			(unsigned long)ctx.pages.pages_skipped_parent);
	}
	if (opts->json_report && ret != DUMP_HOLD_FROZEN)
		report_json(&ctx, ret);
	if (!ret && opts->display_stats && ctx.has_stats)
		stats_display(stdout, pre_dump ? "pre-dump" : "dump", &ctx.stats.base);
	free_procs(&ctx, ret != 0);
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
