/* The zdtm-style test library: every program in test/static/ builds some
 * kernel state, says it is ready, waits for the checkpoint-done signal
 * (SIGTERM, sent by test/run.sh after the restore) and then checks that the
 * state is exactly what it was and still works.
 *
 * Protocol with the runner (test/run.sh):
 *   PROG --pidfile F --outfile O [--log L] [--dir D]
 *   - F is written (atomically) with the pid once the state is built;
 *   - O gets "PASS" or "FAIL: reason" (atomically) when the test ends;
 *   - L becomes stdout and stderr, /dev/null stdin, every other fd closed;
 *   - D is a scratch directory for the test's files.
 *
 * The library never calls malloc or stdio: the brk and heap tests own the
 * heap, and nothing may sit in a stdio buffer across a checkpoint. */
#ifndef LMPROC_TEST_H
#define LMPROC_TEST_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Set by the library's SIGTERM handler: the checkpoint is done. */
extern volatile sig_atomic_t test_sig_received;

void test_init(int argc, char **argv);
/* Writes the pid file: the state is built and may be dumped from now on. */
void test_ready(void);
/* test_ready() if not done yet, then sleeps until SIGTERM.  SIGTERM is
 * blocked outside the wait, and the mask after the wait is checked. */
void test_waitsig(void);

static inline bool test_go(void)
{
	return !test_sig_received;
}

/* A line to the test log (stderr), unbuffered. */
void test_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void pass(void);
__attribute__((noreturn, format(printf, 1, 2))) void fail(const char *fmt, ...);

/* Writes "DIR/NAME" (DIR from --dir) into BUF of SIZE; fails the test
 * if it does not fit. */
void test_path(char *buf, size_t size, const char *name);

/* Reads at most SIZE bytes of a (small) file; -1 on error. */
ssize_t test_read_file(const char *path, void *buf, size_t size);

/* /proc/self/fdinfo/FD into BUF of SIZE, NUL-terminated; fails the test
 * if it can't be read. */
void test_read_fdinfo(int fd, char *buf, size_t size);

/* Monotonic time in ns. */
uint64_t test_now_ns(void);

/* A fixed 64-bit mixer (splitmix64) for reproducible pseudo-random data. */
static inline uint64_t test_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A seed that differs between runs, so stale or zeroed state cannot pass. */
uint64_t test_seed(void);

#endif
