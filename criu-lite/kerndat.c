/* Kernel feature probes (compare CRIU's kerndat.c).  Owns every test of
 * what this kernel allows: each one is an experiment on a throw-away
 * mapping or child, never a version check, and undoes all it did (children
 * killed and reaped, mappings unmapped, fds closed).  Must not keep state
 * between runs nor decide policy: callers read struct kerndat. */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/prctl.h>
#include <linux/userfaultfd.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "common.h"
#include "interrupt.h"
#include "kerndat.h"
#include "log.h"
#include "uapi-compat.h"

#define PROBE_PATTERN 0x5a
#define CAP_SYS_ADMIN_BIT 21
#define CAP_SYS_RESOURCE_BIT 24
#define CAP_CHECKPOINT_RESTORE_BIT 40

static const struct {
	const char *name;
	bool required;
} features[KD_NR_FEATURES] = {
	[KD_PTRACE_SEIZE] = { "ptrace_seize", true },
	[KD_PTRACE_RSEQ] = { "ptrace_rseq", true },
	[KD_PROCESS_VM_READV] = { "process_vm_readv", true },
	[KD_VMSPLICE] = { "vmsplice", false },
	[KD_MEMFD] = { "memfd", true },
	[KD_PIDFD_GETFD] = { "pidfd_getfd", false },
	[KD_CLONE3_SET_TID] = { "clone3_set_tid", true },
	[KD_PR_SET_MM_MAP] = { "pr_set_mm_map", true },
	[KD_MADV_POPULATE_WRITE] = { "madv_populate_write", false },
	[KD_SOFT_DIRTY] = { "soft_dirty", false },
	[KD_PAGEMAP_SCAN] = { "pagemap_scan", false },
	[KD_UFFD_WP_ASYNC] = { "uffd_wp_async", false },
	[KD_UFFD_REMOTE] = { "uffd_remote", false },
	[KD_BPF] = { "bpf", false },
	[KD_PF_TRACEPOINT] = { "pf_tracepoint", false },
	[KD_CAP_SYS_RESOURCE] = { "cap_sys_resource", false },
	[KD_CAP_CHECKPOINT_RESTORE] = { "cap_checkpoint_restore", false },
	[KD_CAP_SYS_ADMIN] = { "cap_sys_admin", false },
	[KD_VDSO] = { "vdso", true },
	[KD_XSAVE] = { "xsave", true },
	[KD_DIRTY_TRACKER] = { "dirty_tracker", false },
	[KD_SHMEM_MAP_FILES] = { "shmem_map_files", false },
	[KD_SHM_NEXT_ID] = { "shm_next_id", false },
	[KD_PTY_PEER] = { "pty_peer", false },
	[KD_TIMER_RESTORE_IDS] = { "timer_restore_ids", false },
	[KD_SYSVIPC_NEXT_ID] = { "sysvipc_next_id", false },
	[KD_MSG_COPY] = { "msg_copy", false },
};

const char *kerndat_feature_name(enum kd_feature f)
{
	return features[f].name;
}

int kerndat_feature_by_name(const char *name)
{
	for (int f = 0; f < KD_NR_FEATURES; f++)
		if (!strcmp(features[f].name, name))
			return f;
	return -1;
}

bool kerndat_required(enum kd_feature f)
{
	return features[f].required;
}

const char *kerndat_tracker_name(enum kd_tracker t)
{
	switch (t) {
	case KD_TRACKER_PAGEMAP_SCAN:
		return "pagemap-scan";
	case KD_TRACKER_SOFT_DIRTY:
		return "soft-dirty";
	default:
		return "none";
	}
}

/* Records the result of F; returns 0 if OK, -1 otherwise, so a probe can
 * end with "return kd_set(...)". */
int kd_set(struct kerndat *kd, enum kd_feature f, bool ok, const char *fmt, ...)
{
	va_list ap;

	kd->feat[f].ok = ok;
	va_start(ap, fmt);
	vsnprintf(kd->feat[f].why, sizeof(kd->feat[f].why), fmt, ap);
	va_end(ap);
	return ok ? 0 : -1;
}

/* kd_set() with "CALL: strerror(errno)" as the reason. */
int kd_fail(struct kerndat *kd, enum kd_feature f, const char *call)
{
	return kd_set(kd, f, false, "%s: %s", call, strerror(errno));
}

void *kd_map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

/* --- probes on a child: ptrace, remote memory, pidfd, remote uffd ---- */

/* A child that mirrors lmproc's layout (fork) but holds its own data in
 * AREA, and a userfaultfd it created itself, as a parasite would. */
struct probe_child {
	pid_t pid;
	int pidfd;
	int pipe_rd;
	int pipe_wr_nr;		/* the write end, open only in the child */
	int uffd_nr;		/* the child's uffd fd number, or -errno */
	unsigned char *area;	/* 2 pages, mapped before fork */
};

static void __attribute__((noreturn)) probe_child_main(struct probe_child *pc, pid_t parent)
{
	int uffd;

	/* Killed by lmproc when done, and with it if lmproc is killed: it
	 * must not hold the caller's stdout or the images directory. */
	helper_die_with(parent);
	helper_close_fds(pc->pipe_wr_nr);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int msg = uffd >= 0 ? uffd : -errno;

	memset(pc->area, PROBE_PATTERN, 2 * PAGE_SIZE);
	if (write(pc->pipe_wr_nr, &msg, sizeof(msg)) != sizeof(msg))
		_exit(1);
	for (;;)
		pause();
}

static void probe_child_stop(struct probe_child *pc)
{
	if (pc->pid > 0)
		reap(pc->pid);
	if (pc->pidfd >= 0)
		close(pc->pidfd);
	if (pc->pipe_rd >= 0)
		close(pc->pipe_rd);
	if (pc->area)
		munmap(pc->area, 2 * PAGE_SIZE);
}

/* Starts the child and waits for its uffd number; cleans up on failure. */
static int probe_child_start(struct probe_child *pc)
{
	pid_t parent;
	int p[2];

	*pc = (struct probe_child){ .pid = -1, .pidfd = -1, .pipe_rd = -1 };
	pc->area = kd_map_anon(2 * PAGE_SIZE);
	if (!pc->area)
		return -errno;
	if (pipe2(p, O_CLOEXEC)) {
		probe_child_stop(pc);
		return -errno;
	}
	pc->pipe_rd = p[0];
	pc->pipe_wr_nr = p[1];
	parent = getpid();
	pc->pid = fork();
	if (pc->pid == 0)
		probe_child_main(pc, parent);
	/* Only the child holds the write end: if it dies, read() sees EOF. */
	close(p[1]);
	if (pc->pid < 0 || read(pc->pipe_rd, &pc->uffd_nr, sizeof(int)) != sizeof(int)) {
		probe_child_stop(pc);
		return -ECHILD;
	}
	return 0;
}

static int probe_seize(struct kerndat *kd, struct probe_child *pc)
{
	int status;

	if (ptrace(PTRACE_SEIZE, pc->pid, 0, 0))
		return kd_fail(kd, KD_PTRACE_SEIZE, "PTRACE_SEIZE");
	if (ptrace(PTRACE_INTERRUPT, pc->pid, 0, 0))
		return kd_fail(kd, KD_PTRACE_SEIZE, "PTRACE_INTERRUPT");
	if (waitpid(pc->pid, &status, __WALL) != pc->pid || !WIFSTOPPED(status) ||
	    status >> 16 != PTRACE_EVENT_STOP)
		return kd_set(kd, KD_PTRACE_SEIZE, false, "no PTRACE_EVENT_STOP after INTERRUPT");
	return kd_set(kd, KD_PTRACE_SEIZE, true, "SEIZE + INTERRUPT stopped a child");
}

static int probe_rseq(struct kerndat *kd, struct probe_child *pc)
{
	struct lm_ptrace_rseq_configuration conf = {};
	long ret = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pc->pid, sizeof(conf), &conf);

	if (ret != sizeof(conf))
		return kd_fail(kd, KD_PTRACE_RSEQ, "PTRACE_GET_RSEQ_CONFIGURATION");
	if (!conf.rseq_abi_pointer)
		return kd_set(kd, KD_PTRACE_RSEQ, true, "works (no rseq registered by libc)");
	return kd_set(kd, KD_PTRACE_RSEQ, true, "rseq area %u bytes, signature %#x",
		      conf.rseq_abi_size, conf.signature);
}

/* The size of the NT_X86_XSTATE regset as ptrace gives it; 0 on failure. */
static uint32_t probe_xstate_regset(struct probe_child *pc)
{
	cleanup_free void *buf = malloc(16384);
	struct iovec iov = { .iov_base = buf, .iov_len = 16384 };

	if (!buf || ptrace(PTRACE_GETREGSET, pc->pid, NT_X86_XSTATE, &iov))
		return 0;
	return iov.iov_len;
}

static int probe_vm_readv(struct kerndat *kd, struct probe_child *pc)
{
	unsigned char buf[PAGE_SIZE];
	struct iovec local = { buf, sizeof(buf) };
	struct iovec remote = { pc->area, sizeof(buf) };
	ssize_t n = process_vm_readv(pc->pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return kd_fail(kd, KD_PROCESS_VM_READV, "process_vm_readv");
	if (n != (ssize_t)sizeof(buf) || buf[0] != PROBE_PATTERN ||
	    buf[PAGE_SIZE - 1] != PROBE_PATTERN)
		return kd_set(kd, KD_PROCESS_VM_READV, false,
			      "read %zd bytes, not the child's data", n);
	return kd_set(kd, KD_PROCESS_VM_READV, true, "read a page of a child");
}

/* Takes the child's end of the pipe and checks it is the same pipe. */
static int probe_pidfd(struct kerndat *kd, struct probe_child *pc)
{
	struct stat mine, theirs;
	cleanup_close int fd = -1;

	pc->pidfd = syscall(SYS_pidfd_open, pc->pid, 0);
	if (pc->pidfd < 0)
		return kd_fail(kd, KD_PIDFD_GETFD, "pidfd_open");
	fd = syscall(SYS_pidfd_getfd, pc->pidfd, pc->pipe_wr_nr, 0);
	if (fd < 0)
		return kd_fail(kd, KD_PIDFD_GETFD, "pidfd_getfd");
	if (fstat(fd, &theirs) || fstat(pc->pipe_rd, &mine) || mine.st_ino != theirs.st_ino)
		return kd_set(kd, KD_PIDFD_GETFD, false, "pidfd_getfd returned another file");
	return kd_set(kd, KD_PIDFD_GETFD, true, "pidfd_open + pidfd_getfd of a child's pipe");
}

/* What a pre-dump does: take the target's userfaultfd, register its memory
 * for async write-protect from here, and arm it with a PAGEMAP_SCAN of the
 * target's pagemap. */
static int probe_uffd_remote(struct kerndat *kd, struct probe_child *pc)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	struct uffdio_register reg = {
		.range = { (unsigned long)pc->area, 2 * PAGE_SIZE },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct page_region regions[4];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.start = (unsigned long)pc->area,
		.end = (unsigned long)pc->area + 2 * PAGE_SIZE,
		.vec = (unsigned long)regions,
		.vec_len = ARRAY_SIZE(regions),
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	cleanup_close int uffd = -1, pm = -1;
	char path[64];

	if (pc->uffd_nr < 0) {
		errno = -pc->uffd_nr;
		return kd_fail(kd, KD_UFFD_REMOTE, "userfaultfd in the child");
	}
	if (pc->pidfd < 0)
		return kd_set(kd, KD_UFFD_REMOTE, false, "needs pidfd_getfd");
	uffd = syscall(SYS_pidfd_getfd, pc->pidfd, pc->uffd_nr, 0);
	if (uffd < 0)
		return kd_fail(kd, KD_UFFD_REMOTE, "pidfd_getfd of the child's uffd");
	if (ioctl(uffd, UFFDIO_API, &api))
		return kd_fail(kd, KD_UFFD_REMOTE, "UFFDIO_API");
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return kd_fail(kd, KD_UFFD_REMOTE, "UFFDIO_REGISTER of the child's memory");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pc->pid);
	pm = open(path, O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return kd_fail(kd, KD_UFFD_REMOTE, path);
	if (ioctl(pm, PAGEMAP_SCAN, &arg) < 0)
		return kd_fail(kd, KD_UFFD_REMOTE, "arming PAGEMAP_SCAN");
	return kd_set(kd, KD_UFFD_REMOTE, true,
		      "a child's uffd, taken by pidfd_getfd, registered and armed");
}

/* Returns the NT_X86_XSTATE size seen on the child, 0 if unknown. */
static uint32_t probe_on_child(struct kerndat *kd)
{
	uint32_t xstate_size = 0;
	struct probe_child pc;
	int ret = probe_child_start(&pc);

	if (ret) {
		errno = -ret;
		kd_fail(kd, KD_PTRACE_SEIZE, "starting a probe child");
		return 0;
	}
	if (!probe_seize(kd, &pc)) {
		probe_rseq(kd, &pc);
		xstate_size = probe_xstate_regset(&pc);
	} else {
		kd_set(kd, KD_PTRACE_RSEQ, false, "needs ptrace_seize");
	}
	probe_vm_readv(kd, &pc);
	probe_pidfd(kd, &pc);
	probe_uffd_remote(kd, &pc);
	probe_child_stop(&pc);
	return xstate_size;
}

/* --- probes in lmproc itself ------------------------------------------ */

static int probe_vmsplice(struct kerndat *kd)
{
	unsigned char src[PAGE_SIZE], dst[PAGE_SIZE];
	struct iovec iov = { src, sizeof(src) };
	int p[2], ret;

	memset(src, PROBE_PATTERN, sizeof(src));
	if (pipe2(p, O_CLOEXEC))
		return kd_fail(kd, KD_VMSPLICE, "pipe");
	if (vmsplice(p[1], &iov, 1, 0) != sizeof(src))
		ret = kd_fail(kd, KD_VMSPLICE, "vmsplice");
	else if (read(p[0], dst, sizeof(dst)) != sizeof(dst) || memcmp(src, dst, sizeof(src)))
		ret = kd_set(kd, KD_VMSPLICE, false, "data read back differs");
	else
		ret = kd_set(kd, KD_VMSPLICE, true, "a page through a pipe");
	close(p[0]);
	close(p[1]);
	return ret;
}

static int probe_memfd(struct kerndat *kd)
{
	cleanup_close int fd = memfd_create("lmproc-probe", MFD_CLOEXEC);
	unsigned char *p, c = 0;

	if (fd < 0)
		return kd_fail(kd, KD_MEMFD, "memfd_create");
	if (ftruncate(fd, PAGE_SIZE))
		return kd_fail(kd, KD_MEMFD, "ftruncate");
	p = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return kd_fail(kd, KD_MEMFD, "mmap MAP_SHARED");
	p[100] = PROBE_PATTERN;
	munmap(p, PAGE_SIZE);
	if (pread(fd, &c, 1, 100) != 1 || c != PROBE_PATTERN)
		return kd_set(kd, KD_MEMFD, false, "shared mapping not seen through the fd");
	return kd_set(kd, KD_MEMFD, true, "created, mapped shared, read back");
}

/* Restore makes a shared anonymous object as the task had it: a mapping
 * of lmproc's, kept through its map_files entry. */
static int probe_shmem_map_files(struct kerndat *kd)
{
	unsigned char *p = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0), c = PROBE_PATTERN;
	char link[96];
	int fd;

	if (p == MAP_FAILED)
		return kd_fail(kd, KD_SHMEM_MAP_FILES, "mmap MAP_SHARED|MAP_ANONYMOUS");
	snprintf(link, sizeof(link), "/proc/self/map_files/%lx-%lx", (unsigned long)p,
		 (unsigned long)p + PAGE_SIZE);
	fd = open(link, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		munmap(p, PAGE_SIZE);
		return kd_fail(kd, KD_SHMEM_MAP_FILES, "open map_files (needs CAP_SYS_ADMIN)");
	}
	if (pwrite(fd, &c, 1, 7) != 1 || p[7] != PROBE_PATTERN)
		c = 0;
	munmap(p, PAGE_SIZE);
	close(fd);
	if (!c)
		return kd_set(kd, KD_SHMEM_MAP_FILES, false, "a write through the fd is not seen");
	return kd_set(kd, KD_SHMEM_MAP_FILES, true, "opened, written through the fd");
}

/* Read only: writing it would choose the id of someone's next segment. */
static int probe_shm_next_id(struct kerndat *kd)
{
	if (access("/proc/sys/kernel/shm_next_id", W_OK))
		return kd_fail(kd, KD_SHM_NEXT_ID, "/proc/sys/kernel/shm_next_id");
	return kd_set(kd, KD_SHM_NEXT_ID, true, "writable: SysV segments keep their ids");
}

static int probe_sysvipc_next_id(struct kerndat *kd)
{
	if (access("/proc/sys/kernel/sem_next_id", W_OK))
		return kd_fail(kd, KD_SYSVIPC_NEXT_ID, "/proc/sys/kernel/sem_next_id");
	if (access("/proc/sys/kernel/msg_next_id", W_OK))
		return kd_fail(kd, KD_SYSVIPC_NEXT_ID, "/proc/sys/kernel/msg_next_id");
	return kd_set(kd, KD_SYSVIPC_NEXT_ID, true,
		      "writable: semaphore sets and message queues keep their ids");
}

/* A private queue with one message, copied out: it must still be queued. */
static int probe_msg_copy(struct kerndat *kd)
{
	struct {
		long mtype;
		char data[8];
	} m = { 3, "lmproc" }, got = {};
	struct msqid_ds ds;
	int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600), ret;

	if (id < 0)
		return kd_fail(kd, KD_MSG_COPY, "msgget");
	if (msgsnd(id, &m, sizeof(m.data), IPC_NOWAIT))
		ret = kd_fail(kd, KD_MSG_COPY, "msgsnd");
	else if (msgrcv(id, &got, sizeof(got.data), 0, IPC_NOWAIT | MSG_COPY) < 0)
		ret = kd_fail(kd, KD_MSG_COPY, "msgrcv(MSG_COPY)");
	else if (msgctl(id, IPC_STAT, &ds) || ds.msg_qnum != 1 || memcmp(&m, &got, sizeof(m)))
		ret = kd_set(kd, KD_MSG_COPY, false, "the copy differs or the message was taken");
	else
		ret = kd_set(kd, KD_MSG_COPY, true, "a message copied, still queued");
	msgctl(id, IPC_RMID, NULL);
	return ret;
}

static int probe_pty_peer(struct kerndat *kd)
{
	cleanup_close int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int unlock = 0, s;

	if (m < 0)
		return kd_fail(kd, KD_PTY_PEER, "open /dev/ptmx");
	if (ioctl(m, TIOCSPTLCK, &unlock))
		return kd_fail(kd, KD_PTY_PEER, "TIOCSPTLCK");
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return kd_fail(kd, KD_PTY_PEER, "TIOCGPTPEER");
	close(s);
	return kd_set(kd, KD_PTY_PEER, true, "a new pty's slave opened through its master");
}

/* Frees a pid (a child that exits at once) and asks clone3 for exactly it. */
static int probe_clone3(struct kerndat *kd)
{
	struct lm_clone_args args = { .exit_signal = SIGCHLD, .set_tid_size = 1 };
	pid_t want, got;

	for (int attempt = 0; attempt < 3; attempt++) {
		want = fork();
		if (want == 0)
			_exit(0);
		if (want < 0)
			return kd_fail(kd, KD_CLONE3_SET_TID, "fork");
		waitpid(want, NULL, 0);
		args.set_tid = (unsigned long)&want;
		got = syscall(SYS_clone3, &args, sizeof(args));
		if (got == 0)
			_exit(0);
		if (got > 0) {
			waitpid(got, NULL, 0);
			if (got != want)
				return kd_set(kd, KD_CLONE3_SET_TID, false,
					      "asked for pid %d, got %d", want, got);
			return kd_set(kd, KD_CLONE3_SET_TID, true, "a child got the chosen pid");
		}
		/* Someone else took the pid in between: try another one. */
		if (errno != EEXIST)
			break;
	}
	return kd_fail(kd, KD_CLONE3_SET_TID, "clone3 with set_tid");
}

/* The current layout from /proc/self/stat: fields 26-28 and 45-51,
 * counted from 1, after the parenthesised comm (which may hold spaces). */
static int read_mm_map(struct prctl_mm_map *map)
{
	unsigned long long v[52] = {};
	char buf[1024], *s, *tok, *save;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	int field = 3;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	s = strrchr(buf, ')');
	if (!s)
		return -EIO;
	for (tok = strtok_r(s + 1, " ", &save); tok && field < 52;
	     tok = strtok_r(NULL, " ", &save))
		v[field++] = strtoull(tok, NULL, 10);
	if (field < 52)
		return -EIO;
	map->start_code = v[26];
	map->end_code = v[27];
	map->start_stack = v[28];
	map->start_data = v[45];
	map->end_data = v[46];
	map->start_brk = v[47];
	map->arg_start = v[48];
	map->arg_end = v[49];
	map->env_start = v[50];
	map->env_end = v[51];
	map->brk = syscall(SYS_brk, 0);
	return 0;
}

static ssize_t read_auxv(__u64 *auxv, size_t size)
{
	int fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, auxv, size);
	close(fd);
	return n;
}

/* Sets, in a child, the very layout it inherited: what restore does, but
 * a no-op for the layout itself. */
static int probe_mm_map(struct kerndat *kd)
{
	struct prctl_mm_map map = { .exe_fd = (uint32_t)-1 };
	unsigned int size = 0;
	__u64 auxv[128];
	int status;
	ssize_t n;
	pid_t pid;

	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0))
		return kd_fail(kd, KD_PR_SET_MM_MAP, "PR_SET_MM_MAP_SIZE");
	kd->mm_map_size = size;
	if (size != sizeof(map))
		return kd_set(kd, KD_PR_SET_MM_MAP, false, "kernel wants %u bytes, lmproc has %zu",
			      size, sizeof(map));
	n = read_auxv(auxv, sizeof(auxv));
	if (read_mm_map(&map) || n <= 0)
		return kd_set(kd, KD_PR_SET_MM_MAP, false, "can't read own mm layout");
	map.auxv = auxv;
	map.auxv_size = n;
	pid = fork();
	if (pid == 0)
		_exit(prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof(map), 0) ? errno : 0);
	if (pid < 0)
		return kd_fail(kd, KD_PR_SET_MM_MAP, "fork");
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return kd_set(kd, KD_PR_SET_MM_MAP, false, "probe child died");
	if (WEXITSTATUS(status)) {
		errno = WEXITSTATUS(status);
		return kd_fail(kd, KD_PR_SET_MM_MAP, "PR_SET_MM_MAP");
	}
	return kd_set(kd, KD_PR_SET_MM_MAP, true,
		      "a child re-set its own layout (struct of %u bytes)", size);
}

static int probe_caps(struct kerndat *kd)
{
	static const struct {
		enum kd_feature f;
		int bit;
	} caps[] = {
		{ KD_CAP_SYS_RESOURCE, CAP_SYS_RESOURCE_BIT },
		{ KD_CAP_CHECKPOINT_RESTORE, CAP_CHECKPOINT_RESTORE_BIT },
		{ KD_CAP_SYS_ADMIN, CAP_SYS_ADMIN_BIT },
	};
	FILE *f = fopen("/proc/self/status", "re");
	bool found = false;
	char line[128];

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %" SCNx64, &kd->cap_eff) == 1;
	if (f)
		fclose(f);
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
		bool has = kd->cap_eff >> caps[i].bit & 1;

		if (!found)
			kd_set(kd, caps[i].f, false, "no CapEff in /proc/self/status");
		else
			kd_set(kd, caps[i].f, has, "%s the effective set (CapEff %#" PRIx64 ")",
			       has ? "in" : "not in", kd->cap_eff);
	}
	return found ? 0 : -1;
}

static void note_vdso_vma(struct kd_vdso *v, const char *name, unsigned long start,
			  unsigned long end)
{
	if (!strcmp(name, "[vvar]")) {
		v->vvar_start = start;
		v->vvar_size = end - start;
	} else if (!strcmp(name, "[vvar_vclock]")) {
		v->vvar_vclock_start = start;
		v->vvar_vclock_size = end - start;
	} else if (!strcmp(name, "[vdso]")) {
		v->vdso_start = start;
		v->vdso_size = end - start;
	}
}

static int probe_vdso(struct kerndat *kd)
{
	struct kd_vdso *v = &kd->vdso;
	unsigned long start, end, ehdr = getauxval(AT_SYSINFO_EHDR);
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512], name[64];

	if (!f)
		return kd_fail(kd, KD_VDSO, "/proc/self/maps");
	while (fgets(line, sizeof(line), f)) {
		name[0] = '\0';
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %63s", &start, &end, name) == 3)
			note_vdso_vma(v, name, start, end);
	}
	fclose(f);
	if (!v->vdso_size)
		return kd_set(kd, KD_VDSO, false, "no [vdso] mapping");
	if (ehdr != v->vdso_start)
		return kd_set(kd, KD_VDSO, false, "AT_SYSINFO_EHDR %#lx is not [vdso] %#lx",
			      ehdr, v->vdso_start);
	return kd_set(kd, KD_VDSO, true, "[vvar] %lu KiB, [vvar_vclock] %lu KiB, [vdso] %lu KiB",
		      v->vvar_size >> 10, v->vvar_vclock_size >> 10, v->vdso_size >> 10);
}

/* CPUID 0xD.0 EBX is the xsave area size for the features XCR0 enables;
 * the kernel's NT_X86_XSTATE (measured on the probe child) is what a dump
 * stores, so that one wins when both are known. */
static int probe_xsave(struct kerndat *kd, uint32_t regset_size)
{
	unsigned int a, b, c, d;
	uint32_t lo, hi, cpuid_size = 0;

	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE)) {
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		kd->xcr0 = (uint64_t)hi << 32 | lo;
		__cpuid_count(0xd, 0, a, b, c, d);
		cpuid_size = b;
	}
	kd->xsave_size = regset_size ? regset_size : cpuid_size;
	if (!kd->xsave_size)
		return kd_set(kd, KD_XSAVE, false, "no OSXSAVE and no NT_X86_XSTATE");
	return kd_set(kd, KD_XSAVE, true, "%u bytes (ptrace %u, CPUID %u), XCR0 %#" PRIx64,
		      kd->xsave_size, regset_size, cpuid_size, kd->xcr0);
}

/* The restorer creates POSIX timers with their ids through this; without
 * it, it creates and deletes timers until the kernel hands out the id. */
static int probe_timer_ids(struct kerndat *kd)
{
	int on = prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_GET, 0, 0, 0);

	if (on < 0)
		return kd_set(kd, KD_TIMER_RESTORE_IDS, false,
			      "prctl(PR_TIMER_CREATE_RESTORE_IDS): %s; ids by trial", strerror(errno));
	return kd_set(kd, KD_TIMER_RESTORE_IDS, true, "timer_create takes the id to use");
}

int kerndat_probe(struct kerndat *kd)
{
	uint32_t regset_size;

	memset(kd, 0, sizeof(*kd));
	for (int f = 0; f < KD_NR_FEATURES; f++)
		kd_set(kd, f, false, "not probed");
	regset_size = probe_on_child(kd);
	probe_vmsplice(kd);
	probe_memfd(kd);
	probe_shmem_map_files(kd);
	probe_shm_next_id(kd);
	probe_pty_peer(kd);
	probe_sysvipc_next_id(kd);
	probe_msg_copy(kd);
	probe_clone3(kd);
	probe_mm_map(kd);
	kd_probe_populate_write(kd);
	kd_probe_soft_dirty(kd);
	kd_probe_pagemap_scan(kd);
	kd_probe_uffd_wp(kd);
	kd_probe_bpf(kd);
	probe_caps(kd);
	probe_vdso(kd);
	probe_xsave(kd, regset_size);
	probe_timer_ids(kd);
	kd_pick_tracker(kd);
	for (int f = 0; f < KD_NR_FEATURES; f++)
		if (features[f].required && !kd->feat[f].ok)
			return -ENOTSUP;
	return 0;
}
