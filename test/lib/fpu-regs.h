/* The register-holding part of the FPU tests (fpu_regs.c, threads_fpu.c):
 * patterns for every vector register, the x87 stack, MXCSR, the x87
 * control word and r8-r15, an asm block per ISA that loads them, spins
 * until *flag is set and stores them back, and the comparison. */
#ifndef LMPROC_TEST_FPU_REGS_H
#define LMPROC_TEST_FPU_REGS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "test.h"

#define NR_VEC		32
#define MXCSR_TEST	0xff80u	/* all exceptions masked, round to zero, FTZ */
#define FCW_TEST	0x0f7fu	/* all exceptions masked, 64-bit precision, truncate */

struct regs {
	uint8_t vec[NR_VEC][64];
	uint64_t k[8];
	uint64_t gpr[8];
	uint8_t x87[8][16];	/* 80-bit values in 16-byte slots */
	uint32_t mxcsr;
	uint16_t fcw;
	uint16_t pad;
	uint32_t mxcsr_default;
	uint16_t fcw_default;
};

#define OFF_K	2048
#define OFF_GPR	2112
#define OFF_X87	2176
#define OFF_MX	2304
#define OFF_FCW	2308
#define OFF_MXD	2312
#define OFF_FCWD 2316
_Static_assert(offsetof(struct regs, k) == OFF_K, "layout");
_Static_assert(offsetof(struct regs, gpr) == OFF_GPR, "layout");
_Static_assert(offsetof(struct regs, x87) == OFF_X87, "layout");
_Static_assert(offsetof(struct regs, mxcsr) == OFF_MX, "layout");
_Static_assert(offsetof(struct regs, fcw) == OFF_FCW, "layout");
_Static_assert(offsetof(struct regs, mxcsr_default) == OFF_MXD, "layout");
_Static_assert(offsetof(struct regs, fcw_default) == OFF_FCWD, "layout");

#define S(x) #x
#define STR(x) S(x)

/* Scalar parts common to every variant. */
#define LOAD_SCALAR								\
	"ldmxcsr " STR(OFF_MX) "(%[in])\n"					\
	"fldcw " STR(OFF_FCW) "(%[in])\n"					\
	X87(LD, 0) X87(LD, 1) X87(LD, 2) X87(LD, 3)				\
	X87(LD, 4) X87(LD, 5) X87(LD, 6) X87(LD, 7)				\
	GPR(LD, 8) GPR(LD, 9) GPR(LD, 10) GPR(LD, 11)				\
	GPR(LD, 12) GPR(LD, 13) GPR(LD, 14) GPR(LD, 15)
#define STORE_SCALAR								\
	"stmxcsr " STR(OFF_MX) "(%[out])\n"					\
	"fnstcw " STR(OFF_FCW) "(%[out])\n"					\
	X87(ST, 7) X87(ST, 6) X87(ST, 5) X87(ST, 4)				\
	X87(ST, 3) X87(ST, 2) X87(ST, 1) X87(ST, 0)				\
	GPR(ST, 8) GPR(ST, 9) GPR(ST, 10) GPR(ST, 11)				\
	GPR(ST, 12) GPR(ST, 13) GPR(ST, 14) GPR(ST, 15)			\
	"ldmxcsr " STR(OFF_MXD) "(%[in])\n"					\
	"fldcw " STR(OFF_FCWD) "(%[in])\n"
#define X87_LD(n) "fldt " STR(OFF_X87) "+" #n "*16(%[in])\n"
#define X87_ST(n) "fstpt " STR(OFF_X87) "+" #n "*16(%[out])\n"
#define X87(op, n) X87_##op(n)
#define GPR_LD(n) "movq " STR(OFF_GPR) "+(" #n "-8)*8(%[in]), %%r" #n "\n"
#define GPR_ST(n) "movq %%r" #n ", " STR(OFF_GPR) "+(" #n "-8)*8(%[out])\n"
#define GPR(op, n) GPR_##op(n)

#define SPIN "1: pause\n cmpl $0, (%[flag])\n je 1b\n"

#define EACH16(m) m(0) m(1) m(2) m(3) m(4) m(5) m(6) m(7) m(8) m(9) m(10) m(11)	\
	m(12) m(13) m(14) m(15)
#define EACH32(m) EACH16(m) m(16) m(17) m(18) m(19) m(20) m(21) m(22) m(23)	\
	m(24) m(25) m(26) m(27) m(28) m(29) m(30) m(31)
#define EACHK(m) m(1) m(2) m(3) m(4) m(5) m(6) m(7)

#define ZLD(n) "vmovdqu64 " #n "*64(%[in]), %%zmm" #n "\n"
#define ZST(n) "vmovdqu64 %%zmm" #n ", " #n "*64(%[out])\n"
#define KLD(n) "kmovq " STR(OFF_K) "+" #n "*8(%[in]), %%k" #n "\n"
#define KST(n) "kmovq %%k" #n ", " STR(OFF_K) "+" #n "*8(%[out])\n"
#define YLD(n) "vmovdqu " #n "*64(%[in]), %%ymm" #n "\n"
#define YST(n) "vmovdqu %%ymm" #n ", " #n "*64(%[out])\n"
#define XLD(n) "movdqu " #n "*64(%[in]), %%xmm" #n "\n"
#define XST(n) "movdqu %%xmm" #n ", " #n "*64(%[out])\n"

#define CLOBBER_SCALAR "memory", "cc", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", \
	"st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)"
#define CLOBBER_XMM16 "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
	"xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

static __attribute__((noinline, target("avx512f,avx512bw")))
void hold_avx512(const struct regs *in, struct regs *out, volatile int *flag)
{
	asm volatile(LOAD_SCALAR EACH32(ZLD) EACHK(KLD) SPIN EACH32(ZST) EACHK(KST) STORE_SCALAR
		     :
		     : [in] "r"(in), [out] "r"(out), [flag] "r"(flag)
		     : CLOBBER_SCALAR, CLOBBER_XMM16, "xmm16", "xmm17", "xmm18", "xmm19",
		       "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27",
		       "xmm28", "xmm29", "xmm30", "xmm31", "k1", "k2", "k3", "k4", "k5", "k6",
		       "k7");
	asm volatile("vzeroupper" ::: "memory");
}

static __attribute__((noinline, target("avx")))
void hold_avx(const struct regs *in, struct regs *out, volatile int *flag)
{
	asm volatile(LOAD_SCALAR EACH16(YLD) SPIN EACH16(YST) STORE_SCALAR
		     :
		     : [in] "r"(in), [out] "r"(out), [flag] "r"(flag)
		     : CLOBBER_SCALAR, CLOBBER_XMM16);
	asm volatile("vzeroupper" ::: "memory");
}

static __attribute__((noinline)) void hold_sse(const struct regs *in, struct regs *out,
						volatile int *flag)
{
	asm volatile(LOAD_SCALAR EACH16(XLD) SPIN EACH16(XST) STORE_SCALAR
		     :
		     : [in] "r"(in), [out] "r"(out), [flag] "r"(flag)
		     : CLOBBER_SCALAR, CLOBBER_XMM16);
}

static void fill(struct regs *r, uint64_t seed)
{
	uint64_t *w = (uint64_t *)r->vec;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < sizeof(r->vec) / 8; i++)
		w[i] = test_mix(seed + i);
	for (int i = 0; i < 8; i++) {
		r->k[i] = test_mix(seed ^ (0x100 + i));
		r->gpr[i] = test_mix(seed ^ (0x200 + i));
		/* A finite long double from a random integer. */
		long double v = (long double)(int64_t)test_mix(seed ^ (0x300 + i)) / 3.0L;

		memcpy(r->x87[i], &v, 10);
	}
	r->mxcsr = MXCSR_TEST;
	r->fcw = FCW_TEST;
	r->mxcsr_default = 0x1f80;
	r->fcw_default = 0x037f;
}

static void compare(const struct regs *in, const struct regs *out, int nr_vec, int vec_bytes,
		    bool kregs, const char *kind, const char *who)
{
	for (int i = 0; i < nr_vec; i++)
		for (int b = 0; b < vec_bytes; b++)
			if (in->vec[i][b] != out->vec[i][b])
				fail("%s%s register %d byte %d: %#x, expected %#x", who, kind, i,
				     b, out->vec[i][b], in->vec[i][b]);
	for (int i = 1; kregs && i < 8; i++)
		if (in->k[i] != out->k[i])
			fail("%sk%d: %016lx, expected %016lx", who, i, (unsigned long)out->k[i],
			     (unsigned long)in->k[i]);
	for (int i = 0; i < 8; i++)
		if (in->gpr[i] != out->gpr[i])
			fail("%sr%d: %016lx, expected %016lx", who, i + 8, (unsigned long)out->gpr[i],
			     (unsigned long)in->gpr[i]);
	for (int i = 0; i < 8; i++)
		if (memcmp(in->x87[i], out->x87[i], 10))
			fail("%sx87 register slot %d differs", who, i);
	if (in->mxcsr != out->mxcsr)
		fail("%sMXCSR %#x, expected %#x", who, out->mxcsr, in->mxcsr);
	if (in->fcw != out->fcw)
		fail("%sx87 control word %#x, expected %#x", who, out->fcw, in->fcw);
}

#endif
