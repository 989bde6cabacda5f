/* Seccomp across a checkpoint, per thread.  The main thread has two
 * stacked filters: A makes getppid() fail with errno EA, B (installed with
 * SECCOMP_FILTER_FLAG_LOG) kills the process on getpgid(); no_new_privs
 * stays clear (root installs without it).  A second thread, cloned after
 * A, sets no_new_privs and adds C, which makes getppid() fail with EC:
 * the newest filter's errno wins, so the chain's order shows.  EA and EC
 * come from the run's seed.  A child forked before any filter runs in
 * strict mode and echoes bytes through a pipe.  Before and after the
 * restore: getppid() fails as each thread's chain says, getpid() and (in
 * the thread) getpgid() work, a child forked by the main thread is killed
 * by SIGSYS for getpgid(), /proc status says Seccomp, Seccomp_filters and
 * NoNewPrivs as before, and the strict child still echoes; at the end it
 * is killed by SIGKILL for a getpid(). */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static int err_a, err_c;
static int to_child[2], from_child[2];
static pid_t strict_child;
static atomic_int thread_ready, thread_go, thread_done;
static char thread_why[200];

static void install(int nr, uint32_t action, unsigned int flags)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, action),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog))
		fail("seccomp(SECCOMP_SET_MODE_FILTER): %s", strerror(errno));
}

/* "Seccomp: 2, Seccomp_filters: 2, NoNewPrivs: 0" of thread TID of
 * pid PID, or a mismatch into WHY. */
static int check_status(pid_t pid, pid_t tid, int mode, int filters, int nnp, char *why, size_t len)
{
	static const char *const keys[] = {"\nSeccomp:", "\nSeccomp_filters:", "\nNoNewPrivs:"};
	int want[] = {mode, filters, nnp};
	char path[64], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	n = test_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0) {
		snprintf(why, len, "can't read %s", path);
		return -1;
	}
	buf[n] = '\0';
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *p = strstr(buf, keys[i]);
		int v;

		if (!p || sscanf(p + strlen(keys[i]), "%d", &v) != 1 || v != want[i]) {
			snprintf(why, len, "%s %s is %d, expected %d", path, keys[i] + 1,
				 p ? v : -1, want[i]);
			return -1;
		}
	}
	return 0;
}

static int check_getppid(int err, char *why, size_t len)
{
	long r = syscall(SYS_getppid);

	if (r != -1 || errno != err) {
		snprintf(why, len, "getppid() returned %ld (errno %d), expected errno %d", r,
			 r == -1 ? errno : 0, err);
		return -1;
	}
	return 0;
}

/* The thread's own chain: A then C, no_new_privs set. */
static int thread_check(char *why, size_t len)
{
	pid_t tid = syscall(SYS_gettid);

	if (check_getppid(err_c, why, len))
		return -1;
	if (syscall(SYS_getpgid, 0) != getpgid(0) || getpgid(0) < 0) {
		snprintf(why, len, "getpgid() failed in the thread: %s", strerror(errno));
		return -1;
	}
	return check_status(getpid(), tid, SECCOMP_MODE_FILTER, 2, 1, why, len);
}

static void *thread_main(void *arg)
{
	(void)arg;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(thread_why, sizeof(thread_why), "PR_SET_NO_NEW_PRIVS: %s",
			 strerror(errno));
	} else {
		install(__NR_getppid, SECCOMP_RET_ERRNO | err_c, 0);
		thread_check(thread_why, sizeof(thread_why));
	}
	atomic_store(&thread_ready, 1);
	while (!atomic_load(&thread_go))
		usleep(1000);
	thread_check(thread_why, sizeof(thread_why));
	atomic_store(&thread_done, 1);
	return NULL;
}

/* Only read(), write() and exit() are allowed from here on. */
static void __attribute__((noreturn)) strict_main(void)
{
	char c;

	close(to_child[1]);
	close(from_child[0]);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT))
		syscall(SYS_exit, 2);
	while (read(to_child[0], &c, 1) == 1) {
		if (c == 'q')
			syscall(SYS_getpid);
		c ^= 0x20;
		if (write(from_child[1], &c, 1) != 1)
			break;
	}
	syscall(SYS_exit, 1);
	__builtin_unreachable();
}

static void check_strict_child(const char *when)
{
	/* 'a' to 'p': 'q' is the child's last command (its getpid()). */
	char why[200], c = 'a' + (char)(test_seed() % 16);

	if (write(to_child[1], &c, 1) != 1)
		fail("%s: writing to the strict child: %s", when, strerror(errno));
	if (read(from_child[0], &c, 1) != 1)
		fail("%s: reading from the strict child: %s", when, strerror(errno));
	if (c < 'A' || c > 'Z')
		fail("%s: the strict child answered %#x", when, c);
	if (check_status(strict_child, strict_child, SECCOMP_MODE_STRICT, 0, 0, why, sizeof(why)))
		fail("%s: strict child: %s", when, why);
}

/* A child of the main thread inherits A and B: getppid() fails with EA,
 * getpgid() kills it by SIGSYS. */
static void check_killed_child(const char *when)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		fail("%s: fork: %s", when, strerror(errno));
	if (!pid) {
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		if (syscall(SYS_getppid) != -1 || errno != err_a)
			_exit(3);
		syscall(SYS_getpgid, 0);
		_exit(4);
	}
	if (waitpid(pid, &status, 0) != pid)
		fail("%s: waitpid: %s", when, strerror(errno));
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		fail("%s: the child doing getpgid() ended with status %#x, not killed by SIGSYS",
		     when, status);
}

static void check_main(const char *when)
{
	char why[200];

	if (check_getppid(err_a, why, sizeof(why)))
		fail("%s: main thread: %s", when, why);
	if (syscall(SYS_getpid) != getpid() || getuid() != geteuid())
		fail("%s: getpid() or getuid() failed: %s", when, strerror(errno));
	if (check_status(getpid(), getpid(), SECCOMP_MODE_FILTER, 2, 0, why, sizeof(why)))
		fail("%s: main thread: %s", when, why);
	check_killed_child(when);
	check_strict_child(when);
}

int main(int argc, char **argv)
{
	uint64_t seed;
	pthread_t th;
	int status;

	test_init(argc, argv);
	seed = test_seed();
	err_a = 1 + (int)(seed % 60);
	err_c = 61 + (int)((seed >> 8) % 60);
	if (pipe(to_child) || pipe(from_child))
		fail("pipe: %s", strerror(errno));
	strict_child = fork();
	if (strict_child < 0)
		fail("fork: %s", strerror(errno));
	if (!strict_child)
		strict_main();
	close(to_child[0]);
	close(from_child[1]);

	install(__NR_getppid, SECCOMP_RET_ERRNO | err_a, 0);
	if (pthread_create(&th, NULL, thread_main, NULL))
		fail("pthread_create");
	while (!atomic_load(&thread_ready))
		usleep(1000);
	if (thread_why[0])
		fail("before: thread: %s", thread_why);
	install(__NR_getpgid, SECCOMP_RET_KILL_PROCESS, SECCOMP_FILTER_FLAG_LOG);
	check_main("before");

	test_waitsig();

	check_main("after");
	atomic_store(&thread_go, 1);
	for (int i = 0; i < 10000 && !atomic_load(&thread_done); i++)
		usleep(1000);
	if (!atomic_load(&thread_done))
		fail("the thread did not finish its checks");
	if (thread_why[0])
		fail("after: thread: %s", thread_why);
	pthread_join(th, NULL);
	if (write(to_child[1], "q", 1) != 1)
		fail("writing to the strict child: %s", strerror(errno));
	if (waitpid(strict_child, &status, 0) != strict_child)
		fail("waitpid: %s", strerror(errno));
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail("the strict child's getpid() ended it with status %#x, not SIGKILL", status);
	pass();
}
