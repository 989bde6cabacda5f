/* Children come and go all the time: the root forks a child every few
 * hundred microseconds, each exits at once with status 7 (some after
 * forking a grandchild that exits with 9 and is reaped by it), and the
 * root reaps whatever has ended.  A dump catches children being born,
 * exiting (zombies) and being reaped; after the restore every child the
 * root reaps must still have ended with 7, and the churn must go on. */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define CHILD_STATUS 7
#define GRANDCHILD_STATUS 9

static void child(int n)
{
	int st;

	if (n % 3 == 0) {
		pid_t g = fork();

		if (g == 0)
			_exit(GRANDCHILD_STATUS);
		if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != GRANDCHILD_STATUS)
			_exit(1);
	}
	_exit(CHILD_STATUS);
}

static unsigned long reap(void)
{
	unsigned long n = 0;
	pid_t w;
	int st;

	while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
		if (!WIFEXITED(st) || WEXITSTATUS(st) != CHILD_STATUS)
			fail("child %d ended with status 0x%x", w, st);
		n++;
	}
	if (w < 0 && errno != ECHILD)
		fail("waitpid: %s", strerror(errno));
	return n;
}

static void churn_once(int *n)
{
	struct timespec nap = { 0, 300000 };
	pid_t pid = fork();

	if (pid == 0)
		child(*n);
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	(*n)++;
	nanosleep(&nap, NULL);
}

int main(int argc, char **argv)
{
	unsigned long before, after = 0;
	uint64_t end;
	int n = 0;

	test_init(argc, argv);
	for (int i = 0; i < 50; i++)
		churn_once(&n);
	test_ready();
	while (test_go()) {
		churn_once(&n);
		reap();
	}
	before = n;
	end = test_now_ns() + 200000000ULL;
	while (test_now_ns() < end) {
		churn_once(&n);
		after += reap();
	}
	while (wait(NULL) > 0)
		;
	if ((unsigned long)n < before + 10 || !after)
		fail("%d children forked, %lu before the restore, %lu reaped after", n, before,
		     after);
	pass();
}
