/* What the process-tree tests share: each process keeps a pattern in its
 * own memory and its ids; after the restore it checks both and reports to
 * the root through a pipe, one fixed-size record per process (atomic).
 * Header-only: the tests are single files. */
#ifndef LMPROC_TREE_CHILD_H
#define LMPROC_TREE_CHILD_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define TREE_PATTERN_WORDS 2048

struct tree_report {
	int level;
	int ok;
	char why[120];
};

struct tree_ids {
	pid_t pid, ppid, pgid, sid;
};

static uint64_t tree_pattern[TREE_PATTERN_WORDS];
static uint64_t tree_seed;
static int tree_res_pipe[2];

static inline void tree_fill(int level)
{
	for (int i = 0; i < TREE_PATTERN_WORDS; i++)
		tree_pattern[i] = test_mix(tree_seed + level * 1000003ULL + i);
}

/* The first word that differs, -1 if none. */
static inline int tree_check_pattern(int level)
{
	for (int i = 0; i < TREE_PATTERN_WORDS; i++)
		if (tree_pattern[i] != test_mix(tree_seed + level * 1000003ULL + i))
			return i;
	return -1;
}

static inline void tree_save_ids(struct tree_ids *s)
{
	s->pid = getpid();
	s->ppid = getppid();
	s->pgid = getpgid(0);
	s->sid = getsid(0);
}

static inline void __attribute__((format(printf, 3, 4)))
tree_report(int level, int ok, const char *fmt, ...)
{
	struct tree_report r = { .level = level, .ok = ok };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.why, sizeof(r.why), fmt, ap);
	va_end(ap);
	if (write(tree_res_pipe[1], &r, sizeof(r)) != sizeof(r))
		_exit(3);
}

/* Checks ids and memory against BEFORE; reports a failure and returns
 * false, or returns true (the caller reports success). */
static inline bool tree_check_self(int level, const struct tree_ids *before)
{
	struct tree_ids now;
	int bad;

	tree_save_ids(&now);
	if (memcmp(before, &now, sizeof(now))) {
		tree_report(level, 0, "ids pid %d ppid %d pgid %d sid %d, were %d %d %d %d",
			    now.pid, now.ppid, now.pgid, now.sid, before->pid, before->ppid,
			    before->pgid, before->sid);
		return false;
	}
	bad = tree_check_pattern(level);
	if (bad >= 0) {
		tree_report(level, 0, "memory word %d differs", bad);
		return false;
	}
	return true;
}

/* The root: NR reports, each must be ok. */
static inline void tree_collect(int nr)
{
	for (int i = 0; i < nr; i++) {
		struct tree_report r;

		if (read(tree_res_pipe[0], &r, sizeof(r)) != sizeof(r))
			fail("report %d: %s", i, strerror(errno));
		if (!r.ok)
			fail("level %d: %s", r.level, r.why);
	}
}

#endif
