/* pidfds of the tree's processes: fd 10 of child A, which runs until it
 * reads its exit code from a pipe; fd 11 (O_NONBLOCK) of child B, a
 * zombie; fd 12 (O_NONBLOCK) of child C, which exited and was reaped
 * ("Pid: -1"); fd 13 of the test's own main thread (PIDFD_THREAD).  After
 * the restore: A's pidfd does not poll readable until A exits, then does,
 * and waitid(P_PIDFD) reaps A with the code it was told; B's polls
 * readable and waitid(P_PIDFD) reaps B with its status; C's polls
 * readable, waitid says ECHILD and PIDFD_GET_INFO still gives C's status;
 * the thread pidfd signals the test.  Every pidfd keeps its pid (fdinfo),
 * flags and close-on-exec flag.  Child D shares fd 10 (A's pidfd) by fork
 * and alone holds fd 14, a pidfd of the test: once told to, it checks
 * both and exits 0. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/* include/uapi/linux/pidfd.h (6.13, PIDFD_INFO_EXIT 6.15): the first 64
 * bytes of struct pidfd_info. */
struct t_pidfd_info {
	uint64_t mask, cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
};
#define T_PIDFD_GET_INFO _IOWR(0xFF, 11, struct t_pidfd_info)
#define T_PIDFD_INFO_EXIT (1UL << 3)

enum { FD_A = 10, FD_B, FD_C, FD_SELF, FD_PARENT };

static pid_t child(int st, int rfd)
{
	pid_t pid = fork();
	unsigned char code;

	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid)
		return pid;
	if (rfd < 0)
		_exit(st);
	if (read(rfd, &code, 1) != 1)
		_exit(99);
	_exit(code);
}

static void put_pidfd(pid_t pid, unsigned int flags, int fd, bool cloexec)
{
	int p = syscall(SYS_pidfd_open, pid, flags);

	if (p < 0 || dup2(p, fd) != fd || fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0))
		fail("pidfd of %d at fd %d: %s", pid, fd, strerror(errno));
	close(p);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 0) < 0)
		fail("poll fd %d: %s", fd, strerror(errno));
	return p.revents & POLLIN;
}

/* Bounded: A exits as soon as it reads its code. */
static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 20000) != 1 || !(p.revents & POLLIN))
		fail("fd %d did not poll readable within 20 s of its process's exit", fd);
}

/* The fd's "Pid:" in fdinfo, its open flags and close-on-exec flag. */
static void check_fd(int fd, int pid, int flags, bool cloexec)
{
	char info[1024];
	const char *s;
	int got;

	test_read_fdinfo(fd, info, sizeof(info));
	s = strstr(info, "\nPid:");
	if (!s || sscanf(s + 5, "%d", &got) != 1 || got != pid)
		fail("fd %d: a pidfd of %d expected: %s", fd, pid, info);
	got = fcntl(fd, F_GETFL);
	if ((got & (O_NONBLOCK | PIDFD_THREAD | O_ACCMODE)) != (flags | O_RDWR))
		fail("fd %d: flags %o, not %o", fd, got, flags | O_RDWR);
	if (!!(fcntl(fd, F_GETFD) & FD_CLOEXEC) != cloexec)
		fail("fd %d: close-on-exec %d", fd, !cloexec);
}

/* D: exits 0 once its pipe ends if fd 10 is a pidfd of A and fd 14 one
 * of its parent, still running; else a code saying which was wrong. */
static void __attribute__((noreturn)) child_d(int rfd, pid_t a)
{
	char info[1024], want[32];
	unsigned char c;

	if (read(rfd, &c, 1) != 0)
		_exit(10);
	snprintf(want, sizeof(want), "\nPid:\t%d\n", a);
	test_read_fdinfo(FD_A, info, sizeof(info));
	if (!strstr(info, want))
		_exit(11);
	snprintf(want, sizeof(want), "\nPid:\t%d\n", getppid());
	test_read_fdinfo(FD_PARENT, info, sizeof(info));
	if (!strstr(info, want))
		_exit(12);
	if (readable(FD_PARENT) || syscall(SYS_pidfd_send_signal, FD_PARENT, 0, NULL, 0))
		_exit(13);
	_exit(0);
}

static pid_t fork_d(int go_d[2], pid_t a)
{
	pid_t pid;

	/* Made after A: only the test may hold its write end. */
	if (pipe(go_d))
		fail("pipe: %s", strerror(errno));
	put_pidfd(getpid(), 0, FD_PARENT, true);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(go_d[1]);
		child_d(go_d[0], a);
	}
	close(go_d[0]);
	close(FD_PARENT);
	return pid;
}

static void reap(int fd, pid_t pid, int code, int what)
{
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, fd, &si, WEXITED))
		fail("waitid(P_PIDFD) of fd %d: %s", fd, strerror(errno));
	if (si.si_pid != pid || si.si_code != what || si.si_status != code)
		fail("fd %d: waitid gave pid %d code %d status %d; expected %d %d %d", fd,
		     si.si_pid, si.si_code, si.si_status, pid, what, code);
}

static void check_dead(int code)
{
	struct t_pidfd_info info = { .mask = T_PIDFD_INFO_EXIT };
	siginfo_t si;

	if (!readable(FD_C))
		fail("the reaped child's pidfd does not poll readable");
	if (!waitid(P_PIDFD, FD_C, &si, WEXITED | WNOHANG) || errno != ECHILD)
		fail("waitid of the reaped child's pidfd: %s, not ECHILD", strerror(errno));
	if (ioctl(FD_C, T_PIDFD_GET_INFO, &info) && errno != ENOTTY && errno != EINVAL)
		fail("PIDFD_GET_INFO: %s", strerror(errno));
	if ((info.mask & T_PIDFD_INFO_EXIT) && info.exit_code != code << 8)
		fail("the reaped child's status %#x, not %#x", info.exit_code, code << 8);
}

int main(int argc, char **argv)
{
	uint64_t seed;
	int go[2], go_d[2], code_a, code_b, code_c, st;
	pid_t a, b, c, d;
	unsigned char ca;
	siginfo_t si;

	test_init(argc, argv);
	seed = test_seed();
	code_a = 1 + seed % 100;
	code_b = 101 + seed / 100 % 50;
	code_c = 151 + seed / 5000 % 50;
	if (pipe(go))
		fail("pipe: %s", strerror(errno));
	a = child(0, go[0]);
	close(go[0]);
	b = child(code_b, -1);
	c = child(code_c, -1);
	put_pidfd(a, 0, FD_A, true);
	put_pidfd(b, O_NONBLOCK, FD_B, false);
	put_pidfd(c, O_NONBLOCK, FD_C, true);
	put_pidfd(getpid(), PIDFD_THREAD, FD_SELF, true);
	d = fork_d(go_d, a);
	if (waitid(P_PID, b, &si, WEXITED | WNOWAIT) || waitpid(c, NULL, 0) != c)
		fail("waiting for the children: %s", strerror(errno));
	if (readable(FD_A) || !readable(FD_B))
		fail("before the checkpoint: A readable %d, B readable %d", readable(FD_A),
		     readable(FD_B));

	test_waitsig();

	check_fd(FD_A, a, 0, true);
	check_fd(FD_B, b, O_NONBLOCK, false);
	check_fd(FD_C, -1, O_NONBLOCK, true);
	check_fd(FD_SELF, getpid(), PIDFD_THREAD, true);
	close(go_d[1]);
	if (waitpid(d, &st, 0) != d || st)
		fail("child D: status %#x", st);
	if (syscall(SYS_pidfd_send_signal, FD_SELF, 0, NULL, 0))
		fail("pidfd_send_signal through the thread pidfd: %s", strerror(errno));
	if (readable(FD_A))
		fail("child A's pidfd polls readable while A runs");
	if (!readable(FD_B))
		fail("zombie B's pidfd does not poll readable");
	reap(FD_B, b, code_b, CLD_EXITED);
	check_dead(code_c);
	ca = code_a;
	if (write(go[1], &ca, 1) != 1)
		fail("telling A to exit: %s", strerror(errno));
	wait_readable(FD_A);
	reap(FD_A, a, code_a, CLD_EXITED);
	pass();
}
