/* The parasite's protocol: the shared area layout and the messages that
 * lmproc (criu-lite/infect.c) and the blob (pie/parasite.c) exchange.
 * Plain fixed-layout structs only: this header is compiled both with libc
 * and freestanding, so it may include nothing but <stdint.h>.
 *
 * The memfd mapping, at the same offsets in lmproc and in the target:
 *   [0, PARASITE_AREA_OFF)                    the blob (code, data, bss)
 *   [PARASITE_AREA_OFF, +sizeof(area))        struct parasite_area
 *   [PARASITE_STACK_OFF, +PARASITE_STACK_SIZE) the parasite's stack
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
};

/* PARASITE_CMD_VMSPLICE: the message carries a new pipe write end
 * (SCM_RIGHTS) that replaces the cached one. */
#define PARASITE_F_NEW_PIPE 0x1

struct parasite_cmd {
	uint32_t cmd;	/* enum parasite_cmd_nr */
	uint32_t seq;	/* echoed in the reply, catches a desynchronised stream */
	uint32_t flags;
	uint32_t nr;	/* VMSPLICE: iovecs in area->bulk.iov */
};

struct parasite_reply {
	uint32_t cmd;
	uint32_t seq;
	int32_t ret;	/* 0 or negative errno */
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

#define PARASITE_NSIG 64
#define PARASITE_MAX_IOV 4096
#define PARASITE_ADDR_MAX 112 /* >= sizeof(struct sockaddr_un) */

struct parasite_area {
	uint32_t magic;		/* written by lmproc, checked by the parasite */
	uint32_t addr_len;	/* bytes of addr used */
	uint8_t addr[PARASITE_ADDR_MAX]; /* lmproc's abstract sockaddr_un */
	/* The parasite's own fds in the target, -1 when not open.  The
	 * parasite sets them right after opening and before closing, so a
	 * parasite that dies or hangs leaves lmproc enough to close them. */
	int32_t sk_fd;
	int32_t pipe_fd;
	union {
		struct parasite_ksigaction sigactions[PARASITE_NSIG]; /* [sig - 1] */
		struct parasite_iovec iov[PARASITE_MAX_IOV];
	} bulk;
};

_Static_assert(sizeof(struct parasite_cmd) == 16, "parasite_cmd layout");
_Static_assert(sizeof(struct parasite_reply) == 24, "parasite_reply layout");
_Static_assert(sizeof(struct parasite_ksigaction) == 32, "ksigaction layout");
_Static_assert(__builtin_offsetof(struct parasite_area, bulk) == 128, "area layout");

#define PARASITE_PAGE_SIZE 4096UL
#define PARASITE_ALIGN(x) (((x) + PARASITE_PAGE_SIZE - 1) & ~(PARASITE_PAGE_SIZE - 1))
#define PARASITE_STACK_SIZE (32 * 1024UL)

/* Offsets within the mapping for a blob whose image (bss included) is
 * BLOB_SIZE bytes. */
#define PARASITE_AREA_OFF(blob_size) PARASITE_ALIGN(blob_size)
#define PARASITE_STACK_OFF(blob_size)                                          \
	(PARASITE_AREA_OFF(blob_size) + PARASITE_ALIGN(sizeof(struct parasite_area)))
#define PARASITE_MAP_SIZE(blob_size) (PARASITE_STACK_OFF(blob_size) + PARASITE_STACK_SIZE)

#endif
