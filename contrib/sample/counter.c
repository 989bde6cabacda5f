/* The demo's sample workload (contrib/demo.sh): prints a running counter,
 * one line every 100 ms, to stdout, which the demo points at a log file. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	const struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	unsigned long n = 0;

	for (;;) {
		printf("counter %lu (pid %d)\n", n++, (int)getpid());
		fflush(stdout);
		nanosleep(&tick, NULL);
	}
}
