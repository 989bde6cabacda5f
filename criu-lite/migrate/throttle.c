/* migrate --auto-converge: slows a tree whose pre-copy rounds stop
 * converging, as QEMU throttles vCPUs.  A cgroup of its own
 * (lmproc-throttle-PID) under the tree's current cpu cgroup (cgroup v1's
 * cpu hierarchy, or v2 where the tree's cgroup delegates cpu) takes the
 * tree's processes and a CFS quota, raised step by step.  Undone before
 * the final dump and on every failure: the processes go back to the
 * cgroup they were in and the cgroup made here is removed, so the dump
 * records the tree's own membership and a failed migration leaves the
 * tree as it found it.  Nothing else is touched: the original cgroup's
 * limits are never written. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "migrate.h"

#define CFS_PERIOD_US 100000
#define RMDIR_TRIES 100

/* The mount point of the cpu controller's hierarchy (v1: a cgroup mount
 * with "cpu" among its options; v2: the cgroup2 mount) into MNT. */
static int cpu_mount(bool v2, char *mnt, size_t len)
{
	char line[4096], point[1024], type[64], super[1024];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = -ENOENT;

	while (f && found && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");
		char *tok, *save = NULL;

		if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", point) != 1 ||
		    sscanf(sep + 3, "%63s %*s %1023s", type, super) != 2)
			continue;
		if (v2 && !strcmp(type, "cgroup2"))
			found = 0;
		for (tok = strtok_r(super, ",", &save); !v2 && tok && found;
		     tok = strtok_r(NULL, ",", &save))
			if (!strcmp(type, "cgroup") && !strcmp(tok, "cpu"))
				found = 0;
		if (!found)
			snprintf(mnt, len, "%s", point);
	}
	if (f)
		fclose(f);
	return found;
}

/* PID's cgroup in the cpu hierarchy: v1's "N:...cpu...:PATH" first,
 * else v2's "0::PATH". */
static int cpu_cgroup(pid_t pid, bool *v2, char *path, size_t len)
{
	char name[64], line[PATH_MAX + 256], v2path[PATH_MAX] = "";
	FILE *f;
	int ret = -ENOENT;

	snprintf(name, sizeof(name), "/proc/%d/cgroup", pid);
	f = fopen(name, "re");
	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		char *ctrls = strchr(line, ':'), *p = ctrls ? strchr(ctrls + 1, ':') : NULL;
		char *tok, *save = NULL;

		if (!p)
			continue;
		*p++ = 0;
		p[strcspn(p, "\n")] = 0;
		if (!strcmp(line, "0") && ctrls[1] == 0) {
			snprintf(v2path, sizeof(v2path), "%s", p);
			continue;
		}
		for (tok = strtok_r(ctrls + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (!strcmp(tok, "cpu")) {
				snprintf(path, len, "%s", p);
				*v2 = false;
				ret = 0;
			}
	}
	fclose(f);
	if (ret && v2path[0]) {
		snprintf(path, len, "%s", v2path);
		*v2 = true;
		ret = 0;
	}
	return ret;
}

static int write_file(const char *dir, const char *file, const char *val)
{
	char path[2 * PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : 0;
}

/* v2 gives the child a cpu.max only where the parent delegates cpu. */
static bool v2_delegates_cpu(const char *dir)
{
	char path[2 * PATH_MAX], line[1024], *tok, *save = NULL;
	FILE *f;
	bool yes = false;

	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	f = fopen(path, "re");
	if (f && fgets(line, sizeof(line), f))
		for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
			yes |= !strcmp(tok, "cpu");
	if (f)
		fclose(f);
	return yes;
}

static int set_quota(struct mig_throttle *t, int pct)
{
	long quota = CFS_PERIOD_US * (100 - pct) / 100;
	char val[64];
	int ret;

	if (!pct)
		quota = -1;
	if (t->v2) {
		if (quota < 0)
			snprintf(val, sizeof(val), "max %d", CFS_PERIOD_US);
		else
			snprintf(val, sizeof(val), "%ld %d", quota, CFS_PERIOD_US);
		return write_file(t->cg, "cpu.max", val);
	}
	snprintf(val, sizeof(val), "%d", CFS_PERIOD_US);
	ret = write_file(t->cg, "cpu.cfs_period_us", val);
	if (ret)
		return ret;
	snprintf(val, sizeof(val), "%ld", quota);
	return write_file(t->cg, "cpu.cfs_quota_us", val);
}

/* The tree's processes (PIDS, "P P ..."), each in ORIG, into the cgroup. */
static int move_in(struct mig_throttle *t, char *pids)
{
	char *p, *save = NULL, cg[2048];
	bool v2;
	int ret;

	for (p = strtok_r(pids, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		ret = cpu_cgroup(atoi(p), &v2, cg, sizeof(cg));
		if (ret || v2 != t->v2 || strcmp(cg, t->path)) {
			snprintf(t->why, sizeof(t->why), "pid %s is not in pid %d's cpu cgroup", p,
				 t->pid);
			return -EINVAL;
		}
		ret = write_file(t->cg, "cgroup.procs", p);
		if (ret) {
			snprintf(t->why, sizeof(t->why), "can't move pid %s into %s: %s", p, t->cg,
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int make(struct mig_throttle *t, char *pids)
{
	char mnt[1024];
	int ret;

	ret = cpu_cgroup(t->pid, &t->v2, t->path, sizeof(t->path));
	if (!ret)
		ret = cpu_mount(t->v2, mnt, sizeof(mnt));
	if (ret) {
		snprintf(t->why, sizeof(t->why), "pid %d has no cpu cgroup here", t->pid);
		return ret;
	}
	snprintf(t->orig, sizeof(t->orig), "%s%s", mnt, strcmp(t->path, "/") ? t->path : "");
	if (t->v2 && !v2_delegates_cpu(t->orig)) {
		snprintf(t->why, sizeof(t->why), "%s does not delegate the cpu controller",
			 t->orig);
		return -EOPNOTSUPP;
	}
	snprintf(t->cg, sizeof(t->cg), "%s/lmproc-throttle-%d", t->orig, getpid());
	if (mkdir(t->cg, 0755)) {
		ret = -errno;
		snprintf(t->why, sizeof(t->why), "can't make %s: %s", t->cg, strerror(-ret));
		return ret;
	}
	t->made = true;
	ret = set_quota(t, 0);
	if (ret)
		snprintf(t->why, sizeof(t->why), "can't set a CPU quota in %s: %s", t->cg,
			 strerror(-ret));
	return ret ?: move_in(t, pids);
}

int throttle_raise(struct mig_throttle *t, int pct, char *pids)
{
	int ret = 0;

	if (!t->made)
		ret = make(t, pids);
	if (!ret)
		ret = set_quota(t, pct);
	if (ret && !t->why[0])
		snprintf(t->why, sizeof(t->why), "can't set a CPU quota in %s: %s", t->cg,
			 strerror(-ret));
	if (ret) {
		throttle_undo(t);
		return ret;
	}
	t->pct = pct;
	return 0;
}

/* Every process in the cgroup (the tree's, and any child they forked
 * since) back into the original, then the cgroup removed. */
void throttle_undo(struct mig_throttle *t)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	char path[2 * PATH_MAX];
	int pid, err = 0;
	FILE *f;

	if (!t->made)
		return;
	for (int i = 0; i < RMDIR_TRIES; i++) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", t->cg);
		f = fopen(path, "re");
		while (f && fscanf(f, "%d", &pid) == 1) {
			snprintf(path, sizeof(path), "%d", pid);
			if (write_file(t->orig, "cgroup.procs", path))
				pr_warn("pid %d: can't move it back into %s\n", pid, t->orig);
		}
		if (f)
			fclose(f);
		err = rmdir(t->cg) ? errno : 0;
		if (!err)
			break;
		nanosleep(&ts, NULL);
	}
	if (err)
		pr_warn("Can't remove the throttle cgroup %s: %s\n", t->cg, strerror(err));
	t->made = false;
	t->pct = 0;
}
