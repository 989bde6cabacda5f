/* Kernel interfaces newer than the Debian 12 headers (linux-libc-dev 6.1).
 * Each block names the uapi file it comes from; use the system value when
 * the headers have it. */
#ifndef LMPROC_UAPI_COMPAT_H
#define LMPROC_UAPI_COMPAT_H

#include <stdint.h>
#include <linux/types.h>
#include <sys/ioctl.h>

/* include/uapi/linux/membarrier.h (6.3): an enum there, so a name of
 * our own that can't collide with newer headers. */
#define LM_MEMBARRIER_CMD_GET_REGISTRATIONS (1 << 9)

/* include/uapi/linux/fs.h (6.7) */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

/* include/uapi/linux/fs.h (6.14) */
#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD (1 << 8)
#endif

/* include/uapi/linux/fs.h (6.11) */
#ifndef PROCMAP_QUERY
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#endif

/* include/uapi/linux/userfaultfd.h (6.7, 6.8) */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif

/* include/uapi/asm-generic/mman-common.h (5.14) */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* include/uapi/asm-generic/mman-common.h (6.13) */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

/* include/uapi/linux/mman.h (6.11) */
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

/* arch/x86/entry/syscalls/syscall_64.tbl (6.10) */
#ifndef __NR_mseal
#define __NR_mseal 462
#endif

/* include/uapi/linux/ptrace.h (5.13) */
#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
struct lm_ptrace_rseq_configuration {
	__u64 rseq_abi_pointer;
	__u32 rseq_abi_size;
	__u32 signature;
	__u32 flags;
	__u32 pad;
};

/* include/uapi/linux/sched.h: clone3 arguments up to CLONE_ARGS_SIZE_VER2. */
struct lm_clone_args {
	__u64 flags;
	__u64 pidfd;
	__u64 child_tid;
	__u64 parent_tid;
	__u64 exit_signal;
	__u64 stack;
	__u64 stack_size;
	__u64 tls;
	__u64 set_tid;
	__u64 set_tid_size;
	__u64 cgroup;
};

/* include/uapi/linux/fcntl.h, include/uapi/linux/memfd.h (6.3) */
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* include/uapi/linux/prctl.h (6.17) */
#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#define PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#define PR_TIMER_CREATE_RESTORE_IDS_ON 1
#define PR_TIMER_CREATE_RESTORE_IDS_GET 2
#endif

/* include/uapi/asm-generic/socket.h (6.5, 6.14, 6.16) */
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_RCVPRIORITY
#define SO_RCVPRIORITY 82
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

/* include/uapi/linux/if_packet.h (6.2) */
#ifndef PACKET_VNET_HDR_SZ
#define PACKET_VNET_HDR_SZ 24
#endif

/* include/uapi/linux/in.h (6.3) */
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

/* include/uapi/linux/in6.h */
#ifndef IPV6_FLOWINFO
#define IPV6_FLOWINFO 11
#endif
#ifndef IPV6_FLOWINFO_SEND
#define IPV6_FLOWINFO_SEND 33
#endif

/* include/uapi/linux/tcp.h (6.15) */
#ifndef TCP_RTO_MAX_MS
#define TCP_RTO_MAX_MS 44
#endif
#ifndef TCP_RTO_MIN_US
#define TCP_RTO_MIN_US 45
#endif
#ifndef TCP_DELACK_MAX_US
#define TCP_DELACK_MAX_US 46
#endif

/* include/uapi/linux/pidfd.h (6.13; PIDFD_INFO_EXIT 6.15): a process's
 * exit status through its pidfd once it is reaped, whoever reaped it.
 * The first 64 bytes of struct pidfd_info (PIDFD_INFO_SIZE_VER0); a
 * name of our own, since newer headers have the whole struct. */
struct lm_pidfd_info {
	__u64 mask;
	__u64 cgroupid;
	__u32 pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	__s32 exit_code;
};

#define LM_PIDFD_GET_INFO _IOWR(0xFF, 11, struct lm_pidfd_info)
#define LM_PIDFD_INFO_EXIT (1UL << 3)

/* include/uapi/linux/pidfd.h (6.9): a pidfd of one thread, not of its
 * thread group; fdinfo's flags show it as O_EXCL. */
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/* include/uapi/linux/io_uring.h: setup flags newer than 6.1 (6.5: NO_MMAP,
 * REGISTERED_FD_ONLY; 6.6: NO_SQARRAY; 6.11: HYBRID_IOPOLL; 6.18:
 * CQE_MIXED) and the blind registration that posts a CQE to a ring
 * (6.13: IORING_REGISTER_SEND_MSG_RING with fd -1). */
#define LM_IORING_SETUP_DEFER_TASKRUN (1U << 13)
#define LM_IORING_SETUP_NO_MMAP (1U << 14)
#define LM_IORING_SETUP_REGISTERED_FD_ONLY (1U << 15)
#define LM_IORING_SETUP_NO_SQARRAY (1U << 16)
#define LM_IORING_SETUP_HYBRID_IOPOLL (1U << 17)
#define LM_IORING_SETUP_CQE_MIXED (1U << 18)
#define LM_IORING_REGISTER_SEND_MSG_RING 31

/* include/net/udplite.h: the IPPROTO_UDPLITE level's options, which no
 * uapi header has (the checksum coverage sent and required). */
#ifndef UDPLITE_SEND_CSCOV
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11
#endif

#endif
