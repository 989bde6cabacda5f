/* Kernel side of the kernel-state readers (criu-lite/task/kstate-iter.c):
 * a task_file iterator writing, per fd, the owner struct pid behind
 * F_SETOWN (which F_GETOWN_EX shows as 0 for a thread that is not a
 * leader, owned with F_SETOWN) and a packet socket's fanout group size
 * limit (max_num_members, in no sockopt or sock_diag answer) and a UDP
 * or UDP-Lite socket's coverage flags (whether UDPLITE_SEND_CSCOV and
 * UDPLITE_RECV_CSCOV were set, even to 0); a task_vma
 * iterator writing the request counts of the AIO context behind the ring
 * mapped at one address (its per-CPU caches read at each CPU's per-CPU
 * offset, learnt from a per-CPU map's own element). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kstate.h"
#include "pidns.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_PACKET 17
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define MAX_CPUS 256

/* Set by the reader: the AIO ring asked for, and the possible CPUs. */
__u64 aio_addr;
__u32 nr_cpus;

/* A per-CPU array of one element: its element's address on each CPU less
 * the per-CPU pointer the map holds is that CPU's per-CPU area offset
 * (__per_cpu_offset, which no symbol gives without CONFIG_KALLSYMS_ALL). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} pcpu_probe SEC(".maps");

/* CPU's per-CPU offset into *OFF: 0, or -1 if it can't be known. */
static int cpu_offset(__u32 cpu, __u64 *off)
{
	void *map = &pcpu_probe, *v;
	__u64 addr = 0, pptr = 0, elem = 0;
	__u32 key = 0;

	v = bpf_map_lookup_percpu_elem(&pcpu_probe, &key, cpu);
	/* The addresses as numbers (the verifier refuses arithmetic on a
	 * map's pointer), then the bpf_array's first per-CPU pointer. */
	if (!v || bpf_probe_read_kernel(&addr, sizeof(addr), &map) ||
	    bpf_probe_read_kernel(&elem, sizeof(elem), &v) ||
	    bpf_probe_read_kernel(&pptr, sizeof(pptr),
				  (void *)(addr + __builtin_offsetof(struct bpf_array, pptrs))) ||
	    !pptr)
		return -1;
	*off = elem - pptr;
	return 0;
}

/* FILE's socket, or NULL; its family into *FAMILY. */
static struct sock *file_sock(struct file *file, __u16 *family)
{
	struct socket *sock;
	struct sock *sk = NULL;

	if ((file->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = file->private_data;
	if (!sock || bpf_probe_read_kernel(&sk, sizeof(sk), &sock->sk) || !sk)
		return NULL;
	*family = 0;
	bpf_probe_read_kernel(family, sizeof(*family), &sk->__sk_common.skc_family);
	return sk;
}

static __u32 fanout_max(struct file *file)
{
	struct packet_fanout *f = NULL;
	__u16 family = 0;
	struct sock *sk = file_sock(file, &family);
	__u32 max = 0;

	if (!sk || family != AF_PACKET)
		return 0;
	bpf_probe_read_kernel(&f, sizeof(f), &((struct packet_sock *)sk)->fanout);
	if (f)
		bpf_probe_read_kernel(&max, sizeof(max), &f->max_num_members);
	return max;
}

/* The udp_sock's flags behind UDPLITE_*_CSCOV: set by a setsockopt()
 * even to 0, when getsockopt() reads 0 whether set or not, and a
 * receiver with UDPLITE_RECV_CSCOV set to 0 drops partial coverage. */
static __u32 udp_flags(struct file *file)
{
	__u16 family = 0, type = 0, proto = 0;
	struct sock *sk = file_sock(file, &family);
	unsigned long flags = 0;
	__u32 r = KSTATE_UDP_SEEN;

	if (!sk || (family != AF_INET && family != AF_INET6))
		return 0;
	bpf_probe_read_kernel(&type, sizeof(type), &sk->sk_type);
	bpf_probe_read_kernel(&proto, sizeof(proto), &sk->sk_protocol);
	if (type != SOCK_DGRAM || (proto != IPPROTO_UDP && proto != IPPROTO_UDPLITE) ||
	    bpf_probe_read_kernel(&flags, sizeof(flags), &((struct udp_sock *)sk)->udp_flags))
		return 0;
	if (flags & (1UL << UDP_FLAGS_UDPLITE_SEND_CC))
		r |= KSTATE_UDPLITE_SEND_CC;
	if (flags & (1UL << UDP_FLAGS_UDPLITE_RECV_CC))
		r |= KSTATE_UDPLITE_RECV_CC;
	return r;
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
	r.tgid = reader_nr(task->group_leader->thread_pid);
	fo = file->f_owner;
	if (fo) {
		pid = fo->pid;
		r.owner_type = fo->pid_type;
		if (pid) {
			void *first = NULL;

			r.owner_pid = reader_nr(pid);
			bpf_probe_read_kernel(&first, sizeof(first), &pid->tasks[PIDTYPE_PID].first);
			r.owner_live = !!first;
		}
	}
	r.fanout_max = fanout_max(file);
	r.udp_flags = udp_flags(file);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/* The per-CPU caches' reqs_available, summed; -1 if one can't be read. */
static long avail_cpus(struct kioctx *ctx)
{
	struct kioctx_cpu *pcpu = NULL;
	__u64 off;
	long sum = 0;
	__u32 v;

	if (bpf_probe_read_kernel(&pcpu, sizeof(pcpu), &ctx->cpu) || !pcpu)
		return -1;
	for (__u32 cpu = 0; cpu < MAX_CPUS && cpu < nr_cpus; cpu++) {
		if (cpu_offset(cpu, &off) ||
		    bpf_probe_read_kernel(&v, sizeof(v), (void *)pcpu + off))
			return -1;
		sum += v;
	}
	return sum;
}

SEC("iter/task_vma")
int aioiter(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct kstate_aio_rec r = {};
	struct kioctx *kctx = NULL;
	struct file *file;
	long cpus;

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
	cpus = avail_cpus(kctx);
	r.avail_cpus = cpus < 0 ? KSTATE_UNKNOWN : cpus;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
