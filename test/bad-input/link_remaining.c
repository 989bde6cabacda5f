/* A target lmproc refuses: fd 5, a file whose name was unlinked while a
 * second hard link to it remains (/proc shows "PATH (deleted)", the link
 * count is 1).  It counts in a busy loop until SIGTERM, then checks that
 * fd 5 still reads what was written, through the remaining name too. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	char a[4096], b[4096], buf[8];
	int fd;

	test_init(argc, argv);
	test_path(a, sizeof(a), "first-name");
	test_path(b, sizeof(b), "second-name");
	fd = open(a, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || dup2(fd, 5) != 5 || write(5, "linked", 6) != 6)
		fail("open %s: %s", a, strerror(errno));
	close(fd);
	if (link(a, b) || unlink(a))
		fail("link %s: %s", b, strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (pread(5, buf, 6, 0) != 6 || memcmp(buf, "linked", 6))
		fail("fd 5 no longer reads its data");
	fd = open(b, O_RDONLY);
	if (fd < 0 || read(fd, buf, 6) != 6 || memcmp(buf, "linked", 6))
		fail("%s no longer reads the data", b);
	pass();
}
