/* A tree lmproc cannot dump yet: the root is plain, its child holds a
 * netlink socket at fd 7.  The child's pid goes to DIR/child.pid.  Both
 * count in busy loops; after SIGTERM the root wakes the child (SIGUSR1),
 * which checks that its socket still answers, and the root checks that the
 * child ends well: a refused dump of the tree leaves every process running
 * exactly as before. */
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

static int netlink_answers(int fd)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
	};
	char reply[8192];

	return send(fd, &req, sizeof(req), 0) == sizeof(req) && recv(fd, reply, sizeof(reply), 0) > 0;
}

static void child(void)
{
	volatile uint64_t counter = 0;
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (nl < 0 || dup2(nl, 7) != 7 || close(nl))
		_exit(2);
	signal(SIGUSR1, on_usr1);
	while (!woken)
		counter++;
	_exit(netlink_answers(7) && counter ? 0 : 3);
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	char path[4096], buf[32];
	int fd, st, n;
	pid_t pid;

	test_init(argc, argv);
	pid = fork();
	if (pid == 0)
		child();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
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
