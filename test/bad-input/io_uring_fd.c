/* A target lmproc cannot dump: an io_uring instance at fd 5
 * (io_uring_setup(2) through syscall(), no liburing) in a state lmproc
 * refuses, chosen by IO_URING_KIND:
 *   inflight (default)  a read of an empty pipe submitted, not complete
 *   sqpoll              set up with IORING_SETUP_SQPOLL, its rings mapped
 *   files               with a registered file (IORING_REGISTER_FILES)
 *   nofd                its rings mapped, no fd left holding it
 *   evfd                an eventfd registered (IORING_REGISTER_EVENTFD),
 *                       then closed: no fd of the process holds it
 *   thread              set up with IORING_SETUP_SINGLE_ISSUER by a
 *                       thread other than the main one, which waits
 * It counts until SIGTERM, then checks that the ring still works: a
 * refused dump must leave it running exactly as before (the read in
 * flight completes once the pipe has a byte). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "test.h"

static struct io_uring_params p;
static unsigned char *ring;
static struct io_uring_sqe *sqes;
static int pipefd[2];
static char byte;

static unsigned int *at(unsigned int off)
{
	return (unsigned int *)(ring + off);
}

static void map_rings(int fd)
{
	size_t len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);

	if (p.sq_off.array + p.sq_entries * sizeof(unsigned int) > len)
		len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	ring = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		    IORING_OFF_SQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (ring == MAP_FAILED || sqes == MAP_FAILED)
		fail("mmap of the rings: %s", strerror(errno));
}

/* One SQE: OP on fd FD (a read of one byte, or a no-op), submitted. */
static void submit(int op, int fd)
{
	unsigned int tail = *at(p.sq_off.tail), idx = tail & *at(p.sq_off.ring_mask);

	memset(&sqes[idx], 0, sizeof(sqes[idx]));
	sqes[idx].opcode = op;
	sqes[idx].fd = fd;
	sqes[idx].addr = (uintptr_t)&byte;
	sqes[idx].len = op == IORING_OP_READ;
	sqes[idx].off = -1;
	sqes[idx].user_data = 0x77;
	at(p.sq_off.array)[idx] = idx;
	__atomic_store_n(at(p.sq_off.tail), tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, 5, 1, 0, IORING_ENTER_SQ_WAKEUP, NULL, 0) != 1)
		fail("io_uring_enter: %s", strerror(errno));
}

/* Waits for the completion of user_data 0x77, at most 10 s. */
static void wait_cqe(void)
{
	for (int i = 0; i < 10000; i++) {
		unsigned int head = *at(p.cq_off.head);

		if (head != __atomic_load_n(at(p.cq_off.tail), __ATOMIC_ACQUIRE)) {
			struct io_uring_cqe *c = (struct io_uring_cqe *)(ring + p.cq_off.cqes) +
						 (head & *at(p.cq_off.ring_mask));

			if (c->user_data != 0x77 || c->res < 0)
				fail("CQE user_data 0x%llx res %d",
				     (unsigned long long)c->user_data, c->res);
			*at(p.cq_off.head) = head + 1;
			return;
		}
		usleep(1000);
	}
	fail("no completion in 10 s");
}

static void *issuer(void *arg)
{
	(void)arg;
	p.flags = IORING_SETUP_SINGLE_ISSUER;
	if (dup2(syscall(SYS_io_uring_setup, 4, &p), 5) != 5)
		fail("io_uring_setup in a thread: %s", strerror(errno));
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	const char *kind = getenv("IO_URING_KIND") ?: "inflight";
	int fd;

	test_init(argc, argv);
	if (pipe(pipefd))
		fail("pipe: %s", strerror(errno));
	if (!strcmp(kind, "thread")) {
		pthread_t t;

		if (pthread_create(&t, NULL, issuer, NULL))
			fail("pthread_create");
		while (fcntl(5, F_GETFD) < 0)
			usleep(1000);
		test_ready();
		while (test_go())
			counter++;
		pass();
	}
	if (!strcmp(kind, "sqpoll")) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 100;
	}
	fd = syscall(SYS_io_uring_setup, 4, &p);
	if (fd < 0 || dup2(fd, 5) != 5)
		fail("io_uring_setup: %s", strerror(errno));
	if (fd != 5)
		close(fd);
	map_rings(5);
	if (!strcmp(kind, "inflight"))
		submit(IORING_OP_READ, pipefd[0]);
	if (!strcmp(kind, "files") &&
	    syscall(SYS_io_uring_register, 5, IORING_REGISTER_FILES, pipefd, 1) < 0)
		fail("IORING_REGISTER_FILES: %s", strerror(errno));
	if (!strcmp(kind, "nofd"))
		close(5);
	if (!strcmp(kind, "evfd")) {
		int efd = eventfd(0, 0);

		if (efd < 0 || syscall(SYS_io_uring_register, 5, IORING_REGISTER_EVENTFD, &efd, 1))
			fail("IORING_REGISTER_EVENTFD: %s", strerror(errno));
		close(efd);
	}
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (!strcmp(kind, "nofd"))
		pass();
	if (!strcmp(kind, "inflight")) {
		if (write(pipefd[1], "x", 1) != 1)
			fail("write to the pipe: %s", strerror(errno));
	} else {
		submit(IORING_OP_NOP, -1);
	}
	wait_cqe();
	pass();
}
