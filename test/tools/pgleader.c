/* pgleader CMD [ARG...]: makes a new process group, starts CMD in it plus a
 * keeper that stays in the group for at most a minute, and exits at once:
 * CMD lives on in a process group whose leader is gone but which still has
 * another member (as after a shell pipeline's first command ends).  A
 * restore of CMD must put it back into that group. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t child;

	if (argc < 2) {
		fprintf(stderr, "usage: pgleader CMD [ARG...]\n");
		return 2;
	}
	if (setpgid(0, 0)) {
		fprintf(stderr, "pgleader: setpgid: %s\n", strerror(errno));
		return 1;
	}
	child = fork();
	if (child == 0) {
		sleep(60);
		_exit(0);
	}
	if (child > 0)
		child = fork();
	if (child < 0) {
		fprintf(stderr, "pgleader: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "pgleader: exec %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	return 0;
}
