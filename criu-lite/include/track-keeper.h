/* The keeper: a small daemon that holds a dirty tracker's descriptors
 * between pre-dump rounds (each round is its own lmproc process) and
 * remembers which round collected last.  One per tracked process
 * incarnation, found by a unix socket named after its pid and start time
 * in a directory only lmproc's user can write (/run/lmproc for root),
 * with the keeper's pid in a file next to it.  Each end checks the other
 * (SO_PEERCRED: the same uid, and the keeper that pid), and no exchange
 * waits more than a few seconds.  It exits when told, when the process
 * exits, when its owner (migrate, which runs every round) exits, or
 * after an hour without a round. */
#ifndef LMPROC_TRACK_KEEPER_H
#define LMPROC_TRACK_KEEPER_H

#include <stdint.h>
#include <sys/types.h>

#include "dirty-track.h"

struct keeper_state {
	uint64_t token;		/* the round that collected last */
	char backend[16];
	int fds[TRACK_MAX_FDS];
	int nr_fds;
	pid_t owner;		/* keeper_start: the keeper also ends with it (0: none) */
};

/* Starts a keeper for PID holding copies of ST's fds; replaces a keeper
 * of an older chain. */
int keeper_start(pid_t pid, const struct keeper_state *st);
/* Receives the keeper's state (fresh copies of its fds) and makes
 * NEW_TOKEN the current round.  -ENOENT when there is no keeper; -EPERM
 * when the socket is not the keeper's, -ETIMEDOUT when it does not
 * answer (both logged). */
int keeper_fetch(pid_t pid, uint64_t new_token, struct keeper_state *st);
/* Ends the keeper of PID, if any. */
int keeper_stop(pid_t pid);

#endif
