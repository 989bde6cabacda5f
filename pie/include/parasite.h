/* The parasite's protocol: the shared area layout and the messages that
 * lmproc (criu-lite/infect/infect.c) and the blob (pie/parasite.c) exchange.
 * Plain fixed-layout structs only: this header is compiled both with libc
 * and freestanding, so it may include nothing but <stdint.h>.
 *
 * The memfd, mapped in the target (lmproc reads and writes it with
 * pread/pwrite through its own fd, at the same offsets):
 *   [0, PARASITE_AREA_OFF)                     the blob (code, data, bss)
 *   [PARASITE_AREA_OFF, +PARASITE_AREA_SIZE)   struct parasite_area
 *   [PARASITE_STACK_OFF, +PARASITE_STACK_SIZE) the parasite's stack
 *   [PARASITE_FRAME_OFF, end of the mapping)   struct parasite_sigframe
 *                                              and the FPU state after it
 * It is kept small because the target maps it with MAP_POPULATE: page
 * faults cost far more than populating here (KERNEL.md).
 *
 * Commands and replies travel over a SOCK_SEQPACKET unix socket (one
 * message each, so no framing); bulk data (sigactions, iovecs) lives in
 * the area.  lmproc writes the bulk input before sending a command and
 * reads the bulk output only after the reply: the socket orders it. */
#ifndef LMPROC_PARASITE_H
#define LMPROC_PARASITE_H

#include <stdint.h>

#define PARASITE_MAGIC 0x4c4d5041u /* "LMPA" */

enum parasite_cmd_nr {
	PARASITE_CMD_DUMP_SIGACTIONS = 1,
	PARASITE_CMD_VMSPLICE = 2,
	PARASITE_CMD_FINI = 3,
	PARASITE_CMD_DUMP_MISC = 4,
	PARASITE_CMD_DUMP_TIMERS = 5,
};

/* PARASITE_CMD_VMSPLICE: the message carries a new pipe write end
 * (SCM_RIGHTS) that replaces the cached one. */
#define PARASITE_F_NEW_PIPE 0x1

struct parasite_cmd {
	uint32_t cmd; /* enum parasite_cmd_nr */
	uint32_t seq; /* echoed in the reply, catches a desynchronised stream */
	uint32_t flags;
	uint32_t nr; /* VMSPLICE: iovecs in area->bulk.iov */
};

struct parasite_reply {
	uint32_t cmd;
	uint32_t seq;
	int32_t ret; /* 0 or negative errno */
	uint32_t pad;
	uint64_t value; /* VMSPLICE: bytes spliced (also on error: so far) */
};

/* The kernel's struct sigaction on x86-64 (rt_sigaction with an 8-byte
 * sigset), same layout as struct parasite_sigaction in infect.h. */
struct parasite_ksigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

/* struct iovec with fixed-size fields; addresses are the target's. */
struct parasite_iovec {
	uint64_t base;
	uint64_t len;
};

/* PARASITE_CMD_DUMP_MISC: what the process shares and only it can say.
 * struct itimerval and struct rlimit as the kernel writes them. */
struct parasite_itimer {
	uint64_t interval_sec;
	uint64_t interval_usec;
	uint64_t value_sec;
	uint64_t value_usec;
};

struct parasite_rlimit {
	uint64_t cur;
	uint64_t max;
};

#define PARASITE_NR_ITIMERS 3
#define PARASITE_NR_RLIMITS 16

struct parasite_misc {
	struct parasite_itimer itimers[PARASITE_NR_ITIMERS]; /* ITIMER_REAL, VIRTUAL, PROF */
	struct parasite_rlimit rlimits[PARASITE_NR_RLIMITS];
	int32_t dumpable;	 /* prctl(PR_GET_DUMPABLE) */
	int32_t child_subreaper; /* prctl(PR_GET_CHILD_SUBREAPER) */
	int32_t thp_disable;	 /* prctl(PR_GET_THP_DISABLE) */
	int32_t memory_merge;	 /* prctl(PR_GET_MEMORY_MERGE), 0 without KSM */
};

/* PARASITE_CMD_DUMP_TIMERS: id is lmproc's, the rest the parasite's
 * (timer_gettime's struct itimerspec and timer_getoverrun). */
struct parasite_posix_timer {
	int32_t id;
	int32_t overrun;
	uint64_t interval_sec;
	uint64_t interval_nsec;
	uint64_t value_sec;
	uint64_t value_nsec;
};

#define PARASITE_PAGE_SIZE 4096UL
#define PARASITE_AREA_SIZE (2 * PARASITE_PAGE_SIZE)
#define PARASITE_AREA_HEAD 128
#define PARASITE_NSIG 64
/* Per command; more than a pipe of 256 buffers can take anyway. */
#define PARASITE_MAX_IOV ((PARASITE_AREA_SIZE - PARASITE_AREA_HEAD) / 16)
#define PARASITE_MAX_TIMERS ((PARASITE_AREA_SIZE - PARASITE_AREA_HEAD) / 40)
#define PARASITE_ADDR_MAX 104 /* lmproc's socket names are short */

struct parasite_area {
	uint32_t magic;	   /* written by lmproc, checked by the parasite */
	uint32_t addr_len; /* bytes of addr used */
	/* Fds in the target that the parasite owns, -1 when not open: the
	 * memfd (lmproc opened it there; the parasite closes it first
	 * thing), its socket and the pipe.  The parasite sets them right
	 * after opening and after closing, so a parasite that dies or hangs
	 * leaves lmproc enough to close them. */
	int32_t memfd_fd;
	int32_t sk_fd;
	int32_t pipe_fd;
	uint32_t pad;
	uint8_t addr[PARASITE_ADDR_MAX]; /* lmproc's abstract sockaddr_un */
	union {
		struct parasite_ksigaction sigactions[PARASITE_NSIG]; /* [sig - 1] */
		struct parasite_iovec iov[PARASITE_MAX_IOV];
		struct parasite_misc misc;
		struct parasite_posix_timer timers[PARASITE_MAX_TIMERS];
	} bulk;
};

_Static_assert(sizeof(struct parasite_cmd) == 16, "parasite_cmd layout");
_Static_assert(sizeof(struct parasite_reply) == 24, "parasite_reply layout");
_Static_assert(sizeof(struct parasite_ksigaction) == 32, "ksigaction layout");
_Static_assert(sizeof(struct parasite_posix_timer) == 40, "posix timer layout");
_Static_assert(__builtin_offsetof(struct parasite_area, bulk) == PARASITE_AREA_HEAD, "area layout");
_Static_assert(sizeof(struct parasite_area) <= PARASITE_AREA_SIZE, "area size");

#define PARASITE_ALIGN(x) (((x) + PARASITE_PAGE_SIZE - 1) & ~(PARASITE_PAGE_SIZE - 1))
#define PARASITE_STACK_SIZE (16 * 1024UL)

/* Offsets within the mapping for a blob whose image (bss included) is
 * BLOB_SIZE bytes. */
#define PARASITE_AREA_OFF(blob_size) PARASITE_ALIGN(blob_size)
#define PARASITE_STACK_OFF(blob_size) (PARASITE_AREA_OFF(blob_size) + PARASITE_AREA_SIZE)
#define PARASITE_FRAME_OFF(blob_size) (PARASITE_STACK_OFF(blob_size) + PARASITE_STACK_SIZE)
/* Blob, area and stack; the frame's pages follow (their number depends
 * on the CPU's FPU state size, infect.c). */
#define PARASITE_MAP_SIZE(blob_size) PARASITE_FRAME_OFF(blob_size)

/* The kernel's x86-64 struct rt_sigframe up to the end of its ucontext,
 * which rt_sigreturn reads at rsp - 8: lmproc fills it at infection with
 * the task's own registers (its interrupted syscall set to restart), its
 * signal mask and a pointer to its FPU state (PARASITE_FRAME_FPU_OFF on,
 * 64-byte aligned as XRSTOR wants).  The parasite fills the signal stack
 * (only the thread can read it) and, if lmproc goes away before FINI,
 * returns the thread through it to exactly where it was stopped.  It
 * sits at the top of the parasite's stack, which grows down from it. */
struct parasite_sigframe {
	uint64_t pretcode; /* unused: nothing returns into a handler */
	uint64_t uc_flags;
	uint64_t uc_link;
	uint64_t ss_sp; /* uc_stack: a stack_t */
	int32_t ss_flags;
	int32_t ss_pad;
	uint64_t ss_size;
	/* struct sigcontext: r8-r15, rdi, rsi, rbp, rbx, rdx, rax, rcx,
	 * rsp, rip, eflags, then cs, gs, fs, ss (16 bits each), err,
	 * trapno, oldmask, cr2, fpstate, reserved[8]. */
	uint64_t mc[32];
	uint64_t uc_sigmask;
};

#define PARASITE_FRAME_FPU_OFF 512

_Static_assert(sizeof(struct parasite_sigframe) == 312, "sigframe layout");

#endif
