/* Raw x86-64 system calls for the freestanding blobs in pie/: no libc, no
 * errno.  Every call returns the kernel's value: negative errno on error. */
#ifndef LMPROC_PIE_SYSCALL_H
#define LMPROC_PIE_SYSCALL_H

#include <asm/unistd.h>

static inline long sys_call6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define SYS0(nr) sys_call6(nr, 0, 0, 0, 0, 0, 0)
#define SYS1(nr, a) sys_call6(nr, (long)(a), 0, 0, 0, 0, 0)
#define SYS2(nr, a, b) sys_call6(nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define SYS3(nr, a, b, c) sys_call6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS4(nr, a, b, c, d) sys_call6(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SYS5(nr, a, b, c, d, e)                                                \
	sys_call6(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define SYS6(nr, a, b, c, d, e, f)                                             \
	sys_call6(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

#define sys_read(fd, buf, n) SYS3(__NR_read, fd, buf, n)
#define sys_write(fd, buf, n) SYS3(__NR_write, fd, buf, n)
#define sys_pread(fd, buf, n, off) SYS4(__NR_pread64, fd, buf, n, off)
#define sys_close(fd) SYS1(__NR_close, fd)
#define sys_mmap(a, l, p, f, fd, o) SYS6(__NR_mmap, a, l, p, f, fd, o)
#define sys_munmap(a, l) SYS2(__NR_munmap, a, l)
#define sys_shmat(id, a, f) SYS3(__NR_shmat, id, a, f)
#define sys_mprotect(a, l, p) SYS3(__NR_mprotect, a, l, p)
#define sys_mremap(a, ol, nl, f, na) SYS5(__NR_mremap, a, ol, nl, f, na)
#define sys_io_setup(n, ctx) SYS2(__NR_io_setup, n, ctx)
#define sys_io_submit(ctx, n, cbs) SYS3(__NR_io_submit, ctx, n, cbs)
#define sys_madvise(a, l, adv) SYS3(__NR_madvise, a, l, adv)
#define sys_rt_sigaction(sig, act, oact, sz) SYS4(__NR_rt_sigaction, sig, act, oact, sz)
#define sys_rt_sigprocmask(how, set, oset, sz) SYS4(__NR_rt_sigprocmask, how, set, oset, sz)
#define sys_rt_sigqueueinfo(pid, sig, info) SYS3(__NR_rt_sigqueueinfo, pid, sig, info)
#define sys_rt_tgsigqueueinfo(tgid, tid, sig, info)                            \
	SYS4(__NR_rt_tgsigqueueinfo, tgid, tid, sig, info)
#define sys_socket(d, t, p) SYS3(__NR_socket, d, t, p)
#define sys_connect(fd, a, l) SYS3(__NR_connect, fd, a, l)
#define sys_sendmsg(fd, m, f) SYS3(__NR_sendmsg, fd, m, f)
#define sys_recvmsg(fd, m, f) SYS3(__NR_recvmsg, fd, m, f)
#define sys_vmsplice(fd, iov, n, f) SYS4(__NR_vmsplice, fd, iov, n, f)
#define sys_getitimer(w, v) SYS2(__NR_getitimer, w, v)
#define sys_setitimer(w, n, o) SYS3(__NR_setitimer, w, n, o)
#define sys_prctl(o, a, b, c, d) SYS5(__NR_prctl, o, a, b, c, d)
#define sys_arch_prctl(c, a) SYS2(__NR_arch_prctl, c, a)
#define sys_rseq(p, l, f, s) SYS4(__NR_rseq, p, l, f, s)
#define sys_getpid() SYS0(__NR_getpid)
#define sys_gettid() SYS0(__NR_gettid)
#define sys_exit_group(c) SYS1(__NR_exit_group, c)
#define sys_kill(p, s) SYS2(__NR_kill, p, s)
#define sys_userfaultfd(f) SYS1(__NR_userfaultfd, f)
#define sys_fcntl(fd, c, a) SYS3(__NR_fcntl, fd, c, a)
#define sys_openat(d, p, f, m) SYS4(__NR_openat, d, p, f, m)
#define sys_lseek(fd, o, w) SYS3(__NR_lseek, fd, o, w)
#define sys_dup2(o, n) SYS2(__NR_dup2, o, n)
#define sys_sigaltstack(n, o) SYS2(__NR_sigaltstack, n, o)
#define sys_rt_sigpending(s, sz) SYS2(__NR_rt_sigpending, s, sz)
#define sys_rt_sigtimedwait(s, i, t, sz) SYS4(__NR_rt_sigtimedwait, s, i, t, sz)
#define sys_tgkill(tg, t, s) SYS3(__NR_tgkill, tg, t, s)
#define sys_clock_gettime(c, ts) SYS2(__NR_clock_gettime, c, ts)
#define sys_preadv(fd, iov, n, off) SYS5(__NR_preadv, fd, iov, n, off, 0)
#define sys_futex(u, op, v, t) SYS4(__NR_futex, u, op, v, t)
#define sys_prlimit64(p, r, n, o) SYS4(__NR_prlimit64, p, r, n, o)
#define sys_timer_create(c, ev, id) SYS3(__NR_timer_create, c, ev, id)
#define sys_timer_settime(id, f, n, o) SYS4(__NR_timer_settime, id, f, n, o)
#define sys_timer_gettime(id, v) SYS2(__NR_timer_gettime, id, v)
#define sys_timer_getoverrun(id) SYS1(__NR_timer_getoverrun, id)
#define sys_timer_delete(id) SYS1(__NR_timer_delete, id)
#define sys_setresuid(r, e, s) SYS3(__NR_setresuid, r, e, s)
#define sys_setresgid(r, e, s) SYS3(__NR_setresgid, r, e, s)
#define sys_setfsuid(u) SYS1(__NR_setfsuid, u)
#define sys_setfsgid(g) SYS1(__NR_setfsgid, g)
#define sys_setgroups(n, l) SYS2(__NR_setgroups, n, l)
#define sys_capset(h, d) SYS2(__NR_capset, h, d)
#define sys_capget(h, d) SYS2(__NR_capget, h, d)
#define sys_sched_setattr(p, a, f) SYS3(__NR_sched_setattr, p, a, f)
#define sys_sched_setaffinity(p, l, m) SYS3(__NR_sched_setaffinity, p, l, m)
#define sys_ioprio_set(w, p, v) SYS3(__NR_ioprio_set, w, p, v)

/* Freestanding code still gets memset/memcpy calls from the compiler. */
static inline void pie_memset(void *d, int c, unsigned long n)
{
	volatile unsigned char *p = d;

	while (n--)
		*p++ = c;
}

static inline void pie_memcpy(void *d, const void *s, unsigned long n)
{
	volatile unsigned char *dp = d;
	const unsigned char *sp = s;

	while (n--)
		*dp++ = *sp++;
}

#endif
