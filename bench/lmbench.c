/* lmbench: the figures of issue #2, measured in one run and printed next
 * to their targets and CRIU 4.2's.  Measures memcpy bandwidth (the
 * physical limit), then dumps and restores bench-hog processes holding
 * random memory into each given directory with each page path, and a
 * small process, each several times (medians printed: page allocation in
 * this guest makes single runs vary by 2x).  Prints figures only: it never
 * judges a timing, and exits non-zero only when a dump, a restore or the
 * check of the restored memory fails.
 *
 * usage: lmbench LMPROC HOG WORK_DIR EXT4_DIR   (env LMBENCH_RUNS, default 3)
 * WORK_DIR (on tmpfs) gets the log, the tmpfs images in images/ and the
 * hogs' answers.
 * Every hog it starts or restores is killed and reaped before it exits;
 * their pids are listed in WORK_DIR/pids for bench/run.sh's trap. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "bench-util.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define GIB (1UL << 30)
#define MAX_RUNS 15
#define SMALL_RUNS 5

struct bench {
	const char *lmproc;
	const char *hog;
	const char *work;	/* tmpfs: log, hog results, pid list */
	struct bench_log log;
	int runs;
	int failures;
};

/* Figures of one dump + restore, in ms. */
enum metric {
	M_DUMP,		/* lmproc dump, wall */
	M_FROZEN,	/* stats-dump.img frozen_time_us */
	M_COPY,		/* stats-dump.img memdump_time_us */
	M_WRITE,	/* stats-dump.img memwrite_time_us */
	M_RESTORE,	/* lmproc restore -d, wall */
	M_NR,
};

struct run_result {
	const char *failed;	/* the step that failed, NULL if none */
	double ms[M_NR];
	char verdict[160];	/* the hog's answer, or the error */
};

static void *map_populated(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, len, MADV_POPULATE_WRITE))
		memset(p, 0, len);
	return p;
}

/* Best of 5 copies of 1 GiB after one warm-up copy: steady state. */
static double memcpy_gbps(void)
{
	char *src = map_populated(GIB), *dst = map_populated(GIB);
	double best = 1e9;

	if (!src || !dst) {
		perror("lmbench: mmap 2 GiB for memcpy");
		exit(1);
	}
	memset(src, 0x5a, GIB);
	memcpy(dst, src, GIB);
	for (int i = 0; i < 5; i++) {
		double t = now_ms();

		memcpy(dst, src, GIB);
		t = now_ms() - t;
		if (t < best)
			best = t;
	}
	if (dst[GIB - 1] != 0x5a)
		exit(1);
	munmap(src, GIB);
	munmap(dst, GIB);
	return GIB / best / 1e6;
}

/* write(2) of 1 GiB into a new file in DIR, 4 MiB per call, median of 3
 * like the dumps: the ceiling of any dump into DIR (allocating tmpfs or
 * page-cache pages, not copying, is what costs here). */
static double file_write_gbps(const char *dir)
{
	const size_t chunk = 4 << 20;
	char *buf = map_populated(chunk), path[512];
	double ms[3];
	int n = 0;

	if (!buf)
		return 0;
	memset(buf, 0x5a, chunk);
	snprintf(path, sizeof(path), "%s/write-test", dir);
	for (int i = 0; i < 3; i++) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		double t = now_ms();
		size_t done = 0;

		while (fd >= 0 && done < GIB && write(fd, buf, chunk) == (ssize_t)chunk)
			done += chunk;
		t = now_ms() - t;
		if (fd >= 0)
			close(fd);
		unlink(path);
		sync();
		if (done == GIB)
			ms[n++] = t;
	}
	munmap(buf, chunk);
	if (!n)
		return 0;
	qsort(ms, n, sizeof(double), cmp_double);
	return GIB / ms[n / 2] / 1e6;
}

/* Starts a hog of MIB MiB and waits until its memory is filled. */
static pid_t start_hog(struct bench *b, unsigned long mib, const char *result)
{
	char mib_s[32], fd_s[16];
	int p[2], null;
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		/* Only /dev/null and the ready pipe: lmproc refuses to dump
		 * inherited pipes (make's jobserver, a shell's). */
		null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		dup2(p[1], 3);
		close_range(4, ~0U, 0);
		snprintf(mib_s, sizeof(mib_s), "%lu", mib);
		snprintf(fd_s, sizeof(fd_s), "%d", 3);
		execl(b->hog, b->hog, mib_s, result, fd_s, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &c, 1) != 1) {
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(p[0]);
	if (pid > 0)
		note_pid(b->work, pid);
	return pid;
}

/* Kills PID and reaps it: the original hog and, through the subreaper
 * flag, a restored one are both our children. */
static void kill_hog(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Fields of a stats image, in ms (the images hold us); a missing field
 * stays -1. */
static void read_stats(struct bench *b, const char *img, const char *const fields[],
		       double *out, int nr)
{
	show_fields(b->lmproc, img, fields, out, nr);
	for (int i = 0; i < nr; i++)
		if (out[i] >= 0)
			out[i] /= 1e3;
}

/* Asks the restored hog to check its memory; waits up to 20 s. */
static void verify_hog(pid_t pid, const char *result, char *verdict, size_t len)
{
	char buf[64] = "";
	int fd;

	unlink(result);
	snprintf(verdict, len, "no answer");
	if (kill(pid, SIGUSR1)) {
		snprintf(verdict, len, "gone");
		return;
	}
	for (int i = 0; i < 2000; i++) {
		usleep(10000);
		fd = open(result, O_RDONLY);
		if (fd < 0)
			continue;
		if (read(fd, buf, sizeof(buf) - 1) > 0) {
			buf[strcspn(buf, "\n")] = '\0';
			snprintf(verdict, len, "%s", buf);
			close(fd);
			return;
		}
		close(fd);
	}
}

/* One dump (killing the hog) and one detached restore into DIR. */
static void dump_restore(struct bench *b, unsigned long mib, const char *dir, const char *path,
			 struct run_result *r)
{
	static const char *const dump_fields[] = { "frozen_time_us", "memdump_time_us",
						   "memwrite_time_us" };
	char result[512], pid_s[16], img[512];
	/* Options before the command: lmproc parses those in any version. */
	char *dump_argv[] = { (char *)b->lmproc, "-t", pid_s, "-D", (char *)dir,
			      "--page-path", (char *)path, "dump", NULL };
	char *restore_argv[] = { (char *)b->lmproc, "-D", (char *)dir, "-d", "restore", NULL };
	pid_t pid;

	memset(r, 0, sizeof(*r));
	snprintf(result, sizeof(result), "%s/result", b->work);
	empty_dir(dir);
	pid = start_hog(b, mib, result);
	if (pid < 0) {
		r->failed = "start";
		snprintf(r->verdict, sizeof(r->verdict), "bench-hog did not start");
		return;
	}
	snprintf(pid_s, sizeof(pid_s), "%d", pid);
	if (run_logged(&b->log, dump_argv, &r->ms[M_DUMP])) {
		kill_hog(pid);
		r->failed = "dump";
		last_log_line(&b->log, r->verdict, sizeof(r->verdict));
		return;
	}
	/* The dump killed it; reap it so restore finds the pid free. */
	waitpid(pid, NULL, 0);
	snprintf(img, sizeof(img), "%s/stats-dump.img", dir);
	read_stats(b, img, dump_fields, &r->ms[M_FROZEN], 3);
	/* Earlier writeback must not slow down the timed restore. */
	sync();
	if (run_logged(&b->log, restore_argv, &r->ms[M_RESTORE])) {
		if (!kill(pid, 0))
			kill_hog(pid);
		r->failed = "restore";
		last_log_line(&b->log, r->verdict, sizeof(r->verdict));
		return;
	}
	verify_hog(pid, result, r->verdict, sizeof(r->verdict));
	if (strncmp(r->verdict, "ok", 2))
		r->failed = "check";
	kill_hog(pid);
	empty_dir(dir);
	sync();
}

/* Runs one configuration b->runs times (or RUNS), medians into MED.
 * Returns the number of good runs; the first failure is printed. */
static int measure(struct bench *b, unsigned long mib, const char *dir, const char *path,
		   int runs, const char *label, double med[M_NR])
{
	double all[M_NR][MAX_RUNS];
	struct run_result r;
	int n = 0;

	for (int i = 0; i < runs; i++) {
		dump_restore(b, mib, dir, path, &r);
		if (r.failed) {
			b->failures++;
			printf("%s  %s FAILED (run %d): %s\n", label, r.failed, i + 1, r.verdict);
			fflush(stdout);
			return 0;
		}
		for (int m = 0; m < M_NR; m++)
			all[m][n] = r.ms[m];
		n++;
	}
	for (int m = 0; m < M_NR; m++) {
		qsort(all[m], n, sizeof(double), cmp_double);
		med[m] = all[m][n / 2];
	}
	return n;
}

static void print_row(struct bench *b, unsigned long mib, const char *fs, const char *dir,
		      const char *path, double memcpy_bw)
{
	double bytes = (double)mib * (1 << 20), med[M_NR];
	double dump_bw, restore_bw;
	char label[64];

	snprintf(label, sizeof(label), "%5lu MiB  %-5s  %-6s", mib, fs, path);
	if (!measure(b, mib, dir, path, b->runs, label, med))
		return;
	dump_bw = bytes / med[M_DUMP] / 1e6;
	restore_bw = bytes / med[M_RESTORE] / 1e6;
	printf("%s  %7.0f  %7.0f  %6.0f  %6.0f  %6.2f  %5.0f%%  %8.0f  %7.2f\n", label,
	       med[M_DUMP], med[M_FROZEN], med[M_COPY], med[M_WRITE], dump_bw,
	       100 * dump_bw / memcpy_bw, med[M_RESTORE], restore_bw);
	fflush(stdout);
}

static void small_process(struct bench *b, const char *dir)
{
	const char *label = "small process";
	double med[M_NR];
	int n = measure(b, 0, dir, "read", SMALL_RUNS, label, med);

	if (!n)
		return;
	printf("\n%s (tmpfs, read path, median of %d): frozen %.2f ms, dump %.1f ms wall, "
	       "restore %.1f ms wall\n", label, n, med[M_FROZEN], med[M_DUMP], med[M_RESTORE]);
	printf("  target: frozen < 5 ms;  CRIU 4.2: frozen 8.7 ms, dump 50 ms, restore 70 ms\n");
}

int main(int argc, char **argv)
{
	static const unsigned long sizes[] = { 256, 1024 };
	static const char *const fss[] = { "tmpfs", "ext4" };
	static const char *const paths[] = { "read", "splice" };
	const char *runs = getenv("LMBENCH_RUNS");
	struct bench b = {};
	char tmpfs_images[512];
	const char *dirs[2];
	double bw;

	if (argc != 5) {
		fprintf(stderr, "usage: lmbench LMPROC HOG WORK_DIR EXT4_DIR\n");
		return 2;
	}
	b.lmproc = argv[1];
	b.hog = argv[2];
	b.work = argv[3];
	b.runs = runs ? atoi(runs) : 3;
	if (b.runs < 1 || b.runs > MAX_RUNS) {
		fprintf(stderr, "lmbench: LMBENCH_RUNS must be 1..%d\n", MAX_RUNS);
		return 2;
	}
	snprintf(b.log.path, sizeof(b.log.path), "%s/lmproc.log", b.work);
	snprintf(tmpfs_images, sizeof(tmpfs_images), "%s/images", b.work);
	if (mkdir(tmpfs_images, 0700) && errno != EEXIST) {
		perror(tmpfs_images);
		return 1;
	}
	dirs[0] = tmpfs_images;
	dirs[1] = argv[4];
	/* Restored hogs (restore -d) are re-parented to us and reaped here. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	bw = memcpy_gbps();
	printf("memcpy 1 GiB (best of 5 after a warm-up): %.2f GB/s  (GB = 1e9 bytes)\n", bw);
	for (size_t f = 0; f < 2; f++)
		printf("write(2) 1 GiB into a %-5s file (median of 3): %.2f GB/s\n", fss[f],
		       file_write_gbps(dirs[f]));
	printf("\n");
	printf("Dump and restore, median of %d; dump: lmproc wall, frozen, page copy and page\n"
	       "write (ms, from stats-dump.img); restore: lmproc restore -d wall (ms).\n"
	       "Every restored process checked all of its memory.\n\n", b.runs);
	printf("     size  dest   path       dump   frozen    copy   write    GB/s  memcpy"
	       "   restore     GB/s\n");
	for (size_t s = 0; s < 2; s++)
		for (size_t f = 0; f < 2; f++)
			for (size_t p = 0; p < 2; p++)
				print_row(&b, sizes[s], fss[f], dirs[f], paths[p], bw);
	printf("  targets: dump >= 40%% of memcpy (%.2f GB/s); restore of 256 MiB < 200 ms\n",
	       0.4 * bw);
	printf("  CRIU 4.2: 256 MiB frozen ~90 ms, restored ~0.8 s; 1 GiB restored ~3.2 s\n");
	small_process(&b, tmpfs_images);
	if (b.failures)
		printf("\n%d configuration(s) failed\n", b.failures);
	return b.failures ? 1 : 0;
}
