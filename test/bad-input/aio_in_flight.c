/* A target whose AIO context (io_setup) has a request in flight: a poll
 * (IOCB_CMD_POLL) of an empty pipe, which nothing completes, beside a
 * read of a regular file submitted and reaped first (so the per-CPU
 * request caches are not empty).  It counts until SIGTERM, then writes
 * into the pipe and checks the poll completes: a refused dump must leave
 * the request in flight. */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	struct iocb rd = { .aio_lio_opcode = IOCB_CMD_PREAD }, pl = { .aio_lio_opcode = IOCB_CMD_POLL };
	struct iocb *one[1];
	struct io_event ev;
	struct timespec ts = { 5, 0 };
	volatile uint64_t counter = 0;
	aio_context_t ctx = 0;
	char buf[64];
	int p[2], f;

	test_init(argc, argv);
	f = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (f < 0 || pipe(p) || syscall(SYS_io_setup, 32, &ctx))
		fail("setup: %s", strerror(errno));
	rd.aio_fildes = f;
	rd.aio_buf = (uintptr_t)buf;
	rd.aio_nbytes = sizeof(buf);
	one[0] = &rd;
	if (syscall(SYS_io_submit, ctx, 1, one) != 1 ||
	    syscall(SYS_io_getevents, ctx, 1, 1, &ev, &ts) != 1)
		fail("a read: %s", strerror(errno));
	pl.aio_fildes = p[0];
	pl.aio_buf = POLLIN;
	one[0] = &pl;
	if (syscall(SYS_io_submit, ctx, 1, one) != 1)
		fail("a poll: %s", strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (write(p[1], "x", 1) != 1 || syscall(SYS_io_getevents, ctx, 1, 1, &ev, &ts) != 1 ||
	    ev.obj != (uintptr_t)&pl)
		fail("the poll did not complete: %s", strerror(errno));
	pass();
}
