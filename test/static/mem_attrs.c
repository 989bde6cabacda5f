/* Memory attributes only /proc/self/smaps shows: one mapping per VmFlags
 * bit a process can set (mlock, mlock on fault, MADV_DONTFORK,
 * WIPEONFORK, HUGEPAGE, NOHUGEPAGE, DONTDUMP, MERGEABLE where the kernel
 * has KSM, SEQUENTIAL, RANDOM, mseal), the mm's THP switch
 * (PR_SET_THP_DISABLE with PR_THP_DISABLE_EXCEPT_ADVISED) and
 * mlockall(MCL_FUTURE | MCL_ONFAULT).  After the restore every mapping
 * has its VmFlags line exactly as before, its contents, the THP switch
 * reads the same, and a new mapping is locked on fault. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test.h"

#define PAGE 4096
#define NR_PAGES 4
/* include/uapi/linux/prctl.h (Linux 6.18), not in 6.1's headers. */
#define THP_DISABLE_EXCEPT_ADVISED (1 << 1)
#define NR_MSEAL 462

struct region {
	const char *name;
	int advice;	/* madvise(), or -1 */
	const char *flag;	/* the VmFlags mnemonic it must show */
	unsigned char *m;
	char flags[256];
	bool optional;	/* EINVAL: the kernel lacks it, left out */
};

static struct region regions[] = {
	{ "mlock", -1, "lo", NULL, "", false },
	{ "mlock onfault", -2, "lf", NULL, "", false },
	{ "dontfork", MADV_DONTFORK, "dc", NULL, "", false },
	{ "wipeonfork", MADV_WIPEONFORK, "wf", NULL, "", false },
	{ "hugepage", MADV_HUGEPAGE, "hg", NULL, "", false },
	{ "nohugepage", MADV_NOHUGEPAGE, "nh", NULL, "", false },
	{ "dontdump", MADV_DONTDUMP, "dd", NULL, "", false },
	{ "mergeable", MADV_MERGEABLE, "mg", NULL, "", true },
	{ "sequential", MADV_SEQUENTIAL, "sr", NULL, "", false },
	{ "random", MADV_RANDOM, "rr", NULL, "", false },
	{ "sealed", -3, "sl", NULL, "", true },
};

#define NR_REGIONS (sizeof(regions) / sizeof(regions[0]))

static uint64_t seed;

/* The VmFlags line of the mapping at ADDR into OUT ("" if none). */
static void vm_flags_of(const void *addr, char *out, size_t len)
{
	static char buf[1 << 20];
	char head[32], *p, *f;

	out[0] = '\0';
	if (test_read_file("/proc/self/smaps", buf, sizeof(buf) - 1) <= 0)
		fail("read /proc/self/smaps: %s", strerror(errno));
	snprintf(head, sizeof(head), "%lx-", (unsigned long)addr);
	p = strstr(buf, head);
	if (!p || (p != buf && p[-1] != '\n') || !(f = strstr(p, "VmFlags: ")))
		return;
	f += 9;
	snprintf(out, len, "%.*s", (int)strcspn(f, "\n"), f);
}

static bool has_flag(const char *flags, const char *flag)
{
	size_t n = strlen(flag);

	for (const char *p = flags; (p = strstr(p, flag)); p += n)
		if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

static void fill(struct region *r, int k)
{
	for (int pg = 0; pg < NR_PAGES; pg++) {
		uint64_t *w = (uint64_t *)(r->m + (size_t)pg * PAGE);

		/* The "onfault" region keeps page 3 untouched. */
		if (r->advice == -2 && pg == 3)
			continue;
		for (size_t i = 0; i < PAGE / 8; i += 61)
			w[i] = test_mix(seed + (uint64_t)k * 1000 + pg * 8 + i);
	}
}

static void check_contents(struct region *r, int k)
{
	for (int pg = 0; pg < NR_PAGES; pg++) {
		const uint64_t *w = (const uint64_t *)(r->m + (size_t)pg * PAGE);

		for (size_t i = 0; i < PAGE / 8; i += 61) {
			uint64_t want = r->advice == -2 && pg == 3 ?
						0 :
						test_mix(seed + (uint64_t)k * 1000 + pg * 8 + i);

			if (w[i] != want)
				fail("%s: page %d word %zu is %llx, not %llx", r->name, pg, i,
				     (unsigned long long)w[i], (unsigned long long)want);
		}
	}
}

static int apply(struct region *r)
{
	size_t len = (size_t)NR_PAGES * PAGE;

	switch (r->advice) {
	case -1:
		return mlock(r->m, len);
	case -2:
		return mlock2(r->m, len, MLOCK_ONFAULT);
	case -3:
		return syscall(NR_MSEAL, r->m, len, 0);
	default:
		return madvise(r->m, len, r->advice);
	}
}

static void setup(void)
{
	for (size_t k = 0; k < NR_REGIONS; k++) {
		struct region *r = &regions[k];

		/* A guard page after each keeps neighbours from merging. */
		r->m = mmap(NULL, (size_t)(NR_PAGES + 1) * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r->m == MAP_FAILED)
			fail("mmap: %s", strerror(errno));
		if (mprotect(r->m + (size_t)NR_PAGES * PAGE, PAGE, PROT_NONE))
			fail("mprotect: %s", strerror(errno));
		fill(r, k);
		if (apply(r)) {
			if (r->optional && (errno == EINVAL || errno == ENOSYS)) {
				test_msg("%s: not on this kernel (%s), left out\n", r->name,
					 strerror(errno));
				munmap(r->m, (size_t)(NR_PAGES + 1) * PAGE);
				r->m = NULL;
				continue;
			}
			fail("%s: %s", r->name, strerror(errno));
		}
		vm_flags_of(r->m, r->flags, sizeof(r->flags));
		if (!has_flag(r->flags, r->flag))
			fail("%s: VmFlags \"%s\" lack %s", r->name, r->flags, r->flag);
	}
}

static void check(void)
{
	char now[256];

	for (size_t k = 0; k < NR_REGIONS; k++) {
		struct region *r = &regions[k];

		if (!r->m)
			continue;
		vm_flags_of(r->m, now, sizeof(now));
		if (strcmp(now, r->flags))
			fail("%s at %p: VmFlags \"%s\", were \"%s\"", r->name, (void *)r->m, now,
			     r->flags);
		check_contents(r, k);
	}
}

int main(int argc, char **argv)
{
	char flags[256];
	void *fresh;
	int thp;

	test_init(argc, argv);
	seed = test_seed();
	setup();
	if (prctl(PR_SET_THP_DISABLE, 1, THP_DISABLE_EXCEPT_ADVISED, 0, 0))
		fail("PR_SET_THP_DISABLE: %s", strerror(errno));
	thp = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	if (mlockall(MCL_FUTURE | MCL_ONFAULT))
		fail("mlockall: %s", strerror(errno));
	check();
	test_waitsig();

	check();
	if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != thp)
		fail("PR_GET_THP_DISABLE says %d, was %d", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0),
		     thp);
	fresh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fresh == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	vm_flags_of(fresh, flags, sizeof(flags));
	if (!has_flag(flags, "lo") || !has_flag(flags, "lf"))
		fail("a new mapping is not locked on fault (mlockall lost): VmFlags \"%s\"", flags);
	pass();
}
