/* I/O priorities (ionice) of a process's threads: after the restore each
 * thread reads its own back with ioprio_get(2).
 *   main  IOPRIO_CLASS_IDLE
 *   A     IOPRIO_CLASS_BE, a level from the run's seed
 *   B     IOPRIO_CLASS_RT, level 2
 *   C     none set (IOPRIO_CLASS_NONE: it follows the nice value)
 * The workers start before main sets its own (a new thread inherits it).
 * Each worker reads its priority itself when told to, after the restore. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

#define IOPRIO_CLASS_SHIFT 13
#define PRIO(class, level) ((class) << IOPRIO_CLASS_SHIFT | (level))
#define CLASS_RT 1
#define CLASS_BE 2
#define CLASS_IDLE 3
#define WHO_PROCESS 1

enum { A, B, C, NR };

struct worker {
	pthread_t thread;
	int want;
	atomic_int set, check;
	atomic_int got;
};

static struct worker w[NR];

static int get_prio(void)
{
	return syscall(SYS_ioprio_get, WHO_PROCESS, 0);
}

static void *run(void *arg)
{
	struct worker *me = arg;

	if (me->want && syscall(SYS_ioprio_set, WHO_PROCESS, 0, me->want))
		fail("ioprio_set 0x%x: %s", me->want, strerror(errno));
	atomic_store(&me->set, 1);
	while (!atomic_load(&me->check))
		usleep(1000);
	atomic_store(&me->got, get_prio());
	return NULL;
}

int main(int argc, char **argv)
{
	int main_prio;

	test_init(argc, argv);
	w[A].want = PRIO(CLASS_BE, (int)(test_seed() % 8));
	w[B].want = PRIO(CLASS_RT, 2);
	w[C].want = 0;
	for (int i = 0; i < NR; i++) {
		atomic_store(&w[i].got, -1);
		if (pthread_create(&w[i].thread, NULL, run, &w[i]))
			fail("pthread_create");
	}
	for (int i = 0; i < NR; i++)
		while (!atomic_load(&w[i].set))
			usleep(1000);
	if (syscall(SYS_ioprio_set, WHO_PROCESS, 0, PRIO(CLASS_IDLE, 0)))
		fail("ioprio_set idle: %s", strerror(errno));
	main_prio = get_prio();

	test_waitsig();

	if (get_prio() != main_prio)
		fail("main thread: I/O priority 0x%x, was 0x%x", get_prio(), main_prio);
	for (int i = 0; i < NR; i++) {
		atomic_store(&w[i].check, 1);
		pthread_join(w[i].thread, NULL);
		if (atomic_load(&w[i].got) != w[i].want)
			fail("thread %c: I/O priority 0x%x, was 0x%x", 'A' + i,
			     atomic_load(&w[i].got), w[i].want);
	}
	pass();
}
