/* A target for migrate --grace: it writes a 16 MiB area in a known order
 * (write K puts mix(seed ^ K) into word K mod N), so at SIGTERM every word
 * is checked against the last write count: memory exact, from the same
 * instant as the registers.  With GRACE_DIE_IF_MOVED=1 it also watches
 * its pid namespace (the inode of /proc/self/ns/pid): once restored in
 * another one, as serve's restore does, it aborts (SIGABRT), so the copy
 * dies within the destination's grace period while the original, resumed
 * at the source, runs on and passes. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "test.h"

#define WORDS (2UL << 20) /* 16 MiB of 8-byte words */

static uint64_t *area;
static uint64_t seed;
static volatile uint64_t writes;

static ino_t pidns(void)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st))
		fail("stat /proc/self/ns/pid: %s", strerror(errno));
	return st.st_ino;
}

static void check_area(void)
{
	uint64_t k = writes;

	for (uint64_t i = 0; i < WORDS; i++) {
		uint64_t want = test_mix(seed ^ ~i);

		/* The last write to word I: the largest K' <= K - 1 with
		 * K' mod N == I, if any. */
		if (k > i)
			want = test_mix(seed ^ (i + (k - 1 - i) / WORDS * WORDS));
		if (area[i] != want)
			fail("word %lu is %#lx, not %#lx, after %lu writes", (unsigned long)i,
			     (unsigned long)area[i], (unsigned long)want, (unsigned long)k);
	}
}

int main(int argc, char **argv)
{
	const char *die = getenv("GRACE_DIE_IF_MOVED");
	struct rlimit no_core = {0, 0};
	ino_t ns;
	uint64_t k;

	test_init(argc, argv);
	setrlimit(RLIMIT_CORE, &no_core);
	seed = test_seed();
	area = mmap(NULL, WORDS * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	for (uint64_t i = 0; i < WORDS; i++)
		area[i] = test_mix(seed ^ ~i);
	ns = pidns();
	test_ready();
	for (k = 0; test_go(); k++) {
		area[k % WORDS] = test_mix(seed ^ k);
		writes = k + 1;
		if (!(k & 0xffff) && die && *die == '1' && pidns() != ns)
			abort();
	}
	check_area();
	test_msg("%lu writes checked", (unsigned long)writes);
	pass();
}
