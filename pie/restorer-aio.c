/* AIO rings (io_setup(2)) made again in the restored task: a new ring of
 * the dumped size, whose kernel-side tail is brought to the dumped one by
 * completing one-byte writes to /dev/null (synchronous: each completes in
 * io_submit), reaped up to the dumped head by moving the ring's head as
 * io_getevents() would; then the dumped events are copied in and the
 * ring moves to the dumped address: the context id is the ring's
 * address, and the kernel follows the move (aio_ring_mremap). */
#include <stdint.h>
#include <linux/aio_abi.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/mman.h>

#include "pie-syscall.h"
#include "restorer-aio.h"

/* fs/aio.c struct aio_ring, without its io_events[]. */
struct aio_ring_header {
	uint32_t id, nr, head, tail, magic, compat_features, incompat_features, header_length;
};

#define SUBMIT_BATCH 64

/* R's tail of completions through CTX (a full turn more when the tail
 * had wrapped behind the head), the head never moved past the dumped
 * one: the events from there stay unreaped, and counted so, as at dump. */
static long advance_ring(uint64_t ctx, const struct restorer_aio_ring *r)
{
	struct aio_ring_header *ring = (struct aio_ring_header *)ctx;
	uint32_t count = r->tail >= r->head ? r->tail : r->nr + r->tail;
	struct iocb cb, *cbs[SUBMIT_BATCH];
	uint32_t done = 0;
	long fd, ret = 0;
	char byte = 0;

	if (!count)
		return 0;
	fd = sys_openat(AT_FDCWD, "/dev/null", O_WRONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	pie_memset(&cb, 0, sizeof(cb));
	cb.aio_lio_opcode = IOCB_CMD_PWRITE;
	cb.aio_fildes = fd;
	cb.aio_buf = (uint64_t)&byte;
	cb.aio_nbytes = 1;
	for (int i = 0; i < SUBMIT_BATCH; i++)
		cbs[i] = &cb;
	while (done < count) {
		ret = sys_io_submit(ctx, count - done < SUBMIT_BATCH ? count - done : SUBMIT_BATCH,
				    cbs);
		if (ret <= 0) {
			ret = ret ? ret : -EAGAIN;
			break;
		}
		done += ret;
		ring->head = done < r->head ? done : r->head;
		ret = 0;
	}
	sys_close(fd);
	return ret;
}

static long make_ring(const struct restorer_aio_ring *r)
{
	const uint64_t hdr = sizeof(struct aio_ring_header);
	aio_context_t ctx = 0;
	long ret;

	ret = sys_io_setup(r->nr_req, &ctx);
	if (ret)
		return ret;
	/* Another number of possible CPUs gives another ring. */
	if (((struct aio_ring_header *)ctx)->nr != r->nr)
		return -ERANGE;
	ret = advance_ring(ctx, r);
	if (ret)
		return ret;
	pie_memcpy((void *)(ctx + hdr), (const void *)(r->data + hdr), r->len - hdr);
	ret = sys_mremap(ctx, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED, r->addr);
	if (ret == (long)r->addr)
		return 0;
	return ret < 0 ? ret : -EFAULT;
}

long rst_aio_rings(struct restorer_args *a, uint64_t *index)
{
	const struct restorer_aio_ring *r = (const struct restorer_aio_ring *)a->aio_rings;
	long ret;

	for (uint32_t i = 0; i < a->nr_aio_rings; i++) {
		ret = make_ring(&r[i]);
		if (ret) {
			*index = i;
			return ret;
		}
	}
	return 0;
}
