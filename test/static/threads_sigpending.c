/* Per-thread pending signals: four threads block SIGUSR1 and SIGRTMIN+2;
 * each gets a SIGUSR1 by tgkill and two SIGRTMIN+2 with values queued to
 * it alone (rt_tgsigqueueinfo), and the process gets a SIGUSR2 (blocked
 * everywhere).  After the restore every thread still has exactly its own
 * signals pending, and once it unblocks them its handler runs in that
 * thread, with the right siginfo and in queue order; SIGUSR2 runs once. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

#define NR_THREADS 4
#define RT_SIG (SIGRTMIN + 2)

struct worker {
	pthread_t thread;
	pid_t tid;
	atomic_int ready;
	atomic_int usr1, usr1_code, usr1_pid;
	atomic_int rt, rt_values[4];
	atomic_int done;
};

static struct worker workers[NR_THREADS];
static atomic_int usr2_runs, go, stray;
static pid_t pid;

static struct worker *worker_of(pid_t tid)
{
	for (int i = 0; i < NR_THREADS; i++)
		if (workers[i].tid == tid)
			return &workers[i];
	return NULL;
}

static void handler(int sig, siginfo_t *si, void *uc)
{
	struct worker *w = worker_of(gettid());
	int n;

	(void)uc;
	if (sig == SIGUSR2) {
		atomic_fetch_add(&usr2_runs, 1);
		return;
	}
	if (!w) {
		atomic_store(&stray, sig);
		return;
	}
	if (sig == SIGUSR1) {
		atomic_fetch_add(&w->usr1, 1);
		atomic_store(&w->usr1_code, si->si_code);
		atomic_store(&w->usr1_pid, si->si_pid);
	} else if (sig == RT_SIG && (n = atomic_fetch_add(&w->rt, 1)) < 4) {
		atomic_store(&w->rt_values[n], si->si_value.sival_int);
	}
}

static void blocked_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, RT_SIG);
}

static int value_of(int idx, int k)
{
	return 1000 * (idx + 1) + k;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	sigset_t set;

	w->tid = gettid();
	blocked_set(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	atomic_store(&w->ready, 1);
	while (!atomic_load(&go))
		usleep(1000);
	sigdelset(&set, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	atomic_store(&w->done, 1);
	while (atomic_load(&go) < 2)
		usleep(1000);
	return NULL;
}

static void send_signals(void)
{
	for (int i = 0; i < NR_THREADS; i++) {
		if (syscall(SYS_tgkill, pid, workers[i].tid, SIGUSR1))
			fail("tgkill: %s", strerror(errno));
		for (int k = 0; k < 2; k++) {
			siginfo_t si = { .si_signo = RT_SIG, .si_code = SI_QUEUE };

			si.si_pid = pid;
			si.si_uid = getuid();
			si.si_value.sival_int = value_of(i, k);
			if (syscall(SYS_rt_tgsigqueueinfo, pid, workers[i].tid, RT_SIG, &si))
				fail("rt_tgsigqueueinfo: %s", strerror(errno));
		}
	}
	if (kill(pid, SIGUSR2))
		fail("kill: %s", strerror(errno));
}

/* /proc/self/task/TID/status SigPnd: the thread's own queue. */
static unsigned long long own_pending(pid_t tid)
{
	char path[64], buf[4096], *p;
	unsigned long long v = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	n = test_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		fail("can't read %s", path);
	buf[n] = '\0';
	p = strstr(buf, "\nSigPnd:");
	if (!p || sscanf(p + 8, "%llx", &v) != 1)
		fail("no SigPnd in %s", path);
	return v;
}

static void check_pending(void)
{
	unsigned long long want = (1ULL << (SIGUSR1 - 1)) | (1ULL << (RT_SIG - 1));

	for (int i = 0; i < NR_THREADS; i++)
		if (own_pending(workers[i].tid) != want)
			fail("thread %d has signals %llx pending, want %llx", i,
			     own_pending(workers[i].tid), want);
	if (own_pending(gettid()))
		fail("the main thread has signals %llx pending of its own", own_pending(gettid()));
}

static void check_delivered(void)
{
	for (int i = 0; i < NR_THREADS; i++) {
		struct worker *w = &workers[i];

		if (w->usr1 != 1 || w->usr1_code != SI_TKILL || w->usr1_pid != pid)
			fail("thread %d: SIGUSR1 ran %d times, code %d pid %d (want once, SI_TKILL, %d)",
			     i, w->usr1, w->usr1_code, w->usr1_pid, pid);
		if (w->rt != 2 || w->rt_values[0] != value_of(i, 0) ||
		    w->rt_values[1] != value_of(i, 1))
			fail("thread %d: SIGRTMIN+2 ran %d times with %d, %d (want %d, %d)", i,
			     atomic_load(&w->rt), w->rt_values[0], w->rt_values[1], value_of(i, 0),
			     value_of(i, 1));
	}
	if (usr2_runs != 1)
		fail("the process-wide SIGUSR2 ran %d times", atomic_load(&usr2_runs));
	if (stray)
		fail("signal %d ran in the main thread", atomic_load(&stray));
}

int main(int argc, char **argv)
{
	struct sigaction act = { .sa_sigaction = handler, .sa_flags = SA_SIGINFO };
	sigset_t set;

	test_init(argc, argv);
	pid = getpid();
	blocked_set(&set);
	sigemptyset(&act.sa_mask);
	if (sigaction(SIGUSR1, &act, NULL) || sigaction(SIGUSR2, &act, NULL) ||
	    sigaction(RT_SIG, &act, NULL) || sigprocmask(SIG_BLOCK, &set, NULL))
		fail("sigaction/sigprocmask: %s", strerror(errno));
	for (int i = 0; i < NR_THREADS; i++)
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]))
			fail("pthread_create: %s", strerror(errno));
	for (int i = 0; i < NR_THREADS; i++)
		while (!atomic_load(&workers[i].ready))
			usleep(1000);
	send_signals();
	check_pending();

	test_waitsig();

	check_pending();
	atomic_store(&go, 1);
	for (int i = 0; i < NR_THREADS; i++)
		while (!atomic_load(&workers[i].done))
			usleep(1000);
	atomic_store(&go, 2);
	for (int i = 0; i < NR_THREADS; i++)
		pthread_join(workers[i].thread, NULL);
	check_delivered();
	pass();
}
