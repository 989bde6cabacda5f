/* A target with a fanotify group of the content (permission) class at fd
 * 5, which lmproc refuses: it counts until SIGTERM, then checks that the
 * group is still there, of its class. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	char info[4096];
	ssize_t n;
	int g;

	test_init(argc, argv);
	g = fanotify_init(FAN_CLASS_CONTENT, O_RDONLY);
	if (g < 0 || dup2(g, 5) != 5)
		fail("fanotify_init: %s", strerror(errno));
	close(g);
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	n = test_read_file("/proc/self/fdinfo/5", info, sizeof(info) - 1);
	if (n < 0)
		fail("fd 5 is gone");
	info[n] = '\0';
	if (!strstr(info, "fanotify flags:4 "))
		fail("fd 5 is not the content-class group: %s", info);
	pass();
}
