/* File leases: a read lease on fd 5 (file "r", the break signalled with
 * SIGIO) and a write lease on fd 6 (file "w", F_SETSIG SIGUSR2).  After
 * the restore F_GETLEASE and F_GETSIG read back as they were; a child
 * opening "r" for writing (O_NONBLOCK: EWOULDBLOCK, the break started)
 * gets the test SIGIO and the read lease breaks to F_UNLCK; a child
 * opening "w" for reading gets the test SIGUSR2 with si_fd 6 and the
 * write lease breaks to F_RDLCK.  Once the test gives the leases up, the
 * children's opens succeed.  Child E shares both descriptions by fork (the
 * test stays the leases' owner, whom a break signals) until it is told to
 * exit. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static char path_r[4096], path_w[4096];

static void lease(const char *path, int flags, int fd, int type)
{
	int f = open(path, O_RDWR | O_CREAT, 0600);

	if (f < 0)
		fail("create %s: %s", path, strerror(errno));
	close(f);
	f = open(path, flags);
	if (f < 0 || dup2(f, fd) != fd || fcntl(fd, F_SETLEASE, type))
		fail("lease %d on fd %d: %s", type, fd, strerror(errno));
	close(f);
}

/* A child opens PATH with FLAGS | O_NONBLOCK: EWOULDBLOCK while a lease
 * conflicts (WANT_BLOCKED), success once none does. */
static void open_in_child(const char *path, int flags, bool want_blocked)
{
	pid_t pid = fork();
	int st, fd;

	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		fd = open(path, flags | O_NONBLOCK);
		if (want_blocked)
			_exit(fd < 0 && errno == EWOULDBLOCK ? 0 : 1);
		_exit(fd >= 0 ? 0 : 2);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("the child's open of %s: status %#x (expected %s)", path, st,
		     want_blocked ? "EWOULDBLOCK" : "success");
}

/* Bounded: the kernel signals the holder as soon as the break starts. */
static void wait_break(int sig, int fd)
{
	struct timespec ts = { 20, 0 };
	sigset_t set;
	siginfo_t si;

	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigtimedwait(&set, &si, &ts) != sig)
		fail("no signal %d for the break of fd %d within 20 s: %s", sig, fd,
		     strerror(errno));
	if (sig != SIGIO && si.si_fd != fd)
		fail("signal %d of the break names fd %d, not %d", sig, si.si_fd, fd);
}

static void check_lease(int fd, int type, int sig)
{
	if (fcntl(fd, F_GETLEASE) != type)
		fail("fd %d: lease %d, not %d", fd, fcntl(fd, F_GETLEASE), type);
	if (fcntl(fd, F_GETSIG) != sig)
		fail("fd %d: F_GETSIG %d, not %d", fd, fcntl(fd, F_GETSIG), sig);
}

/* E holds fds 5 and 6 (forked with them) until its pipe ends. */
static pid_t fork_e(int *wfd)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 0 ? 0 : 1);
	}
	close(p[0]);
	*wfd = p[1];
	return pid;
}

int main(int argc, char **argv)
{
	sigset_t set;
	int e_pipe, st;
	pid_t e;

	test_init(argc, argv);
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		fail("sigprocmask: %s", strerror(errno));
	test_path(path_r, sizeof(path_r), "r");
	test_path(path_w, sizeof(path_w), "w");
	lease(path_r, O_RDONLY, 5, F_RDLCK);
	lease(path_w, O_RDWR, 6, F_WRLCK);
	if (fcntl(6, F_SETSIG, SIGUSR2))
		fail("F_SETSIG: %s", strerror(errno));
	check_lease(5, F_RDLCK, 0);
	check_lease(6, F_WRLCK, SIGUSR2);
	e = fork_e(&e_pipe);

	test_waitsig();

	check_lease(5, F_RDLCK, 0);
	check_lease(6, F_WRLCK, SIGUSR2);
	open_in_child(path_r, O_WRONLY, true);
	wait_break(SIGIO, 5);
	check_lease(5, F_UNLCK, 0);
	open_in_child(path_w, O_RDONLY, true);
	wait_break(SIGUSR2, 6);
	check_lease(6, F_RDLCK, SIGUSR2);
	if (fcntl(5, F_SETLEASE, F_UNLCK) || fcntl(6, F_SETLEASE, F_UNLCK))
		fail("giving the leases up: %s", strerror(errno));
	open_in_child(path_r, O_WRONLY, false);
	open_in_child(path_w, O_RDONLY, false);
	close(e_pipe);
	if (waitpid(e, &st, 0) != e || st)
		fail("child E: status %#x", st);
	pass();
}
