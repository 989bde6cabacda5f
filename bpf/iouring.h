/* The record the io_uring reader (bpf/iouring.bpf.c) writes for each
 * io_uring instance a process holds at an fd, read by
 * criu-lite/files/io-uring.c.  Only fixed-width types: this header is
 * compiled both against vmlinux.h and against libc. */
#ifndef LMPROC_BPF_IOURING_H
#define LMPROC_BPF_IOURING_H

/* free_reqs when the request cache is longer than the reader walks. */
#define IOURING_FREE_UNKNOWN 0xffffffffU
/* The longest request cache walked (each node one read). */
#define IOURING_FREE_MAX (1U << 20)

/* busy bits: a list of the ring's that holds requests or completions. */
#define IOURING_BUSY_TIMEOUT (1U << 0)	 /* timeout_list */
#define IOURING_BUSY_LTIMEOUT (1U << 1)	 /* ltimeout_list */
#define IOURING_BUSY_DEFER (1U << 2)	 /* defer_list (IOSQE_IO_DRAIN) */
#define IOURING_BUSY_IOPOLL (1U << 3)	 /* iopoll_list */
#define IOURING_BUSY_OVERFLOW (1U << 4)	 /* cq_overflow_list */
#define IOURING_BUSY_WORK (1U << 5)	 /* work_llist (DEFER_TASKRUN) */
#define IOURING_BUSY_RETRY (1U << 6)	 /* retry_llist */
#define IOURING_BUSY_FUTEX (1U << 7)	 /* futex_list */
#define IOURING_BUSY_WAITID (1U << 8)	 /* waitid_list */
#define IOURING_BUSY_URING_CMD (1U << 9) /* cancelable_uring_cmd */

/* state bits: what the ring was given after its setup. */
#define IOURING_ST_RESTRICTED (1U << 0)	  /* IORING_REGISTER_RESTRICTIONS */
#define IOURING_ST_PERSONALITY (1U << 2)  /* IORING_REGISTER_PERSONALITY */
#define IOURING_ST_PBUF (1U << 3)	  /* IORING_REGISTER_PBUF_RING, provided buffers */
#define IOURING_ST_IOWQ_LIMITS (1U << 4)  /* IORING_REGISTER_IOWQ_MAX_WORKERS */
#define IOURING_ST_NAPI (1U << 5)	  /* IORING_REGISTER_NAPI */
#define IOURING_ST_PARAM_REGION (1U << 6) /* IORING_REGISTER_MEM_REGION */
#define IOURING_ST_ZCRX (1U << 7)	  /* IORING_REGISTER_ZCRX_IFQ */
#define IOURING_ST_FILE_RANGE (1U << 8)	  /* IORING_REGISTER_FILE_ALLOC_RANGE */
#define IOURING_ST_CLOCK (1U << 9)	  /* IORING_REGISTER_CLOCK */

struct iouring_rec {
	__u32 fd;
	__u32 flags; /* ctx->flags: IORING_SETUP_* */
	__u32 sq_entries;
	__u32 cq_entries;
	__u32 sq_thread_idle; /* in jiffies' milliseconds as the kernel keeps it */
	__u32 busy;	      /* IOURING_BUSY_* */
	__u32 state;	      /* IOURING_ST_* */
	__u32 nr_files;	      /* registered files' table */
	__u32 nr_bufs;	      /* registered buffers' table */
	__u32 nr_reqs;	      /* requests allocated, cached ones included */
	__u32 free_reqs;      /* requests in the cache, or IOURING_FREE_UNKNOWN */
	__u32 cached_sq_head;
	__u32 cached_cq_tail;
	__s32 reg_ring;	      /* its slot among the task's registered ring fds, or -1 */
	__s32 submitter;      /* SINGLE_ISSUER: the submitter's tid, or 0 */
	__s32 evfd_id;	      /* IORING_REGISTER_EVENTFD: its eventfd-id, or -1 */
	__u32 evfd_async;     /* ... with IORING_REGISTER_EVENTFD_ASYNC */
	__u32 evfd_last_tail; /* the CQ tail it was last signalled for */
	__u32 pad;
};

#endif
