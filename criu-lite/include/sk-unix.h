/* What sk-unix.c (dump, validation) and sk-unix-restore.c (the task's
 * side) share about unix sockets. */
#ifndef LMPROC_SK_UNIX_H
#define LMPROC_SK_UNIX_H

#include <stdbool.h>
#include <fcntl.h>
#include <netinet/tcp.h>

#include "fd-types.h"

#define UNIX_SK_FLAGS (O_ACCMODE | O_NONBLOCK)
/* sizeof(sun_path) */
#define UNIX_NAME_MAX 108
#define MAX_QUEUE (1 << 20)
#define SHUTDOWN_MASK 3

/* Made with its peer at once (socketpair(), or connect() to a listener
 * of the process and accept()), or alone if its peer is gone; the others
 * are made alone, bound, and connected by name once all are bound. */
static inline bool unix_is_pair(const UnixSkEntry *u)
{
	return u->state == TCP_ESTABLISHED && !u->has_peer_name;
}

/* sk-unix.c: a connection accepted by a listener, shared by processes of
 * the tree, is made by connect and accept in MAKER: it must hold the
 * listener. */
int unix_check_maker(const struct restore_plan *maker, uint32_t desc);
/* sk-unix.c: the file of the unix socket INO in P, or -1. */
int unix_find(const struct restore_plan *p, uint64_t ino);

/* sk-unix-restore.c: fd_ops of the task's side. */
int unix_open(struct task_files *tf, uint32_t desc);
int unix_post(struct task_files *tf, uint32_t desc);
int unix_finish(struct task_files *tf, uint32_t desc);

#endif
