/* Reading /proc/PID: the outside view of a task. */
#ifndef LMPROC_PROC_H
#define LMPROC_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_status {
	char comm[64];
	char state;
	pid_t tgid;
	pid_t ppid;
	pid_t tracer_pid;
	int threads;
	unsigned int umask;
};

/* Fields of /proc/PID/stat lmproc needs (proc(5) numbering in comments). */
struct proc_stat {
	char state;		/* 3 */
	pid_t ppid;		/* 4 */
	pid_t pgid;		/* 5 */
	pid_t sid;		/* 6 */
	uint32_t tty_nr;	/* 7: controlling terminal's device, 0 if none */
	uint64_t start_time;	/* 22: clock ticks after boot */
	uint64_t start_code;	/* 26 */
	uint64_t end_code;	/* 27 */
	uint64_t start_stack;	/* 28 */
	uint64_t start_data;	/* 45 */
	uint64_t end_data;	/* 46 */
	uint64_t start_brk;	/* 47 */
	uint64_t arg_start;	/* 48 */
	uint64_t arg_end;	/* 49 */
	uint64_t env_start;	/* 50 */
	uint64_t env_end;	/* 51 */
	int exit_code;		/* 52: a zombie's wait status */
};

int proc_read_status(pid_t pid, struct proc_status *st);
int proc_read_stat(pid_t pid, struct proc_stat *st);
/* The NSpid line of /proc/PID/task/TID/status (TID 0: PID's main
 * thread): TID's pid in each pid namespace from the one of lmproc's /proc
 * down to its own, at most MAX of them into OUT.  How many there are, or
 * -errno. */
int proc_read_nspid(pid_t pid, pid_t tid, pid_t *out, int max);
/* FN(P, ARG) for process PID and those below it (as /proc lists its
 * threads' children now, DEPTH levels down at most) until FN returns
 * true; whether one did.  A look before the freeze: the tree may change. */
bool proc_tree_walk(pid_t pid, int depth, bool (*fn)(pid_t pid, void *arg), void *arg);
/* Whether process PID or one below it (as /proc lists its threads'
 * children now, DEPTH levels down at most) has a mapping whose maps line
 * holds NEEDLE: a look before the freeze, for what to prepare. */
bool proc_tree_maps(pid_t pid, const char *needle, int depth);
/* PID and its descendants (every thread's children, as /proc lists them
 * now), the root first, at most MAX (-E2BIG) into malloc'ed *PIDS. */
int proc_tree_pids(pid_t pid, size_t max, pid_t **pids, size_t *nr);
/* PID is on its way out (PF_EXITING): its memory may already be gone. */
bool proc_pid_exiting(pid_t pid);
/* Bytes a /proc file yields (they report size 0), or -errno. */
long proc_file_size(const char *path);
/* Whole file into a malloc'ed, NUL-terminated buffer; *len excludes NUL. */
char *proc_read_file(const char *path, size_t *len);
/* readlink into BUF (NUL-terminated); -errno or -ENAMETOOLONG. */
int proc_readlink(const char *path, char *buf, size_t size);

#endif
