/* An io_uring instance (io_uring_setup(2) through syscall(), no liburing)
 * whose rings are mapped, as liburing and MariaDB's InnoDB map them (the
 * ring MADV_DONTFORK).  Before the checkpoint its indices moved apart:
 * no-ops reaped, no-ops with IOSQE_CQE_SKIP_SUCCESS (the SQ head moves,
 * the CQ tail does not), completions posted to it by IORING_OP_MSG_RING
 * (the CQ tail moves alone), so that the SQ head, the CQ tail and both
 * rings' slots are nowhere a fresh ring has them; then three completions
 * (a no-op, a read of a pipe, a message) are left unreaped and two
 * entries written into the SQ, not submitted.  After it: the rings show
 * the same indices and the same unreaped completions, the two entries
 * are submitted and complete, and a new no-op and read complete with the
 * indices going on from where they were.  The ring's eventfd
 * (IORING_REGISTER_EVENTFD) counts the completions after the checkpoint,
 * and nothing in between. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "test.h"

#define ENTRIES 256
/* io_uring_flags.c sets these: setup flags and the CQ size they ask. */
#ifndef SETUP_FLAGS
#define SETUP_FLAGS 0
#define CQ_ENTRIES 0
#endif
#define SQE_SIZE (SETUP_FLAGS & IORING_SETUP_SQE128 ? 128 : 64)
#define CQE_SIZE (SETUP_FLAGS & IORING_SETUP_CQE32 ? 32 : 16)
/* include/uapi/linux/io_uring.h (6.6): no SQ index array */
#define SETUP_NO_SQARRAY (1U << 16)
#define REAPED 1000
#define SKIPPED 300
#define MESSAGES 500
/* include/uapi/linux/io_uring.h (6.13): a message without a ring */
#define REGISTER_SEND_MSG_RING 31

static struct io_uring_params p;
static unsigned char *ring;
static unsigned char *sqes;
static int rfd, efd, pipefd[2];
static uint64_t seed;

static unsigned int *at(unsigned int off)
{
	return (unsigned int *)(ring + off);
}

static struct io_uring_cqe *cqe(unsigned int i)
{
	return (struct io_uring_cqe *)(ring + p.cq_off.cqes +
				       (size_t)(i & *at(p.cq_off.ring_mask)) * CQE_SIZE);
}

/* The next SQ entry, in place; the tail moves with submit_tail(). */
static struct io_uring_sqe *sqe_at(unsigned int n)
{
	unsigned int idx = (*at(p.sq_off.tail) + n) & *at(p.sq_off.ring_mask);

	struct io_uring_sqe *s = (struct io_uring_sqe *)(sqes + (size_t)idx * SQE_SIZE);

	if (!(SETUP_FLAGS & SETUP_NO_SQARRAY))
		at(p.sq_off.array)[idx] = idx;
	memset(s, 0, SQE_SIZE);
	return s;
}

static void prep_nop(struct io_uring_sqe *s, uint64_t data, int flags)
{
	s->opcode = IORING_OP_NOP;
	s->flags = flags;
	s->user_data = data;
}

static void prep_read(struct io_uring_sqe *s, void *buf, unsigned int len, uint64_t data)
{
	s->opcode = IORING_OP_READ;
	s->fd = pipefd[0];
	s->addr = (uintptr_t)buf;
	s->len = len;
	s->off = -1;
	s->user_data = data;
}

static void advance_tail(unsigned int n)
{
	__atomic_store_n(at(p.sq_off.tail), *at(p.sq_off.tail) + n, __ATOMIC_RELEASE);
}

static void enter(unsigned int submit, unsigned int wait, const char *what)
{
	long ret = syscall(SYS_io_uring_enter, rfd, submit, wait, wait ? IORING_ENTER_GETEVENTS : 0,
			   NULL, 0);

	if (ret != (long)submit)
		fail("%s: io_uring_enter(%u, %u) gave %ld: %s", what, submit, wait, ret,
		     strerror(errno));
}

static void reap_all(void)
{
	__atomic_store_n(at(p.cq_off.head), __atomic_load_n(at(p.cq_off.tail), __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
}

static void nops(unsigned int n, int flags)
{
	while (n) {
		unsigned int k = n > ENTRIES ? ENTRIES : n;

		for (unsigned int i = 0; i < k; i++)
			prep_nop(sqe_at(i), 1, flags);
		advance_tail(k);
		enter(k, 0, "no-ops");
		reap_all();
		n -= k;
	}
}

static void message(uint64_t data, unsigned int res)
{
	struct io_uring_sqe m = {.opcode = IORING_OP_MSG_RING, .fd = rfd};

	m.off = data;
	m.len = res;
	if (syscall(SYS_io_uring_register, -1, REGISTER_SEND_MSG_RING, &m, 1) < 0)
		fail("IORING_REGISTER_SEND_MSG_RING: %s", strerror(errno));
	/* With DEFER_TASKRUN it is task work until completions are asked. */
	if (syscall(SYS_io_uring_enter, rfd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		fail("io_uring_enter(GETEVENTS): %s", strerror(errno));
}

static void put_pipe(uint64_t v)
{
	if (write(pipefd[1], &v, sizeof(v)) != sizeof(v))
		fail("write to the pipe: %s", strerror(errno));
}

/* What the eventfd counted since it was last read. */
static uint64_t signals(void)
{
	uint64_t n = 0;

	if (read(efd, &n, sizeof(n)) != sizeof(n) && errno != EAGAIN)
		fail("read of the eventfd: %s", strerror(errno));
	return n;
}

/* The completion at I is DATA with RES. */
static void check_cqe(unsigned int i, uint64_t data, int res, const char *what)
{
	const struct io_uring_cqe *c = cqe(i);

	if (c->user_data != data || c->res != res)
		fail("%s: CQE %u is user_data 0x%llx res %d, not 0x%llx %d", what, i,
		     (unsigned long long)c->user_data, c->res, (unsigned long long)data, res);
}

static void setup(void)
{
	size_t len;

	p.flags = SETUP_FLAGS;
	p.cq_entries = CQ_ENTRIES;
	rfd = syscall(SYS_io_uring_setup, ENTRIES, &p);
	if (rfd < 0)
		fail("io_uring_setup: %s", strerror(errno));
	if (!(p.features & IORING_FEAT_SINGLE_MMAP))
		fail("no IORING_FEAT_SINGLE_MMAP");
	len = p.cq_off.cqes + p.cq_entries * CQE_SIZE;
	if (!(SETUP_FLAGS & SETUP_NO_SQARRAY) && p.sq_off.array + p.sq_entries * 4 > len)
		len = p.sq_off.array + p.sq_entries * 4;
	ring = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, rfd,
		    IORING_OFF_SQ_RING);
	sqes = mmap(NULL, p.sq_entries * SQE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, rfd, IORING_OFF_SQES);
	if (ring == MAP_FAILED || sqes == MAP_FAILED)
		fail("mmap of the rings: %s", strerror(errno));
	if (madvise(ring, len, MADV_DONTFORK))
		fail("madvise(MADV_DONTFORK): %s", strerror(errno));
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0 || syscall(SYS_io_uring_register, rfd, IORING_REGISTER_EVENTFD, &efd, 1) < 0)
		fail("IORING_REGISTER_EVENTFD: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	unsigned int sq_head, sq_tail, cq_head, cq_tail;
	unsigned char was[3][32];
	uint64_t got = 0, got2 = 0, got3 = 0;

	test_init(argc, argv);
	seed = test_seed();
	if (pipe(pipefd))
		fail("pipe: %s", strerror(errno));
	setup();
	nops(REAPED, 0);
	nops(SKIPPED, IOSQE_CQE_SKIP_SUCCESS);
	for (int i = 0; i < MESSAGES; i++) {
		message(2, 0);
		reap_all();
	}

	/* Left unreaped: a no-op, a read of the pipe, a message. */
	put_pipe(seed);
	prep_nop(sqe_at(0), 0xa1, 0);
	prep_read(sqe_at(1), &got, sizeof(got), 0xa2);
	advance_tail(2);
	enter(2, 2, "the no-op and read left unreaped");
	message(0xa3, 33);
	/* Written, not submitted: a no-op and a read. */
	put_pipe(seed + 1);
	prep_nop(sqe_at(0), 0xb1, 0);
	prep_read(sqe_at(1), &got2, sizeof(got2), 0xb2);
	advance_tail(2);

	sq_head = *at(p.sq_off.head);
	sq_tail = *at(p.sq_off.tail);
	cq_head = *at(p.cq_off.head);
	cq_tail = *at(p.cq_off.tail);
	if (sq_head != REAPED + SKIPPED + 2 || sq_tail != sq_head + 2 ||
	    cq_tail != REAPED + MESSAGES + 3 || cq_head != cq_tail - 3 || got != seed)
		fail("before: SQ %u-%u, CQ %u-%u, read 0x%llx", sq_head, sq_tail, cq_head, cq_tail,
		     (unsigned long long)got);
	for (int i = 0; i < 3; i++)
		memcpy(was[i], cqe(cq_head + i), CQE_SIZE);
	if (!signals())
		fail("the eventfd was never signalled");

	test_waitsig();

	if (signals())
		fail("the eventfd counts completions no one posted");
	if (*at(p.sq_off.head) != sq_head || *at(p.sq_off.tail) != sq_tail ||
	    *at(p.cq_off.head) != cq_head || *at(p.cq_off.tail) != cq_tail)
		fail("after: SQ %u-%u, CQ %u-%u; was SQ %u-%u, CQ %u-%u", *at(p.sq_off.head),
		     *at(p.sq_off.tail), *at(p.cq_off.head), *at(p.cq_off.tail), sq_head, sq_tail,
		     cq_head, cq_tail);
	for (int i = 0; i < 3; i++)
		if (memcmp(cqe(cq_head + i), was[i], CQE_SIZE))
			fail("the unreaped CQE %d changed", i);
	check_cqe(cq_head, 0xa1, 0, "unreaped");
	check_cqe(cq_head + 1, 0xa2, sizeof(got), "unreaped");
	check_cqe(cq_head + 2, 0xa3, 33, "unreaped");
	reap_all();

	/* The two entries written before the checkpoint. */
	enter(2, 2, "the entries written before the checkpoint");
	check_cqe(cq_tail, 0xb1, 0, "submitted after");
	check_cqe(cq_tail + 1, 0xb2, sizeof(got2), "submitted after");
	if (got2 != seed + 1)
		fail("the read written before the checkpoint got 0x%llx", (unsigned long long)got2);
	if (!signals())
		fail("the eventfd was not signalled for the completions after the checkpoint");
	reap_all();

	/* New ones. */
	put_pipe(seed + 2);
	prep_nop(sqe_at(0), 0xc1, 0);
	prep_read(sqe_at(1), &got3, sizeof(got3), 0xc2);
	advance_tail(2);
	enter(2, 2, "new entries");
	check_cqe(cq_tail + 2, 0xc1, 0, "new");
	check_cqe(cq_tail + 3, 0xc2, sizeof(got3), "new");
	if (got3 != seed + 2)
		fail("a new read got 0x%llx", (unsigned long long)got3);
	if (*at(p.sq_off.head) != sq_tail + 2 || *at(p.cq_off.tail) != cq_tail + 4)
		fail("the indices did not go on: SQ head %u, CQ tail %u", *at(p.sq_off.head),
		     *at(p.cq_off.tail));
	pass();
}
