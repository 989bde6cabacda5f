/* Owns the namespaces of a tree other than network (net/netns.c), pid
 * (--pidns) and cgroup (task/cgroup.c).
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
 * IPC: a tree with its own has it made again with its sysctls (limits,
 * next ids) if it holds no POSIX message queue; its SysV objects are
 * ipc/sysvipc.c's and mem/shmem.c's, made inside it before the tree
 * (restore_make_ipcns(), from the start of the restore).
 *
 * Pid: a tree in a pid namespace below lmproc's whose init is not part of
 * it (one `restore --pidns` made: its init is lmproc's reaper) is dumped
 * with the pids it sees (task/pstree.c) when it is the namespace's only
 * other tenant and sees a /proc of that namespace, in a mount namespace
 * that is lmproc's but for that /proc (what restore-pidns.c makes).
 * ns.img says so, and restore makes it again with --pidns only.
 *
 * A mount or user namespace other than lmproc's is refused otherwise:
 * restore opens files by their paths and sets credentials in lmproc's,
 * where they would name other files and ids. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
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
#include "proc.h"
#include "pstree.h"
#include "restore.h"

#include "ns.pb-c.h"

#define NSEC 1000000000LL
/* Far beyond any uptime, well inside the kernel's bound (KTIME_SEC_MAX / 2). */
#define MAX_CLOCK_NS (1LL << 61)
#define NAME_LEN 64 /* __NEW_UTS_LEN */
#define BOOT_ID "/proc/sys/kernel/random/boot_id"
#define BOOT_ID_LEN 36

struct ns_restore {
	NsEntry *e;
	int uts_back; /* lmproc's namespaces, to go back to after the fork */
	int ipc_back;
	int ipc_tree; /* the tree's own IPC namespace, once made */
	int time_back;
	int64_t mono_off; /* the tree's CLOCK_MONOTONIC minus lmproc's */
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

enum { MNT, USER, UTS, IPC, TIME, TIME_FOR_CHILDREN, PID, PID_FOR_CHILDREN };

/* What a namespace of each kind of a process of the tree may be. */
static const struct ns_rule {
	const char *kind, *words;
	bool own_ok; /* may be the tree's own, the root's */
	const char *why;
} rules[] = {
	[MNT] = { "mnt", "mount", false, "restore would open its files by their paths in lmproc's" },
	[USER] = { "user", "user", false, "restore would set its credentials as ids of lmproc's" },
	[UTS] = { "uts", "UTS", true, NULL },
	[IPC] = { "ipc", "IPC", true, NULL },
	[TIME] = { "time", "time", true, NULL },
	[TIME_FOR_CHILDREN] = { "time_for_children", "time", true, NULL },
	[PID] = { "pid", "pid", true, NULL },
	[PID_FOR_CHILDREN] = { "pid_for_children", "pid", true, NULL },
};

/* MNT_OK: the tree's mount namespace is lmproc's but for the /proc of
 * its own pid namespace (check_pidns()). */
static int check_task(pid_t pid, pid_t root, const struct stat *own, const struct stat *roots,
		      bool mnt_ok)
{
	struct stat st[ARRAY_SIZE(rules)];
	int ret;

	for (size_t k = 0; k < ARRAY_SIZE(rules); k++) {
		const struct ns_rule *r = &rules[k];

		ret = ns_stat(pid, r->kind, &st[k]);
		if (ret)
			return ret;
		if (!r->own_ok && !same(&st[k], &own[k]) && !(k == MNT && mnt_ok)) {
			pr_err("pid %d is in a %s namespace other than lmproc's: not supported (%s)\n",
			       pid, r->words, r->why);
			return -EOPNOTSUPP;
		}
		if ((k == TIME_FOR_CHILDREN || k == PID_FOR_CHILDREN) && !same(&st[k], &st[k - 1])) {
			pr_err("pid %d made a %s namespace its children would enter: not "
			       "supported\n", pid, r->words);
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

static int read_boot_id(char *buf)
{
	int fd = open(BOOT_ID, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, BOOT_ID_LEN);

	if (fd >= 0)
		close(fd);
	if (n != BOOT_ID_LEN) {
		pr_perror("Can't read " BOOT_ID);
		return -EIO;
	}
	buf[BOOT_ID_LEN] = '\0';
	return 0;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

/* FN run by a helper inside PID's namespace of type NSTYPE (/proc file
 * KIND), what it wrote into BUF (LEN bytes) sent back: sysctls and
 * names are the reader's namespace's. */
int ask_in_ns(pid_t pid, const char *kind, int nstype, int (*fn)(void *buf), void *buf,
		     size_t len)
{
	pid_t parent = getpid(), child;
	int p[2], st;
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
		int fd;

		helper_die_with(parent);
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		memset(buf, 0, len);
		if (fd < 0 || setns(fd, nstype) || fn(buf))
			_exit(1);
		_exit(write(p[1], buf, len) == (ssize_t)len ? 0 : 1);
	}
	close(p[1]);
	n = read(p[0], buf, len);
	close(p[0]);
	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) || n != (ssize_t)len) {
		pr_err("Can't look into the %s namespace of pid %d\n", kind, pid);
		return -EIO;
	}
	return 0;
}

struct uts_names {
	char host[NAME_LEN + 1], domain[NAME_LEN + 1];
};

static int read_names(void *buf)
{
	struct uts_names *n = buf;
	struct utsname u;

	if (uname(&u))
		return -1;
	snprintf(n->host, sizeof(n->host), "%s", u.nodename);
	snprintf(n->domain, sizeof(n->domain), "%s", u.domainname);
	return 0;
}

/* An IPC namespace's sysctls (all of them: each is its own), and how
 * many POSIX message queues it holds. */
static const char *const ipc_sysctls[] = {
	"kernel/msgmax", "kernel/msgmnb", "kernel/msgmni", "kernel/sem",
	"kernel/shmall", "kernel/shmmax", "kernel/shmmni", "kernel/shm_rmid_forced",
	"kernel/msg_next_id", "kernel/sem_next_id", "kernel/shm_next_id",
	"fs/mqueue/msg_default", "fs/mqueue/msg_max", "fs/mqueue/msgsize_default",
	"fs/mqueue/msgsize_max", "fs/mqueue/queues_max",
};
#define SYSCTL_LEN 64

struct ipc_state {
	char values[ARRAY_SIZE(ipc_sysctls)][SYSCTL_LEN];
	int nr_mq;
};

/* POSIX message queues live in a filesystem of the namespace's own,
 * mounted here in a mount namespace of the helper's (on /tmp, hidden
 * from everyone else). */
static int count_mq(void)
{
	struct dirent *d;
	DIR *dir;
	int n = 0;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("mqueue", "/tmp", "mqueue", 0, NULL))
		return -1;
	dir = opendir("/tmp");
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

static int read_ipc(void *buf)
{
	struct ipc_state *st = buf;
	char path[64];

	for (size_t i = 0; i < ARRAY_SIZE(ipc_sysctls); i++) {
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "/proc/sys/%s", ipc_sysctls[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		n = read(fd, st->values[i], SYSCTL_LEN - 1);
		close(fd);
		if (n <= 0)
			return -1;
		st->values[i][strcspn(st->values[i], "\n")] = '\0';
	}
	st->nr_mq = count_mq();
	return st->nr_mq < 0 ? -1 : 0;
}

static int dump_ipc(pid_t pid, NsEntry *e, struct ipc_state *st, NsSysctl *sc, NsSysctl **scp)
{
	int ret = ask_in_ns(pid, "ipc", CLONE_NEWIPC, read_ipc, st, sizeof(*st));

	if (ret)
		return ret;
	if (st->nr_mq) {
		pr_err("pid %d: its IPC namespace (not lmproc's) holds %d POSIX message queues: "
		       "not supported\n", pid, st->nr_mq);
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ipc_sysctls); i++) {
		ns_sysctl__init(&sc[i]);
		sc[i].name = (char *)ipc_sysctls[i];
		sc[i].value = st->values[i];
		scp[i] = &sc[i];
	}
	e->has_ipc_own = e->ipc_own = true;
	e->n_ipc_sysctls = ARRAY_SIZE(ipc_sysctls);
	e->ipc_sysctls = scp;
	pr_info("pid %d has an IPC namespace of its own (msgmni %s, shmmax %s)\n", pid,
		st->values[2], st->values[5]);
	return 0;
}

struct mounts {
	char **keys;
	size_t nr;
};

static void free_mounts(struct mounts *m)
{
	for (size_t i = 0; i < m->nr; i++)
		free(m->keys[i]);
	free(m->keys);
}

/* A mountinfo line as any copy of its namespace shows it too, mount
 * point and type first: without the mount ids (fields 1 and 2) and the
 * propagation (the optional fields before "-"), which a copy changes. */
static char *mount_key(char *line)
{
	char *f[64], *save, *key;
	size_t n = 0, dash = 0;

	for (char *w = strtok_r(line, " ", &save); w && n < ARRAY_SIZE(f);
	     w = strtok_r(NULL, " ", &save))
		f[n++] = w;
	for (size_t i = 6; i < n && !dash; i++)
		if (!strcmp(f[i], "-"))
			dash = i;
	if (!dash || dash + 3 >= n)
		return NULL;
	if (asprintf(&key, "%s %s %s %s %s %s %s", f[4], f[dash + 1], f[2], f[3], f[5],
		     f[dash + 2], f[dash + 3]) < 0)
		return NULL;
	return key;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The mounts of PID's mount namespace (0: lmproc's), sorted. */
static int read_mounts(pid_t pid, struct mounts *m)
{
	char path[64], *save;
	cleanup_free char *buf = NULL;
	size_t cap = 0;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/mountinfo");
	memset(m, 0, sizeof(*m));
	buf = proc_read_file(path, NULL);
	if (!buf) {
		pr_perror("Can't read %s", path);
		return -errno;
	}
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (m->nr == cap) {
			char **n = realloc(m->keys, (cap = cap ? cap * 2 : 64) * sizeof(*n));

			if (!n)
				return -ENOMEM;
			m->keys = n;
		}
		m->keys[m->nr] = mount_key(l);
		if (!m->keys[m->nr]) {
			pr_err("Can't parse a line of %s\n", path);
			return -EIO;
		}
		m->nr++;
	}
	qsort(m->keys, m->nr, sizeof(*m->keys), key_cmp);
	return 0;
}

/* The first difference between the tree's mounts and lmproc's other than
 * one proc mounted on /proc (which sees_own_proc() then looks at), NULL
 * if none; in a static buffer. */
static const char *mounts_differ(const struct mounts *own, const struct mounts *tree)
{
	static char why[512];
	size_t i = 0, k = 0, extra = 0;

	while (i < own->nr || k < tree->nr) {
		int c = i == own->nr ? 1 : k == tree->nr ? -1 : strcmp(own->keys[i], tree->keys[k]);

		if (c < 0) {
			snprintf(why, sizeof(why), "lmproc's mount \"%.200s\" is not the tree's",
				 own->keys[i]);
			return why;
		}
		if (c > 0 && (extra++ || strncmp(tree->keys[k], "/proc proc ", 11))) {
			snprintf(why, sizeof(why), "its mount \"%.200s\" is not lmproc's",
				 tree->keys[k]);
			return why;
		}
		i += c == 0;
		k++;
	}
	return extra ? NULL : "it has no /proc of its own pid namespace";
}

/* The /proc the tree's root sees is its pid namespace's: there the root
 * (VROOT) is in that namespace (PIDNS) and has no pid above it. */
static bool sees_own_proc(pid_t root, pid_t vroot, const struct stat *pidns)
{
	char path[96];
	cleanup_free char *buf = NULL;
	struct stat st;
	char *l;
	int v = 0, n = 0;
	char end = 0;

	snprintf(path, sizeof(path), "/proc/%d/root/proc/%d/ns/pid", root, vroot);
	if (stat(path, &st) || !same(&st, pidns))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/root/proc/%d/status", root, vroot);
	buf = proc_read_file(path, NULL);
	l = buf ? strstr(buf, "\nNSpid:") : NULL;
	if (l)
		n = sscanf(l + 7, " %d%c", &v, &end);
	return n == 2 && v == vroot && end == '\n';
}

static bool in_tree_ns(const struct pstree *t, pid_t v)
{
	for (size_t i = 0; i < t->nr; i++)
		if (pstree_vpid(t->items[i].pid) == v)
			return true;
	return false;
}

/* Nothing but the tree and the namespace's init lives in it: restore
 * --pidns makes only those. */
static int check_tenants(const struct pstree *t, pid_t root)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/root/proc", root);
	dir = opendir(path);
	if (!dir) {
		pr_perror("Can't list the processes of pid %d's pid namespace (%s)", root, path);
		return -errno;
	}
	while ((d = readdir(dir)) && !ret) {
		pid_t v = atoi(d->d_name);

		if (v <= 1 || in_tree_ns(t, v))
			continue;
		pr_err("pid %d: its pid namespace (not lmproc's) holds pid %d there, which is not "
		       "part of the tree: not supported\n", root, v);
		ret = -EOPNOTSUPP;
	}
	closedir(dir);
	return ret;
}

/* A tree in a pid namespace below lmproc's (see the top): *MNT_OK once it
 * is one restore --pidns makes again. */
static int check_pidns(const struct pstree *t, const struct stat *own, const struct stat *roots,
		       bool *mnt_ok)
{
	pid_t root = t->items[0].pid, vroot = pstree_vpid(root);
	struct mounts m_own = { 0 }, m_tree = { 0 };
	const char *why;
	int ret;

	*mnt_ok = false;
	if (same(&own[PID], &roots[PID]))
		return 0;
	if (!pstree_own_pidns() || vroot == 1) {
		pr_err("pid %d is the init of its pid namespace (not lmproc's): not supported "
		       "(restore --pidns makes that init itself)\n", root);
		return -EOPNOTSUPP;
	}
	if (same(&own[MNT], &roots[MNT])) {
		pr_err("pid %d is in a pid namespace other than lmproc's and sees lmproc's /proc, "
		       "not one of its namespace: not supported (restore --pidns would give it "
		       "one)\n", root);
		return -EOPNOTSUPP;
	}
	ret = read_mounts(0, &m_own) ?: read_mounts(root, &m_tree);
	why = ret ? NULL : mounts_differ(&m_own, &m_tree);
	if (!ret && !why && !sees_own_proc(root, vroot, &roots[PID]))
		why = "its /proc is not one of its own pid namespace";
	free_mounts(&m_own);
	free_mounts(&m_tree);
	if (ret)
		return ret;
	if (why) {
		pr_err("pid %d is in a mount namespace other than lmproc's: not supported (%s; "
		       "only a /proc of its own pid namespace may differ)\n", root, why);
		return -EOPNOTSUPP;
	}
	ret = check_tenants(t, root);
	*mnt_ok = !ret;
	return ret;
}

static int check_tree(const struct pstree *t, struct stat *own, struct stat *roots,
		      bool *pidns_own)
{
	pid_t root = t->items[0].pid;
	int ret = 0;

	for (size_t k = 0; k < ARRAY_SIZE(rules) && !ret; k++)
		ret = ns_stat(0, rules[k].kind, &own[k]) ?: ns_stat(root, rules[k].kind, &roots[k]);
	if (!ret)
		ret = check_pidns(t, own, roots, pidns_own);
	for (size_t i = 0; i < t->nr && !ret; i++)
		if (!t->items[i].zombie)
			ret = check_task(t->items[i].pid, root, own, roots, *pidns_own);
	return ret;
}

int ns_dump(int dfd, const struct pstree *t)
{
	struct stat own[ARRAY_SIZE(rules)], roots[ARRAY_SIZE(rules)];
	NsSysctl sc[ARRAY_SIZE(ipc_sysctls)], *scp[ARRAY_SIZE(ipc_sysctls)];
	pid_t root = t->items[0].pid;
	NsEntry e = NS_ENTRY__INIT;
	struct uts_names names;
	struct ipc_state ipc;
	char boot_id[BOOT_ID_LEN + 1];
	bool pidns_own = false;
	int ret = check_tree(t, own, roots, &pidns_own);

	if (!ret && !same(&own[IPC], &roots[IPC]))
		ret = dump_ipc(root, &e, &ipc, sc, scp);
	if (ret || dfd < 0)
		return ret;
	ret = read_boot_id(boot_id);
	if (ret)
		return ret;
	e.boot_id = boot_id;
	e.has_pidns_own = e.pidns_own = pidns_own;
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
		ret = ask_in_ns(root, "uts", CLONE_NEWUTS, read_names, &names, sizeof(names));
		if (ret)
			return ret;
		e.hostname = names.host;
		e.domainname = names.domain;
		pr_info("pid %d has a UTS namespace of its own: host name \"%s\"\n", root,
			names.host);
	}
	return img_write_one(dfd, IMG_NS, 0, &e.base);
}

/* Restore side */
static bool known_ipc_sysctl(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(ipc_sysctls); i++)
		if (!strcmp(name, ipc_sysctls[i]))
			return true;
	return false;
}

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
	if (!e->boot_id || strlen(e->boot_id) != BOOT_ID_LEN ||
	    strspn(e->boot_id, "0123456789abcdef-") != BOOT_ID_LEN)
		return "no boot id, or one out of range";
	if (e->n_ipc_sysctls && !e->ipc_own)
		return "IPC sysctls without an IPC namespace";
	if (e->n_ipc_sysctls > ARRAY_SIZE(ipc_sysctls))
		return "more IPC sysctls than there are";
	for (size_t i = 0; i < e->n_ipc_sysctls; i++) {
		const NsSysctl *sc = e->ipc_sysctls[i];

		if (!known_ipc_sysctl(sc->name))
			return "an IPC sysctl lmproc does not know";
		if (strlen(sc->value) >= SYSCTL_LEN || !sc->value[0] ||
		    strspn(sc->value, "-0123456789 \t") != strlen(sc->value))
			return "an IPC sysctl's value out of range";
	}
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
	*t->ns = (struct ns_restore){ .e = e, .uts_back = -1, .ipc_back = -1,
				    .ipc_tree = -1, .time_back = -1 };
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
	if (t->ns->ipc_tree >= 0)
		close(t->ns->ipc_tree);
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

/* Written only once every SysV object is made: the *_next_id (each
 * creation took the id written before it), and shm_rmid_forced, under
 * which the detach of lmproc's attachment that filled a segment would
 * remove it. */
static bool late_ipc_sysctl(const char *name)
{
	return strstr(name, "_next_id") || !strcmp(name, "kernel/shm_rmid_forced");
}

/* VALUE is no lower than what PATH holds now (every number of it, for
 * kernel/sem's four): a limit the tree lowered once its objects were
 * made would stop them being made again. */
static bool raises(const char *path, const char *value)
{
	char now[SYSCTL_LEN] = "";
	const char *a = now, *b = value;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, now, sizeof(now) - 1);

	if (fd >= 0)
		close(fd);
	while (n > 0) {
		char *ea, *eb;
		unsigned long long x = strtoull(a, &ea, 10), y = strtoull(b, &eb, 10);

		if (ea == a || eb == b)
			return ea == a && eb == b;
		if (y < x)
			return false;
		a = ea;
		b = eb;
	}
	return false;
}

/* The sysctls of the tree's IPC namespace, written there: ALL of them,
 * or the limits that raise what a new namespace allows. */
static int write_ipc_sysctls(const NsEntry *e, bool all)
{
	for (size_t i = 0; i < e->n_ipc_sysctls; i++) {
		const NsSysctl *sc = e->ipc_sysctls[i];
		char path[64];
		int fd, len = strlen(sc->value);

		snprintf(path, sizeof(path), "/proc/sys/%s", sc->name);
		if (!all && (late_ipc_sysctl(sc->name) || !raises(path, sc->value)))
			continue;
		/* -1, "none chosen", is a new namespace's and can't be written. */
		if (strstr(sc->name, "_next_id") && !strcmp(sc->value, "-1"))
			continue;
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, sc->value, len) != len) {
			pr_perror("Can't set %s to \"%s\" in the tree's IPC namespace", path,
				  sc->value);
			if (fd >= 0)
				close(fd);
			return -errno;
		}
		close(fd);
	}
	return 0;
}

/* Made from the start of the restore, lmproc's thread in it until the
 * fork: the tree's SysV objects are made there (restore-sysvipc.c,
 * restore-shmem.c), under its limits where they are higher than a new
 * namespace's (msgmnb bounds a queue's size).  Every sysctl goes in as
 * dumped once they are all made (make_ipc()). */
int restore_make_ipcns(struct restore_tree *t)
{
	struct ns_restore *r = t->ns;

	if (!r->e->ipc_own)
		return 0;
	r->ipc_back = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
	if (r->ipc_back < 0 || unshare(CLONE_NEWIPC)) {
		pr_perror("Can't make the tree's IPC namespace");
		return -errno;
	}
	r->ipc_tree = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
	if (r->ipc_tree < 0) {
		pr_perror("Can't open the tree's IPC namespace");
		return -errno;
	}
	return write_ipc_sysctls(r->e, false);
}

bool restore_ipc_own(const struct restore_tree *t)
{
	return t->ns && t->ns->e->ipc_own;
}

int restore_enter_ipcns(const struct restore_tree *t, int *back)
{
	const struct ns_restore *r = t->ns;

	*back = -1;
	if (!restore_ipc_own(t) || r->ipc_back >= 0)
		return 0;
	if (r->ipc_tree < 0)
		return -ENOENT;
	*back = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
	if (*back < 0 || setns(r->ipc_tree, CLONE_NEWIPC)) {
		pr_perror("Can't enter the tree's IPC namespace");
		if (*back >= 0)
			close(*back);
		*back = -1;
		return -EIO;
	}
	return 0;
}

/* Every sysctl as dumped, now that every object is made. */
static int make_ipc(struct ns_restore *r)
{
	return write_ipc_sysctls(r->e, true);
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
	r->mono_off = mono;
	pr_info("The tree's time namespace: offsets %lld and %lld ns\n", (long long)mono,
		(long long)boot);
	return 0;
}

int restore_check_ns(const struct restore_tree *t, const struct lmproc_opts *opts)
{
	char here[BOOT_ID_LEN + 1];
	int ret;

	if (t->ns->e->pidns_own && !opts->pidns) {
		pr_err("The tree was dumped in a pid namespace of its own (its root pid %d there, "
		       "not that namespace's init): in lmproc's it would see every process of this "
		       "host; restore it with --pidns, which makes that namespace again\n",
		       t->ctx[0].plan.pid);
		return -EINVAL;
	}
	if (opts->timens)
		return 0;
	ret = read_boot_id(here);
	if (ret || !strcmp(here, t->ns->e->boot_id))
		return ret;
	pr_err("The images come from another boot (boot id %s, here %s): the tree's "
	       "CLOCK_MONOTONIC and CLOCK_BOOTTIME count from that boot; restore with --timens "
	       "to continue them from the dump\n", t->ns->e->boot_id, here);
	return -EINVAL;
}

int restore_ipc_sysctls(struct restore_tree *t)
{
	return t->ns->e->ipc_own ? make_ipc(t->ns) : 0;
}

int64_t restore_ns_mono_offset(const struct restore_tree *t)
{
	return t->ns ? t->ns->mono_off : 0;
}

int restore_make_ns(struct restore_tree *t, const struct lmproc_opts *opts)
{
	struct ns_restore *r = t->ns;
	int ret = 0;

	if (r->e->hostname)
		ret = make_uts(r);
	/* Under --pidns the objects wait for the namespace's init
	 * (restore_sysvipc_pidns), and the sysctls for them. */
	if (!ret && r->e->ipc_own && !t->pidns)
		ret = make_ipc(r);
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
	ret = go_back(&r->ipc_back, CLONE_NEWIPC, "IPC") ?: ret;
	return go_back(&r->time_back, CLONE_NEWTIME, "time") ?: ret;
}
