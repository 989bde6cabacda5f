/* Owns io_uring instances (io_uring_setup(2); MariaDB's InnoDB, liburing)
 * and the mappings of their rings.  Dump: fdinfo gives the indices and
 * what is registered, the BPF task_file iterator of bpf/iouring.bpf.c the
 * setup flags, the sizes and whether the kernel holds any request; the
 * rings' bytes are read through lmproc's own mapping of a copy of the fd.
 * An instance with anything in flight or registered, or set up with a
 * flag whose state lmproc can't make again, is refused by name.
 * Restore: the task makes a ring of the same flags and sizes, brings the
 * kernel's indices (the SQ head it consumed, the CQ tail it filled) to
 * the dumped ones with no-ops, then writes the rings' bytes; the
 * restorer maps the rings again from the fd at the dumped addresses. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "common.h"
#include "fd-types.h"
#include "io-uring.h"
#include "log.h"
#include "proc.h"
#include "uapi-compat.h"
#include "words.h"
#include "../../bpf/iouring.h"
#include "iouring.skel.h"

#include "mm.pb-c.h"

#define IO_URING_FLAGS O_ACCMODE
/* The setup flags whose whole state is the ring's memory and the flag;
 * SINGLE_ISSUER's submitter must be the main thread, which makes the ring
 * again (and DEFER_TASKRUN, which needs it, then holds nothing more). */
#define SETUP_SUPPORTED                                                                 \
	(IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL |           \
	 IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SQE128 |  \
	 IORING_SETUP_CQE32 | LM_IORING_SETUP_NO_SQARRAY | IORING_SETUP_SINGLE_ISSUER | \
	 LM_IORING_SETUP_DEFER_TASKRUN)
/* io_uring/io_uring.h: IORING_MAX_ENTRIES, IORING_MAX_CQ_ENTRIES */
#define MAX_SQ_ENTRIES 32768U
#define MAX_CQ_ENTRIES (2 * MAX_SQ_ENTRIES)
/* struct io_rings before its CQEs (include/linux/io_uring_types.h), and
 * where the kernel puts head and tail of both queues in it. */
#define RINGS_HDR 64
#define OFF_SQ_HEAD 0
#define OFF_SQ_TAIL 4
#define OFF_CQ_HEAD 8
#define OFF_CQ_TAIL 12
#define OFF_SQ_FLAGS 36
/* IORING_SQ_CQ_OVERFLOW, IORING_SQ_TASKRUN: kernel state, not memory. */
#define SQ_FLAGS_KERNEL (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)
/* No-ops are submitted in batches of at most this many. */
#define NOP_BATCH 4096U
/* How deep io_uring_prepare looks below the root. */
#define IO_URING_PREPARE_DEPTH 16

static const struct {
	uint32_t bit;
	const char *name;
} setup_names[] = {
    {IORING_SETUP_IOPOLL, "IORING_SETUP_IOPOLL"},
    {IORING_SETUP_SQPOLL, "IORING_SETUP_SQPOLL (a kernel thread submits)"},
    {IORING_SETUP_SQ_AFF, "IORING_SETUP_SQ_AFF"},
    {IORING_SETUP_ATTACH_WQ, "IORING_SETUP_ATTACH_WQ (a worker pool shared with another ring)"},
    {IORING_SETUP_R_DISABLED, "IORING_SETUP_R_DISABLED (not enabled yet)"},
    {LM_IORING_SETUP_NO_MMAP, "IORING_SETUP_NO_MMAP (rings in the process's memory)"},
    {LM_IORING_SETUP_REGISTERED_FD_ONLY, "IORING_SETUP_REGISTERED_FD_ONLY"},
    {LM_IORING_SETUP_HYBRID_IOPOLL, "IORING_SETUP_HYBRID_IOPOLL"},
    {LM_IORING_SETUP_CQE_MIXED, "IORING_SETUP_CQE_MIXED"},
};

static const struct {
	uint32_t bit;
	const char *name;
} busy_names[] = {
    {IOURING_BUSY_TIMEOUT, "a timeout"},
    {IOURING_BUSY_LTIMEOUT, "a linked timeout"},
    {IOURING_BUSY_DEFER, "a drained request (IOSQE_IO_DRAIN)"},
    {IOURING_BUSY_IOPOLL, "a polled request (IOPOLL)"},
    {IOURING_BUSY_OVERFLOW, "completions that overflowed the CQ ring"},
    {IOURING_BUSY_WORK, "deferred task work"},
    {IOURING_BUSY_RETRY, "task work to retry"},
    {IOURING_BUSY_FUTEX, "a futex wait"},
    {IOURING_BUSY_WAITID, "a waitid"},
    {IOURING_BUSY_URING_CMD, "a cancelable uring_cmd"},
};

static const struct {
	uint32_t bit;
	const char *name;
} state_names[] = {
    {IOURING_ST_RESTRICTED, "restrictions (IORING_REGISTER_RESTRICTIONS)"},
    {IOURING_ST_PERSONALITY, "personalities (IORING_REGISTER_PERSONALITY)"},
    {IOURING_ST_PBUF, "provided buffers (IORING_REGISTER_PBUF_RING, IORING_OP_PROVIDE_BUFFERS)"},
    {IOURING_ST_IOWQ_LIMITS, "worker limits (IORING_REGISTER_IOWQ_MAX_WORKERS)"},
    {IOURING_ST_NAPI, "NAPI busy polling (IORING_REGISTER_NAPI)"},
    {IOURING_ST_PARAM_REGION, "a memory region (IORING_REGISTER_MEM_REGION)"},
    {IOURING_ST_ZCRX, "a zero-copy receive queue (IORING_REGISTER_ZCRX_IFQ)"},
    {IOURING_ST_FILE_RANGE, "a file allocation range (IORING_REGISTER_FILE_ALLOC_RANGE)"},
    {IOURING_ST_CLOCK, "a clock (IORING_REGISTER_CLOCK)"},
};

/* The sizes io_uring_setup gives the ring region and the SQE array
 * (io_uring/io_uring.c rings_size()). */
static uint64_t ring_len(uint32_t flags, uint32_t sq_entries, uint32_t cq_entries)
{
	uint64_t cqe = flags & IORING_SETUP_CQE32 ? 32 : 16;
	uint64_t off = RINGS_HDR + cqe * cq_entries;

	if (flags & LM_IORING_SETUP_NO_SQARRAY)
		return off;
	/* The SQ index array starts on a cache line (SMP_CACHE_BYTES). */
	return ((off + 63) & ~63ULL) + 4ULL * sq_entries;
}

static uint64_t sqes_len(uint32_t flags, uint32_t sq_entries)
{
	return (flags & IORING_SETUP_SQE128 ? 128ULL : 64ULL) * sq_entries;
}

static uint32_t ring_u32(const void *ring, size_t off)
{
	uint32_t v;

	memcpy(&v, (const char *)ring + off, sizeof(v));
	return v;
}

bool io_uring_mapping(const char *path)
{
	return !strcmp(path, "anon_inode:[io_uring]");
}

static bool io_uring_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return io_uring_mapping(p->link);
}

/* The reader, loaded once per run (~60 ms): before the freeze when the
 * tree maps a ring (io_uring_prepare), else at its first ring. */
static struct {
	bool tried;
	int err;
	struct iouring_bpf *skel;
} rd;

static struct iouring_bpf *reader(void)
{
	if (!rd.tried) {
		rd.tried = true;
		rd.skel = iouring_bpf__open_and_load();
		rd.err = rd.skel ? 0 : -(errno ?: EINVAL);
	}
	errno = -rd.err;
	return rd.skel;
}

void io_uring_prepare(pid_t root)
{
	if (!rd.tried && proc_tree_maps(root, "anon_inode:[io_uring]", IO_URING_PREPARE_DEPTH))
		reader();
}

/* The iterator's record of PID's fd FD: 0, -ENOENT if it has none, or
 * -errno (BPF unavailable: no CAP_BPF, no iterator). */
static int read_rec(pid_t pid, int fd, struct iouring_rec *out, char *why, size_t len)
{
	union bpf_iter_link_info li = {.task.pid = pid};
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &li, .link_info_len = sizeof(li));
	struct iouring_bpf *skel = reader();
	struct iouring_rec r;
	struct bpf_link *link;
	int it, ret = -ENOENT;
	ssize_t n;

	if (!skel) {
		ret = -errno;
		snprintf(why, len, "can't load its BPF reader: %s", strerror(errno));
		return ret;
	}
	link = bpf_program__attach_iter(skel->progs.iouring, &opts);
	it = link ? bpf_iter_create(bpf_link__fd(link)) : -1;
	if (it < 0) {
		ret = -errno;
		snprintf(why, len, "can't run its BPF reader: %s", strerror(errno));
	}
	while (it >= 0 && (n = read(it, &r, sizeof(r))) == sizeof(r)) {
		if ((int)r.fd == fd) {
			*out = r;
			ret = 0;
		}
	}
	if (ret == -ENOENT)
		snprintf(why, len, "its BPF reader did not find it");
	if (it >= 0)
		close(it);
	bpf_link__destroy(link);
	return ret;
}

static int refuse(const struct files_dump *d, const struct fd_parms *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(const struct files_dump *d, const struct fd_parms *p, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pr_err("pid %d fd %d is an io_uring instance %s: not supported\n", d->pid, p->fd, why);
	return -EOPNOTSUPP;
}

/* fdinfo's list after KEY ("PollList:") has an entry: a line that starts
 * with a blank before the next key. */
static bool fdinfo_list_busy(const char *info, const char *key)
{
	const char *l = fdinfo_field(info, key);

	if (!l)
		return false;
	l = strchr(l, '\n');
	return l && (l[1] == ' ' || l[1] == '\t');
}

static int fdinfo_u32(const struct fd_parms *p, const char *key, long long *v)
{
	const char *s = fdinfo_field(p->info, key);

	return s && sscanf(s, "%lld", v) == 1 ? 0 : -EINVAL;
}

/* What fdinfo says: no SQPOLL thread, nothing registered, no poll armed,
 * no overflow. */
static int check_fdinfo(const struct files_dump *d, const struct fd_parms *p)
{
	long long sqt, files, bufs;

	if (fdinfo_u32(p, "SqThread:", &sqt) || fdinfo_u32(p, "UserFiles:", &files) ||
	    fdinfo_u32(p, "UserBufs:", &bufs)) {
		pr_err("Can't parse the io_uring instance of pid %d fd %d in its fdinfo\n", d->pid,
		       p->fd);
		return -EINVAL;
	}
	if (sqt != -1)
		return refuse(d, p, "with a submission thread (SQPOLL, pid %lld)", sqt);
	if (files)
		return refuse(d, p, "with %lld registered files (IORING_REGISTER_FILES)", files);
	if (bufs)
		return refuse(d, p, "with %lld registered buffers (IORING_REGISTER_BUFFERS)", bufs);
	if (fdinfo_list_busy(p->info, "PollList:"))
		return refuse(d, p, "with a poll request in flight (fdinfo PollList)");
	if (fdinfo_list_busy(p->info, "CqOverflowList:"))
		return refuse(d, p, "with completions that overflowed its CQ ring");
	return 0;
}

static int check_rec(const struct files_dump *d, const struct fd_parms *p,
		     const struct iouring_rec *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(setup_names); i++)
		if (r->flags & setup_names[i].bit)
			return refuse(d, p, "set up with %s", setup_names[i].name);
	if (r->flags & ~SETUP_SUPPORTED)
		return refuse(d, p, "set up with flags 0x%x lmproc does not know",
			      r->flags & ~SETUP_SUPPORTED);
	if ((r->flags & IORING_SETUP_SINGLE_ISSUER) && r->submitter != d->pid)
		return refuse(d, p,
			      "set up with IORING_SETUP_SINGLE_ISSUER whose submitter is "
			      "thread %d, not the process's main thread (which makes the ring "
			      "again)",
			      r->submitter);
	for (size_t i = 0; i < ARRAY_SIZE(busy_names); i++)
		if (r->busy & busy_names[i].bit)
			return refuse(d, p, "with %s in flight", busy_names[i].name);
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
		if (r->state & state_names[i].bit)
			return refuse(d, p, "with %s", state_names[i].name);
	if (r->nr_files || r->nr_bufs)
		return refuse(d, p, "with a table of %u registered files and %u buffers",
			      r->nr_files, r->nr_bufs);
	if (r->free_reqs == IOURING_FREE_UNKNOWN)
		return refuse(d, p,
			      "whose request cache is longer than %u: can't count the "
			      "requests in flight",
			      IOURING_FREE_MAX);
	if (r->nr_reqs != r->free_reqs)
		return refuse(d, p, "with %u requests in flight (submitted, not completed)",
			      r->nr_reqs - r->free_reqs);
	if (r->reg_ring >= 0)
		return refuse(d, p,
			      "registered as ring fd %d of the task (IORING_REGISTER_RING_FDS)",
			      r->reg_ring);
	if (r->sq_entries > MAX_SQ_ENTRIES || r->cq_entries > MAX_CQ_ENTRIES)
		return refuse(d, p, "of %u SQ and %u CQ entries", r->sq_entries, r->cq_entries);
	return 0;
}

/* The ring's bytes as lmproc's own mapping of a copy of the fd shows
 * them, into files-data.img. */
static int save_region(struct files_dump *d, const struct fd_parms *p, int fd, off_t what,
		       uint64_t len, uint64_t *off, void *keep)
{
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, what);
	int ret;

	if (m == MAP_FAILED) {
		pr_perror("Can't map the rings of pid %d fd %d at 0x%llx", d->pid, p->fd,
			  (unsigned long long)what);
		return -errno;
	}
	if (keep)
		memcpy(keep, m, RINGS_HDR);
	ret = files_data_write(d, m, len, off);
	munmap(m, len);
	return ret;
}

static int check_ring(const struct files_dump *d, const struct fd_parms *p,
		      const struct iouring_rec *r, const void *hdr)
{
	uint32_t sq_head = ring_u32(hdr, OFF_SQ_HEAD), sq_tail = ring_u32(hdr, OFF_SQ_TAIL);
	uint32_t cq_head = ring_u32(hdr, OFF_CQ_HEAD), cq_tail = ring_u32(hdr, OFF_CQ_TAIL);
	uint32_t sq_flags = ring_u32(hdr, OFF_SQ_FLAGS);

	if (sq_head != r->cached_sq_head || cq_tail != r->cached_cq_tail)
		return refuse(d, p,
			      "whose rings show SQ head %u and CQ tail %u but the kernel "
			      "is at %u and %u (a submission or completion under way)",
			      sq_head, cq_tail, r->cached_sq_head, r->cached_cq_tail);
	if (sq_flags & SQ_FLAGS_KERNEL)
		return refuse(d, p,
			      "whose SQ flags 0x%x say completions overflowed or task "
			      "work is pending",
			      sq_flags);
	if (sq_tail - sq_head > r->sq_entries || cq_tail - cq_head > r->cq_entries)
		return refuse(d, p, "whose rings hold more than they can (SQ %u-%u, CQ %u-%u)",
			      sq_head, sq_tail, cq_head, cq_tail);
	return 0;
}

/* The fd of D's process holding the eventfd of eventfd-id ID, or -1. */
static int eventfd_fd(const struct files_dump *d, int id)
{
	for (int i = 0; i < d->nr_fds; i++) {
		const struct fd_parms *q = &d->fds[i];
		const char *s = fdinfo_field(q->info, "eventfd-id:");

		if (!strcmp(q->link, "anon_inode:[eventfd]") && s && atoi(s) == id)
			return q->fd;
	}
	return -1;
}

/* The eventfd registered with the ring (IORING_REGISTER_EVENTFD), by the
 * fd that holds it. */
static int dump_eventfd(const struct files_dump *d, const struct fd_parms *p,
			const struct iouring_rec *r, IoUringEntry *e)
{
	int fd;

	if (r->evfd_id < 0)
		return 0;
	fd = eventfd_fd(d, r->evfd_id);
	if (fd < 0)
		return refuse(d, p,
			      "with an eventfd (IORING_REGISTER_EVENTFD, eventfd-id %d) no "
			      "fd of the process holds",
			      r->evfd_id);
	if (r->evfd_last_tail != r->cached_cq_tail)
		return refuse(d, p,
			      "whose eventfd was last signalled at CQ tail %u, the ring's "
			      "is %u (a signal under way)",
			      r->evfd_last_tail, r->cached_cq_tail);
	e->has_eventfd = e->has_eventfd_async = true;
	e->eventfd = fd;
	e->eventfd_async = r->evfd_async;
	return 0;
}

static int io_uring_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	IoUringEntry e = IO_URING_ENTRY__INIT;
	char why[160], hdr[RINGS_HDR];
	struct iouring_rec r = {0};
	uint64_t off;
	int ret, fd;

	if (p->flags & ~IO_URING_FLAGS)
		return files_refuse_flags(d, p, "an io_uring instance", IO_URING_FLAGS);
	ret = check_fdinfo(d, p);
	if (ret)
		return ret;
	ret = read_rec(d->pid, p->fd, &r, why, sizeof(why));
	if (ret) {
		pr_err("pid %d fd %d is an io_uring instance whose setup lmproc can't read (%s): "
		       "not supported\n",
		       d->pid, p->fd, why);
		return -EOPNOTSUPP;
	}
	ret = check_rec(d, p, &r) ?: dump_eventfd(d, p, &r, &e);
	if (ret)
		return ret;
	fd = files_steal(d, p);
	if (fd < 0)
		return fd;
	e.ring_len = ring_len(r.flags, r.sq_entries, r.cq_entries);
	e.sqes_len = sqes_len(r.flags, r.sq_entries);
	ret = save_region(d, p, fd, IORING_OFF_SQ_RING, e.ring_len, &off, hdr);
	e.ring_off = off;
	if (!ret)
		ret = save_region(d, p, fd, IORING_OFF_SQES, e.sqes_len, &off, NULL);
	e.sqes_off = off;
	close(fd);
	if (!ret)
		ret = check_ring(d, p, &r, hdr);
	if (ret)
		return ret;
	e.flags = p->flags;
	e.setup_flags = r.flags;
	e.sq_entries = r.sq_entries;
	e.cq_entries = r.cq_entries;
	e.sq_head = r.cached_sq_head;
	e.cq_tail = r.cached_cq_tail;
	fe->io_uring = &e;
	return files_write(d, fe);
}

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static int io_uring_validate(const FileEntry *f, uint64_t data_size)
{
	const IoUringEntry *e = f->io_uring;

	if (!e)
		return restore_plan_bad("files.img", "file id %u has no io_uring entry", f->id);
	if ((e->flags & ~IO_URING_FLAGS) || (e->setup_flags & ~SETUP_SUPPORTED) ||
	    !pow2(e->sq_entries) || !pow2(e->cq_entries) || e->sq_entries > MAX_SQ_ENTRIES ||
	    e->cq_entries > MAX_CQ_ENTRIES || e->cq_entries < e->sq_entries ||
	    ((e->setup_flags & LM_IORING_SETUP_DEFER_TASKRUN) &&
	     !(e->setup_flags & IORING_SETUP_SINGLE_ISSUER)))
		return restore_plan_bad("files.img",
					"io_uring file id %u: flags %s, setup 0x%x, "
					"%u SQ and %u CQ entries",
					f->id, open_flags_words(e->flags).s, e->setup_flags,
					e->sq_entries, e->cq_entries);
	if (e->ring_len != ring_len(e->setup_flags, e->sq_entries, e->cq_entries) ||
	    e->sqes_len != sqes_len(e->setup_flags, e->sq_entries) || e->ring_off > data_size ||
	    e->ring_len > data_size - e->ring_off || e->sqes_off > data_size ||
	    e->sqes_len > data_size - e->sqes_off)
		return restore_plan_bad(
		    "files.img",
		    "io_uring file id %u: rings of %u and %u bytes "
		    "at %llu and %llu, files-data.img has %llu",
		    f->id, e->ring_len, e->sqes_len, (unsigned long long)e->ring_off,
		    (unsigned long long)e->sqes_off, (unsigned long long)data_size);
	return 0;
}

/* Checked against its io_uring entry once the bytes are read (open). */
static int check_header(const IoUringEntry *e, const void *hdr, char *why, size_t len)
{
	uint32_t sq_head = ring_u32(hdr, OFF_SQ_HEAD), sq_tail = ring_u32(hdr, OFF_SQ_TAIL);
	uint32_t cq_head = ring_u32(hdr, OFF_CQ_HEAD), cq_tail = ring_u32(hdr, OFF_CQ_TAIL);

	if (sq_head != e->sq_head || cq_tail != e->cq_tail ||
	    ring_u32(hdr, 16) != e->sq_entries - 1 || ring_u32(hdr, 20) != e->cq_entries - 1 ||
	    ring_u32(hdr, 24) != e->sq_entries || ring_u32(hdr, 28) != e->cq_entries ||
	    sq_tail - sq_head > e->sq_entries || cq_tail - cq_head > e->cq_entries ||
	    (ring_u32(hdr, OFF_SQ_FLAGS) & SQ_FLAGS_KERNEL)) {
		snprintf(why, len,
			 "its ring's header (SQ %u-%u, CQ %u-%u, masks 0x%x 0x%x) does "
			 "not match its entry",
			 sq_head, sq_tail, cq_head, cq_tail, ring_u32(hdr, 16), ring_u32(hdr, 20));
		return -EINVAL;
	}
	return 0;
}

struct ring_maps {
	int fd;
	uint32_t sq_entries, cq_entries;
	char *ring;
	char *sqes;
	uint32_t sq_mask;
	uint32_t *array; /* NULL with NO_SQARRAY */
	size_t cqe_size, sqe_size;
	bool defer; /* IORING_SETUP_DEFER_TASKRUN */
};

static uint32_t *ring_idx(const struct ring_maps *m, size_t off)
{
	return (uint32_t *)(m->ring + off);
}

static void reap(struct ring_maps *m)
{
	__atomic_store_n(ring_idx(m, OFF_CQ_HEAD),
			 __atomic_load_n(ring_idx(m, OFF_CQ_TAIL), __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
}

/* N no-ops, each with IOSQE_CQE_SKIP_SUCCESS if SKIP, submitted in
 * batches; the completions of each batch reaped before the next. */
static int submit_nops(struct ring_maps *m, uint64_t n, bool skip)
{
	uint32_t batch = min(min(m->sq_entries, m->cq_entries), NOP_BATCH);

	while (n) {
		uint32_t k = n > batch ? batch : n, tail = *ring_idx(m, OFF_SQ_TAIL);
		long ret;

		for (uint32_t i = 0; i < k; i++) {
			uint32_t slot = (tail + i) & m->sq_mask;
			struct io_uring_sqe *s = (void *)(m->sqes + slot * m->sqe_size);

			memset(s, 0, m->sqe_size);
			s->opcode = IORING_OP_NOP;
			s->flags = skip ? IOSQE_CQE_SKIP_SUCCESS : 0;
			if (m->array)
				m->array[slot] = slot;
		}
		__atomic_store_n(ring_idx(m, OFF_SQ_TAIL), tail + k, __ATOMIC_RELEASE);
		ret = syscall(SYS_io_uring_enter, m->fd, k, 0, 0, NULL, 0);
		if (ret != (long)k)
			return ret < 0 ? -errno : -EIO;
		reap(m);
		n -= k;
	}
	return 0;
}

/* N completions posted to the ring without a submission of its own
 * (IORING_OP_MSG_RING through the blind registration, Linux 6.13), each
 * reaped if REAP.  With DEFER_TASKRUN a message waits as task work of
 * the ring's until its submitter asks for completions. */
static int post_cqes(struct ring_maps *m, uint64_t n, bool reap_them)
{
	struct io_uring_sqe s = {.opcode = IORING_OP_MSG_RING, .fd = m->fd};

	for (; n; n--) {
		if (syscall(SYS_io_uring_register, -1, LM_IORING_REGISTER_SEND_MSG_RING, &s, 1) < 0)
			return -errno;
		if (m->defer &&
		    syscall(SYS_io_uring_enter, m->fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
			return -errno;
		if (reap_them)
			reap(m);
	}
	return 0;
}

/* The kernel's SQ head to SQ_HEAD and CQ tail to CQ_TAIL, the CQ head
 * left at CQ_HEAD.  The last completions (as many as the ring holds
 * unreaped) are posted with the CQ head already where it was dumped, so
 * that the kernel's cache of free CQ slots is never beyond it. */
static int bring_indices(struct ring_maps *m, uint32_t sq_head, uint32_t cq_head, uint32_t cq_tail)
{
	uint32_t c1 = cq_head;
	int ret;

	if (c1 <= sq_head) {
		ret = submit_nops(m, c1, false);
		if (!ret)
			ret = submit_nops(m, sq_head - c1, true);
	} else {
		ret = submit_nops(m, sq_head, false);
		if (!ret)
			ret = post_cqes(m, c1 - sq_head, true);
	}
	if (!ret)
		ret = post_cqes(m, cq_tail - cq_head, false);
	if (ret)
		return ret;
	if (*ring_idx(m, OFF_SQ_HEAD) != sq_head || *ring_idx(m, OFF_CQ_TAIL) != cq_tail ||
	    *ring_idx(m, OFF_CQ_HEAD) != cq_head)
		return -EIO;
	return 0;
}

static int map_rings(struct ring_maps *m, const IoUringEntry *e, const struct io_uring_params *p)
{
	m->sq_entries = p->sq_entries;
	m->cq_entries = p->cq_entries;
	m->sq_mask = p->sq_entries - 1;
	m->cqe_size = e->setup_flags & IORING_SETUP_CQE32 ? 32 : 16;
	m->defer = e->setup_flags & LM_IORING_SETUP_DEFER_TASKRUN;
	m->sqe_size = e->setup_flags & IORING_SETUP_SQE128 ? 128 : 64;
	m->ring = mmap(NULL, e->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m->fd,
		       IORING_OFF_SQ_RING);
	if (m->ring == MAP_FAILED)
		return -errno;
	m->sqes = mmap(NULL, e->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m->fd,
		       IORING_OFF_SQES);
	if (m->sqes == MAP_FAILED) {
		munmap(m->ring, e->ring_len);
		return -errno;
	}
	m->array = e->setup_flags & LM_IORING_SETUP_NO_SQARRAY
		       ? NULL
		       : (uint32_t *)(m->ring + p->sq_off.array);
	return 0;
}

/* The dumped bytes over the new rings, kernel's indices already equal. */
static int fill_rings(struct task_files *tf, uint32_t desc, const IoUringEntry *e,
		      struct ring_maps *m)
{
	char why[200];
	int ret;

	if (pread(tf->data_fd, m->ring, e->ring_len, e->ring_off) != e->ring_len ||
	    pread(tf->data_fd, m->sqes, e->sqes_len, e->sqes_off) != e->sqes_len)
		return task_files_err(tf, desc, "can't read its rings from files-data.img: %s",
				      strerror(errno ?: EIO));
	ret = check_header(e, m->ring, why, sizeof(why));
	if (ret)
		return task_files_err(tf, desc, "%s", why);
	return 0;
}

static int make_ring(struct task_files *tf, uint32_t desc, const IoUringEntry *e)
{
	struct io_uring_params p = {.flags = e->setup_flags | IORING_SETUP_CQSIZE,
				    .cq_entries = e->cq_entries};
	struct ring_maps m = {.fd = -1};
	char hdr[RINGS_HDR];
	int ret;

	if (pread(tf->data_fd, hdr, sizeof(hdr), e->ring_off) != sizeof(hdr))
		return task_files_err(tf, desc, "can't read its ring from files-data.img: %s",
				      strerror(errno ?: EIO));
	ret = check_header(e, hdr, (char[200]){0}, 200);
	if (ret)
		return task_files_err(tf, desc, "its dumped ring header does not match its entry");
	m.fd = syscall(SYS_io_uring_setup, e->sq_entries, &p);
	if (m.fd < 0)
		return task_files_err(tf, desc,
				      "can't set up an io_uring instance of %u entries, "
				      "flags 0x%x: %s",
				      e->sq_entries, e->setup_flags, strerror(errno));
	if (p.sq_entries != e->sq_entries || p.cq_entries != e->cq_entries ||
	    ring_len(e->setup_flags, p.sq_entries, p.cq_entries) != e->ring_len) {
		close(m.fd);
		return task_files_err(tf, desc,
				      "io_uring_setup made %u SQ and %u CQ entries "
				      "where %u and %u were dumped",
				      p.sq_entries, p.cq_entries, e->sq_entries, e->cq_entries);
	}
	ret = map_rings(&m, e, &p);
	if (ret) {
		close(m.fd);
		return task_files_err(tf, desc, "can't map its new rings: %s", strerror(-ret));
	}
	ret = bring_indices(&m, e->sq_head, ring_u32(hdr, OFF_CQ_HEAD), e->cq_tail);
	if (ret)
		ret = task_files_err(tf, desc,
				     "can't bring its SQ head to %u and CQ tail to %u: "
				     "%s",
				     e->sq_head, e->cq_tail, strerror(-ret));
	else
		ret = fill_rings(tf, desc, e, &m);
	munmap(m.ring, e->ring_len);
	munmap(m.sqes, e->sqes_len);
	if (ret) {
		close(m.fd);
		return ret;
	}
	return m.fd;
}

static const FdinfoEntry *fd_of(const struct restore_plan *p, uint32_t fd, uint32_t *desc)
{
	for (size_t i = 0; i < p->nr_fds; i++)
		if (p->fds[i]->fd == fd) {
			*desc = p->fd_desc[i];
			return p->fds[i];
		}
	return NULL;
}

/* Once every fd is in place: the eventfd registered again, after the
 * no-ops of io_uring_open, which it must not count. */
static int io_uring_post(struct task_files *tf, uint32_t desc)
{
	const IoUringEntry *e = tf->plan->fdesc[desc].fe->io_uring;
	int efd = e->eventfd;

	if (!e->has_eventfd)
		return 0;
	if (syscall(SYS_io_uring_register, tf->file_fd[desc],
		    e->eventfd_async ? IORING_REGISTER_EVENTFD_ASYNC : IORING_REGISTER_EVENTFD,
		    &efd, 1) < 0)
		return task_files_err(tf, desc, "can't register the eventfd at fd %d: %s", efd,
				      strerror(errno));
	return 0;
}

/* Its eventfd is an eventfd of the process. */
static int io_uring_validate_plan(const struct restore_plan *p, uint32_t desc)
{
	const IoUringEntry *e = p->fdesc[desc].fe->io_uring;
	const FdinfoEntry *fd;
	uint32_t d;

	if (!e->has_eventfd)
		return 0;
	fd = fd_of(p, e->eventfd, &d);
	if (!fd || fd->type != FD_TYPE__FD_EVENTFD)
		return restore_plan_bad("files.img",
					"io_uring file id %u registers fd %u of pid "
					"%u as its eventfd, which is no eventfd",
					p->fdesc[desc].fe->id, e->eventfd, p->pid);
	return 0;
}

static int io_uring_open(struct task_files *tf, uint32_t desc)
{
	const IoUringEntry *e = tf->plan->fdesc[desc].fe->io_uring;
	int fd = make_ring(tf, desc, e);

	if (fd < 0)
		return fd;
	return task_files_install(tf, desc, fd);
}

/* The fd of PID holding the io_uring instance of inode ST, or -1. */
int io_uring_holder_fd(pid_t pid, const struct stat *st)
{
	char path[64];
	struct stat fs;
	int best = -1;
	DIR *dir;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fstatat(dirfd(dir), de->d_name, &fs, 0))
			continue;
		if (fs.st_dev == st->st_dev && fs.st_ino == st->st_ino && (best < 0 || fd < best))
			best = fd;
	}
	closedir(dir);
	return best;
}

int io_uring_validate_vmas(const struct restore_plan *p)
{
	for (size_t i = 0; i < p->mm->n_vmas; i++) {
		const VmaEntry *v = p->mm->vmas[i];
		const IoUringEntry *e;
		const FdinfoEntry *fd;
		uint64_t len;
		uint32_t desc;

		if (v->kind != VMA_KIND__VMA_IO_URING)
			continue;
		fd = fd_of(p, v->io_uring_fd, &desc);
		if (!fd || fd->type != FD_TYPE__FD_IO_URING)
			return restore_plan_bad("mm.img",
						"io_uring vma 0x%llx maps fd %u, which is "
						"no io_uring instance of pid %u",
						(unsigned long long)v->start, v->io_uring_fd,
						p->pid);
		e = p->fdesc[desc].fe->io_uring;
		len = v->pgoff == IORING_OFF_SQES ? e->sqes_len : e->ring_len;
		if (v->end - v->start > ((len + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1)))
			return restore_plan_bad("mm.img",
						"io_uring vma 0x%llx-0x%llx is longer than "
						"its rings (%llu bytes)",
						(unsigned long long)v->start,
						(unsigned long long)v->end,
						(unsigned long long)len);
	}
	return 0;
}

const struct fd_ops io_uring_fd_ops = {
    .type = FD_TYPE__FD_IO_URING,
    .name = "io_uring",
    .match = io_uring_match,
    .dump = io_uring_dump,
    .validate = io_uring_validate,
    .validate_plan = io_uring_validate_plan,
    .open = io_uring_open,
    .post = io_uring_post,
};
