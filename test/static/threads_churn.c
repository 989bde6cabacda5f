/* Threads that come and go while lmproc seizes the process: three
 * churners each create a short-lived child and join it, without pause.
 * Whatever the dump caught (a thread being born, one exiting) must come
 * back consistent: after the restore every churner goes on, each child
 * returns what it was given and is joined (which waits for the kernel to
 * clear its tid), and no thread is left over once the churn stops.  The
 * children run on stacks of the test's own, so that their coming and
 * going does not change the memory map the runner compares. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define NR_CHURNERS 3
#define CHILD_STACK (256 << 10)

struct churner {
	pthread_t thread;
	atomic_ulong joined;
	atomic_int err;
	atomic_int bad_value;
};

static struct churner churners[NR_CHURNERS];
static char child_stacks[NR_CHURNERS][CHILD_STACK] __attribute__((aligned(4096)));
static atomic_int stop;

static void *echo(void *arg)
{
	return arg;
}

/* One child at a time: its stack is free again once it is joined. */
static void *churn(void *arg)
{
	struct churner *c = arg;
	pthread_attr_t attr;
	int err;

	err = pthread_attr_init(&attr);
	if (!err)
		err = pthread_attr_setstack(&attr, child_stacks[c - churners], CHILD_STACK);
	while (!err && !atomic_load(&stop)) {
		unsigned long n = atomic_load(&c->joined) + 1;
		pthread_t t;
		void *ret;

		err = pthread_create(&t, &attr, echo, (void *)n);
		if (!err)
			err = pthread_join(t, &ret);
		if (!err && ret != (void *)n)
			atomic_store(&c->bad_value, 1);
		atomic_fetch_add(&c->joined, 1);
	}
	atomic_store(&c->err, err);
	return NULL;
}

static int nr_threads(void)
{
	char buf[4096], *p;
	ssize_t n = test_read_file("/proc/self/status", buf, sizeof(buf) - 1);

	if (n <= 0)
		fail("can't read /proc/self/status");
	buf[n] = '\0';
	p = strstr(buf, "\nThreads:");
	return p ? atoi(p + 9) : -1;
}

static int all_joined_at_least(const unsigned long *base, unsigned long more)
{
	for (int i = 0; i < NR_CHURNERS; i++)
		if (atomic_load(&churners[i].joined) < base[i] + more)
			return 0;
	return 1;
}

/* Every churner gets on with it after the restore. */
static void check_churning(void)
{
	uint64_t deadline = test_now_ns() + 3000000000ULL;
	unsigned long base[NR_CHURNERS];

	for (int i = 0; i < NR_CHURNERS; i++)
		base[i] = atomic_load(&churners[i].joined);
	while (!all_joined_at_least(base, 100) && test_now_ns() < deadline)
		usleep(1000);
	for (int i = 0; i < NR_CHURNERS; i++)
		if (atomic_load(&churners[i].joined) < base[i] + 100)
			fail("churner %d joined %lu children in 3 s, want 100", i,
			     atomic_load(&churners[i].joined) - base[i]);
}

int main(int argc, char **argv)
{
	unsigned long zero[NR_CHURNERS] = {};
	sigset_t term;

	test_init(argc, argv);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	/* Every thread inherits SIGTERM blocked: it is for the main one. */
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	for (int i = 0; i < NR_CHURNERS; i++)
		if (pthread_create(&churners[i].thread, NULL, churn, &churners[i]))
			fail("pthread_create: %s", strerror(errno));
	pthread_sigmask(SIG_UNBLOCK, &term, NULL);
	while (!all_joined_at_least(zero, 1000))
		usleep(1000);

	test_waitsig();

	check_churning();
	atomic_store(&stop, 1);
	for (int i = 0; i < NR_CHURNERS; i++) {
		pthread_join(churners[i].thread, NULL);
		if (atomic_load(&churners[i].err))
			fail("churner %d: %s", i, strerror(atomic_load(&churners[i].err)));
		if (atomic_load(&churners[i].bad_value))
			fail("churner %d: a child returned another child's value", i);
	}
	if (nr_threads() != 1)
		fail("%d threads left after the churn stopped", nr_threads());
	pass();
}
