/* Process and thread attributes: after the restore every one is what it
 * was, as the task itself reads it.
 *   process: all 16 rlimits (several lowered), dumpable 0, child
 *            subreaper, oom_score_adj 321, no_new_privs
 *   main:    nice 4, timer slack 123456 ns, parent-death signal SIGUSR2
 *            (handled: a restore with -d makes lmproc the parent that
 *            exits), pinned to the first allowed CPU
 *   thread 1: SCHED_BATCH with reset-on-fork, nice 7, timer slack 654321
 *            ns, parent-death signal SIGWINCH, pinned to the last CPU
 *   thread 2: SCHED_FIFO priority 3 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

#define NR_THREADS 3

struct sched_attr_v0 {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

struct attrs {
	int pdeathsig;
	long slack;
	int nnp;
	uint32_t policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	cpu_set_t cpus;
};

static struct attrs want[NR_THREADS], cur[NR_THREADS];
static volatile int req[NR_THREADS], done[NR_THREADS];

static void read_attrs(struct attrs *a)
{
	struct sched_attr_v0 sa = { .size = sizeof(sa) };

	memset(a, 0, sizeof(*a));
	if (prctl(PR_GET_PDEATHSIG, &a->pdeathsig) ||
	    syscall(SYS_sched_getattr, 0, &sa, sizeof(sa), 0) ||
	    sched_getaffinity(0, sizeof(a->cpus), &a->cpus))
		fail("reading thread %ld's attributes: %s", syscall(SYS_gettid), strerror(errno));
	a->slack = prctl(PR_GET_TIMERSLACK);
	a->nnp = prctl(PR_GET_NO_NEW_PRIVS);
	a->policy = sa.policy;
	a->flags = sa.flags;
	a->nice = sa.nice;
	a->priority = sa.priority;
}

/* Each thread reads its own attributes when asked: only it can. */
static void serve(int i)
{
	for (;;) {
		if (done[i] != req[i]) {
			read_attrs(&cur[i]);
			__atomic_store_n(&done[i], req[i], __ATOMIC_SEQ_CST);
		}
		usleep(2000);
	}
}

static void ask(int i)
{
	uint64_t t0 = test_now_ns();

	req[i]++;
	while (done[i] != req[i]) {
		if (test_now_ns() - t0 > 10000000000ULL)
			fail("thread %d did not answer in 10 s", i);
		usleep(1000);
	}
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s))
		fail("sched_setaffinity %d: %s", cpu, strerror(errno));
}

static int first_cpu, last_cpu;

static void *thread1(void *arg)
{
	struct sched_param sp = { 0 };

	(void)arg;
	if (sched_setscheduler(0, SCHED_BATCH | SCHED_RESET_ON_FORK, &sp) ||
	    setpriority(PRIO_PROCESS, syscall(SYS_gettid), 7) ||
	    prctl(PR_SET_TIMERSLACK, 654321) || prctl(PR_SET_PDEATHSIG, SIGWINCH))
		fail("thread 1 setup: %s", strerror(errno));
	pin(last_cpu);
	serve(1);
	return NULL;
}

static void *thread2(void *arg)
{
	struct sched_param sp = { .sched_priority = 3 };

	(void)arg;
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		fail("thread 2 setup: %s", strerror(errno));
	serve(2);
	return NULL;
}

static void on_usr2(int sig)
{
	(void)sig;
}

struct proc_attrs {
	struct rlimit rl[RLIM_NLIMITS];
	int dumpable, subreaper;
	char oom[16];
};

static void read_proc(struct proc_attrs *p)
{
	ssize_t n;

	memset(p, 0, sizeof(*p));
	for (int i = 0; i < RLIM_NLIMITS; i++)
		getrlimit(i, &p->rl[i]);
	p->dumpable = prctl(PR_GET_DUMPABLE);
	prctl(PR_GET_CHILD_SUBREAPER, &p->subreaper);
	n = test_read_file("/proc/self/oom_score_adj", p->oom, sizeof(p->oom) - 1);
	if (n <= 0)
		fail("read oom_score_adj: %s", strerror(errno));
}

static void lower(int res, rlim_t cur, rlim_t max)
{
	struct rlimit rl = { cur, max };

	if (setrlimit(res, &rl))
		fail("setrlimit %d: %s", res, strerror(errno));
}

static void setup_process(void)
{
	struct sigaction sa = { .sa_handler = on_usr2 };
	cpu_set_t all;
	int fd;

	sched_getaffinity(0, sizeof(all), &all);
	first_cpu = -1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all)) {
			if (first_cpu < 0)
				first_cpu = c;
			last_cpu = c;
		}
	lower(RLIMIT_NOFILE, 900, 4000);
	lower(RLIMIT_CORE, 0, 12345678);
	lower(RLIMIT_STACK, 6 << 20, RLIM_INFINITY);
	lower(RLIMIT_CPU, 100000, 200000);
	lower(RLIMIT_MSGQUEUE, 400000, 700000);
	lower(RLIMIT_LOCKS, 5000, 6000);
	lower(RLIMIT_RTTIME, 5000000, 6000000);
	if (sigaction(SIGUSR2, &sa, NULL) || prctl(PR_SET_DUMPABLE, 0) ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_TIMERSLACK, 123456) || prctl(PR_SET_PDEATHSIG, SIGUSR2) ||
	    setpriority(PRIO_PROCESS, syscall(SYS_gettid), 4))
		fail("process setup: %s", strerror(errno));
	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd < 0 || write(fd, "321", 3) != 3)
		fail("set oom_score_adj: %s", strerror(errno));
	close(fd);
	pin(first_cpu);
}

static void compare(int i, const struct attrs *a, const struct attrs *b)
{
	if (a->pdeathsig != b->pdeathsig || a->slack != b->slack || a->nnp != b->nnp ||
	    a->policy != b->policy || a->flags != b->flags || a->nice != b->nice ||
	    a->priority != b->priority || !CPU_EQUAL(&a->cpus, &b->cpus))
		fail("thread %d: pdeathsig %d slack %ld nnp %d policy %u flags %llx nice %d "
		     "prio %u cpus %d; were %d %ld %d %u %llx %d %u %d", i, a->pdeathsig, a->slack, a->nnp,
		     a->policy, (unsigned long long)a->flags, a->nice, a->priority,
		     CPU_COUNT(&a->cpus), b->pdeathsig, b->slack, b->nnp, b->policy,
		     (unsigned long long)b->flags, b->nice, b->priority, CPU_COUNT(&b->cpus));
}

int main(int argc, char **argv)
{
	struct proc_attrs pbefore, pnow;
	pthread_t th[2];

	test_init(argc, argv);
	setup_process();
	if (pthread_create(&th[0], NULL, thread1, NULL) ||
	    pthread_create(&th[1], NULL, thread2, NULL))
		fail("pthread_create");
	for (int i = 1; i < NR_THREADS; i++) {
		ask(i);
		want[i] = cur[i];
	}
	read_attrs(&want[0]);
	read_proc(&pbefore);
	if (want[0].nice != 4 || want[1].policy != SCHED_BATCH || want[1].nice != 7 ||
	    want[2].policy != SCHED_FIFO || pbefore.dumpable || !pbefore.subreaper)
		fail("the attributes did not take before the checkpoint");

	test_waitsig();

	read_attrs(&cur[0]);
	compare(0, &cur[0], &want[0]);
	for (int i = 1; i < NR_THREADS; i++) {
		ask(i);
		compare(i, &cur[i], &want[i]);
	}
	read_proc(&pnow);
	for (int i = 0; i < RLIM_NLIMITS; i++)
		if (pnow.rl[i].rlim_cur != pbefore.rl[i].rlim_cur ||
		    pnow.rl[i].rlim_max != pbefore.rl[i].rlim_max)
			fail("rlimit %d: %llu/%llu, was %llu/%llu", i,
			     (unsigned long long)pnow.rl[i].rlim_cur,
			     (unsigned long long)pnow.rl[i].rlim_max,
			     (unsigned long long)pbefore.rl[i].rlim_cur,
			     (unsigned long long)pbefore.rl[i].rlim_max);
	if (pnow.dumpable != pbefore.dumpable || pnow.subreaper != pbefore.subreaper ||
	    strcmp(pnow.oom, pbefore.oom))
		fail("dumpable %d subreaper %d oom_score_adj %s; were %d %d %s", pnow.dumpable,
		     pnow.subreaper, pnow.oom, pbefore.dumpable, pbefore.subreaper, pbefore.oom);
	pass();
}
