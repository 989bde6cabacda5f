/* A target lmproc cannot dump: a POSIX timer on the CPU clock of one of
 * its threads (pthread_getcpuclockid + timer_create), armed, whose tid
 * the thread writes to DIR/thread.tid.  Both threads count until SIGTERM;
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
static atomic_int thread_err, stop;

static void *spinner(void *arg)
{
	char path[4096], buf[32];
	int fd, n;

	(void)arg;
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
	struct itimerspec its = { .it_value = { .tv_sec = 3600 } }, left;
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	unsigned long before;
	clockid_t clock;
	sigset_t term;
	pthread_t t;
	timer_t tid;

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
	if (pthread_getcpuclockid(t, &clock) || timer_create(clock, &sev, &tid) ||
	    timer_settime(tid, 0, &its, NULL))
		fail("a timer on the thread's CPU clock: %s", strerror(errno));

	test_waitsig();

	if (timer_gettime(tid, &left) || (!left.it_value.tv_sec && !left.it_value.tv_nsec))
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
