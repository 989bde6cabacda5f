/* A target lmproc refuses: its child C, whose main thread has exited
 * (pthread_exit) while another thread runs on, which /proc shows as a
 * zombie.  C's pid goes to DIR/child.pid.  C's thread counts until the
 * target, which counts until SIGTERM, sends it a byte on a pipe, then
 * exits 0.  Nothing outlives the case: C dies with the target
 * (parent-death signal), and both end by SIGALRM after 120 s (a zombie
 * leader can't be told apart as the suite's own). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static atomic_ulong counter;
static int stop_pipe[2];

static void *count_until_told(void *arg)
{
	char c;

	(void)arg;
	while (read(stop_pipe[0], &c, 1) != 1)
		atomic_fetch_add(&counter, 1);
	_exit(atomic_load(&counter) ? 0 : 3);
}

static void write_child_pid(pid_t pid)
{
	char path[4096], buf[32];
	FILE *f;

	test_path(path, sizeof(path), "child.pid");
	snprintf(buf, sizeof(buf), "%d\n", pid);
	f = fopen(path, "w");
	if (!f || fputs(buf, f) < 0 || fclose(f))
		fail("can't write %s", path);
}

/* Until /proc says CHILD is a zombie: its main thread is gone. */
static void wait_zombie(pid_t child)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", child);
	for (int i = 0; i < 5000; i++) {
		ssize_t n = test_read_file(path, buf, sizeof(buf) - 1);

		if (n > 0) {
			buf[n] = '\0';
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'Z')
				return;
		}
		usleep(1000);
	}
	fail("child %d's main thread did not exit in 5 s", child);
}

int main(int argc, char **argv)
{
	pthread_t t;
	pid_t child;
	int st;

	test_init(argc, argv);
	alarm(120);
	if (pipe2(stop_pipe, O_NONBLOCK))
		fail("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		fail("fork: %s", strerror(errno));
	if (child == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1)
			_exit(2);
		if (pthread_create(&t, NULL, count_until_told, NULL))
			_exit(2);
		pthread_exit(NULL);
	}
	wait_zombie(child);
	write_child_pid(child);
	test_ready();
	while (test_go())
		atomic_fetch_add(&counter, 1);
	if (write(stop_pipe[1], "x", 1) != 1)
		fail("write: %s", strerror(errno));
	if (waitpid(child, &st, 0) != child)
		fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail("child %d ended with status 0x%x", child, st);
	pass();
}
