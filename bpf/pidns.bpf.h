/* For the iterators that report pids: a struct pid's number in the pid
 * namespace of the process reading the iterator (lmproc), which compares
 * it with the pids it sees; task->pid and numbers[0] are the initial
 * namespace's, other numbers when lmproc runs in a pid namespace of its
 * own (a container, the suite's unshare).  Include after vmlinux.h and
 * bpf_helpers.h. */
#ifndef LMPROC_PIDNS_BPF_H
#define LMPROC_PIDNS_BPF_H

/* P's number at the reader's level, 0 if it has none there. */
static __always_inline __u32 reader_nr(struct pid *p)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	unsigned int level = 0, own = 0;
	struct pid *cp = NULL;
	__u32 nr = 0;

	if (!p || bpf_probe_read_kernel(&cp, sizeof(cp), &cur->thread_pid) || !cp ||
	    bpf_probe_read_kernel(&own, sizeof(own), &cp->level) ||
	    bpf_probe_read_kernel(&level, sizeof(level), &p->level) || level < own)
		return 0;
	bpf_probe_read_kernel(&nr, sizeof(nr), &p->numbers[own].nr);
	return nr;
}

#endif
