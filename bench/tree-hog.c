/* tree-hog PIDFILE PROCS THREADS: a tree of PROCS processes (the root and
 * PROCS - 1 children), each with THREADS threads, each process with 1 MiB
 * of its own dirty memory; writes the root's pid to PIDFILE once all are
 * there, then everything sleeps until killed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM (1 << 20)

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void populate(int threads)
{
	char *mem = malloc(MEM);
	pthread_t t;

	if (!mem)
		exit(1);
	memset(mem, getpid() & 0xff, MEM);
	for (int i = 1; i < threads; i++)
		if (pthread_create(&t, NULL, sleeper, NULL))
			exit(1);
}

int main(int argc, char **argv)
{
	int procs, threads, ready[2];
	char c;
	FILE *f;

	if (argc != 4 || (procs = atoi(argv[2])) < 1 || (threads = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: tree-hog PIDFILE PROCS THREADS\n");
		return 2;
	}
	if (pipe(ready))
		return 1;
	for (int i = 1; i < procs; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			populate(threads);
			if (write(ready[1], "r", 1) != 1)
				exit(1);
			sleeper(NULL);
		}
		if (pid < 0)
			return 1;
	}
	populate(threads);
	for (int i = 1; i < procs; i++)
		if (read(ready[0], &c, 1) != 1)
			return 1;
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		return 1;
	sleeper(NULL);
	return 0;
}
