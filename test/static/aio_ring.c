/* An AIO context (io_setup, as libaio and InnoDB without io_uring use
 * it) on a file of the test's directory.  Before the checkpoint the ring
 * went round once (its tail wrapped behind its head) and holds 3
 * completions not reaped yet.  After it the context id (the ring's
 * address) still works: the ring shows the same head, tail and events,
 * io_getevents returns those 3 completions, and new reads and writes
 * complete, one of them notifying an eventfd (IOCB_FLAG_RESFD).
 * With AIO_DONTDUMP=1 the ring is left out of core dumps
 * (MADV_DONTDUMP), which the dump refuses (test/bad-input/
 * refusal-cases.sh). */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define BLOCK 4096
#define PENDING 3

/* fs/aio.c struct aio_ring */
struct ring {
	unsigned int id, nr, head, tail, magic, compat_features, incompat_features, header_length;
	struct io_event events[];
};

static aio_context_t ctx;
static struct iocb cbs[PENDING + 2];
static char blocks[PENDING + 2][BLOCK];
static uint64_t seed;
static int fd;

static void fill(char *b, uint64_t n)
{
	for (int i = 0; i < BLOCK; i += 8) {
		uint64_t v = test_mix(seed + n * BLOCK + i);

		memcpy(b + i, &v, 8);
	}
}

static void prep(struct iocb *cb, int op, char *buf, uint64_t off, uint64_t data)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_lio_opcode = op;
	cb->aio_fildes = fd;
	cb->aio_buf = (uint64_t)(uintptr_t)buf;
	cb->aio_nbytes = BLOCK;
	cb->aio_offset = off;
	cb->aio_data = data;
}

static void submit(struct iocb *cb)
{
	struct iocb *one = cb;

	if (syscall(SYS_io_submit, ctx, 1, &one) != 1)
		fail("io_submit: %s", strerror(errno));
}

/* N events, waiting at most 10 s. */
static void reap(struct io_event *ev, long n, const char *when)
{
	struct timespec ts = { 10, 0 };
	long got = syscall(SYS_io_getevents, ctx, n, n, ev, &ts);

	if (got != n)
		fail("%s: io_getevents gave %ld of %ld events: %s", when, got, n,
		     got < 0 ? strerror(errno) : "timed out");
}

static void check_event(const struct io_event *ev, int i, const char *when)
{
	if (ev->data != 0x5000 + (uint64_t)i || ev->obj != (uint64_t)(uintptr_t)&cbs[i] ||
	    ev->res != BLOCK || ev->res2)
		fail("%s: event %d: data 0x%llx obj 0x%llx res %lld res2 %lld", when, i,
		     (unsigned long long)ev->data, (unsigned long long)ev->obj,
		     (long long)ev->res, (long long)ev->res2);
}

/* Round the ring once: tail wraps below head, then PENDING completions
 * (2 writes and a read of the first) are left in the ring. */
static void wrap_ring(struct ring *r)
{
	struct io_event ev;
	char tmp[BLOCK];

	for (unsigned int i = 0; i < r->nr - 1; i++) {
		fill(tmp, 100);
		prep(&cbs[0], IOCB_CMD_PWRITE, tmp, 100 * BLOCK, 0x5000);
		submit(&cbs[0]);
		reap(&ev, 1, "going round the ring");
	}
	for (int i = 0; i < 2; i++) {
		fill(blocks[i], i);
		prep(&cbs[i], IOCB_CMD_PWRITE, blocks[i], i * BLOCK, 0x5000 + i);
		submit(&cbs[i]);
	}
	prep(&cbs[2], IOCB_CMD_PREAD, blocks[2], 0, 0x5002);
	submit(&cbs[2]);
	/* Buffered I/O completes in io_submit; bounded anyway. */
	for (int i = 0; i < 10000 && (r->tail + r->nr - r->head) % r->nr < PENDING; i++)
		usleep(1000);
	if ((r->tail + r->nr - r->head) % r->nr != PENDING || r->tail >= r->head)
		fail("the ring has head %u, tail %u of %u", r->head, r->tail, r->nr);
}

int main(int argc, char **argv)
{
	struct io_event ev[PENDING + 2];
	char path[4096], want[BLOCK];
	struct ring *r, before;
	struct io_event was[PENDING];
	uint64_t count;
	int efd;

	test_init(argc, argv);
	seed = test_seed();
	test_path(path, sizeof(path), "aio.data");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	efd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0 || efd < 0 || syscall(SYS_io_setup, 16, &ctx))
		fail("file, eventfd or io_setup: %s", strerror(errno));
	r = (struct ring *)(uintptr_t)ctx;
	if (getenv("AIO_DONTDUMP") &&
	    madvise(r, (sizeof(*r) + r->nr * sizeof(struct io_event) + 4095) & ~4095UL,
		    MADV_DONTDUMP))
		fail("madvise(MADV_DONTDUMP) of the ring: %s", strerror(errno));
	wrap_ring(r);
	before = *r;
	for (int i = 0; i < PENDING; i++)
		was[i] = r->events[(r->head + i) % r->nr];

	test_waitsig();

	if (r->nr != before.nr || r->head != before.head || r->tail != before.tail ||
	    r->magic != before.magic)
		fail("ring at 0x%llx: %u events, head %u, tail %u, magic 0x%x; was %u, %u, %u, 0x%x",
		     (unsigned long long)ctx, r->nr, r->head, r->tail, r->magic, before.nr,
		     before.head, before.tail, before.magic);
	for (int i = 0; i < PENDING; i++)
		if (memcmp(&r->events[(r->head + i) % r->nr], &was[i], sizeof(was[i])))
			fail("the ring's event %d not reaped at the checkpoint changed", i);
	reap(ev, PENDING, "the events not reaped at the checkpoint");
	for (int i = 0; i < PENDING; i++)
		check_event(&ev[i], i, "after the checkpoint");
	fill(want, 0);
	if (memcmp(blocks[2], want, BLOCK))
		fail("the read completed before the checkpoint got other bytes");

	/* New requests: a write, and a read that notifies the eventfd. */
	fill(blocks[3], 3);
	prep(&cbs[3], IOCB_CMD_PWRITE, blocks[3], 3 * BLOCK, 0x5003);
	submit(&cbs[3]);
	memset(blocks[4], 0, BLOCK);
	prep(&cbs[4], IOCB_CMD_PREAD, blocks[4], BLOCK, 0x5004);
	cbs[4].aio_flags = IOCB_FLAG_RESFD;
	cbs[4].aio_resfd = efd;
	submit(&cbs[4]);
	reap(ev, 2, "new requests");
	for (int i = 0; i < 2; i++)
		check_event(&ev[i], ev[i].data - 0x5000, "new requests");
	fill(want, 1);
	if (memcmp(blocks[4], want, BLOCK))
		fail("a read after the checkpoint got other bytes than written before it");
	if (read(efd, &count, sizeof(count)) != sizeof(count) || count != 1)
		fail("the eventfd of IOCB_FLAG_RESFD counts %llu", (unsigned long long)count);
	if (pread(fd, want, BLOCK, 3 * BLOCK) != BLOCK || memcmp(want, blocks[3], BLOCK))
		fail("the write after the checkpoint is not in the file");
	pass();
}
