/* Cgroup membership of a tree: the root makes cgroups of its own,
 * lmproc-cg-PID in the v1 pids and freezer hierarchies and in cgroup v2
 * (/sys/fs/cgroup/unified), and lmproc-cg-PID/child in pids and v2, each
 * pids one with a pids.max of its own; it moves itself into the first and
 * its child moves itself into the second.  After the restore each checks
 * that /proc/self/cgroup is exactly what it was, and the root that both
 * pids.max are (kept by an existing cgroup, set again by one that
 * --manage-cgroups made).  Then the root moves itself back to where it
 * started and removes the cgroups, unless DIR/restore-follows says that a
 * restore of it comes next (the original of a dump -R).  DIR/cgroups
 * lists them, for the runner to remove whatever a failed run left. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define V1_PIDS "/sys/fs/cgroup/pids"
#define V1_FREEZER "/sys/fs/cgroup/freezer"
#define V2 "/sys/fs/cgroup/unified"
#define NR_DIRS 5

struct report {
	int ok;
	char why[200];
};

static char dirs[NR_DIRS][256]; /* parents before children */
static char start_cg[4096];	/* the root's /proc/self/cgroup before the moves */
static char snap[4096], child_snap[4096];
static int go_pipe[2], res_pipe[2];
static int pids_max[2];
static pid_t child;

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -1;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = -1;
	close(fd);
	return ret;
}

static int join(const char *dir)
{
	char path[4400], pid[16];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_str(path, pid);
}

static void read_self(char *buf, size_t size)
{
	ssize_t n = test_read_file("/proc/self/cgroup", buf, size - 1);

	buf[n < 0 ? 0 : n] = 0;
}

/* The path of hierarchy line "ID:CTRLS:" in CG, copied to OUT. */
static int path_of(const char *cg, const char *ctrls, char *out, size_t size)
{
	char key[64];
	const char *p;
	size_t n;

	snprintf(key, sizeof(key), ":%s:", ctrls);
	p = strstr(cg, key);
	if (!p)
		return -1;
	p += strlen(key);
	n = strcspn(p, "\n");
	snprintf(out, size, "%.*s", (int)n, p);
	return 0;
}

/* Back to where the root started, then every cgroup of the test goes,
 * children first. */
static void cleanup(void)
{
	static const char *const hier[][2] = { { "pids", V1_PIDS }, { "freezer", V1_FREEZER },
					       { "", V2 } };
	char path[4096], dir[4200], restore_follows[4096];

	test_path(restore_follows, sizeof(restore_follows), "restore-follows");
	if (!access(restore_follows, F_OK))
		return;
	for (size_t i = 0; i < 3; i++) {
		if (path_of(start_cg, hier[i][0], path, sizeof(path)))
			continue;
		snprintf(dir, sizeof(dir), "%s%s", hier[i][1], strcmp(path, "/") ? path : "");
		if (join(dir))
			test_msg("can't move back to %s: %s", dir, strerror(errno));
	}
	for (int i = NR_DIRS - 1; i >= 0; i--)
		if (dirs[i][0] && rmdir(dirs[i]) && errno != ENOENT)
			test_msg("can't remove %s: %s", dirs[i], strerror(errno));
}

static void __attribute__((noreturn, format(printf, 1, 2))) cg_fail(const char *fmt, ...)
{
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	cleanup();
	fail("%s", why);
}

static void send_report(int ok, const char *why)
{
	struct report r = { .ok = ok };

	snprintf(r.why, sizeof(r.why), "%s", why);
	if (write(res_pipe[1], &r, sizeof(r)) != sizeof(r))
		_exit(2);
}

static void __attribute__((noreturn)) child_main(void)
{
	char now[4096];
	char c;

	signal(SIGTERM, SIG_DFL);
	if (join(dirs[3]) || join(dirs[4])) {
		send_report(0, "the child can't move itself into its cgroups");
		_exit(1);
	}
	read_self(child_snap, sizeof(child_snap));
	send_report(1, "ready");
	while (read(go_pipe[0], &c, 1) != 1)
		if (errno != EINTR)
			_exit(3);
	read_self(now, sizeof(now));
	if (strcmp(now, child_snap)) {
		char why[200];

		snprintf(why, sizeof(why), "the child's cgroups are now \"%.80s\"...", now);
		send_report(0, why);
		_exit(1);
	}
	send_report(1, "");
	_exit(0);
}

static void get_report(struct report *r)
{
	while (read(res_pipe[0], r, sizeof(*r)) != sizeof(*r))
		if (errno != EINTR)
			cg_fail("no report from the child: %s", strerror(errno));
}

static void make_dirs(void)
{
	char path[600], val[16];
	uint64_t seed = test_seed();

	snprintf(dirs[0], sizeof(dirs[0]), V1_PIDS "/lmproc-cg-%d", getpid());
	snprintf(dirs[1], sizeof(dirs[1]), V1_FREEZER "/lmproc-cg-%d", getpid());
	snprintf(dirs[2], sizeof(dirs[2]), V2 "/lmproc-cg-%d", getpid());
	snprintf(dirs[3], sizeof(dirs[3]), V1_PIDS "/lmproc-cg-%d/child", getpid());
	snprintf(dirs[4], sizeof(dirs[4]), V2 "/lmproc-cg-%d/child", getpid());
	for (int i = 0; i < NR_DIRS; i++)
		if (mkdir(dirs[i], 0755))
			cg_fail("can't make %s: %s", dirs[i], strerror(errno));
	pids_max[0] = 100 + (int)(seed % 50);
	pids_max[1] = 20 + (int)(seed / 50 % 20);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/pids.max", dirs[i ? 3 : 0]);
		snprintf(val, sizeof(val), "%d", pids_max[i]);
		if (write_str(path, val))
			cg_fail("can't set %s: %s", path, strerror(errno));
	}
}

/* The list the runner cleans up from after a failed run. */
static void list_dirs(void)
{
	char path[4096], text[NR_DIRS * 260] = "";
	int fd;

	for (int i = 0; i < NR_DIRS; i++) {
		strcat(text, dirs[i]);
		strcat(text, "\n");
	}
	test_path(path, sizeof(path), "cgroups");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		cg_fail("can't write %s", path);
	close(fd);
}

static void check_limits(void)
{
	char path[600], val[32];

	for (int i = 0; i < 2; i++) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/pids.max", dirs[i ? 3 : 0]);
		n = test_read_file(path, val, sizeof(val) - 1);
		val[n < 0 ? 0 : n] = 0;
		if (n < 0 || atoi(val) != pids_max[i])
			cg_fail("%s is \"%s\", was %d", path, n < 0 ? strerror(errno) : val,
				pids_max[i]);
	}
}

int main(int argc, char **argv)
{
	struct report r;
	char now[4096];
	int status;

	test_init(argc, argv);
	read_self(start_cg, sizeof(start_cg));
	make_dirs();
	list_dirs();
	if (pipe(go_pipe) || pipe(res_pipe))
		cg_fail("pipe: %s", strerror(errno));
	if (join(dirs[0]) || join(dirs[1]) || join(dirs[2]))
		cg_fail("can't move into the test's cgroups: %s", strerror(errno));
	child = fork();
	if (child < 0)
		cg_fail("fork: %s", strerror(errno));
	if (child == 0)
		child_main();
	get_report(&r);
	if (!r.ok)
		cg_fail("%s", r.why);
	read_self(snap, sizeof(snap));
	test_waitsig();

	read_self(now, sizeof(now));
	if (strcmp(now, snap))
		cg_fail("cgroups are now \"%.120s\", were \"%.120s\"", now, snap);
	check_limits();
	if (write(go_pipe[1], "g", 1) != 1)
		cg_fail("can't wake the child");
	get_report(&r);
	if (!r.ok)
		cg_fail("%s", r.why);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		cg_fail("the child ended with status 0x%x", status);
	child = 0;
	cleanup();
	pass();
}
