/* The demo's sample workload (contrib/demo.sh): prints a running counter,
 * one line every 100 ms, to stdout, which the demo points at a log file.
 * It first closes every descriptor but stdio, like a daemon: whatever the
 * caller's shell left open (a pipe, say) is not part of the sample, and
 * lmproc does not dump pipes yet. */
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	const struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	unsigned long n = 0;

	syscall(SYS_close_range, 3U, ~0U, 0U);
	for (;;) {
		printf("counter %lu (pid %d)\n", n++, (int)getpid());
		fflush(stdout);
		nanosleep(&tick, NULL);
	}
}
