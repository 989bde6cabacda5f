/* The restorer's protocol: the layout of the area that lmproc
 * (criu-lite/restore-*.c) fills and the blob (pie/restorer.c) executes in.
 * Plain fixed-layout structs only: this header is compiled both with libc
 * and freestanding, so it may include nothing but <stdint.h>.
 *
 * The area is one MAP_SHARED anonymous mapping that lmproc creates before
 * it forks the task, at an address free both in lmproc and in the dumped
 * layout, so the task inherits it at the same place and lmproc keeps
 * seeing the status words the task writes:
 *   [0, blob size)              the blob (code, data, bss)
 *   struct restorer_args        page aligned, after the blob
 *   tables                      the arrays the args point to
 *   thread stacks               RESTORER_THREAD_STACK_SIZE per thread but the main
 *   helper stack                RESTORER_STACK_SIZE, if a fill helper runs
 *   stack                       RESTORER_STACK_SIZE, at the end
 * Every pointer in the args is an absolute address inside the area. */
#ifndef LMPROC_RESTORER_H
#define LMPROC_RESTORER_H

#include <stdint.h>

#define RESTORER_MAGIC 0x4c4d5253u /* "LMRS" */
#define RESTORER_STACK_SIZE (64u << 10)
/* The other threads only run restorer_thread(): a few system calls. */
#define RESTORER_THREAD_STACK_SIZE (16u << 10)
/* Ranges the restorer keeps while it unmaps the rest: the area itself,
 * lmproc's [vvar], [vvar_vclock], [vdso] and the premap area. */
#define RESTORER_MAX_KEEP 5
#define RESTORER_MAX_SPECIAL 3
/* Words of auxv; the kernel keeps fewer (AT_VECTOR_SIZE) and says EINVAL
 * for more. */
#define RESTORER_MAX_AUXV 128
/* Rounds of an iterative dump the pages may come from: the dump and its
 * pre-dumps (track-round.c allows as many). */
#define RESTORER_MAX_LEVELS 64
/* Ranges of guard pages of one process (mem.c dumps at most as many). */
#define RESTORER_MAX_GUARDS 65536

enum restorer_status {
	RESTORER_RUNNING = 0,
	RESTORER_DONE = 1,
	RESTORER_FAILED = 2,
};

/* The step that failed, for lmproc's error message. */
enum restorer_step {
	RST_STEP_NONE = 0,
	RST_STEP_UNMAP,
	RST_STEP_VDSO,
	RST_STEP_MAP,
	RST_STEP_POPULATE,
	RST_STEP_READ,
	RST_STEP_PROTECT,
	RST_STEP_MADVISE,
	RST_STEP_CLOSE,
	RST_STEP_MM_MAP,
	RST_STEP_RSEQ,
	RST_STEP_SIGACTION,
	RST_STEP_SIGQUEUE,
	RST_STEP_FAULT,
	RST_STEP_STOP,
	RST_STEP_CLONE,
	RST_STEP_ROBUST,
	RST_STEP_ALTSTACK,
	RST_STEP_COMM,
	RST_STEP_LOCK,
	RST_STEP_SCHED,
	RST_STEP_AFFINITY,
	RST_STEP_TIMERSLACK,
	RST_STEP_IOPRIO,
	RST_STEP_NO_NEW_PRIVS,
	RST_STEP_PDEATHSIG,
	RST_STEP_RLIMIT,
	RST_STEP_DUMPABLE,
	RST_STEP_SUBREAPER,
	RST_STEP_ITIMER,
	RST_STEP_POSIX_TIMER,
	RST_STEP_GROUPS,
	RST_STEP_GIDS,
	RST_STEP_UIDS,
	RST_STEP_BSET,
	RST_STEP_CAPS,
	RST_STEP_AMBIENT,
	RST_STEP_SECBITS,
	RST_STEP_MLOCK,
	RST_STEP_THP,
	RST_STEP_MSEAL,
	RST_STEP_GUARD,
	RST_STEP_FOWN,
	RST_STEP_AIO,
};

/* madvise() hints a VMA gets back (from its smaps VmFlags). */
enum restorer_madv {
	RST_MADV_DONTFORK = 1 << 0,   /* dc */
	RST_MADV_WIPEONFORK = 1 << 1, /* wf */
	RST_MADV_DONTDUMP = 1 << 2,   /* dd */
	RST_MADV_HUGEPAGE = 1 << 3,   /* hg */
	RST_MADV_NOHUGEPAGE = 1 << 4, /* nh */
	RST_MADV_MERGEABLE = 1 << 5,  /* mg */
	RST_MADV_RANDOM = 1 << 6,     /* rr */
	RST_MADV_SEQUENTIAL = 1 << 7, /* sr */
};

/* What else a VMA gets back, in the same word as its madvise hints
 * (criu-lite/mem/mm-attrs.c decides). */
enum restorer_vma_attr {
	RST_VMA_LOCK = 1 << 16,	       /* lo: mlock2() once filled */
	RST_VMA_LOCK_ONFAULT = 1 << 17, /* lf: ... with MLOCK_ONFAULT */
	RST_VMA_SEAL = 1 << 18,	       /* sl: mseal(), last of all */
	RST_VMA_ACCOUNT = 1 << 19,     /* ac: mapped writable first, so it is accounted */
	/* Not accounted and read-only, with pages to fill: filled through
	 * /proc/self/mem, as a debugger's (or the parasite's) write made them. */
	RST_VMA_FORCE_FILL = 1 << 20,
	/* Anonymous, accounted, not writable and with no page to fill: the
	 * kernel drops the accounting of an anonymous VMA made read-only
	 * before it has an anon_vma, so one page is faulted in and
	 * discarded first. */
	RST_VMA_ANON_VMA = 1 << 21,
};

struct restorer_range {
	uint64_t start;
	uint64_t end;
};

struct restorer_vma {
	uint64_t start;
	uint64_t end;
	uint64_t pgoff;	   /* bytes */
	uint32_t prot;	   /* final PROT_* */
	uint32_t map_prot; /* while pages are filled (prot | PROT_WRITE) */
	uint32_t flags;	   /* MAP_PRIVATE/MAP_SHARED, MAP_ANONYMOUS, MAP_GROWSDOWN... */
	int32_t fd;	   /* the file's service fd, or -1 */
	uint32_t madv;	   /* enum restorer_madv and enum restorer_vma_attr bits */
	int32_t shmid;	   /* SysV segment to attach at start instead, or -1 */
	/* A ring of the io_uring instance at fd, which the kernel maps only
	 * where it chooses (restorer-io-uring.c). */
	uint32_t io_uring;
	/* Not 0: the VMA is already filled at this address (the premap
	 * area, mem-cow.c) and is moved to start with mremap, its pages
	 * (shared with parent or children) as they are. */
	uint64_t premap;
};

/* Runs of pages to fill, iovecs [iov, iov + nr_iov): each is made present
 * with MADV_POPULATE_WRITE, then all are read from the pages image of
 * round LEVEL (0: the dump, 1: its previous round...) at offset off in one
 * preadv().  All of [start, end) lies inside vma. */
struct restorer_batch {
	uint64_t start;
	uint64_t end;
	uint32_t iov;
	uint32_t nr_iov;
	uint32_t vma;
	uint32_t level;
	uint64_t bytes;
	uint64_t off;
	uint32_t force; /* its VMA is RST_VMA_FORCE_FILL */
	uint32_t pad;
};

/* What one filling thread reports. */
struct restorer_fill_result {
	volatile int32_t err;
	volatile uint32_t step;
	volatile uint64_t index;
	volatile uint64_t pages;
};

/* struct iovec, without <sys/uio.h>. */
struct restorer_iovec {
	uint64_t base;
	uint64_t len;
};

/* A POSIX lock the process held (F_RDLCK or F_WRLCK; len 0: to the end):
 * taken after the service fds are closed, since closing any fd of a file
 * drops the process's POSIX locks on it. */
struct restorer_lock {
	int32_t fd;
	int32_t type;
	uint64_t start;
	uint64_t len;
};

/* An open file description's owner for signal-driven I/O (F_SETOWN_EX's
 * type and pid, set as uid and euid: the kernel keeps who set it), its
 * signal (F_SETSIG, 0: SIGIO) and O_ASYNC, set through fd (fown.c). */
struct restorer_fown {
	int32_t fd;
	uint32_t type;
	int32_t pid;
	uint32_t sig;
	uint32_t uid;
	uint32_t euid;
	uint32_t async;
	uint32_t pad;
};

/* The kernel's struct sigaction on x86-64 (8-byte sigset). */
struct restorer_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct restorer_siginfo {
	uint8_t info[128];
	uint32_t sig;
	uint32_t shared; /* process queue rather than the thread's */
};

/* include/uapi/linux/sched/types.h struct sched_attr (SCHED_ATTR_SIZE_VER0). */
struct restorer_sched_attr {
	uint32_t size;
	uint32_t policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime;
	uint64_t deadline;
	uint64_t period;
};

#define RESTORER_CPUMASK_BYTES 128

struct restorer_thread_attrs {
	struct restorer_sched_attr sched;
	uint64_t timerslack_ns;
	uint32_t pdeathsig;
	uint32_t no_new_privs;
	uint32_t cpumask_len;
	uint32_t ioprio; /* 0: none set (IOPRIO_CLASS_NONE) */
	uint8_t cpumask[RESTORER_CPUMASK_BYTES];
};

/* A thread's credentials, set last of all by the thread itself. */
struct restorer_creds {
	uint32_t uids[4]; /* real, effective, saved, fs */
	uint32_t gids[4];
	uint64_t cap_eff;
	uint64_t cap_prm;
	uint64_t cap_inh;
	uint64_t cap_bnd;
	uint64_t cap_amb;
	uint32_t secbits;
	uint32_t nr_groups;
	uint64_t groups; /* uint32_t[nr_groups] in the area */
};

/* struct itimerval. */
struct restorer_itimer {
	uint64_t interval_sec;
	uint64_t interval_usec;
	uint64_t value_sec;
	uint64_t value_usec;
};

/* A POSIX timer: its id, clock, struct sigevent (64 bytes) and the
 * struct itimerspec it is armed with. */
struct restorer_posix_timer {
	int32_t id;
	int32_t clock_id;
	uint64_t sival;
	int32_t signo;
	int32_t notify;
	int32_t notify_tid;
	int32_t sigev_pad[11];
	uint64_t interval_sec;
	uint64_t interval_nsec;
	uint64_t value_sec;
	uint64_t value_nsec;
};

/* An AIO ring made again (criu-lite/mem/aio.c, pie/restorer-aio.c):
 * io_setup(nr_req) gives a ring of nr events, which gets the dumped head
 * and tail, the events of the len bytes at data, and moves to addr. */
struct restorer_aio_ring {
	uint64_t addr;
	uint64_t len;
	uint64_t data;
	uint32_t nr_req;
	uint32_t nr;
	uint32_t head;
	uint32_t tail;
};

/* What one thread sets up itself: threads[0] is the main thread, which
 * the restorer runs in; every other one is created by it with clone3 and
 * its tid, on a stack of its own in the area, and parks when done. */
struct restorer_thread {
	uint32_t tid;
	uint32_t has_rseq;
	uint64_t rseq_ptr;
	uint32_t rseq_size;
	uint32_t rseq_sig;
	uint64_t clear_child_tid; /* 0: none */
	uint64_t robust_head;
	uint64_t robust_len; /* 0: no robust list */
	uint64_t ss_sp;
	uint64_t ss_size;
	uint32_t ss_flags;
	uint32_t has_altstack;
	/* Its queued signals: siginfos[first_sig, first_sig + nr_sigs). */
	uint32_t first_sig;
	uint32_t nr_sigs;
	char comm[16];	    /* "": left as it is */
	struct restorer_thread_attrs attrs;
	struct restorer_creds creds;
	uint64_t stack_top; /* clones only */
	uint64_t args;	    /* struct restorer_args *, for the clone */
	/* Written by the thread. */
	volatile int32_t err;
	volatile uint32_t step;
	volatile uint64_t index;
	/* Never set: the word a done clone waits on until lmproc takes it. */
	volatile uint32_t park;
	uint32_t pad;
};

/* include/uapi/linux/prctl.h struct prctl_mm_map, field for field. */
struct restorer_mm_map {
	uint64_t start_code;
	uint64_t end_code;
	uint64_t start_data;
	uint64_t end_data;
	uint64_t start_brk;
	uint64_t brk;
	uint64_t start_stack;
	uint64_t arg_start;
	uint64_t arg_end;
	uint64_t env_start;
	uint64_t env_end;
	uint64_t auxv;
	uint32_t auxv_size;
	uint32_t exe_fd;
};

struct restorer_args {
	uint32_t magic;
	/* Written by the task, read by lmproc. */
	volatile int32_t status;       /* enum restorer_status */
	volatile int32_t err;	       /* negative errno of the failed step */
	volatile uint32_t step;	       /* enum restorer_step */
	volatile uint64_t err_index;   /* vma, batch, signal... of the failed step */
	volatile uint64_t t_entry_ns;  /* CLOCK_MONOTONIC at restorer entry */
	volatile uint64_t t_filled_ns; /* ... once the pages are in */
	volatile uint64_t t_done_ns;
	volatile uint64_t pages_restored;
	/* Pages the task filled into its premap slots before its fork
	 * (mem-cow.c): written by the task, read by lmproc. */
	volatile uint64_t pages_premapped;
	/* Set by the task before it jumps here, if its libc-side setup
	 * failed: one line for lmproc to print. */
	char child_err[256];
	/* lmproc wakes the task (futex, shared) once it has seized it. */
	volatile uint32_t go;
	/* The root's only: --pidns's init has dropped its PR_SET_PDEATHSIG
	 * (from then on it outlives lmproc); lmproc waits for it before
	 * the hand-over. */
	volatile uint32_t init_free;
	/* The root's only, set before go: --grace lets the tree run while
	 * lmproc may still kill it all, so the init keeps its
	 * PR_SET_PDEATHSIG (lmproc's death takes the namespace along) until
	 * lmproc clears this. */
	volatile uint32_t init_hold;
	/* The task is set up (its children forked) and waits for go. */
	volatile uint32_t ready;
	uint32_t stop_sig; /* raised to hand control back to lmproc */

	uint64_t area_start;
	uint64_t area_size;

	uint32_t nr_keep;
	uint32_t nr_special;
	struct restorer_range keep[RESTORER_MAX_KEEP];
	/* Everything below unmap_end that is not kept is unmapped. */
	uint64_t unmap_end;
	/* lmproc's vvar/vvar_vclock/vdso, moved all together by each
	 * non-zero delta in turn: two moves (through a free place) when the
	 * old and the new block overlap. */
	struct restorer_range special[RESTORER_MAX_SPECIAL];
	int64_t vdso_moves[2];
	/* The tree's premap area (mem-cow.c), kept by the unmapping and
	 * unmapped once the VMAs with a premap slot are moved out of it;
	 * start 0: none. */
	struct restorer_range premap_area;

	uint64_t vmas;	    /* struct restorer_vma[nr_vmas] */
	uint64_t batches;   /* struct restorer_batch[nr_batches] */
	uint64_t iovs;	    /* struct restorer_iovec[] */
	uint64_t siginfos;  /* struct restorer_siginfo[nr_siginfos] */
	uint64_t close_fds; /* int32_t[nr_close_fds]: service fds */
	uint64_t locks;	    /* struct restorer_lock[nr_locks] */
	uint64_t guards;    /* struct restorer_range[nr_guards]: MADV_GUARD_INSTALL */
	uint64_t fowns;	    /* struct restorer_fown[nr_fowns] */
	uint32_t nr_fowns;
	uint32_t nr_guards;
	uint32_t nr_locks;
	uint32_t nr_vmas;
	uint32_t nr_batches;
	uint32_t nr_siginfos;
	uint32_t nr_close_fds;
	int32_t pages_fds[RESTORER_MAX_LEVELS];
	uint32_t nr_levels;
	/* Batches [helper_from, nr_batches) are filled by a second thread on
	 * a stack of its own, the rest by the restorer (helper_from ==
	 * nr_batches: no helper). */
	uint32_t helper_from;
	uint64_t helper_stack;	      /* top of its RESTORER_STACK_SIZE */
	volatile uint32_t helper_tid; /* cleared by the kernel at its exit */
	struct restorer_fill_result helper;

	struct restorer_mm_map mm_map;
	uint64_t auxv[RESTORER_MAX_AUXV];

	uint64_t threads; /* struct restorer_thread[nr_threads] */
	uint32_t nr_threads;
	/* The clones wait for it before they set themselves up (after the
	 * memory is in place), and count themselves done in threads_ready. */
	volatile uint32_t threads_go;
	volatile uint32_t threads_ready;
	volatile uint32_t err_thread; /* the failed step's thread (index) */

	/* Signals 1..64 at index sig - 1; SIGKILL and SIGSTOP are skipped. */
	struct restorer_sigaction sigactions[64];

	/* What the process shares, set after every thread is done. */
	struct restorer_rlimit {
		uint64_t cur;
		uint64_t max;
	} rlimits[16];
	uint32_t dumpable;
	uint32_t child_subreaper;
	uint32_t cap_last_cap;
	uint32_t nr_posix_timers;
	uint64_t posix_timers; /* struct restorer_posix_timer[], ascending ids */
	uint32_t timer_ids_by_trial; /* fault injection: as without the prctl */
	uint32_t pad2;
	struct restorer_itimer itimers[3]; /* ITIMER_REAL, VIRTUAL, PROF */

	uint32_t fail_at_end; /* fault injection: report failure */

	/* The mm's memory attributes (criu-lite/mem/mm-attrs.c). */
	uint32_t thp_disable;	 /* PR_GET_THP_DISABLE's value: 0, 1 or 3 */
	uint32_t mlockall_flags; /* MCL_FUTURE [| MCL_ONFAULT], or 0 */
	int32_t mem_fd;		 /* /proc/self/mem while RST_VMA_FORCE_FILL pages go in */
	/* The task's /proc (O_PATH), opened before its root changed (a
	 * chroot hides /proc); the restorer closes it. */
	int32_t proc_fd;

	uint32_t nr_aio_rings;
	uint32_t pad_aio;
	uint64_t aio_rings; /* struct restorer_aio_ring[nr_aio_rings] */
};

#endif
