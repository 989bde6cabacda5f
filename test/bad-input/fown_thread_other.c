/* A tree lmproc cannot dump: the root holds a unix socket at fd 7 whose
 * owner for signal-driven I/O (F_SETOWN_EX, F_OWNER_TID) is a thread of
 * its child, which set it and closed its own copy; the child's pid goes to
 * DIR/child.pid.  After SIGTERM the root checks the owner is still that
 * thread and ends the child: a refused dump leaves both as they were. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static volatile pid_t tid;

static void *idle(void *arg)
{
	(void)arg;
	tid = syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

/* Makes thread T, gives it fd 7 and says T's tid on fd WR. */
static void child(int wr)
{
	struct f_owner_ex o = { F_OWNER_TID, 0 };
	pthread_t t;

	if (pthread_create(&t, NULL, idle, NULL))
		_exit(2);
	while (!__atomic_load_n(&tid, __ATOMIC_SEQ_CST))
		usleep(1000);
	o.pid = tid;
	if (fcntl(7, F_SETOWN_EX, &o) || close(7) || write(wr, &o.pid, sizeof(o.pid)) != 4)
		_exit(3);
	for (;;)
		pause();
}

static void write_child_pid(pid_t pid)
{
	char path[4096], buf[32];
	int fd, n;

	test_path(path, sizeof(path), "child.pid");
	n = snprintf(buf, sizeof(buf), "%d\n", pid);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, n) != n || close(fd))
		fail("write %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	volatile uint64_t counter = 0;
	struct f_owner_ex o;
	int sp[2], p[2], st;
	pid_t pid, t;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || dup2(sp[0], 7) != 7 || pipe(p))
		fail("socketpair: %s", strerror(errno));
	close(sp[0]);
	pid = fork();
	if (pid == 0)
		child(p[1]);
	if (pid < 0 || read(p[0], &t, sizeof(t)) != sizeof(t))
		fail("child: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	write_child_pid(pid);
	test_ready();
	while (test_go())
		counter++;
	if (fcntl(7, F_GETOWN_EX, &o) || o.type != F_OWNER_TID || o.pid != t)
		fail("fd 7's owner is no longer thread %d", t);
	if (kill(pid, SIGKILL) || waitpid(pid, &st, 0) != pid)
		fail("end child %d: %s", pid, strerror(errno));
	pass();
}
