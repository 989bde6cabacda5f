/* POSIX timers that notify a thread (SIGEV_THREAD: glibc's helper thread
 * takes its internal signal 32 and starts the callback in a new thread),
 * firing every 2 ms, in a process with two more threads that count.
 * A restore that lets signal 32 reach a thread that does not block it
 * kills the process.  After the restore every timer still fires and the
 * counting threads still count.  Run in a loop by the timers-thread case
 * (it failed 1 run in 10, 5 in 10 after a pre-dump), not as a static
 * test: glibc makes a thread, and maybe an arena, per expiry, so its maps
 * and threads are never the same twice. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define NR_TIMERS 3
#define NR_WORKERS 2

static atomic_ulong fired[NR_TIMERS];
static atomic_ulong counted[NR_WORKERS];
static atomic_int stop;

static void on_timer(union sigval v)
{
	atomic_fetch_add(&fired[v.sival_int], 1);
}

static void *worker(void *arg)
{
	int i = (int)(long)arg;

	while (!atomic_load(&stop)) {
		atomic_fetch_add(&counted[i], 1);
		usleep(500);
	}
	return NULL;
}

/* Every timer fires and every worker counts within 2 s. */
static void check_running(const char *when)
{
	unsigned long f0[NR_TIMERS], c0[NR_WORKERS];
	uint64_t end = test_now_ns() + 2000000000ULL;
	bool all;

	for (int i = 0; i < NR_TIMERS; i++)
		f0[i] = atomic_load(&fired[i]);
	for (int i = 0; i < NR_WORKERS; i++)
		c0[i] = atomic_load(&counted[i]);
	do {
		usleep(10000);
		all = true;
		for (int i = 0; i < NR_TIMERS; i++)
			all &= atomic_load(&fired[i]) > f0[i] + 5;
		for (int i = 0; i < NR_WORKERS; i++)
			all &= atomic_load(&counted[i]) > c0[i] + 5;
	} while (!all && test_now_ns() < end);
	if (!all)
		fail("%s: a timer stopped firing or a thread stopped counting", when);
}

int main(int argc, char **argv)
{
	pthread_t th[NR_WORKERS];
	timer_t t[NR_TIMERS];
	sigset_t term;

	test_init(argc, argv);
	/* SIGTERM for the main thread's wait only: the workers and the
	 * timers' threads inherit this mask. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &term, NULL))
		fail("sigprocmask: %s", strerror(errno));
	for (int i = 0; i < NR_WORKERS; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(long)i))
			fail("pthread_create");
	for (int i = 0; i < NR_TIMERS; i++) {
		struct sigevent ev = { .sigev_notify = SIGEV_THREAD,
				       .sigev_notify_function = on_timer,
				       .sigev_value.sival_int = i };
		struct itimerspec its = { { 0, 2000000 }, { 0, 2000000 } };

		if (timer_create(CLOCK_MONOTONIC, &ev, &t[i]) || timer_settime(t[i], 0, &its, NULL))
			fail("timer %d: %s", i, strerror(errno));
	}
	check_running("before the checkpoint");

	test_waitsig();

	check_running("after the restore");
	for (int i = 0; i < NR_TIMERS; i++)
		timer_delete(t[i]);
	atomic_store(&stop, 1);
	for (int i = 0; i < NR_WORKERS; i++)
		pthread_join(th[i], NULL);
	pass();
}
