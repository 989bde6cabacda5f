/* Parses /proc files.  Read-only: nothing here changes a task. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "proc.h"

char *proc_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t size = 4096, used = 0;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = malloc(size);
	while (buf) {
		ssize_t n = read(fd, buf + used, size - used - 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			buf = NULL;
			break;
		}
		if (n == 0)
			break;
		used += n;
		if (size - used < 2) {
			char *nb = realloc(buf, size * 2);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			size *= 2;
		}
	}
	if (buf) {
		buf[used] = '\0';
		if (len)
			*len = used;
	}
	close(fd);
	return buf;
}

long proc_file_size(const char *path)
{
	size_t len;
	char *buf = proc_read_file(path, &len);

	if (!buf)
		return -errno;
	free(buf);
	return len;
}

int proc_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n = readlink(path, buf, size);

	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

int proc_read_status(pid_t pid, struct proc_status *st)
{
	cleanup_free char *buf = NULL;
	char path[64], *line, *save;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	buf = proc_read_file(path, NULL);
	if (!buf)
		return -errno;
	memset(st, 0, sizeof(*st));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "Name:\t", 6))
			snprintf(st->comm, sizeof(st->comm), "%s", line + 6);
		else if (!strncmp(line, "State:\t", 7))
			st->state = line[7];
		else if (sscanf(line, "Tgid: %d", &st->tgid) == 1)
			continue;
		else if (sscanf(line, "PPid: %d", &st->ppid) == 1)
			continue;
		else if (sscanf(line, "TracerPid: %d", &st->tracer_pid) == 1)
			continue;
		else if (sscanf(line, "Threads: %d", &st->threads) == 1)
			continue;
		else if (sscanf(line, "Umask: %o", &st->umask) == 1)
			continue;
	}
	return 0;
}

int proc_read_nspid(pid_t pid, pid_t tid, pid_t *out, int max)
{
	cleanup_free char *buf = NULL;
	char path[96], *l;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid ?: pid);
	buf = proc_read_file(path, NULL);
	if (!buf)
		return -errno;
	l = strstr(buf, "\nNSpid:");
	if (!l)
		return -ENOENT;
	for (char *s = l + 7, *end; n < max; s = end) {
		long v = strtol(s, &end, 10);

		if (end == s)
			break;
		out[n++] = v;
	}
	return n;
}

int proc_read_stat(pid_t pid, struct proc_stat *st)
{
	cleanup_free char *buf = NULL;
	unsigned long long v[53];
	char path[64], *p, *tok, *save;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	buf = proc_read_file(path, NULL);
	if (!buf)
		return -errno;
	/* comm may hold spaces and parentheses: fields resume after the
	 * last ')'. */
	p = strrchr(buf, ')');
	if (!p) {
		pr_err("Can't parse %s\n", path);
		return -EINVAL;
	}
	memset(v, 0, sizeof(v));
	field = 3;
	for (tok = strtok_r(p + 2, " \n", &save); tok && field < 53;
	     tok = strtok_r(NULL, " \n", &save), field++)
		v[field] = strtoull(tok, NULL, 10);
	if (field < 52) {
		pr_err("%s has only %d fields\n", path, field - 1);
		return -EINVAL;
	}
	st->state = *(p + 2);
	st->ppid = v[4];
	st->pgid = v[5];
	st->sid = v[6];
	st->tty_nr = v[7];
	st->start_time = v[22];
	st->start_code = v[26];
	st->end_code = v[27];
	st->start_stack = v[28];
	st->start_data = v[45];
	st->end_data = v[46];
	st->start_brk = v[47];
	st->arg_start = v[48];
	st->arg_end = v[49];
	st->env_start = v[50];
	st->env_end = v[51];
	st->exit_code = v[52];
	return 0;
}

/* PF_EXITING (include/linux/sched.h): a killed task still freeing its
 * memory, about to become a zombie. */
#define PF_EXITING 0x4

bool proc_pid_exiting(pid_t pid)
{
	cleanup_free char *buf = NULL;
	unsigned long flags;
	char path[64], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	buf = proc_read_file(path, NULL);
	p = buf ? strrchr(buf, ')') : NULL;
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return flags & PF_EXITING;
}

bool proc_tree_walk(pid_t pid, int depth, bool (*fn)(pid_t pid, void *arg), void *arg)
{
	char path[320];
	struct dirent *de;
	bool stop = fn(pid, arg);
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = depth && !stop ? opendir(path) : NULL;
	while (dir && !stop && (de = readdir(dir))) {
		int c;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", pid, de->d_name);
		f = fopen(path, "re");
		while (f && !stop && fscanf(f, "%d", &c) == 1)
			stop = proc_tree_walk(c, depth - 1, fn, arg);
		if (f)
			fclose(f);
	}
	if (dir)
		closedir(dir);
	return stop;
}

static bool maps_holds(pid_t pid, void *needle)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return found;
}

bool proc_tree_maps(pid_t pid, const char *needle, int depth)
{
	return proc_tree_walk(pid, depth, maps_holds, (void *)needle);
}

struct pid_list {
	pid_t **pids;
	size_t *nr, max;
	int err;
};

static bool add_pid(pid_t pid, void *arg)
{
	struct pid_list *l = arg;
	pid_t *n;

	if (*l->nr >= l->max) {
		l->err = -E2BIG;
		return true;
	}
	n = realloc(*l->pids, (*l->nr + 1) * sizeof(*n));
	if (!n) {
		l->err = -ENOMEM;
		return true;
	}
	*l->pids = n;
	n[(*l->nr)++] = pid;
	return false;
}

int proc_tree_pids(pid_t pid, size_t max, pid_t **pids, size_t *nr)
{
	struct pid_list l = { .pids = pids, .nr = nr, .max = max };

	proc_tree_walk(pid, INT_MAX, add_pid, &l);
	return l.err;
}
