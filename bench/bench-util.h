/* bench-util.h: what the bench drivers (lmbench, predump) share: running
 * lmproc with its output in a log, reading stats images back through
 * `lmproc show`, the list of started pids that bench/run.sh's trap kills,
 * medians.  Header-only: the bench programs are single files. */
#ifndef LMPROC_BENCH_UTIL_H
#define LMPROC_BENCH_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct bench_log {
	char path[256];
	long off;		/* where the last command's output starts */
};

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts V in place. */
static inline double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* Runs ARGV with stdout+stderr appended to the log; returns the exit
 * status, 128 + the signal that killed it, or -1, and the wall time in
 * *MS. */
static inline int run_logged(struct bench_log *log, char *const argv[], double *ms)
{
	struct stat st;
	int status;
	double t;
	pid_t pid;

	log->off = stat(log->path, &st) ? 0 : st.st_size;
	t = now_ms();
	pid = fork();
	if (pid == 0) {
		int fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	*ms = now_ms() - t;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The first error the last command logged (the cause; later ones are
 * consequences), else its last line, cut to LEN. */
static inline void last_log_line(const struct bench_log *log, char *out, size_t len)
{
	char line[512], err[512] = "no message in the log";
	FILE *f = fopen(log->path, "r");
	bool seen_error = false;

	if (f)
		fseek(f, log->off, SEEK_SET);
	while (f && fgets(line, sizeof(line), f)) {
		bool is_error = !strncmp(line, "Error", 5) || !strncmp(line, "lmproc:", 7);

		if (!seen_error)
			memcpy(err, line, sizeof(line));
		seen_error |= is_error;
	}
	if (f)
		fclose(f);
	err[strcspn(err, "\n")] = '\0';
	err[len - 1] = '\0';
	memcpy(out, err, strlen(err) + 1);
}

/* Appends PID to WORK/pids, the list bench/run.sh's trap kills from. */
static inline void note_pid(const char *work, pid_t pid)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/pids", work);
	f = fopen(path, "a");
	if (f) {
		fprintf(f, "%d\n", pid);
		fclose(f);
	}
}

static inline void empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* Numeric fields of an image, read back through `lmproc show`, unscaled
 * (true is 1); a missing field stays -1. */
static inline void show_fields(const char *lmproc, const char *img, const char *const fields[],
			       double *out, int nr)
{
	char cmd[1024], line[256], key[64];
	FILE *f;

	for (int i = 0; i < nr; i++)
		out[i] = -1;
	snprintf(cmd, sizeof(cmd), "%s show %s 2>/dev/null", lmproc, img);
	f = popen(cmd, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		for (int i = 0; i < nr; i++) {
			char *k;

			snprintf(key, sizeof(key), "\"%s\": ", fields[i]);
			k = strstr(line, key);
			if (!k)
				continue;
			k += strlen(key);
			out[i] = !strncmp(k, "true", 4) ? 1 : strtod(k, NULL);
		}
	}
	pclose(f);
}

#endif
