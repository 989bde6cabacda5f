/* Owns the CPU as dump and restore see it: the CPUID feature words and
 * the xsave layout a dump records in inventory.img (cpu_entry), their
 * validation, and the check that this host has every feature and xsave
 * component the dumped process may use (--cpu-cap).  A process restored
 * on a CPU without an instruction it used dies at its first use, long
 * after the restore: refused before, naming the feature.
 *
 * "ins" (the default, with "fpu") compares every recorded bit but those
 * that describe the machine rather than what a process can execute
 * (hypervisor, APIC, mitigations, ...: sys below), so that hosts of one
 * fleet that differ only there are not refused; "cpu" compares them all.
 * The same record goes in migrate's HELLO ("cpu" line), which serve
 * checks before the source freezes anything. */
#include <ctype.h>
#include <cpuid.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cpu.h"
#include "fault.h"
#include "log.h"
#include "restore.h"
#include "words.h"

#define XSAVE_SIZE_MIN 576
#define XSAVE_SIZE_MAX (64 << 10)

/* One recorded CPUID register: where it comes from, the bits "ins"
 * ignores, and its bits' names from bit 0 up, as /proc/cpuinfo gives them
 * ("-": none known here). */
struct cpu_word {
	const char *where;
	size_t off;
	uint32_t sys;
	const char *names;
};

/* AMD repeats leaf 1 edx's bits in 0x80000001 edx (ignored there). */
static const struct cpu_word words[] = {
	{ "leaf 1 ecx", offsetof(CpuEntry, leaf1_ecx), 0x8126cdfc,
	  "sse3 pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 cnxt_id sdbg "
	  "fma cx16 xtpr pdcm - pcid dca sse4_1 sse4_2 x2apic movbe popcnt "
	  "tsc_deadline_timer aes xsave osxsave avx f16c rdrand hypervisor" },
	{ "leaf 1 edx", offsetof(CpuEntry, leaf1_edx), 0xf86772ee,
	  "fpu vme de pse tsc msr pae mce cx8 apic - sep mtrr pge mca cmov pat pse36 "
	  "pn clflush - dts acpi mmx fxsr sse sse2 ss ht tm ia64 pbe" },
	{ "leaf 7 ebx", offsetof(CpuEntry, leaf7_ebx), 0x0210b4c2,
	  "fsgsbase tsc_adjust sgx bmi1 hle avx2 fdp_excptn_only smep bmi2 erms "
	  "invpcid rtm cqm zero_fcs_fds mpx rdt_a avx512f avx512dq rdseed adx smap "
	  "avx512ifma pcommit clflushopt clwb intel_pt avx512pf avx512er avx512cd "
	  "sha_ni avx512bw avx512vl" },
	{ "leaf 7 ecx", offsetof(CpuEntry, leaf7_ecx), 0xc1002004,
	  "prefetchwt1 avx512vbmi umip pku ospke waitpkg avx512_vbmi2 shstk gfni "
	  "vaes vpclmulqdq avx512_vnni avx512_bitalg tme avx512_vpopcntdq - la57 - - "
	  "- - - rdpid keylocker bus_lock_detect cldemote - movdiri movdir64b enqcmd "
	  "sgx_lc pks" },
	{ "leaf 7 edx", offsetof(CpuEntry, leaf7_edx), 0xfc1cae00,
	  "- - avx512_4vnniw avx512_4fmaps fsrm uintr - - avx512_vp2intersect "
	  "srbds_ctrl md_clear rtm_always_abort - tsx_force_abort serialize "
	  "hybrid_cpu tsxldtrk - pconfig arch_lbr ibt - amx_bf16 avx512_fp16 "
	  "amx_tile amx_int8 spec_ctrl intel_stibp flush_l1d arch_capabilities "
	  "core_capabilities spec_ctrl_ssbd" },
	{ "leaf 7 subleaf 1 eax", offsetof(CpuEntry, leaf7_1_eax), 0x044e0100,
	  "sha512 sm3 sm4 - avx_vnni avx512_bf16 - cmpccxadd arch_perfmon_ext - fzrm "
	  "fsrs fsrc - - - - fred lkgs wrmsrns - amx_fp16 hreset avx_ifma - - lam" },
	{ "leaf 0xd subleaf 1 eax", offsetof(CpuEntry, leafd_1_eax), 0x00000018,
	  "xsaveopt xsavec xgetbv1 xsaves xfd" },
	{ "leaf 0x80000001 ecx", offsetof(CpuEntry, ext1_ecx), 0x1dca361e,
	  "lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse "
	  "3dnowprefetch osvw ibs xop skinit wdt - lwp fma4 tce - nodeid_msr - tbm "
	  "topoext perfctr_core perfctr_nb - bpext ptsc perfctr_llc mwaitx" },
	{ "leaf 0x80000001 edx", offsetof(CpuEntry, ext1_edx), 0x058bf3ff,
	  "- - - - - - - - - - - syscall - - - - - - - mp nx - mmxext - - fxsr_opt "
	  "pdpe1gb rdtscp - lm 3dnowext 3dnow" },
};

/* XCR0's bits, as the names of the words above. */
static const char xsave_names[] =
	"x87 sse avx mpx_bndregs mpx_bndcsr avx512_opmask avx512_zmm_hi256 "
	"avx512_hi16_zmm pt pkru pasid cet_u cet_s hdc uintr lbr hwp amx_tilecfg "
	"amx_tiledata apx";

static uint32_t word_value(const CpuEntry *c, size_t i)
{
	return *(const uint32_t *)((const char *)c + words[i].off);
}

int cpu_cap_parse(const char *s, unsigned int *caps)
{
	char buf[64], *tok, *save;

	*caps = 0;
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "fpu"))
			*caps |= CPU_CAP_FPU;
		else if (!strcmp(tok, "ins"))
			*caps |= CPU_CAP_INS;
		else if (!strcmp(tok, "cpu"))
			*caps |= CPU_CAP_CPU;
		else if (!strcmp(tok, "all"))
			*caps |= CPU_CAP_FPU | CPU_CAP_CPU;
		else if (!strcmp(tok, "none"))
			*caps |= CPU_CAP_NONE;
		else
			return -1;
	}
	/* "none" goes with nothing else. */
	if (!*caps || ((*caps & CPU_CAP_NONE) && *caps != CPU_CAP_NONE))
		return -1;
	return 0;
}

void cpu_record_here(CpuEntry *c)
{
	unsigned int max = __get_cpuid_max(0, NULL), ext = __get_cpuid_max(0x80000000, NULL);
	unsigned int a, b, cx, d;

	cpu_entry__init(c);
	if (max >= 1) {
		__cpuid(1, a, b, cx, d);
		c->leaf1_ecx = cx;
		c->leaf1_edx = d;
	}
	if (max >= 7) {
		__cpuid_count(7, 0, a, b, cx, d);
		c->leaf7_ebx = b;
		c->leaf7_ecx = cx;
		c->leaf7_edx = d;
		if (a >= 1) {
			__cpuid_count(7, 1, a, b, cx, d);
			c->leaf7_1_eax = a;
		}
	}
	if (max >= 0xd) {
		__cpuid_count(0xd, 1, a, b, cx, d);
		c->leafd_1_eax = a;
	}
	if (ext >= 0x80000001) {
		__cpuid(0x80000001, a, b, cx, d);
		c->ext1_ecx = cx;
		c->ext1_edx = d;
	}
	if (max >= 0xd && (c->leaf1_ecx & bit_OSXSAVE)) {
		uint32_t lo, hi;

		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		c->xcr0 = (uint64_t)hi << 32 | lo;
		__cpuid_count(0xd, 0, a, b, cx, d);
		c->xsave_size = b;
	}
}

/* What a record can't be, in WHY; 0 if it can. */
static int invalid(const CpuEntry *c, char *why, size_t len)
{
	if (!c->xcr0 != !c->xsave_size)
		snprintf(why, len, "XCR0 %#" PRIx64 " with an xsave area of %u bytes", c->xcr0,
			 c->xsave_size);
	else if (c->xcr0 && !(c->xcr0 & 1))
		snprintf(why, len, "XCR0 %#" PRIx64 " lacks x87, which is always enabled", c->xcr0);
	else if (c->xsave_size &&
		 (c->xsave_size < XSAVE_SIZE_MIN || c->xsave_size > XSAVE_SIZE_MAX))
		snprintf(why, len, "an xsave area of %u bytes", c->xsave_size);
	else
		return 0;
	return -EINVAL;
}

int cpu_validate(const CpuEntry *c)
{
	char why[128];

	if (c && invalid(c, why, sizeof(why)))
		return restore_plan_bad("inventory.img", "cpu: %s", why);
	return 0;
}

/* The record's fields in their order in cpu_entry, as one line's words. */
int cpu_line_make(char *buf, size_t len)
{
	CpuEntry c;
	size_t n = 0;

	cpu_record_here(&c);
	if (fault_injected("hello-cpu-unknown-bit"))
		c.leaf7_edx |= 1;
	for (size_t i = 0; i < ARRAY_SIZE(words) && n < len; i++)
		n += snprintf(buf + n, len - n, "0x%x ", word_value(&c, i));
	if (n < len)
		n += snprintf(buf + n, len - n, "0x%" PRIx64 " %u", c.xcr0, c.xsave_size);
	return n < len ? (int)n : -E2BIG;
}

/* A word of S at *POS: "0x" and 1 to 16 hex digits, then a space or the
 * end. */
static bool hex_word(const char *s, size_t *pos, uint64_t max, uint64_t *v)
{
	char *end;

	if (strncmp(s + *pos, "0x", 2) || !isxdigit((unsigned char)s[*pos + 2]))
		return false;
	errno = 0;
	*v = strtoull(s + *pos, &end, 16);
	if (errno || *v > max || (*end && *end != ' '))
		return false;
	*pos = end - s + (*end == ' ');
	return true;
}

int cpu_line_parse(const char *s, CpuEntry *c, char *why, size_t len)
{
	uint64_t v;
	size_t pos = 0;
	char *end;

	cpu_entry__init(c);
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		if (!hex_word(s, &pos, UINT32_MAX, &v))
			goto bad;
		*(uint32_t *)((char *)c + words[i].off) = v;
	}
	if (!hex_word(s, &pos, UINT64_MAX, &c->xcr0) || !isdigit((unsigned char)s[pos]))
		goto bad;
	errno = 0;
	v = strtoull(s + pos, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		goto bad;
	c->xsave_size = v;
	return invalid(c, why, len);
bad:
	snprintf(why, len, "a CPU record that does not parse");
	return -EINVAL;
}

/* "The tree of pid N", or "The tree" (0: a migration's, not dumped yet). */
static struct words tree_words(unsigned int pid)
{
	struct words w;

	if (pid)
		snprintf(w.s, sizeof(w.s), "The tree of pid %u", pid);
	else
		snprintf(w.s, sizeof(w.s), "The tree");
	return w;
}

/* Appends the name of BIT in NAMES (the BIT-th word), or else UNKNOWN,
 * to the list in BUF ("a, b"). */
static void add_name(char *buf, size_t len, const char *names, unsigned int bit,
		     const char *unknown)
{
	const char *w = names;
	size_t n = strlen(buf), wlen;

	for (unsigned int i = 0; i < bit && w; i++) {
		w = strchr(w, ' ');
		w = w ? w + 1 : NULL;
	}
	wlen = w ? strcspn(w, " ") : 0;
	if (!wlen || (wlen == 1 && *w == '-')) {
		w = unknown;
		wlen = strlen(unknown);
	}
	if (n < len)
		snprintf(buf + n, len - n, "%s%.*s", n ? ", " : "", (int)wlen, w);
}

static int count_missing_features(const CpuEntry *dumped, const CpuEntry *here, bool all, char *buf,
				  size_t len)
{
	int missing = 0;

	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		uint32_t lack = word_value(dumped, i) & ~word_value(here, i);

		if (!all)
			lack &= ~words[i].sys;
		for (int bit = 0; bit < 32; bit++) {
			char unknown[64];

			if (!(lack & (1u << bit)))
				continue;
			snprintf(unknown, sizeof(unknown), "cpuid %s bit %d", words[i].where, bit);
			add_name(buf, len, words[i].names, bit, unknown);
			missing++;
		}
	}
	return missing;
}

static int check_features(const CpuEntry *dumped, const CpuEntry *here, bool all, unsigned int pid)
{
	char names[512] = "";
	int missing = count_missing_features(dumped, here, all, names, sizeof(names));

	if (!missing)
		return 0;
	pr_err("%s ran on a CPU with %d feature%s this one lacks: %s (a process dies at its "
	       "first use of one; --cpu-cap none restores anyway)\n",
	       tree_words(pid).s, missing, missing > 1 ? "s" : "", names);
	return -EOPNOTSUPP;
}

static int check_xsave_layout(const CpuEntry *dumped, const CpuEntry *here, unsigned int pid)
{
	uint64_t lack = dumped->xcr0 & ~here->xcr0;
	char names[256] = "";

	if (!lack)
		return 0;
	for (unsigned int bit = 0; bit < 64; bit++) {
		char unknown[32];

		if (!(lack & (1ULL << bit)))
			continue;
		snprintf(unknown, sizeof(unknown), "xsave component %u", bit);
		add_name(names, sizeof(names), xsave_names, bit, unknown);
	}
	pr_err("%s has xsave components in its FPU state this CPU does not enable: %s (XCR0 "
	       "%#" PRIx64 " there, %#" PRIx64 " here); it would not load\n",
	       tree_words(pid).s, names, dumped->xcr0, here->xcr0);
	return -EOPNOTSUPP;
}

/* CAPS as --cpu-cap's words: "fpu,ins". */
static struct words caps_words(unsigned int caps)
{
	static const char *const names[] = { "fpu", "ins", "cpu" };
	struct words w = { "" };
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (caps & (1u << i) && n < sizeof(w.s))
			n += snprintf(w.s + n, sizeof(w.s) - n, "%s%s", n ? "," : "", names[i]);
	return w;
}

int cpu_check(const CpuEntry *dumped, unsigned int pid, unsigned int caps, char *ok_what,
	      size_t len)
{
	CpuEntry here;
	int ret = 0;

	if (!caps)
		caps = CPU_CAP_DEFAULT;
	if (caps & CPU_CAP_NONE) {
		pr_warn("--cpu-cap none: the CPU is not checked; a restored process that uses "
			"an instruction this CPU lacks dies at its first use\n");
		if (ok_what)
			snprintf(ok_what, len, "not checked (--cpu-cap none)");
		return 0;
	}
	if (!dumped) {
		pr_warn("The images do not record the dumping CPU: its features are not checked\n");
		if (ok_what)
			snprintf(ok_what, len, "not recorded in the images, not checked");
		return 0;
	}
	cpu_record_here(&here);
	if (caps & (CPU_CAP_INS | CPU_CAP_CPU))
		ret = check_features(dumped, &here, caps & CPU_CAP_CPU, pid);
	if (caps & CPU_CAP_FPU)
		ret = check_xsave_layout(dumped, &here, pid) ?: ret;
	if (!ret && ok_what)
		snprintf(ok_what, len, "as --cpu-cap %s checks: every dumped feature is here, "
			 "XCR0 %#" PRIx64 " within %#" PRIx64, caps_words(caps).s, dumped->xcr0,
			 here.xcr0);
	return ret;
}
