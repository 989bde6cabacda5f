/* A shell job whose terminal only its child holds: run by tools/ptyrun,
 * the root forks C, which opens the job's terminal at fd 3 and waits; the
 * root holds no fd of it.  Dumped with --shell-job, a restore without it
 * must be refused naming C and fd 3, not the root. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

int main(int argc, char **argv)
{
	char tty[PATH_MAX] = "", c;
	int report[2];
	pid_t pid;

	if (isatty(0) && ttyname_r(0, tty, sizeof(tty)))
		tty[0] = '\0';
	test_init(argc, argv);
	if (!tty[0])
		fail("stdin is not a terminal: run it under tools/ptyrun");
	if (pipe(report))
		fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		if (dup2(open(tty, O_RDWR | O_NOCTTY), 3) != 3 || write(report[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	if (pid < 0 || read(report[0], &c, 1) != 1)
		fail("child: %s", strerror(errno));
	test_waitsig();
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	pass();
}
