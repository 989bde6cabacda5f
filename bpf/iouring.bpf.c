/* Kernel side of the io_uring reader: a task_file iterator, attached to
 * one process, that writes one struct iouring_rec per fd holding an
 * io_uring instance.  It gives what /proc/PID/fdinfo does not: the setup
 * flags and sizes, what was registered, and whether requests are still
 * held by the kernel (allocated requests not in the ring's cache). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "iouring.h"
#include "pidns.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline bool list_busy(struct list_head *h)
{
	return BPF_CORE_READ(h, next) != h;
}

static __u32 busy_bits(struct io_ring_ctx *ctx)
{
	__u32 b = 0;

	if (list_busy(&ctx->timeout_list))
		b |= IOURING_BUSY_TIMEOUT;
	if (list_busy(&ctx->ltimeout_list))
		b |= IOURING_BUSY_LTIMEOUT;
	if (list_busy(&ctx->defer_list))
		b |= IOURING_BUSY_DEFER;
	if (BPF_CORE_READ(ctx, iopoll_list.first))
		b |= IOURING_BUSY_IOPOLL;
	if (list_busy(&ctx->cq_overflow_list))
		b |= IOURING_BUSY_OVERFLOW;
	if (BPF_CORE_READ(ctx, work_llist.first))
		b |= IOURING_BUSY_WORK;
	if (BPF_CORE_READ(ctx, retry_llist.first))
		b |= IOURING_BUSY_RETRY;
	if (BPF_CORE_READ(ctx, futex_list.first))
		b |= IOURING_BUSY_FUTEX;
	if (BPF_CORE_READ(ctx, waitid_list.first))
		b |= IOURING_BUSY_WAITID;
	if (BPF_CORE_READ(ctx, cancelable_uring_cmd.first))
		b |= IOURING_BUSY_URING_CMD;
	return b;
}

static __u32 state_bits(struct io_ring_ctx *ctx)
{
	__u32 s = 0;

	if (BPF_CORE_READ_BITFIELD_PROBED(ctx, restricted))
		s |= IOURING_ST_RESTRICTED;
	if (BPF_CORE_READ(ctx, personalities.xa_head))
		s |= IOURING_ST_PERSONALITY;
	if (BPF_CORE_READ(ctx, io_bl_xa.xa_head))
		s |= IOURING_ST_PBUF;
	if (BPF_CORE_READ_BITFIELD_PROBED(ctx, iowq_limits_set))
		s |= IOURING_ST_IOWQ_LIMITS;
	/* IO_URING_NAPI_TRACKING_INACTIVE (255): not registered. */
	if (BPF_CORE_READ(ctx, napi_list.next) != &ctx->napi_list ||
	    BPF_CORE_READ(ctx, napi_track_mode) != 255)
		s |= IOURING_ST_NAPI;
	if (BPF_CORE_READ(ctx, param_region.ptr))
		s |= IOURING_ST_PARAM_REGION;
	if (BPF_CORE_READ(ctx, zcrx_ctxs.xa_head))
		s |= IOURING_ST_ZCRX;
	if (BPF_CORE_READ(ctx, file_alloc_start) ||
	    BPF_CORE_READ(ctx, file_alloc_end) != BPF_CORE_READ(ctx, file_table.data.nr))
		s |= IOURING_ST_FILE_RANGE;
	if (BPF_CORE_READ(ctx, clockid) != 1 /* CLOCK_MONOTONIC */)
		s |= IOURING_ST_CLOCK;
	return s;
}

struct walk {
	struct io_wq_work_node *n;
	__u32 nr;
};

static long walk_step(__u32 i, void *data)
{
	struct walk *w = data;
	struct io_wq_work_node *n = w->n;

	if (!n)
		return 1;
	w->nr++;
	w->n = BPF_CORE_READ(n, next);
	return 0;
}

/* The requests in the ring's cache: allocated, not in flight (bpf_loop:
 * a cache can hold as many requests as were ever in flight at once). */
static __u32 free_reqs(struct io_ring_ctx *ctx)
{
	struct walk w = { BPF_CORE_READ(ctx, submit_state.free_list.next), 0 };

	bpf_loop(IOURING_FREE_MAX, walk_step, &w, 0);
	return w.n ? IOURING_FREE_UNKNOWN : w.nr;
}

static __s32 reg_ring(struct task_struct *task, struct file *file)
{
	struct io_uring_task *tctx = BPF_CORE_READ(task, io_uring);
	struct file *f;
	int i;

	if (!tctx)
		return -1;
	for (i = 0; i < 16; i++) {
		f = BPF_CORE_READ(tctx, registered_rings[i]);
		if (f == file)
			return i;
	}
	return -1;
}

/* The name of every io_uring instance's file (anon_inode_getfile). */
static __always_inline bool is_io_uring(const char *n)
{
	const char want[] = "[io_uring]";
	int i;

	for (i = 0; i < (int)sizeof(want); i++)
		if (n[i] != want[i])
			return false;
	return true;
}

SEC("iter/task_file")
int iouring(struct bpf_iter__task_file *ctx)
{
	struct file *file = ctx->file;
	struct task_struct *task = ctx->task;
	struct iouring_rec r = {};
	struct io_ring_ctx *rc;
	struct task_struct *sub;
	struct io_ev_fd *ev;
	char name[12] = {};

	if (!task || !file)
		return 0;
	/* Only the files of the process's leader (its fd table: a thread
	 * with a table of its own is refused before). */
	if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0;
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	if (!is_io_uring(name))
		return 0;
	rc = BPF_CORE_READ(file, private_data);
	if (!rc)
		return 0;
	r.fd = ctx->fd;
	r.flags = BPF_CORE_READ(rc, flags);
	r.sq_entries = BPF_CORE_READ(rc, sq_entries);
	r.cq_entries = BPF_CORE_READ(rc, cq_entries);
	r.sq_thread_idle = BPF_CORE_READ(rc, sq_thread_idle);
	r.busy = busy_bits(rc);
	r.state = state_bits(rc);
	r.nr_files = BPF_CORE_READ(rc, file_table.data.nr);
	r.nr_bufs = BPF_CORE_READ(rc, buf_table.nr);
	r.nr_reqs = BPF_CORE_READ(rc, nr_req_allocated);
	r.free_reqs = free_reqs(rc);
	r.cached_sq_head = BPF_CORE_READ(rc, cached_sq_head);
	r.cached_cq_tail = BPF_CORE_READ(rc, cached_cq_tail);
	r.reg_ring = reg_ring(task, file);
	ev = BPF_CORE_READ(rc, io_ev_fd);
	r.evfd_id = ev ? BPF_CORE_READ(ev, cq_ev_fd, id) : -1;
	r.evfd_async = ev ? BPF_CORE_READ(ev, eventfd_async) : 0;
	r.evfd_last_tail = ev ? BPF_CORE_READ(ev, last_cq_tail) : 0;
	sub = BPF_CORE_READ(rc, submitter_task);
	r.submitter = sub ? reader_nr(BPF_CORE_READ(sub, thread_pid)) : 0;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
