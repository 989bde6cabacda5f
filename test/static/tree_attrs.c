/* Timers, credentials and the stopped state in the children of a tree:
 *   S  stops itself with SIGSTOP: after the restore the root finds it
 *      still stopped (state T) before it continues it; S checks that it
 *      ran on only once continued by SIGCONT
 *   U  arms ITIMER_REAL every 40 ms and a POSIX timer every 25 ms, sets
 *      nice 3, then gives up every privilege (groups, gids 3000, uids
 *      4000: no capability left); after the restore it has the same ids,
 *      no capability, the same timers (ids, intervals) still firing
 * Both wait for the root's go (a pipe) and report through another. */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

struct report {
	char who;
	int ok;
	char why[120];
};

static int go_pipe[2], res_pipe[2];
static volatile sig_atomic_t alarms, rt_ticks, conts;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void on_rt(int sig)
{
	(void)sig;
	rt_ticks++;
}

static void on_cont(int sig)
{
	(void)sig;
	conts++;
}

static void send_report(char who, int ok, const char *why)
{
	struct report r = { .who = who, .ok = ok };

	snprintf(r.why, sizeof(r.why), "%s", why);
	if (write(res_pipe[1], &r, sizeof(r)) != sizeof(r))
		_exit(2);
}

static void wait_go(void)
{
	char c;

	while (read(go_pipe[0], &c, 1) != 1)
		if (errno != EINTR)
			_exit(3);
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn, .sa_flags = SA_RESTART };

	sigaction(sig, &sa, NULL);
}

static void __attribute__((noreturn)) stopped_child(void)
{
	handle(SIGCONT, on_cont);
	send_report('S', 1, "ready");
	kill(getpid(), SIGSTOP);
	if (conts != 1) {
		send_report('S', 0, "ran on after the stop without SIGCONT");
		_exit(1);
	}
	wait_go();
	send_report('S', 1, "");
	_exit(0);
}

static int check_unprivileged(timer_t t, char *why, size_t len)
{
	struct itimerval it;
	struct itimerspec its;
	uid_t r, e, s;
	gid_t gr, ge, gs;
	cap_t c = cap_get_proc();
	char *text = c ? cap_to_text(c, NULL) : NULL;
	int ok = 1, a0, t0;
	uint64_t start;

	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	if (r != 4000 || e != 4000 || s != 4000 || gr != 3000 || ge != 3000 || gs != 3000 ||
	    getgroups(0, NULL) != 0)
		ok = !snprintf(why, len, "ids %u/%u/%u %u/%u/%u, %d groups", r, e, s, gr, ge, gs,
			       getgroups(0, NULL));
	else if (!text || strcmp(text, "="))
		ok = !snprintf(why, len, "capabilities \"%s\"", text ? text : "?");
	else if (getpriority(PRIO_PROCESS, 0) != 3)
		ok = !snprintf(why, len, "nice %d", getpriority(PRIO_PROCESS, 0));
	else if (getitimer(ITIMER_REAL, &it) || it.it_interval.tv_usec != 40000 ||
		 timer_gettime(t, &its) || its.it_interval.tv_nsec != 25000000)
		ok = !snprintf(why, len, "itimer interval %ld us, POSIX timer %ld ns",
			       (long)it.it_interval.tv_usec, (long)its.it_interval.tv_nsec);
	cap_free(text);
	cap_free(c);
	if (!ok)
		return 0;
	a0 = alarms;
	t0 = rt_ticks;
	start = test_now_ns();
	while (test_now_ns() - start < 500000000ULL)
		usleep(10000);
	if (alarms - a0 < 5 || rt_ticks - t0 < 8 || alarms - a0 > 15 || rt_ticks - t0 > 25)
		return !snprintf(why, len, "in 0.5 s: %d SIGALRM (every 40 ms), %d timer signals "
			       "(every 25 ms)", alarms - a0, rt_ticks - t0);
	return 1;
}

static void __attribute__((noreturn)) unprivileged_child(void)
{
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN };
	struct itimerspec its = { .it_value = { 0, 25000000 }, .it_interval = { 0, 25000000 } };
	struct itimerval it = { .it_value = { 0, 40000 }, .it_interval = { 0, 40000 } };
	char why[120] = "";
	timer_t t;

	handle(SIGALRM, on_alarm);
	handle(SIGRTMIN, on_rt);
	if (timer_create(CLOCK_MONOTONIC, &ev, &t) || timer_settime(t, 0, &its, NULL) ||
	    setitimer(ITIMER_REAL, &it, NULL) || setpriority(PRIO_PROCESS, 0, 3) ||
	    setgroups(0, NULL) || setresgid(3000, 3000, 3000) || setresuid(4000, 4000, 4000)) {
		send_report('U', 0, "setup failed");
		_exit(1);
	}
	if (!check_unprivileged(t, why, sizeof(why))) {
		send_report('U', 0, why);
		_exit(1);
	}
	send_report('U', 1, "ready");
	wait_go();
	if (!check_unprivileged(t, why, sizeof(why))) {
		send_report('U', 0, why);
		_exit(1);
	}
	send_report('U', 1, "");
	_exit(0);
}

static void read_report(const char *when)
{
	struct report r;

	if (read(res_pipe[0], &r, sizeof(r)) != sizeof(r))
		fail("%s: no report from a child: %s", when, strerror(errno));
	if (!r.ok)
		fail("%s: child %c: %s", when, r.who, r.why);
}

static char state_of(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = test_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : '?';
}

int main(int argc, char **argv)
{
	pid_t s, u;
	int st;

	test_init(argc, argv);
	if (pipe(go_pipe) || pipe(res_pipe))
		fail("pipe: %s", strerror(errno));
	s = fork();
	if (s == 0)
		stopped_child();
	u = fork();
	if (u == 0)
		unprivileged_child();
	if (s < 0 || u < 0)
		fail("fork: %s", strerror(errno));
	read_report("before the checkpoint");
	read_report("before the checkpoint");
	for (int i = 0; state_of(s) != 'T'; i++) {
		if (i == 5000)
			fail("child S did not stop in 5 s");
		usleep(1000);
	}

	test_waitsig();

	if (state_of(s) != 'T')
		fail("child S is in state %c, not stopped", state_of(s));
	kill(s, SIGCONT);
	if (write(go_pipe[1], "gg", 2) != 2)
		fail("write go: %s", strerror(errno));
	read_report("after the checkpoint");
	read_report("after the checkpoint");
	if (waitpid(s, &st, 0) != s || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child S ended with status 0x%x", st);
	if (waitpid(u, &st, 0) != u || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child U ended with status 0x%x", st);
	pass();
}
