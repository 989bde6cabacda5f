/* The records of the kernel-state iterators (bpf/kstate.bpf.c), read by
 * criu-lite/task/kstate-iter.c: what no /proc file, fcntl or sockopt
 * shows of a task's files and AIO contexts.  Only fixed-width types:
 * this header is compiled both against vmlinux.h and against libc. */
#ifndef LMPROC_BPF_KSTATE_H
#define LMPROC_BPF_KSTATE_H

/* A count that could not be read. */
#define KSTATE_UNKNOWN 0xffffffffU

/* fd of the record after the last file. */
#define KSTATE_FILE_END 0xffffffffU

/* One per fd of the task (task_file iterator). */
struct kstate_file_rec {
	__u32 fd;
	__u32 tgid;		/* the task the fd was found through */
	/* The signal-driven I/O owner (F_SETOWN): its struct pid's number
	 * in the initial pid namespace, 0 for none, and pid_type
	 * (PIDTYPE_PID 0: a thread, PIDTYPE_TGID 1: a process,
	 * PIDTYPE_PGID 2: a group). */
	__u32 owner_pid;
	__u32 owner_type;
	/* A packet socket in a fanout group: its max_num_members, else 0. */
	__u32 fanout_max;
	/* The owner's struct pid still has a task (a thread that lives). */
	__u32 owner_live;
	/* A UDP or UDP-Lite socket: KSTATE_UDP_SEEN and which coverage
	 * options a setsockopt() set (KSTATE_UDPLITE_*_CC), even to 0,
	 * which getsockopt() can't tell from never set; else 0. */
	__u32 udp_flags;
};

#define KSTATE_UDP_SEEN 1u
#define KSTATE_UDPLITE_SEND_CC 2u
#define KSTATE_UDPLITE_RECV_CC 4u

/* The AIO context behind the ring mapped at ring_addr (task_vma
 * iterator): fs/aio.c keeps nr_events - 1 requests in four counts, so
 * the requests in flight are nr_events - 1 - avail - avail_cpus -
 * completed. */
struct kstate_aio_rec {
	__u64 ring_addr;	/* 0: no context there */
	__u32 nr_events;
	__u32 avail;		/* reqs_available */
	__u32 avail_cpus;	/* the per-CPU caches' reqs_available, summed,
				 * or KSTATE_UNKNOWN */
	__u32 completed;	/* completed_events not given back yet */
};

#endif
