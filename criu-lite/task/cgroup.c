/* Owns the tree's cgroup membership (cgroup.img), dump and restore side.
 * Dump: every line of /proc/PID/cgroup of each live process (hierarchy,
 * controllers, path; threads of one process must share them: per-thread
 * membership is not restored), the limits of each cgroup the tree alone
 * uses (every process in it and below it is the tree's) and, for a tree
 * in a cgroup namespace other than lmproc's, the cgroups it is rooted at
 * (lmproc's view of the root's cgroups less the namespace's).  Restore:
 * each hierarchy is found on this machine by its controllers, the cgroup
 * under that hierarchy's mount point; a missing one refuses the restore
 * before anything is made, unless --manage-cgroups makes it (with the
 * dumped limits; removed again if the restore fails).  The tree's own
 * cgroup namespace is made by its root, in the cgroups it was rooted at,
 * before it forks.  lmproc writes every task's pid to cgroup.procs while
 * the task waits before its restorer, so it runs none of its own code,
 * and allocates none of its memory, outside its cgroups.  Never touched:
 * a cgroup the restore did not make (no limit is written there) and any
 * process it did not make. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "image.h"
#include "log.h"
#include "namespaces.h"
#include "proc.h"
#include "pstree.h"
#include "restore.h"

#include "cgroup.pb-c.h"

#define CGROUP_IMG "cgroup.img"
#define CG_MAX_MEMBERS 64
#define CG_MAX_PROPS 16
#define CG_CTRLS_MAX 255
#define CG_VALUE_MAX 64
#define CG_MAX_DEPTH 32
#define CG_FILE_MAX 16384
/* A failed restore's tasks are reaped before the undo; a cgroup may stay
 * busy for a moment while the kernel lets go of them. */
#define CG_RMDIR_TRIES 100
#define CG_RMDIR_WAIT_MS 20

/* The limits recorded and set again, in the order they are written (a
 * v1 cpuset needs cpus and mems before it takes a task; a CFS period goes
 * before its quota, a memory limit before memory+swap). */
static const char *const v1_props[] = {
	"cpuset.cpus", "cpuset.mems", "cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us",
	"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
	"pids.max", NULL,
};

static const char *const v2_props[] = {
	"cpuset.cpus", "cpuset.mems", "cpu.weight", "cpu.max", "memory.min", "memory.low",
	"memory.high", "memory.max", "memory.swap.max", "pids.max", NULL,
};

/* A cgroup file system mounted here: CTRLS are its controllers as
 * /proc/PID/cgroup names them (empty for v2), ROOT the cgroup it shows. */
struct cg_mount {
	bool v2;
	char *ctrls;
	char *root;
	char *dir;
};

struct cg_mounts {
	struct cg_mount *m;
	size_t nr;
};

/* One line of /proc/PID/cgroup, pointing into the file's buffer. */
struct cg_line {
	uint32_t hier;
	char *ctrls;
	char *path;
};

/* ---- what dump and restore share ---------------------------------------- */

static bool has_token(const char *list, const char *tok, size_t len)
{
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == len && !strncmp(p, tok, len))
			return true;
		p += n;
		if (*p)
			p++;
	}
	return false;
}

/* The same set of comma-separated words, in any order. */
static bool same_tokens(const char *a, const char *b)
{
	for (int pass = 0; pass < 2; pass++) {
		const char *p = pass ? b : a, *other = pass ? a : b;

		while (*p) {
			size_t n = strcspn(p, ",");

			if (!has_token(other, p, n))
				return false;
			p += n;
			if (*p)
				p++;
		}
	}
	return true;
}

static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
}

/* The controllers among a v1 mount's super options: the kernel's
 * subsystems (/proc/cgroups) and a named hierarchy's name=. */
static char *mount_ctrls(const char *opts, const char *subsys)
{
	char *out = calloc(1, strlen(opts) + 1);
	const char *p = opts;

	while (out && *p) {
		size_t n = strcspn(p, ",");

		if ((n > 5 && !strncmp(p, "name=", 5)) || has_token(subsys, p, n)) {
			if (*out)
				strcat(out, ",");
			strncat(out, p, n);
		}
		p += n;
		if (*p)
			p++;
	}
	return out;
}

static char *subsys_list(void)
{
	char *buf = proc_read_file("/proc/cgroups", NULL), *out, *line, *save = NULL;

	if (!buf)
		return NULL;
	out = calloc(1, strlen(buf) + 1);
	for (line = strtok_r(buf, "\n", &save); out && line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		if (*out)
			strcat(out, ",");
		strncat(out, line, strcspn(line, " \t"));
	}
	free(buf);
	return out;
}

static int add_mount(struct cg_mounts *ms, bool v2, char *ctrls, const char *root, const char *dir)
{
	struct cg_mount *n = realloc(ms->m, (ms->nr + 1) * sizeof(*n));

	if (!n || !ctrls) {
		free(ctrls);
		return -ENOMEM;
	}
	ms->m = n;
	n[ms->nr] = (struct cg_mount){ v2, ctrls, strdup(root), strdup(dir) };
	if (!n[ms->nr].root || !n[ms->nr].dir)
		return -ENOMEM;
	ms->nr++;
	return 0;
}

static void free_mounts(struct cg_mounts *ms)
{
	for (size_t i = 0; i < ms->nr; i++) {
		free(ms->m[i].ctrls);
		free(ms->m[i].root);
		free(ms->m[i].dir);
	}
	free(ms->m);
	ms->m = NULL;
	ms->nr = 0;
}

/* One mountinfo line: "ID PARENT DEV ROOT DIR OPTS [TAGS] - TYPE SRC SUPER". */
static int parse_mount_line(struct cg_mounts *ms, char *line, const char *subsys)
{
	char root[PATH_MAX], dir[PATH_MAX], type[32], super[1024];
	char *sep = strstr(line, " - ");

	if (!sep || sscanf(line, "%*d %*d %*s %4095s %4095s", root, dir) != 2 ||
	    sscanf(sep + 3, "%31s %*s %1023s", type, super) != 2)
		return 0;
	unescape(root);
	unescape(dir);
	if (!strcmp(type, "cgroup2"))
		return add_mount(ms, true, strdup(""), root, dir);
	if (!strcmp(type, "cgroup"))
		return add_mount(ms, false, mount_ctrls(super, subsys), root, dir);
	return 0;
}

static int read_mounts(struct cg_mounts *ms)
{
	char *subsys = subsys_list(), *line = NULL;
	size_t cap = 0;
	FILE *f;
	int ret = 0;

	if (!subsys) {
		pr_perror("Can't read /proc/cgroups");
		return -EIO;
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (!f) {
		pr_perror("Can't read /proc/self/mountinfo");
		free(subsys);
		return -EIO;
	}
	while (!ret && getline(&line, &cap, f) > 0)
		ret = parse_mount_line(ms, line, subsys);
	free(line);
	fclose(f);
	free(subsys);
	return ret;
}

/* PATH inside ROOT: what remains of it below ROOT, or NULL. */
static const char *below_root(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (!strcmp(root, "/"))
		return path;
	if (strncmp(path, root, n) || (path[n] && path[n] != '/'))
		return NULL;
	return path[n] ? path + n : "/";
}

/* The directory of cgroup PATH of the hierarchy with CTRLS on this
 * machine, in BUF; its mount, or NULL if none shows it. */
static const struct cg_mount *host_dir(const struct cg_mounts *ms, const char *ctrls,
				       const char *path, char *buf, size_t len)
{
	for (size_t i = 0; i < ms->nr; i++) {
		const struct cg_mount *m = &ms->m[i];
		const char *rel;

		if (m->v2 != !*ctrls || (!m->v2 && !same_tokens(m->ctrls, ctrls)))
			continue;
		rel = below_root(m->root, path);
		if (!rel)
			continue;
		if ((size_t)snprintf(buf, len, "%s%s", m->dir, strcmp(rel, "/") ? rel : "") >= len)
			return NULL;
		return m;
	}
	return NULL;
}

/* "N:CONTROLLERS:PATH" lines, in place in BUF. */
static int parse_cgroup_file(char *buf, struct cg_line *l, size_t *nr)
{
	char *save = NULL;

	*nr = 0;
	for (char *s = strtok_r(buf, "\n", &save); s; s = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *end;
		unsigned long hier;

		if (!c2 || *nr == CG_MAX_MEMBERS)
			return -EINVAL;
		*c1 = *c2 = 0;
		hier = strtoul(s, &end, 10);
		if (*end || end == s || hier > UINT32_MAX)
			return -EINVAL;
		l[(*nr)++] = (struct cg_line){ (uint32_t)hier, c1 + 1, c2 + 1 };
	}
	return 0;
}

static const char *hier_name(const char *ctrls)
{
	return *ctrls ? ctrls : "cgroup v2";
}

static const char *const *props_of(const char *ctrls)
{
	return *ctrls ? v1_props : v2_props;
}

/* NAME is a limit recorded for the hierarchy with CTRLS. */
static bool prop_known(const char *ctrls, const char *name)
{
	const char *const *list = props_of(ctrls);

	for (size_t i = 0; list[i]; i++)
		if (!strcmp(list[i], name))
			return !*ctrls || has_token(ctrls, name, strcspn(name, "."));
	return false;
}

static bool valid_value(const char *v)
{
	size_t n = strlen(v);

	if (!n || n > CG_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr(" ,-.", v[i]))
			return false;
	return true;
}

static bool valid_ctrls(uint32_t hier, const char *c)
{
	size_t n = strlen(c);

	if (!n)
		return hier == 0;
	if (!hier || n > CG_CTRLS_MAX || c[0] == ',' || c[n - 1] == ',' || strstr(c, ",,"))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)c[i]) && !isdigit((unsigned char)c[i]) &&
		    !strchr("_.=-,", c[i]))
			return false;
	return true;
}

/* Absolute, no empty, "." or ".." component, no trailing slash. */
static bool valid_path(const char *p)
{
	size_t n = strlen(p);

	if (p[0] != '/' || n >= PATH_MAX / 2 || strchr(p, '\n'))
		return false;
	if (n == 1)
		return true;
	if (p[n - 1] == '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
		return false;
	return !(n >= 2 && !strcmp(p + n - 2, "/.")) && !(n >= 3 && !strcmp(p + n - 3, "/.."));
}

/* ---- dump ----------------------------------------------------------------- */

struct cg_dump {
	const struct pstree *t;
	struct cg_mounts ms;
	char **seen; /* "CONTROLLERS:PATH" of every cgroup given so far */
	size_t nr_seen;
	char ns[64]; /* the root's cgroup namespace ("" if the kernel has none) */
	bool ns_own; /* ... is not lmproc's: ROOTS say where it is rooted */
	char *roots_buf;
	struct cg_line roots[CG_MAX_MEMBERS];
	size_t nr_roots;
};

/* The image's messages for one process, with the storage they point to. */
struct cg_proc {
	CgroupMember mem[CG_MAX_MEMBERS];
	CgroupMember *pm[CG_MAX_MEMBERS];
	CgroupProp props[CG_MAX_MEMBERS][CG_MAX_PROPS];
	CgroupProp *pp[CG_MAX_MEMBERS][CG_MAX_PROPS];
	char val[CG_MAX_MEMBERS][CG_MAX_PROPS][CG_VALUE_MAX + 2];
};

/* The root of the tree's own cgroup namespace in the hierarchy with CTRLS. */
static const char *root_of(const struct cg_dump *d, const char *ctrls)
{
	for (size_t i = 0; i < d->nr_roots; i++)
		if (!strcmp(d->roots[i].ctrls, ctrls))
			return d->roots[i].path;
	return NULL;
}

static bool in_tree(const struct pstree *t, long pid)
{
	for (size_t i = 0; i < t->nr; i++)
		if (t->items[i].pid == pid)
			return true;
	return false;
}

/* Every process in DIR and below is the tree's. */
static bool tree_owns(const struct pstree *t, const char *dir, int depth)
{
	char path[PATH_MAX], *buf, *s, *save = NULL;
	struct dirent *de;
	bool own = depth < CG_MAX_DEPTH;
	DIR *d;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	buf = proc_read_file(path, NULL);
	if (!buf)
		return false;
	for (s = strtok_r(buf, "\n", &save); own && s; s = strtok_r(NULL, "\n", &save))
		own = in_tree(t, strtol(s, NULL, 10));
	free(buf);
	d = own ? opendir(dir) : NULL;
	if (!d)
		return false;
	while (own && (de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			own = false;
		else
			own = tree_owns(t, path, depth + 1);
	}
	closedir(d);
	return own;
}

static size_t read_props(const char *dir, const char *ctrls, struct cg_proc *p, size_t k)
{
	const char *const *list = props_of(ctrls);
	size_t nr = 0;

	for (size_t i = 0; list[i] && nr < CG_MAX_PROPS; i++) {
		char path[PATH_MAX + 64], *v = p->val[k][nr];
		int fd;
		ssize_t n;

		if (!prop_known(ctrls, list[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, v, CG_VALUE_MAX + 1);
		close(fd);
		if (n > 0 && v[n - 1] == '\n')
			n--;
		v[n < 0 ? 0 : n] = 0;
		if (!valid_value(v)) {
			pr_warn("%s of the cgroup %s is not recorded: its value is not one lmproc "
				"sets again\n",
				list[i], dir);
			continue;
		}
		cgroup_prop__init(&p->props[k][nr]);
		p->props[k][nr].name = (char *)list[i];
		p->props[k][nr].value = v;
		p->pp[k][nr] = &p->props[k][nr];
		nr++;
	}
	return nr;
}

/* The first time the image names a cgroup: its limits, if the tree alone
 * uses it. */
static int first_seen(struct cg_dump *d, const struct cg_line *l, struct cg_proc *p, size_t k)
{
	char key[PATH_MAX + CG_CTRLS_MAX + 2], dir[PATH_MAX];
	char **n;

	snprintf(key, sizeof(key), "%s:%s", l->ctrls, l->path);
	for (size_t i = 0; i < d->nr_seen; i++)
		if (!strcmp(d->seen[i], key))
			return 0;
	n = realloc(d->seen, (d->nr_seen + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	d->seen = n;
	n[d->nr_seen] = strdup(key);
	if (!n[d->nr_seen])
		return -ENOMEM;
	d->nr_seen++;
	if (!strcmp(l->path, "/") || !host_dir(&d->ms, l->ctrls, l->path, dir, sizeof(dir)) ||
	    !tree_owns(d->t, dir, 0))
		return 0;
	p->mem[k].n_props = read_props(dir, l->ctrls, p, k);
	p->mem[k].props = p->pp[k];
	return 0;
}

static int write_entry(struct cg_dump *d, pid_t pid, struct cg_line *l, size_t nr,
		       struct cr_img *img)
{
	CgroupEntry e = CGROUP_ENTRY__INIT;
	struct cg_proc *p = calloc(1, sizeof(*p));
	int ret = 0;

	if (!p)
		return -ENOMEM;
	for (size_t k = 0; k < nr && !ret; k++) {
		cgroup_member__init(&p->mem[k]);
		p->mem[k].hier = l[k].hier;
		p->mem[k].controllers = l[k].ctrls;
		p->mem[k].path = l[k].path;
		p->mem[k].ns_root = d->ns_own ? (char *)root_of(d, l[k].ctrls) : NULL;
		p->pm[k] = &p->mem[k];
		ret = first_seen(d, &l[k], p, k);
	}
	e.pid = pstree_vpid(pid);
	e.n_members = nr;
	e.members = p->pm;
	if (!ret && img_write_msg(img, &e.base))
		ret = -EIO;
	free(p);
	return ret;
}

static void say_thread_differs(pid_t pid, pid_t tid, char *proc_buf, char *thr_buf)
{
	struct cg_line pl[CG_MAX_MEMBERS], tl[CG_MAX_MEMBERS];
	size_t np, nt;

	if (parse_cgroup_file(proc_buf, pl, &np) || parse_cgroup_file(thr_buf, tl, &nt))
		np = nt = 0;
	for (size_t i = 0; i < np && i < nt; i++) {
		if (!strcmp(pl[i].path, tl[i].path))
			continue;
		pr_err("pid %d: thread %d is in cgroup %s of hierarchy %u (%s), its process in %s: "
		       "per-thread cgroups are not restored\n",
		       pid, tid, tl[i].path, tl[i].hier, hier_name(tl[i].ctrls), pl[i].path);
		return;
	}
	pr_err("pid %d: thread %d is in other cgroups than its process: per-thread cgroups are not "
	       "restored\n",
	       pid, tid);
}

static int check_threads(const struct seized_task *task, const char *proc_buf)
{
	for (size_t i = 1; i < task->nr_tids; i++) {
		char path[64], *buf, *copy;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/cgroup", task->pid, task->tids[i]);
		buf = proc_read_file(path, NULL);
		if (!buf) {
			pr_perror("Can't read %s", path);
			return -EIO;
		}
		if (!strcmp(buf, proc_buf)) {
			free(buf);
			continue;
		}
		copy = strdup(proc_buf);
		if (copy)
			say_thread_differs(task->pid, task->tids[i], copy, buf);
		free(copy);
		free(buf);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* ---- the tree's cgroup namespace ------------------------------------------ */

static pid_t inside_pid; /* whose /proc/PID/cgroup read_inside() reads */

/* Run in the tree's cgroup namespace: the paths there are relative to
 * its root (the reader's namespace decides). */
static int read_inside(void *buf)
{
	char path[64], *p = buf;
	size_t n = 0;
	ssize_t r = 1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", inside_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (r > 0 && n < CG_FILE_MAX - 1) {
		r = read(fd, p + n, CG_FILE_MAX - 1 - n);
		n += r > 0 ? (size_t)r : 0;
	}
	close(fd);
	return r == 0 && n ? 0 : -1;
}

/* OUT, the cgroup as lmproc sees it, less IN, the same cgroup as the
 * namespace shows it, at its end: the namespace's root, in OUT. */
static int cut_root(char *out, const char *in)
{
	size_t no = strlen(out), ni = strlen(in);

	if (!valid_path(out) || !valid_path(in))
		return -1;
	if (!strcmp(in, "/"))
		return 0;
	if (ni > no || strcmp(out + no - ni, in))
		return -1;
	if (ni == no)
		strcpy(out, "/");
	else
		out[no - ni] = 0;
	return 0;
}

/* A v2 cgroup with controllers for its children takes no process: the
 * one that makes the namespace again could not enter it. */
static int check_v2_root(const struct cg_dump *d, pid_t pid, const char *root)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], *ctl;
	int ret = 0;

	if (!strcmp(root, "/") || !host_dir(&d->ms, "", root, dir, sizeof(dir)))
		return 0;
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	ctl = proc_read_file(path, NULL);
	if (ctl && ctl[0] && ctl[0] != '\n') {
		ctl[strcspn(ctl, "\n")] = 0;
		pr_err("pid %d: its cgroup namespace %s is rooted at the cgroup v2 %s, which has "
		       "controllers for its children (%s) and takes no process: the restore "
		       "could not make the namespace there\n",
		       pid, d->ns, root, ctl);
		ret = -EOPNOTSUPP;
	}
	free(ctl);
	return ret;
}

/* Each hierarchy's cgroup the root's namespace is rooted at: its
 * /proc/PID/cgroup read outside (lmproc's paths) and inside. */
static int find_roots(struct cg_dump *d, pid_t pid)
{
	struct cg_line in[CG_MAX_MEMBERS];
	char path[64], *inside = calloc(1, CG_FILE_MAX);
	size_t nr_in;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	d->roots_buf = proc_read_file(path, NULL);
	inside_pid = pid;
	if (!inside || !d->roots_buf) {
		pr_perror("Can't read %s", path);
		ret = -EIO;
	} else {
		ret = ask_in_ns(pid, "cgroup", CLONE_NEWCGROUP, read_inside, inside, CG_FILE_MAX);
	}
	if (!ret && (parse_cgroup_file(d->roots_buf, d->roots, &d->nr_roots) ||
		     parse_cgroup_file(inside, in, &nr_in) || nr_in != d->nr_roots)) {
		pr_err("Can't parse the cgroups of pid %d in its cgroup namespace %s\n", pid, d->ns);
		ret = -EIO;
	}
	for (size_t i = 0; i < d->nr_roots && !ret; i++) {
		struct cg_line *r = &d->roots[i];

		if (strcmp(r->ctrls, in[i].ctrls) || cut_root(r->path, in[i].path)) {
			pr_err("pid %d is in cgroup %s of hierarchy %u (%s), which its cgroup "
			       "namespace %s shows as %s: not below the namespace's root, not "
			       "restored\n",
			       pid, r->path, r->hier, hier_name(r->ctrls), d->ns, in[i].path);
			ret = -EOPNOTSUPP;
		} else if (!*r->ctrls) {
			ret = check_v2_root(d, pid, r->path);
		}
	}
	free(inside);
	return ret;
}

/* The tree's cgroup namespace is its root's: if it is not lmproc's, where
 * it is rooted. */
static int read_tree_ns(struct cg_dump *d)
{
	pid_t pid = d->t->items[0].pid;
	char path[64], ours[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/cgroup", pid);
	if (proc_readlink("/proc/self/ns/cgroup", ours, sizeof(ours)) ||
	    proc_readlink(path, d->ns, sizeof(d->ns))) {
		d->ns[0] = 0; /* no cgroup namespaces in this kernel */
		return 0;
	}
	if (!strcmp(ours, d->ns))
		return 0;
	d->ns_own = true;
	return find_roots(d, pid);
}

static int check_cgroup_ns(const struct cg_dump *d, const struct seized_task *task)
{
	char path[64], theirs[64];

	if (!d->ns[0])
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/cgroup", task->pid);
	if (proc_readlink(path, theirs, sizeof(theirs))) {
		pr_perror("Can't read %s", path);
		return -EIO;
	}
	if (strcmp(theirs, d->ns)) {
		pr_err("pid %d is in cgroup namespace %s, the tree's root pid %d in %s%s: "
		       "processes of one tree in different cgroup namespaces are not restored\n",
		       task->pid, theirs, d->t->items[0].pid, d->ns, d->ns_own ? "" : " (lmproc's)");
		return -EOPNOTSUPP;
	}
	for (size_t i = 1; i < task->nr_tids; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/ns/cgroup", task->pid, task->tids[i]);
		if (proc_readlink(path, theirs, sizeof(theirs))) {
			pr_perror("Can't read %s", path);
			return -EIO;
		}
		if (strcmp(theirs, d->ns)) {
			pr_err("pid %d: thread %d is in cgroup namespace %s, its process in %s: "
			       "per-thread cgroup namespaces are not restored\n",
			       task->pid, task->tids[i], theirs, d->ns);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/* Every cgroup of the process at or below its namespace's root: the
 * namespace shows it as a path of its own. */
static int check_in_roots(const struct cg_dump *d, pid_t pid, const struct cg_line *l, size_t nr)
{
	for (size_t k = 0; k < nr && d->ns_own; k++) {
		const char *root = root_of(d, l[k].ctrls);

		if (root && below_root(root, l[k].path))
			continue;
		pr_err("pid %d is in cgroup %s of hierarchy %u (%s), outside the root %s of its "
		       "cgroup namespace %s: not restored\n",
		       pid, l[k].path, l[k].hier, hier_name(l[k].ctrls), root ? root : "(none)",
		       d->ns);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int dump_one(struct cg_dump *d, const struct pstree_item *it, struct cr_img *img)
{
	struct cg_line l[CG_MAX_MEMBERS];
	char path[64], *buf, *copy = NULL;
	size_t nr;
	int ret = check_cgroup_ns(d, &it->task);

	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", it->pid);
	buf = proc_read_file(path, NULL);
	if (!buf) {
		pr_perror("Can't read %s", path);
		return -EIO;
	}
	ret = check_threads(&it->task, buf);
	if (!ret)
		copy = strdup(buf);
	if (!ret && (!copy || parse_cgroup_file(copy, l, &nr))) {
		pr_err("Can't parse %s\n", path);
		ret = -EIO;
	}
	if (!ret)
		ret = check_in_roots(d, it->pid, l, nr);
	if (!ret && img)
		ret = write_entry(d, it->pid, l, nr, img);
	free(copy);
	free(buf);
	return ret;
}

int dump_cgroups(int dfd, const struct pstree *t)
{
	struct cg_dump d = { .t = t };
	struct cr_img *img = NULL;
	int ret = 0;

	ret = read_mounts(&d.ms);
	if (!ret && dfd >= 0) {
		img = img_open_write(dfd, IMG_CGROUP, 0);
		if (!img)
			ret = -EIO;
	}
	if (!ret)
		ret = read_tree_ns(&d);
	for (size_t i = 0; i < t->nr && !ret; i++)
		if (!t->items[i].zombie)
			ret = dump_one(&d, &t->items[i], img);
	if (img && img_close(img) && !ret)
		ret = -EIO;
	for (size_t i = 0; i < d.nr_seen; i++)
		free(d.seen[i]);
	free(d.seen);
	free(d.roots_buf);
	free_mounts(&d.ms);
	return ret;
}

/* ---- restore -------------------------------------------------------------- */

/* A cgroup the image names, once however many processes are in it. */
struct cg_dir {
	const CgroupMember *m;	   /* its first member */
	const CgroupMember *props; /* the member with its limits, or NULL */
	pid_t pid;		   /* the first process in it, for messages */
	const struct cg_mount *mnt;
	char host[PATH_MAX];
	bool missing;
	bool made;
};

/* The cgroup of one hierarchy the tree's cgroup namespace is rooted at. */
struct cg_ns_root {
	const CgroupMember *m; /* the root process's member */
	char host[PATH_MAX];
};

struct cgroup_restore {
	CgroupEntry **e; /* per live process, in pstree.img's order */
	size_t nr;
	struct cg_ns_root *ns; /* the tree's own cgroup namespace, or NULL */
	size_t nr_ns;
	struct cg_dir *dirs;
	size_t nr_dirs;
	struct cg_mounts ms;
	char **made; /* directories this restore made, in the order made */
	size_t nr_made;
	bool ignore;
};

#define bad(...) restore_plan_bad(CGROUP_IMG, __VA_ARGS__)

static int read_entries(int dfd, struct cgroup_restore *r)
{
	return img_read_all(dfd, IMG_CGROUP, 0, false, (ProtobufCMessage ***)&r->e, &r->nr);
}

static int check_props(uint32_t pid, const CgroupMember *m)
{
	if (m->n_props && !strcmp(m->path, "/"))
		return bad("pid %u: limits given for the root cgroup of hierarchy %s", pid,
			   hier_name(m->controllers));
	if (m->n_props > CG_MAX_PROPS)
		return bad("pid %u: %zu limits of cgroup %s", pid, m->n_props, m->path);
	for (size_t i = 0; i < m->n_props; i++) {
		const CgroupProp *p = m->props[i];

		if (!prop_known(m->controllers, p->name))
			return bad("pid %u: \"%.64s\" of cgroup %s is not a limit lmproc sets in "
				   "hierarchy %s",
				   pid, p->name, m->path, hier_name(m->controllers));
		if (!valid_value(p->value))
			return bad("pid %u: %s of cgroup %s has the value \"%.80s\"", pid, p->name,
				   m->path, p->value);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->props[j]->name, p->name))
				return bad("pid %u: %s of cgroup %s given twice", pid, p->name,
					   m->path);
	}
	return 0;
}

static int check_member(uint32_t pid, const CgroupEntry *e, size_t k)
{
	const CgroupMember *m = e->members[k];

	if (!valid_ctrls(m->hier, m->controllers))
		return bad("pid %u: hierarchy %u has the controllers \"%.64s\"", pid, m->hier,
			   m->controllers);
	if (!valid_path(m->path))
		return bad("pid %u: cgroup \"%.200s\" of hierarchy %s is not a clean absolute path",
			   pid, m->path, hier_name(m->controllers));
	for (size_t j = 0; j < k; j++)
		if (!strcmp(e->members[j]->controllers, m->controllers))
			return bad("pid %u: hierarchy %s given twice", pid,
				   hier_name(m->controllers));
	return check_props(pid, m);
}

static const CgroupMember *member_of(const CgroupEntry *e, const char *ctrls)
{
	for (size_t i = 0; i < e->n_members; i++)
		if (!strcmp(e->members[i]->controllers, ctrls))
			return e->members[i];
	return NULL;
}

/* The namespace's roots: on every member of every entry or on none, each
 * hierarchy's the root process's (one namespace for the tree). */
static int check_ns_root(const CgroupEntry *root, uint32_t pid, const CgroupMember *m)
{
	bool own = root->n_members && root->members[0]->ns_root;
	const CgroupMember *rm;

	if (!m->ns_root != !own)
		return bad("pid %u: the root of its cgroup namespace is %sgiven in hierarchy %s, "
			   "%sgiven for the root pid %u",
			   pid, m->ns_root ? "" : "not ", hier_name(m->controllers),
			   own ? "" : "not ", root->pid);
	if (!own)
		return 0;
	if (!valid_path(m->ns_root))
		return bad("pid %u: the root \"%.200s\" of its cgroup namespace in hierarchy %s is "
			   "not a clean absolute path",
			   pid, m->ns_root, hier_name(m->controllers));
	if (!below_root(m->ns_root, m->path))
		return bad("pid %u: its cgroup %s of hierarchy %s is outside the root %s of its "
			   "cgroup namespace",
			   pid, m->path, hier_name(m->controllers), m->ns_root);
	rm = member_of(root, m->controllers);
	if (!rm || strcmp(rm->ns_root, m->ns_root))
		return bad("pid %u: its cgroup namespace is rooted at %s in hierarchy %s, the root "
			   "pid %u's at %s: one cgroup namespace per tree",
			   pid, m->ns_root, hier_name(m->controllers), root->pid,
			   rm ? rm->ns_root : "(none)");
	return 0;
}

static int note_ns(struct cgroup_restore *r)
{
	const CgroupEntry *root = r->nr ? r->e[0] : NULL;

	if (!root || !root->n_members || !root->members[0]->ns_root)
		return 0;
	r->ns = calloc(root->n_members, sizeof(*r->ns));
	if (!r->ns)
		return -ENOMEM;
	for (size_t i = 0; i < root->n_members; i++)
		r->ns[i].m = root->members[i];
	r->nr_ns = root->n_members;
	return 0;
}

static struct cg_dir *find_dir(struct cgroup_restore *r, const CgroupMember *m)
{
	for (size_t i = 0; i < r->nr_dirs; i++)
		if (!strcmp(r->dirs[i].m->controllers, m->controllers) &&
		    !strcmp(r->dirs[i].m->path, m->path))
			return &r->dirs[i];
	return NULL;
}

static int add_dir(struct cgroup_restore *r, uint32_t pid, const CgroupMember *m)
{
	struct cg_dir *d = find_dir(r, m), *n;

	if (!d) {
		n = realloc(r->dirs, (r->nr_dirs + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		r->dirs = n;
		d = &n[r->nr_dirs++];
		memset(d, 0, sizeof(*d));
		d->m = m;
		d->pid = pid;
	}
	if (!m->n_props)
		return 0;
	if (d->props)
		return bad("pid %u: the limits of cgroup %s of hierarchy %s are given twice", pid,
			   m->path, hier_name(m->controllers));
	d->props = m;
	return 0;
}

static int check_entries(const struct restore_tree *t, struct cgroup_restore *r)
{
	size_t k = 0;
	int ret = 0;

	for (size_t i = 0; i < t->nr && !ret; i++) {
		const CgroupEntry *e;

		if (t->entries[i]->has_exit_status)
			continue;
		if (k == r->nr)
			return bad("no entry for pid %u", t->entries[i]->pid);
		e = r->e[k++];
		if (e->pid != t->entries[i]->pid)
			return bad("entry %zu is of pid %u, pstree.img has pid %u there", k - 1,
				   e->pid, t->entries[i]->pid);
		if (e->n_members > CG_MAX_MEMBERS)
			return bad("pid %u is in %zu hierarchies", e->pid, e->n_members);
		for (size_t j = 0; j < e->n_members && !ret; j++)
			ret = check_member(e->pid, e, j);
		for (size_t j = 0; j < e->n_members && !ret; j++)
			ret = check_ns_root(r->e[0], e->pid, e->members[j]);
		for (size_t j = 0; j < e->n_members && !ret; j++)
			ret = add_dir(r, e->pid, e->members[j]);
	}
	if (!ret && k != r->nr)
		return bad("%zu entries for %zu live processes", r->nr, k);
	return ret ?: note_ns(r);
}

int restore_read_cgroups(int dfd, struct restore_tree *t)
{
	struct cgroup_restore *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	t->cgroups = r;
	ret = read_entries(dfd, r);
	return ret ?: check_entries(t, r);
}

static int check_dir(struct cgroup_restore *r, struct cg_dir *d, bool manage)
{
	const CgroupMember *m = d->m;
	struct stat st;

	d->mnt = host_dir(&r->ms, m->controllers, m->path, d->host, sizeof(d->host));
	if (!d->mnt) {
		pr_err("Can't restore pid %d into cgroup %s of hierarchy %u (%s): no mount of that "
		       "hierarchy here shows it\n",
		       d->pid, m->path, m->hier, hier_name(m->controllers));
		return -ENOENT;
	}
	if (!stat(d->host, &st)) {
		if (S_ISDIR(st.st_mode))
			return 0;
		errno = ENOTDIR;
	}
	if (errno == ENOENT && manage) {
		d->missing = true;
		return 0;
	}
	if (errno == ENOENT)
		pr_err("Can't restore pid %d: its cgroup %s of hierarchy %u (%s) does not exist "
		       "here (%s); --manage-cgroups makes it\n",
		       d->pid, m->path, m->hier, hier_name(m->controllers), d->host);
	else
		pr_err("Can't restore pid %d into cgroup %s of hierarchy %u (%s): %s is not a "
		       "cgroup directory (%s)\n",
		       d->pid, m->path, m->hier, hier_name(m->controllers), d->host,
		       strerror(errno));
	return -ENOENT;
}

/* A root of the namespace missing here is the parent of a cgroup that
 * is missing too: --manage-cgroups makes it with that one. */
static int check_ns_dir(struct cgroup_restore *r, struct cg_ns_root *n, pid_t pid, bool manage)
{
	const CgroupMember *m = n->m;
	struct stat st;
	int e;

	if (!host_dir(&r->ms, m->controllers, m->ns_root, n->host, sizeof(n->host))) {
		pr_err("Can't restore pid %d: no mount of hierarchy %u (%s) here shows %s, the root "
		       "of its cgroup namespace\n",
		       pid, m->hier, hier_name(m->controllers), m->ns_root);
		return -ENOENT;
	}
	if (!stat(n->host, &st)) {
		if (S_ISDIR(st.st_mode))
			return 0;
		errno = ENOTDIR;
	}
	e = errno;
	if (e == ENOENT && manage)
		return 0;
	pr_err("Can't restore pid %d: %s, the root of its cgroup namespace in hierarchy %u (%s), "
	       "is not a cgroup here (%s: %s)%s\n",
	       pid, m->ns_root, m->hier, hier_name(m->controllers), n->host, strerror(e),
	       e == ENOENT ? "; --manage-cgroups makes it" : "");
	return -ENOENT;
}

/* Names the first root that is not a hierarchy's own. */
static void warn_ns_ignored(const struct cgroup_restore *r, pid_t pid)
{
	const CgroupMember *m = r->ns[0].m;

	for (size_t i = 0; i < r->nr_ns && !strcmp(m->ns_root, "/"); i++)
		m = r->ns[i].m;
	pr_warn("--manage-cgroups=ignore: the cgroup namespace of pid %d is made again at "
		"lmproc's cgroups, not at %s of hierarchy %s\n",
		pid, m->ns_root, hier_name(m->controllers));
}

int restore_check_cgroups(struct restore_tree *t)
{
	struct cgroup_restore *r = t->cgroups;
	enum cgroup_mode mode = t->ctx[0].opts->manage_cgroups;
	pid_t pid = t->entries[0]->pid;
	int ret;

	if (mode == CGROUPS_IGNORE) {
		pr_warn("--manage-cgroups=ignore: the tree of pid %d stays in lmproc's cgroups\n",
			pid);
		if (r->ns)
			warn_ns_ignored(r, pid);
		r->ignore = true;
		return 0;
	}
	ret = read_mounts(&r->ms);
	for (size_t i = 0; i < r->nr_ns && !ret; i++)
		ret = check_ns_dir(r, &r->ns[i], pid, mode == CGROUPS_MANAGE);
	for (size_t i = 0; i < r->nr_dirs && !ret; i++)
		ret = check_dir(r, &r->dirs[i], mode == CGROUPS_MANAGE);
	return ret;
}

static int write_file(const char *dir, const char *name, const char *value)
{
	char path[PATH_MAX + 64];
	size_t n = strlen(value);
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, n) != (ssize_t)n)
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}

/* A new v1 cpuset takes no task before it has cpus and mems: its parent's. */
static int copy_cpuset(const char *dir)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char parent[PATH_MAX], path[PATH_MAX + 64], *v;
	int ret = 0;

	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = 0;
	for (size_t i = 0; i < 2 && !ret; i++) {
		snprintf(path, sizeof(path), "%s/%s", parent, files[i]);
		v = proc_read_file(path, NULL);
		if (!v)
			return -errno;
		ret = write_file(dir, files[i], v);
		free(v);
	}
	return ret;
}

static int note_made(struct cgroup_restore *r, const char *dir)
{
	char **n = realloc(r->made, (r->nr_made + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	r->made = n;
	n[r->nr_made] = strdup(dir);
	if (!n[r->nr_made])
		return -ENOMEM;
	r->nr_made++;
	return 0;
}

static int make_one(struct cgroup_restore *r, const struct cg_dir *d, const char *dir)
{
	int ret;

	if (mkdir(dir, 0755)) {
		if (errno == EEXIST)
			return 0;
		ret = -errno;
		pr_perror("Can't make the cgroup %s for pid %d", dir, d->pid);
		return ret;
	}
	ret = note_made(r, dir);
	if (!ret && !d->mnt->v2 && has_token(d->mnt->ctrls, "cpuset", 6))
		ret = copy_cpuset(dir);
	if (ret)
		pr_err("Can't set up the cgroup %s made for pid %d: %s\n", dir, d->pid,
		       strerror(-ret));
	return ret;
}

/* Every missing directory from the mount down to D. */
static int make_path(struct cgroup_restore *r, struct cg_dir *d)
{
	char dir[PATH_MAX];
	size_t base = strlen(d->mnt->dir);
	int ret = 0;

	snprintf(dir, sizeof(dir), "%s", d->host);
	for (char *p = strchr(dir + base + 1, '/'); p && !ret; p = strchr(p + 1, '/')) {
		*p = 0;
		ret = make_one(r, d, dir);
		*p = '/';
	}
	if (!ret) {
		size_t before = r->nr_made;

		ret = make_one(r, d, dir);
		d->made = r->nr_made > before;
	}
	return ret;
}

static int set_props(const struct cg_dir *d)
{
	const char *const *list = props_of(d->m->controllers);

	for (size_t i = 0; list[i]; i++) {
		for (size_t j = 0; j < d->props->n_props; j++) {
			const CgroupProp *p = d->props->props[j];
			int ret;

			if (strcmp(p->name, list[i]))
				continue;
			ret = write_file(d->host, p->name, p->value);
			if (ret) {
				pr_err("Can't set %s of the cgroup %s (hierarchy %s) made for "
				       "pid %d to %s: %s\n",
				       p->name, d->host, hier_name(d->m->controllers), d->pid,
				       p->value, strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

static size_t depth_of(const char *path)
{
	size_t n = 0;

	for (; *path; path++)
		n += *path == '/';
	return n;
}

/* Parents before children: each is made (and limited) before what it
 * holds. */
int restore_make_cgroups(struct restore_tree *t)
{
	struct cgroup_restore *r = t->cgroups;
	size_t max_depth = 0;
	int ret = 0;

	if (r->ignore)
		return 0;
	for (size_t i = 0; i < r->nr_dirs; i++)
		if (r->dirs[i].missing && depth_of(r->dirs[i].m->path) > max_depth)
			max_depth = depth_of(r->dirs[i].m->path);
	for (size_t depth = 1; depth <= max_depth && !ret; depth++) {
		for (size_t i = 0; i < r->nr_dirs && !ret; i++) {
			struct cg_dir *d = &r->dirs[i];

			if (!d->missing || depth_of(d->m->path) != depth)
				continue;
			ret = make_path(r, d);
			if (!ret && d->made && d->props)
				ret = set_props(d);
			if (!ret)
				pr_info("Made the cgroup %s for pid %d\n", d->host, d->pid);
		}
	}
	return ret;
}

/* The task's cgroup in the hierarchy with CTRLS now, from its BUF. */
static const char *current_path(struct cg_line *l, size_t nr, const char *ctrls)
{
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(l[i].ctrls, ctrls))
			return l[i].path;
	return NULL;
}

static int place(struct cgroup_restore *r, const CgroupEntry *e, pid_t host_pid)
{
	struct cg_line l[CG_MAX_MEMBERS];
	char path[64], pid_str[16], *buf;
	size_t nr;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", host_pid);
	buf = proc_read_file(path, NULL);
	if (!buf || parse_cgroup_file(buf, l, &nr)) {
		pr_err("Can't read the cgroups of the restored pid %d\n", e->pid);
		free(buf);
		return -EIO;
	}
	snprintf(pid_str, sizeof(pid_str), "%d", host_pid);
	for (size_t k = 0; k < e->n_members && !ret; k++) {
		const CgroupMember *m = e->members[k];
		const char *now = current_path(l, nr, m->controllers);
		const struct cg_dir *d = find_dir(r, m);

		if (now && !strcmp(now, m->path))
			continue;
		ret = write_file(d->host, "cgroup.procs", pid_str);
		if (ret)
			pr_err("Can't move the restored pid %d into its cgroup %s of hierarchy %u "
			       "(%s): %s\n",
			       e->pid, m->path, m->hier, hier_name(m->controllers), strerror(-ret));
	}
	free(buf);
	return ret;
}

int restore_place_cgroups(struct restore_tree *t)
{
	struct cgroup_restore *r = t->cgroups;
	size_t k = 0;
	int ret = 0;

	if (!r || r->ignore)
		return 0;
	if (t->pidns && t->init_pid > 0)
		ret = place(r, r->e[0], t->init_pid);
	for (size_t i = 0; i < t->nr && !ret; i++) {
		if (!t->ctx[i].plan.pid)
			continue;
		ret = place(r, r->e[k++], t->ctx[i].host_pid);
	}
	return ret;
}

/* In the root, before it forks: the namespace is rooted at the cgroups
 * its maker is in when it unshares it; every process of the tree is
 * born in it and moved below its roots by restore_place_cgroups(). */
int restore_enter_cgroupns(const struct restore_tree *t, char *err, size_t len)
{
	const struct cgroup_restore *r = t->cgroups;

	if (!r || !r->ns)
		return 0;
	for (size_t i = 0; i < r->nr_ns && !r->ignore; i++) {
		int ret = write_file(r->ns[i].host, "cgroup.procs", "0");

		if (ret) {
			snprintf(err, len,
				 "can't enter %s, the root of its cgroup namespace in hierarchy %u "
				 "(%s): %s",
				 r->ns[i].m->ns_root, r->ns[i].m->hier,
				 hier_name(r->ns[i].m->controllers), strerror(-ret));
			return ret;
		}
	}
	if (unshare(CLONE_NEWCGROUP)) {
		int e = errno;

		snprintf(err, len, "can't make its cgroup namespace: %s", strerror(e));
		return -e;
	}
	return 0;
}

static int rmdir_waiting(const char *dir)
{
	struct timespec ts = { 0, CG_RMDIR_WAIT_MS * 1000000L };

	for (int i = 0; i < CG_RMDIR_TRIES; i++) {
		if (!rmdir(dir) || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			break;
		nanosleep(&ts, NULL);
	}
	return -errno;
}

void restore_undo_cgroups(struct restore_tree *t)
{
	struct cgroup_restore *r = t->cgroups;

	for (size_t i = r ? r->nr_made : 0; i-- > 0;) {
		int ret = rmdir_waiting(r->made[i]);

		if (ret)
			pr_warn("Can't remove the cgroup %s this restore made: %s\n", r->made[i],
				strerror(-ret));
		free(r->made[i]);
	}
	if (r)
		r->nr_made = 0;
}

void restore_free_cgroups(struct restore_tree *t)
{
	struct cgroup_restore *r = t->cgroups;

	if (!r)
		return;
	for (size_t i = 0; i < r->nr; i++)
		img_free_msg(&r->e[i]->base);
	for (size_t i = 0; i < r->nr_made; i++)
		free(r->made[i]);
	free(r->made);
	free(r->ns);
	free(r->e);
	free(r->dirs);
	free_mounts(&r->ms);
	free(r);
	t->cgroups = NULL;
}
