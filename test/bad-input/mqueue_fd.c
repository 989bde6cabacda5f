/* A target lmproc refuses: a POSIX message queue (mq_open) at fd 5 with
 * one message in it.  It counts in a busy loop until SIGTERM, then checks
 * that the message is still there and removes the queue. */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
	volatile uint64_t counter = 0;
	char name[64], buf[64];
	mqd_t q;

	test_init(argc, argv);
	snprintf(name, sizeof(name), "/lmproc-test-mq-%d", getpid());
	q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
	if (q < 0 || dup2(q, 5) != 5)
		fail("mq_open %s: %s", name, strerror(errno));
	close(q);
	if (mq_unlink(name))
		fail("mq_unlink: %s", strerror(errno));
	if (mq_send(5, "queued", 6, 3))
		fail("mq_send: %s", strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (!counter)
		fail("the counter never ran");
	if (mq_receive(5, buf, sizeof(buf), NULL) != 6 || memcmp(buf, "queued", 6))
		fail("the queued message is gone");
	pass();
}
