/* A tree in a cgroup namespace of its own, as a container runtime makes
 * one: the root makes lmproc-cg-PID in the v1 pids hierarchy and in
 * cgroup v2 (/sys/fs/cgroup/unified), with main and child below the v2
 * one; it moves itself into both lmproc-cg-PID, unshares its cgroup
 * namespace there (its root), then moves itself into main and forks a
 * child that moves itself into child.  Before the checkpoint and after
 * the restore: each one's /proc/self/cgroup is exactly what it was
 * ("0::/main", "0::/child", "N:pids:/"), both are in one namespace that
 * is not the one the root started in, and a cgroup2 mounted inside (by a
 * helper in a mount namespace of its own) shows the namespace's root:
 * main and child, each holding its process.  Then the root moves itself
 * back and removes the cgroups, unless DIR/restore-follows says that a
 * restore of it comes next.  DIR/cgroups lists them, for the runner. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define V1_PIDS "/sys/fs/cgroup/pids"
#define V2 "/sys/fs/cgroup/unified"
#define NR_DIRS 4

struct report {
	int ok;
	char why[200];
};

static char dirs[NR_DIRS][256]; /* parents before children */
static char start_cg[4096];	/* the root's /proc/self/cgroup before it all */
static char snap[4096];
static struct stat outer_ns;
static int go_pipe[2], res_pipe[2];
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

/* Back to where the root started (outside the namespace's root: no
 * nsdelegate here), then every cgroup of the test goes, children first. */
static void cleanup(void)
{
	static const char *const hier[][2] = { { "pids", V1_PIDS }, { "", V2 } };
	char path[4096], dir[4200], restore_follows[4096];

	test_path(restore_follows, sizeof(restore_follows), "restore-follows");
	if (!access(restore_follows, F_OK))
		return;
	for (size_t i = 0; i < 2; i++) {
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
	char mine[4096], now[4096], why[200];
	char c;

	signal(SIGTERM, SIG_DFL);
	if (join(dirs[3])) {
		send_report(0, "the child can't move itself into its cgroup");
		_exit(1);
	}
	read_self(mine, sizeof(mine));
	if (!strstr(mine, "\n0::/child\n")) {
		snprintf(why, sizeof(why), "the child's cgroups are \"%.150s\"", mine);
		send_report(0, why);
		_exit(1);
	}
	send_report(1, "ready");
	while (read(go_pipe[0], &c, 1) != 1)
		if (errno != EINTR)
			_exit(3);
	read_self(now, sizeof(now));
	if (strcmp(now, mine)) {
		snprintf(why, sizeof(why), "the child's cgroups are now \"%.80s\", were \"%.80s\"",
			 now, mine);
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
	char path[4096], text[NR_DIRS * 260] = "";
	int fd;

	snprintf(dirs[0], sizeof(dirs[0]), V1_PIDS "/lmproc-cg-%d", getpid());
	snprintf(dirs[1], sizeof(dirs[1]), V2 "/lmproc-cg-%d", getpid());
	snprintf(dirs[2], sizeof(dirs[2]), V2 "/lmproc-cg-%d/main", getpid());
	snprintf(dirs[3], sizeof(dirs[3]), V2 "/lmproc-cg-%d/child", getpid());
	for (int i = 0; i < NR_DIRS; i++) {
		strcat(text, dirs[i]);
		strcat(text, "\n");
	}
	test_path(path, sizeof(path), "cgroups");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fail("can't write %s", path);
	close(fd);
	for (int i = 0; i < NR_DIRS; i++)
		if (mkdir(dirs[i], 0755))
			cg_fail("can't make %s: %s", dirs[i], strerror(errno));
}

/* PID is listed in DIR/NAME/cgroup.procs. */
static int holds(const char *dir, const char *name, pid_t pid)
{
	char path[4200], buf[512];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s/cgroup.procs", dir, name);
	n = test_read_file(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return 0;
	buf[n] = 0;
	for (char *s = buf; *s; s += strcspn(s, "\n"), s += *s == '\n')
		if (atoi(s) == pid)
			return 1;
	return 0;
}

/* In a helper with a mount namespace of its own: a cgroup2 mounted there
 * is the namespace's root, lmproc-cg-PID, holding main and child. */
static int mount_check(const char *mnt)
{
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return 10;
	if (mount("cgroup2", mnt, "cgroup2", 0, NULL))
		return 11;
	if (!holds(mnt, "main", getppid()))
		return 12;
	if (!holds(mnt, "child", child))
		return 13;
	return 0;
}

static void check_mount(const char *when)
{
	char mnt[4096];
	pid_t h;
	int st;

	test_path(mnt, sizeof(mnt), "cgmnt");
	if (mkdir(mnt, 0755) && errno != EEXIST)
		cg_fail("can't make %s: %s", mnt, strerror(errno));
	h = fork();
	if (h < 0)
		cg_fail("fork: %s", strerror(errno));
	if (h == 0)
		_exit(mount_check(mnt));
	if (waitpid(h, &st, 0) != h || !WIFEXITED(st) || WEXITSTATUS(st))
		cg_fail("%s: a cgroup2 mounted in the namespace is not its root lmproc-cg-%d "
			"holding main and child (helper status 0x%x: 10 unshare, 11 mount, 12 "
			"main, 13 child)",
			when, getpid(), st);
}

/* Root and child in one cgroup namespace, not the one the root started in. */
static void check_ns(const char *when)
{
	char path[64];
	struct stat self, other;

	snprintf(path, sizeof(path), "/proc/%d/ns/cgroup", child);
	if (stat("/proc/self/ns/cgroup", &self) || stat(path, &other))
		cg_fail("%s: can't stat the cgroup namespaces: %s", when, strerror(errno));
	if (self.st_ino == outer_ns.st_ino && self.st_dev == outer_ns.st_dev)
		cg_fail("%s: the root is in the cgroup namespace it started in", when);
	if (self.st_ino != other.st_ino || self.st_dev != other.st_dev)
		cg_fail("%s: root and child are in different cgroup namespaces (%lu, %lu)", when,
			(unsigned long)self.st_ino, (unsigned long)other.st_ino);
}

static void setup(void)
{
	struct report r;

	read_self(start_cg, sizeof(start_cg));
	if (stat("/proc/self/ns/cgroup", &outer_ns))
		fail("can't stat /proc/self/ns/cgroup: %s", strerror(errno));
	make_dirs();
	if (pipe(go_pipe) || pipe(res_pipe))
		cg_fail("pipe: %s", strerror(errno));
	if (join(dirs[0]) || join(dirs[1]))
		cg_fail("can't move into the test's cgroups: %s", strerror(errno));
	if (unshare(CLONE_NEWCGROUP))
		cg_fail("unshare(CLONE_NEWCGROUP): %s", strerror(errno));
	if (join(dirs[2]))
		cg_fail("can't move into %s: %s", dirs[2], strerror(errno));
	child = fork();
	if (child < 0)
		cg_fail("fork: %s", strerror(errno));
	if (child == 0)
		child_main();
	get_report(&r);
	if (!r.ok)
		cg_fail("%s", r.why);
	read_self(snap, sizeof(snap));
	if (!strstr(snap, "\n0::/main\n") || !strstr(snap, ":pids:/\n"))
		cg_fail("the root's cgroups in its namespace are \"%.200s\"", snap);
	check_ns("before the checkpoint");
	check_mount("before the checkpoint");
}

int main(int argc, char **argv)
{
	struct report r;
	char now[4096];
	int status;

	test_init(argc, argv);
	setup();
	test_waitsig();

	read_self(now, sizeof(now));
	if (strcmp(now, snap))
		cg_fail("cgroups are now \"%.120s\", were \"%.120s\"", now, snap);
	check_ns("after the restore");
	check_mount("after the restore");
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
