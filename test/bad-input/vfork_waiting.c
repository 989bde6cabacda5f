/* A target lmproc refuses: a thread of it called vfork() and waits for
 * its child, which shares the target's memory and has neither exec'd nor
 * exited (zdtm's vfork00 leaves its tree so).  The main thread counts
 * until SIGTERM, then tells the child through their shared memory to
 * exit, and checks that the child ran and ended well. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

/* Shared with the vfork child: it runs in this memory. */
static volatile int child_up, child_stop;
static volatile unsigned long child_laps;
static int child_status = -1;

static void child_loop(void)
{
	struct timespec ms = { .tv_nsec = 1000000 };

	child_up = 1;
	while (!child_stop) {
		child_laps++;
		syscall(SYS_nanosleep, &ms, NULL);
	}
	_exit(child_laps ? 0 : 3);
}

/* SIGTERM blocked here: the thread sleeps in vfork() until the child
 * exits and could not run the handler the main thread waits on. */
static void *vfork_and_wait(void *arg)
{
	sigset_t term;
	pid_t pid;

	(void)arg;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	pid = vfork();
	if (pid == 0)
		child_loop();
	if (pid < 0 || waitpid(pid, &child_status, 0) != pid)
		child_status = -2;
	return NULL;
}

int main(int argc, char **argv)
{
	volatile unsigned long counter = 0;
	pthread_t t;

	test_init(argc, argv);
	alarm(120);
	if (pthread_create(&t, NULL, vfork_and_wait, NULL))
		fail("pthread_create failed");
	for (int i = 0; !child_up && i < 5000; i++)
		usleep(1000);
	if (!child_up)
		fail("the vfork child did not start in 5 s");
	test_ready();
	while (test_go())
		counter++;
	child_stop = 1;
	pthread_join(t, NULL);
	if (!counter)
		fail("the counter never ran");
	if (!WIFEXITED(child_status) || WEXITSTATUS(child_status))
		fail("the vfork child ended with status %d", child_status);
	pass();
}
