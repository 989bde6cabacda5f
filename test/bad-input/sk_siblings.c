/* A unix connection between two siblings: the root forks L, which listens
 * on an abstract name and accepts, and C, which connects.  Restore makes
 * such a connection by connect and accept in the listener's process, and
 * that process must be above both ends: here it is not, so a restore must
 * be refused before anything is forked.  With SK_SIBLINGS_CLOSED=1 in its environment, L
 * closes its listener once it has accepted: the connection has no
 * listener left to be made with, and the dump must be refused.  All three
 * count in busy loops; after SIGTERM the root ends the children and
 * checks they were fine. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static volatile sig_atomic_t done;

static void on_usr1(int sig)
{
	(void)sig;
	done = 1;
}

static void spin(int fd, int ready)
{
	volatile uint64_t counter = 0;
	char c = 'x';

	signal(SIGUSR1, on_usr1);
	if (write(ready, "r", 1) != 1)
		_exit(2);
	while (!done)
		counter++;
	/* The connection still carries a byte each way. */
	if (send(fd, &c, 1, 0) != 1 || recv(fd, &c, 1, 0) != 1)
		_exit(3);
	_exit(0);
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int ready[2], l, st;
	pid_t kids[2];
	socklen_t len;
	char c;

	test_init(argc, argv);
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "lmproc-siblings-%d", getpid());
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
	if (pipe(ready))
		fail("pipe: %s", strerror(errno));
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 4))
		fail("listen: %s", strerror(errno));
	kids[0] = fork();
	if (kids[0] == 0) {
		int acc = accept4(l, NULL, NULL, SOCK_CLOEXEC);

		if (getenv("SK_SIBLINGS_CLOSED"))
			close(l);
		spin(acc, ready[1]);
	}
	close(l);
	kids[1] = fork();
	if (kids[1] == 0) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&a, len))
			_exit(2);
		spin(fd, ready[1]);
	}
	if (kids[0] < 0 || kids[1] < 0 || read(ready[0], &c, 1) != 1 || read(ready[0], &c, 1) != 1)
		fail("children: %s", strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	for (int i = 0; i < 2; i++)
		kill(kids[i], SIGUSR1);
	for (int i = 0; i < 2; i++)
		if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			fail("child %d ended with status 0x%x", kids[i], st);
	pass();
}
