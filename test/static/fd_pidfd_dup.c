/* A pidfd of child A at fd 10, duplicated at fd 11 (one open file
 * description, two fds).  After the restore both fds are still one
 * description: kcmp says so, and O_NONBLOCK set through fd 10 shows on
 * fd 11; the pidfd still polls A, which exits when told and is reaped
 * through it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int main(int argc, char **argv)
{
	struct pollfd p = { .fd = 11, .events = POLLIN };
	int fds[2], fd, me = getpid();
	siginfo_t si = { 0 };
	char c;
	pid_t a;

	test_init(argc, argv);
	if (pipe(fds))
		fail("pipe: %s", strerror(errno));
	a = fork();
	if (a < 0)
		fail("fork: %s", strerror(errno));
	if (!a) {
		close(fds[1]);
		_exit(read(fds[0], &c, 1) == 1 ? 7 : 99);
	}
	close(fds[0]);
	fd = syscall(SYS_pidfd_open, a, 0);
	if (fd < 0 || dup2(fd, 10) != 10 || dup2(fd, 11) != 11 || close(fd))
		fail("pidfd of %d at fds 10 and 11: %s", a, strerror(errno));
	test_waitsig();
	if (syscall(SYS_kcmp, me, me, KCMP_FILE, 10, 11))
		fail("fds 10 and 11 are no longer one open file description");
	if (fcntl(10, F_SETFL, O_NONBLOCK) || !(fcntl(11, F_GETFL) & O_NONBLOCK))
		fail("O_NONBLOCK set through fd 10 does not show on fd 11");
	if (poll(&p, 1, 0) != 0)
		fail("the pidfd polls readable before %d exits", a);
	if (write(fds[1], "x", 1) != 1)
		fail("write: %s", strerror(errno));
	p.revents = 0;
	if (poll(&p, 1, 10000) != 1 || !(p.revents & POLLIN))
		fail("the pidfd does not poll readable once %d exits", a);
	if (waitid(P_PIDFD, 11, &si, WEXITED) || si.si_pid != a || si.si_status != 7)
		fail("waitid(P_PIDFD): %s, pid %d status %d", strerror(errno), si.si_pid,
		     si.si_status);
	pass();
}
