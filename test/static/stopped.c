/* A process stopped by SIGSTOP (state T, group stop) at the checkpoint:
 * the runner checks that it is still stopped after every dump and after
 * the restore (test/run.sh, stop_knobs), then continues it with SIGCONT.
 * The test checks that it runs on only once continued by SIGCONT, exactly
 * once, and that its second thread, counting while the process runs, was
 * stopped too. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "test.h"

static volatile sig_atomic_t conts;
static volatile uint64_t ticks;
static volatile int running = 1;

static void on_cont(int sig)
{
	(void)sig;
	conts++;
}

/* Counts while the process runs: a stopped process's threads all stop. */
static void *counter(void *arg)
{
	(void)arg;
	while (running)
		ticks++;
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_cont };
	uint64_t before, after;
	pthread_t th;

	test_init(argc, argv);
	if (sigaction(SIGCONT, &sa, NULL))
		fail("sigaction: %s", strerror(errno));
	if (pthread_create(&th, NULL, counter, NULL))
		fail("pthread_create");
	test_ready();
	before = ticks;
	if (kill(getpid(), SIGSTOP))
		fail("SIGSTOP: %s", strerror(errno));
	/* Here only once the runner sent SIGCONT, whose handler ran on the
	 * way out of the stop. */
	after = ticks;
	if (conts != 1)
		fail("running on after the stop, continued %d times", (int)conts);
	running = 0;
	pthread_join(th, NULL);
	test_waitsig();
	if (conts != 1)
		fail("continued %d times", (int)conts);
	if (after - before > 100000000ULL)
		fail("the counting thread ran %llu times while the process was stopped",
		     (unsigned long long)(after - before));
	pass();
}
