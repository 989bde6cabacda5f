/* Owns AIO rings (io_setup(2), libaio; InnoDB without io_uring): the
 * mapping the kernel makes for a context, whose address is the context
 * id the application holds.  Dump saves the whole ring (its header with
 * head and tail, and its events: the completions not reaped yet travel
 * with it) as a VMA_AIO entry; restore checks it and the restorer makes
 * the context again with io_setup, brings its head and tail to the
 * dumped ones, copies the events in and moves the ring to its address
 * (pie/restorer-aio.c).
 *
 * Requests still in flight cannot be seen from user space (the ring
 * shows completions only, and io_getevents would reap them) nor submitted
 * again: the dump counts them from the kernel's context through a BPF
 * iterator (task/kstate-iter.c); a task frozen for a dump still gets its
 * disk I/O completed into the ring, so the dump waits up to 200 ms for
 * them, and refuses those that still wait (IOCB_CMD_POLL, a pipe).  A
 * ring mapping a child inherited across fork, with no context behind it,
 * is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "aio.h"
#include "common.h"
#include "infect.h"
#include "kstate-iter.h"
#include "log.h"
#include "restore.h"

/* fs/aio.c */
#define AIO_RING_MAGIC 0xa10a10a1
#define AIO_RING_COMPAT_FEATURES 1
#define AIO_RING_INCOMPAT_FEATURES 0
#define AIO_EVENT_SIZE 32 /* struct io_event */
/* Rings above this (aio-max-nr's default allows 65536 events, 4 MiB)
 * are refused rather than carried in the restorer's area. */
#define AIO_MAX_RING (16ULL << 20)
/* How long a dump waits for a context's requests in flight to complete. */
#define AIO_WAIT_STEPS 20
#define AIO_WAIT_US 10000

struct aio_ring_header {
	uint32_t id, nr, head, tail, magic, compat_features, incompat_features, header_length;
};

/* VmFlags of a ring as io_setup() maps it (a shared read-write mapping
 * that can't grow: VM_DONTEXPAND), and soft-dirty. */
static const char *const ring_flags[] = { "rd", "wr", "sh", "mr", "mw", "ms", "de", "sd" };

bool aio_ring_mapping(const char *path, const struct stat *st)
{
	/* An inode of the aio filesystem: no file type, named "[aio]". */
	return !(st->st_mode & S_IFMT) &&
	       (!strcmp(path, "/[aio]") || !strcmp(path, "/[aio] (deleted)"));
}

static bool ring_flag(const char *w)
{
	for (size_t i = 0; i < ARRAY_SIZE(ring_flags); i++)
		if (!strcmp(w, ring_flags[i]))
			return true;
	return false;
}

/* The first of the N VmFlags WORDS that io_setup() does not give, or
 * NULL. */
static const char *odd_flag(char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!ring_flag(words[i]))
			return words[i];
	return NULL;
}

int aio_check_vma(pid_t pid, const struct vma *v)
{
	char buf[sizeof(v->vm_flags)], *words[64], *save, *w;
	const char *odd;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", v->vm_flags);
	for (w = strtok_r(buf, " ", &save); w && n < ARRAY_SIZE(words); w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	odd = odd_flag(words, n);
	if (!odd && v->prot == (PROT_READ | PROT_WRITE) && (v->flags & MAP_SHARED))
		return 0;
	pr_err("pid %d mapping 0x%lx-0x%lx is an AIO ring (io_setup) %s%s: not supported\n", pid,
	       (unsigned long)v->start, (unsigned long)v->end,
	       odd ? "with the VmFlag " : "whose protection was changed", odd ? odd : "");
	return -EOPNOTSUPP;
}

/* io_getevents(ctx, 0, 0, NULL, NULL) looks the context up (by the id
 * in the ring's header and its address) and reaps nothing, nor waits:
 * 0 for a context of the task's mm, -EINVAL for none. */
int aio_check_contexts(struct parasite_ctl *ctl, pid_t pid, const struct vm_area_list *vl)
{
	long r;
	int ret;

	for (size_t i = 0; i < vl->nr; i++) {
		const struct vma *v = &vl->vmas[i];

		if (v->kind != VMA_KIND__VMA_AIO)
			continue;
		ret = parasite_syscall(ctl, &r, __NR_io_getevents, v->start, 0, 0, 0, 0, 0);
		if (ret)
			return ret;
		if (!r)
			continue;
		if (r == -EINVAL)
			pr_err("pid %d mapping 0x%lx-0x%lx is an AIO ring but no AIO context of "
			       "pid %d (a mapping inherited across fork from the process that "
			       "called io_setup): not supported\n",
			       pid, (unsigned long)v->start, (unsigned long)v->end, pid);
		else
			pr_err("pid %d mapping 0x%lx-0x%lx is an AIO ring: io_getevents on it "
			       "in the task: %s\n",
			       pid, (unsigned long)v->start, (unsigned long)v->end, strerror(-r));
		return r == -EINVAL ? -EOPNOTSUPP : (int)r;
	}
	return 0;
}

/* Why the LEN bytes of a ring are not one the kernel made, or NULL. */
static const char *ring_why(const uint8_t *d, size_t len, char *why, size_t size)
{
	struct aio_ring_header h;

	if (len < PAGE_SIZE || !PAGE_ALIGNED(len) || len > AIO_MAX_RING) {
		snprintf(why, size, "%zu bytes (page-aligned, at most %llu)", len, AIO_MAX_RING);
		return why;
	}
	memcpy(&h, d, sizeof(h));
	if (h.magic != AIO_RING_MAGIC || h.compat_features != AIO_RING_COMPAT_FEATURES ||
	    h.incompat_features != AIO_RING_INCOMPAT_FEATURES || h.header_length != sizeof(h))
		snprintf(why, size, "header magic 0x%x, features %u/%u, length %u", h.magic,
			 h.compat_features, h.incompat_features, h.header_length);
	else if (h.nr != (len - sizeof(h)) / AIO_EVENT_SIZE)
		snprintf(why, size, "%u events in %zu bytes", h.nr, len);
	else if (h.head >= h.nr || h.tail >= h.nr)
		snprintf(why, size, "head %u, tail %u of %u events", h.head, h.tail, h.nr);
	else
		return NULL;
	return why;
}

static int in_flight_err(pid_t pid, const struct vma *v, const char *what)
{
	pr_err("pid %d mapping 0x%lx-0x%lx is an AIO ring (io_setup) whose context %s\n", pid,
	       (unsigned long)v->start, (unsigned long)v->end, what);
	return -EOPNOTSUPP;
}

/* The context's requests submitted and not completed, counted from the
 * kernel's own counts (task/kstate-iter.c).  Disk I/O completes into the
 * ring while the task is frozen: the dump waits a little for it, and
 * refuses what still waits (a poll, a pipe, a socket), which restore could
 * not submit again. */
static int check_in_flight(pid_t pid, const struct vma *v)
{
	struct kstate_aio_rec r;
	char what[160];
	long n = 0;

	for (int i = 0; i <= AIO_WAIT_STEPS; i++) {
		int ret = kstate_aio(pid, v->start, &r);

		if (ret) {
			snprintf(what, sizeof(what), "lmproc can't ask for its requests in flight "
				 "(BPF iterator): %s", strerror(-ret));
			return in_flight_err(pid, v, what);
		}
		if (r.avail_cpus == KSTATE_UNKNOWN)
			return in_flight_err(pid, v, "has per-CPU request counts the BPF iterator "
					     "can't read: its requests in flight are unknown");
		n = (long)r.nr_events - 1 - r.avail - r.avail_cpus - r.completed;
		if (n <= 0)
			return 0;
		usleep(AIO_WAIT_US);
	}
	snprintf(what, sizeof(what), "has requests in flight (%ld, submitted and not completed "
		 "in %d ms), which restore can't submit again: not supported", n,
		 AIO_WAIT_STEPS * AIO_WAIT_US / 1000);
	return in_flight_err(pid, v, what);
}

int aio_dump_ring(pid_t pid, const struct vma *v, VmaEntry *e)
{
	size_t len = v->end - v->start;
	char path[64], why[96];
	uint8_t *d;
	ssize_t n;
	int fd;

	if (len > AIO_MAX_RING) {
		pr_err("pid %d mapping 0x%lx-0x%lx is an AIO ring of %zu bytes: lmproc restores "
		       "rings up to %llu\n",
		       pid, (unsigned long)v->start, (unsigned long)v->end, len, AIO_MAX_RING);
		return -EOPNOTSUPP;
	}
	fd = check_in_flight(pid, v);
	if (fd)
		return fd;
	d = malloc(len);
	if (!d)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : pread(fd, d, len, v->start);
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)len) {
		pr_perror("Can't read the AIO ring of pid %d at 0x%lx", pid, (unsigned long)v->start);
		free(d);
		return -EIO;
	}
	if (ring_why(d, len, why, sizeof(why))) {
		pr_err("pid %d mapping 0x%lx-0x%lx is an AIO ring (io_setup) lmproc does not "
		       "know: %s\n",
		       pid, (unsigned long)v->start, (unsigned long)v->end, why);
		free(d);
		return -EOPNOTSUPP;
	}
	e->has_aio_ring = true;
	e->aio_ring.data = d;
	e->aio_ring.len = len;
	return 0;
}

int aio_check_entry(const char *img, const VmaEntry *v)
{
	const char *odd = odd_flag(v->vm_flags, v->n_vm_flags);
	char why[96];

	if (!v->has_aio_ring || v->aio_ring.len != v->end - v->start)
		return restore_plan_bad(img, "AIO ring 0x%llx: %zu bytes for a vma of %llu",
					(unsigned long long)v->start,
					v->has_aio_ring ? v->aio_ring.len : 0,
					(unsigned long long)(v->end - v->start));
	if (v->prot != (PROT_READ | PROT_WRITE) || v->flags != MAP_SHARED || v->has_file ||
	    v->has_shmem || odd)
		return restore_plan_bad(img, "AIO ring 0x%llx: prot 0x%x, flags 0x%x, VmFlag %s",
					(unsigned long long)v->start, v->prot, v->flags,
					odd ? odd : "-");
	if (ring_why(v->aio_ring.data, v->aio_ring.len, why, sizeof(why)))
		return restore_plan_bad(img, "AIO ring 0x%llx: %s", (unsigned long long)v->start,
					why);
	return 0;
}

size_t aio_area_size(const MmEntry *mm)
{
	size_t n = 0;

	for (size_t i = 0; i < mm->n_vmas; i++)
		if (mm->vmas[i]->kind == VMA_KIND__VMA_AIO)
			n += sizeof(struct restorer_aio_ring) + mm->vmas[i]->aio_ring.len;
	return n;
}

/* io_setup() doubles what it is asked (after raising it to 4 per
 * possible CPU) and rounds the ring up to pages: half of nr less one
 * gives the same ring back, as long as 4 per CPU is not more.  The
 * restorer checks the ring it got. */
static uint32_t nr_req_of(uint32_t nr)
{
	return (nr - 2) / 2;
}

void aio_fill_args(const MmEntry *mm, uint64_t area, void *buf, struct restorer_args *a)
{
	struct restorer_aio_ring *r = buf;
	uint32_t n = 0;
	size_t off;

	for (size_t i = 0; i < mm->n_vmas; i++)
		n += mm->vmas[i]->kind == VMA_KIND__VMA_AIO;
	a->nr_aio_rings = n;
	a->aio_rings = area;
	off = n * sizeof(*r);
	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];
		struct aio_ring_header h;

		if (v->kind != VMA_KIND__VMA_AIO)
			continue;
		memcpy(&h, v->aio_ring.data, sizeof(h));
		memcpy((uint8_t *)buf + off, v->aio_ring.data, v->aio_ring.len);
		*r++ = (struct restorer_aio_ring){
		    .addr = v->start,
		    .len = v->aio_ring.len,
		    .data = area + off,
		    .nr_req = nr_req_of(h.nr),
		    .nr = h.nr,
		    .head = h.head,
		    .tail = h.tail,
		};
		off += v->aio_ring.len;
	}
}
