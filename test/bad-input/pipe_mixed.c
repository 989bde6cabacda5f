/* A target lmproc refuses: a pipe at fds 5 and 6 holding a page of plain
 * bytes and after them a packet: its write end was put in packet mode
 * (O_DIRECT) after the plain write.  It counts until SIGTERM, then checks
 * that the pipe still holds the page and then the packet (read alone):
 * a refused dump must leave it running exactly as before. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define PAGE 4096

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	static char page[PAGE], buf[2 * PAGE];
	int p[2];

	test_init(argc, argv);
	memset(page, 'p', sizeof(page));
	if (pipe2(p, O_NONBLOCK) || dup2(p[0], 5) != 5 || dup2(p[1], 6) != 6)
		fail("pipe: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	if (write(6, page, PAGE) != PAGE || fcntl(6, F_SETFL, O_NONBLOCK | O_DIRECT) ||
	    write(6, "bytes", 5) != 5)
		fail("filling the pipe: %s", strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (read(5, buf, sizeof(buf)) != PAGE + 5 || memcmp(buf, page, PAGE) ||
	    memcmp(buf + PAGE, "bytes", 5) || read(5, buf, 1) >= 0)
		fail("the pipe does not hold the page and the packet");
	pass();
}
