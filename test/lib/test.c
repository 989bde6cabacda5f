/* The zdtm-style test library (see test.h for the protocol with the
 * runner).  It owns the SIGTERM handler, the pid file and the verdict file;
 * it must not allocate memory or use stdio (tests check the heap and brk,
 * and buffered output would be part of the checkpointed state). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

volatile sig_atomic_t test_sig_received;

static const char *pidfile;
static const char *outfile;
static const char *scratch_dir = "/tmp";
static const char *prog = "test";
static pid_t test_pid;
static bool ready;

static void term_handler(int sig)
{
	(void)sig;
	test_sig_received = 1;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

void test_msg(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n, m;

	n = snprintf(buf, sizeof(buf), "%s[%d]: ", prog, (int)getpid());
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	n = (m < 0 || (size_t)(n + m) >= sizeof(buf) - 1) ? (int)sizeof(buf) - 2 : n + m;
	buf[n++] = '\n';
	write_all(STDERR_FILENO, buf, n);
}

/* Writes TEXT to PATH through a temporary file and rename(), so the runner
 * never reads a half-written file. */
static int write_file_atomic(const char *path, const char *text)
{
	char tmp[4096];
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	write_all(fd, text, strlen(text));
	if (close(fd) || rename(tmp, path))
		return -1;
	return 0;
}

static __attribute__((noreturn)) void finish(const char *verdict, int code)
{
	test_msg("%s", verdict);
	if (outfile && write_file_atomic(outfile, verdict))
		test_msg("can't write %s: %s", outfile, strerror(errno));
	exit(code);
}

void pass(void)
{
	if (getpid() != test_pid)
		fail("pid changed from %d to %d", (int)test_pid, (int)getpid());
	finish("PASS\n", 0);
}

void fail(const char *fmt, ...)
{
	char buf[1024] = "FAIL: ";
	size_t n = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	buf[n] = '\n';
	buf[n + 1] = '\0';
	finish(buf, 1);
}

void test_path(char *buf, size_t size, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s/%s", scratch_dir, name) >= size)
		fail("path %s/%s too long", scratch_dir, name);
}

ssize_t test_read_file(const char *path, void *buf, size_t size)
{
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (got < size) {
		ssize_t n = read(fd, (char *)buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	return got;
}

void test_read_fdinfo(int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	n = test_read_file(path, buf, size - 1);
	if (n < 0)
		fail("read %s: %s", path, strerror(errno));
	buf[n] = '\0';
}

uint64_t test_now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		fail("clock_gettime(CLOCK_MONOTONIC): %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t test_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return test_mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ getpid());
}

/* stdin /dev/null, stdout and stderr the log, nothing else open: the
 * runner's own descriptors (make's jobserver pipe, say) must not become
 * part of the test's state. */
static void setup_stdio(const char *log)
{
	int fd;

	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
		exit(2);
	if (fd != STDIN_FILENO)
		close(fd);
	if (log) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
			exit(2);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	syscall(SYS_close_range, 3U, ~0U, 0U);
}

static __attribute__((noreturn)) void usage(void)
{
	static const char text[] =
		"usage: TEST --pidfile FILE --outfile FILE [--log FILE] [--dir DIR]\n";

	write_all(STDERR_FILENO, text, sizeof(text) - 1);
	exit(2);
}

void test_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pidfile", required_argument, NULL, 'p' },
		{ "outfile", required_argument, NULL, 'o' },
		{ "log", required_argument, NULL, 'l' },
		{ "dir", required_argument, NULL, 'd' },
		{},
	};
	const char *log = NULL, *slash;
	struct sigaction sa = { .sa_handler = term_handler };
	int c;

	slash = strrchr(argv[0], '/');
	prog = slash ? slash + 1 : argv[0];
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pidfile = optarg;
			break;
		case 'o':
			outfile = optarg;
			break;
		case 'l':
			log = optarg;
			break;
		case 'd':
			scratch_dir = optarg;
			break;
		default:
			usage();
		}
	}
	if (!pidfile || !outfile || optind != argc)
		usage();
	setup_stdio(log);
	test_pid = getpid();
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL))
		fail("sigaction(SIGTERM): %s", strerror(errno));
}

void test_ready(void)
{
	char buf[32];

	if (ready)
		return;
	ready = true;
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write_file_atomic(pidfile, buf))
		fail("can't write pid file %s: %s", pidfile, strerror(errno));
	test_msg("ready");
}

void test_waitsig(void)
{
	sigset_t term, old, during, now;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &term, &old))
		fail("sigprocmask: %s", strerror(errno));
	test_ready();
	during = old;
	sigdelset(&during, SIGTERM);
	while (!test_sig_received)
		sigsuspend(&during);
	/* sigsuspend() must put back the mask it replaced, also when the
	 * task was checkpointed inside it. */
	if (sigprocmask(SIG_BLOCK, NULL, &now))
		fail("sigprocmask: %s", strerror(errno));
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		bool want = sig == SIGTERM || sigismember(&old, sig);

		if (sigismember(&now, sig) != want)
			fail("after sigsuspend signal %d is %sblocked, it was %sblocked before",
			     sig, want ? "not " : "", want ? "" : "not ");
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}
