/* A target lmproc refuses to dump: a pty pair (master fd 5, slave fd 6)
 * with bytes queued both ways, which nothing can read without taking
 * them.  It counts until SIGTERM, then checks that both queues still hold
 * exactly their bytes: a refused dump leaves it as it was. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "test.h"

static void expect(int fd, const char *want)
{
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		fail("fd %d holds %zd bytes, not \"%s\": %s", fd, n, want,
		     n < 0 ? strerror(errno) : "other bytes");
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	int m, s, unlock = 0;
	struct termios t;

	test_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (m < 0 || ioctl(m, TIOCSPTLCK, &unlock) || dup2(m, 5) != 5)
		fail("posix_openpt: %s", strerror(errno));
	s = open(ptsname(m), O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (s < 0 || dup2(s, 6) != 6 || tcgetattr(6, &t))
		fail("slave: %s", strerror(errno));
	close(m);
	close(s);
	cfmakeraw(&t);
	if (tcsetattr(6, TCSANOW, &t) || write(5, "to slave", 8) != 8 ||
	    write(6, "to master", 9) != 9)
		fail("queue bytes: %s", strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	expect(6, "to slave");
	expect(5, "to master");
	pass();
}
