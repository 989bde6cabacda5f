/* Structures shared by the page-fault tracker's kernel side
 * (bpf/pftrack.bpf.c) and its user side (criu-lite/track/pftrack.c): map
 * values and the sizes both sides must agree on.  Only fixed-width types:
 * this header is compiled both against vmlinux.h and against libc. */
#ifndef LMPROC_BPF_PFTRACK_H
#define LMPROC_BPF_PFTRACK_H

/* Distinct pages recorded between two drains; faults on pages beyond
 * that are counted in pftrack_totals.dropped. */
#define PFTRACK_MAX_PAGES (1U << 20)

/* The dirty rate comes from per-CPU time buckets: bucket (ns / 10 ms)
 * modulo PFTRACK_NR_BUCKETS, so the last 5.12 s can be asked about. */
#define PFTRACK_BUCKET_NS (10ULL * 1000 * 1000)
#define PFTRACK_NR_BUCKETS 512

/* pftrack_totals slots: the program counts into LIVE; a drain copies the
 * sums into DRAINED, so the next drain reports the difference even when
 * it runs in another lmproc process (the maps outlive the process). */
#define PFTRACK_TOTALS_LIVE 0
#define PFTRACK_TOTALS_DRAINED 1
#define PFTRACK_NR_TOTALS 2

/* Which thread group the programs record (their .rodata, set before
 * load).  TGID is the target's tgid in its own (active) pid namespace.
 * NS_INO 0 means that namespace is the initial one, where the tgid
 * bpf_get_current_pid_tgid() gives is that tgid; otherwise
 * bpf_get_ns_current_pid_tgid() matches NS_DEV (the kernel's dev_t of
 * nsfs, MKDEV layout: major << 20 | minor) and NS_INO, the inode of
 * /proc/PID/ns/pid. */
struct pftrack_filter {
	__u64 ns_dev;
	__u64 ns_ino;
	__u32 tgid;
	__u32 pad;
};

/* Value of the "pages" hash map, keyed by page address (__u64). */
struct pftrack_page {
	/* Write faults of any kind: the first write to a protected page that
	 * is not present takes two (one maps it write-protected, one lifts
	 * the protection). */
	__u64 faults;
	/* Write faults on present write-protected pages: exactly one per
	 * protection cycle in which the page was written. */
	__u64 cycles;
	__u64 first_ns;	/* CLOCK_MONOTONIC of the first and last fault */
	__u64 last_ns;
};

/* Value of the per-CPU "rate" array. */
struct pftrack_bucket {
	__u64 epoch;		/* ns / PFTRACK_BUCKET_NS the count belongs to */
	__u64 new_pages;	/* pages that entered "pages" (or were dropped) */
};

/* Value of the per-CPU "totals" array. */
struct pftrack_totals {
	__u64 write_faults;	/* user- and kernel-mode write faults */
	__u64 wp_faults;	/* of which on present write-protected pages */
	__u64 kernel_faults;	/* of which the kernel faulted (copy_to_user) */
	__u64 dropped;		/* faults not recorded: "pages" was full */
	/* DRAINED slot, CPU 0 only, written by the user side: when the last
	 * drain (or the load) began the dirty set now in "pages"
	 * (CLOCK_MONOTONIC ns); the rate counts only from then on. */
	__u64 drained_ns;
};

#endif
