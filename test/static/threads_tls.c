/* Sixteen threads, each with its own TLS variables, name, signal mask,
 * signal stack and rseq area, counting in bursts.  After the restore each
 * thread must have its tid (gettid) and everything of its own back, and
 * keep counting; then every thread is joined, which waits for the kernel
 * to clear the thread's tid at its exit (clear_child_tid): a restore that
 * lost it hangs here and times out. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define NR_THREADS 16
#define ALTSTACK_SIZE (64 << 10)

struct worker {
	pthread_t thread;
	int idx;
	pid_t tid;
	atomic_ulong count;
	atomic_int ready;
	/* Set by the thread when a check of its own state fails. */
	char error[160];
	atomic_int failed;
};

static struct worker workers[NR_THREADS];
static uint64_t seed;
static atomic_int stop;
static char altstacks[NR_THREADS][ALTSTACK_SIZE];

static __thread uint64_t tls_value;
static __thread unsigned long tls_count;
static __thread int tls_idx = -1;

static void worker_fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void worker_fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (atomic_exchange(&w->failed, 1))
		return;
	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
}

/* Thread I blocks a signal set of its own: SIGRTMIN+I and every other
 * of SIGUSR1/SIGUSR2 by parity; and SIGTERM, which is for the main
 * thread's wait. */
static void own_mask(int i, sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGRTMIN + i);
	sigaddset(set, i % 2 ? SIGUSR1 : SIGUSR2);
}

static void name_of(int i, char *buf, size_t len)
{
	snprintf(buf, len, "worker-%02d", i);
}

static struct rseq *rseq_area(void)
{
	return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

/* Registering the thread's rseq area again says EBUSY while it is the
 * registered one (see rseq.c). */
static int rseq_registered(void)
{
	for (unsigned int len = 32; len <= 256; len += 4) {
		long ret = syscall(SYS_rseq, rseq_area(), len, 0, RSEQ_SIG);

		if (ret == 0 || errno == EBUSY)
			return ret != 0;
		if (errno != EINVAL)
			return 0;
	}
	return 0;
}

static void check_own_state(struct worker *w)
{
	char name[16] = "", want[16];
	sigset_t mask, expect;
	stack_t ss;

	if (tls_idx != w->idx || tls_value != test_mix(seed + w->idx) ||
	    tls_count != atomic_load(&w->count))
		worker_fail(w, "thread %d: TLS is %d/%lx/%lu, want %d/%lx/%lu", w->idx, tls_idx,
			    (unsigned long)tls_value, tls_count, w->idx,
			    (unsigned long)test_mix(seed + w->idx), atomic_load(&w->count));
	if (gettid() != w->tid)
		worker_fail(w, "thread %d: gettid() %d, was %d", w->idx, gettid(), w->tid);
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	own_mask(w->idx, &expect);
	for (int sig = 1; sig < SIGRTMAX; sig++)
		if (sig != SIGKILL && sig != SIGSTOP &&
		    sigismember(&mask, sig) != sigismember(&expect, sig))
			worker_fail(w, "thread %d: signal %d is %sblocked", w->idx, sig,
				    sigismember(&mask, sig) ? "" : "not ");
	if (sigaltstack(NULL, &ss) || ss.ss_sp != altstacks[w->idx] ||
	    ss.ss_size != ALTSTACK_SIZE || ss.ss_flags)
		worker_fail(w, "thread %d: signal stack %p size %zu flags %d, want %p %d 0",
			    w->idx, ss.ss_sp, ss.ss_size, ss.ss_flags, (void *)altstacks[w->idx],
			    ALTSTACK_SIZE);
	/* Not through /proc: an fd open across the dump would be dumped. */
	if (prctl(PR_GET_NAME, name))
		worker_fail(w, "thread %d: PR_GET_NAME: %s", w->idx, strerror(errno));
	name_of(w->idx, want, sizeof(want));
	if (strcmp(name, want))
		worker_fail(w, "thread %d: comm \"%s\", want \"%s\"", w->idx, name, want);
	if (__rseq_size && !rseq_registered())
		worker_fail(w, "thread %d: its rseq area %p is not registered", w->idx,
			    (void *)rseq_area());
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	sigset_t set;
	stack_t ss = { .ss_sp = altstacks[w->idx], .ss_size = ALTSTACK_SIZE };

	w->tid = gettid();
	tls_idx = w->idx;
	tls_value = test_mix(seed + w->idx);
	own_mask(w->idx, &set);
	name_of(w->idx, name, sizeof(name));
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) || sigaltstack(&ss, NULL) ||
	    pthread_setname_np(pthread_self(), name))
		worker_fail(w, "thread %d: setup: %s", w->idx, strerror(errno));
	check_own_state(w);
	atomic_store(&w->ready, 1);
	while (!atomic_load(&stop)) {
		tls_count++;
		atomic_store(&w->count, tls_count);
		if (!(tls_count & 0xffff)) {
			check_own_state(w);
			/* Count in bursts: sixteen busy threads would starve
			 * everything else on a small machine. */
			usleep(5000);
		}
	}
	check_own_state(w);
	return (void *)(long)w->idx;
}

/* Every thread counts on after the restore, and the process has exactly
 * the threads it had. */
static void check_running(pid_t main_tid)
{
	unsigned long before[NR_THREADS];
	char path[64];
	int n = 0;

	uint64_t deadline = test_now_ns() + 3000000000ULL;

	for (int i = 0; i < NR_THREADS; i++)
		before[i] = atomic_load(&workers[i].count);
	for (int i = 0; i < NR_THREADS; i++) {
		while (atomic_load(&workers[i].count) == before[i] && test_now_ns() < deadline)
			usleep(1000);
		if (atomic_load(&workers[i].count) == before[i])
			fail("thread %d (tid %d) stopped counting at %lu", i, workers[i].tid,
			     before[i]);
	}
	for (int i = 0; i < NR_THREADS; i++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d", workers[i].tid);
		n += access(path, F_OK) == 0;
	}
	if (n != NR_THREADS)
		fail("only %d of the %d tids are threads of this process", n, NR_THREADS);
	if (gettid() != main_tid)
		fail("main thread: gettid() %d, was %d", gettid(), main_tid);
}

int main(int argc, char **argv)
{
	pid_t main_tid;

	test_init(argc, argv);
	seed = test_seed();
	main_tid = gettid();
	for (int i = 0; i < NR_THREADS; i++) {
		workers[i].idx = i;
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]))
			fail("pthread_create: %s", strerror(errno));
	}
	for (int i = 0; i < NR_THREADS; i++)
		while (!atomic_load(&workers[i].ready))
			usleep(1000);

	test_waitsig();

	check_running(main_tid);
	atomic_store(&stop, 1);
	for (int i = 0; i < NR_THREADS; i++) {
		struct timespec until;
		void *ret;
		int err;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 10;
		err = pthread_timedjoin_np(workers[i].thread, &ret, &until);
		if (err == ETIMEDOUT)
			fail("thread %d did not end within 10 s of being told to: its clear_child_tid "
			     "is lost",
			     i);
		if (err || ret != (void *)(long)i)
			fail("joining thread %d: %s", i, strerror(err));
		if (atomic_load(&workers[i].failed))
			fail("%s", workers[i].error);
	}
	pass();
}
