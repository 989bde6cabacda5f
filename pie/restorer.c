/* The restorer: runs inside the task being restored, after lmproc's fork
 * has set up its files, and rebuilds the dumped address space around
 * itself and the other threads with their tids.  No libc, no allocation,
 * no globals: everything it needs and everything it reports lives in
 * struct restorer_args (pie/include/restorer.h).  It never returns: it
 * hands control back to lmproc (its tracer) by raising args->stop_sig
 * while the other threads park, and lmproc sets the final registers. */
#include <stdint.h>
#include <linux/errno.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/sched.h>

#include "pie-syscall.h"
#include "restorer-aio.h"
#include "restorer-attrs.h"
#include "restorer-io-uring.h"
#include "restorer.h"

#define CLOCK_MONOTONIC 1
#define SIG_SETMASK 2
#define SIGKILL 9
#define SIGSTOP 19
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE_FLAG 128
#define INT_MAX 0x7fffffff
/* include/uapi/linux/shm.h */
#define SHM_RDONLY 010000
#define SHM_EXEC 0100000
/* include/uapi/asm-generic/mman-common.h (6.13), as in uapi-compat.h,
 * which this freestanding code can't include. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
/* A thread of this process. */
#define THREAD_CLONE_FLAGS \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM)
/* ... that tells when it is gone. */
#define HELPER_CLONE_FLAGS (THREAD_CLONE_FLAGS | CLONE_CHILD_CLEARTID)

#define sys_set_tid_address(p) SYS1(__NR_set_tid_address, p)
#define sys_set_robust_list(h, l) SYS2(__NR_set_robust_list, h, l)
#define sys_pwrite(fd, buf, n, off) SYS4(__NR_pwrite64, fd, buf, n, off)
#define sys_mlock2(a, l, f) SYS3(__NR_mlock2, a, l, f)
#define sys_mlockall(f) SYS1(__NR_mlockall, f)
/* include/uapi/asm-generic/unistd.h (Linux 6.10), not in 6.1's headers. */
#define NR_MSEAL 462
#define AT_FDCWD (-100)
#define O_RDWR 2
#define O_CLOEXEC 02000000

/* include/uapi/linux/sched.h struct clone_args (CLONE_ARGS_SIZE_VER2). */
struct clone3_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
	uint64_t cgroup;
};

/* include/uapi/asm-generic/signal.h stack_t. */
struct sigaltstack_t {
	uint64_t ss_sp;
	int32_t ss_flags;
	int32_t pad;
	uint64_t ss_size;
};

void restorer_main(struct restorer_args *a);
long restorer_spawn(unsigned long flags, uint64_t stack_top, volatile uint32_t *ctid,
		    void (*fn)(struct restorer_args *), struct restorer_args *arg);
long restorer_clone3(struct clone3_args *args, unsigned long size);

static int is_err(long ret)
{
	return (unsigned long)ret >= -4095UL;
}

static long fail(struct restorer_args *a, uint32_t step, uint64_t index, long err)
{
	a->err = err;
	a->step = step;
	a->err_index = index;
	a->status = RESTORER_FAILED;
	return err;
}

static uint64_t mono_ns(void)
{
	struct {
		long sec;
		long nsec;
	} ts = {0, 0};

	sys_clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.sec * 1000000000ULL + ts.nsec;
}

/* Everything but the area and the current vDSO block goes: lmproc's code,
 * libc, heap and stack may sit where the dumped VMAs must be. */
static long unmap_others(struct restorer_args *a)
{
	uint64_t from = 0;
	long ret;

	for (uint32_t i = 0; i < a->nr_keep; i++) {
		if (a->keep[i].start > from) {
			ret = sys_munmap(from, a->keep[i].start - from);
			if (ret)
				return fail(a, RST_STEP_UNMAP, from, ret);
		}
		from = a->keep[i].end;
	}
	if (from < a->unmap_end) {
		ret = sys_munmap(from, a->unmap_end - from);
		if (ret)
			return fail(a, RST_STEP_UNMAP, from, ret);
	}
	return 0;
}

/* vvar, vvar_vclock and vdso only work at the same distance from each
 * other, so they move by one delta; glibc cached the vDSO's address, so
 * they must land where they were dumped. */
static long move_vdso(struct restorer_args *a)
{
	uint64_t start[RESTORER_MAX_SPECIAL];
	long ret;

	for (uint32_t i = 0; i < a->nr_special; i++)
		start[i] = a->special[i].start;
	for (int m = 0; m < 2; m++) {
		int64_t d = a->vdso_moves[m];

		if (!d)
			continue;
		for (uint32_t i = 0; i < a->nr_special; i++) {
			uint64_t len = a->special[i].end - a->special[i].start;

			ret = sys_mremap(start[i], len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
					 start[i] + d);
			if (is_err(ret))
				return fail(a, RST_STEP_VDSO, i, ret);
			start[i] += d;
		}
	}
	return 0;
}

/* A VMA filled before the fork (mem-cow.c) moves, its pages as they are:
 * the premap area is free in every dumped layout, so nothing is in the
 * way and the move clobbers nothing. */
static long map_vmas(struct restorer_args *a)
{
	struct restorer_vma *v = (struct restorer_vma *)a->vmas;
	long ret;

	for (uint32_t i = 0; i < a->nr_vmas; i++, v++) {
		if (v->premap)
			ret = sys_mremap(v->premap, v->end - v->start, v->end - v->start,
					 MREMAP_MAYMOVE | MREMAP_FIXED, v->start);
		else if (v->io_uring)
			continue;
		else if (v->shmid >= 0)
			ret = sys_shmat(v->shmid, v->start,
					(v->map_prot & PROT_WRITE ? 0 : SHM_RDONLY) |
						(v->map_prot & PROT_EXEC ? SHM_EXEC : 0));
		else
			ret = sys_mmap(v->start, v->end - v->start, v->map_prot,
				       v->flags | MAP_FIXED, v->fd, v->pgoff);
		if (is_err(ret))
			return fail(a, RST_STEP_MAP, i, ret);
		if ((uint64_t)ret != v->start)
			return fail(a, RST_STEP_MAP, i, -EFAULT);
	}
	/* Last: the kernel places them only in free space (io_uring). */
	v = (struct restorer_vma *)a->vmas;
	for (uint32_t i = 0; i < a->nr_vmas; i++, v++) {
		ret = v->io_uring ? rst_io_uring_map(v) : 0;
		if (ret)
			return fail(a, RST_STEP_MAP, i, ret);
	}
	if (a->premap_area.start) {
		ret = sys_munmap(a->premap_area.start, a->premap_area.end - a->premap_area.start);
		if (ret)
			return fail(a, RST_STEP_UNMAP, a->premap_area.start, ret);
	}
	return 0;
}

/* preadv() until the batch is complete; a short read moves through the
 * iovecs (they are ours to change). */
static long read_batch(int fd, struct restorer_iovec *iov, uint32_t nr, uint64_t off)
{
	while (nr) {
		long n = sys_preadv(fd, iov, nr, off);

		if (n == -EINTR)
			continue;
		if (n < 0)
			return n;
		if (n == 0)
			return -EIO;
		off += n;
		while (nr && (uint64_t)n >= iov->len) {
			n -= iov->len;
			iov++;
			nr--;
		}
		if (nr) {
			iov->base += n;
			iov->len -= n;
		}
	}
	return 0;
}

/* A batch of a VMA that must stay unaccounted ("ac" absent: read-only
 * private memory the task's debugger, or lmproc's parasite, wrote through
 * /proc/PID/mem): made writable to be filled, the kernel would account
 * it for good, so its pages go in the way they came, forced.  A few pages
 * at most, through a bounce buffer on the stack. */
static long force_fill(struct restorer_args *a, const struct restorer_batch *b,
		       const struct restorer_iovec *iov)
{
	uint8_t buf[4096];
	uint64_t off = b->off;
	long n;

	if (b->level >= a->nr_levels || a->mem_fd < 0)
		return -EINVAL;
	for (uint32_t k = 0; k < b->nr_iov; k++) {
		for (uint64_t done = 0; done < iov[k].len; done += n, off += n) {
			uint64_t want = iov[k].len - done;

			if (want > sizeof(buf))
				want = sizeof(buf);
			n = sys_pread(a->pages_fds[b->level], buf, want, off);
			if (n <= 0)
				return n ? n : -EIO;
			n = sys_pwrite(a->mem_fd, buf, n, iov[k].base + done);
			if (n <= 0)
				return n ? n : -EIO;
		}
	}
	return 0;
}

/* Populating a run in one call costs a fraction of letting the read fault
 * its pages in one by one (12-23 us per first-touch fault here). */
static void fill_range(struct restorer_args *a, uint32_t from, uint32_t to,
		       struct restorer_fill_result *r)
{
	struct restorer_batch *b = (struct restorer_batch *)a->batches + from;
	struct restorer_iovec *iovs = (struct restorer_iovec *)a->iovs;
	int populate = 1;
	long ret;

	for (uint32_t i = from; i < to; i++, b++) {
		if (b->force) {
			ret = force_fill(a, b, iovs + b->iov);
			if (ret) {
				r->step = RST_STEP_READ;
				goto err;
			}
			r->pages += b->bytes >> 12;
			continue;
		}
		for (uint32_t k = 0; populate && k < b->nr_iov; k++) {
			const struct restorer_iovec *v = iovs + b->iov + k;

			ret = sys_madvise(v->base, v->len, MADV_POPULATE_WRITE);
			if (ret == -EINVAL) {
				populate = 0; /* before Linux 5.14: let the read fault */
			} else if (ret) {
				r->step = RST_STEP_POPULATE;
				goto err;
			}
		}
		ret = b->level < a->nr_levels ?
			      read_batch(a->pages_fds[b->level], iovs + b->iov, b->nr_iov, b->off) :
			      -EINVAL;
		if (ret) {
			r->step = RST_STEP_READ;
			goto err;
		}
		r->pages += b->bytes >> 12;
	}
	return;
err:
	r->index = b - (struct restorer_batch *)a->batches;
	r->err = ret;
}

/* /proc/self/mem, if a batch must be forced in: through the task's /proc
 * handle, which is closed either way. */
static long open_mem(struct restorer_args *a)
{
	const struct restorer_batch *b = (const struct restorer_batch *)a->batches;
	const char path[] = "self/mem";
	long fd = 0;

	a->mem_fd = -1;
	for (uint32_t i = 0; i < a->nr_batches; i++, b++) {
		if (!b->force)
			continue;
		fd = sys_openat(a->proc_fd, path, O_RDWR | O_CLOEXEC, 0);
		if (fd < 0) {
			sys_close(a->proc_fd);
			return fail(a, RST_STEP_READ, i, fd);
		}
		a->mem_fd = fd;
		break;
	}
	sys_close(a->proc_fd);
	a->proc_fd = -1;
	return 0;
}

static void fill_helper(struct restorer_args *a)
{
	fill_range(a, a->helper_from, a->nr_batches, &a->helper);
}

/* Page copies are CPU-bound here (per-page work in the kernel, far below
 * memory bandwidth), so a second CPU fills the second half. */
static long fill_pages(struct restorer_args *a)
{
	struct restorer_fill_result own = {0, 0, 0, 0};
	uint32_t split = a->helper_from;
	long ret;

	ret = open_mem(a);
	if (ret)
		return ret;

	if (split < a->nr_batches) {
		a->helper_tid = 1;
		ret = restorer_spawn(HELPER_CLONE_FLAGS, a->helper_stack, &a->helper_tid,
				     fill_helper, a);
		if (ret < 0) {
			/* No second thread: fill everything here. */
			a->helper_tid = 0;
			split = a->nr_batches;
		}
	}
	fill_range(a, 0, split, &own);
	while (a->helper_tid)
		sys_futex(&a->helper_tid, FUTEX_WAIT, 1, 0);
	a->pages_restored = own.pages + a->helper.pages;
	if (a->mem_fd >= 0)
		sys_close(a->mem_fd);
	a->mem_fd = -1;
	if (own.err)
		return fail(a, own.step, own.index, own.err);
	if (a->helper.err)
		return fail(a, a->helper.step, a->helper.index, a->helper.err);
	return 0;
}

static const struct {
	uint32_t bit;
	int advice;
} madv_map[] = {
    {RST_MADV_DONTFORK, MADV_DONTFORK},	    {RST_MADV_WIPEONFORK, MADV_WIPEONFORK},
    {RST_MADV_DONTDUMP, MADV_DONTDUMP},	    {RST_MADV_HUGEPAGE, MADV_HUGEPAGE},
    {RST_MADV_NOHUGEPAGE, MADV_NOHUGEPAGE}, {RST_MADV_MERGEABLE, MADV_MERGEABLE},
    {RST_MADV_RANDOM, MADV_RANDOM},	    {RST_MADV_SEQUENTIAL, MADV_SEQUENTIAL},
};

static long finish_vmas(struct restorer_args *a)
{
	struct restorer_vma *v = (struct restorer_vma *)a->vmas;
	long ret;

	for (uint32_t i = 0; i < a->nr_vmas; i++, v++) {
		uint64_t len = v->end - v->start;

		if (v->map_prot != v->prot) {
			ret = sys_mprotect(v->start, len, v->prot);
			if (ret)
				return fail(a, RST_STEP_PROTECT, i, ret);
		}
		for (uint32_t k = 0; k < sizeof(madv_map) / sizeof(madv_map[0]); k++) {
			if (!(v->madv & madv_map[k].bit))
				continue;
			ret = sys_madvise(v->start, len, madv_map[k].advice);
			if (ret)
				return fail(a, RST_STEP_MADVISE, i, ret);
		}
	}
	return 0;
}

/* An accounted read-only anonymous VMA with no pages needs an anon_vma
 * (one page faulted in and dropped), or mprotect() drops its "ac". */
static long prepare_accounted(struct restorer_args *a)
{
	struct restorer_vma *v = (struct restorer_vma *)a->vmas;
	long ret;

	for (uint32_t i = 0; i < a->nr_vmas; i++, v++) {
		if (!(v->madv & RST_VMA_ANON_VMA))
			continue;
		ret = sys_madvise(v->start, 4096, MADV_POPULATE_WRITE);
		if (!ret)
			ret = sys_madvise(v->start, 4096, MADV_DONTNEED);
		if (ret)
			return fail(a, RST_STEP_MADVISE, i, ret);
	}
	return 0;
}

/* Guard pages (MADV_GUARD_INSTALL) once the pages around them are in:
 * the dump saved none under them. */
static long install_guards(struct restorer_args *a)
{
	struct restorer_range *g = (struct restorer_range *)a->guards;
	long ret;

	for (uint32_t i = 0; i < a->nr_guards; i++) {
		ret = sys_madvise(g[i].start, g[i].end - g[i].start, MADV_GUARD_INSTALL);
		if (ret)
			return fail(a, RST_STEP_GUARD, i, ret);
	}
	return 0;
}

/* Once the pages are in (mlock() would fault in what is missing) and the
 * protections final: locks, then sealing, which forbids any later
 * change, then what the mm gives mappings made from now on. */
static long finish_vma_attrs(struct restorer_args *a)
{
	struct restorer_vma *v = (struct restorer_vma *)a->vmas;
	long ret;

	for (uint32_t i = 0; i < a->nr_vmas; i++, v++) {
		if (!(v->madv & RST_VMA_LOCK))
			continue;
		ret = sys_mlock2(v->start, v->end - v->start,
				 v->madv & RST_VMA_LOCK_ONFAULT ? MLOCK_ONFAULT : 0);
		if (ret)
			return fail(a, RST_STEP_MLOCK, i, ret);
	}
	v = (struct restorer_vma *)a->vmas;
	for (uint32_t i = 0; i < a->nr_vmas; i++, v++) {
		if (!(v->madv & RST_VMA_SEAL))
			continue;
		ret = SYS3(NR_MSEAL, v->start, v->end - v->start, 0);
		if (ret)
			return fail(a, RST_STEP_MSEAL, i, ret);
	}
	if (a->mlockall_flags) {
		ret = sys_mlockall(a->mlockall_flags);
		if (ret)
			return fail(a, RST_STEP_THP, 1, ret);
	}
	return 0;
}

/* Before any page is filled: a task that had THP off must not get huge
 * pages from the fill. */
static long restore_thp(struct restorer_args *a)
{
	long ret;

	if (!a->thp_disable)
		return 0;
	ret = sys_prctl(PR_SET_THP_DISABLE, 1, a->thp_disable & ~1u, 0, 0);
	return ret ? fail(a, RST_STEP_THP, 0, ret) : 0;
}

static long restore_mm(struct restorer_args *a)
{
	long ret = sys_prctl(PR_SET_MM, PR_SET_MM_MAP, &a->mm_map, sizeof(a->mm_map), 0);

	return ret ? fail(a, RST_STEP_MM_MAP, 0, ret) : 0;
}

static long close_service_fds(struct restorer_args *a)
{
	int32_t *fds = (int32_t *)a->close_fds;
	long ret;

	for (uint32_t i = 0; i < a->nr_close_fds; i++) {
		ret = sys_close(fds[i]);
		if (ret)
			return fail(a, RST_STEP_CLOSE, fds[i], ret);
	}
	return 0;
}

/* The kernel's struct flock; F_SETLK is 6. */
struct kernel_flock {
	int16_t type;
	int16_t whence;
	int64_t start;
	int64_t len;
	int32_t pid;
};

static long take_posix_locks(struct restorer_args *a)
{
	const struct restorer_lock *l = (const struct restorer_lock *)a->locks;
	long ret;

	for (uint32_t i = 0; i < a->nr_locks; i++) {
		struct kernel_flock fl = { .type = (int16_t)l[i].type, .whence = 0,
					   .start = (int64_t)l[i].start,
					   .len = (int64_t)l[i].len };

		ret = sys_fcntl(l[i].fd, 6, &fl);
		if (ret)
			return fail(a, RST_STEP_LOCK, i, ret);
	}
	return 0;
}

#define sys_getresuid(r, e, s) SYS3(__NR_getresuid, r, e, s)

/* include/uapi/asm-generic/fcntl.h */
#define RST_F_GETFL 3
#define RST_F_SETFL 4
#define RST_F_SETSIG 10
#define RST_F_SETOWN_EX 15
#define RST_O_ASYNC 020000

struct kernel_f_owner_ex {
	int32_t type;
	int32_t pid;
};

/* The kernel keeps the uids of whoever set the owner, and signals it only
 * if they match the owner's: set it as those uids (this thread's alone,
 * by the raw call), lmproc's, which the task still has, given back after. */
static long set_owner(const struct restorer_fown *f)
{
	struct kernel_f_owner_ex o = { (int32_t)f->type, f->pid };
	uint32_t r, e, s;
	long ret, back;

	ret = sys_getresuid(&r, &e, &s);
	if (ret || !f->pid || (r == f->uid && e == f->euid))
		return ret ?: sys_fcntl(f->fd, RST_F_SETOWN_EX, &o);
	ret = sys_setresuid(f->uid, f->euid, -1);
	if (ret)
		return ret;
	ret = sys_fcntl(f->fd, RST_F_SETOWN_EX, &o);
	back = sys_setresuid(r, e, -1);
	return ret ?: back;
}

/* Only a file's fasync method sets O_ASYNC (and registers the fd the
 * signal's siginfo names): -EOPNOTSUPP if it has none. */
static long set_async(int fd)
{
	long fl = sys_fcntl(fd, RST_F_GETFL, 0), ret;

	if (fl >= 0 && !(fl & RST_O_ASYNC)) {
		ret = sys_fcntl(fd, RST_F_SETFL, fl | RST_O_ASYNC);
		if (ret)
			return ret;
		fl = sys_fcntl(fd, RST_F_GETFL, 0);
	}
	if (fl < 0)
		return fl;
	return fl & RST_O_ASYNC ? 0 : -EOPNOTSUPP;
}

/* Owner and signal before O_ASYNC: nothing goes elsewhere meanwhile.  A
 * terminal given O_ASYNC without an owner takes the caller as one: an
 * ownerless description gets its owner cleared again after. */
static long restore_fowns(struct restorer_args *a)
{
	const struct restorer_fown *f = (const struct restorer_fown *)a->fowns;
	long ret;

	for (uint32_t i = 0; i < a->nr_fowns; i++) {
		ret = set_owner(&f[i]);
		if (!ret && f[i].sig)
			ret = sys_fcntl(f[i].fd, RST_F_SETSIG, f[i].sig);
		if (!ret && f[i].async)
			ret = set_async(f[i].fd);
		if (!ret && f[i].async && !f[i].pid)
			ret = set_owner(&f[i]);
		if (ret)
			return fail(a, RST_STEP_FOWN, i, ret);
	}
	return 0;
}

/* Every disposition is set, the default ones too: the task inherited
 * lmproc's. */
static long restore_sigactions(struct restorer_args *a)
{
	long ret;

	for (int sig = 1; sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		ret = sys_rt_sigaction(sig, &a->sigactions[sig - 1], 0, sizeof(uint64_t));
		if (ret)
			return fail(a, RST_STEP_SIGACTION, sig, ret);
	}
	return 0;
}

static long thread_fail(struct restorer_thread *t, uint32_t step, uint64_t index, long err)
{
	t->err = err;
	t->step = step;
	t->index = index;
	return err;
}

/* All signals are blocked: the queued ones wait for the dumped mask.  A
 * signal the kernel made can only be queued by its receiver itself. */
static long queue_signals(struct restorer_args *a, struct restorer_thread *t)
{
	struct restorer_siginfo *si = (struct restorer_siginfo *)a->siginfos + t->first_sig;
	long pid = sys_getpid();
	long ret;

	for (uint32_t i = 0; i < t->nr_sigs; i++, si++) {
		if (si->shared)
			ret = sys_rt_sigqueueinfo(pid, si->sig, si->info);
		else
			ret = sys_rt_tgsigqueueinfo(pid, t->tid, si->sig, si->info);
		if (ret)
			return thread_fail(t, RST_STEP_SIGQUEUE, t->first_sig + i, ret);
	}
	return 0;
}

/* What each thread can only set for itself. */
static long setup_thread(struct restorer_args *a, struct restorer_thread *t)
{
	long ret;

	if (t->clear_child_tid)
		sys_set_tid_address(t->clear_child_tid);
	if (t->robust_len) {
		ret = sys_set_robust_list(t->robust_head, t->robust_len);
		if (ret)
			return thread_fail(t, RST_STEP_ROBUST, t->robust_head, ret);
	}
	if (t->has_altstack) {
		struct sigaltstack_t ss = {t->ss_sp, (int32_t)t->ss_flags, 0, t->ss_size};

		ret = sys_sigaltstack(&ss, 0);
		if (ret)
			return thread_fail(t, RST_STEP_ALTSTACK, t->ss_sp, ret);
	}
	if (t->comm[0]) {
		ret = sys_prctl(PR_SET_NAME, t->comm, 0, 0, 0);
		if (ret)
			return thread_fail(t, RST_STEP_COMM, 0, ret);
	}
	if (t->has_rseq) {
		ret = sys_rseq(t->rseq_ptr, t->rseq_size, 0, t->rseq_sig);
		if (ret)
			return thread_fail(t, RST_STEP_RSEQ, t->rseq_ptr, ret);
	}
	ret = rst_thread_attrs(t);
	if (ret)
		return ret;
	return queue_signals(a, t);
}

/* A clone: waits until the memory is in place, sets itself up, says so
 * and parks in a futex wait until lmproc takes it over (restore-finish.c
 * interrupts it and sets its dumped registers). */
static void __attribute__((noreturn)) restorer_thread(struct restorer_thread *t)
{
	struct restorer_args *a = (struct restorer_args *)t->args;

	while (!a->threads_go)
		sys_futex(&a->threads_go, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, 0);
	/* Credentials last: a thread that gave up its privileges could not
	 * set the rest. */
	if (!setup_thread(a, t))
		rst_thread_creds(a, t);
	__atomic_add_fetch(&a->threads_ready, 1, __ATOMIC_SEQ_CST);
	sys_futex(&a->threads_ready, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, 0);
	for (;;)
		sys_futex(&t->park, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, 0);
}

static long thread_failed(struct restorer_args *a, uint32_t i)
{
	struct restorer_thread *t = (struct restorer_thread *)a->threads + i;

	a->err_thread = i;
	return fail(a, t->step, t->index, t->err);
}

/* Every other thread with its dumped tid, first of all: nothing else (the
 * fill helper) may take one of those tids before. */
static long clone_threads(struct restorer_args *a)
{
	struct restorer_thread *t = (struct restorer_thread *)a->threads;
	struct clone3_args ca;
	long ret;

	for (uint32_t i = 1; i < a->nr_threads; i++) {
		uint64_t *top = (uint64_t *)t[i].stack_top;
		int32_t tid = t[i].tid;

		ca.flags = THREAD_CLONE_FLAGS;
		ca.pidfd = 0;
		ca.child_tid = 0;
		ca.parent_tid = 0;
		ca.exit_signal = 0;
		ca.stack = t[i].stack_top - RESTORER_THREAD_STACK_SIZE;
		ca.stack_size = RESTORER_THREAD_STACK_SIZE - 16;
		ca.tls = 0;
		ca.set_tid = (uint64_t)&tid;
		ca.set_tid_size = 1;
		ca.cgroup = 0;
		/* restorer_clone3 starts the clone with these two popped. */
		top[-2] = (uint64_t)restorer_thread;
		top[-1] = (uint64_t)&t[i];
		ret = restorer_clone3(&ca, sizeof(ca));
		if (ret != tid) {
			thread_fail(&t[i], RST_STEP_CLONE, tid, ret < 0 ? ret : -ESRCH);
			return thread_failed(a, i);
		}
	}
	return 0;
}

/* Lets the clones set themselves up and waits until all have. */
static long run_threads(struct restorer_args *a)
{
	struct restorer_thread *t = (struct restorer_thread *)a->threads;
	uint32_t ready;

	if (setup_thread(a, &t[0]))
		return thread_failed(a, 0);
	if (a->nr_threads < 2)
		return 0;
	a->threads_go = 1;
	sys_futex(&a->threads_go, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, 0);
	while ((ready = a->threads_ready) < a->nr_threads - 1)
		sys_futex(&a->threads_ready, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, ready, 0);
	for (uint32_t i = 1; i < a->nr_threads; i++)
		if (t[i].err)
			return thread_failed(a, i);
	return 0;
}

/* Before mlockall(MCL_FUTURE), which would lock the new rings. */
static long restore_aio(struct restorer_args *a)
{
	uint64_t index = 0;
	long ret = rst_aio_rings(a, &index);

	return ret ? fail(a, RST_STEP_AIO, index, ret) : 0;
}

/* After every thread is done: what the process shares, its timers
 * (armed now so that none fires early), then the main thread's
 * credentials and what they reset. */
static long restore_process(struct restorer_args *a)
{
	struct restorer_thread *t = (struct restorer_thread *)a->threads;
	uint32_t step = RST_STEP_NONE;
	uint64_t index = 0;
	long ret;

	ret = rst_process_attrs(a, &step, &index);
	if (!ret)
		ret = rst_timers(a, &step, &index);
	if (ret)
		return fail(a, step, index, ret);
	if (rst_thread_creds(a, &t[0]))
		return thread_failed(a, 0);
	ret = rst_dumpable(a, &step, &index);
	return ret ? fail(a, step, index, ret) : 0;
}

static long restore_all(struct restorer_args *a)
{
	long ret;

	ret = clone_threads(a);
	if (!ret)
		ret = unmap_others(a);
	if (!ret)
		ret = move_vdso(a);
	if (!ret)
		ret = restore_thp(a);
	if (!ret)
		ret = map_vmas(a);
	if (!ret)
		ret = fill_pages(a);
	a->t_filled_ns = mono_ns();
	if (!ret)
		ret = prepare_accounted(a);
	if (!ret)
		ret = install_guards(a);
	if (!ret)
		ret = finish_vmas(a);
	if (!ret)
		ret = restore_aio(a);
	if (!ret)
		ret = finish_vma_attrs(a);
	if (!ret)
		ret = restore_mm(a);
	if (!ret)
		ret = close_service_fds(a);
	if (!ret)
		ret = take_posix_locks(a);
	if (!ret)
		ret = restore_fowns(a);
	if (!ret)
		ret = restore_sigactions(a);
	if (!ret)
		ret = run_threads(a);
	if (!ret)
		ret = restore_process(a);
	if (!ret && a->fail_at_end)
		ret = fail(a, RST_STEP_FAULT, 0, -EIO);
	return ret;
}

/* The stop signal is the only one unblocked and lmproc chose one that is
 * not queued, so it is delivered at once and merges with nothing; lmproc
 * sees it as a signal-delivery stop and discards it. */
static void stop_for_lmproc(struct restorer_args *a)
{
	uint64_t mask = ~(1ULL << (a->stop_sig - 1));
	long pid = sys_getpid();

	sys_rt_sigprocmask(SIG_SETMASK, &mask, 0, sizeof(mask));
	sys_tgkill(pid, pid, a->stop_sig);
	/* Only reached if lmproc let the signal through: nothing sane to
	 * return to. */
	fail(a, RST_STEP_STOP, 0, -EINTR);
	for (;;)
		sys_exit_group(127);
}

void restorer_main(struct restorer_args *a)
{
	uint64_t all = ~0ULL;

	/* Every signal blocked, glibc's own (32, 33) too, which its
	 * sigprocmask() leaves out: the threads cloned here inherit the mask,
	 * and a timer armed below, or a signal queued back, stays pending
	 * until lmproc sets each thread's dumped mask; to a thread that did
	 * not block it, a SIGEV_THREAD timer's signal 32 was fatal. */
	sys_rt_sigprocmask(SIG_SETMASK, &all, 0, sizeof(all));
	a->t_entry_ns = mono_ns();
	if (!restore_all(a)) {
		a->t_done_ns = mono_ns();
		a->status = RESTORER_DONE;
	}
	stop_for_lmproc(a);
}
