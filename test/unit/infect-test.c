/* Unit test of the parasite-control library (infect.h) against child
 * processes it starts: a busy counter, a task in nanosleep, one in
 * pause(), one with custom sigactions.  Each is seized the way seize.c
 * does it, infected, used and cured; the test proves that maps, fds,
 * registers, xsave, signal mask and dispositions are exactly as before
 * and that the children go on correctly (no EINTR, no signal lost).
 * Also measures infect+sigactions+cure and vmsplice throughput.
 * Prints TAP; exits non-zero if any check failed. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "infect.h"
#include "log.h"

#define BUF_SIZE (2UL << 20)
#define BIG_SIZE (256UL << 20)
#define SLEEP_NS 1500000000LL
#define XSAVE_MAX 8192

/* Shared with one child (MAP_SHARED before fork). */
struct shared {
	volatile uint64_t counter;
	volatile int ready;
	volatile int check_now;
	volatile int usr2_seen;
	volatile int trap_seen;
	volatile uint64_t buf;
	struct parasite_sigaction acts[64]; /* the child's own raw view */
};

static int nr_checks, nr_failed;

static bool check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++nr_checks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		nr_failed++;
	return ok;
}

static uint64_t pattern_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill_pattern(void *p, size_t len, uint64_t seed)
{
	uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = pattern_next(&seed);
}

static struct shared *new_shared(void)
{
	void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

/* ---- the children ---- */

static struct shared *child_sh;

static void on_usr2(int sig)
{
	(void)sig;
	child_sh->usr2_seen++;
}

static void on_trap(int sig)
{
	(void)sig;
	child_sh->trap_seen++;
}

static void handler_a(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
}

static void handler_b(int sig)
{
	(void)sig;
}

static void read_own_sigactions(struct parasite_sigaction *acts)
{
	memset(acts, 0, 64 * sizeof(*acts));
	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, NULL, &acts[sig - 1], 8);
}

static void child_counter(struct shared *sh)
{
	void *buf =
	    mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		_exit(3);
	fill_pattern(buf, BUF_SIZE, 0x1234);
	sh->buf = (uint64_t)buf;
	signal(SIGUSR2, on_usr2);
	signal(SIGTRAP, on_trap);
	sh->ready = 1;
	for (;;)
		sh->counter++;
}

static void child_big(struct shared *sh)
{
	void *buf = mmap(NULL, BIG_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (buf == MAP_FAILED)
		_exit(3);
	memset(buf, 0x5a, BIG_SIZE);
	sh->buf = (uint64_t)buf;
	sh->ready = 1;
	for (;;)
		pause();
}

/* Exit 0: slept the full time with no error; 1: EINTR; 2: woke early. */
static void child_sleeper(struct shared *sh)
{
	struct timespec ts = {SLEEP_NS / 1000000000, SLEEP_NS % 1000000000};
	uint64_t t0 = now_ns();
	int r;

	sh->ready = 1;
	r = nanosleep(&ts, NULL);
	if (r)
		_exit(errno == EINTR ? 1 : 4);
	_exit(now_ns() - t0 >= (uint64_t)SLEEP_NS ? 0 : 2);
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

/* Exit 0 only if pause() returned because of the SIGUSR1 the test sent.
 * With check_now set first, it ignores SIGTRAP: the cure then ends in
 * the untrapped injection that sets SIG_IGN back. */
static void child_pauser(struct shared *sh)
{
	int r;

	if (sh->check_now)
		signal(SIGTRAP, SIG_IGN);
	signal(SIGUSR1, on_usr1);
	sh->ready = 1;
	r = pause();
	_exit(r == -1 && errno == EINTR && got_usr1 ? 0 : 1);
}

static void set_action(int sig, void *handler, int flags, int mask_sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (mask_sig)
		sigaddset(&sa.sa_mask, mask_sig);
	if (sigaction(sig, &sa, NULL))
		_exit(3);
}

/* Exit 0 if its dispositions after the test are those it set. */
static void child_sigacts(struct shared *sh)
{
	struct parasite_sigaction now[64];

	set_action(SIGUSR1, handler_a, SA_SIGINFO | SA_RESTART, SIGTERM);
	set_action(SIGUSR2, SIG_IGN, 0, 0);
	set_action(SIGTERM, handler_b, SA_ONSTACK | SA_NODEFER, SIGINT);
	/* Our int3 traps reset an ignored SIGTRAP: the cure must undo it. */
	set_action(SIGTRAP, SIG_IGN, SA_RESTART, SIGQUIT);
	set_action(SIGSEGV, handler_a, SA_SIGINFO | SA_ONSTACK, 0);
	set_action(SIGRTMIN + 2, handler_b, SA_RESETHAND, SIGHUP);
	set_action(SIGPIPE, SIG_IGN, 0, 0);
	read_own_sigactions(sh->acts);
	sh->ready = 1;
	while (!sh->check_now)
		pause();
	read_own_sigactions(now);
	_exit(memcmp(now, sh->acts, sizeof(now)) ? 1 : 0);
}

static pid_t start_child(void (*fn)(struct shared *), struct shared *sh)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		int null_fd = open("/dev/null", O_WRONLY);

		/* Its stdout would be the test's: an fd whose offset moves. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null_fd, STDOUT_FILENO);
		dup2(null_fd, STDERR_FILENO);
		close(null_fd);
		child_sh = sh;
		fn(sh);
		_exit(0);
	}
	while (!sh->ready)
		usleep(1000);
	return pid;
}

/* ---- observing a task ---- */

static char *read_text(const char *path)
{
	char *buf = malloc(1 << 20);
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	buf[0] = 0;
	if (fd < 0)
		return buf;
	while ((n = read(fd, buf + len, (1 << 20) - 1 - len)) > 0)
		len += n;
	buf[len] = 0;
	close(fd);
	return buf;
}

/* The syscall the task sleeps in, from /proc/PID/syscall; -1 if running. */
static long current_syscall(pid_t pid)
{
	char path[64], *s;
	long nr = -1;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	s = read_text(path);
	if (strncmp(s, "running", 7))
		nr = strtol(s, NULL, 10);
	free(s);
	return nr;
}

static void wait_in_syscall(pid_t pid, long nr1, long nr2)
{
	for (int i = 0; i < 2000; i++) {
		long nr = current_syscall(pid);

		if (nr == nr1 || nr == nr2)
			return;
		usleep(1000);
	}
}

static char task_state(pid_t pid)
{
	char path[64], *s, *p, st = '?';

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	s = read_text(path);
	p = strrchr(s, ')');
	if (p && p[1])
		st = p[2];
	free(s);
	return st;
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	return atoi((*a)->d_name) - atoi((*b)->d_name);
}

/* Everything outside the registers that the parasite must leave as it was:
 * maps, every fd's target and fdinfo, signal mask and dispositions. */
static char *snapshot(pid_t pid)
{
	char path[300], link[256], *out = malloc(1 << 22), *s, *line;
	struct dirent **names;
	size_t len = 0;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	s = read_text(path);
	len += snprintf(out + len, (1 << 22) - len, "%s", s);
	free(s);
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	n = scandir(path, &names, NULL, cmp_names);
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			ssize_t l;

			snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, names[i]->d_name);
			l = readlink(path, link, sizeof(link) - 1);
			link[l > 0 ? l : 0] = 0;
			snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, names[i]->d_name);
			s = read_text(path);
			len += snprintf(out + len, (1 << 22) - len, "fd %s -> %s\n%s",
					names[i]->d_name, link, s);
			free(s);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	s = read_text(path);
	for (line = strtok(s, "\n"); line; line = strtok(NULL, "\n"))
		if (!strncmp(line, "SigBlk", 6) || !strncmp(line, "SigIgn", 6) ||
		    !strncmp(line, "SigCgt", 6))
			len += snprintf(out + len, (1 << 22) - len, "%s\n", line);
	free(s);
	return out;
}

struct cpu_state {
	struct user_regs_struct regs;
	uint64_t sigmask;
	char xsave[XSAVE_MAX];
	size_t xsave_len;
};

static bool get_cpu_state(pid_t pid, struct cpu_state *cs)
{
	struct iovec iov = {cs->xsave, sizeof(cs->xsave)};

	memset(cs, 0, sizeof(*cs));
	if (ptrace(PTRACE_GETREGS, pid, 0, &cs->regs) ||
	    ptrace(PTRACE_GETSIGMASK, pid, sizeof(uint64_t), &cs->sigmask) ||
	    ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov))
		return false;
	cs->xsave_len = iov.iov_len;
	return true;
}

/* XSTATE_BV (header byte 512) may lose the bit of a component whose
 * registers hold their init values whenever the task is switched out
 * (the CPU's init optimisation), with or without a parasite.  Such a
 * component reads back as the same init values, so compare the data
 * bytes, not that bitmap. */
#define XSTATE_BV_OFF 512

static bool same_cpu_state(const struct cpu_state *a, const struct cpu_state *b)
{
	const unsigned long long *ra = (const void *)&a->regs, *rb = (const void *)&b->regs;
	bool same = a->sigmask == b->sigmask && a->xsave_len == b->xsave_len;

	for (size_t i = 0; i < sizeof(a->regs) / 8; i++)
		if (ra[i] != rb[i]) {
			printf("# register %zu: %#llx became %#llx\n", i, ra[i], rb[i]);
			same = false;
		}
	for (size_t i = 0; same && i < a->xsave_len; i++) {
		if (i >= XSTATE_BV_OFF && i < XSTATE_BV_OFF + 8)
			continue;
		if (a->xsave[i] != b->xsave[i]) {
			printf("# xsave byte %zu: %#x became %#x\n", i, (unsigned char)a->xsave[i],
			       (unsigned char)b->xsave[i]);
			same = false;
		}
	}
	return same;
}

/* seize.c's recipe. */
static bool seize(pid_t pid)
{
	int status;

	if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0))
		return false;
	if (waitpid(pid, &status, __WALL) != pid)
		return false;
	return WIFSTOPPED(status) && status >> 16 == PTRACE_EVENT_STOP;
}

static bool detach(pid_t pid)
{
	return ptrace(PTRACE_DETACH, pid, 0, 0) == 0;
}

/* ---- one dump-like cycle ---- */

struct cycle {
	const char *name;
	const char *fault; /* LMPROC_FAULT for this cycle */
	int signal_during; /* sent after prepare */
	struct parasite_sigaction acts[64];
	bool want_sigactions;
	struct shared *sh;   /* vmsplice sh->buf */
	long in_syscall_rax; /* expected rax at the stop, 0: any */
};

static void check_vmsplice(pid_t pid, struct parasite_ctl *ctl, struct shared *sh)
{
	static const struct {
		size_t off, len;
	} parts[] = {
	    {0, 8192},	       {10000, 5000},	 {65553, 0},
	    {3 * 4096 + 1, 1}, {200000, 300000}, {1 << 20, 65536},
	};
	struct iovec iov[ARRAY_SIZE(parts)], big = {(void *)sh->buf, BUF_SIZE};
	char *want = malloc(BUF_SIZE), *got = malloc(BUF_SIZE), *exp = malloc(BUF_SIZE);
	size_t total = 0, n = 0;
	int p[2], p2[2], r1, r2, r3, r4;
	ssize_t r;

	fill_pattern(want, BUF_SIZE, 0x1234);
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		iov[i].iov_base = (char *)sh->buf + parts[i].off;
		iov[i].iov_len = parts[i].len;
		memcpy(exp + total, want + parts[i].off, parts[i].len);
		total += parts[i].len;
	}
	if (pipe2(p, O_NONBLOCK) || pipe2(p2, O_NONBLOCK) ||
	    fcntl(p[0], F_SETPIPE_SZ, 1 << 20) < 0 || fcntl(p2[0], F_SETPIPE_SZ, 1 << 20) < 0)
		return (void)check(false, "pid %d: pipes: %m", pid);

	r1 = parasite_vmsplice(ctl, p[1], iov, ARRAY_SIZE(iov));
	while ((r = read(p[0], got + n, BUF_SIZE - n)) > 0)
		n += r;
	check(r1 == 0 && n == total && !memcmp(got, exp, total),
	      "pid %d: vmsplice of 6 iovecs (%zu bytes) reads back identical (ret %d, %zu bytes)",
	      pid, total, r1, n);

	/* The cached pipe again, then another pipe that must be passed anew. */
	r2 = parasite_vmsplice(ctl, p[1], iov, 2);
	r3 = parasite_vmsplice(ctl, p2[1], iov + 4, 1);
	n = 0;
	while ((r = read(p[0], got + n, BUF_SIZE - n)) > 0)
		n += r;
	r = read(p2[0], got + n, BUF_SIZE - n);
	check(r2 == 0 && r3 == 0 && n == 8192 + 5000 && r == 300000 && !memcmp(got, exp, n) &&
		  !memcmp(got + n, want + 200000, 300000),
	      "pid %d: vmsplice into the cached pipe and into a new one (%d %d)", pid, r2, r3);

	r4 = parasite_vmsplice(ctl, p[1], &big, 1);
	check(r4 == -E2BIG, "pid %d: vmsplice of more than the pipe holds is refused (%d)", pid,
	      r4);
	close(p[0]), close(p[1]), close(p2[0]), close(p2[1]);
	free(want), free(got), free(exp);
}

/* Seize, prepare, infect, use, cure, detach; checks that the task is
 * exactly as it was.  Returns false if a step failed. */
static bool run_cycle(pid_t pid, struct cycle *c)
{
	struct cpu_state before, after;
	struct parasite_ctl *ctl;
	char *snap_before, *snap_after;
	int ret, infect_ret, cmd_ret = 0, cure_ret;
	long res = 0;

	snap_before = snapshot(pid);
	if (!check(seize(pid), "%s: pid %d seized", c->name, pid))
		return false;
	get_cpu_state(pid, &before);
	if (c->in_syscall_rax)
		check((long)before.regs.rax == c->in_syscall_rax,
		      "%s: pid %d stopped inside its syscall (rax %lld)", c->name, pid,
		      (long long)before.regs.rax);
	ctl = parasite_prepare(pid);
	if (!check(ctl != NULL, "%s: parasite_prepare", c->name))
		return detach(pid), false;
	if (c->signal_during)
		kill(pid, c->signal_during);
	ret = parasite_syscall(ctl, &res, __NR_getpid, 0, 0, 0, 0, 0, 0);
	check(ret == 0 && res == pid, "%s: injected getpid() returns %ld", c->name, res);
	ret = parasite_syscall(ctl, &res, __NR_close, -1, 0, 0, 0, 0, 0);
	check(ret == 0 && res == -EBADF, "%s: injected close(-1) returns -EBADF (%ld)", c->name,
	      res);

	if (c->fault)
		setenv("LMPROC_FAULT", c->fault, 1);
	infect_ret = parasite_infect(ctl);
	if (!infect_ret && c->want_sigactions)
		cmd_ret = parasite_dump_sigactions(ctl, c->acts);
	if (!infect_ret && !cmd_ret && c->sh)
		check_vmsplice(pid, ctl, c->sh);
	unsetenv("LMPROC_FAULT");
	if (c->fault)
		check(infect_ret || cmd_ret, "%s: fault %s makes the dump fail (%d, %d)", c->name,
		      c->fault, infect_ret, cmd_ret);
	else
		check(!infect_ret && !cmd_ret, "%s: infect and commands succeed (%d, %d)", c->name,
		      infect_ret, cmd_ret);
	cure_ret = parasite_cure(ctl);
	check(cure_ret == 0, "%s: parasite_cure returns 0 (%d)", c->name, cure_ret);

	get_cpu_state(pid, &after);
	/* A call that would resume through restart_syscall is re-issued
	 * instead (parasite-syscall.c: resume_regs()). */
	if ((long)before.regs.rax == -516 && (long)before.regs.orig_rax >= 0) {
		check(after.regs.rax == before.regs.orig_rax &&
			      after.regs.rip == before.regs.rip - 2 && (long)after.regs.orig_rax == -1,
		      "%s: the timed call is re-issued, not left to restart_syscall", c->name);
		before.regs.rax = before.regs.orig_rax;
		before.regs.rip -= 2;
		before.regs.orig_rax = -1;
	}
	check(same_cpu_state(&before, &after),
	      "%s: registers, xsave and signal mask identical after cure", c->name);
	check(detach(pid), "%s: detached", c->name);
	snap_after = snapshot(pid);
	if (!check(!strcmp(snap_before, snap_after), "%s: maps, fds and dispositions identical",
		   c->name))
		printf("# before:\n%s# after:\n%s", snap_before, snap_after);
	free(snap_before);
	free(snap_after);
	return true;
}

static bool counter_moves(struct shared *sh)
{
	uint64_t c0 = sh->counter;

	usleep(20000);
	return sh->counter > c0;
}

static bool wait_for(volatile int *v, int want)
{
	for (int i = 0; i < 1000 && *v != want; i++)
		usleep(1000);
	return *v == want;
}

static int wait_exit(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* ---- tests ---- */

static void test_counter(void)
{
	struct shared *sh = new_shared();
	pid_t pid = start_child(child_counter, sh);
	struct cycle c = {.name = "counter", .want_sigactions = true, .sh = sh};

	run_cycle(pid, &c);
	check(counter_moves(sh), "counter: keeps counting after the cure");
	check((void *)c.acts[SIGUSR2 - 1].handler == (void *)on_usr2 &&
		  (void *)c.acts[SIGTRAP - 1].handler == (void *)on_trap,
	      "counter: DUMP_SIGACTIONS sees its SIGUSR2 and SIGTRAP handlers");

	c = (struct cycle){.name = "counter+SIGUSR2", .signal_during = SIGUSR2};
	run_cycle(pid, &c);
	check(wait_for(&sh->usr2_seen, 1), "counter: SIGUSR2 sent during injection delivered once");

	c = (struct cycle){.name = "counter+SIGTRAP", .signal_during = SIGTRAP};
	run_cycle(pid, &c);
	check(wait_for(&sh->trap_seen, 1), "counter: SIGTRAP sent during injection delivered once");

	c = (struct cycle){.name = "counter+SIGSTOP", .signal_during = SIGSTOP};
	run_cycle(pid, &c);
	for (int i = 0; i < 1000 && task_state(pid) != 'T'; i++)
		usleep(1000);
	check(task_state(pid) == 'T', "counter: SIGSTOP sent during injection stops it after");
	kill(pid, SIGCONT);
	check(counter_moves(sh), "counter: counts again after SIGCONT");

	c = (struct cycle){.name = "fault parasite-infect", .fault = "parasite-infect"};
	run_cycle(pid, &c);
	check(counter_moves(sh), "counter: keeps counting after a failed infect");

	c = (struct cycle){
	    .name = "fault parasite-cmd", .fault = "parasite-cmd", .want_sigactions = true};
	run_cycle(pid, &c);
	check(counter_moves(sh), "counter: keeps counting after a failed command");
	check(sh->usr2_seen == 1 && sh->trap_seen == 1, "counter: no signal appeared from nowhere");

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_sleeper(void)
{
	struct shared *sh = new_shared();
	pid_t pid = start_child(child_sleeper, sh);
	struct cycle c = {.name = "nanosleep",
			  .want_sigactions = true,
			  .in_syscall_rax = -516 /* ERESTART_RESTARTBLOCK */};
	int code;

	wait_in_syscall(pid, __NR_nanosleep, __NR_clock_nanosleep);
	run_cycle(pid, &c);
	code = wait_exit(pid);
	check(code == 0, "nanosleep: sleeps its full time with no EINTR (exit %d)", code);
}

static void test_pauser(bool ignore_trap)
{
	struct shared *sh = new_shared();
	struct cycle c = {.name = ignore_trap ? "pause, SIGTRAP ignored" : "pause",
			  .want_sigactions = true,
			  .in_syscall_rax = -514 /* ERESTARTNOHAND */};
	pid_t pid;
	int code;

	sh->check_now = ignore_trap;
	pid = start_child(child_pauser, sh);
	wait_in_syscall(pid, __NR_pause, -2);
	run_cycle(pid, &c);
	usleep(50000);
	check(waitpid(pid, NULL, WNOHANG) == 0 && current_syscall(pid) == __NR_pause,
	      "%s: still in pause() after the cure", c.name);
	kill(pid, SIGUSR1);
	code = wait_exit(pid);
	check(code == 0, "%s: returns EINTR for the SIGUSR1 sent after (exit %d)", c.name, code);
}

static void test_sigacts(void)
{
	struct shared *sh = new_shared();
	pid_t pid = start_child(child_sigacts, sh);
	struct cycle c = {.name = "sigactions", .want_sigactions = true};
	int code;

	wait_in_syscall(pid, __NR_pause, -2);
	run_cycle(pid, &c);
	check(!memcmp(c.acts, sh->acts, sizeof(c.acts)),
	      "sigactions: DUMP_SIGACTIONS equals the task's own rt_sigaction view");
	check((void *)c.acts[SIGUSR1 - 1].handler == (void *)handler_a &&
		  (c.acts[SIGUSR1 - 1].flags & (SA_SIGINFO | SA_RESTART)) ==
		      (SA_SIGINFO | SA_RESTART) &&
		  c.acts[SIGUSR1 - 1].mask == 1ULL << (SIGTERM - 1) &&
		  c.acts[SIGUSR2 - 1].handler == (uint64_t)SIG_IGN &&
		  c.acts[SIGTRAP - 1].handler == (uint64_t)SIG_IGN &&
		  c.acts[SIGTRAP - 1].mask == 1ULL << (SIGQUIT - 1) &&
		  c.acts[SIGRTMIN + 2 - 1].mask == 1ULL << (SIGHUP - 1) &&
		  c.acts[SIGKILL - 1].handler == 0 && c.acts[SIGINT - 1].handler == 0,
	      "sigactions: handlers, flags and masks are the ones set");
	sh->check_now = 1;
	kill(pid, SIGUSR1);
	code = wait_exit(pid);
	check(code == 0, "sigactions: the task's dispositions unchanged after the cure (exit %d)",
	      code);
}

static uint64_t median(uint64_t *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

static void bench_infect(void)
{
	struct parasite_sigaction acts[64];
	struct shared *sh = new_shared();
	pid_t pid = start_child(child_counter, sh);
	uint64_t t[50] = {0}, t0;
	int ok = 0;

	for (int i = 0; i < 50; i++) {
		struct parasite_ctl *ctl;

		if (!seize(pid))
			break;
		ctl = parasite_prepare(pid);
		t0 = now_ns();
		if (ctl && !parasite_infect(ctl) && !parasite_dump_sigactions(ctl, acts))
			ok++;
		if (!parasite_cure(ctl) && ctl)
			t[i] = now_ns() - t0;
		detach(pid);
	}
	check(ok == 50, "bench: 50 infect+sigactions+cure cycles succeed (%d)", ok);
	if (ok == 50) {
		uint64_t med = median(t, 50);

		printf("# infect+dump_sigactions+cure: median %.0f us, min %.0f us (50 runs)\n",
		       med / 1e3, t[0] / 1e3);
	}
	check(counter_moves(sh), "bench: counter keeps counting");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void bench_vmsplice(void)
{
	struct shared *sh = new_shared();
	pid_t pid = start_child(child_big, sh);
	struct parasite_ctl *ctl = NULL;
	size_t chunk = 1 << 20, moved = 0;
	int p[2], null_fd = open("/dev/null", O_WRONLY);
	uint64_t t0, t;
	bool ok = false;

	if (pipe(p) || fcntl(p[1], F_SETPIPE_SZ, chunk) < 0 || null_fd < 0 || !seize(pid))
		goto out;
	ctl = parasite_prepare(pid);
	if (!ctl || parasite_infect(ctl))
		goto cure;
	t0 = now_ns();
	for (size_t off = 0; off < BIG_SIZE; off += chunk) {
		struct iovec iov = {(char *)sh->buf + off, chunk};
		size_t left = chunk;

		if (parasite_vmsplice(ctl, p[1], &iov, 1))
			goto cure;
		while (left) {
			ssize_t n = splice(p[0], NULL, null_fd, NULL, left, 0);

			if (n <= 0)
				goto cure;
			left -= n;
			moved += n;
		}
	}
	t = now_ns() - t0;
	ok = moved == BIG_SIZE;
	if (ok)
		printf(
		    "# vmsplice 256 MiB through the parasite to /dev/null: %.2f GB/s (%.1f ms)\n",
		    BIG_SIZE / (double)t, t / 1e6);
cure:
	if (ctl)
		ok &= parasite_cure(ctl) == 0;
	detach(pid);
out:
	check(ok, "bench: 256 MiB vmspliced and drained (%zu bytes)", moved);
	close(p[0]), close(p[1]), close(null_fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	log_init(LOG_ERR, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_counter();
	test_sleeper();
	test_pauser(false);
	test_pauser(true);
	test_sigacts();
	bench_infect();
	bench_vmsplice();
	printf("1..%d\n", nr_checks);
	printf("# %d passed, %d failed\n", nr_checks - nr_failed, nr_failed);
	return nr_failed ? 1 : 0;
}
