/* Parasite control, blob level (compare compel): maps the parasite into a
 * prepared task, runs its daemon, talks to it over the command socket and
 * cures the task of it.  Owns the memfd area and the socket; single
 * syscalls and the saved task state are parasite-syscall.c's.  Every step
 * has an undo that parasite_cure() runs on success and on any failure. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "common.h"
#include "fault.h"
#include "infect.h"
#include "interrupt.h"
#include "log.h"
#include "parasite-blob.h"
#include "parasite-syscall.h"
#include "parasite.h"

static const char memfd_name[INJECT_DATA_MAX] = "lmproc-parasite";

/* How long lmproc waits for the parasite to connect or answer before it
 * stops it by force.  Commands are bounded (vmsplice never exceeds the
 * pipe's room), so only a hung or dying parasite takes this long. */
#define PARASITE_TIMEOUT_MS 10000
#define POLL_SLICE_MS 10

#define EFLAGS_TF 0x100UL
#define EFLAGS_DF 0x400UL
#define EFLAGS_AC 0x40000UL

#define BLOB_SIZE max(BLOB_MEM_SIZE_PARASITE, (unsigned long)parasite_blob_size)

static unsigned long parasite_trap_ip(struct parasite_ctl *ctl)
{
	return ctl->remote_map + parasite_export_trap_off + 1;
}

/* Creates the listening socket in the task's network namespace, where
 * the parasite's connect() looks the abstract name up. */
static int listen_in_netns(struct parasite_ctl *ctl, struct sockaddr_un *addr, socklen_t *addr_len)
{
	cleanup_close int self_ns = -1, task_ns = -1;
	struct stat self_st, task_st;
	char path[64];
	int fd, len, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", ctl->pid);
	if (stat("/proc/thread-self/ns/net", &self_st) || stat(path, &task_st)) {
		pr_perror("Can't stat the network namespace of pid %d", ctl->pid);
		return -errno;
	}
	if (self_st.st_ino != task_st.st_ino || self_st.st_dev != task_st.st_dev) {
		self_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		task_ns = open(path, O_RDONLY | O_CLOEXEC);
		if (self_ns < 0 || task_ns < 0 || setns(task_ns, CLONE_NEWNET)) {
			pr_perror("Can't enter the network namespace of pid %d", ctl->pid);
			return -errno;
		}
	}

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	len = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "lmproc-parasite.%d.%d.%llu",
		       getpid(), ctl->pid, (unsigned long long)now_ns());
	*addr_len = offsetof(struct sockaddr_un, sun_path) + 1 + len;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, *addr_len) || listen(fd, 1)) {
		err = -errno;
		pr_perror("Can't listen for the parasite of pid %d", ctl->pid);
	}
	if (self_ns >= 0 && setns(self_ns, CLONE_NEWNET)) {
		keep_first(&err, -errno);
		pr_perror("Can't return to lmproc's network namespace from pid %d's", ctl->pid);
	}
	if (err) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	ctl->listen_fd = fd;
	return 0;
}

/* Reads or writes LEN bytes at OFF of the area through lmproc's fd. */
static int area_io(struct parasite_ctl *ctl, bool write, size_t off, void *buf, size_t len)
{
	off_t pos = PARASITE_AREA_OFF(BLOB_SIZE) + off;
	ssize_t n;

	n = write ? pwrite(ctl->local_fd, buf, len, pos) : pread(ctl->local_fd, buf, len, pos);
	if (n != (ssize_t)len) {
		pr_perror("Can't %s the parasite area of pid %d", write ? "write" : "read",
			  ctl->pid);
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

/* The blob and the area's head, written through lmproc's fd: the area
 * takes over closing the task's memfd fd from here on. */
static int write_area(struct parasite_ctl *ctl, const struct sockaddr_un *addr, socklen_t addr_len)
{
	struct parasite_area head;

	if (pwrite(ctl->local_fd, parasite_blob, parasite_blob_size, 0) !=
	    (ssize_t)parasite_blob_size) {
		pr_perror("Can't write the parasite blob for pid %d", ctl->pid);
		return -errno ? -errno : -EIO;
	}
	memset(&head, 0, PARASITE_AREA_HEAD);
	head.magic = PARASITE_MAGIC;
	/* listen_in_netns() names stay under 60 bytes. */
	head.addr_len = min(addr_len, (socklen_t)PARASITE_ADDR_MAX);
	memcpy(head.addr, addr, head.addr_len);
	head.memfd_fd = ctl->remote_fd;
	head.sk_fd = -1;
	head.pipe_fd = -1;
	if (area_io(ctl, true, 0, &head, PARASITE_AREA_HEAD))
		return -EIO;
	ctl->remote_fd = -1;
	return 0;
}

/* The frame goes above the parasite's stack, written once the mapping's
 * address is known. */
static int write_frame(struct parasite_ctl *ctl, void *frame, size_t len)
{
	off_t off = PARASITE_FRAME_OFF(BLOB_SIZE);

	parasite_frame_place(frame, ctl->remote_map + off);
	if (pwrite(ctl->local_fd, frame, len, off) != (ssize_t)len) {
		pr_perror("Can't write the parasite's signal frame for pid %d", ctl->pid);
		return -errno ? -errno : -EIO;
	}
	return 0;
}

/* memfd_create in the task, opened and filled by lmproc through /proc,
 * mapped in the task, populated at once (cheaper than its faults). */
static int map_area(struct parasite_ctl *ctl, const struct sockaddr_un *addr, socklen_t addr_len)
{
	unsigned long args[6] = {ctl->code_addr + 8, MFD_CLOEXEC};
	void *frame = NULL;
	size_t frame_len;
	char path[64];
	long res;
	int ret, memfd;

	ret = parasite_frame_build(ctl, &frame, &frame_len);
	if (ret)
		return ret;
	ctl->map_size = PARASITE_FRAME_OFF(BLOB_SIZE) + PARASITE_ALIGN(frame_len);
	ret = task_remote_call(ctl, &res, "memfd_create", __NR_memfd_create, args, memfd_name,
			       sizeof(memfd_name));
	if (ret)
		goto out;
	memfd = ctl->remote_fd = res;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", ctl->pid, ctl->remote_fd);
	ctl->local_fd = open(path, O_RDWR | O_CLOEXEC);
	if (ctl->local_fd < 0 || ftruncate(ctl->local_fd, ctl->map_size)) {
		pr_perror("Can't open or size the parasite memfd %s", path);
		ret = -errno;
		goto out;
	}
	ret = write_area(ctl, addr, addr_len);
	if (ret)
		goto out;

	args[0] = 0;
	args[1] = ctl->map_size;
	args[2] = PROT_READ | PROT_WRITE | PROT_EXEC;
	args[3] = MAP_SHARED | MAP_POPULATE;
	args[4] = memfd;
	args[5] = 0;
	ret = task_remote_call(ctl, &res, "mmap of the parasite", __NR_mmap, args, NULL, 0);
	if (ret)
		goto out;
	ctl->remote_map = res;
	ret = write_frame(ctl, frame, frame_len);
out:
	free(frame);
	return ret;
}

/* Points the task at the blob's entry, on the parasite stack, and lets
 * it go: from here on only the socket or a ptrace stop talks to it. */
static int start_daemon(struct parasite_ctl *ctl)
{
	struct user_regs_struct regs = ctl->orig_regs;
	int ret;

	regs.rip = ctl->remote_map + parasite_export_entry_off;
	regs.rsp = ctl->remote_map + PARASITE_FRAME_OFF(BLOB_SIZE);
	regs.rdi = ctl->remote_map + PARASITE_AREA_OFF(BLOB_SIZE);
	regs.orig_rax = -1;
	/* The C ABI wants DF clear; TF or AC would trap inside the blob. */
	regs.eflags &= ~(EFLAGS_TF | EFLAGS_DF | EFLAGS_AC);
	ret = task_set_regs(ctl, &regs);
	if (!ret)
		ret = task_block_signals(ctl);
	if (!ret)
		ret = task_resume(ctl);
	if (!ret)
		ctl->state = TASK_IN_PARASITE;
	return ret;
}

/* A leader's death is reported only once lmproc reaped the other
 * threads, and a dead parasite's socket just ends: look for the death
 * instead of waiting it out.  The dump names the process (pstree.c). */
static bool task_died(struct parasite_ctl *ctl, const char *what)
{
	if (!thread_dead(ctl->pid))
		return false;
	ctl->state = TASK_GONE;
	pr_info("pid %d died while lmproc waited for %s from its parasite\n", ctl->pid, what);
	return true;
}

/* Checks the task without blocking while lmproc waits for the parasite:
 * 0 if it runs on (a signal for it is deferred), else why it stopped. */
static int check_parasite(struct parasite_ctl *ctl, const char *what)
{
	struct user_regs_struct regs;
	int status, ret;

	if (waitpid(ctl->pid, &status, __WALL | WNOHANG) != ctl->pid)
		return task_died(ctl, what) ? -ESRCH : 0;
	ret = task_handle_status(ctl, status, parasite_trap_ip(ctl), &regs);
	if (ret <= 0)
		return ret;
	pr_err("The parasite in pid %d quit while lmproc waited for %s: %s\n", ctl->pid, what,
	       strerror(-(long)regs.rax));
	return -ECONNRESET;
}

/* Waits until FD is readable while watching the parasite: a signal for
 * the task is deferred, a trap or fault of the parasite ends the wait. */
static int wait_parasite(struct parasite_ctl *ctl, int fd, const char *what)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint64_t deadline = now_us() + PARASITE_TIMEOUT_MS * 1000ULL;
	int ret;

	for (;;) {
		ret = poll(&pfd, 1, POLL_SLICE_MS);
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR) {
			pr_perror("Can't poll the parasite socket of pid %d", ctl->pid);
			return -errno;
		}
		ret = check_parasite(ctl, what);
		if (ret)
			return ret;
		if (now_us() > deadline) {
			pr_err("The parasite in pid %d did not answer (%s) in %d ms\n", ctl->pid,
			       what, PARASITE_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
	}
}

/* Accepts the parasite's connection, refusing anyone else who found the
 * abstract name in the task's network namespace. */
static int accept_parasite(struct parasite_ctl *ctl)
{
	struct ucred cred;
	socklen_t len;
	char path[64];
	int sk, ret;

	for (;;) {
		len = sizeof(cred);
		ret = wait_parasite(ctl, ctl->listen_fd, "its connection");
		if (ret)
			return ret;
		sk = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (sk < 0) {
			pr_perror("Can't accept the parasite of pid %d", ctl->pid);
			return -errno;
		}
		if (getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
			pr_perror("Can't get the parasite's credentials for pid %d", ctl->pid);
			close(sk);
			return -errno;
		}
		snprintf(path, sizeof(path), "/proc/%d/task/%d", cred.pid, ctl->pid);
		if (access(path, F_OK) == 0)
			break;
		pr_warn("pid %d connected to the parasite socket of pid %d: refused\n", cred.pid,
			ctl->pid);
		close(sk);
	}
	ctl->sk = sk;
	close(ctl->listen_fd);
	ctl->listen_fd = -1;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* PID's open fds, sorted, into *FDS (*NR). */
static int list_task_fds(pid_t pid, int **fds, size_t *nr)
{
	char path[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	*fds = NULL;
	*nr = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (*nr == cap) {
			int *n = realloc(*fds, (cap = cap ? 2 * cap : 64) * sizeof(*n));

			if (!n) {
				closedir(d);
				return -ENOMEM;
			}
			*fds = n;
		}
		(*fds)[(*nr)++] = atoi(de->d_name);
	}
	closedir(d);
	qsort(*fds, *nr, sizeof(**fds), cmp_int);
	return 0;
}

/* The fds the parasite made that the area does not name (see
 * fds_before), closed. */
static int close_strays(struct parasite_ctl *ctl)
{
	int *now = NULL, ret;
	size_t nr = 0;

	if (!ctl->fds_before)
		return 0;
	ret = list_task_fds(ctl->pid, &now, &nr);
	for (size_t i = 0; i < nr && !ret; i++) {
		int fd = now[i];

		if (bsearch(&fd, ctl->fds_before, ctl->nr_fds_before, sizeof(fd), cmp_int))
			continue;
		pr_warn("pid %d: fd %d the parasite made and did not note is closed\n", ctl->pid,
			fd);
		ret = task_close_fd(ctl, &fd);
	}
	free(now);
	return ret;
}

int parasite_infect(struct parasite_ctl *ctl)
{
	struct sockaddr_un addr;
	socklen_t addr_len = 0;
	int ret;

	if (ctl->state != TASK_STOPPED || ctl->remote_map) {
		pr_err("pid %d is already infected or not stopped\n", ctl->pid);
		return -EBUSY;
	}
	/* Listed before the area's memfd exists: the parasite closes it
	 * first thing, and its socket may then take that number. */
	ret = list_task_fds(ctl->pid, &ctl->fds_before, &ctl->nr_fds_before);
	if (!ret)
		ret = listen_in_netns(ctl, &addr, &addr_len);
	if (!ret)
		ret = map_area(ctl, &addr, addr_len);
	if (!ret)
		ret = start_daemon(ctl);
	if (ret)
		return ret;
	if (fault_injected("parasite-infect"))
		return -EIO;
	ret = accept_parasite(ctl);
	/* The test's moment to kill lmproc while the daemon serves it. */
	if (!ret && fault_injected("parasite-stop-in-daemon"))
		raise(SIGSTOP);
	return ret;
}

static const char *cmd_name(uint32_t cmd)
{
	switch (cmd) {
	case PARASITE_CMD_DUMP_SIGACTIONS:
		return "dump-sigactions";
	case PARASITE_CMD_VMSPLICE:
		return "vmsplice";
	case PARASITE_CMD_FINI:
		return "fini";
	case PARASITE_CMD_DUMP_MISC:
		return "dump-misc";
	case PARASITE_CMD_DUMP_TIMERS:
		return "dump-timers";
	}
	return "unknown";
}

static int send_cmd(struct parasite_ctl *ctl, struct parasite_cmd *cmd, int pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {cmd, sizeof(*cmd)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *ch;

	if (pass_fd >= 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), &pass_fd, sizeof(int));
	}
	if (sendmsg(ctl->sk, &mh, MSG_NOSIGNAL) != sizeof(*cmd)) {
		if (task_died(ctl, cmd_name(cmd->cmd)))
			return -ESRCH;
		pr_perror("Can't send %s to the parasite of pid %d", cmd_name(cmd->cmd), ctl->pid);
		return errno ? -errno : -EIO;
	}
	return 0;
}

static int recv_reply(struct parasite_ctl *ctl, const struct parasite_cmd *cmd,
		      struct parasite_reply *reply)
{
	ssize_t n;
	int ret;

	ret = wait_parasite(ctl, ctl->sk, cmd_name(cmd->cmd));
	if (ret)
		return ret;
	n = recv(ctl->sk, reply, sizeof(*reply), MSG_DONTWAIT);
	if (n <= 0 && task_died(ctl, cmd_name(cmd->cmd)))
		return -ESRCH;
	if (n < 0) {
		pr_perror("Can't read the parasite's %s reply in pid %d", cmd_name(cmd->cmd),
			  ctl->pid);
		return -errno;
	}
	if (n != sizeof(*reply) || reply->cmd != cmd->cmd || reply->seq != cmd->seq) {
		pr_err("Bad %s reply from the parasite of pid %d (%zd bytes, seq %u)\n",
		       cmd_name(cmd->cmd), ctl->pid, n, n >= 8 ? reply->seq : 0);
		return -EBADMSG;
	}
	return 0;
}

/* One command round trip.  A transport failure leaves the stream out of
 * step, so it marks it broken: cure then stops the parasite by force. */
static int parasite_cmd(struct parasite_ctl *ctl, uint32_t nr, uint32_t flags, uint32_t n,
			int pass_fd, struct parasite_reply *reply)
{
	struct parasite_cmd cmd = {.cmd = nr, .seq = ++ctl->seq, .flags = flags, .nr = n};
	int ret;

	if (ctl->state != TASK_IN_PARASITE || ctl->sk < 0 || ctl->sk_broken) {
		pr_err("No parasite to run %s in pid %d\n", cmd_name(nr), ctl->pid);
		return -ENOTCONN;
	}
	ret = send_cmd(ctl, &cmd, pass_fd);
	if (!ret && fault_injected("parasite-cmd"))
		ret = -EIO;
	if (!ret)
		ret = recv_reply(ctl, &cmd, reply);
	if (ret) {
		ctl->sk_broken = true;
		return ret;
	}
	if (reply->ret < 0) {
		pr_err("The parasite's %s failed in pid %d: %s\n", cmd_name(nr), ctl->pid,
		       strerror(-reply->ret));
		return reply->ret;
	}
	return 0;
}

_Static_assert(sizeof(struct parasite_sigaction) == sizeof(struct parasite_ksigaction),
	       "infect.h and parasite.h disagree on struct sigaction");

int parasite_dump_sigactions(struct parasite_ctl *ctl, struct parasite_sigaction act[64])
{
	struct parasite_reply reply;
	int ret;

	ret = parasite_cmd(ctl, PARASITE_CMD_DUMP_SIGACTIONS, 0, 0, -1, &reply);
	if (ret)
		return ret;
	ret = area_io(ctl, false, offsetof(struct parasite_area, bulk), act,
		      PARASITE_NSIG * sizeof(*act));
	/* Our traps reset an ignored SIGTRAP; the cure sets it back. */
	if (!ret && ctl->trap_ignored)
		act[SIGTRAP - 1].handler = (uint64_t)SIG_IGN;
	return ret;
}

int parasite_dump_misc(struct parasite_ctl *ctl, struct parasite_misc *misc)
{
	struct parasite_reply reply;
	int ret;

	ret = parasite_cmd(ctl, PARASITE_CMD_DUMP_MISC, 0, 0, -1, &reply);
	if (ret)
		return ret;
	return area_io(ctl, false, offsetof(struct parasite_area, bulk), misc, sizeof(*misc));
}

int parasite_dump_timers(struct parasite_ctl *ctl, struct parasite_posix_timer *t, size_t nr)
{
	const size_t off = offsetof(struct parasite_area, bulk);
	struct parasite_reply reply;
	size_t done, n;
	int ret = 0;

	for (done = 0; !ret && done < nr; done += n) {
		n = min(nr - done, (size_t)PARASITE_MAX_TIMERS);
		ret = area_io(ctl, true, off, t + done, n * sizeof(*t));
		if (!ret)
			ret = parasite_cmd(ctl, PARASITE_CMD_DUMP_TIMERS, 0, n, -1, &reply);
		if (!ret)
			ret = area_io(ctl, false, off, t + done, n * sizeof(*t));
	}
	return ret;
}

/* Pipe buffers hold at most a page each: the slots IOV needs. */
static unsigned long iov_pages(const struct iovec *iov, unsigned int nr, size_t *bytes)
{
	unsigned long pages = 0, start, end;
	unsigned int i;

	*bytes = 0;
	for (i = 0; i < nr; i++) {
		if (!iov[i].iov_len)
			continue;
		start = (unsigned long)iov[i].iov_base & PAGE_MASK;
		end = ((unsigned long)iov[i].iov_base + iov[i].iov_len + PAGE_SIZE - 1) & PAGE_MASK;
		pages += (end - start) / PAGE_SIZE;
		*bytes += iov[i].iov_len;
	}
	return pages;
}

/* The parasite's vmsplice() blocks on a full pipe while lmproc waits for
 * its reply: refuse what cannot fit instead of deadlocking. */
static int check_pipe_room(struct parasite_ctl *ctl, int pipe_wr, unsigned long pages)
{
	int size, used = 0;
	unsigned long room;

	size = fcntl(pipe_wr, F_GETPIPE_SZ);
	if (size < 0 || ioctl(pipe_wr, FIONREAD, &used)) {
		pr_perror("Can't get the room left in pipe fd %d", pipe_wr);
		return -errno;
	}
	room = size / PAGE_SIZE - (used + PAGE_SIZE - 1) / PAGE_SIZE;
	if (pages > room) {
		pr_err("vmsplice of %lu pages of pid %d does not fit in pipe fd %d (%lu free)\n",
		       pages, ctl->pid, pipe_wr, room);
		return -E2BIG;
	}
	return 0;
}

/* The fd to pass with the next VMSPLICE, or -1 if the parasite holds
 * this pipe already. */
static int pipe_to_pass(struct parasite_ctl *ctl, int pipe_wr)
{
	struct stat st;

	if (fstat(pipe_wr, &st) || !S_ISFIFO(st.st_mode)) {
		pr_err("fd %d is not a pipe for the parasite of pid %d\n", pipe_wr, ctl->pid);
		return -EBADF;
	}
	if (ctl->pipe_passed && st.st_dev == ctl->pipe_dev && st.st_ino == ctl->pipe_ino)
		return -1;
	ctl->pipe_dev = st.st_dev;
	ctl->pipe_ino = st.st_ino;
	return pipe_wr;
}

int parasite_vmsplice(struct parasite_ctl *ctl, int pipe_wr, const struct iovec *iov,
		      unsigned int nr)
{
	struct parasite_iovec batch[PARASITE_MAX_IOV];
	struct parasite_reply reply;
	unsigned int i, n, done = 0;
	size_t bytes, spliced = 0;
	int pass, ret;

	ret = check_pipe_room(ctl, pipe_wr, iov_pages(iov, nr, &bytes));
	if (ret)
		return ret;
	pass = pipe_to_pass(ctl, pipe_wr);
	if (pass == -EBADF)
		return pass;
	while (done < nr) {
		n = min(nr - done, (unsigned int)PARASITE_MAX_IOV);
		for (i = 0; i < n; i++) {
			batch[i].base = (uint64_t)iov[done + i].iov_base;
			batch[i].len = iov[done + i].iov_len;
		}
		ret = area_io(ctl, true, offsetof(struct parasite_area, bulk), batch,
			      n * sizeof(batch[0]));
		if (ret)
			return ret;
		memset(&reply, 0, sizeof(reply));
		ret = parasite_cmd(ctl, PARASITE_CMD_VMSPLICE, pass >= 0 ? PARASITE_F_NEW_PIPE : 0,
				   n, pass, &reply);
		/* After a failure the pipe is passed again: the parasite
		 * replaces whatever it holds. */
		ctl->pipe_passed = !ret;
		if (!ret)
			pass = -1;
		spliced += reply.value;
		if (ret)
			return ret;
		done += n;
	}
	if (spliced != bytes) {
		pr_err("The parasite of pid %d spliced %zu of %zu bytes\n", ctl->pid, spliced,
		       bytes);
		return -EIO;
	}
	return 0;
}

/* FINI: the parasite answers, closes its fds (lmproc sees the socket's
 * end) and traps; the task gets its own registers back at once and is
 * parked (parasite-syscall.c): lmproc's death from there on leaves only
 * the mapping. */
static int stop_daemon(struct parasite_ctl *ctl)
{
	struct user_regs_struct regs;
	struct parasite_reply reply;
	char byte;
	int ret;

	ret = parasite_cmd(ctl, PARASITE_CMD_FINI, 0, 0, -1, &reply);
	if (!ret)
		ret = wait_parasite(ctl, ctl->sk, "its end");
	if (!ret && recv(ctl->sk, &byte, 1, MSG_DONTWAIT) != 0) {
		pr_err("The parasite of pid %d did not close its socket after fini\n", ctl->pid);
		ret = -EBADMSG;
	}
	if (!ret)
		ret = task_wait_stop(ctl, parasite_trap_ip(ctl), &regs);
	if (!ret && regs.rax) {
		pr_err("The parasite of pid %d ended with %s\n", ctl->pid,
		       strerror(-(long)regs.rax));
		ret = (long)regs.rax;
	}
	if (ctl->state == TASK_STOPPED) {
		keep_first(&ret, task_set_regs(ctl, &ctl->orig_regs));
		keep_first(&ret, task_unblock_signals(ctl));
		keep_first(&ret, park_start(ctl) ?: park_wait(ctl));
	}
	return ret;
}

/* Stops a parasite that can't be told to: wherever it is, even inside a
 * syscall, the interrupt stop is one where registers can be put back. */
static int interrupt_daemon(struct parasite_ctl *ctl)
{
	struct user_regs_struct regs;
	int ret;

	pr_warn("Stopping the parasite of pid %d by force\n", ctl->pid);
	if (ptrace(PTRACE_INTERRUPT, ctl->pid, 0, 0)) {
		pr_perror("Can't interrupt pid %d", ctl->pid);
		return -errno;
	}
	ctl->interrupting = true;
	ret = task_wait_stop(ctl, parasite_trap_ip(ctl), &regs);
	ctl->interrupting = false;
	return ret;
}

/* Everything the parasite left in the task: the fds it did not get to
 * close (the area says which), the memfd fd, the mapping. */
static int unmap_remote(struct parasite_ctl *ctl)
{
	unsigned long args[6] = {ctl->remote_map, ctl->map_size};
	struct parasite_area head;
	long res;
	int ret = 0, err;

	if (ctl->local_fd >= 0 && !area_io(ctl, false, 0, &head, PARASITE_AREA_HEAD) &&
	    head.magic == PARASITE_MAGIC) {
		if (head.memfd_fd >= 0)
			keep_first(&ret, task_close_fd(ctl, &head.memfd_fd));
		if (head.pipe_fd >= 0)
			keep_first(&ret, task_close_fd(ctl, &head.pipe_fd));
		if (head.sk_fd >= 0)
			keep_first(&ret, task_close_fd(ctl, &head.sk_fd));
	}
	if (ctl->remote_fd >= 0)
		keep_first(&ret, task_close_fd(ctl, &ctl->remote_fd));
	keep_first(&ret, close_strays(ctl));
	if (ctl->remote_map) {
		err = task_remote_call(ctl, &res, "munmap of the parasite", __NR_munmap, args, NULL,
				       0);
		if (!err)
			ctl->remote_map = 0;
		keep_first(&ret, err);
	}
	return ret;
}

static void release_local(struct parasite_ctl *ctl)
{
	free(ctl->fds_before);
	if (ctl->local_fd >= 0)
		close(ctl->local_fd);
	if (ctl->sk >= 0)
		close(ctl->sk);
	if (ctl->listen_fd >= 0)
		close(ctl->listen_fd);
	free(ctl);
}

int parasite_cure(struct parasite_ctl *ctl)
{
	int ret = 0;

	if (!ctl)
		return 0;
	if (ctl->state == TASK_IN_PARASITE && ctl->sk >= 0 && !ctl->sk_broken)
		keep_first(&ret, stop_daemon(ctl));
	if (ctl->state == TASK_IN_PARASITE)
		keep_first(&ret, interrupt_daemon(ctl));
	if (ctl->state == TASK_STOPPED)
		keep_first(&ret, unmap_remote(ctl));
	if (ctl->state == TASK_STOPPED)
		keep_first(&ret, task_restore(ctl));
	if (ctl->state == TASK_IN_PARASITE)
		pr_err("pid %d is left running the parasite: its state is lost\n", ctl->pid);
	release_local(ctl);
	return ret;
}
