/* A target lmproc cannot dump: an io_uring instance at fd 5
 * (io_uring_setup(2) through syscall(), no liburing).  With IO_URING_MAP=1
 * its submission ring is mapped too, as MariaDB's InnoDB does, which the
 * dump meets before the fd.  It counts until SIGTERM, then checks that the
 * ring still takes a no-op and that the mapping still shows the ring's
 * head: a refused dump must leave it running exactly as before. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "test.h"

/* One IORING_OP_NOP submitted and reaped through the syscalls only. */
static void check_ring(int fd, const struct io_uring_params *p, unsigned char *sq)
{
	unsigned int tail = *(unsigned int *)(sq + p->sq_off.tail);
	unsigned int head = *(unsigned int *)(sq + p->sq_off.head);

	if (head != tail)
		fail("the mapped ring shows head %u, tail %u", head, tail);
	if (syscall(SYS_io_uring_enter, fd, 0, 0, 0, NULL, 0) < 0)
		fail("io_uring_enter on fd %d: %s", fd, strerror(errno));
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	struct io_uring_params p;
	unsigned char *sq = NULL;
	const char *map = getenv("IO_URING_MAP");
	int fd;

	test_init(argc, argv);
	memset(&p, 0, sizeof(p));
	fd = syscall(SYS_io_uring_setup, 4, &p);
	if (fd < 0 || dup2(fd, 5) != 5)
		fail("io_uring_setup: %s", strerror(errno));
	close(fd);
	if (map && map[0] == '1') {
		sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned int),
			  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, 5,
			  IORING_OFF_SQ_RING);
		if (sq == MAP_FAILED)
			fail("mmap of the submission ring: %s", strerror(errno));
	}
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (sq)
		check_ring(5, &p, sq);
	else if (syscall(SYS_io_uring_enter, 5, 0, 0, 0, NULL, 0) < 0)
		fail("io_uring_enter on fd 5: %s", strerror(errno));
	pass();
}
