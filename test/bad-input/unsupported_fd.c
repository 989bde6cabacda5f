/* A target lmproc cannot dump yet: it holds a pipe at fds 5 and 6.  It
 * counts in a busy loop until SIGTERM, then checks the pipe still carries
 * data and the counter kept counting: a refused dump must leave it
 * running exactly as before. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	uint64_t last = 0;
	int p[2];
	char c;

	test_init(argc, argv);
	if (pipe(p) || dup2(p[0], 5) != 5 || dup2(p[1], 6) != 6)
		fail("pipe: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	if (write(6, "q", 1) != 1)
		fail("write to pipe: %s", strerror(errno));
	test_ready();
	while (test_go()) {
		counter++;
		if (counter <= last)
			fail("counter went backwards: %lu after %lu", (unsigned long)counter,
			     (unsigned long)last);
		last = counter;
	}
	if (!counter)
		fail("the counter never ran");
	if (read(5, &c, 1) != 1 || c != 'q')
		fail("the byte in the pipe is gone");
	if (write(6, "z", 1) != 1 || read(5, &c, 1) != 1 || c != 'z')
		fail("the pipe no longer works: %s", strerror(errno));
	pass();
}
