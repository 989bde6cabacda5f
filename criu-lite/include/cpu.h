/* The CPU a dumped process ran on (cpu.c): the CPUID feature words and
 * xsave layout a dump records in inventory.img, and restore's check that
 * this host has them all (--cpu-cap). */
#ifndef LMPROC_CPU_H
#define LMPROC_CPU_H

#include <stdbool.h>
#include <stddef.h>

#include "inventory.pb-c.h"

/* --cpu-cap: what restore checks of the CPU.  0 is the default, FPU|INS. */
enum cpu_cap {
	CPU_CAP_FPU = 1 << 0,  /* the dumped xsave components are enabled here */
	CPU_CAP_INS = 1 << 1,  /* every feature a process may use is here */
	CPU_CAP_CPU = 1 << 2,  /* every recorded CPUID bit is here */
	CPU_CAP_NONE = 1 << 3, /* nothing (warned) */
};

#define CPU_CAP_DEFAULT (CPU_CAP_FPU | CPU_CAP_INS)

/* "fpu,ins", "cpu", "none"...: 0 and the bits in *CAPS, -1 if bad. */
int cpu_cap_parse(const char *s, unsigned int *caps);

/* This host's record into C (plain fields: nothing to free). */
void cpu_record_here(CpuEntry *c);

/* Restore's validation of a recorded CPU (reason logged, -EINVAL). */
int cpu_validate(const CpuEntry *c);

/* migrate's HELLO line "cpu WORDS": this host's record as words (the
 * length, or -E2BIG), and a peer's parsed and validated (-EINVAL, the
 * reason in WHY). */
int cpu_line_make(char *buf, size_t len);
int cpu_line_parse(const char *s, CpuEntry *c, char *why, size_t len);

/* Whether this host can take the tree of PID that ran on DUMPED, as CAPS
 * (0: the default) asks; PID 0: a migration's tree, before its dump.
 * -EOPNOTSUPP with one line naming every missing feature or xsave
 * component logged; with CPU_CAP_NONE a warning, 0.  OK_WHAT, if given,
 * gets what was checked. */
int cpu_check(const CpuEntry *dumped, unsigned int pid, unsigned int caps, char *ok_what,
	      size_t len);

#endif
