/* Owns the namespaces of a tree other than network (net/netns.c), IPC
 * (ipc/sysvipc.c), pid (--pidns) and cgroup (task/cgroup.c).
 *
 * Time: the tree's clocks (CLOCK_MONOTONIC, CLOCK_BOOTTIME) when it is
 * dumped, and its time namespace's offsets if it has one, go into
 * ns.img.  Restore forks the tree into a new time namespace with the
 * offsets it had (its clocks read as if it had never stopped, as a tree
 * in lmproc's namespace does), or, with --timens, with offsets that make
 * its clocks continue from the values dumped: on another host they count
 * from that host's boot, and without it they would jump by hours or go
 * back.  CLOCK_REALTIME is the host's in any case.
 *
 * UTS: a tree with its own has it made again, host and domain name.
 *
 * A mount or user namespace other than lmproc's is refused: restore
 * opens files by their paths and sets credentials in lmproc's, where
 * they would name other files and ids. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "interrupt.h"
#include "log.h"
#include "namespaces.h"
#include "restore.h"

#include "ns.pb-c.h"

#define NSEC 1000000000LL
/* Far beyond any uptime, well inside the kernel's bound (KTIME_SEC_MAX / 2). */
#define MAX_CLOCK_NS (1LL << 61)
#define NAME_LEN 64 /* __NEW_UTS_LEN */

struct ns_restore {
	NsEntry *e;
	int uts_back; /* lmproc's namespaces, to go back to after the fork */
	int time_back;
};

static int ns_stat(pid_t pid, const char *kind, struct stat *st)
{
	char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", kind);
	if (!stat(path, st))
		return 0;
	pr_perror("Can't stat %s", path);
	return -errno;
}

static bool same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev;
}

enum { MNT, USER, UTS, TIME, TIME_FOR_CHILDREN };

/* What a namespace of each kind of a process of the tree may be. */
static const struct ns_rule {
	const char *kind, *words;
	bool own_ok; /* may be the tree's own, the root's */
	const char *why;
} rules[] = {
	[MNT] = { "mnt", "mount", false, "restore would open its files by their paths in lmproc's" },
	[USER] = { "user", "user", false, "restore would set its credentials as ids of lmproc's" },
	[UTS] = { "uts", "UTS", true, NULL },
	[TIME] = { "time", "time", true, NULL },
	[TIME_FOR_CHILDREN] = { "time_for_children", "time", true, NULL },
};

static int check_task(pid_t pid, pid_t root, const struct stat *own, const struct stat *roots)
{
	struct stat st[ARRAY_SIZE(rules)];
	int ret;

	for (size_t k = 0; k < ARRAY_SIZE(rules); k++) {
		const struct ns_rule *r = &rules[k];

		ret = ns_stat(pid, r->kind, &st[k]);
		if (ret)
			return ret;
		if (!r->own_ok && !same(&st[k], &own[k])) {
			pr_err("pid %d is in a %s namespace other than lmproc's: not supported (%s)\n",
			       pid, r->words, r->why);
			return -EOPNOTSUPP;
		}
		if (k == TIME_FOR_CHILDREN && !same(&st[k], &st[TIME])) {
			pr_err("pid %d made a time namespace its children would enter: not "
			       "supported\n", pid);
			return -EOPNOTSUPP;
		}
		if (!same(&st[k], &roots[k])) {
			pr_err("pid %d is in another %s namespace than the tree's root %d: not "
			       "supported\n", pid, r->words, root);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/* The root's own time namespace's offsets, from /proc/PID/timens_offsets
 * (its children's namespace, which check_task() found to be its own). */
static int read_offsets(pid_t pid, NsEntry *e)
{
	char path[64], name[32];
	long long sec;
	long nsec;
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/timens_offsets", pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("Can't open %s", path);
		return -errno;
	}
	while (fscanf(f, "%31s %lld %ld", name, &sec, &nsec) == 3) {
		int64_t off = sec * NSEC + nsec;

		if (!strcmp(name, "monotonic") || !strcmp(name, "1")) {
			e->has_monotonic_off_ns = true;
			e->monotonic_off_ns = off;
			n++;
		} else if (!strcmp(name, "boottime") || !strcmp(name, "7")) {
			e->has_boottime_off_ns = true;
			e->boottime_off_ns = off;
			n++;
		}
	}
	fclose(f);
	if (n == 2)
		return 0;
	pr_err("Can't read the time namespace offsets of pid %d from %s\n", pid, path);
	return -EIO;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

/* The host and domain names of PID's UTS namespace, read by a helper
 * inside it (a name is the reader's namespace's). */
static int read_names(pid_t pid, char names[2][NAME_LEN + 1])
{
	int p[2], st;
	pid_t parent = getpid(), child;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (!child) {
		char path[64];
		struct utsname u;
		int fd;

		helper_die_with(parent);
		snprintf(path, sizeof(path), "/proc/%d/ns/uts", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWUTS) || uname(&u))
			_exit(1);
		memset(names, 0, 2 * (NAME_LEN + 1));
		snprintf(names[0], NAME_LEN + 1, "%s", u.nodename);
		snprintf(names[1], NAME_LEN + 1, "%s", u.domainname);
		_exit(write(p[1], names, 2 * (NAME_LEN + 1)) == 2 * (NAME_LEN + 1) ? 0 : 1);
	}
	close(p[1]);
	n = read(p[0], names, 2 * (NAME_LEN + 1));
	close(p[0]);
	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) ||
	    n != 2 * (NAME_LEN + 1)) {
		pr_err("Can't read the host name of pid %d's UTS namespace\n", pid);
		return -EIO;
	}
	names[0][NAME_LEN] = names[1][NAME_LEN] = '\0';
	return 0;
}

static int check_tree(const struct pstree *t, struct stat *own, struct stat *roots)
{
	pid_t root = t->items[0].pid;
	int ret = 0;

	for (size_t k = 0; k < ARRAY_SIZE(rules) && !ret; k++)
		ret = ns_stat(0, rules[k].kind, &own[k]) ?: ns_stat(root, rules[k].kind, &roots[k]);
	for (size_t i = 0; i < t->nr && !ret; i++)
		if (!t->items[i].zombie)
			ret = check_task(t->items[i].pid, root, own, roots);
	return ret;
}

int ns_dump(int dfd, const struct pstree *t)
{
	struct stat own[ARRAY_SIZE(rules)], roots[ARRAY_SIZE(rules)];
	char names[2][NAME_LEN + 1];
	pid_t root = t->items[0].pid;
	NsEntry e = NS_ENTRY__INIT;
	int ret = check_tree(t, own, roots);

	if (ret || dfd < 0)
		return ret;
	e.monotonic_ns = clock_ns(CLOCK_MONOTONIC);
	e.boottime_ns = clock_ns(CLOCK_BOOTTIME);
	if (!same(&own[TIME], &roots[TIME])) {
		ret = read_offsets(root, &e);
		if (ret)
			return ret;
		e.monotonic_ns += e.monotonic_off_ns;
		e.boottime_ns += e.boottime_off_ns;
		pr_info("pid %d has a time namespace of its own: offsets %" PRId64 " and %" PRId64
			" ns\n", root, e.monotonic_off_ns, e.boottime_off_ns);
	}
	if (!same(&own[UTS], &roots[UTS])) {
		ret = read_names(root, names);
		if (ret)
			return ret;
		e.hostname = names[0];
		e.domainname = names[1];
		pr_info("pid %d has a UTS namespace of its own: host name \"%s\"\n", root, names[0]);
	}
	return img_write_one(dfd, IMG_NS, 0, &e.base);
}

/* Restore side */
static const char *bad_entry(const NsEntry *e)
{
	if (e->monotonic_ns < 0 || e->monotonic_ns > MAX_CLOCK_NS || e->boottime_ns < 0 ||
	    e->boottime_ns > MAX_CLOCK_NS)
		return "clocks out of range";
	if (e->has_monotonic_off_ns != e->has_boottime_off_ns)
		return "one time namespace offset without the other";
	if (e->has_monotonic_off_ns &&
	    (llabs(e->monotonic_off_ns) > MAX_CLOCK_NS || llabs(e->boottime_off_ns) > MAX_CLOCK_NS))
		return "time namespace offsets out of range";
	if (!e->hostname != !e->domainname)
		return "a host name without a domain name";
	if (e->hostname && (strlen(e->hostname) > NAME_LEN || strlen(e->domainname) > NAME_LEN))
		return "a host or domain name longer than 64 bytes";
	return NULL;
}

int restore_read_ns(int dfd, struct restore_tree *t)
{
	NsEntry *e = NULL;
	const char *why;
	int ret = img_read_one(dfd, IMG_NS, 0, (ProtobufCMessage **)&e);

	if (ret)
		return ret;
	t->ns = calloc(1, sizeof(*t->ns));
	if (!t->ns) {
		img_free_msg(&e->base);
		return -ENOMEM;
	}
	*t->ns = (struct ns_restore){ .e = e, .uts_back = -1, .time_back = -1 };
	why = bad_entry(e);
	if (!why)
		return 0;
	pr_err("Image ns.img is invalid: %s\n", why);
	return -EINVAL;
}

void restore_free_ns(struct restore_tree *t)
{
	if (!t->ns)
		return;
	restore_leave_ns(t);
	img_free_msg(&t->ns->e->base);
	free(t->ns);
	t->ns = NULL;
}

static int make_uts(struct ns_restore *r)
{
	const NsEntry *e = r->e;

	r->uts_back = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	if (r->uts_back < 0 || unshare(CLONE_NEWUTS) ||
	    sethostname(e->hostname, strlen(e->hostname)) ||
	    setdomainname(e->domainname, strlen(e->domainname))) {
		pr_perror("Can't make the tree's UTS namespace (host name \"%s\")", e->hostname);
		return -errno;
	}
	return 0;
}

/* Offsets are written once, before any process enters the namespace. */
static int make_time(struct ns_restore *r, bool timens)
{
	const NsEntry *e = r->e;
	int64_t mono = e->monotonic_off_ns, boot = e->boottime_off_ns;
	char buf[128];
	int fd, len;

	if (timens) {
		mono = e->monotonic_ns - clock_ns(CLOCK_MONOTONIC);
		boot = e->boottime_ns - clock_ns(CLOCK_BOOTTIME);
	}
	r->time_back = open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC);
	if (r->time_back < 0 || unshare(CLONE_NEWTIME)) {
		pr_perror("Can't make the tree's time namespace");
		return -errno;
	}
	len = snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n",
		       (long long)(mono / NSEC - (mono % NSEC < 0)),
		       (long long)((mono % NSEC + NSEC) % NSEC),
		       (long long)(boot / NSEC - (boot % NSEC < 0)),
		       (long long)((boot % NSEC + NSEC) % NSEC));
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, len) != len) {
		pr_perror("Can't set the tree's clock offsets (monotonic %lld ns, boottime %lld "
			  "ns)", (long long)mono, (long long)boot);
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	close(fd);
	pr_info("The tree's time namespace: offsets %lld and %lld ns\n", (long long)mono,
		(long long)boot);
	return 0;
}

int restore_make_ns(struct restore_tree *t, const struct lmproc_opts *opts)
{
	struct ns_restore *r = t->ns;
	int ret = 0;

	if (r->e->hostname)
		ret = make_uts(r);
	if (!ret && (r->e->has_monotonic_off_ns || opts->timens))
		ret = make_time(r, opts->timens);
	if (ret)
		restore_leave_ns(t);
	return ret;
}

static int go_back(int *fd, int type, const char *what)
{
	int ret = 0;

	if (*fd < 0)
		return 0;
	if (setns(*fd, type)) {
		pr_perror("Can't return to lmproc's %s namespace", what);
		ret = -errno;
	}
	close(*fd);
	*fd = -1;
	return ret;
}

int restore_leave_ns(struct restore_tree *t)
{
	struct ns_restore *r = t->ns;
	int ret;

	if (!r)
		return 0;
	ret = go_back(&r->uts_back, CLONE_NEWUTS, "UTS");
	return go_back(&r->time_back, CLONE_NEWTIME, "time") ?: ret;
}
