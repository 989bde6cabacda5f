/* A target lmproc refuses: its epoll (fd 5) registered an eventfd as fd
 * 6, which was then closed while a dup (fd 7) keeps the eventfd, and the
 * registration, alive: no fd number leads to the registered file any
 * more.  It counts until SIGTERM, then checks that the epoll still wakes
 * for the eventfd. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 };
	volatile uint64_t counter = 0;
	uint64_t one = 1;
	int ep, efd;

	test_init(argc, argv);
	ep = epoll_create1(0);
	efd = eventfd(0, 0);
	if (ep < 0 || efd < 0 || dup2(ep, 5) != 5 || dup2(efd, 6) != 6 || dup2(efd, 7) != 7)
		fail("epoll/eventfd: %s", strerror(errno));
	close(ep);
	close(efd);
	if (epoll_ctl(5, EPOLL_CTL_ADD, 6, &ev))
		fail("epoll_ctl: %s", strerror(errno));
	close(6);
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (write(7, &one, sizeof(one)) != sizeof(one) || epoll_wait(5, &ev, 1, 5000) != 1 ||
	    ev.data.u64 != 42)
		fail("the epoll no longer wakes for the eventfd");
	pass();
}
