/* Words for the kernel's numbers in messages (words.c): a refusal says
 * "O_ASYNC", "an io_uring instance" or "thread 15's CPU time", never a
 * bare octal mode or a raw clockid. */
#ifndef LMPROC_WORDS_H
#define LMPROC_WORDS_H

#include <sys/types.h>

/* Returned by value, so several fit in one printf: f(x).s lives until
 * the end of the statement. */
struct words {
	char s[192];
};

/* Open flags as fdinfo and F_GETFL show them: "O_WRONLY|O_DIRECT|O_ASYNC";
 * bits no name covers end it in octal ("|0100000000"). */
struct words open_flags_words(unsigned int flags);
/* The same without the access mode: "O_ASYNC|O_DIRECT", "no flags". */
struct words flag_bits_words(unsigned int bits);
/* A clockid: "CLOCK_MONOTONIC", "thread 15's CPU time
 * (CLOCK_THREAD_CPUTIME_ID)", "its own CPU time
 * (CLOCK_PROCESS_CPUTIME_ID)"... (include/linux/posix-timers_types.h). */
struct words clock_words(int clock);
/* What a file is, from its mode and its /proc link (fd or map_files):
 * "an io_uring instance", "a perf event", "a BPF map", "a pidfd", "a
 * character device"...  Regular files: "a regular file". */
struct words file_kind_words(mode_t mode, const char *link);

#endif
