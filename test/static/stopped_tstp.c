/* A child stopped by SIGTSTP (a shell job after ^Z), in a process group of
 * its own so the group is not orphaned (the kernel drops SIGTSTP there):
 * after the checkpoint the parent's waitpid(WUNTRACED) must report the
 * stop by SIGTSTP, not SIGSTOP; the stop was only peeked at before
 * (WNOWAIT), as a shell that has not looked yet.  The child then runs on
 * after SIGCONT and exits 0. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static void child(void)
{
	if (setpgid(0, 0))
		_exit(2);
	raise(SIGTSTP);
	_exit(0);
}

int main(int argc, char **argv)
{
	siginfo_t si = {};
	pid_t pid;
	int st;

	test_init(argc, argv);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0)
		child();
	if (waitid(P_PID, pid, &si, WSTOPPED | WNOWAIT))
		fail("waitid: %s", strerror(errno));
	if (si.si_code != CLD_STOPPED || si.si_status != SIGTSTP)
		fail("the child did not stop by SIGTSTP (code %d, status %d)", si.si_code,
		     si.si_status);
	test_waitsig();
	if (waitpid(pid, &st, WUNTRACED) != pid)
		fail("waitpid: %s", strerror(errno));
	if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGTSTP)
		fail("child %d: wait status 0x%x, not stopped by SIGTSTP (%d)", pid, st, SIGTSTP);
	if (kill(pid, SIGCONT) || waitpid(pid, &st, 0) != pid)
		fail("continue child %d: %s", pid, strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail("child %d ended with status 0x%x", pid, st);
	pass();
}
