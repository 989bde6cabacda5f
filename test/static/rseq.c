/* rseq: glibc registers a restartable-sequences area in every thread and
 * reads the current CPU from it (sched_getcpu).  After the restore the
 * area must be registered again at the same address: registering it a
 * second time fails with EBUSY, and its cpu_id follows the task when it is
 * moved between CPUs. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

static struct rseq *rseq_area(void)
{
	return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

/* The kernel answers EBUSY to a second registration with the same
 * address, length and signature.  glibc's registered length is not
 * exported (__rseq_size is the feature size), so try the plausible ones:
 * any other length gives EINVAL while an area is registered. */
static void check_registered(void)
{
	for (unsigned int len = 32; len <= 256; len += 4) {
		long ret = syscall(SYS_rseq, rseq_area(), len, 0, RSEQ_SIG);

		if (ret == 0)
			fail("rseq area %p was not registered (registering it again succeeded)",
			     (void *)rseq_area());
		if (errno == EBUSY)
			return;
		if (errno != EINVAL)
			fail("re-registering rseq area %p: %s", (void *)rseq_area(),
			     strerror(errno));
	}
	fail("rseq area %p is not the registered one (EINVAL for every length)",
	     (void *)rseq_area());
}

static void check_cpu_follows(void)
{
	cpu_set_t all, one;
	int moved = 0;

	if (sched_getaffinity(0, sizeof(all), &all))
		fail("sched_getaffinity: %s", strerror(errno));
	for (int cpu = 0; cpu < CPU_SETSIZE && moved < 4; cpu++) {
		unsigned int real;

		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			fail("sched_setaffinity(%d): %s", cpu, strerror(errno));
		if (syscall(SYS_getcpu, &real, NULL, NULL) || (int)real != cpu)
			fail("getcpu says %u, pinned to %d", real, cpu);
		if ((int)rseq_area()->cpu_id != cpu || sched_getcpu() != cpu)
			fail("rseq cpu_id %d, sched_getcpu %d, but running on CPU %d",
			     (int)rseq_area()->cpu_id, sched_getcpu(), cpu);
		moved++;
	}
	sched_setaffinity(0, sizeof(all), &all);
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	if (__rseq_size == 0)
		fail("glibc did not register rseq (GLIBC_TUNABLES=glibc.pthread.rseq=0?)");
	check_registered();
	check_cpu_follows();

	test_waitsig();

	check_registered();
	check_cpu_follows();
	pass();
}
