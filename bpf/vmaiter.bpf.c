/* Kernel side of the VMA reader: a task_vma iterator, attached to one
 * task, that writes one struct vmaiter_rec per mapping.  It gives what
 * /proc/PID/smaps gives only after walking every mapping's page tables
 * (the VmFlags line), without walking them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "vmaiter.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the reader: mappings below are left out (a single mapping is
 * asked for by its address). */
__u64 min_start;

SEC("iter/task_vma")
int vmaiter(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct task_struct *task = ctx->task;
	struct vmaiter_rec r = {};
	struct file *file;

	/* The call after the last mapping: the end marker. */
	if (!vma) {
		r.start = r.end = VMAITER_END;
		bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
		return 0;
	}
	if (!task || vma->vm_start < min_start)
		return 0;
	r.start = vma->vm_start;
	r.end = vma->vm_end;
	r.flags = vma->vm_flags;
	r.pgoff = vma->vm_pgoff;
	file = vma->vm_file;
	if (file) {
		r.ino = file->f_inode->i_ino;
		r.dev = file->f_inode->i_sb->s_dev;
	}
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
