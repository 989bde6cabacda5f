/* A tree lmproc cannot dump: the root and its child share one fd table
 * (clone(CLONE_FILES) without CLONE_THREAD, as some job runners do); the
 * child's pid goes to DIR/child.pid.  Both count; after SIGTERM the root
 * opens a file at fd 20 and wakes the child (SIGUSR1), which must see it:
 * a refused dump leaves the table shared, every process running as
 * before. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define SHARED_FD 20

static volatile sig_atomic_t woken;

static void on_usr1(int sig)
{
	(void)sig;
	woken = 1;
}

static void child(void)
{
	volatile uint64_t counter = 0;

	while (!woken)
		counter++;
	_exit(fcntl(SHARED_FD, F_GETFD) >= 0 && counter ? 0 : 3);
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	char path[4096], buf[32];
	int fd, st, n;
	pid_t pid;

	test_init(argc, argv);
	signal(SIGUSR1, on_usr1);
	/* No CLONE_VM: the child runs on a copy of this stack, as after fork. */
	pid = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, NULL, NULL, 0);
	if (pid == 0)
		child();
	if (pid < 0)
		fail("clone: %s", strerror(errno));
	test_path(path, sizeof(path), "child.pid");
	n = snprintf(buf, sizeof(buf), "%d\n", pid);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, n) != n || close(fd))
		fail("write %s: %s", path, strerror(errno));
	test_ready();
	while (test_go())
		counter++;
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, SHARED_FD) != SHARED_FD)
		fail("open /dev/null at fd %d: %s", SHARED_FD, strerror(errno));
	if (kill(pid, SIGUSR1) || waitpid(pid, &st, 0) != pid)
		fail("wake child %d: %s", pid, strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail("child %d ended with status 0x%x: the fd table is no longer shared", pid, st);
	pass();
}
