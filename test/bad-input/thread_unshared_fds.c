/* A target lmproc cannot dump: one of its threads has an fd table of its
 * own (unshare(CLONE_FILES)) and writes its tid to DIR/thread.tid.  Both
 * threads count until SIGTERM; then the main thread checks that both kept
 * counting: a refused dump must leave the process running as before. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

static atomic_ulong thread_count;
static atomic_int thread_err, stop;

static void *unsharer(void *arg)
{
	char path[4096], buf[32];
	int fd, n;

	(void)arg;
	if (unshare(CLONE_FILES)) {
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
	unsigned long before;
	sigset_t term;
	pthread_t t;

	test_init(argc, argv);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	if (pthread_create(&t, NULL, unsharer, NULL))
		fail("pthread_create: %s", strerror(errno));
	pthread_sigmask(SIG_UNBLOCK, &term, NULL);
	while (!atomic_load(&thread_count) && !atomic_load(&thread_err))
		usleep(1000);
	if (atomic_load(&thread_err))
		fail("the thread's setup: %s", strerror(atomic_load(&thread_err)));

	test_waitsig();

	before = atomic_load(&thread_count);
	for (int i = 0; i < 3000 && atomic_load(&thread_count) == before; i++)
		usleep(1000);
	if (atomic_load(&thread_count) == before)
		fail("the thread stopped counting at %lu", before);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	pass();
}
