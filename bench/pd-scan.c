/* pd-scan: the physical baseline of the pre-dump benchmark.  Tracks its
 * own memory the way lmproc's pagemap-scan tracker tracks a target's
 * (userfaultfd with WP_ASYNC | WP_UNPOPULATED, registered in write-protect
 * mode), with nothing around it: one PAGEMAP_SCAN with PM_SCAN_WP_MATCHING
 * | PM_SCAN_CHECK_WPASYNC over the whole range, with a vector big enough
 * for every region, is a round.  It dirties pages with pd-mem.h, so the
 * dirty set is exactly the one pd-hog makes.  Prints one line per figure
 * (times in us, medians of REPS):
 *   arm US                          the first scan: protects every page
 *   clean US                        a round with nothing written
 *   scan PERMILLE PAGES REGIONS US FAULT_NS
 *       a round after pd_dirty(PERMILLE), and the time of pd_dirty per page:
 *       each write is the first to its page since the last round (a fault)
 *   hot PERMILLE LAYOUT PLAIN TRACKED ROUNDS SCAN_US
 *       stores/s of the pd_hot_writes loop (in a thread) without tracking
 *       and with a round every INTERVAL ms, the rounds done and their
 *       median time.
 * It kills itself when its parent dies.
 *
 * usage: pd-scan -m MIB [-n REPS] [-s PERMILLE]... [-w PERMILLE [-c] [-t SECONDS] [-i MS]] */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "pd-mem.h"
#include "uapi-compat.h"

#define MAX_REPS 15
#define MAX_FRACTIONS 8
#define HOT_BATCH 4096

struct scan {
	uint64_t *mem;
	size_t len, npages;
	int uffd, pm_fd;
	struct page_region *vec;
	size_t vec_len;
	size_t pages, regions;	/* of the last round */
};

struct writer {
	struct scan *s;
	size_t nhot;
	int contiguous;
	volatile int stop;
	uint64_t ops;		/* read with __atomic_load_n while it runs */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static int track_setup(struct scan *s)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)s->mem, .len = s->len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	s->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (s->uffd < 0 || ioctl(s->uffd, UFFDIO_API, &api) ||
	    ioctl(s->uffd, UFFDIO_REGISTER, &reg)) {
		perror("pd-scan: userfaultfd async write-protect");
		return -1;
	}
	return 0;
}

/* One round: reports the written pages and protects them again; returns
 * its time in us, or -1. */
static int64_t round_us(struct scan *s)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.start = (uintptr_t)s->mem,
		.end = (uintptr_t)s->mem + s->len,
		.vec = (uintptr_t)s->vec,
		.vec_len = s->vec_len,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	uint64_t t = pd_now_ns();

	s->pages = s->regions = 0;
	while (arg.start < arg.end) {
		long n = ioctl(s->pm_fd, PAGEMAP_SCAN, &arg);

		if (n < 0) {
			perror("pd-scan: PAGEMAP_SCAN");
			return -1;
		}
		for (long i = 0; i < n; i++)
			s->pages += (s->vec[i].end - s->vec[i].start) / PD_PAGE;
		s->regions += n;
		arg.start = arg.walk_end;
	}
	return (pd_now_ns() - t) / 1000;
}

static int clean_rounds(struct scan *s, int reps)
{
	uint64_t us[MAX_REPS];

	for (int i = 0; i < reps; i++) {
		int64_t t = round_us(s);

		if (t < 0)
			return -1;
		us[i] = t;
	}
	printf("clean %llu\n", (unsigned long long)median(us, reps));
	return 0;
}

static int dirty_rounds(struct scan *s, unsigned permille, int reps)
{
	uint64_t us[MAX_REPS], fault_ns[MAX_REPS], seq = PD_SEED ^ permille;

	for (int i = 0; i < reps; i++) {
		uint64_t t = pd_now_ns();
		size_t n = pd_dirty(s->mem, s->npages, permille, &seq);
		int64_t scan;

		fault_ns[i] = (pd_now_ns() - t) / (n ? n : 1);
		scan = round_us(s);
		if (scan < 0)
			return -1;
		us[i] = scan;
	}
	printf("scan %u %zu %zu %llu %llu\n", permille, s->pages, s->regions,
	       (unsigned long long)median(us, reps), (unsigned long long)median(fault_ns, reps));
	return 0;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t seq = PD_SEED ^ 0xaaaa;

	while (!w->stop) {
		pd_hot_writes(w->s->mem, w->s->npages, w->nhot, w->contiguous, &seq, HOT_BATCH);
		__atomic_fetch_add(&w->ops, HOT_BATCH, __ATOMIC_RELAXED);
	}
	return NULL;
}

static double ops_per_s(struct writer *w, uint64_t ops0, uint64_t t0)
{
	uint64_t ops = __atomic_load_n(&w->ops, __ATOMIC_RELAXED);

	return (ops - ops0) * 1e9 / (pd_now_ns() - t0);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The writing loop for SECONDS untracked, then SECONDS with a round
 * every INTERVAL ms (after an arming round and one settling interval). */
static int hot_run(struct scan *s, unsigned permille, int contiguous, unsigned seconds,
		   unsigned interval)
{
	struct writer w = { .s = s, .nhot = pd_nsel(s->npages, permille),
			    .contiguous = contiguous };
	uint64_t us[4096], ops0, t0, end;
	double plain, tracked;
	pthread_t th;
	int n = 0;

	if (!w.nhot || pthread_create(&th, NULL, writer_main, &w))
		return -1;
	sleep_ms(500);
	ops0 = __atomic_load_n(&w.ops, __ATOMIC_RELAXED);
	t0 = pd_now_ns();
	sleep_ms(seconds * 1000);
	plain = ops_per_s(&w, ops0, t0);
	if (track_setup(s) || round_us(s) < 0)
		goto fail;
	sleep_ms(interval);
	if (round_us(s) < 0)
		goto fail;
	ops0 = __atomic_load_n(&w.ops, __ATOMIC_RELAXED);
	t0 = pd_now_ns();
	end = t0 + seconds * 1000000000ULL;
	while (pd_now_ns() < end && n < 4096) {
		int64_t t;

		sleep_ms(interval);
		t = round_us(s);
		if (t < 0)
			goto fail;
		us[n++] = t;
	}
	tracked = ops_per_s(&w, ops0, t0);
	w.stop = 1;
	pthread_join(th, NULL);
	printf("hot %u %s %.0f %.0f %d %llu\n", permille, contiguous ? "contiguous" : "spread",
	       plain, tracked, n, (unsigned long long)median(us, n));
	return 0;
fail:
	w.stop = 1;
	pthread_join(th, NULL);
	return -1;
}

int main(int argc, char **argv)
{
	unsigned fractions[MAX_FRACTIONS], nfrac = 0, hot = 0, seconds = 3, interval = 200;
	struct scan s = { .uffd = -1 };
	int reps = 5, contiguous = 0, c;
	int64_t arm;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while ((c = getopt(argc, argv, "m:n:s:w:ct:i:")) != -1) {
		switch (c) {
		case 'm':
			s.len = strtoul(optarg, NULL, 10) << 20;
			break;
		case 'n':
			reps = atoi(optarg);
			break;
		case 's':
			if (nfrac == MAX_FRACTIONS)
				return 2;
			fractions[nfrac++] = strtoul(optarg, NULL, 10);
			break;
		case 'w':
			hot = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			contiguous = 1;
			break;
		case 't':
			seconds = strtoul(optarg, NULL, 10);
			break;
		case 'i':
			interval = strtoul(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (!s.len || reps < 1 || reps > MAX_REPS || (!nfrac && !hot) || hot > 1000 ||
	    !seconds || !interval) {
		fprintf(stderr, "usage: pd-scan -m MIB [-n REPS] [-s PERMILLE]... "
			"[-w PERMILLE [-c] [-t SECONDS] [-i MS]]\n");
		return 2;
	}
	s.npages = s.len / PD_PAGE;
	s.mem = pd_map_filled(s.len);
	s.vec_len = s.npages / 2 + 1;
	s.vec = mmap(NULL, s.vec_len * sizeof(*s.vec), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	s.pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (!s.mem || s.vec == MAP_FAILED || s.pm_fd < 0) {
		perror("pd-scan: setup");
		return 1;
	}
	if (hot)
		return hot_run(&s, hot, contiguous, seconds, interval) ? 1 : 0;
	if (track_setup(&s))
		return 1;
	arm = round_us(&s);
	if (arm < 0)
		return 1;
	printf("arm %lld\n", (long long)arm);
	if (clean_rounds(&s, reps))
		return 1;
	for (unsigned i = 0; i < nfrac; i++)
		if (dirty_rounds(&s, fractions[i], reps))
			return 1;
	return 0;
}
