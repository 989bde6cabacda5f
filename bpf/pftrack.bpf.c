/* Kernel side of the page-fault tracker: records the write faults of one
 * thread group (the target) per page, and per 10 ms bucket the pages that
 * became dirty since the last drain.  It sees a write only where the page
 * was write-protected (uffd-wp, soft-dirty clearing) or not populated: it
 * measures faults, it protects nothing.  It must stay cheap: it runs on
 * every page fault of the whole system. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "pftrack.h"

#define X86_PF_PROT (1UL << 0)
#define X86_PF_WRITE (1UL << 1)
#define EEXIST 17
#define PAGE_MASK (~4095ULL)

char LICENSE[] SEC("license") = "GPL";

/* Set before load; frozen, so the verifier drops the unused branch of
 * is_target(). */
const volatile struct pftrack_filter filter;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	/* Allocated on demand: an idle tracker costs no memory. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PFTRACK_MAX_PAGES);
	__type(key, __u64);
	__type(value, struct pftrack_page);
} pages SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PFTRACK_NR_BUCKETS);
	__type(key, __u32);
	__type(value, struct pftrack_bucket);
} rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PFTRACK_NR_TOTALS);
	__type(key, __u32);
	__type(value, struct pftrack_totals);
} totals SEC(".maps");

/* The helper compares the current task's active pid namespace with
 * filter.ns_dev/ns_ino and fails for a task of any other namespace. */
static __always_inline bool is_target(void)
{
	struct bpf_pidns_info ns;

	if (!filter.ns_ino)
		return (bpf_get_current_pid_tgid() >> 32) == filter.tgid;
	if (bpf_get_ns_current_pid_tgid(filter.ns_dev, filter.ns_ino, &ns, sizeof(ns)))
		return false;
	return ns.tgid == filter.tgid;
}

/* Counts a page new since the last drain in the bucket of NOW. */
static __always_inline void count_bucket(__u64 now)
{
	__u64 epoch = now / PFTRACK_BUCKET_NS;
	__u32 slot = epoch % PFTRACK_NR_BUCKETS;
	struct pftrack_bucket *b = bpf_map_lookup_elem(&rate, &slot);

	if (!b)
		return;
	/* Per-CPU and never preempted by itself: no atomics needed. */
	if (b->epoch != epoch) {
		b->epoch = epoch;
		b->new_pages = 0;
	}
	b->new_pages++;
}

enum page_result {
	PAGE_SEEN,	/* already recorded since the last drain */
	PAGE_NEW,
	PAGE_DROPPED,	/* map full */
};

static __always_inline enum page_result count_page(__u64 page, __u64 now, __u64 cycle)
{
	struct pftrack_page first = {
		.faults = 1,
		.cycles = cycle,
		.first_ns = now,
		.last_ns = now,
	};
	struct pftrack_page *p;
	long err;

	p = bpf_map_lookup_elem(&pages, &page);
	if (!p) {
		err = bpf_map_update_elem(&pages, &page, &first, BPF_NOEXIST);
		if (!err)
			return PAGE_NEW;
		if (err != -EEXIST)
			return PAGE_DROPPED;
		/* Another CPU inserted it first: count on its entry. */
		p = bpf_map_lookup_elem(&pages, &page);
		if (!p)
			return PAGE_DROPPED;
	}
	__sync_fetch_and_add(&p->faults, 1);
	if (cycle)
		__sync_fetch_and_add(&p->cycles, 1);
	p->last_ns = now;
	return PAGE_SEEN;
}

static __always_inline void record(unsigned long address, unsigned long error_code,
				   bool kernel_mode)
{
	/* A protection fault on a present page ends a write protection. */
	__u64 cycle = error_code & X86_PF_PROT ? 1 : 0;
	__u32 live = PFTRACK_TOTALS_LIVE;
	__u64 now = bpf_ktime_get_ns();
	struct pftrack_totals *t;
	enum page_result res;

	res = count_page(address & PAGE_MASK, now, cycle);
	if (res != PAGE_SEEN)
		count_bucket(now);
	t = bpf_map_lookup_elem(&totals, &live);
	if (!t)
		return;
	t->write_faults++;
	t->wp_faults += cycle;
	if (kernel_mode)
		t->kernel_faults++;
	if (res == PAGE_DROPPED)
		t->dropped++;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(pftrack_user, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	if ((error_code & X86_PF_WRITE) && is_target())
		record(address, error_code, false);
	return 0;
}

/* The kernel writing into the target's memory for it (read(2) into a
 * buffer, copy_to_user of syscall results) faults in kernel mode. */
SEC("tp_btf/page_fault_kernel")
int BPF_PROG(pftrack_kernel, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	/* User addresses only: the top bit is set for kernel ones. */
	if ((error_code & X86_PF_WRITE) && !(address >> 63) && is_target())
		record(address, error_code, true);
	return 0;
}
