/* What this kernel lets lmproc do, found by experiment (never by version
 * number), once per run: fill a struct kerndat with kerndat_probe() and
 * pass it to whoever needs it.  There is no global instance.
 *
 *	struct kerndat kd;
 *
 *	kerndat_probe(&kd);
 *	if (!kd.feat[KD_CLONE3_SET_TID].ok)
 *		... refuse, quoting kd.feat[KD_CLONE3_SET_TID].why ...
 *	vdso block size: kd.vdso.vvar_size + kd.vdso.vvar_vclock_size + kd.vdso.vdso_size
 */
#ifndef LMPROC_KERNDAT_H
#define LMPROC_KERNDAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kd_feature {
	KD_PTRACE_SEIZE,	/* PTRACE_SEIZE + PTRACE_INTERRUPT stop a child */
	KD_PTRACE_RSEQ,		/* PTRACE_GET_RSEQ_CONFIGURATION */
	KD_PROCESS_VM_READV,
	KD_VMSPLICE,
	KD_MEMFD,		/* memfd_create, mapped shared */
	KD_PIDFD_GETFD,		/* pidfd_open + pidfd_getfd of a child's fd */
	KD_CLONE3_SET_TID,	/* clone3 gives a chosen pid */
	KD_PR_SET_MM_MAP,	/* PR_SET_MM_MAP accepted with the current layout */
	KD_MADV_POPULATE_WRITE,
	KD_SOFT_DIRTY,		/* clear_refs 4 then a write sets pagemap bit 55 */
	KD_PAGEMAP_SCAN,
	KD_UFFD_WP_ASYNC,	/* userfaultfd WP_ASYNC|WP_UNPOPULATED, seen by PAGEMAP_SCAN */
	KD_UFFD_REMOTE,		/* a child's uffd taken with pidfd_getfd can be armed */
	KD_BPF,			/* bpf() loads a program */
	KD_PF_TRACEPOINT,	/* page_fault_user takes a BPF program filtering by our-namespace pid */
	KD_CAP_SYS_RESOURCE,	/* in the effective set */
	KD_CAP_CHECKPOINT_RESTORE,
	KD_CAP_SYS_ADMIN,
	KD_VDSO,		/* [vvar], [vvar_vclock], [vdso] found; sizes in .vdso */
	KD_XSAVE,		/* NT_X86_XSTATE size known; in .xsave_size */
	KD_DIRTY_TRACKER,	/* some backend works; which one in .tracker */
	KD_SHMEM_MAP_FILES,	/* shared anonymous memory reopened through map_files */
	KD_SHM_NEXT_ID,		/* /proc/sys/kernel/shm_next_id: a SysV segment's id chosen */
	KD_PTY_PEER,		/* TIOCGPTPEER opens a new pty's slave */
	KD_TIMER_RESTORE_IDS,	/* PR_TIMER_CREATE_RESTORE_IDS (else ids by trial) */
	KD_SYSVIPC_NEXT_ID,	/* sem_next_id, msg_next_id: a set's or queue's id chosen */
	KD_MSG_COPY,		/* msgrcv(MSG_COPY) copies a message, leaving it queued */
	KD_NR_FEATURES,
};

/* The dirty-tracking backend `--track auto` picks. */
enum kd_tracker {
	KD_TRACKER_NONE,
	KD_TRACKER_PAGEMAP_SCAN,	/* uffd WP_ASYNC + PAGEMAP_SCAN */
	KD_TRACKER_SOFT_DIRTY,
};

struct kd_result {
	bool ok;
	char why[112];		/* the value found, or why it is missing */
};

/* lmproc's own vDSO block (a restored process, forked from lmproc, has
 * the same one until the restorer moves it).  A size is 0 when the
 * mapping is absent; [vvar_vclock] exists only on Linux >= 6.13. */
struct kd_vdso {
	unsigned long vvar_start, vvar_size;
	unsigned long vvar_vclock_start, vvar_vclock_size;
	unsigned long vdso_start, vdso_size;
};

struct kerndat {
	struct kd_result feat[KD_NR_FEATURES];
	struct kd_vdso vdso;
	uint32_t xsave_size;		/* bytes of NT_X86_XSTATE, 0 if unknown */
	uint64_t xcr0;			/* enabled xsave features (XGETBV 0) */
	uint64_t uffd_features;		/* what UFFDIO_API offers */
	uint64_t cap_eff;		/* CapEff of lmproc */
	uint32_t mm_map_size;		/* sizeof(struct prctl_mm_map) of the kernel */
	enum kd_tracker tracker;
};

/* Runs every probe.  Probes clean up after themselves (children reaped,
 * maps unmapped, fds closed).  Returns 0 when every feature lmproc needs
 * for dump and restore is there (kerndat_required()), -ENOTSUP if not;
 * the details are in KD either way. */
int kerndat_probe(struct kerndat *kd);

const char *kerndat_feature_name(enum kd_feature f);
/* The feature called NAME, or -1. */
int kerndat_feature_by_name(const char *name);
/* Whether dump/restore cannot work without F. */
bool kerndat_required(enum kd_feature f);
const char *kerndat_tracker_name(enum kd_tracker t);

/* For the probe files (kerndat.c, track/track-probe.c): records the
 * result of F and returns 0 if OK, -1 otherwise; kd_fail() gives
 * "CALL: strerror(errno)" as the reason. */
__attribute__((format(printf, 4, 5)))
int kd_set(struct kerndat *kd, enum kd_feature f, bool ok, const char *fmt, ...);
int kd_fail(struct kerndat *kd, enum kd_feature f, const char *call);
/* A private anonymous read-write mapping of LEN bytes, or NULL. */
void *kd_map_anon(size_t len);
/* track/track-probe.c */
int kd_probe_populate_write(struct kerndat *kd);
int kd_probe_soft_dirty(struct kerndat *kd);
int kd_probe_pagemap_scan(struct kerndat *kd);
int kd_probe_uffd_wp(struct kerndat *kd);
int kd_probe_bpf(struct kerndat *kd);
int kd_pick_tracker(struct kerndat *kd);

#endif
