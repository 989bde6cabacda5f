/* predump: the figures of issue #5 (iterative pre-dump), measured in one
 * run and printed next to their targets.  A 1 GiB pd-hog dirties 1%, 10%
 * or 50% of its pages (evenly spread) between rounds; lmproc's tracking
 * round (track_collect_time_us: scan + re-protect) is compared with
 * pd-scan, the same PAGEMAP_SCAN over the same pages with nothing around
 * it, in the same run.  Then the bytes each round sends, the final frozen
 * time against a full dump's, the slowdown of an application rewriting a
 * 10% hot set while rounds run every 200 ms, and what the ebpf backend
 * reports for a steady dirty rate.  Prints figures only: it never judges
 * a timing, and exits non-zero only when a command fails.
 *
 * usage: predump LMPROC PD_HOG PD_SCAN WORK_DIR   (env PREDUMP_RUNS, default 3)
 * WORK_DIR (on tmpfs) gets the log, the hog's answers and the rounds'
 * images in pd/, emptied after each case.  Every process it starts is
 * killed and reaped before it exits, and listed in WORK_DIR/pids for
 * bench/run.sh's trap. */
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>

#include "bench-util.h"

#define HOG_MIB 1024
#define HOG_PAGES (HOG_MIB * 256UL)
#define MAX_RUNS 9
#define NR_FRACTIONS 3
#define CLEAN_ROUNDS 3
#define HOT_PERMILLE 100
#define INTERVAL_MS 200
#define PHASE_S 3
#define EBPF_PPS 10000

static const unsigned fractions[NR_FRACTIONS] = { 10, 100, 500 };	/* per mille */

enum stat_field { S_FROZEN, S_COLLECT, S_WRITTEN, S_DIRTY, S_PARENT, S_RATE, S_FAULTS, S_NR };

static const char *const stat_names[S_NR] = {
	"frozen_time_us", "track_collect_time_us", "pages_written", "pages_dirty",
	"pages_skipped_parent", "dirty_rate_pps", "write_faults",
};

struct round {
	double v[S_NR];
};

struct pd {
	const char *lmproc, *hog, *scan, *work;
	struct bench_log log;
	char result[512];	/* the hog's answers */
	char rounds[512];	/* WORK/pd: round K in rK */
	const char *track;	/* --track, or NULL */
	pid_t hog_pid;
	int runs, failures;
	char why[512];		/* what failed in the current case */
};

/* The bare baseline, from pd-scan. */
struct scan_base {
	double arm_us, clean_us;
	double us[NR_FRACTIONS], pages[NR_FRACTIONS], fault_us[NR_FRACTIONS];
};

static int fail(struct pd *p, const char *fmt, const char *arg)
{
	snprintf(p->why, sizeof(p->why), fmt, arg);
	return -1;
}

static void round_dir(const struct pd *p, int k, char *buf, size_t len)
{
	snprintf(buf, len, "%s/r%d", p->rounds, k);
}

static void clear_rounds(const struct pd *p)
{
	char dir[600];

	for (int k = 0; k < 64; k++) {
		round_dir(p, k, dir, sizeof(dir));
		empty_dir(dir);
		rmdir(dir);
	}
}

static void stop_hog(struct pd *p)
{
	if (p->hog_pid <= 0)
		return;
	kill(p->hog_pid, SIGKILL);
	waitpid(p->hog_pid, NULL, 0);
	p->hog_pid = 0;
}

/* Starts pd-hog with MODE ARG (and -c when CONTIGUOUS) and waits until
 * its memory is filled. */
static int start_hog(struct pd *p, const char *mode, unsigned long arg, bool contiguous)
{
	char mib_s[16], arg_s[32];
	int pipefd[2], null;
	pid_t pid;
	char c;

	if (pipe(pipefd))
		return fail(p, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		/* Only /dev/null and the ready pipe: lmproc refuses to dump
		 * inherited pipes (make's jobserver, a shell's). */
		null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		dup2(pipefd[1], 3);
		close_range(4, ~0U, 0);
		snprintf(mib_s, sizeof(mib_s), "%d", HOG_MIB);
		snprintf(arg_s, sizeof(arg_s), "%lu", arg);
		execl(p->hog, p->hog, "-m", mib_s, "-o", p->result, "-r", "3", mode, arg_s,
		      contiguous ? "-c" : NULL, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	if (pid > 0) {
		note_pid(p->work, pid);
		p->hog_pid = pid;
		if (read(pipefd[0], &c, 1) != 1) {
			stop_hog(p);
			pid = -1;
		}
	}
	close(pipefd[0]);
	return pid > 0 ? 0 : fail(p, "pd-hog %s did not start", mode);
}

/* Sends SIG to the hog and waits (up to 60 s) for its answer. */
static int hog_ask(struct pd *p, int sig, char *answer, size_t len)
{
	ssize_t n;
	int fd;

	unlink(p->result);
	if (kill(p->hog_pid, sig))
		return fail(p, "pd-hog is gone: %s", strerror(errno));
	for (int i = 0; i < 60000; i++) {
		fd = open(p->result, O_RDONLY);
		if (fd >= 0) {
			n = read(fd, answer, len - 1);
			close(fd);
			if (n > 0) {
				answer[n] = '\0';
				return 0;
			}
		}
		usleep(1000);
	}
	return fail(p, "pd-hog did not answer %s", strsignal(sig));
}

/* The hog's store (or page) count and its clock at that count. */
static int hog_ops(struct pd *p, double *ops, double *ms)
{
	unsigned long long n, ns;
	char buf[128];

	if (hog_ask(p, SIGUSR1, buf, sizeof(buf)))
		return -1;
	if (sscanf(buf, "ops %llu %llu", &n, &ns) != 2)
		return fail(p, "pd-hog answered '%s'", buf);
	*ops = n;
	*ms = ns / 1e6;
	return 0;
}

static int hog_dirty(struct pd *p, double *dirtied)
{
	unsigned long n;
	char buf[128];

	if (hog_ask(p, SIGUSR2, buf, sizeof(buf)))
		return -1;
	if (sscanf(buf, "dirtied %lu", &n) != 1)
		return fail(p, "pd-hog answered '%s'", buf);
	*dirtied = n;
	return 0;
}

/* One round K of CMD (pre-dump or dump) into rK, after round PREV (none
 * when 0); its stats into OUT. */
static int lmproc_round(struct pd *p, const char *cmd, int k, int prev, bool leave_running,
			struct round *out)
{
	char pid_s[16], dir[600], prev_s[32], img[640];
	char *argv[16];
	int n = 0, status;
	double ms;

	round_dir(p, k, dir, sizeof(dir));
	mkdir(dir, 0700);
	empty_dir(dir);
	snprintf(pid_s, sizeof(pid_s), "%d", p->hog_pid);
	snprintf(prev_s, sizeof(prev_s), "../r%d", prev);
	/* Options before the command: lmproc parses those in any version. */
	argv[n++] = (char *)p->lmproc;
	argv[n++] = "-t";
	argv[n++] = pid_s;
	argv[n++] = "-D";
	argv[n++] = dir;
	if (prev) {
		argv[n++] = "--prev-images-dir";
		argv[n++] = prev_s;
	}
	if (p->track && !strcmp(cmd, "pre-dump")) {
		argv[n++] = "--track";
		argv[n++] = (char *)p->track;
	}
	if (leave_running)
		argv[n++] = "-R";
	argv[n++] = (char *)cmd;
	argv[n] = NULL;
	status = run_logged(&p->log, argv, &ms);
	if (status) {
		char line[160];

		last_log_line(&p->log, line, sizeof(line));
		if (status > 128)
			snprintf(p->why, sizeof(p->why), "%s round %d killed by %s: %s", cmd, k,
				 strsignal(status - 128), line);
		else
			snprintf(p->why, sizeof(p->why), "%s round %d exit %d: %s", cmd, k, status,
				 line);
		return -1;
	}
	/* A dump without -R killed the hog: reap it. */
	if (!strcmp(cmd, "dump") && !leave_running) {
		waitpid(p->hog_pid, NULL, 0);
		p->hog_pid = 0;
	}
	snprintf(img, sizeof(img), "%s/stats-dump.img", dir);
	show_fields(p->lmproc, img, stat_names, out->v, S_NR);
	return 0;
}

static void report_failure(struct pd *p, const char *label)
{
	p->failures++;
	printf("%s FAILED: %s\n", label, p->why);
	fflush(stdout);
	stop_hog(p);
	clear_rounds(p);
}

/* Runs a program with stdout into BUF (stderr into the log); its exit
 * status, or -1. */
static int run_capture(struct pd *p, char *const argv[], char *buf, size_t len)
{
	int pipefd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd = open(p->log.path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(pipefd[1], 1);
		if (fd >= 0)
			dup2(fd, 2);
		close_range(3, ~0U, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	if (pid > 0)
		note_pid(p->work, pid);
	while (pid > 0 && got < len - 1 && (n = read(pipefd[0], buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(pipefd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* pd-scan over the same fractions: arming, clean and dirty rounds. */
static int scan_baseline(struct pd *p, struct scan_base *sb)
{
	char *argv[] = { (char *)p->scan, "-m", "1024", "-n", "5", "-s", "10", "-s", "100",
			 "-s", "500", NULL };
	char out[1024], *line, *save;

	memset(sb, 0, sizeof(*sb));
	if (run_capture(p, argv, out, sizeof(out)))
		return fail(p, "pd-scan failed (its error is in %s)", p->log.path);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		double permille, pages, regions, us, fault_ns;

		sscanf(line, "arm %lf", &sb->arm_us);
		sscanf(line, "clean %lf", &sb->clean_us);
		if (sscanf(line, "scan %lf %lf %lf %lf %lf", &permille, &pages, &regions, &us,
			   &fault_ns) != 5)
			continue;
		for (int f = 0; f < NR_FRACTIONS; f++) {
			if (permille != fractions[f])
				continue;
			sb->us[f] = us;
			sb->pages[f] = pages;
			sb->fault_us[f] = fault_ns / 1e3;
		}
	}
	if (!sb->clean_us || !sb->us[NR_FRACTIONS - 1])
		return fail(p, "%s", "pd-scan printed too few figures");
	return 0;
}

/* One run of a fraction (or the medians of several): the full dump, then
 * pre-dump, pre-dump, dump with the fraction dirtied before each later
 * round. */
struct frac_run {
	double full_frozen, dirtied;
	struct round r[3];
};

static int fraction_run(struct pd *p, unsigned permille, struct frac_run *fr)
{
	struct round full;
	char dir[600];

	round_dir(p, 0, dir, sizeof(dir));
	if (start_hog(p, "-d", permille, false) || lmproc_round(p, "dump", 0, 0, true, &full))
		return -1;
	/* Its 1 GiB of images is not needed again: give the memory back. */
	empty_dir(dir);
	if (lmproc_round(p, "pre-dump", 1, 0, false, &fr->r[0]) ||
	    hog_dirty(p, &fr->dirtied) ||
	    lmproc_round(p, "pre-dump", 2, 1, false, &fr->r[1]) ||
	    hog_dirty(p, &fr->dirtied) ||
	    lmproc_round(p, "dump", 3, 2, false, &fr->r[2]))
		return -1;
	fr->full_frozen = full.v[S_FROZEN];
	clear_rounds(p);
	return 0;
}

static int measure_fraction(struct pd *p, unsigned permille, struct frac_run *res)
{
	double full[MAX_RUNS], dirtied[MAX_RUNS], v[S_NR][3][MAX_RUNS];
	struct frac_run run;
	char label[64];

	snprintf(label, sizeof(label), "%u.%u%% dirty", permille / 10, permille % 10);
	for (int i = 0; i < p->runs; i++) {
		memset(&run, 0, sizeof(run));
		if (fraction_run(p, permille, &run)) {
			report_failure(p, label);
			return -1;
		}
		full[i] = run.full_frozen;
		dirtied[i] = run.dirtied;
		for (int r = 0; r < 3; r++)
			for (int f = 0; f < S_NR; f++)
				v[f][r][i] = run.r[r].v[f];
	}
	res->full_frozen = median(full, p->runs);
	res->dirtied = median(dirtied, p->runs);
	for (int r = 0; r < 3; r++)
		for (int f = 0; f < S_NR; f++)
			res->r[r].v[f] = median(v[f][r], p->runs);
	return 0;
}

/* Rounds with nothing dirtied (only what the idle hog writes itself):
 * the median of CLEAN_ROUNDS consecutive pre-dumps after the first. */
static int clean_rounds(struct pd *p, struct round *arm, struct round *med)
{
	struct round r[CLEAN_ROUNDS], last;
	double collect[CLEAN_ROUNDS], frozen[CLEAN_ROUNDS], dirty[CLEAN_ROUNDS];

	if (start_hog(p, "-d", 10, false) || lmproc_round(p, "pre-dump", 1, 0, false, arm))
		return -1;
	for (int k = 0; k < CLEAN_ROUNDS; k++) {
		if (lmproc_round(p, "pre-dump", k + 2, k + 1, false, &r[k]))
			return -1;
		collect[k] = r[k].v[S_COLLECT];
		frozen[k] = r[k].v[S_FROZEN];
		dirty[k] = r[k].v[S_DIRTY];
	}
	if (lmproc_round(p, "dump", CLEAN_ROUNDS + 2, CLEAN_ROUNDS + 1, false, &last))
		return -1;
	med->v[S_COLLECT] = median(collect, CLEAN_ROUNDS);
	med->v[S_FROZEN] = median(frozen, CLEAN_ROUNDS);
	med->v[S_DIRTY] = median(dirty, CLEAN_ROUNDS);
	clear_rounds(p);
	return 0;
}

static double mib(double pages)
{
	return pages * 4096 / (1 << 20);
}

static void print_tracking(struct pd *p, const struct frac_run *res, const struct round *arm,
			   const struct round *clean, const struct scan_base *sb)
{
	printf("Tracking round: scan + re-protect over 1 GiB (lmproc: track_collect_time_us of\n"
	       "the second pre-dump; bare: pd-scan, one PAGEMAP_SCAN with PM_SCAN_WP_MATCHING\n"
	       "over the same pages, median of 5), ms\n\n");
	printf("  dirty    pages  tracker saw     lmproc      bare   ratio   target\n");
	printf("  none   %6s  %11.0f  %9.2f  %8.2f  %5.1fx   lmproc < 1 ms\n", "0",
	       clean->v[S_DIRTY], clean->v[S_COLLECT] / 1e3, sb->clean_us / 1e3,
	       clean->v[S_COLLECT] / sb->clean_us);
	for (int f = 0; f < NR_FRACTIONS; f++)
		printf("  %4.1f%%  %6.0f  %11.0f  %9.2f  %8.2f  %5.2fx   ratio <= 1.5x\n",
		       fractions[f] / 10.0, res[f].dirtied, res[f].r[1].v[S_DIRTY],
		       res[f].r[1].v[S_COLLECT] / 1e3, sb->us[f] / 1e3,
		       res[f].r[1].v[S_COLLECT] / sb->us[f]);
	printf("  arming (first round, every page): lmproc %.1f ms, bare %.1f ms\n",
	       arm->v[S_COLLECT] / 1e3, sb->arm_us / 1e3);
	printf("  first write to a page after a round (bare, the fault uffd-wp costs): "
	       "%.1f us/page\n", sb->fault_us[1]);
	printf("  (lmproc: median of %d runs; 'none': median of %d rounds of an idle hog)\n\n",
	       p->runs, CLEAN_ROUNDS);
}

static void print_bytes_frozen(const struct frac_run *res)
{
	printf("Bytes sent per round (pages_written x 4096), MiB: pre-dump 1 (everything),\n"
	       "pre-dump 2 and the final dump, each after the fraction was dirtied\n\n");
	printf("  dirty   pre-dump 1   pre-dump 2   final dump\n");
	for (int f = 0; f < NR_FRACTIONS; f++)
		printf("  %4.1f%%   %10.1f   %10.1f   %10.1f\n", fractions[f] / 10.0,
		       mib(res[f].r[0].v[S_WRITTEN]), mib(res[f].r[1].v[S_WRITTEN]),
		       mib(res[f].r[2].v[S_WRITTEN]));
	printf("\nFrozen time, ms: a full dump (-R) of the same hog, the two pre-dumps, and the\n"
	       "final dump after them\n\n");
	printf("  dirty   full dump   pre-dump 1   pre-dump 2   final dump   final/full"
	       "   target\n");
	for (int f = 0; f < NR_FRACTIONS; f++)
		printf("  %4.1f%%   %9.1f   %10.1f   %10.1f   %10.1f   %9.1f%%   %s\n",
		       fractions[f] / 10.0, res[f].full_frozen / 1e3, res[f].r[0].v[S_FROZEN] / 1e3,
		       res[f].r[1].v[S_FROZEN] / 1e3, res[f].r[2].v[S_FROZEN] / 1e3,
		       100 * res[f].r[2].v[S_FROZEN] / res[f].full_frozen,
		       f == 0 ? "< 10% with 1% dirty" : "");
	printf("\n");
}

/* Writing loop's rate over PHASE_S untracked, then with a pre-dump round
 * starting every INTERVAL_MS (after the first, arming round). */
struct slowdown {
	double plain, tracked, frozen_ms, rounds, interval_ms, pages, final_frozen;
};

static int lmproc_slowdown(struct pd *p, bool contiguous, struct slowdown *s)
{
	double ops0, t0, ops1, t1, t_start, next;
	struct round r;
	int k = 1;

	memset(s, 0, sizeof(*s));
	if (start_hog(p, "-w", HOT_PERMILLE, contiguous))
		return -1;
	usleep(500 * 1000);
	if (hog_ops(p, &ops0, &t0))
		return -1;
	usleep(PHASE_S * 1000 * 1000);
	if (hog_ops(p, &ops1, &t1) || lmproc_round(p, "pre-dump", 1, 0, false, &r))
		return -1;
	s->plain = (ops1 - ops0) / (t1 - t0) * 1e3;
	if (hog_ops(p, &ops0, &t0))
		return -1;
	t_start = next = now_ms();
	while (now_ms() - t_start < PHASE_S * 1e3) {
		double wait = next - now_ms();

		if (wait > 0)
			usleep(wait * 1e3);
		next = now_ms() + INTERVAL_MS;
		if (lmproc_round(p, "pre-dump", k + 1, k, false, &r))
			return -1;
		k++;
		s->rounds++;
		s->frozen_ms += r.v[S_FROZEN] / 1e3;
		s->pages += r.v[S_WRITTEN];
	}
	if (hog_ops(p, &ops1, &t1))
		return -1;
	s->tracked = (ops1 - ops0) / (t1 - t0) * 1e3;
	s->interval_ms = (t1 - t0) / s->rounds;
	s->frozen_ms = s->frozen_ms / ((t1 - t0) / 1e3);	/* ms frozen per s */
	s->pages /= s->rounds;
	if (lmproc_round(p, "dump", k + 1, k, false, &r))
		return -1;
	s->final_frozen = r.v[S_FROZEN] / 1e3;
	clear_rounds(p);
	return 0;
}

static int scan_slowdown(struct pd *p, bool contiguous, struct slowdown *s)
{
	char hot[16], secs[16], interval[16], out[256];
	char *argv[] = { (char *)p->scan, "-m", "1024", "-w", hot, "-t", secs, "-i", interval,
			 contiguous ? "-c" : NULL, NULL };
	char layout[16];

	snprintf(hot, sizeof(hot), "%d", HOT_PERMILLE);
	snprintf(secs, sizeof(secs), "%d", PHASE_S);
	snprintf(interval, sizeof(interval), "%d", INTERVAL_MS);
	memset(s, 0, sizeof(*s));
	if (run_capture(p, argv, out, sizeof(out)))
		return fail(p, "pd-scan failed (its error is in %s)", p->log.path);
	if (sscanf(out, "hot %*u %15s %lf %lf %lf", layout, &s->plain, &s->tracked,
		   &s->rounds) != 4)
		return fail(p, "pd-scan printed '%s'", out);
	return 0;
}

static double pct_slower(const struct slowdown *s)
{
	return 100 * (1 - s->tracked / s->plain);
}

/* Each round, every page of the hot set takes one write fault (uffd-wp
 * async) at its first store: that, not lmproc, bounds the slowdown. */
static void print_fault_bound(double fault_us)
{
	double hot = HOG_PAGES * HOT_PERMILLE / 1000, per_round_ms = hot * fault_us / 1e3;

	if (fault_us <= 0)
		return;
	printf("  fault bound: %.0f hot pages x %.1f us (first write after a round, measured\n"
	       "  above) = %.0f ms of faults per round if the loop touches the whole hot set\n"
	       "  between rounds; < 10%% slower needs rounds >= %.1f s apart on this machine\n",
	       hot, fault_us, per_round_ms, per_round_ms / 0.1 / 1e3);
}

static void slowdown(struct pd *p, double fault_us)
{
	static const char *const layouts[] = { "spread", "contiguous" };

	printf("Slowdown of an application rewriting a 10%% hot set (%lu pages of the 1 GiB)\n"
	       "with 64-byte stores at random lines, rounds every %d ms; Mstores/s over %d s,\n"
	       "one run each.  lmproc: a pre-dump round (freeze, scan, re-protect, copy) starts\n"
	       "every %d ms or as soon as the previous one ends; bare: pd-scan's writer thread\n"
	       "while its main thread does a bare round every %d ms.  Target: < 10%% slower.\n\n",
	       HOG_PAGES * HOT_PERMILLE / 1000, INTERVAL_MS, PHASE_S, INTERVAL_MS, INTERVAL_MS);
	printf("  hot set      untracked    tracked  slower  rounds  every  frozen  MiB/round"
	       "  final frozen\n");
	for (int l = 0; l < 2; l++) {
		struct slowdown lm, bare;
		char label[64];

		snprintf(label, sizeof(label), "  %-10s lmproc", layouts[l]);
		if (lmproc_slowdown(p, l, &lm)) {
			report_failure(p, label);
			continue;
		}
		printf("  %-10s lmproc %7.2f  %9.3f  %5.1f%%  %6.0f  %3.0fms  %3.0fms/s  %9.1f"
		       "  %9.1f ms\n", layouts[l], lm.plain / 1e6, lm.tracked / 1e6,
		       pct_slower(&lm), lm.rounds, lm.interval_ms, lm.frozen_ms, mib(lm.pages),
		       lm.final_frozen);
		fflush(stdout);
		snprintf(label, sizeof(label), "  %-10s bare", layouts[l]);
		if (scan_slowdown(p, l, &bare)) {
			report_failure(p, label);
			continue;
		}
		printf("  %-10s bare   %7.2f  %9.3f  %5.1f%%  %6.0f  %3dms\n", layouts[l],
		       bare.plain / 1e6, bare.tracked / 1e6, pct_slower(&bare), bare.rounds,
		       INTERVAL_MS);
		fflush(stdout);
	}
	print_fault_bound(fault_us);
	printf("\n");
}

/* The ebpf backend on a hog writing EBPF_PPS new pages per second. */
static void ebpf_rate(struct pd *p)
{
	struct round r1, r2, last;

	p->track = "ebpf";
	if (start_hog(p, "-p", EBPF_PPS, false) ||
	    lmproc_round(p, "pre-dump", 1, 0, false, &r1)) {
		report_failure(p, "ebpf");
		p->track = NULL;
		return;
	}
	usleep(1000 * 1000);
	if (lmproc_round(p, "pre-dump", 2, 1, false, &r2) ||
	    lmproc_round(p, "dump", 3, 2, false, &last)) {
		report_failure(p, "ebpf");
		p->track = NULL;
		return;
	}
	p->track = NULL;
	clear_rounds(p);
	printf("ebpf backend, hog writing %d new pages/s, second round 1 s after the first:\n"
	       "  dirty_rate_pps %.0f (set rate %d; target within 10%%), write_faults %.0f,\n"
	       "  pages_dirty %.0f, round (collect) %.2f ms, final frozen %.1f ms\n\n",
	       EBPF_PPS, r2.v[S_RATE], EBPF_PPS, r2.v[S_FAULTS], r2.v[S_DIRTY],
	       r2.v[S_COLLECT] / 1e3, last.v[S_FROZEN] / 1e3);
}

/* Returns the fault cost pd-scan measured (us per page), or 0. */
static double tracking_and_frozen(struct pd *p)
{
	struct frac_run res[NR_FRACTIONS];
	struct round arm = {}, clean = {};
	struct scan_base sb;

	if (clean_rounds(p, &arm, &clean)) {
		report_failure(p, "clean rounds");
		return 0;
	}
	for (int f = 0; f < NR_FRACTIONS; f++)
		if (measure_fraction(p, fractions[f], &res[f]))
			return 0;
	if (scan_baseline(p, &sb)) {
		report_failure(p, "pd-scan");
		return 0;
	}
	print_tracking(p, res, &arm, &clean, &sb);
	print_bytes_frozen(res);
	fflush(stdout);
	return sb.fault_us[1];
}

/* Others' work on this machine shows in the figures: say how much. */
static void print_load(const char *when)
{
	char line[128];
	double load[3];
	long avail = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &avail) == 1)
			break;
	if (f)
		fclose(f);
	if (getloadavg(load, 3) == 3)
		printf("%s: load average %.2f %.2f %.2f, %.1f GiB available (the bench needs ~3)\n",
		       when, load[0], load[1], load[2], avail / 1048576.0);
}

int main(int argc, char **argv)
{
	const char *runs = getenv("PREDUMP_RUNS");
	struct pd p = {};

	if (argc != 5) {
		fprintf(stderr, "usage: predump LMPROC PD_HOG PD_SCAN WORK_DIR\n");
		return 2;
	}
	p.lmproc = argv[1];
	p.hog = argv[2];
	p.scan = argv[3];
	p.work = argv[4];
	p.runs = runs ? atoi(runs) : 3;
	if (p.runs < 1 || p.runs > MAX_RUNS) {
		fprintf(stderr, "predump: PREDUMP_RUNS must be 1..%d\n", MAX_RUNS);
		return 2;
	}
	snprintf(p.log.path, sizeof(p.log.path), "%s/lmproc.log", p.work);
	snprintf(p.result, sizeof(p.result), "%s/pd-answer", p.work);
	snprintf(p.rounds, sizeof(p.rounds), "%s/pd", p.work);
	if (mkdir(p.rounds, 0700) && errno != EEXIST) {
		perror(p.rounds);
		return 1;
	}
	printf("Iterative pre-dump (issue #5): 1 GiB pd-hog of random data; 'dirty' = one word\n"
	       "written into that fraction of its pages, evenly spread, before each later round;\n"
	       "pagemap-scan tracker unless said; images on tmpfs.\n\n");
	print_load("before");
	fflush(stdout);
	slowdown(&p, tracking_and_frozen(&p));
	ebpf_rate(&p);
	print_load("after");
	stop_hog(&p);
	clear_rounds(&p);
	rmdir(p.rounds);
	if (p.failures)
		printf("%d case(s) failed\n", p.failures);
	return p.failures ? 1 : 0;
}
