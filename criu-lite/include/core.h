/* CPU and signal state of a seized task (core-PID.img). */
#ifndef LMPROC_CORE_H
#define LMPROC_CORE_H

#include <sys/types.h>

#include "infect.h"

/* Reads registers, xsave, signal mask, queued signals and rseq with
 * ptrace; sigactions come from the parasite (ACT, 64 entries). */
int dump_core(int dfd, pid_t pid, const struct parasite_sigaction *act);

#endif
