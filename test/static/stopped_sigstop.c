/* A process in a group stop with a second SIGSTOP pending in its queue
 * (sent while it was stopped: it waits there until a SIGCONT discards
 * it).  A helper process, reparented away, sends that SIGSTOP once the
 * test is stopped and only then writes the pid file, so the runner's
 * snapshot (test/run.sh, stop_knobs) sees it pending, and must see it
 * pending again after the restore.  Once continued, the test runs on:
 * the SIGCONT discarded the pending SIGSTOP and it is not stopped again. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static volatile sig_atomic_t conts;

static void on_cont(int sig)
{
	(void)sig;
	conts++;
}

static const char *arg_of(int argc, char **argv, const char *name)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return NULL;
}

static char state_of(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = test_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : 0;
}

/* "ShdPnd:" of PID has SIG. */
static bool shared_pending(pid_t pid, int sig)
{
	char path[64], buf[4096], *p;
	unsigned long long mask;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	n = test_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strstr(buf, "ShdPnd:");
	return p && sscanf(p + 7, "%llx", &mask) == 1 && (mask & (1ULL << (sig - 1)));
}

/* The helper: waits (at most 5 s) for the test to stop, queues the second
 * SIGSTOP, then writes the test's pid to the pid file. */
static void helper(pid_t test, const char *pidfile)
{
	char tmp[4200], buf[32];
	int fd, len;

	for (int i = 0; i < 5000 && state_of(test) != 'T'; i++)
		usleep(1000);
	if (state_of(test) != 'T' || kill(test, SIGSTOP))
		_exit(1);
	for (int i = 0; i < 5000 && !shared_pending(test, SIGSTOP); i++)
		usleep(1000);
	snprintf(tmp, sizeof(tmp), "%s.helper", pidfile);
	len = snprintf(buf, sizeof(buf), "%d\n", test);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, len) != len || close(fd) || rename(tmp, pidfile))
		_exit(1);
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *pidfile = arg_of(argc, argv, "--pidfile");
	struct sigaction sa = { .sa_handler = on_cont };
	pid_t test = getpid(), c;
	int st;

	test_init(argc, argv);
	if (!pidfile)
		fail("no --pidfile");
	if (sigaction(SIGCONT, &sa, NULL))
		fail("sigaction: %s", strerror(errno));
	c = fork();
	if (c < 0)
		fail("fork: %s", strerror(errno));
	if (c == 0) {
		if (fork() == 0)
			helper(test, pidfile);
		_exit(0);
	}
	if (waitpid(c, &st, 0) != c || st)
		fail("the helper's parent: status 0x%x", st);
	if (kill(test, SIGSTOP))
		fail("SIGSTOP: %s", strerror(errno));
	/* Here once the runner sent SIGCONT, which discarded the pending
	 * SIGSTOP. */
	if (conts != 1)
		fail("running on after the stop, continued %d times", (int)conts);
	if (shared_pending(test, SIGSTOP))
		fail("SIGSTOP still pending after SIGCONT");
	test_waitsig();
	if (conts != 1)
		fail("continued %d times", (int)conts);
	pass();
}
