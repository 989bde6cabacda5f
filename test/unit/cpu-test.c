/* Unit tests of the CPU record (cpu.c): --cpu-cap's words, migrate's
 * HELLO line made and parsed back, and cpu_check against this CPU with
 * bits it lacks added: the feature named (by its name, or by leaf,
 * register and bit), a machine bit ignored by "ins" but not by "cpu", an
 * xsave component named, "none" passing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "log.h"

static int failed, tests;

static void ok(int cond, const char *what)
{
	tests++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", tests, what);
	if (!cond)
		failed++;
}

static void skip(const char *what)
{
	tests++;
	printf("ok %d # skip %s\n", tests, what);
}

static void test_caps(void)
{
	unsigned int caps;

	ok(!cpu_cap_parse("fpu,ins", &caps) && caps == (CPU_CAP_FPU | CPU_CAP_INS), "fpu,ins");
	ok(!cpu_cap_parse("cpu", &caps) && caps == CPU_CAP_CPU, "cpu");
	ok(!cpu_cap_parse("all", &caps) && caps == (CPU_CAP_FPU | CPU_CAP_CPU), "all is fpu,cpu");
	ok(!cpu_cap_parse("none", &caps) && caps == CPU_CAP_NONE, "none");
	ok(cpu_cap_parse("none,fpu", &caps) == -1, "none goes alone");
	ok(cpu_cap_parse("", &caps) == -1, "an empty list");
	ok(cpu_cap_parse("fpu,sse", &caps) == -1, "an unknown word");
}

/* This CPU's record, through the HELLO line. */
static int here(CpuEntry *c)
{
	char line[256], why[128];

	if (cpu_line_make(line, sizeof(line)) < 0)
		return -1;
	return cpu_line_parse(line, c, why, sizeof(why));
}

static void test_line(void)
{
	char why[128] = "";
	CpuEntry c;

	ok(!here(&c), "this CPU's line parses back");
	ok(cpu_line_parse("0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x7", &c, why, sizeof(why)) ==
		   -EINVAL && strstr(why, "does not parse"),
	   "a line without the xsave size");
	ok(cpu_line_parse("0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x100000000 0x7 832", &c, why,
			  sizeof(why)) == -EINVAL,
	   "a word over 32 bits");
	ok(cpu_line_parse("0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x7 832 x", &c, why,
			  sizeof(why)) == -EINVAL,
	   "a word too many");
	ok(cpu_line_parse("0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x6 832", &c, why, sizeof(why)) ==
		   -EINVAL && strstr(why, "lacks x87"),
	   "XCR0 without x87");
	ok(cpu_line_parse("0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x7 0", &c, why, sizeof(why)) ==
		   -EINVAL,
	   "XCR0 without an xsave size");
}

/* cpu_check of this CPU with BIT of *WORD added (if it lacks it): its
 * result under CAPS, the message in WHY. */
static int with_bit(uint32_t *word, unsigned int bit, unsigned int caps, const CpuEntry *c,
		    char *why, size_t len)
{
	int ret;

	if (*word & (1u << bit))
		return 1;
	*word |= 1u << bit;
	log_capture_start(why, len);
	ret = cpu_check(c, 42, caps, NULL, 0);
	log_capture_end();
	*word &= ~(1u << bit);
	return ret;
}

static void test_check(void)
{
	char why[512];
	CpuEntry c;
	int ret;

	if (here(&c)) {
		ok(0, "this CPU's record");
		return;
	}
	ok(!cpu_check(&c, 42, 0, why, sizeof(why)), "this CPU takes its own record");
	ret = with_bit(&c.leaf7_edx, 0, 0, &c, why, sizeof(why));
	ok(ret == -EOPNOTSUPP && strstr(why, "pid 42") && strstr(why, "cpuid leaf 7 edx bit 0"),
	   "an unknown bit named by leaf, register and bit");
	ret = with_bit(&c.ext1_edx, 31, 0, &c, why, sizeof(why));
	if (ret == 1)
		skip("this CPU has 3dnow");
	else
		ok(ret == -EOPNOTSUPP && strstr(why, ": 3dnow ("), "a named bit: 3dnow");
	ret = with_bit(&c.leaf1_edx, 30, CPU_CAP_FPU | CPU_CAP_INS, &c, why, sizeof(why));
	ok(ret == 0, "ia64, a machine bit, passes ins");
	ret = with_bit(&c.leaf1_edx, 30, CPU_CAP_CPU, &c, why, sizeof(why));
	ok(ret == -EOPNOTSUPP && strstr(why, "ia64"), "... and fails cpu, named");
	ret = with_bit(&c.leaf7_edx, 0, CPU_CAP_NONE, &c, why, sizeof(why));
	ok(ret == 0, "none checks nothing");
	ret = with_bit(&c.leaf7_edx, 0, CPU_CAP_FPU, &c, why, sizeof(why));
	ok(ret == 0, "fpu alone looks at no feature");
	c.xcr0 |= 1ULL << 40;
	log_capture_start(why, sizeof(why));
	ret = cpu_check(&c, 42, CPU_CAP_FPU, NULL, 0);
	log_capture_end();
	ok(ret == -EOPNOTSUPP && strstr(why, "xsave component 40"),
	   "an xsave component this XCR0 lacks, unknown");
	c.xcr0 &= ~(1ULL << 40);
	if (c.xcr0 & (1ULL << 17)) {
		skip("this CPU enables AMX");
		return;
	}
	c.xcr0 |= 1ULL << 17;
	log_capture_start(why, sizeof(why));
	ret = cpu_check(&c, 42, 0, NULL, 0);
	log_capture_end();
	ok(ret == -EOPNOTSUPP && strstr(why, "amx_tilecfg"), "AMX's tile config named");
	ok(!cpu_check(NULL, 42, 0, NULL, 0), "images without a record pass");
}

int main(void)
{
	log_init(LOG_ERR, NULL);
	test_caps();
	test_line();
	test_check();
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
