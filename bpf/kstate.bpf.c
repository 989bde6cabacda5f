/* Kernel side of the kernel-state readers (criu-lite/task/kstate-iter.c):
 * a task_file iterator writing, per fd, the owner struct pid behind
 * F_SETOWN (which F_GETOWN_EX shows as 0 for a thread that is not a
 * leader, owned with F_SETOWN) and a packet socket's fanout group size
 * limit (max_num_members, in no sockopt or sock_diag answer); a task_vma
 * iterator writing the request counts of the AIO context behind the ring
 * mapped at one address. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kstate.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_PACKET 17
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define MAX_CPUS 256

/* Set by the reader: the AIO ring asked for, the possible CPUs and each
 * one's per-CPU area offset (__per_cpu_offset, which no kernel symbol
 * gives here: learnt from the CPUs' runqueues, rqiter). */
__u64 aio_addr;
__u32 nr_cpus;
__u64 cpu_off[MAX_CPUS];

static __u32 fanout_max(struct file *file)
{
	struct packet_fanout *f = NULL;
	struct socket *sock;
	struct sock *sk = NULL;
	__u16 family = 0;
	__u32 max = 0;

	if ((file->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return 0;
	sock = file->private_data;
	if (!sock || bpf_probe_read_kernel(&sk, sizeof(sk), &sock->sk) || !sk)
		return 0;
	bpf_probe_read_kernel(&family, sizeof(family), &sk->__sk_common.skc_family);
	if (family != AF_PACKET)
		return 0;
	bpf_probe_read_kernel(&f, sizeof(f), &((struct packet_sock *)sk)->fanout);
	if (f)
		bpf_probe_read_kernel(&max, sizeof(max), &f->max_num_members);
	return max;
}

SEC("iter/task_file")
int fileiter(struct bpf_iter__task_file *ctx)
{
	struct kstate_file_rec r = {};
	struct task_struct *task = ctx->task;
	struct fown_struct *fo;
	struct file *file = ctx->file;
	struct pid *pid;

	if (!task) {
		r.fd = KSTATE_FILE_END;
		bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
		return 0;
	}
	if (!file)
		return 0;
	r.fd = ctx->fd;
	r.tgid = task->tgid;
	fo = file->f_owner;
	if (fo) {
		pid = fo->pid;
		r.owner_type = fo->pid_type;
		if (pid) {
			void *first = NULL;

			bpf_probe_read_kernel(&r.owner_pid, sizeof(r.owner_pid), &pid->numbers[0].nr);
			bpf_probe_read_kernel(&first, sizeof(first), &pid->tasks[PIDTYPE_PID].first);
			r.owner_live = !!first;
		}
	}
	r.fanout_max = fanout_max(file);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

static __u32 avail_cpus(struct kioctx *ctx)
{
	struct kioctx_cpu *pcpu = NULL;
	__u32 sum = 0, v;

	bpf_probe_read_kernel(&pcpu, sizeof(pcpu), &ctx->cpu);
	for (__u32 cpu = 0; cpu < MAX_CPUS && cpu < nr_cpus; cpu++) {
		v = 0;
		if (pcpu)
			bpf_probe_read_kernel(&v, sizeof(v), (void *)pcpu + cpu_off[cpu]);
		sum += v;
	}
	return sum;
}

/* Each task's runqueue (its CPU's, an address in that CPU's per-CPU
 * area): the reader subtracts the runqueues variable's offset. */
SEC("iter/task")
int rqiter(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct kstate_rq_rec r = {};
	struct cfs_rq *cfs;
	struct rq *rq = NULL;

	if (!task)
		return 0;
	cfs = task->se.cfs_rq;
	if (!cfs || bpf_probe_read_kernel(&rq, sizeof(rq), &cfs->rq) || !rq)
		return 0;
	r.rq = (__u64)rq;
	bpf_probe_read_kernel(&r.cpu, sizeof(r.cpu), &rq->cpu);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

SEC("iter/task_vma")
int aioiter(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct kstate_aio_rec r = {};
	struct kioctx *kctx = NULL;
	struct file *file;

	if (!vma || !ctx->task || vma->vm_start != aio_addr)
		return 0;
	file = vma->vm_file;
	if (!file)
		return 0;
	kctx = file->f_mapping->i_private_data;
	if (!kctx)
		return 0;
	r.ring_addr = vma->vm_start;
	bpf_probe_read_kernel(&r.nr_events, sizeof(r.nr_events), &kctx->nr_events);
	bpf_probe_read_kernel(&r.avail, sizeof(r.avail), &kctx->reqs_available);
	bpf_probe_read_kernel(&r.completed, sizeof(r.completed), &kctx->completed_events);
	r.avail_cpus = avail_cpus(kctx);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
