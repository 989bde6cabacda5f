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
#include "kerndat.h"
#include "log.h"
#include "uapi-compat.h"

#define PROBE_PATTERN 0x5a
#define CAP_SYS_ADMIN_BIT 21
#define CAP_SYS_RESOURCE_BIT 24
#define CAP_CHECKPOINT_RESTORE_BIT 40
#define PM_SOFT_DIRTY_BIT 55

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
__attribute__((format(printf, 4, 5)))
static int kd_set(struct kerndat *kd, enum kd_feature f, bool ok, const char *fmt, ...)
{
	va_list ap;

	kd->feat[f].ok = ok;
	va_start(ap, fmt);
	vsnprintf(kd->feat[f].why, sizeof(kd->feat[f].why), fmt, ap);
	va_end(ap);
	return ok ? 0 : -1;
}

/* kd_set() with "CALL: strerror(errno)" as the reason. */
static int kd_fail(struct kerndat *kd, enum kd_feature f, const char *call)
{
	return kd_set(kd, f, false, "%s: %s", call, strerror(errno));
}

static void *map_anon(size_t len)
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

static void __attribute__((noreturn)) probe_child_main(struct probe_child *pc)
{
	int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
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
	int p[2];

	*pc = (struct probe_child){ .pid = -1, .pidfd = -1, .pipe_rd = -1 };
	pc->area = map_anon(2 * PAGE_SIZE);
	if (!pc->area)
		return -errno;
	if (pipe2(p, O_CLOEXEC)) {
		probe_child_stop(pc);
		return -errno;
	}
	pc->pipe_rd = p[0];
	pc->pipe_wr_nr = p[1];
	pc->pid = fork();
	if (pc->pid == 0)
		probe_child_main(pc);
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

static int probe_populate_write(struct kerndat *kd)
{
	const size_t len = 4 * PAGE_SIZE;
	unsigned char *p = map_anon(len), vec[4] = {};
	int ret;

	if (!p)
		return kd_fail(kd, KD_MADV_POPULATE_WRITE, "mmap");
	if (madvise(p, len, MADV_POPULATE_WRITE))
		ret = kd_fail(kd, KD_MADV_POPULATE_WRITE, "madvise(MADV_POPULATE_WRITE)");
	else if (mincore(p, len, vec) || !(vec[0] & vec[1] & vec[2] & vec[3] & 1))
		ret = kd_set(kd, KD_MADV_POPULATE_WRITE, false, "pages not resident afterwards");
	else
		ret = kd_set(kd, KD_MADV_POPULATE_WRITE, true, "4 pages populated in one call");
	munmap(p, len);
	return ret;
}

static int pagemap_entry(int pm, volatile void *addr, uint64_t *ent)
{
	off_t off = (unsigned long)addr / PAGE_SIZE * sizeof(*ent);

	return pread(pm, ent, sizeof(*ent), off) == sizeof(*ent) ? 0 : -1;
}

/* Clear, check bit 55 is clear, write, check it is set. */
static int soft_dirty_cycle(struct kerndat *kd, int pm, int cr, volatile unsigned char *p)
{
	uint64_t before, after;

	p[0] = 1;
	if (write(cr, "4", 1) != 1)
		return kd_fail(kd, KD_SOFT_DIRTY, "writing 4 to clear_refs");
	if (pagemap_entry(pm, p, &before))
		return kd_fail(kd, KD_SOFT_DIRTY, "reading pagemap");
	p[0] = 2;
	if (pagemap_entry(pm, p, &after))
		return kd_fail(kd, KD_SOFT_DIRTY, "reading pagemap");
	if (!(after >> PM_SOFT_DIRTY_BIT & 1))
		return kd_set(kd, KD_SOFT_DIRTY, false,
			      "clear_refs took 4 but a write left pagemap bit 55 clear");
	if (before >> PM_SOFT_DIRTY_BIT & 1)
		return kd_set(kd, KD_SOFT_DIRTY, false, "clear_refs did not clear bit 55");
	return kd_set(kd, KD_SOFT_DIRTY, true, "bit 55 cleared, then set by a write");
}

/* CONFIG_MEM_SOFT_DIRTY off fails silently: clear_refs accepts 4 and bit
 * 55 just never shows up, so only a write after a clear tells. */
static int probe_soft_dirty(struct kerndat *kd)
{
	cleanup_close int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	cleanup_close int cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	unsigned char *p;
	int ret;

	if (pm < 0)
		return kd_fail(kd, KD_SOFT_DIRTY, "/proc/self/pagemap");
	if (cr < 0)
		return kd_fail(kd, KD_SOFT_DIRTY, "/proc/self/clear_refs");
	p = map_anon(PAGE_SIZE);
	if (!p)
		return kd_fail(kd, KD_SOFT_DIRTY, "mmap");
	ret = soft_dirty_cycle(kd, pm, cr, p);
	munmap(p, PAGE_SIZE);
	return ret;
}

/* Runs PAGEMAP_SCAN over [P, P + LEN) of lmproc and returns the number of
 * regions found, or -errno. */
static long scan_self(void *p, size_t len, uint64_t flags, uint64_t mask,
		      struct page_region *regions, size_t nr)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = flags,
		.start = (unsigned long)p,
		.end = (unsigned long)p + len,
		.vec = (unsigned long)regions,
		.vec_len = nr,
		.category_mask = mask,
		.return_mask = mask,
	};
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long ret;

	if (pm < 0)
		return -errno;
	ret = ioctl(pm, PAGEMAP_SCAN, &arg);
	if (ret < 0)
		ret = -errno;
	close(pm);
	return ret;
}

/* Whether a scan found exactly one region, [P + FIRST, P + END) in pages. */
static bool one_region(long n, const struct page_region *r, unsigned char *p, int first,
		       int end)
{
	return n == 1 && r[0].start == (unsigned long)p + first * PAGE_SIZE &&
	       r[0].end == (unsigned long)p + end * PAGE_SIZE;
}

static int probe_pagemap_scan(struct kerndat *kd)
{
	unsigned char *p = map_anon(4 * PAGE_SIZE);
	struct page_region r[4];
	long n;
	int ret;

	if (!p)
		return kd_fail(kd, KD_PAGEMAP_SCAN, "mmap");
	p[PAGE_SIZE] = 1;
	p[2 * PAGE_SIZE] = 1;
	n = scan_self(p, 4 * PAGE_SIZE, 0, PAGE_IS_PRESENT, r, ARRAY_SIZE(r));
	if (n < 0) {
		errno = -n;
		ret = kd_fail(kd, KD_PAGEMAP_SCAN, "PAGEMAP_SCAN");
	} else if (!one_region(n, r, p, 1, 3)) {
		ret = kd_set(kd, KD_PAGEMAP_SCAN, false, "wrong present pages reported");
	} else {
		ret = kd_set(kd, KD_PAGEMAP_SCAN, true, "found exactly the 2 present of 4 pages");
	}
	munmap(p, 4 * PAGE_SIZE);
	return ret;
}

/* The features this kernel's userfaultfd offers (an API call with none
 * requested reports them all; a uffd takes only one API call). */
static uint64_t uffd_offered(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return 0;
	if (ioctl(fd, UFFDIO_API, &api))
		api.features = 0;
	close(fd);
	return api.features;
}

/* Write-protects 4 pages (2 never touched), writes one, and expects
 * PAGEMAP_SCAN to report exactly that one as written. */
static int uffd_wp_exact(struct kerndat *kd, int uffd, unsigned char *p)
{
	const size_t len = 4 * PAGE_SIZE;
	struct uffdio_register reg = { { (unsigned long)p, len }, UFFDIO_REGISTER_MODE_WP, 0 };
	struct uffdio_writeprotect wp = { { (unsigned long)p, len }, UFFDIO_WRITEPROTECT_MODE_WP };
	struct page_region r[4];
	long n;

	p[0] = 1;
	p[PAGE_SIZE] = 1;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "UFFDIO_REGISTER");
	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "UFFDIO_WRITEPROTECT");
	p[PAGE_SIZE] = 2;
	n = scan_self(p, len, PM_SCAN_CHECK_WPASYNC, PAGE_IS_WRITTEN, r, ARRAY_SIZE(r));
	if (n < 0) {
		errno = -n;
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "PAGEMAP_SCAN of protected pages");
	}
	if (!one_region(n, r, p, 1, 2))
		return kd_set(kd, KD_UFFD_WP_ASYNC, false,
			      "written pages not reported exactly (%ld regions)", n);
	return kd_set(kd, KD_UFFD_WP_ASYNC, true, "1 write in 4 protected pages found exactly");
}

static int probe_uffd_wp(struct kerndat *kd)
{
	const uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	cleanup_close int uffd = -1;
	unsigned char *p;
	int ret;

	kd->uffd_features = uffd_offered();
	if ((kd->uffd_features & want) != want)
		return kd_set(kd, KD_UFFD_WP_ASYNC, false,
			      "no WP_ASYNC|WP_UNPOPULATED in userfaultfd features %#" PRIx64,
			      kd->uffd_features);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "userfaultfd");
	if (ioctl(uffd, UFFDIO_API, &api))
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "UFFDIO_API");
	p = map_anon(4 * PAGE_SIZE);
	if (!p)
		return kd_fail(kd, KD_UFFD_WP_ASYNC, "mmap");
	ret = uffd_wp_exact(kd, uffd, p);
	munmap(p, 4 * PAGE_SIZE);
	return ret;
}

static int bpf_sys(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/* The tracefs id of exceptions:page_fault_user, for the reason text only:
 * tp/ programs need it, raw_tp/tp_btf ones do not. */
static void tracefs_pf_id(char *buf, size_t len)
{
	int fd = open("/sys/kernel/tracing/events/exceptions/page_fault_user/id",
		      O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (fd >= 0)
		close(fd);
}

#define PROC_PID_INIT_INO 0xEFFFFFFCU	/* include/linux/proc_ns.h */

/* Runs bpf_get_ns_current_pid_tgid() for our own pid namespace in a test
 * run (on this task) and returns the tgid it gave, or a negative errno.
 * The tracker's programs filter with it unless the target is in the
 * initial pid namespace; the kernel compares DEV with its own dev_t of
 * nsfs (MKDEV: major << 20 | minor), not with stat's encoding. */
static int64_t bpf_ns_tgid(uint64_t dev, uint64_t ino)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1, .imm = (int32_t)dev },
		{ .imm = (int32_t)(dev >> 32) },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_2, .imm = (int32_t)ino },
		{ .imm = (int32_t)(ino >> 32) },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_3, .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_3, .imm = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_4, .imm = 8 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_ns_current_pid_tgid },
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = BPF_REG_0, .off = 1 },
		/* struct bpf_pidns_info { u32 pid; u32 tgid; } */
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_0, .src_reg = BPF_REG_10,
		  .off = -4 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr = {};
	cleanup_close int prog = -1;

	attr.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
	attr.insns = (unsigned long)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (unsigned long)"GPL";
	prog = bpf_sys(BPF_PROG_LOAD, &attr);
	if (prog < 0)
		return -errno;
	memset(&attr, 0, sizeof(attr));
	attr.test.prog_fd = prog;
	if (bpf_sys(BPF_PROG_TEST_RUN, &attr))
		return -errno;
	return (int32_t)attr.test.retval;
}

/* The tracker filters faults by the target's tgid in the target's pid
 * namespace.  Ours stands for it: a target we can see is in it or below. */
static int probe_ns_filter(struct kerndat *kd, const char *attached)
{
	struct stat st;
	int64_t tgid;

	if (stat("/proc/self/ns/pid", &st))
		return kd_fail(kd, KD_PF_TRACEPOINT, "stat /proc/self/ns/pid");
	tgid = bpf_ns_tgid((uint64_t)major(st.st_dev) << 20 | minor(st.st_dev), st.st_ino);
	if (tgid == getpid())
		return kd_set(kd, KD_PF_TRACEPOINT, true,
			      "%s; bpf_get_ns_current_pid_tgid filters by pid in namespace %lu",
			      attached, (unsigned long)st.st_ino);
	if (st.st_ino == PROC_PID_INIT_INO)
		return kd_set(kd, KD_PF_TRACEPOINT, true,
			      "%s; initial pid namespace only (bpf_get_ns_current_pid_tgid: %s)",
			      attached, tgid < 0 ? strerror(-tgid) : "wrong pid");
	if (tgid < 0)
		return kd_set(kd, KD_PF_TRACEPOINT, false,
			      "in pid namespace %lu, bpf_get_ns_current_pid_tgid is needed: %s",
			      (unsigned long)st.st_ino, strerror(-tgid));
	return kd_set(kd, KD_PF_TRACEPOINT, false,
		      "bpf_get_ns_current_pid_tgid gave pid %" PRId64 ", we are %d in namespace %lu",
		      tgid, getpid(), (unsigned long)st.st_ino);
}

/* Loads "return 0" as a raw tracepoint program and attaches it to
 * page_fault_user by name, then detaches: needs neither tracefs nor
 * libbpf, and proves both bpf() and the tracepoint.  Then the pid filter
 * the tracker needs in lmproc's pid namespace. */
static int probe_bpf(struct kerndat *kd)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr = {};
	cleanup_close int prog = -1, link = -1;
	char id[32], attached[96];

	attr.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
	attr.insns = (unsigned long)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (unsigned long)"GPL";
	prog = bpf_sys(BPF_PROG_LOAD, &attr);
	if (prog < 0) {
		kd_fail(kd, KD_BPF, "bpf(BPF_PROG_LOAD)");
		return kd_set(kd, KD_PF_TRACEPOINT, false, "needs bpf");
	}
	kd_set(kd, KD_BPF, true, "loaded a raw_tracepoint program");
	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.name = (unsigned long)"page_fault_user";
	attr.raw_tracepoint.prog_fd = prog;
	link = bpf_sys(BPF_RAW_TRACEPOINT_OPEN, &attr);
	if (link < 0)
		return kd_fail(kd, KD_PF_TRACEPOINT, "attaching to raw_tp page_fault_user");
	tracefs_pf_id(id, sizeof(id));
	if (id[0])
		snprintf(attached, sizeof(attached), "raw_tp attached (tracefs id %s)", id);
	else
		snprintf(attached, sizeof(attached), "raw_tp attached (no tracefs)");
	return probe_ns_filter(kd, attached);
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

/* Exact and cheap first, soft-dirty next.  eBPF only sees faults where
 * one of those protected the page, so it is never a backend alone. */
static int pick_tracker(struct kerndat *kd)
{
	if (kd->feat[KD_PAGEMAP_SCAN].ok && kd->feat[KD_UFFD_WP_ASYNC].ok &&
	    kd->feat[KD_UFFD_REMOTE].ok)
		kd->tracker = KD_TRACKER_PAGEMAP_SCAN;
	else if (kd->feat[KD_SOFT_DIRTY].ok)
		kd->tracker = KD_TRACKER_SOFT_DIRTY;
	else
		kd->tracker = KD_TRACKER_NONE;
	if (kd->tracker == KD_TRACKER_NONE)
		return kd_set(kd, KD_DIRTY_TRACKER, false,
			      "none works: pre-dumps would copy everything");
	return kd_set(kd, KD_DIRTY_TRACKER, true, "auto picks %s",
		      kerndat_tracker_name(kd->tracker));
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
	probe_populate_write(kd);
	probe_soft_dirty(kd);
	probe_pagemap_scan(kd);
	probe_uffd_wp(kd);
	probe_bpf(kd);
	probe_caps(kd);
	probe_vdso(kd);
	probe_xsave(kd, regset_size);
	probe_timer_ids(kd);
	pick_tracker(kd);
	for (int f = 0; f < KD_NR_FEATURES; f++)
		if (features[f].required && !kd->feat[f].ok)
			return -ENOTSUP;
	return 0;
}
