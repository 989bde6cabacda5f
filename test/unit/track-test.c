/* Unit tests of the dirty-tracking helpers that need no tracked process:
 * range sets, the soft-dirty pagemap decoding (this kernel has no
 * soft-dirty, so its decoding is checked here on made-up entries), and
 * that backend selection agrees with the kernel probe. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dirty-track.h"
#include "kerndat.h"
#include "log.h"
#include "soft-dirty.h"

static int failed, tests;

static void check(int ok, const char *what)
{
	tests++;
	printf("%s %d - %s\n", ok ? "ok" : "not ok", tests, what);
	if (!ok)
		failed++;
}

static int ranges_are(const struct range_set *s, const unsigned long *want, size_t nr)
{
	if (s->nr != nr)
		return 0;
	for (size_t i = 0; i < nr; i++)
		if (s->r[i].start != want[2 * i] || s->r[i].end != want[2 * i + 1])
			return 0;
	return 1;
}

static void test_range_set(void)
{
	struct range_set s = {};
	const unsigned long want[] = { 0x1000, 0x4000, 0x8000, 0x9000 };

	check(!range_set_add(&s, 0x1000, 0x2000), "add a first range");
	check(!range_set_add(&s, 0x2000, 0x3000), "add an adjacent range");
	check(!range_set_add(&s, 0x2800, 0x4000), "add an overlapping range");
	check(!range_set_add(&s, 0x5000, 0x5000), "an empty range is ignored");
	check(!range_set_add(&s, 0x8000, 0x9000), "add a distant range");
	check(ranges_are(&s, want, 2), "adjacent and overlapping ranges merge");
	check(range_set_add(&s, 0x1000, 0x2000) == -EINVAL, "a range out of order is refused");
	range_set_free(&s);
	check(s.nr == 0 && s.r == NULL, "free empties the set");
}

static void test_soft_dirty_decoding(void)
{
	/* Present pages with and without bit 55, a swapped one with it,
	 * an absent one. */
	const uint64_t pme[] = {
		1ULL << 63 | PME_SOFT_DIRTY, 1ULL << 63 | PME_SOFT_DIRTY, 1ULL << 63,
		1ULL << 62 | PME_SOFT_DIRTY, 0, 1ULL << 63 | PME_SOFT_DIRTY,
	};
	const unsigned long want[] = { 0x10000, 0x12000, 0x13000, 0x14000, 0x15000, 0x16000 };
	struct range_set s = {};
	uint64_t pages = 0;

	check(!soft_dirty_ranges(pme, 6, 0x10000, &s, &pages), "decode six entries");
	check(pages == 4, "four pages have bit 55");
	check(ranges_are(&s, want, 3), "dirty pages become three ranges");
	range_set_free(&s);
}

static void test_backend_choice(void)
{
	struct kerndat kd;
	enum track_backend b;
	int ret;

	kerndat_probe(&kd);
	ret = track_pick_backend(TRACK_SOFT_DIRTY, &b);
	check((ret == 0) == kd.feat[KD_SOFT_DIRTY].ok,
	      "--track soft-dirty works exactly when the probe found soft-dirty");
	ret = track_pick_backend(TRACK_AUTO, &b);
	check(ret == 0 ? kd.tracker != KD_TRACKER_NONE : kd.tracker == KD_TRACKER_NONE,
	      "--track auto picks a backend exactly when the probe found one");
	if (!ret && kd.tracker == KD_TRACKER_PAGEMAP_SCAN)
		check(b == TRACK_PAGEMAP_SCAN, "auto prefers pagemap-scan");
	check(track_backend_by_name("bogus", &b) == -EINVAL, "an unknown backend name is refused");
}

int main(void)
{
	log_init(LOG_ERR + 10, NULL);
	test_range_set();
	test_soft_dirty_decoding();
	test_backend_choice();
	printf("1..%d\n# %d passed, %d failed\n", tests, tests - failed, failed);
	return failed ? 1 : 0;
}
