/* tree LMPROC TREE-HOG WORK: freeze, dump and restore times of a process
 * with many threads and of a tree of many processes (issue #3's figures).
 * For each shape, ROUNDS times: a dump -R (freezing time, frozen time and
 * whole dump from stats-dump.img), then a killing dump and a restore -d of
 * it (fork-to-restorer and total from stats-restore.img, and the wall time
 * of `lmproc restore`), the restored tree being the next round's target.
 * Prints medians, and the same per process or per thread for comparison
 * with a single small process (the physical floor here: one process's
 * cost). */
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-util.h"

#define ROUNDS 5

struct shape {
	const char *name;
	int procs, threads;
};

static const struct shape shapes[] = {
	{ "1 process, 1 thread", 1, 1 },
	{ "1 process, 64 threads", 1, 64 },
	{ "32 processes, 1 thread each", 32, 1 },
};

static const char *lmproc;
static struct bench_log blog;

static pid_t start_hog(const char *hog, const char *work, const struct shape *s)
{
	char pidfile[512], procs[16], threads[16];
	pid_t pid = 0;
	FILE *f;

	snprintf(pidfile, sizeof(pidfile), "%s/tree-hog.pid", work);
	snprintf(procs, sizeof(procs), "%d", s->procs);
	snprintf(threads, sizeof(threads), "%d", s->threads);
	unlink(pidfile);
	if (fork() == 0) {
		setsid();
		execl(hog, hog, pidfile, procs, threads, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000 && !pid; i++) {
		usleep(10000);
		f = fopen(pidfile, "r");
		if (f && fscanf(f, "%d", &pid) != 1)
			pid = 0;
		if (f)
			fclose(f);
	}
	if (pid)
		note_pid(work, pid);
	return pid;
}

static int lm(char *const argv[], double *ms)
{
	int st = run_logged(&blog, argv, ms);

	if (st) {
		char line[200];

		last_log_line(&blog, line, sizeof(line));
		fprintf(stderr, "bench tree: %s %s exited %d: %s\n", argv[0], argv[1], st, line);
	}
	return st;
}

/* Reaps the killed tree (we are its subreaper) until PID is gone, so that
 * the restore does not wait for it. */
static void wait_gone(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", pid);
	for (int i = 0; i < 2000 && !access(path, F_OK); i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(1000);
	}
}

static int run_shape(const char *hog, const char *work, const struct shape *s)
{
	static const char *const dump_f[] = { "freezing_time_us", "frozen_time_us",
					      "total_time_us" };
	static const char *const rst_f[] = { "forking_time_us", "total_time_us" };
	double freeze[ROUNDS], frozen[ROUNDS], dump[ROUNDS], fork_t[ROUNDS], rst[ROUNDS],
		rwall[ROUNDS], v[3], ms;
	char dir[512], img[600], spid[16];
	pid_t pid = start_hog(hog, work, s);
	int n = s->procs * s->threads;

	if (!pid) {
		fprintf(stderr, "bench tree: %s did not start\n", hog);
		return 1;
	}
	snprintf(spid, sizeof(spid), "%d", pid);
	snprintf(dir, sizeof(dir), "%s/tree-img", work);
	mkdir(dir, 0700);
	for (int r = 0; r < ROUNDS; r++) {
		char *dump_r[] = { (char *)lmproc, "dump", "-t", spid, "-D", dir, "-R", NULL };
		char *dump_k[] = { (char *)lmproc, "dump", "-t", spid, "-D", dir, NULL };
		char *restore[] = { (char *)lmproc, "restore", "-D", dir, "-d", NULL };

		empty_dir(dir);
		if (lm(dump_r, &ms))
			return 1;
		snprintf(img, sizeof(img), "%s/stats-dump.img", dir);
		show_fields(lmproc, img, dump_f, v, 3);
		freeze[r] = v[0] / 1e3;
		frozen[r] = v[1] / 1e3;
		dump[r] = v[2] / 1e3;
		empty_dir(dir);
		if (lm(dump_k, &ms))
			return 1;
		wait_gone(pid);
		if (lm(restore, &rwall[r]))
			return 1;
		snprintf(img, sizeof(img), "%s/stats-restore.img", dir);
		show_fields(lmproc, img, rst_f, v, 2);
		fork_t[r] = v[0] / 1e3;
		rst[r] = v[1] / 1e3;
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	wait_gone(pid);
	printf("%-28s freeze %6.2f ms, frozen %7.2f ms, dump %7.2f ms | restore: fork to "
	       "restorer %7.2f ms, total %7.2f ms, wall %7.2f ms\n",
	       s->name, median(freeze, ROUNDS), median(frozen, ROUNDS), median(dump, ROUNDS),
	       median(fork_t, ROUNDS), median(rst, ROUNDS), median(rwall, ROUNDS));
	printf("%-28s per task: frozen %.2f ms, restore total %.2f ms\n", "",
	       median(frozen, ROUNDS) / n, median(rst, ROUNDS) / n);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: tree LMPROC TREE-HOG WORK\n");
		return 2;
	}
	lmproc = argv[1];
	/* Restored roots (lmproc restore -d returns) become our children. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(blog.path, sizeof(blog.path), "%s/lmproc.log", argv[3]);
	printf("process trees and threads (medians of %d; images on tmpfs):\n", ROUNDS);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]) && !rc; i++)
		rc = run_shape(argv[2], argv[3], &shapes[i]);
	return rc;
}
