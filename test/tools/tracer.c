/* tracer PID: PTRACE_SEIZEs PID (which keeps running: SEIZE does not stop
 * it) and sleeps until killed, so tests can check that lmproc refuses an
 * already-traced process.  The kernel detaches when the tracer dies. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t pid;

	if (argc != 2 || (pid = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: tracer PID\n");
		return 2;
	}
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL)) {
		fprintf(stderr, "tracer: PTRACE_SEIZE %d: %s\n", pid, strerror(errno));
		return 1;
	}
	for (;;)
		pause();
}
