/* sparse LMPROC WORK: the frozen time of a process whose address space is
 * mostly reserved, not used (issue #10): an 8 TiB PROT_NONE reservation
 * (as MariaDB makes) and 4 MiB of written memory.  ROUNDS dumps -R of the
 * same process with the page finder lmproc picks (PAGEMAP_SCAN where the
 * kernel has it), then ROUNDS with the pagemap read it falls back to
 * (LMPROC_FAULT=no-pagemap-scan); prints the median frozen time and, from
 * stats-dump.img, how the frozen window was spent. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench-util.h"

#define ROUNDS 3
#define RESERVE_SIZE (8UL << 40)
#define USED_SIZE (4UL << 20)

/* The stage fields of stats-dump.img that add up to frozen_time_us. */
static const char *const fields[] = {
	"frozen_time_us",	"rounds_time_us",   "vmas_time_us",	 "tracker_time_us",
	"files_time_us",	"threads_time_us",  "parasite_time_us", "pagemap_scan_time_us",
	"page_copy_time_us",	"page_write_time_us", "core_time_us",	 "shmem_time_us",
	"mm_time_us",		"tree_time_us",	    "images_time_us",	 "self_check_time_us",
	"release_time_us",	"other_time_us",
};
#define NR_FIELDS (sizeof(fields) / sizeof(fields[0]))

static struct bench_log blog;

/* The target: maps, writes, says so through FD and waits to be killed. */
static void target(int fd)
{
	char *res = mmap(NULL, RESERVE_SIZE, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *used = mmap(NULL, USED_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (res == MAP_FAILED || used == MAP_FAILED)
		_exit(1);
	for (size_t i = 0; i < USED_SIZE; i += 64)
		used[i] = (char)(i >> 6 | 1);
	if (write(fd, "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static pid_t start_target(const char *work)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		target(p[1]);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		if (pid > 0)
			kill(pid, SIGKILL);
		close(p[0]);
		return -1;
	}
	close(p[0]);
	note_pid(work, pid);
	return pid;
}

/* ROUNDS dumps -R of PID; the median of each field (in ms) in OUT. */
static int measure(const char *lmproc, const char *dir, pid_t pid, bool fallback, double *out)
{
	double v[NR_FIELDS][ROUNDS], ms;
	char pid_s[16], img[512];
	char *argv[] = { (char *)lmproc, "-t", pid_s, "-D", (char *)dir, "-R", "dump", NULL };

	snprintf(pid_s, sizeof(pid_s), "%d", pid);
	snprintf(img, sizeof(img), "%s/stats-dump.img", dir);
	if (fallback)
		setenv("LMPROC_FAULT", "no-pagemap-scan", 1);
	else
		unsetenv("LMPROC_FAULT");
	for (int r = 0; r < ROUNDS; r++) {
		double f[NR_FIELDS];

		empty_dir(dir);
		if (run_logged(&blog, argv, &ms)) {
			char line[200];

			last_log_line(&blog, line, sizeof(line));
			fprintf(stderr, "bench sparse: dump -R of pid %d failed: %s\n", pid, line);
			unsetenv("LMPROC_FAULT");
			return -1;
		}
		show_fields(lmproc, img, fields, f, NR_FIELDS);
		for (size_t i = 0; i < NR_FIELDS; i++)
			v[i][r] = f[i];
	}
	unsetenv("LMPROC_FAULT");
	for (size_t i = 0; i < NR_FIELDS; i++)
		out[i] = median(v[i], ROUNDS) / 1e3;
	return 0;
}

static void print(const char *what, const double *m)
{
	printf("  %-28s frozen %9.2f ms\n", what, m[0]);
	for (size_t i = 1; i < NR_FIELDS; i++) {
		int w = (int)(strlen(fields[i]) - strlen("_time_us"));

		if (m[i] < 0)
			printf("    %-24.*s      -\n", w, fields[i]);
		else
			printf("    %-24.*s %9.3f ms\n", w, fields[i], m[i]);
	}
}

int main(int argc, char **argv)
{
	double scan[NR_FIELDS], fallback[NR_FIELDS];
	char dir[512];
	pid_t pid;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: %s LMPROC WORK\n", argv[0]);
		return 2;
	}
	snprintf(blog.path, sizeof(blog.path), "%s/lmproc.log", argv[2]);
	snprintf(dir, sizeof(dir), "%s/sparse", argv[2]);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	pid = start_target(argv[2]);
	if (pid < 0) {
		fprintf(stderr, "bench sparse: the target did not start\n");
		return 1;
	}
	ret = measure(argv[1], dir, pid, false, scan) ?:
	      measure(argv[1], dir, pid, true, fallback);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	empty_dir(dir);
	rmdir(dir);
	if (ret)
		return 1;
	printf("Sparse address space: 8 TiB PROT_NONE reserved, 4 MiB written; dump -R, "
	       "median of %d\n(ms, from stats-dump.img; '-': not in this lmproc's stats)\n",
	       ROUNDS);
	print("default page finder", scan);
	print("pagemap read (fallback)", fallback);
	return 0;
}
