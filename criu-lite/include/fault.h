/* Fault injection for tests: LMPROC_FAULT=<point> makes the named step
 * fail as if the kernel had refused it, so tests can prove that every
 * failure path leaves the target as it was. */
#ifndef LMPROC_FAULT_H
#define LMPROC_FAULT_H

#include <stdbool.h>

/* Points: see docs/fault-injection.md. */
bool fault_injected(const char *point);

#endif
