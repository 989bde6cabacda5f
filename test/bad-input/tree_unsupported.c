/* A tree lmproc cannot dump yet: the root is plain, its child holds a
 * netlink socket at fd 7 with an answer queued (unread).  The child's pid
 * goes to DIR/child.pid.  Both count in busy loops; after SIGTERM the root
 * wakes the child (SIGUSR1), which checks that its socket still holds
 * that answer and answers again, and the root checks that the child ends
 * well: a refused dump of the tree leaves every process running exactly
 * as before. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "test.h"

static volatile sig_atomic_t woken;

static void on_usr1(int sig)
{
	(void)sig;
	woken = 1;
}

static int netlink_ask(int fd, unsigned seq)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = seq },
		.ifi = { .ifi_index = 1 },
	};

	return send(fd, &req, sizeof(req), 0) == sizeof(req);
}

/* The next message answers request SEQ. */
static int netlink_answered(int fd, unsigned seq)
{
	char reply[8192];
	struct nlmsghdr *h = (void *)reply;

	return recv(fd, reply, sizeof(reply), 0) >= (ssize_t)sizeof(*h) && h->nlmsg_seq == seq;
}

/* Says on READY once its socket holds the answer. */
static void child(int ready)
{
	volatile uint64_t counter = 0;
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), ok;

	signal(SIGUSR1, on_usr1);
	if (nl < 0 || dup2(nl, 7) != 7 || close(nl) || !netlink_ask(7, 1) ||
	    write(ready, "r", 1) != 1)
		_exit(2);
	close(ready);
	while (!woken)
		counter++;
	ok = netlink_answered(7, 1) && netlink_ask(7, 2) && netlink_answered(7, 2);
	_exit(ok && counter ? 0 : 3);
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	char path[4096], buf[32];
	int fd, st, n, ready[2];
	pid_t pid;

	test_init(argc, argv);
	if (pipe(ready))
		fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0)
		child(ready[1]);
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	close(ready[1]);
	if (read(ready[0], buf, 1) != 1)
		fail("child %d did not get ready", pid);
	close(ready[0]);
	test_path(path, sizeof(path), "child.pid");
	n = snprintf(buf, sizeof(buf), "%d\n", pid);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, n) != n || close(fd))
		fail("write %s: %s", path, strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	if (kill(pid, SIGUSR1) || waitpid(pid, &st, 0) != pid)
		fail("wake child %d: %s", pid, strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail("child %d ended with status 0x%x", pid, st);
	pass();
}
