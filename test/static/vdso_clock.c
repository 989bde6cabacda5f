/* clock_gettime through the vDSO: the task spins reading CLOCK_MONOTONIC
 * (through the vDSO) until SIGTERM and keeps reading it many times after
 * the restore.  Monotonic time never goes backwards, the vDSO agrees with
 * the real syscalls for every clock, realtime is sane, and the vDSO is
 * still where AT_SYSINFO_EHDR says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define AFTER_CALLS	1000000
#define SLACK_NS	(2 * 1000 * 1000 * 1000LL)

static int64_t ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int64_t vdso_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		fail("clock_gettime(%d) failed", (int)clk);
	return ns(&ts);
}

static int64_t sys_ns(clockid_t clk)
{
	struct timespec ts;

	if (syscall(SYS_clock_gettime, clk, &ts))
		fail("syscall clock_gettime(%d) failed", (int)clk);
	return ns(&ts);
}

static void step(int64_t *last)
{
	int64_t now = vdso_ns(CLOCK_MONOTONIC);

	if (now < *last)
		fail("CLOCK_MONOTONIC went backwards: %ld after %ld", (long)now, (long)*last);
	*last = now;
}

/* The vDSO's answer must lie between two syscall answers around it. */
static void check_agrees(clockid_t clk, const char *name)
{
	int64_t a = sys_ns(clk), v = vdso_ns(clk), b = sys_ns(clk);

	if (v < a - 1000 || v > b + 1000)
		fail("vDSO %s %ld is outside the syscall's [%ld, %ld]", name, (long)v, (long)a,
		     (long)b);
}

static void check_vdso_mapped(unsigned long ehdr)
{
	static char maps[256 * 1024];
	char want[64];
	ssize_t n;

	n = test_read_file("/proc/self/maps", maps, sizeof(maps) - 1);
	if (n <= 0)
		fail("can't read /proc/self/maps");
	maps[n] = '\0';
	snprintf(want, sizeof(want), "\n%lx-", ehdr);
	char *line = strstr(maps, want);

	if (!line || !strchr(line + 1, '\n') ||
	    !strstr(line, "[vdso]") || strstr(line, "[vdso]") > strchr(line + 1, '\n'))
		fail("AT_SYSINFO_EHDR %#lx is not the [vdso] mapping any more", ehdr);
}

int main(int argc, char **argv)
{
	int64_t last = 0, real_before, real_after, mono_at_signal;
	unsigned long ehdr;
	struct timeval tv;

	test_init(argc, argv);
	ehdr = getauxval(AT_SYSINFO_EHDR);
	if (!ehdr)
		fail("no vDSO (AT_SYSINFO_EHDR is 0)");
	real_before = vdso_ns(CLOCK_REALTIME);
	test_ready();
	while (test_go())
		step(&last);
	mono_at_signal = last;
	for (int i = 0; i < AFTER_CALLS; i++)
		step(&last);
	if (last <= mono_at_signal)
		fail("CLOCK_MONOTONIC stood still after restore");
	check_agrees(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	check_agrees(CLOCK_REALTIME, "CLOCK_REALTIME");
	check_agrees(CLOCK_BOOTTIME, "CLOCK_BOOTTIME");
	check_agrees(CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW");
	real_after = vdso_ns(CLOCK_REALTIME);
	if (real_after < real_before || real_after - real_before > 600 * 1000000000LL)
		fail("CLOCK_REALTIME jumped from %ld to %ld", (long)real_before, (long)real_after);
	if (gettimeofday(&tv, NULL) ||
	    llabs((int64_t)tv.tv_sec * 1000000000LL - real_after) > SLACK_NS)
		fail("gettimeofday disagrees with clock_gettime");
	if (llabs((int64_t)time(NULL) * 1000000000LL - real_after) > SLACK_NS)
		fail("time() disagrees with clock_gettime");
	check_vdso_mapped(ehdr);
	pass();
}
