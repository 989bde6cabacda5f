/* A target lmproc refuses to dump: a SysV segment of 3 pages whose middle
 * page was unmapped, so two mappings hold parts of it (shmat() can only
 * attach whole segments again), after a shared anonymous mapping the
 * dump meets first.  It counts until SIGTERM, then checks that both
 * still hold their bytes and that the counter ran: a refused dump leaves
 * it as it was.  The segment is removed at the end. */
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "test.h"

#define PAGE 4096
#define SIZE (3 * PAGE)

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	uint64_t seed;
	unsigned char *anon, *seg;
	int id;

	test_init(argc, argv);
	seed = test_seed();
	anon = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	id = shmget(IPC_PRIVATE, SIZE, IPC_CREAT | 0600);
	if (anon == MAP_FAILED || id < 0)
		fail("shared memory: %s", strerror(errno));
	seg = shmat(id, NULL, 0);
	if (seg == (void *)-1 || shmctl(id, IPC_RMID, NULL))
		fail("shmat and IPC_RMID of %d: %s", id, strerror(errno));
	for (int i = 0; i < SIZE; i++) {
		anon[i] = test_mix(seed + i);
		seg[i] = test_mix(seed - i);
	}
	if (munmap(seg + PAGE, PAGE))
		fail("munmap the middle page of segment %d: %s", id, strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	for (int i = 0; i < SIZE; i++)
		if (anon[i] != (unsigned char)test_mix(seed + i) ||
		    ((i < PAGE || i >= 2 * PAGE) && seg[i] != (unsigned char)test_mix(seed - i)))
			fail("shared memory byte %d changed", i);
	pass();
}
