/* Owns the probes of the kernel interfaces dirty tracking is built on
 * (MADV_POPULATE_WRITE, soft-dirty, PAGEMAP_SCAN, userfaultfd async
 * write-protect, the eBPF page-fault tracepoint) and the choice of the
 * tracker `--track auto` makes from them.  Part of kerndat_probe()
 * (kerndat.c): same rules, each an experiment that undoes all it did. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "common.h"
#include "kerndat.h"
#include "log.h"
#include "uapi-compat.h"

#define PM_SOFT_DIRTY_BIT 55

int kd_probe_populate_write(struct kerndat *kd)
{
	const size_t len = 4 * PAGE_SIZE;
	unsigned char *p = kd_map_anon(len), vec[4] = {};
	int ret;

	if (!p)
		return kd_fail(kd, KD_MADV_POPULATE_WRITE, "mmap");
	if (madvise(p, len, MADV_POPULATE_WRITE))
		ret = kd_fail(kd, KD_MADV_POPULATE_WRITE, "madvise(MADV_POPULATE_WRITE)");
	else if (mincore(p, len, vec) || !(vec[0] & vec[1] & vec[2] & vec[3] & 1))
		ret = kd_set(kd, KD_MADV_POPULATE_WRITE, false, "pages not resident afterwards");
	else
		ret = kd_set(kd, KD_MADV_POPULATE_WRITE, true, "4 pages populated in one call");
	munmap(p, len);
	return ret;
}

static int pagemap_entry(int pm, volatile void *addr, uint64_t *ent)
{
	off_t off = (unsigned long)addr / PAGE_SIZE * sizeof(*ent);

	return pread(pm, ent, sizeof(*ent), off) == sizeof(*ent) ? 0 : -1;
}

/* Clear, check bit 55 is clear, write, check it is set. */
static int soft_dirty_cycle(struct kerndat *kd, int pm, int cr, volatile unsigned char *p)
{
	uint64_t before, after;

	p[0] = 1;
	if (write(cr, "4", 1) != 1)
		return kd_fail(kd, KD_SOFT_DIRTY, "writing 4 to clear_refs");
	if (pagemap_entry(pm, p, &before))
		return kd_fail(kd, KD_SOFT_DIRTY, "reading pagemap");
	p[0] = 2;
	if (pagemap_entry(pm, p, &after))
		return kd_fail(kd, KD_SOFT_DIRTY, "reading pagemap");
	if (!(after >> PM_SOFT_DIRTY_BIT & 1))
		return kd_set(kd, KD_SOFT_DIRTY, false,
			      "clear_refs took 4 but a write left pagemap bit 55 clear");
	if (before >> PM_SOFT_DIRTY_BIT & 1)
		return kd_set(kd, KD_SOFT_DIRTY, false, "clear_refs did not clear bit 55");
	return kd_set(kd, KD_SOFT_DIRTY, true, "bit 55 cleared, then set by a write");
}

/* CONFIG_MEM_SOFT_DIRTY off fails silently: clear_refs accepts 4 and bit
 * 55 just never shows up, so only a write after a clear tells. */
int kd_probe_soft_dirty(struct kerndat *kd)
{
	cleanup_close int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	cleanup_close int cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	unsigned char *p;
	int ret;

	if (pm < 0)
		return kd_fail(kd, KD_SOFT_DIRTY, "/proc/self/pagemap");
	if (cr < 0)
		return kd_fail(kd, KD_SOFT_DIRTY, "/proc/self/clear_refs");
	p = kd_map_anon(PAGE_SIZE);
	if (!p)
		return kd_fail(kd, KD_SOFT_DIRTY, "mmap");
	ret = soft_dirty_cycle(kd, pm, cr, p);
	munmap(p, PAGE_SIZE);
	return ret;
}

/* Runs PAGEMAP_SCAN over [P, P + LEN) of lmproc and returns the number of
 * regions found, or -errno. */
static long scan_self(void *p, size_t len, uint64_t flags, uint64_t mask,
		      struct page_region *regions, size_t nr)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = flags,
		.start = (unsigned long)p,
		.end = (unsigned long)p + len,
		.vec = (unsigned long)regions,
		.vec_len = nr,
		.category_mask = mask,
		.return_mask = mask,
	};
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long ret;

	if (pm < 0)
		return -errno;
	ret = ioctl(pm, PAGEMAP_SCAN, &arg);
	if (ret < 0)
		ret = -errno;
	close(pm);
	return ret;
}

/* Whether a scan found exactly one region, [P + FIRST, P + END) in pages. */
static bool one_region(long n, const struct page_region *r, unsigned char *p, int first,
		       int end)
{
	return n == 1 && r[0].start == (unsigned long)p + first * PAGE_SIZE &&
	       r[0].end == (unsigned long)p + end * PAGE_SIZE;
}

int kd_probe_pagemap_scan(struct kerndat *kd)
{
	unsigned char *p = kd_map_anon(4 * PAGE_SIZE);
	struct page_region r[4];
	long n;
	int ret;

	if (!p)
		return kd_fail(kd, KD_PAGEMAP_SCAN, "mmap");
	p[PAGE_SIZE] = 1;
	p[2 * PAGE_SIZE] = 1;
	n = scan_self(p, 4 * PAGE_SIZE, 0, PAGE_IS_PRESENT, r, ARRAY_SIZE(r));
	if (n < 0) {
		errno = -n;
		ret = kd_fail(kd, KD_PAGEMAP_SCAN, "PAGEMAP_SCAN");
	} else if (!one_region(n, r, p, 1, 3)) {
		ret = kd_set(kd, KD_PAGEMAP_SCAN, false, "wrong present pages reported");
	} else {
		ret = kd_set(kd, KD_PAGEMAP_SCAN, true, "found exactly the 2 present of 4 pages");
	}
	munmap(p, 4 * PAGE_SIZE);
	return ret;
}

/* The features this kernel's userfaultfd offers (an API call with none
 * requested reports them all; a uffd takes only one API call). */
static uint64_t uffd_offered(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return 0;
	if (ioctl(fd, UFFDIO_API, &api))
		api.features = 0;
	close(fd);
	return api.features;
}

/* Write-protects 4 pages (2 never touched), writes one, and expects
 * PAGEMAP_SCAN to report exactly that one as written. */
static int uffd_wp_exact(struct kerndat *kd, int uffd, unsigned char *p)
{
	const size_t len = 4 * PAGE_SIZE;
	struct uffdio_register reg = { { (unsigned long)p, len }, UFFDIO_REGISTER_MODE_WP, 0 };
	struct uffdio_writeprotect wp = { { (unsigned long)p, len }, UFFDIO_WRITEPROTECT_MODE_WP };
	struct page_region r[4];
	long n;

	p[0] = 1;
	p[PAGE_SIZE] = 1;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "UFFDIO_REGISTER");
	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "UFFDIO_WRITEPROTECT");
	p[PAGE_SIZE] = 2;
	n = scan_self(p, len, PM_SCAN_CHECK_WPASYNC, PAGE_IS_WRITTEN, r, ARRAY_SIZE(r));
	if (n < 0) {
		errno = -n;
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "PAGEMAP_SCAN of protected pages");
	}
	if (!one_region(n, r, p, 1, 2))
		return kd_set(kd, KD_UFFD_WP_ASYNC, false,
			      "written pages not reported exactly (%ld regions)", n);
	return kd_set(kd, KD_UFFD_WP_ASYNC, true, "1 write in 4 protected pages found exactly");
}

int kd_probe_uffd_wp(struct kerndat *kd)
{
	const uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	cleanup_close int uffd = -1;
	unsigned char *p;
	int ret;

	kd->uffd_features = uffd_offered();
	if ((kd->uffd_features & want) != want)
		return kd_set(kd, KD_UFFD_WP_ASYNC, false,
			      "no WP_ASYNC|WP_UNPOPULATED in userfaultfd features %#" PRIx64,
			      kd->uffd_features);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "userfaultfd");
	if (ioctl(uffd, UFFDIO_API, &api))
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "UFFDIO_API");
	p = kd_map_anon(4 * PAGE_SIZE);
	if (!p)
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "mmap");
	ret = uffd_wp_exact(kd, uffd, p);
	munmap(p, 4 * PAGE_SIZE);
	return ret;
}

static int bpf_sys(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/* The tracefs id of exceptions:page_fault_user, for the reason text only:
 * tp/ programs need it, raw_tp/tp_btf ones do not. */
static void tracefs_pf_id(char *buf, size_t len)
{
	int fd = open("/sys/kernel/tracing/events/exceptions/page_fault_user/id",
		      O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (fd >= 0)
		close(fd);
}

#define PROC_PID_INIT_INO 0xEFFFFFFCU	/* include/linux/proc_ns.h */

/* Runs bpf_get_ns_current_pid_tgid() for our own pid namespace in a test
 * run (on this task) and returns the tgid it gave, or a negative errno.
 * The tracker's programs filter with it unless the target is in the
 * initial pid namespace; the kernel compares DEV with its own dev_t of
 * nsfs (MKDEV: major << 20 | minor), not with stat's encoding. */
static int64_t bpf_ns_tgid(uint64_t dev, uint64_t ino)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1, .imm = (int32_t)dev },
		{ .imm = (int32_t)(dev >> 32) },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_2, .imm = (int32_t)ino },
		{ .imm = (int32_t)(ino >> 32) },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_3, .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_3, .imm = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_4, .imm = 8 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_ns_current_pid_tgid },
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = BPF_REG_0, .off = 1 },
		/* struct bpf_pidns_info { u32 pid; u32 tgid; } */
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_0, .src_reg = BPF_REG_10,
		  .off = -4 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr = {};
	cleanup_close int prog = -1;

	attr.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
	attr.insns = (unsigned long)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (unsigned long)"GPL";
	prog = bpf_sys(BPF_PROG_LOAD, &attr);
	if (prog < 0)
		return -errno;
	memset(&attr, 0, sizeof(attr));
	attr.test.prog_fd = prog;
	if (bpf_sys(BPF_PROG_TEST_RUN, &attr))
		return -errno;
	return (int32_t)attr.test.retval;
}

/* The tracker filters faults by the target's tgid in the target's pid
 * namespace.  Ours stands for it: a target we can see is in it or below. */
static int probe_ns_filter(struct kerndat *kd, const char *attached)
{
	struct stat st;
	int64_t tgid;

	if (stat("/proc/self/ns/pid", &st))
		return kd_fail(kd, KD_PF_TRACEPOINT, "stat /proc/self/ns/pid");
	tgid = bpf_ns_tgid((uint64_t)major(st.st_dev) << 20 | minor(st.st_dev), st.st_ino);
	if (tgid == getpid())
		return kd_set(kd, KD_PF_TRACEPOINT, true,
			      "%s; bpf_get_ns_current_pid_tgid filters by pid in namespace %lu",
			      attached, (unsigned long)st.st_ino);
	if (st.st_ino == PROC_PID_INIT_INO)
		return kd_set(kd, KD_PF_TRACEPOINT, true,
			      "%s; initial pid namespace only (bpf_get_ns_current_pid_tgid: %s)",
			      attached, tgid < 0 ? strerror(-tgid) : "wrong pid");
	if (tgid < 0)
		return kd_set(kd, KD_PF_TRACEPOINT, false,
			      "in pid namespace %lu, bpf_get_ns_current_pid_tgid is needed: %s",
			      (unsigned long)st.st_ino, strerror(-tgid));
	return kd_set(kd, KD_PF_TRACEPOINT, false,
		      "bpf_get_ns_current_pid_tgid gave pid %" PRId64 ", we are %d in namespace %lu",
		      tgid, getpid(), (unsigned long)st.st_ino);
}

/* Loads "return 0" as a raw tracepoint program and attaches it to
 * page_fault_user by name, then detaches: needs neither tracefs nor
 * libbpf, and proves both bpf() and the tracepoint.  Then the pid filter
 * the tracker needs in lmproc's pid namespace. */
int kd_probe_bpf(struct kerndat *kd)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr = {};
	cleanup_close int prog = -1, link = -1;
	char id[32], attached[96];

	attr.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
	attr.insns = (unsigned long)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (unsigned long)"GPL";
	prog = bpf_sys(BPF_PROG_LOAD, &attr);
	if (prog < 0) {
		kd_fail(kd, KD_BPF, "bpf(BPF_PROG_LOAD)");
		return kd_set(kd, KD_PF_TRACEPOINT, false, "needs bpf");
	}
	kd_set(kd, KD_BPF, true, "loaded a raw_tracepoint program");
	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.name = (unsigned long)"page_fault_user";
	attr.raw_tracepoint.prog_fd = prog;
	link = bpf_sys(BPF_RAW_TRACEPOINT_OPEN, &attr);
	if (link < 0)
		return kd_fail(kd, KD_PF_TRACEPOINT, "attaching to raw_tp page_fault_user");
	tracefs_pf_id(id, sizeof(id));
	if (id[0])
		snprintf(attached, sizeof(attached), "raw_tp attached (tracefs id %s)", id);
	else
		snprintf(attached, sizeof(attached), "raw_tp attached (no tracefs)");
	return probe_ns_filter(kd, attached);
}

/* Exact and cheap first, soft-dirty next.  eBPF only sees faults where
 * one of those protected the page, so it is never a backend alone. */
int kd_pick_tracker(struct kerndat *kd)
{
	if (kd->feat[KD_PAGEMAP_SCAN].ok && kd->feat[KD_UFFD_WP_ASYNC].ok &&
	    kd->feat[KD_UFFD_REMOTE].ok)
		kd->tracker = KD_TRACKER_PAGEMAP_SCAN;
	else if (kd->feat[KD_SOFT_DIRTY].ok)
		kd->tracker = KD_TRACKER_SOFT_DIRTY;
	else
		kd->tracker = KD_TRACKER_NONE;
	if (kd->tracker == KD_TRACKER_NONE)
		return kd_set(kd, KD_DIRTY_TRACKER, false,
			      "none works: pre-dumps would copy everything");
	return kd_set(kd, KD_DIRTY_TRACKER, true, "auto picks %s",
		      kerndat_tracker_name(kd->tracker));
}

/* One write-protect cycle of N pages, the writes timed (us per page). */
static double wp_cycle_us(int uffd, volatile unsigned char *p, size_t n)
{
	struct uffdio_writeprotect wp = { { (unsigned long)p, n * PAGE_SIZE },
					  UFFDIO_WRITEPROTECT_MODE_WP };
	uint64_t t0;

	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		return -1;
	t0 = now_us();
	for (size_t i = 0; i < n; i++)
		p[i * PAGE_SIZE]++;
	return (double)(now_us() - t0) / n;
}

/* Measured, not assumed: the fault costs 2 us on one boot of this
 * machine and 15 on another (KERNEL.md).  The least of three cycles of
 * WP_FAULT_PAGES, so that a preemption does not count. */
#define WP_FAULT_PAGES 256

static double wp_fault_us(unsigned char *p, size_t len)
{
	const uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	struct uffdio_register reg = { { (unsigned long)p, len }, UFFDIO_REGISTER_MODE_WP, 0 };
	cleanup_close int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	double best = -1;

	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg))
		return -1;
	for (int i = 0; i < 3; i++) {
		double us = wp_cycle_us(uffd, p, len / PAGE_SIZE);

		if (us >= 0 && (best < 0 || us < best))
			best = us;
	}
	return best;
}

double track_wp_fault_us(void)
{
	const size_t len = WP_FAULT_PAGES * PAGE_SIZE;
	unsigned char *p = kd_map_anon(len);
	double us;

	if (!p)
		return -1;
	memset(p, 1, len);
	us = wp_fault_us(p, len);
	munmap(p, len);
	return us;
}
