/* The parasite: runs inside the dumped task, on its own stack in the
 * memfd area lmproc mapped there, and answers lmproc's commands
 * (pie/include/parasite.h) until FINI.  If lmproc goes away first (its
 * socket ends: killed, even by SIGKILL), the parasite cures the task
 * itself: it closes its fds and returns through the signal frame lmproc
 * left above its stack to the task's own registers, FPU state and
 * signal mask; only its mapping stays behind.  Freestanding: no libc, no
 * allocation, no globals (the image is not relocated, so no pointers in
 * data), no logging: errors go back as negative errno in the reply.
 * It must leave the task's fd table as it found it. */
#include <stdint.h>
#include <asm/errno.h>

#include "parasite.h"
#include "pie-syscall.h"

/* From the kernel's include/linux/socket.h and net.h (not in the uapi). */
#define PIE_AF_UNIX 1
#define PIE_SOCK_SEQPACKET 5
#define PIE_SOCK_CLOEXEC 02000000
#define PIE_SOL_SOCKET 1
#define PIE_SCM_RIGHTS 1
#define PIE_MSG_CMSG_CLOEXEC 0x40000000
#define PIE_MSG_CTRUNC 0x8
#define PIE_MSG_NOSIGNAL 0x4000
#define PIE_SIGPIPE 13
#define PIE_UIO_MAXIOV 1024

struct pie_msghdr {
	void *name;
	int namelen;
	struct parasite_iovec *iov;
	unsigned long iovlen;
	void *control;
	unsigned long controllen;
	unsigned int flags;
};

struct pie_cmsg_fd {
	unsigned long len;
	int level;
	int type;
	int fd;
	int pad;
};

long parasite_daemon(struct parasite_area *area);
void parasite_sigreturn(uint64_t *uc) __attribute__((noreturn));

/* Marked closed only after the close: a parasite stopped in between
 * costs lmproc one close() that fails with EBADF, never a leak. */
static void close_own_fd(int32_t *fd)
{
	if (*fd < 0)
		return;
	sys_close(*fd);
	*fd = -1;
}

static int connect_lmproc(struct parasite_area *area)
{
	long sk, ret;

	sk = sys_socket(PIE_AF_UNIX, PIE_SOCK_SEQPACKET | PIE_SOCK_CLOEXEC, 0);
	if (sk < 0)
		return sk;
	area->sk_fd = sk;
	ret = sys_connect(sk, area->addr, area->addr_len);
	if (ret < 0)
		return ret;
	return 0;
}

/* Receives one command; *fd gets a passed fd or -1.  Returns the message
 * size, 0 when lmproc closed the socket, or -errno. */
static long recv_cmd(int sk, struct parasite_cmd *cmd, int *fd)
{
	struct parasite_iovec iov = {(uint64_t)cmd, sizeof(*cmd)};
	struct pie_cmsg_fd cmsg;
	struct pie_msghdr mh;
	long ret;

	*fd = -1;
	do {
		pie_memset(&mh, 0, sizeof(mh));
		pie_memset(&cmsg, 0, sizeof(cmsg));
		mh.iov = &iov;
		mh.iovlen = 1;
		mh.control = &cmsg;
		mh.controllen = sizeof(cmsg);
		ret = sys_recvmsg(sk, &mh, PIE_MSG_CMSG_CLOEXEC);
	} while (ret == -EINTR);
	if (ret <= 0)
		return ret;
	if (mh.controllen >= 20 && cmsg.len >= 20 && cmsg.level == PIE_SOL_SOCKET &&
	    cmsg.type == PIE_SCM_RIGHTS)
		*fd = cmsg.fd;
	if (mh.flags & PIE_MSG_CTRUNC)
		return -EBADMSG;
	return ret;
}

static long send_reply(int sk, struct parasite_reply *reply)
{
	struct parasite_iovec iov = {(uint64_t)reply, sizeof(*reply)};
	struct pie_msghdr mh;
	long ret;

	pie_memset(&mh, 0, sizeof(mh));
	mh.iov = &iov;
	mh.iovlen = 1;
	do {
		ret = sys_sendmsg(sk, &mh, PIE_MSG_NOSIGNAL);
	} while (ret == -EINTR);
	return ret < 0 ? ret : 0;
}

static long dump_sigactions(struct parasite_area *area)
{
	struct parasite_ksigaction *act = area->bulk.sigactions;
	long ret;
	int sig;

	pie_memset(act, 0, sizeof(area->bulk.sigactions));
	for (sig = 1; sig <= PARASITE_NSIG; sig++) {
		/* SIGKILL and SIGSTOP have no disposition to save. */
		if (sig == 9 || sig == 19)
			continue;
		ret = sys_rt_sigaction(sig, 0, &act[sig - 1], sizeof(uint64_t));
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* From the kernel's include/uapi/linux/prctl.h. */
#define PIE_PR_GET_DUMPABLE 3
#define PIE_PR_GET_CHILD_SUBREAPER 37
#define PIE_PR_GET_THP_DISABLE 42
#define PIE_PR_GET_MEMORY_MERGE 68

static long dump_misc(struct parasite_area *area)
{
	struct parasite_misc *m = &area->bulk.misc;
	long ret;
	int i;

	pie_memset(m, 0, sizeof(*m));
	for (i = 0; i < PARASITE_NR_ITIMERS; i++) {
		ret = sys_getitimer(i, &m->itimers[i]);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < PARASITE_NR_RLIMITS; i++) {
		ret = sys_prlimit64(0, i, 0, &m->rlimits[i]);
		if (ret < 0)
			return ret;
	}
	ret = sys_prctl(PIE_PR_GET_DUMPABLE, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	m->dumpable = ret;
	ret = sys_prctl(PIE_PR_GET_THP_DISABLE, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	m->thp_disable = ret;
	/* EINVAL: a kernel without KSM, where nothing is merged. */
	ret = sys_prctl(PIE_PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	m->memory_merge = ret == -EINVAL ? 0 : ret;
	if (ret < 0 && ret != -EINVAL)
		return ret;
	return sys_prctl(PIE_PR_GET_CHILD_SUBREAPER, &m->child_subreaper, 0, 0, 0);
}

static long dump_timers(struct parasite_area *area, uint32_t nr)
{
	struct parasite_posix_timer *t = area->bulk.timers;
	long ret;

	if (nr > PARASITE_MAX_TIMERS)
		return -E2BIG;
	for (uint32_t i = 0; i < nr; i++, t++) {
		ret = sys_timer_gettime(t->id, &t->interval_sec);
		if (ret < 0)
			return ret;
		ret = sys_timer_getoverrun(t->id);
		if (ret < 0)
			return ret;
		t->overrun = ret;
	}
	return 0;
}

/* Splices IOV[0..NR) into the pipe, resuming after partial vmsplice()s
 * (the iovecs are consumed in place).  *done counts the bytes spliced. */
static long vmsplice_all(int pipe_fd, struct parasite_iovec *iov, unsigned int nr, uint64_t *done)
{
	unsigned int i = 0, n;
	long ret;

	while (i < nr) {
		if (!iov[i].len) {
			i++;
			continue;
		}
		n = nr - i < PIE_UIO_MAXIOV ? nr - i : PIE_UIO_MAXIOV;
		ret = sys_vmsplice(pipe_fd, &iov[i], n, 0);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -EIO;
		*done += ret;
		while (ret > 0) {
			if ((uint64_t)ret < iov[i].len) {
				iov[i].base += ret;
				iov[i].len -= ret;
				break;
			}
			ret -= iov[i].len;
			i++;
		}
	}
	return 0;
}

static long do_vmsplice(struct parasite_area *area, struct parasite_cmd *cmd, int fd,
			uint64_t *done)
{
	if (cmd->flags & PARASITE_F_NEW_PIPE) {
		if (fd < 0)
			return -EBADF;
		close_own_fd(&area->pipe_fd);
		area->pipe_fd = fd;
	}
	if (area->pipe_fd < 0)
		return -EBADF;
	if (cmd->nr > PARASITE_MAX_IOV)
		return -E2BIG;
	return vmsplice_all(area->pipe_fd, area->bulk.iov, cmd->nr, done);
}

static struct parasite_sigframe *own_frame(struct parasite_area *area)
{
	return (struct parasite_sigframe *)((char *)area + PARASITE_AREA_SIZE +
					    PARASITE_STACK_SIZE);
}

/* Only a socket that is gone means lmproc is: while lmproc lives it
 * holds its end until the task is out of the parasite, and any other
 * error goes back to it through the trap. */
static int lmproc_gone(long ret)
{
	return ret == -ECONNRESET || ret == -ECONNREFUSED || ret == -EPIPE || ret == -ENOTCONN;
}

/* A vmsplice() into a pipe whose reader (lmproc) died raised SIGPIPE,
 * held pending by the parasite's mask: the task must not get it.  One
 * that was pending already when the parasite began is the task's. */
static void drop_own_sigpipe(uint64_t pending_before)
{
	uint64_t set = 1ULL << (PIE_SIGPIPE - 1), pending = 0;
	struct {
		long sec, nsec;
	} now = {0, 0};

	if (pending_before & set)
		return;
	if (sys_rt_sigpending(&pending, sizeof(pending)) < 0 || !(pending & set))
		return;
	sys_rt_sigtimedwait(&set, 0, &now, sizeof(set));
}

/* Serves commands until FINI or until lmproc goes away.  Returns 0 after
 * FINI, else the error that ended the loop; lmproc reads it in rax at the
 * trap that follows (parasite-head.S).  Never returns when lmproc is
 * gone: then it puts the task back by itself. */
long parasite_daemon(struct parasite_area *area)
{
	struct parasite_sigframe *frame = own_frame(area);
	struct parasite_reply reply;
	struct parasite_cmd cmd;
	uint64_t pending = 0;
	long ret, size;
	int fd, fini = 0;

	if (area->magic != PARASITE_MAGIC)
		return -EINVAL;
	/* The task's fd table must look as before: lmproc maps the area
	 * through this fd and leaves closing it to us. */
	close_own_fd(&area->memfd_fd);
	/* rt_sigreturn sets the signal stack from the frame: it must be
	 * the thread's own, which only the thread can read. */
	sys_sigaltstack(0, &frame->ss_sp);
	sys_rt_sigpending(&pending, sizeof(pending));
	ret = connect_lmproc(area);
	while (!ret) {
		size = recv_cmd(area->sk_fd, &cmd, &fd);
		if (size <= 0) {
			ret = size ? size : -ECONNRESET;
			if (fd >= 0)
				sys_close(fd);
			break;
		}
		pie_memset(&reply, 0, sizeof(reply));
		reply.cmd = cmd.cmd;
		reply.seq = cmd.seq;
		if (size != sizeof(cmd))
			reply.ret = -EBADMSG;
		else if (cmd.cmd == PARASITE_CMD_DUMP_SIGACTIONS)
			reply.ret = dump_sigactions(area);
		else if (cmd.cmd == PARASITE_CMD_DUMP_MISC)
			reply.ret = dump_misc(area);
		else if (cmd.cmd == PARASITE_CMD_DUMP_TIMERS)
			reply.ret = dump_timers(area, cmd.nr);
		else if (cmd.cmd == PARASITE_CMD_VMSPLICE)
			reply.ret = do_vmsplice(area, &cmd, fd, &reply.value);
		else if (cmd.cmd != PARASITE_CMD_FINI)
			reply.ret = -EINVAL;
		/* A passed fd that was not adopted as the pipe is not kept. */
		if (fd >= 0 && fd != area->pipe_fd)
			sys_close(fd);
		ret = send_reply(area->sk_fd, &reply);
		fini = size == sizeof(cmd) && cmd.cmd == PARASITE_CMD_FINI;
		if (fini)
			break;
	}
	close_own_fd(&area->pipe_fd);
	close_own_fd(&area->sk_fd);
	if (fini || !lmproc_gone(ret))
		return ret;
	drop_own_sigpipe(pending);
	parasite_sigreturn(&frame->uc_flags);
}
