/* The record the VMA iterator (bpf/vmaiter.bpf.c) writes for each mapping
 * of a task, read by criu-lite/mem/vma-iter.c.  Only fixed-width types:
 * this header is compiled both against vmlinux.h and against libc. */
#ifndef LMPROC_BPF_VMAITER_H
#define LMPROC_BPF_VMAITER_H

/* start and end of the record after the last mapping. */
#define VMAITER_END (~0ULL)

struct vmaiter_rec {
	__u64 start;
	__u64 end;
	__u64 flags;	/* vm_flags: the kernel's VM_* bits, not ABI */
	__u64 pgoff;	/* vm_pgoff, in pages */
	__u64 ino;	/* of the mapped file's inode, 0 without a file */
	__u32 dev;	/* its superblock's s_dev (MKDEV: major << 20 | minor) */
	__u32 pad;
};

#endif
