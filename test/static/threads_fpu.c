/* FPU, SSE, AVX and AVX-512 registers per thread: four threads each load
 * patterns of their own into every vector register
 * (as fpu_regs.c does: zmm0-31 and k1-7, or ymm0-15, or xmm0-15), the x87
 * stack, MXCSR, the x87 control word and r8-r15, and spin without touching
 * them until released after the restore; then each compares what it held
 * with what it loaded.  A restore that gave one thread's FPU state to
 * another, or the main thread's to all, fails here (fpu_regs.c covers the
 * main thread). */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define NR_THREADS 4

#include "fpu-regs.h"

enum vec_kind { VEC_AVX512, VEC_AVX, VEC_SSE };

struct holder {
	pthread_t thread;
	int idx;
	struct regs in, out;
	atomic_int started;
};

static struct holder holders[NR_THREADS];
static volatile int release;
static enum vec_kind kind;

static void hold(struct holder *h)
{
	atomic_store(&h->started, 1);
	if (kind == VEC_AVX512)
		hold_avx512(&h->in, &h->out, &release);
	else if (kind == VEC_AVX)
		hold_avx(&h->in, &h->out, &release);
	else
		hold_sse(&h->in, &h->out, &release);
}

static void check(const struct holder *h)
{
	char who[32];

	snprintf(who, sizeof(who), "thread %d: ", h->idx);
	if (kind == VEC_AVX512)
		compare(&h->in, &h->out, 32, 64, true, "zmm", who);
	else if (kind == VEC_AVX)
		compare(&h->in, &h->out, 16, 32, false, "ymm", who);
	else
		compare(&h->in, &h->out, 16, 16, false, "xmm", who);
}

static void *holder_main(void *arg)
{
	hold(arg);
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t seed;
	sigset_t term;

	test_init(argc, argv);
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
		kind = VEC_AVX512;
	else if (__builtin_cpu_supports("avx"))
		kind = VEC_AVX;
	else
		kind = VEC_SSE;
	seed = test_seed();
	/* SIGTERM is for the main thread's wait, not the holders. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	for (int i = 0; i < NR_THREADS; i++) {
		holders[i].idx = i;
		fill(&holders[i].in, test_mix(seed + i));
	}
	for (int i = 0; i < NR_THREADS; i++)
		if (pthread_create(&holders[i].thread, NULL, holder_main, &holders[i]))
			fail("pthread_create failed");
	pthread_sigmask(SIG_UNBLOCK, &term, NULL);
	for (int i = 0; i < NR_THREADS; i++)
		while (!atomic_load(&holders[i].started))
			usleep(1000);
	/* Let them get into their spin with the registers loaded. */
	usleep(20000);

	test_waitsig();

	release = 1;
	for (int i = 0; i < NR_THREADS; i++) {
		pthread_join(holders[i].thread, NULL);
		check(&holders[i]);
	}
	pass();
}
