/* A target that sits in system calls while lmproc is killed around it:
 * first read() of a FIFO (DIR/go.fifo, which the test writes one byte
 * into), then a 1.5 s nanosleep(); each made with the raw syscall
 * instruction, with patterns in xmm0-15 and r12-r15 around it.  Either
 * call must complete normally (1 byte read; the full sleep, returning 0):
 * a resume that let -EINTR or the kernel's -512/-516 through, lost a
 * vector register, the signal mask (SIGUSR1 and SIGRTMIN+3 blocked) or
 * the signal stack fails the test.  DIR/reading and DIR/sleeping say
 * which call it is about to make. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define SLEEP_NS 1500000000L

struct held {
	uint64_t xmm[16][2];
	uint64_t gp[4];
};

/* NR(A1, A2, A3) with IN loaded into xmm0-15 and r12-r15 and stored
 * back into OUT after the call; returns the kernel's rax. */
static long held_syscall(long nr, long a1, long a2, long a3, const struct held *in,
			 struct held *out)
{
	register long r10 __asm__("r10") = 0;
	long ret;

	__asm__ volatile("movdqu 0(%[in]), %%xmm0\n\tmovdqu 16(%[in]), %%xmm1\n\t"
			 "movdqu 32(%[in]), %%xmm2\n\tmovdqu 48(%[in]), %%xmm3\n\t"
			 "movdqu 64(%[in]), %%xmm4\n\tmovdqu 80(%[in]), %%xmm5\n\t"
			 "movdqu 96(%[in]), %%xmm6\n\tmovdqu 112(%[in]), %%xmm7\n\t"
			 "movdqu 128(%[in]), %%xmm8\n\tmovdqu 144(%[in]), %%xmm9\n\t"
			 "movdqu 160(%[in]), %%xmm10\n\tmovdqu 176(%[in]), %%xmm11\n\t"
			 "movdqu 192(%[in]), %%xmm12\n\tmovdqu 208(%[in]), %%xmm13\n\t"
			 "movdqu 224(%[in]), %%xmm14\n\tmovdqu 240(%[in]), %%xmm15\n\t"
			 "movq 256(%[in]), %%r12\n\tmovq 264(%[in]), %%r13\n\t"
			 "movq 272(%[in]), %%r14\n\tmovq 280(%[in]), %%r15\n\t"
			 "syscall\n\t"
			 "movdqu %%xmm0, 0(%[out])\n\tmovdqu %%xmm1, 16(%[out])\n\t"
			 "movdqu %%xmm2, 32(%[out])\n\tmovdqu %%xmm3, 48(%[out])\n\t"
			 "movdqu %%xmm4, 64(%[out])\n\tmovdqu %%xmm5, 80(%[out])\n\t"
			 "movdqu %%xmm6, 96(%[out])\n\tmovdqu %%xmm7, 112(%[out])\n\t"
			 "movdqu %%xmm8, 128(%[out])\n\tmovdqu %%xmm9, 144(%[out])\n\t"
			 "movdqu %%xmm10, 160(%[out])\n\tmovdqu %%xmm11, 176(%[out])\n\t"
			 "movdqu %%xmm12, 192(%[out])\n\tmovdqu %%xmm13, 208(%[out])\n\t"
			 "movdqu %%xmm14, 224(%[out])\n\tmovdqu %%xmm15, 240(%[out])\n\t"
			 "movq %%r12, 256(%[out])\n\tmovq %%r13, 264(%[out])\n\t"
			 "movq %%r14, 272(%[out])\n\tmovq %%r15, 280(%[out])\n\t"
			 : "=a"(ret), "+r"(r10)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), [in] "r"(in), [out] "r"(out)
			 : "rcx", "r11", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3",
			   "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
			   "xmm12", "xmm13", "xmm14", "xmm15", "memory");
	return ret;
}

static void check_held(const struct held *in, const struct held *out, const char *call)
{
	for (int i = 0; i < 16; i++)
		if (memcmp(in->xmm[i], out->xmm[i], 16))
			fail("xmm%d changed across %s", i, call);
	for (int i = 0; i < 4; i++)
		if (in->gp[i] != out->gp[i])
			fail("r%d changed across %s", 12 + i, call);
}

static void mark(const char *name)
{
	char path[512];
	int fd;

	test_path(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		fail("create %s: %s", path, strerror(errno));
	close(fd);
}

static void check_signals(const sigset_t *want, const stack_t *ss)
{
	stack_t now_ss;
	sigset_t now;

	if (sigprocmask(SIG_BLOCK, NULL, &now))
		fail("sigprocmask: %s", strerror(errno));
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&now, sig) != sigismember(want, sig))
			fail("signal %d is %sblocked now", sig,
			     sigismember(&now, sig) ? "" : "not ");
	if (sigaltstack(NULL, &now_ss))
		fail("sigaltstack: %s", strerror(errno));
	if (now_ss.ss_sp != ss->ss_sp || now_ss.ss_size != ss->ss_size ||
	    (now_ss.ss_flags & ~SS_ONSTACK) != ss->ss_flags)
		fail("the signal stack changed: %p+%zu flags %d", now_ss.ss_sp, now_ss.ss_size,
		     now_ss.ss_flags);
}

int main(int argc, char **argv)
{
	static char altstack[64 * 1024];
	static struct held in, out;
	struct timespec t0, t1, req = {SLEEP_NS / 1000000000L, SLEEP_NS % 1000000000L};
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	uint64_t seed, *w = (uint64_t *)&in;
	char path[512], byte = 0;
	sigset_t mask;
	long ret, ns;
	int fd;

	test_init(argc, argv);
	seed = test_seed();
	for (size_t i = 0; i < sizeof(in) / 8; i++)
		w[i] = test_mix(seed + i);
	if (sigaltstack(&ss, NULL))
		fail("sigaltstack: %s", strerror(errno));
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGRTMIN + 3);
	if (sigprocmask(SIG_SETMASK, &mask, NULL))
		fail("sigprocmask: %s", strerror(errno));
	test_path(path, sizeof(path), "go.fifo");
	if (mkfifo(path, 0600) && errno != EEXIST)
		fail("mkfifo %s: %s", path, strerror(errno));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));

	mark("reading");
	test_ready();
	ret = held_syscall(SYS_read, fd, (long)&byte, 1, &in, &out);
	if (ret != 1 || byte != 'g')
		fail("read() of the FIFO returned %ld (byte %#x), not 1 ('g')", ret, byte);
	check_held(&in, &out, "read()");
	check_signals(&mask, &ss);

	mark("sleeping");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = held_syscall(SYS_nanosleep, (long)&req, 0, 0, &in, &out);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec;
	if (ret != 0)
		fail("nanosleep() returned %ld, not 0", ret);
	if (ns < SLEEP_NS)
		fail("nanosleep() of %ld ns returned after %ld ns", SLEEP_NS, ns);
	check_held(&in, &out, "nanosleep()");
	check_signals(&mask, &ss);
	mark("slept");
	test_waitsig();
	check_signals(&mask, &ss);
	pass();
}
