/* subreaper CMD [ARG...]: becomes a child subreaper and execs CMD.  The
 * suite runs under it so that processes restored with --detach (and any a
 * failed restore leaves) are reparented to the runner, not to pid 1: the
 * runner reaps them at once and can find every leftover at the end. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: subreaper CMD [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		fprintf(stderr, "subreaper: PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "subreaper: exec %s: %s\n", argv[1], strerror(errno));
	return 127;
}
