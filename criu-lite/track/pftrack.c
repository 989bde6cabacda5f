/* User side of the eBPF page-fault tracker: loads and attaches
 * bpf/pftrack.bpf.c for one process, hands its descriptors to the keeper
 * and takes them back, and turns the maps into a dirty set, per-page
 * write counts and a dirty rate.  It never write-protects memory (the
 * pagemap-scan tracker does) and never pins anything in bpffs. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "log.h"
#include "pftrack.h"
#include "proc.h"
#include "uapi-compat.h"

/* Generated from bpf/pftrack.bpf.c: embeds the program's object. */
#include "pftrack.skel.h"

/* Inode of the initial pid namespace (include/linux/proc_ns.h). */
#define PROC_PID_INIT_INO 0xEFFFFFFCU
#define DRAIN_BATCH 4096

enum pftrack_fd {
	PFT_LINK_USER,
	PFT_LINK_KERNEL,
	PFT_MAP_PAGES,
	PFT_MAP_RATE,
	PFT_MAP_TOTALS,
};

struct pftrack {
	pid_t pid;
	int fds[PFTRACK_NR_FDS];
	int ncpus;
};

struct map_spec {
	const char *name;
	uint32_t type;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
};

/* In descriptor order, from PFT_MAP_PAGES on. */
static const struct map_spec map_specs[] = {
	{ "pages", BPF_MAP_TYPE_HASH, sizeof(__u64), sizeof(struct pftrack_page),
	  PFTRACK_MAX_PAGES },
	{ "rate", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct pftrack_bucket),
	  PFTRACK_NR_BUCKETS },
	{ "totals", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct pftrack_totals),
	  PFTRACK_NR_TOTALS },
};

static const char *const link_tracepoints[] = {
	[PFT_LINK_USER] = "page_fault_user",
	[PFT_LINK_KERNEL] = "page_fault_kernel",
};

/* libbpf's own messages (verifier logs included) only at -v4: lmproc
 * prints one line of its own when something fails. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	pr_debug("libbpf: %s", buf);
	return 0;
}

/* The target's tgid in its own pid namespace: the last NSpid field
 * (NSpid lists it from the namespace of our /proc down to the target's). */
static int read_ns_tgid(pid_t pid, uint32_t *tgid)
{
	char path[64], line[256], *last;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("Can't open %s", path);
		return -errno;
	}
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "NSpid:", 6);
	fclose(f);
	last = found ? strrchr(line, '\t') : NULL;
	if (!last || sscanf(last, "%u", tgid) != 1 || !*tgid) {
		pr_err("No NSpid in %s: can't tell pid %d's tgid in its pid namespace\n", path,
		       pid);
		return -ENOTSUP;
	}
	return 0;
}

/* The program filters by the target's tgid in the target's active pid
 * namespace, which need not be ours: its faults run in its context.
 * bpf_get_ns_current_pid_tgid() compares the namespace with the kernel's
 * dev_t of nsfs (MKDEV: major << 20 | minor), not stat's encoding. */
static int target_filter(pid_t pid, struct pftrack_filter *f)
{
	char path[64];
	struct stat st;
	int ret;

	memset(f, 0, sizeof(*f));
	ret = read_ns_tgid(pid, &f->tgid);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	if (stat(path, &st)) {
		pr_perror("Can't stat %s", path);
		return -errno;
	}
	if (st.st_ino == PROC_PID_INIT_INO)
		return 0;
	f->ns_dev = (uint64_t)major(st.st_dev) << 20 | minor(st.st_dev);
	f->ns_ino = st.st_ino;
	return 0;
}

static unsigned long long filter_ns(const struct pftrack_filter *f)
{
	return f->ns_ino ?: PROC_PID_INIT_INO;
}

/* Faults happen only on protected pages: without uffd-wp registered
 * memory in the target the tracker would report nothing, wrongly. */
static int check_protected(pid_t pid)
{
	struct page_region r;
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = 0,
		.end = TASK_SIZE,
		.vec = (uint64_t)(uintptr_t)&r,
		.vec_len = 1,
		.max_pages = 1,
		.category_mask = PAGE_IS_WPALLOWED,
		.return_mask = PAGE_IS_WPALLOWED,
	};
	char path[64];
	long n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open %s", path);
		return -errno;
	}
	n = ioctl(fd, PAGEMAP_SCAN, &arg);
	if (n < 0)
		pr_perror("PAGEMAP_SCAN of pid %d for write-protected memory failed", pid);
	close(fd);
	if (n < 0)
		return -errno;
	if (n == 0) {
		pr_err("Can't track page faults of pid %d alone: none of its memory is "
		       "write-protected by a userfaultfd, so its writes do not fault "
		       "(arm the pagemap-scan tracker first)\n", pid);
		return -ENOTSUP;
	}
	return 0;
}

/* A tracker owning copies of SRC. */
static int tracker_new(pid_t pid, const int *src, struct pftrack **out)
{
	struct pftrack *pt;
	int ncpus = libbpf_num_possible_cpus();

	if (ncpus <= 0) {
		pr_err("Can't count the possible CPUs: %s\n", strerror(-ncpus));
		return ncpus ?: -EINVAL;
	}
	pt = calloc(1, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	pt->pid = pid;
	pt->ncpus = ncpus;
	for (int i = 0; i < PFTRACK_NR_FDS; i++)
		pt->fds[i] = -1;
	for (int i = 0; i < PFTRACK_NR_FDS; i++) {
		pt->fds[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
		if (pt->fds[i] < 0) {
			pr_perror("Can't copy descriptor %d of the page-fault tracker of pid %d",
				  src[i], pid);
			pftrack_close(pt);
			return -errno;
		}
	}
	*out = pt;
	return 0;
}

/* The dirty set starts now: the first rate counts from here. */
static int mark_loaded(struct pftrack *pt)
{
	struct pftrack_totals *cpu = calloc(pt->ncpus, sizeof(*cpu));
	__u32 slot = PFTRACK_TOTALS_DRAINED;
	int ret = 0;

	if (!cpu)
		return -ENOMEM;
	cpu[0].drained_ns = now_ns();
	if (bpf_map_update_elem(pt->fds[PFT_MAP_TOTALS], &slot, cpu, BPF_ANY)) {
		pr_perror("Can't store the load time of the page-fault tracker of pid %d", pt->pid);
		ret = -errno;
	}
	free(cpu);
	return ret;
}

/* The program for PID, filtered to it, opened and loaded (the verifier:
 * 20-30 ms here). */
static int load(pid_t pid, const struct pftrack_filter *filter, bool quiet,
		struct pftrack_bpf **out)
{
	struct pftrack_bpf *skel;
	int ret;

	libbpf_set_print(libbpf_log);
	skel = pftrack_bpf__open();
	if (!skel) {
		pr_perror("Can't open the page-fault tracker for pid %d", pid);
		return -errno;
	}
	skel->rodata->filter = *filter;
	ret = pftrack_bpf__load(skel);
	if (ret && !quiet) {
		/* A kernel before 5.7 has no bpf_get_ns_current_pid_tgid(). */
		pr_err("Can't load the page-fault tracker for pid %d (pid namespace %s): %s\n",
		       pid, filter->ns_ino ? "not the initial one" : "initial", strerror(-ret));
	}
	if (ret) {
		pftrack_bpf__destroy(skel);
		return ret;
	}
	*out = skel;
	return 0;
}

/* Programs loaded before the freeze (pftrack_preload), each for the
 * process its filter names: the freeze then only attaches them. */
static struct preloaded {
	pid_t pid;
	struct pftrack_filter filter;
	struct pftrack_bpf *skel;
} preloaded[PFTRACK_PRELOAD_MAX];
static unsigned int nr_preloaded;

static bool preload_one(pid_t pid, void *arg)
{
	struct preloaded *p = &preloaded[nr_preloaded];

	(void)arg;
	/* What fails here fails again, and is said, at the freeze. */
	if (target_filter(pid, &p->filter) || load(pid, &p->filter, true, &p->skel))
		return false;
	p->pid = pid;
	return ++nr_preloaded == PFTRACK_PRELOAD_MAX;
}

void pftrack_preload(pid_t root)
{
	pftrack_preload_drop();
	proc_tree_walk(root, PFTRACK_PRELOAD_DEPTH, preload_one, NULL);
	pr_debug("pid %d: %u page-fault trackers loaded before the freeze\n", root,
		 nr_preloaded);
}

void pftrack_preload_drop(void)
{
	while (nr_preloaded)
		pftrack_bpf__destroy(preloaded[--nr_preloaded].skel);
}

/* PID's preloaded program, if its filter still names PID's process (a
 * pid reused since, or moved into another pid namespace, loads anew). */
static struct pftrack_bpf *take_preloaded(pid_t pid, const struct pftrack_filter *filter)
{
	for (unsigned int i = 0; i < nr_preloaded; i++) {
		struct pftrack_bpf *skel = preloaded[i].skel;

		if (preloaded[i].pid != pid || !preloaded[i].skel)
			continue;
		preloaded[i].skel = NULL;
		if (!memcmp(&preloaded[i].filter, filter, sizeof(*filter)))
			return skel;
		pftrack_bpf__destroy(skel);
	}
	return NULL;
}

int pftrack_open(pid_t pid, struct pftrack **out)
{
	struct pftrack_filter filter;
	struct pftrack_bpf *skel;
	int fds[PFTRACK_NR_FDS];
	int ret = check_protected(pid) ?: target_filter(pid, &filter);

	if (ret)
		return ret;
	pr_debug("pid %d: page-fault filter: tgid %u in pid namespace %llu\n", pid, filter.tgid,
		 filter_ns(&filter));
	skel = take_preloaded(pid, &filter);
	if (!skel) {
		ret = load(pid, &filter, false, &skel);
		if (ret)
			return ret;
	}
	ret = pftrack_bpf__attach(skel);
	if (ret) {
		pr_err("Can't attach the page-fault tracker of pid %d to "
		       "exceptions:page_fault_user/kernel: %s\n", pid, strerror(-ret));
		goto out;
	}
	fds[PFT_LINK_USER] = bpf_link__fd(skel->links.pftrack_user);
	fds[PFT_LINK_KERNEL] = bpf_link__fd(skel->links.pftrack_kernel);
	fds[PFT_MAP_PAGES] = bpf_map__fd(skel->maps.pages);
	fds[PFT_MAP_RATE] = bpf_map__fd(skel->maps.rate);
	fds[PFT_MAP_TOTALS] = bpf_map__fd(skel->maps.totals);
	/* The copies keep links and maps alive once the skeleton is gone. */
	ret = tracker_new(pid, fds, out);
	if (!ret && (ret = mark_loaded(*out))) {
		pftrack_close(*out);
		*out = NULL;
	}
out:
	pftrack_bpf__destroy(skel);
	return ret;
}

static int check_map(pid_t pid, int fd, const struct map_spec *spec, uint32_t *id)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		pr_perror("Descriptor %d given for the page-fault tracker of pid %d is no BPF map",
			  fd, pid);
		return -EINVAL;
	}
	if (strcmp(info.name, spec->name) || info.type != spec->type ||
	    info.key_size != spec->key_size || info.value_size != spec->value_size ||
	    info.max_entries != spec->max_entries) {
		pr_err("Descriptor %d given for the page-fault tracker of pid %d is map \"%s\", "
		       "not its \"%s\" map\n", fd, pid, info.name, spec->name);
		return -EINVAL;
	}
	*id = info.id;
	return 0;
}

/* The filter the program was loaded with, read from its .rodata. */
static int read_prog_filter(uint32_t map_id, struct pftrack_filter *filter)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info), key = 0;
	size_t nlen;
	int fd = bpf_map_get_fd_by_id(map_id);
	int ret = -ENOENT;

	if (fd < 0)
		return -errno;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		nlen = strlen(info.name);
		if (nlen >= 7 && !strcmp(info.name + nlen - 7, ".rodata") &&
		    info.value_size == sizeof(*filter))
			ret = bpf_map_lookup_elem(fd, &key, filter) ? -errno : 0;
	}
	close(fd);
	return ret;
}

/* The program behind a link: must use MAP_IDS and filter on PID. */
static int check_link_prog(pid_t pid, int link_fd, uint32_t prog_id, const uint32_t *map_ids)
{
	struct pftrack_filter want, got = {};
	uint32_t used[16], len;
	struct bpf_prog_info info = {};
	int ret, found = 0, fd = bpf_prog_get_fd_by_id(prog_id);

	if (fd < 0) {
		pr_perror("Can't open the program of tracker link %d of pid %d", link_fd, pid);
		return -errno;
	}
	info.nr_map_ids = ARRAY_SIZE(used);
	info.map_ids = (uint64_t)(uintptr_t)used;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		pr_perror("Can't read the program of tracker link %d of pid %d", link_fd, pid);
		close(fd);
		return -errno;
	}
	close(fd);
	for (uint32_t i = 0; i < min(info.nr_map_ids, (uint32_t)ARRAY_SIZE(used)); i++) {
		bool ours = false;

		for (size_t m = 0; m < ARRAY_SIZE(map_specs); m++)
			ours |= used[i] == map_ids[m];
		if (ours)
			found++;
		else if (!got.tgid)
			read_prog_filter(used[i], &got);
	}
	ret = target_filter(pid, &want);
	if (ret)
		return ret;
	if (found != (int)ARRAY_SIZE(map_specs) || memcmp(&got, &want, sizeof(got))) {
		pr_err("Tracker link %d given for pid %d belongs to another tracker "
		       "(tgid %u in pid namespace %llu, not %u in %llu)\n", link_fd, pid, got.tgid,
		       filter_ns(&got), want.tgid, filter_ns(&want));
		return -EINVAL;
	}
	return 0;
}

static int check_link(pid_t pid, int fd, const char *tp, const uint32_t *map_ids)
{
	struct bpf_link_info info = {};
	uint32_t len = sizeof(info);
	char name[32] = "";

	info.raw_tracepoint.tp_name = (uint64_t)(uintptr_t)name;
	info.raw_tracepoint.tp_name_len = sizeof(name);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		pr_perror("Descriptor %d given for the page-fault tracker of pid %d is no BPF link",
			  fd, pid);
		return -EINVAL;
	}
	if (info.type != BPF_LINK_TYPE_RAW_TRACEPOINT || strcmp(name, tp)) {
		pr_err("Descriptor %d given for the page-fault tracker of pid %d is not its "
		       "link on %s\n", fd, pid, tp);
		return -EINVAL;
	}
	return check_link_prog(pid, fd, info.prog_id, map_ids);
}

int pftrack_reopen_from_fds(pid_t pid, const int *fds, int nr_fds, struct pftrack **out)
{
	uint32_t map_ids[ARRAY_SIZE(map_specs)];
	int ret;

	if (nr_fds != PFTRACK_NR_FDS) {
		pr_err("The page-fault tracker of pid %d needs %d descriptors, got %d\n", pid,
		       PFTRACK_NR_FDS, nr_fds);
		return -EINVAL;
	}
	for (size_t m = 0; m < ARRAY_SIZE(map_specs); m++) {
		ret = check_map(pid, fds[PFT_MAP_PAGES + m], &map_specs[m], &map_ids[m]);
		if (ret)
			return ret;
	}
	for (int l = PFT_LINK_USER; l <= PFT_LINK_KERNEL; l++) {
		ret = check_link(pid, fds[l], link_tracepoints[l], map_ids);
		if (ret)
			return ret;
	}
	ret = check_protected(pid);
	if (ret)
		return ret;
	return tracker_new(pid, fds, out);
}

int pftrack_fds(const struct pftrack *pt, int *fds, int nr_fds)
{
	if (nr_fds < PFTRACK_NR_FDS)
		return -ENOSPC;
	for (int i = 0; i < PFTRACK_NR_FDS; i++) {
		fds[i] = fcntl(pt->fds[i], F_DUPFD_CLOEXEC, 3);
		if (fds[i] < 0) {
			int err = -errno;

			pr_perror("Can't copy the page-fault tracker's descriptors of pid %d",
				  pt->pid);
			while (i--)
				close(fds[i]);
			return err;
		}
	}
	return PFTRACK_NR_FDS;
}

void pftrack_close(struct pftrack *pt)
{
	if (!pt)
		return;
	for (int i = 0; i < PFTRACK_NR_FDS; i++)
		if (pt->fds[i] >= 0)
			close(pt->fds[i]);
	free(pt);
}

struct page_rec {
	uint64_t addr;
	struct pftrack_page v;
};

struct page_recs {
	struct page_rec *r;
	size_t nr;
	size_t cap;
};

static int recs_reserve(struct page_recs *recs, size_t more)
{
	size_t cap = recs->cap ? recs->cap : DRAIN_BATCH;
	struct page_rec *r;

	if (recs->nr + more <= recs->cap)
		return 0;
	while (cap < recs->nr + more)
		cap *= 2;
	r = realloc(recs->r, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	recs->r = r;
	recs->cap = cap;
	return 0;
}

/* Takes every entry out of "pages".  Each hash bucket is read and
 * emptied under its lock, so an entry created meanwhile is either taken
 * now or left for the next drain, never lost. */
static int take_pages(struct pftrack *pt, struct page_recs *recs)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	cleanup_free __u64 *keys = malloc(DRAIN_BATCH * sizeof(*keys));
	cleanup_free struct pftrack_page *vals = malloc(DRAIN_BATCH * sizeof(*vals));
	__u32 token = 0;
	bool first = true;

	if (!keys || !vals)
		return -ENOMEM;
	for (;;) {
		__u32 count = DRAIN_BATCH;
		int err = bpf_map_lookup_and_delete_batch(pt->fds[PFT_MAP_PAGES],
							  first ? NULL : &token, &token,
							  keys, vals, &count, &opts);

		if (err && errno != ENOENT) {
			pr_perror("Can't drain the page-fault map of pid %d", pt->pid);
			return -errno;
		}
		if (recs_reserve(recs, count))
			return -ENOMEM;
		for (__u32 i = 0; i < count; i++) {
			recs->r[recs->nr].addr = keys[i];
			recs->r[recs->nr].v = vals[i];
			recs->nr++;
		}
		if (err)
			return 0;
		first = false;
	}
}

static int cmp_addr(const void *a, const void *b)
{
	const struct page_rec *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

/* Keeps ST->top sorted by cycles, the lower address first on a tie
 * (records arrive in address order). */
static void top_insert(struct pftrack_stats *st, const struct page_rec *rec)
{
	size_t i = st->nr_top;

	if (i == PFTRACK_NR_TOP) {
		if (st->top[i - 1].cycles >= rec->v.cycles)
			return;
		i--;
	} else {
		st->nr_top++;
	}
	for (; i > 0 && st->top[i - 1].cycles < rec->v.cycles; i--)
		st->top[i] = st->top[i - 1];
	st->top[i] = (struct pftrack_page_count){
		.addr = rec->addr,
		.cycles = rec->v.cycles,
		.faults = rec->v.faults,
		.first_ns = rec->v.first_ns,
		.last_ns = rec->v.last_ns,
	};
}

static int fill_sets(const struct page_recs *recs, struct range_set *dirty,
		     struct range_set *hot, struct pftrack_stats *st)
{
	for (size_t i = 0; i < recs->nr; i++) {
		const struct page_rec *rec = &recs->r[i];
		int ret = range_set_add(dirty, rec->addr, rec->addr + PAGE_SIZE);

		if (ret)
			return ret;
		st->pages++;
		top_insert(st, rec);
		if (rec->v.cycles < PFTRACK_HOT_CYCLES)
			continue;
		st->hot_pages++;
		if (hot && (ret = range_set_add(hot, rec->addr, rec->addr + PAGE_SIZE)))
			return ret;
	}
	return 0;
}

static int read_totals(struct pftrack *pt, __u32 slot, struct pftrack_totals *sum)
{
	struct pftrack_totals *cpu = calloc(pt->ncpus, sizeof(*cpu));

	if (!cpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(pt->fds[PFT_MAP_TOTALS], &slot, cpu)) {
		pr_perror("Can't read the page-fault totals of pid %d", pt->pid);
		free(cpu);
		return -errno;
	}
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < pt->ncpus; i++) {
		sum->write_faults += cpu[i].write_faults;
		sum->wp_faults += cpu[i].wp_faults;
		sum->kernel_faults += cpu[i].kernel_faults;
		sum->dropped += cpu[i].dropped;
		sum->drained_ns = max(sum->drained_ns, cpu[i].drained_ns);
	}
	free(cpu);
	return 0;
}

/* ST gets the counts since the previous drain; the live sums become the
 * new baseline, stored in the map so that the next round sees it. */
static int take_totals(struct pftrack *pt, struct pftrack_stats *st, uint64_t now,
		       uint64_t *since)
{
	struct pftrack_totals live, drained, *cpu;
	__u32 slot = PFTRACK_TOTALS_DRAINED;
	int ret = read_totals(pt, PFTRACK_TOTALS_LIVE, &live) ?:
		  read_totals(pt, PFTRACK_TOTALS_DRAINED, &drained);

	if (ret)
		return ret;
	st->write_faults = live.write_faults - drained.write_faults;
	st->wp_faults = live.wp_faults - drained.wp_faults;
	st->kernel_faults = live.kernel_faults - drained.kernel_faults;
	st->dropped = live.dropped - drained.dropped;
	*since = drained.drained_ns;
	cpu = calloc(pt->ncpus, sizeof(*cpu));
	if (!cpu)
		return -ENOMEM;
	cpu[0] = live;
	cpu[0].drained_ns = now;
	if (bpf_map_update_elem(pt->fds[PFT_MAP_TOTALS], &slot, cpu, BPF_ANY)) {
		pr_perror("Can't store the page-fault totals of pid %d", pt->pid);
		ret = -errno;
	}
	free(cpu);
	return ret;
}

/* ST's fault counts and rate; the counts are taken: the next read starts
 * from here. */
static int totals(struct pftrack *pt, struct pftrack_stats *st)
{
	uint64_t now = now_ns(), since = 0, from = now - PFTRACK_RATE_WINDOW_MS * 1000000ULL;
	int ret;

	ret = take_totals(pt, st, now, &since);
	if (ret)
		return ret;
	if (st->dropped)
		pr_warn("The page-fault tracker of pid %d lost %lu faults: more than %u pages "
			"written since the last drain\n", pt->pid, (unsigned long)st->dropped,
			PFTRACK_MAX_PAGES);
	/* Before the previous drain every page was "new" to another set:
	 * a window reaching back past it would count time with no pages. */
	ret = pftrack_rate(pt, max(from, since), now, &st->rate_pps);
	if (ret == -ERANGE)
		st->rate_pps = -1;
	return ret == -ERANGE ? 0 : ret;
}

int pftrack_drain(struct pftrack *pt, struct range_set *dirty, struct range_set *hot,
		  struct pftrack_stats *st)
{
	struct page_recs recs = {};
	int ret;

	memset(st, 0, sizeof(*st));
	ret = take_pages(pt, &recs);
	if (!ret) {
		qsort(recs.r, recs.nr, sizeof(*recs.r), cmp_addr);
		ret = fill_sets(&recs, dirty, hot, st);
	}
	free(recs.r);
	return ret ?: totals(pt, st);
}

int pftrack_totals(struct pftrack *pt, struct pftrack_stats *st)
{
	memset(st, 0, sizeof(*st));
	return totals(pt, st);
}

static int read_buckets(struct pftrack *pt, struct pftrack_bucket *vals)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 keys[PFTRACK_NR_BUCKETS], token, count = PFTRACK_NR_BUCKETS;

	if (bpf_map_lookup_batch(pt->fds[PFT_MAP_RATE], NULL, &token, keys, vals, &count,
				 &opts) && errno != ENOENT) {
		pr_perror("Can't read the page-fault rate buckets of pid %d", pt->pid);
		return -errno;
	}
	if (count != PFTRACK_NR_BUCKETS) {
		pr_err("Read %u of %u page-fault rate buckets of pid %d\n", count,
		       PFTRACK_NR_BUCKETS, pt->pid);
		return -EIO;
	}
	for (__u32 i = 0; i < count; i++) {
		if (keys[i] != i) {
			pr_err("Page-fault rate bucket %u of pid %d came out of order\n", i,
			       pt->pid);
			return -EIO;
		}
	}
	return 0;
}

int pftrack_rate(struct pftrack *pt, uint64_t from_ns, uint64_t to_ns, double *pps)
{
	uint64_t now = now_ns() / PFTRACK_BUCKET_NS, pages = 0;
	uint64_t first = (from_ns + PFTRACK_BUCKET_NS - 1) / PFTRACK_BUCKET_NS;
	uint64_t end = min(to_ns / PFTRACK_BUCKET_NS, now);	/* the current one is partial */
	struct pftrack_bucket *vals;
	int ret;

	if (first >= end || first + PFTRACK_NR_BUCKETS <= now)
		return -ERANGE;
	vals = calloc((size_t)PFTRACK_NR_BUCKETS * pt->ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	ret = read_buckets(pt, vals);
	for (uint64_t e = first; !ret && e < end; e++) {
		const struct pftrack_bucket *b = &vals[(e % PFTRACK_NR_BUCKETS) * pt->ncpus];

		/* A CPU that took no fault in epoch E still holds an older one. */
		for (int cpu = 0; cpu < pt->ncpus; cpu++)
			if (b[cpu].epoch == e)
				pages += b[cpu].new_pages;
	}
	free(vals);
	if (ret)
		return ret;
	*pps = (double)pages * 1e9 / (double)((end - first) * PFTRACK_BUCKET_NS);
	return 0;
}
