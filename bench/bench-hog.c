/* bench-hog: the process the benchmark dumps and restores.  Holds MIB MiB
 * of private anonymous memory filled with pseudo-random, never-zero words
 * (so no page can be skipped as zero), then counts in a sleep loop.  On
 * SIGUSR1 it regenerates the sequence, compares every word and writes
 * "ok COUNT" or "bad OFFSET" to RESULT.  Only /dev/null and regular files
 * stay open, so lmproc can dump it; READY_FD is written once and closed.
 *
 * usage: bench-hog MIB RESULT READY_FD */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define SEED 0x9e3779b97f4a7c15ULL

static volatile sig_atomic_t check_requested;

static void on_usr1(int sig)
{
	(void)sig;
	check_requested = 1;
}

static uint64_t next_word(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return (x * 0x2545f4914f6cdd1dULL) | 1;
}

static void fill(uint64_t *mem, size_t words)
{
	uint64_t s = SEED;

	for (size_t i = 0; i < words; i++)
		mem[i] = next_word(&s);
}

/* Index of the first word that differs, or WORDS when all match. */
static size_t verify(const uint64_t *mem, size_t words)
{
	uint64_t s = SEED;

	for (size_t i = 0; i < words; i++)
		if (mem[i] != next_word(&s))
			return i;
	return words;
}

static void report(const char *path, const uint64_t *mem, size_t words, unsigned long count)
{
	size_t bad = verify(mem, words);
	char line[64];
	int fd, len;

	if (bad == words)
		len = snprintf(line, sizeof(line), "ok %lu\n", count);
	else
		len = snprintf(line, sizeof(line), "bad %zu\n", bad * sizeof(*mem));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, len) != len)
		perror("bench-hog: write result");
	close(fd);
}

int main(int argc, char **argv)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	unsigned long count = 0;
	uint64_t *mem = NULL;
	size_t len, words;
	int ready_fd;

	if (argc != 4) {
		fprintf(stderr, "usage: bench-hog MIB RESULT READY_FD\n");
		return 2;
	}
	len = strtoul(argv[1], NULL, 10) << 20;
	words = len / sizeof(*mem);
	ready_fd = atoi(argv[3]);
	signal(SIGUSR1, on_usr1);
	if (len) {
		mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) {
			perror("bench-hog: mmap");
			return 1;
		}
		/* First-touch faults cost ~20 us each here: populate in bulk. */
		madvise(mem, len, MADV_POPULATE_WRITE);
		fill(mem, words);
	}
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	close(ready_fd);
	for (;;) {
		nanosleep(&tick, NULL);
		count++;
		if (check_requested) {
			check_requested = 0;
			report(argv[2], mem, words, count);
		}
	}
}
