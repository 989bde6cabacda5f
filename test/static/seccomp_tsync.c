/* Seccomp filters the threads share: the main thread installs D with
 * SECCOMP_FILTER_FLAG_TSYNC once its two other threads exist, so all
 * three run under one filter, which makes getppid() fail with errno ED.
 * After the restore the main thread installs E (errno EE) with TSYNC,
 * which the kernel only allows if every other thread's filters are still
 * its own, shared, not copies: it must succeed, and every thread's
 * getppid() then fails with EE.  ED and EE come from the run's seed. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

#define NR_THREADS 2

static int err_d, err_e;
static atomic_int want_errno, round_no, answered;
static atomic_int bad_errno;

static long install(uint32_t action, unsigned int flags)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, action),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static int getppid_errno(void)
{
	return syscall(SYS_getppid) == -1 ? errno : 0;
}

/* Each round: getppid()'s errno checked against want_errno. */
static void *thread_main(void *arg)
{
	int seen = 0;

	(void)arg;
	for (;;) {
		int r = atomic_load(&round_no);

		if (r < 0)
			return NULL;
		if (r == seen) {
			usleep(1000);
			continue;
		}
		seen = r;
		if (getppid_errno() != atomic_load(&want_errno))
			atomic_store(&bad_errno, getppid_errno());
		atomic_fetch_add(&answered, 1);
	}
}

/* Every thread, this one too, gets errno WANT from getppid(). */
static void check_round(const char *when, int want)
{
	static int r;
	int got = getppid_errno();

	if (got != want)
		fail("%s: main thread: getppid() errno %d, expected %d", when, got, want);
	atomic_store(&want_errno, want);
	atomic_store(&answered, 0);
	atomic_store(&round_no, ++r);
	for (int i = 0; i < 10000 && atomic_load(&answered) < NR_THREADS; i++)
		usleep(1000);
	if (atomic_load(&answered) < NR_THREADS)
		fail("%s: the threads did not answer", when);
	if (atomic_load(&bad_errno))
		fail("%s: a thread's getppid() gave errno %d, expected %d", when,
		     atomic_load(&bad_errno), want);
}

int main(int argc, char **argv)
{
	pthread_t th[NR_THREADS];
	uint64_t seed;
	long ret;

	test_init(argc, argv);
	seed = test_seed();
	err_d = 1 + (int)(seed % 60);
	err_e = 61 + (int)((seed >> 8) % 60);
	for (int i = 0; i < NR_THREADS; i++)
		if (pthread_create(&th[i], NULL, thread_main, NULL))
			fail("pthread_create");
	ret = install(SECCOMP_RET_ERRNO | err_d, SECCOMP_FILTER_FLAG_TSYNC);
	if (ret)
		fail("seccomp(TSYNC) of D: %ld (%s)", ret, strerror(errno));
	check_round("before", err_d);

	test_waitsig();

	check_round("after", err_d);
	ret = install(SECCOMP_RET_ERRNO | err_e, SECCOMP_FILTER_FLAG_TSYNC);
	if (ret > 0)
		fail("seccomp(TSYNC) of E after the restore: thread %ld no longer shares the "
		     "main thread's filters",
		     ret);
	if (ret)
		fail("seccomp(TSYNC) of E after the restore: %s", strerror(errno));
	check_round("after TSYNC", err_e);
	atomic_store(&round_no, -1);
	for (int i = 0; i < NR_THREADS; i++)
		pthread_join(th[i], NULL);
	pass();
}
