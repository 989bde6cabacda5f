/* subreaper CMD [ARG...]: becomes a child subreaper and the leader of a
 * process group of its own, and execs CMD.  The suite runs under it so
 * that processes restored with --detach (and any a failed restore leaves)
 * are reparented to the runner, not to pid 1: the runner reaps them at
 * once and can find every leftover at the end.  Its own group, whose
 * leader's parent (make) is in another group of the session, is never
 * orphaned: a test's stopped task can't bring the kernel's SIGHUP for
 * stopped members of an orphaned group onto the runner, or make. */
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
	/* A session leader (EPERM) already leads its group. */
	if (setpgid(0, 0) && errno != EPERM) {
		fprintf(stderr, "subreaper: setpgid: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "subreaper: exec %s: %s\n", argv[1], strerror(errno));
	return 127;
}
