/* Owns the LMPROC_FAULT switch; callers decide what failing means. */
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "log.h"

bool fault_injected(const char *point)
{
	const char *want = getenv("LMPROC_FAULT");

	if (!want || strcmp(want, point))
		return false;
	pr_warn("fault injected at %s (LMPROC_FAULT)\n", point);
	return true;
}
