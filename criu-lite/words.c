/* Owns the words messages give the kernel's numbers: open flags, clock
 * ids and kinds of files, so that every refusal names what it refuses in
 * words and all of them name it the same way. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common.h"
#include "words.h"

/* The kernel's values on x86-64 (include/uapi/asm-generic/fcntl.h):
 * glibc defines O_LARGEFILE as 0 here and hides __O_SYNC/__O_TMPFILE. */
#define K_O_LARGEFILE 0100000
#define K_O_SYNC_BIT 04000000
#define K_O_TMPFILE_BIT 020000000
#define K_FMODE_EXEC 040

/* include/linux/posix-timers_types.h: a CPU clock is ~id << 3 | bits. */
#define CPUCLOCK_PERTHREAD 4
#define CPUCLOCK_WHICH(c) ((c) & 3)
#define CPUCLOCK_ID(c) ((pid_t)~((c) >> 3))

static void add(struct words *w, const char *fmt, ...)
{
	size_t n = strlen(w->s);
	va_list ap;

	if (n >= sizeof(w->s) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(w->s + n, sizeof(w->s) - n, fmt, ap);
	va_end(ap);
}

struct words flag_bits_words(unsigned int bits)
{
	static const struct {
		unsigned int bits;
		const char *name;
	} names[] = {
		/* Two-bit names first: they take both bits. */
		{ K_O_TMPFILE_BIT | O_DIRECTORY, "O_TMPFILE" },
		{ K_O_SYNC_BIT | O_DSYNC, "O_SYNC" },
		{ O_CREAT, "O_CREAT" },
		{ O_EXCL, "O_EXCL" },
		{ O_NOCTTY, "O_NOCTTY" },
		{ O_TRUNC, "O_TRUNC" },
		{ O_APPEND, "O_APPEND" },
		{ O_NONBLOCK, "O_NONBLOCK" },
		{ O_DSYNC, "O_DSYNC" },
		{ O_ASYNC, "O_ASYNC" },
		{ O_DIRECT, "O_DIRECT" },
		{ K_O_LARGEFILE, "O_LARGEFILE" },
		{ O_DIRECTORY, "O_DIRECTORY" },
		{ O_NOFOLLOW, "O_NOFOLLOW" },
		{ O_NOATIME, "O_NOATIME" },
		{ O_CLOEXEC, "O_CLOEXEC" },
		{ O_PATH, "O_PATH" },
		{ K_O_TMPFILE_BIT, "__O_TMPFILE" },
		{ K_O_SYNC_BIT, "__O_SYNC" },
		{ K_FMODE_EXEC, "FMODE_EXEC" },
	};
	struct words w = { "" };
	unsigned int left = bits & ~O_ACCMODE;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if ((left & names[i].bits) != names[i].bits)
			continue;
		add(&w, "%s%s", w.s[0] ? "|" : "", names[i].name);
		left &= ~names[i].bits;
	}
	if (left)
		add(&w, "%s0%o", w.s[0] ? "|" : "", left);
	if (!w.s[0])
		add(&w, "no flags");
	return w;
}

struct words open_flags_words(unsigned int flags)
{
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };
	struct words w = { "" };

	add(&w, "%s", acc[flags & O_ACCMODE]);
	if (flags & ~O_ACCMODE)
		add(&w, "|%s", flag_bits_words(flags).s);
	return w;
}

static const char *const cpu_which[] = {
	"user+system time (CPUCLOCK_PROF)",
	"user time (CPUCLOCK_VIRT)",
	"CPU time",
	"time of an invalid kind (3)",
};

/* A negative clockid: the CPU clock of a thread or a process, 0 for the
 * caller (what CLOCK_*_CPUTIME_ID become). */
static struct words cpu_clock_words(int clock)
{
	bool thread = clock & CPUCLOCK_PERTHREAD;
	bool sched = CPUCLOCK_WHICH(clock) == 2;
	pid_t id = CPUCLOCK_ID(clock);
	struct words w = { "" };

	if (id)
		add(&w, "%s %d's ", thread ? "thread" : "process", id);
	else
		add(&w, "%s ", thread ? "the calling thread's" : "its own process's");
	add(&w, "%s", cpu_which[CPUCLOCK_WHICH(clock)]);
	if (sched)
		add(&w, " (%s, clockid %d)",
		    thread ? "CLOCK_THREAD_CPUTIME_ID" : "CLOCK_PROCESS_CPUTIME_ID", clock);
	else
		add(&w, " (clockid %d)", clock);
	return w;
}

struct words clock_words(int clock)
{
	static const char *const names[] = {
		[CLOCK_REALTIME] = "CLOCK_REALTIME",
		[CLOCK_MONOTONIC] = "CLOCK_MONOTONIC",
		[CLOCK_PROCESS_CPUTIME_ID] = "CLOCK_PROCESS_CPUTIME_ID",
		[CLOCK_THREAD_CPUTIME_ID] = "CLOCK_THREAD_CPUTIME_ID",
		[CLOCK_MONOTONIC_RAW] = "CLOCK_MONOTONIC_RAW",
		[CLOCK_REALTIME_COARSE] = "CLOCK_REALTIME_COARSE",
		[CLOCK_MONOTONIC_COARSE] = "CLOCK_MONOTONIC_COARSE",
		[CLOCK_BOOTTIME] = "CLOCK_BOOTTIME",
		[CLOCK_REALTIME_ALARM] = "CLOCK_REALTIME_ALARM",
		[CLOCK_BOOTTIME_ALARM] = "CLOCK_BOOTTIME_ALARM",
		[CLOCK_TAI] = "CLOCK_TAI",
	};
	struct words w = { "" };

	if (clock < 0)
		return cpu_clock_words(clock);
	if ((size_t)clock < ARRAY_SIZE(names) && names[clock])
		add(&w, "%s", names[clock]);
	else
		add(&w, "unknown clock %d", clock);
	return w;
}

/* anon_inode:NAME links, as the kernel names them. */
static const char *anon_kind(const char *name)
{
	static const struct {
		const char *name, *words;
	} kinds[] = {
		{ "[io_uring]", "an io_uring instance" },
		{ "[perf_event]", "a perf event" },
		{ "bpf-map", "a BPF map" },
		{ "bpf-prog", "a BPF program" },
		{ "bpf_link", "a BPF link" },
		{ "bpf-link", "a BPF link" },
		{ "btf", "a BTF object" },
		{ "[pidfd]", "a pidfd" },
		{ "[userfaultfd]", "a userfaultfd" },
		{ "[eventfd]", "an eventfd" },
		{ "[eventpoll]", "an epoll instance" },
		{ "[signalfd]", "a signalfd" },
		{ "[timerfd]", "a timerfd" },
		{ "inotify", "an inotify instance" },
		{ "[fanotify]", "a fanotify group" },
		{ "[memfd_secret]", "a memfd_secret area" },
		{ "kvm-vm", "a KVM virtual machine" },
		{ "kvm-vcpu", "a KVM vCPU" },
		{ "[vfio-device]", "a VFIO device" },
		{ "sync_file", "a sync_file fence" },
		{ "dmabuf", "a DMA buffer" },
		{ "[landlock-ruleset]", "a Landlock ruleset" },
		{ "[rseq]", "an rseq area" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(name, kinds[i].name))
			return kinds[i].words;
	return NULL;
}

struct words file_kind_words(mode_t mode, const char *link)
{
	struct words w = { "" };
	const char *k;

	if (link && !strncmp(link, "anon_inode:", 11)) {
		k = anon_kind(link + 11);
		if (k)
			add(&w, "%s", k);
		else
			add(&w, "an anonymous-inode file %s", link + 11);
		return w;
	}
	if (link && !strncmp(link, "pidfd:", 6)) {
		add(&w, "a pidfd");
		return w;
	}
	switch (mode & S_IFMT) {
	case S_IFREG: k = "a regular file"; break;
	case S_IFDIR: k = "a directory"; break;
	case S_IFCHR: k = "a character device"; break;
	case S_IFBLK: k = "a block device"; break;
	case S_IFIFO: k = "a FIFO"; break;
	case S_IFSOCK: k = "a socket"; break;
	case S_IFLNK: k = "a symbolic link"; break;
	default: k = "a file of no type (an anonymous inode)"; break;
	}
	add(&w, "%s", k);
	return w;
}
