/* Owns the sysctls of a tree's own network namespace (netns.img's
 * sysctls): every one under /proc/sys/net its owner may write and read
 * (a namespace's copies: the core, unix, ipv4, ipv6, netfilter ones, and
 * those of each link under conf/ and neigh/) whose value differs from
 * what a new namespace has, read inside the tree's namespace and written
 * in the one the restore makes once its links are in.  What a new
 * namespace has is read once per lmproc, in a child that unshares one
 * (a link of the tree compares with the new namespace's "default").
 * Before, four were kept and any other value was lost without a word. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "netns.h"

#define SYSCTL_ROOT "/proc/sys/net/"
#define SYSCTL_MAX_VALUE 256
#define SYSCTL_MAX_NAME 160
#define SYSCTL_MAX 4096

/* A new namespace's values: NUL-separated name/value pairs, and their
 * names sorted, for bsearch. */
static char *baseline;
static const char **base_names;
static size_t nr_base;

typedef int (*sysctl_fn)(const char *name, const char *value, void *arg);

/* A sysctl's value as the restore writes it back: one line, tabs as
 * spaces.  -1: not one lmproc can compare (unreadable, too long, lines). */
static int read_value(int dfd, const char *file, char *buf, size_t len)
{
	int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len);
	close(fd);
	if (n < 0 || (size_t)n >= len)
		return -1;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	if (strchr(buf, '\n'))
		return -1;
	for (char *c = buf; *c; c++)
		if (*c == '\t')
			*c = ' ';
	return 0;
}

/* FN for each sysctl file under DIR (PREFIX its name so far) that its
 * owner may read and write. */
static int walk(int dfd, char *prefix, size_t plen, sysctl_fn fn, void *arg)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		close(dfd);
		return -errno;
	}
	while (!ret && (de = readdir(d))) {
		char value[SYSCTL_MAX_VALUE];
		struct stat st;
		int sub;

		if (de->d_name[0] == '.' || plen + strlen(de->d_name) + 2 > SYSCTL_MAX_NAME ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		snprintf(prefix + plen, SYSCTL_MAX_NAME - plen, "%s", de->d_name);
		if (S_ISDIR(st.st_mode)) {
			sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			strcat(prefix, "/");
			if (sub >= 0)
				ret = walk(sub, prefix, strlen(prefix), fn, arg);
		} else if (S_ISREG(st.st_mode) && (st.st_mode & S_IRUSR) && (st.st_mode & S_IWUSR) &&
			   !read_value(dirfd(d), de->d_name, value, sizeof(value))) {
			ret = fn(prefix, value, arg);
		}
		prefix[plen] = 0;
	}
	closedir(d);
	return ret;
}

static int walk_net(sysctl_fn fn, void *arg)
{
	char prefix[SYSCTL_MAX_NAME] = "";
	int dfd = open(SYSCTL_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return dfd < 0 ? -errno : walk(dfd, prefix, 0, fn, arg);
}

static int put_pair(const char *name, const char *value, void *arg)
{
	FILE *f = arg;

	fwrite(name, 1, strlen(name) + 1, f);
	fwrite(value, 1, strlen(value) + 1, f);
	return 0;
}

/* In a child of its own: a new namespace's sysctls, to the pipe FD. */
static void __attribute__((noreturn)) baseline_child(int fd)
{
	FILE *f;

	if (unshare(CLONE_NEWNET))
		_exit(1);
	f = fdopen(fd, "w");
	if (!f || walk_net(put_pair, f) || fclose(f))
		_exit(1);
	_exit(0);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* TEXT's pairs, checked whole, indexed by name. */
static int index_baseline(char *text, size_t len)
{
	size_t n = 0;

	/* open_memstream ends TEXT with a NUL past LEN. */
	for (const char *p = text; p < text + len; p += strlen(p) + 1)
		n++;
	base_names = n % 2 ? NULL : calloc(n / 2 + 1, sizeof(*base_names));
	if (!base_names) {
		free(text);
		return n % 2 ? -EIO : -ENOMEM;
	}
	for (const char *p = text; p < text + len; p += strlen(p) + 1) {
		base_names[nr_base++] = p;
		p += strlen(p) + 1;
	}
	qsort(base_names, nr_base, sizeof(*base_names), cmp_name);
	baseline = text;
	return 0;
}

int netns_sysctl_prepare(void)
{
	char buf[65536];
	FILE *mem;
	size_t len = 0;
	char *text = NULL;
	int p[2], st;
	ssize_t n;
	pid_t pid;

	if (baseline)
		return 0;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (!pid) {
		close(p[0]);
		baseline_child(p[1]);
	}
	close(p[1]);
	mem = pid < 0 ? NULL : open_memstream(&text, &len);
	while (mem && (n = read(p[0], buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, mem);
	close(p[0]);
	if (mem)
		fclose(mem);
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) || !text) {
		pr_err("Can't read the sysctls of a new network namespace (to compare the tree's "
		       "with)\n");
		free(text);
		return -EIO;
	}
	return index_baseline(text, len);
}

/* What a new namespace has for NAME; a link's own under conf/ or neigh/
 * compares with "default" there (lo and the "all" and "default" entries
 * with their own).  NULL: a new namespace has no such sysctl. */
static const char *baseline_of(const char *name)
{
	char key[SYSCTL_MAX_NAME];
	const char *k = key, *slash, **hit;
	size_t skip;

	snprintf(key, sizeof(key), "%s", name);
	if (!strncmp(name, "ipv4/conf/", 10) || !strncmp(name, "ipv6/conf/", 10) ||
	    !strncmp(name, "ipv4/neigh/", 11) || !strncmp(name, "ipv6/neigh/", 11)) {
		skip = name[5] == 'c' ? 10 : 11;
		slash = strchr(name + skip, '/');
		if (slash && strncmp(name + skip, "all/", 4) && strncmp(name + skip, "default/", 8) &&
		    strncmp(name + skip, "lo/", 3))
			snprintf(key + skip, sizeof(key) - skip, "default%s", slash);
	}
	hit = bsearch(&k, base_names, nr_base, sizeof(*base_names), cmp_name);
	return hit ? *hit + strlen(*hit) + 1 : NULL;
}

/* The order the restore writes them in: the namespace's own, then every
 * link's ("all"), the defaults, and each link's. */
static int rank(const char *name)
{
	if (strlen(name) < 5 || (strncmp(name + 4, "/conf/", 6) && strncmp(name + 4, "/neigh/", 7)))
		return 0;
	if (strstr(name, "/all/"))
		return 1;
	return strstr(name, "/default/") ? 2 : 3;
}

static int cmp_rank(const void *a, const void *b)
{
	const struct netns_sysctl *x = a, *y = b;

	return rank(x->name) - rank(y->name) ?: strcmp(x->name, y->name);
}

static int add_changed(const char *name, const char *value, void *arg)
{
	struct netns_sysctls *s = arg;
	const char *base = baseline_of(name);
	struct netns_sysctl *n;

	if (base && !strcmp(base, value))
		return 0;
	if (s->nr == SYSCTL_MAX)
		return -E2BIG;
	if (s->nr == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;

		n = realloc(s->v, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->v = n;
		s->cap = cap;
	}
	n = &s->v[s->nr];
	n->name = strdup(name);
	n->value = strdup(value);
	if (!n->name || !n->value) {
		free(n->name);
		free(n->value);
		return -ENOMEM;
	}
	s->nr++;
	return 0;
}

int netns_sysctl_read(pid_t pid, struct netns_sysctls *s)
{
	int ret = netns_sysctl_prepare();

	memset(s, 0, sizeof(*s));
	if (!ret)
		ret = walk_net(add_changed, s);
	if (ret) {
		pr_err("Can't read the sysctls of pid %d's network namespace: %s\n", pid,
		       strerror(-ret));
		netns_sysctl_free(s);
		return ret;
	}
	qsort(s->v, s->nr, sizeof(*s->v), cmp_rank);
	return 0;
}

void netns_sysctl_free(struct netns_sysctls *s)
{
	for (size_t i = 0; i < s->nr; i++) {
		free(s->v[i].name);
		free(s->v[i].value);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

bool netns_sysctl_ok(const char *name, const char *value)
{
	size_t len = strlen(name);

	if (!len || len >= SYSCTL_MAX_NAME || name[0] == '/' || name[len - 1] == '/' ||
	    strstr(name, "//") || strspn(name, "abcdefghijklmnopqrstuvwxyz"
					 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:") != len)
		return false;
	for (const char *c = name; (c = strstr(c, "..")); c++)
		if ((c == name || c[-1] == '/') && (!c[2] || c[2] == '/'))
			return false;
	if (strlen(value) >= SYSCTL_MAX_VALUE)
		return false;
	for (const char *c = value; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			return false;
	return true;
}

int netns_sysctl_write(const char *name, const char *value)
{
	char path[sizeof(SYSCTL_ROOT) + SYSCTL_MAX_NAME];
	size_t len = strlen(value);
	int fd, err;

	snprintf(path, sizeof(path), SYSCTL_ROOT "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && write(fd, value, len) == (ssize_t)len) {
		close(fd);
		return 0;
	}
	err = errno;
	if (fd >= 0)
		close(fd);
	pr_err("Can't set net.%s to \"%s\" in the restored network namespace: %s\n", name, value,
	       strerror(err));
	return -err;
}
