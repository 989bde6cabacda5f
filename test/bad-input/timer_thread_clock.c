/* A target lmproc cannot dump: a POSIX timer on the calling thread's
 * CPU clock (CLOCK_THREAD_CPUTIME_ID), armed, made by its second thread,
 * which then writes its tid to DIR/thread.tid: /proc/PID/timers does not
 * say which thread made it (a clock named by tid, as
 * pthread_getcpuclockid gives it, is restored: test/static/
 * posix_timers_thread_cpu.c).  Both threads count until SIGTERM;
 * then the main thread checks that the timer still runs and the thread
 * kept counting: a refused dump must leave the process running as
 * before. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static atomic_ulong thread_count;
static timer_t timer;
static atomic_int thread_err, stop;

static void *spinner(void *arg)
{
	struct itimerspec its = { .it_value = { .tv_sec = 3600 } };
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	char path[4096], buf[32];
	int fd, n;

	(void)arg;
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &timer) ||
	    timer_settime(timer, 0, &its, NULL)) {
		atomic_store(&thread_err, errno);
		return NULL;
	}
	test_path(path, sizeof(path), "thread.tid");
	n = snprintf(buf, sizeof(buf), "%d\n", gettid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, n) != n || close(fd)) {
		atomic_store(&thread_err, errno ? errno : EIO);
		return NULL;
	}
	while (!atomic_load(&stop))
		atomic_fetch_add(&thread_count, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	struct itimerspec left;
	unsigned long before;
	sigset_t term;
	pthread_t t;

	test_init(argc, argv);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	if (pthread_create(&t, NULL, spinner, NULL))
		fail("pthread_create: %s", strerror(errno));
	pthread_sigmask(SIG_UNBLOCK, &term, NULL);
	while (!atomic_load(&thread_count) && !atomic_load(&thread_err))
		usleep(1000);
	if (atomic_load(&thread_err))
		fail("the thread's setup: %s", strerror(atomic_load(&thread_err)));

	test_waitsig();

	if (timer_gettime(timer, &left) || (!left.it_value.tv_sec && !left.it_value.tv_nsec))
		fail("the timer on the thread's CPU clock is gone or disarmed");
	before = atomic_load(&thread_count);
	for (int i = 0; i < 3000 && atomic_load(&thread_count) == before; i++)
		usleep(1000);
	if (atomic_load(&thread_count) == before)
		fail("the thread stopped counting at %lu", before);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	pass();
}
