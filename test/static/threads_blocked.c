/* Threads blocked in the kernel across the checkpoint: one in a futex
 * wait without timeout, one in a futex wait with a timeout, one in
 * nanosleep(), and one holding a robust mutex.  After the restore no call
 * may fail with EINTR or time out early; the waiters wake when told to,
 * the sleeper keeps sleeping whole seconds, and when the holder exits
 * without unlocking, the kernel's walk of its robust list (which the
 * restore must have registered again) gives the next locker EOWNERDEAD. */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define SLEEP_NS 300000000L
#define TIMED_WAIT_S 3600

static atomic_int wake_word, timed_word, holder_word, stop_sleeping;
static atomic_int untimed_state, timed_state, sleeps_done, holder_locked;
static atomic_int bad_errno, bad_where;
static pthread_mutex_t robust;

static long futex(atomic_int *word, int op, int val, const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, val, timeout, NULL, 0);
}

static void note_bad(int where, int err)
{
	atomic_store(&bad_errno, err);
	atomic_store(&bad_where, where);
}

/* Waits until *WORD is set; any error but EAGAIN (woken before the wait)
 * is wrong, EINTR above all. */
static void wait_word(atomic_int *word, const struct timespec *timeout, int where)
{
	while (!atomic_load(word))
		if (futex(word, FUTEX_WAIT, 0, timeout) && errno != EAGAIN)
			note_bad(where, errno);
}

static void *untimed_waiter(void *arg)
{
	(void)arg;
	atomic_store(&untimed_state, 1);
	wait_word(&wake_word, NULL, 1);
	atomic_store(&untimed_state, 2);
	return NULL;
}

static void *timed_waiter(void *arg)
{
	struct timespec t = { .tv_sec = TIMED_WAIT_S };

	(void)arg;
	atomic_store(&timed_state, 1);
	wait_word(&timed_word, &t, 2);
	atomic_store(&timed_state, 2);
	return NULL;
}

/* Each nanosleep() must sleep its whole time and return 0. */
static void *sleeper(void *arg)
{
	struct timespec t = { .tv_nsec = SLEEP_NS };

	(void)arg;
	while (!atomic_load(&stop_sleeping)) {
		uint64_t start = test_now_ns();

		if (nanosleep(&t, NULL))
			note_bad(3, errno);
		else if (test_now_ns() - start < SLEEP_NS)
			note_bad(4, 0);
		atomic_fetch_add(&sleeps_done, 1);
	}
	return NULL;
}

/* Locks the robust mutex and exits holding it once told to. */
static void *holder(void *arg)
{
	int err = pthread_mutex_lock(&robust);

	(void)arg;
	if (err)
		note_bad(5, err);
	atomic_store(&holder_locked, 1);
	wait_word(&holder_word, NULL, 6);
	return NULL;
}

static void timed_join(pthread_t t, const char *what)
{
	struct timespec until;
	int err;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	err = pthread_timedjoin_np(t, NULL, &until);
	if (err)
		fail("joining the %s: %s", what, strerror(err));
}

static void wake(atomic_int *word)
{
	atomic_store(word, 1);
	futex(word, FUTEX_WAKE, 1, NULL);
}

static void start_all(pthread_t t[4])
{
	pthread_mutexattr_t ma;

	if (pthread_mutexattr_init(&ma) || pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) ||
	    pthread_mutex_init(&robust, &ma))
		fail("robust mutex: %s", strerror(errno));
	if (pthread_create(&t[0], NULL, untimed_waiter, NULL) ||
	    pthread_create(&t[1], NULL, timed_waiter, NULL) ||
	    pthread_create(&t[2], NULL, sleeper, NULL) ||
	    pthread_create(&t[3], NULL, holder, NULL))
		fail("pthread_create: %s", strerror(errno));
	while (atomic_load(&untimed_state) != 1 || atomic_load(&timed_state) != 1 ||
	       !atomic_load(&sleeps_done) || !atomic_load(&holder_locked))
		usleep(1000);
	/* Let the waiters get into their futex waits. */
	usleep(50000);
}

int main(int argc, char **argv)
{
	struct timespec until;
	pthread_t t[4];
	int sleeps, err;

	test_init(argc, argv);
	start_all(t);

	test_waitsig();

	if (atomic_load(&bad_where))
		fail("a blocked call failed (place %d): %s", atomic_load(&bad_where),
		     strerror(atomic_load(&bad_errno)));
	if (atomic_load(&untimed_state) != 1 || atomic_load(&timed_state) != 1)
		fail("a futex waiter returned before it was woken (states %d %d)",
		     atomic_load(&untimed_state), atomic_load(&timed_state));
	sleeps = atomic_load(&sleeps_done);
	for (int i = 0; i < 300 && atomic_load(&sleeps_done) < sleeps + 2; i++)
		usleep(10000);
	if (atomic_load(&sleeps_done) < sleeps + 2)
		fail("the sleeper finished %d sleeps in 3 s, want 2", atomic_load(&sleeps_done) - sleeps);

	wake(&wake_word);
	wake(&timed_word);
	atomic_store(&stop_sleeping, 1);
	timed_join(t[0], "futex waiter");
	timed_join(t[1], "timed futex waiter");
	timed_join(t[2], "sleeper");

	wake(&holder_word);
	timed_join(t[3], "robust mutex holder");
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	err = pthread_mutex_timedlock(&robust, &until);
	if (err != EOWNERDEAD)
		fail("locking the mutex its holder died with: %s, want EOWNERDEAD (robust list "
		     "lost?)",
		     strerror(err));
	if (atomic_load(&bad_where))
		fail("a blocked call failed (place %d): %s", atomic_load(&bad_where),
		     strerror(atomic_load(&bad_errno)));
	pass();
}
