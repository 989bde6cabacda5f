/* A target holding a read lease (F_SETLEASE) on fd 5, which lmproc
 * refuses: it counts until SIGTERM, then checks that it still holds the
 * lease, as a refused dump must leave it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	char path[4096];
	int f;

	test_init(argc, argv);
	test_path(path, sizeof(path), "leased");
	f = open(path, O_RDWR | O_CREAT, 0600);
	if (f < 0)
		fail("create %s: %s", path, strerror(errno));
	close(f);
	f = open(path, O_RDONLY);
	if (f < 0 || dup2(f, 5) != 5 || fcntl(5, F_SETLEASE, F_RDLCK))
		fail("lease on fd 5: %s", strerror(errno));
	close(f);
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (fcntl(5, F_GETLEASE) != F_RDLCK)
		fail("the lease is gone: %d", fcntl(5, F_GETLEASE));
	pass();
}
