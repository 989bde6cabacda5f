/* Unit tests of the words messages give the kernel's numbers (words.c):
 * open flags as fdinfo shows them (the two-bit names O_TMPFILE and
 * O_SYNC, the kernel's O_LARGEFILE, unknown bits), CPU clockids as
 * timer_create and pthread_getcpuclockid make them, and anonymous-inode
 * kinds. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "words.h"

static int failed, tests;

static void is(const char *got, const char *want, const char *what)
{
	tests++;
	printf("%s %d - %s\n", strcmp(got, want) ? "not ok" : "ok", tests, what);
	if (strcmp(got, want)) {
		printf("#   got  \"%s\"\n#   want \"%s\"\n", got, want);
		failed++;
	}
}

static void test_open_flags(void)
{
	is(open_flags_words(0).s, "O_RDONLY", "no flags: the access mode alone");
	is(open_flags_words(060001).s, "O_WRONLY|O_ASYNC|O_DIRECT", "a pipe end in packet mode");
	/* MariaDB's /tmp/#N files, as restore used to print them. */
	is(open_flags_words(020300002).s, "O_RDWR|O_TMPFILE|O_LARGEFILE",
	   "__O_TMPFILE|O_DIRECTORY is O_TMPFILE");
	is(open_flags_words(04010001).s, "O_WRONLY|O_SYNC", "__O_SYNC|O_DSYNC is O_SYNC");
	is(open_flags_words(010002).s, "O_RDWR|O_DSYNC", "O_DSYNC alone");
	is(open_flags_words(0200000000 | 02).s, "O_RDWR|0200000000", "unknown bits in octal");
	is(flag_bits_words(0).s, "no flags", "no bits");
	is(flag_bits_words(020000 | 02).s, "O_ASYNC", "bits without the access mode");
}

/* ~tid << 3 | bits, include/linux/posix-timers_types.h. */
static int cpu_clock(int id, int bits)
{
	return (~id << 3) | bits;
}

static void test_clocks(void)
{
	is(clock_words(CLOCK_MONOTONIC).s, "CLOCK_MONOTONIC", "a plain clock");
	is(clock_words(cpu_clock(985, 6)).s,
	   "thread 985's CPU time (CLOCK_THREAD_CPUTIME_ID, clockid -7882)",
	   "pthread_getcpuclockid of thread 985 (the issue's clock -7882)");
	is(clock_words(cpu_clock(0, 2)).s,
	   "its own process's CPU time (CLOCK_PROCESS_CPUTIME_ID, clockid -6)",
	   "CLOCK_PROCESS_CPUTIME_ID as timer_create stores it");
	is(clock_words(cpu_clock(12, 0)).s, "process 12's user+system time (CPUCLOCK_PROF) "
	   "(clockid -104)", "another process's CPUCLOCK_PROF");
	is(clock_words(99).s, "unknown clock 99", "an unknown clock");
}

static void test_kinds(void)
{
	is(file_kind_words(0, "anon_inode:[io_uring]").s, "an io_uring instance", "io_uring");
	is(file_kind_words(0, "anon_inode:bpf-map").s, "a BPF map", "a BPF map");
	is(file_kind_words(0, "anon_inode:[perf_event]").s, "a perf event", "a perf event");
	is(file_kind_words(0, "anon_inode:[pidfd]").s, "a pidfd", "a pidfd");
	is(file_kind_words(0, "anon_inode:[new_thing]").s,
	   "an anonymous-inode file [new_thing]", "an unknown anonymous inode, by name");
	is(file_kind_words(S_IFCHR | 0600, "/dev/null").s, "a character device", "by mode");
	is(file_kind_words(0, NULL).s, "a file of no type (an anonymous inode)", "mode 0");
}

int main(void)
{
	test_open_flags();
	test_clocks();
	test_kinds();
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
