/* lmbench: the figures of issue #2, measured in one run and printed next
 * to their targets and CRIU 4.2's.  Measures memcpy bandwidth (the
 * physical limit), then dumps and restores bench-hog processes holding
 * random memory into each given directory with each page path, and a
 * small process several times for its frozen and wall times.  Prints
 * figures only: it never judges a timing, and exits non-zero only when a
 * dump, a restore or the check of the restored memory fails.
 *
 * usage: lmbench LMPROC HOG WORK_DIR EXT4_DIR
 * WORK_DIR (on tmpfs) gets the log, the tmpfs images in images/ and the
 * hogs' answers.
 * Every hog it starts or restores is killed and reaped before it exits;
 * their pids are listed in WORK_DIR/pids for bench/run.sh's trap. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define GIB (1UL << 30)
#define SMALL_RUNS 5

struct bench {
	const char *lmproc;
	const char *hog;
	const char *work;	/* tmpfs: log, hog results, pid list */
	char log[256];
	long log_off;		/* where the last command's output starts */
	int failures;
};

struct run_result {
	const char *failed;	/* the step that failed, NULL if none */
	double dump_ms, frozen_ms, restore_ms;
	char verdict[160];	/* the hog's answer, or the error */
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

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

/* Runs ARGV with stdout+stderr appended to the log; returns the exit
 * status (or -1) and the wall time in *MS. */
static int run(struct bench *b, char *const argv[], double *ms)
{
	struct stat st;
	int status;
	double t;
	pid_t pid;

	b->log_off = stat(b->log, &st) ? 0 : st.st_size;
	t = now_ms();
	pid = fork();
	if (pid == 0) {
		int fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

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
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void note_pid(struct bench *b, pid_t pid)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/pids", b->work);
	f = fopen(path, "a");
	if (f) {
		fprintf(f, "%d\n", pid);
		fclose(f);
	}
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
		null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(p[0]);
		snprintf(mib_s, sizeof(mib_s), "%lu", mib);
		snprintf(fd_s, sizeof(fd_s), "%d", p[1]);
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
		note_pid(b, pid);
	return pid;
}

/* Kills PID and reaps it: the original hog and, through the subreaper
 * flag, a restored one are both our children. */
static void kill_hog(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void empty_dir(const char *path)
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

/* A field of a stats image in ms, read back through `lmproc show` (-1 if
 * absent). */
static double stat_ms(struct bench *b, const char *img, const char *field)
{
	char cmd[1024], line[256], key[64];
	double v = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s show %s 2>/dev/null", b->lmproc, img);
	snprintf(key, sizeof(key), "\"%s\": ", field);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *k = strstr(line, key);

		if (k)
			v = strtod(k + strlen(key), NULL) / 1e3;
	}
	pclose(f);
	return v;
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

/* The last error the last command logged (else its last line), cut to
 * LEN. */
static void last_log_line(struct bench *b, char *out, size_t len)
{
	char line[512], err[512] = "no message in the log";
	FILE *f = fopen(b->log, "r");
	bool seen_error = false;

	if (f)
		fseek(f, b->log_off, SEEK_SET);
	while (f && fgets(line, sizeof(line), f)) {
		bool is_error = !strncmp(line, "Error", 5) || !strncmp(line, "lmproc:", 7);

		if (is_error || !seen_error)
			memcpy(err, line, sizeof(line));
		seen_error |= is_error;
	}
	if (f)
		fclose(f);
	err[strcspn(err, "\n")] = '\0';
	err[len - 1] = '\0';
	memcpy(out, err, strlen(err) + 1);
}

/* One dump (killing the hog) and one detached restore into DIR. */
static void dump_restore(struct bench *b, unsigned long mib, const char *dir, const char *path,
			 struct run_result *r)
{
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
	if (run(b, dump_argv, &r->dump_ms)) {
		kill_hog(pid);
		r->failed = "dump";
		last_log_line(b, r->verdict, sizeof(r->verdict));
		return;
	}
	/* The dump killed it; reap it so restore finds the pid free. */
	waitpid(pid, NULL, 0);
	snprintf(img, sizeof(img), "%s/stats-dump.img", dir);
	r->frozen_ms = stat_ms(b, img, "frozen_time_us");
	sync();
	if (run(b, restore_argv, &r->restore_ms)) {
		if (!kill(pid, 0))
			kill_hog(pid);
		r->failed = "restore";
		last_log_line(b, r->verdict, sizeof(r->verdict));
		return;
	}
	verify_hog(pid, result, r->verdict, sizeof(r->verdict));
	if (strncmp(r->verdict, "ok", 2))
		r->failed = "check";
	kill_hog(pid);
	empty_dir(dir);
}

static void print_row(struct bench *b, unsigned long mib, const char *fs, const char *dir,
		      const char *path, double memcpy_bw)
{
	double bytes = (double)mib * (1 << 20);
	struct run_result r;

	dump_restore(b, mib, dir, path, &r);
	if (r.failed) {
		b->failures++;
		printf("%5lu MiB  %-5s  %-6s  %s FAILED: %s\n", mib, fs, path, r.failed, r.verdict);
	} else {
		printf("%5lu MiB  %-5s  %-6s  %8.1f  %9.1f  %9.2f  %5.0f%%  %10.1f  %12.2f  %s\n",
		       mib, fs, path, r.dump_ms, r.frozen_ms, bytes / r.dump_ms / 1e6,
		       100 * bytes / r.dump_ms / 1e6 / memcpy_bw, r.restore_ms,
		       bytes / r.restore_ms / 1e6, r.verdict);
	}
	fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void small_process(struct bench *b, const char *dir)
{
	double frozen[SMALL_RUNS], dump[SMALL_RUNS], restore[SMALL_RUNS];
	struct run_result r;
	int n = 0;

	for (int i = 0; i < SMALL_RUNS; i++) {
		dump_restore(b, 0, dir, "read", &r);
		if (r.failed) {
			b->failures++;
			printf("small process run %d: %s FAILED: %s\n", i + 1, r.failed, r.verdict);
			continue;
		}
		frozen[n] = r.frozen_ms;
		dump[n] = r.dump_ms;
		restore[n++] = r.restore_ms;
	}
	if (!n)
		return;
	qsort(frozen, n, sizeof(double), cmp_double);
	qsort(dump, n, sizeof(double), cmp_double);
	qsort(restore, n, sizeof(double), cmp_double);
	printf("\nsmall process (tmpfs, read path, median of %d): frozen %.2f ms, "
	       "dump %.1f ms wall, restore %.1f ms wall\n", n, frozen[n / 2], dump[n / 2],
	       restore[n / 2]);
	printf("  target: frozen < 5 ms;  CRIU 4.2: frozen 8.7 ms, dump 50 ms, restore 70 ms\n");
}

int main(int argc, char **argv)
{
	static const unsigned long sizes[] = { 256, 1024 };
	static const char *const fss[] = { "tmpfs", "ext4" };
	static const char *const paths[] = { "read", "splice" };
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
	snprintf(b.log, sizeof(b.log), "%s/lmproc.log", b.work);
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
	printf("memcpy 1 GiB (best of 5 after a warm-up): %.2f GB/s  (GB = 1e9 bytes)\n\n", bw);
	printf("     size  dest   path     dump ms  frozen ms  dump GB/s  memcpy  restore ms"
	       "  restore GB/s  hog's check after restore\n");
	for (size_t s = 0; s < 2; s++)
		for (size_t f = 0; f < 2; f++)
			for (size_t p = 0; p < 2; p++)
				print_row(&b, sizes[s], fss[f], dirs[f], paths[p], bw);
	printf("  targets: dump >= 40%% of memcpy (%.2f GB/s); restore of 256 MiB < 200 ms\n",
	       0.4 * bw);
	printf("  CRIU 4.2: 256 MiB frozen ~90 ms, restored ~0.8 s; 1 GiB restored ~3.2 s\n");
	small_process(&b, tmpfs_images);
	if (b.failures)
		printf("\n%d run(s) failed; lmproc's log: %s\n", b.failures, b.log);
	return b.failures ? 1 : 0;
}
