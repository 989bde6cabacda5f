/* FPU, SSE, AVX and AVX-512 registers across the checkpoint: one asm block
 * loads random patterns into every vector register (zmm0-31 and k1-k7
 * with AVX-512, else ymm0-15 with AVX, else xmm0-15), the x87 stack,
 * MXCSR, the x87 control word and r8-r15, spins without touching them
 * until SIGTERM (the handler runs on a signal frame that saves them), then
 * stores them back for comparison.  The dump catches the task in user
 * mode with everything live in registers. */
#include <stddef.h>
#include <string.h>

#include "test.h"

#include "fpu-regs.h"

int main(int argc, char **argv)
{
	static struct regs in, out;

	test_init(argc, argv);
	__builtin_cpu_init();
	fill(&in, test_seed());
	memset(&out, 0, sizeof(out));
	test_ready();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
		test_msg("holding zmm0-31, k1-7, x87, MXCSR, r8-r15");
		hold_avx512(&in, &out, &test_sig_received);
		compare(&in, &out, 32, 64, true, "zmm", "");
	} else if (__builtin_cpu_supports("avx")) {
		test_msg("holding ymm0-15, x87, MXCSR, r8-r15");
		hold_avx(&in, &out, &test_sig_received);
		compare(&in, &out, 16, 32, false, "ymm", "");
	} else {
		test_msg("holding xmm0-15, x87, MXCSR, r8-r15");
		hold_sse(&in, &out, &test_sig_received);
		compare(&in, &out, 16, 16, false, "xmm", "");
	}
	pass();
}
