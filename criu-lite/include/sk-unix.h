/* What sk-unix.c (dump, validation) and sk-unix-restore.c (the task's
 * side) share about unix sockets. */
#ifndef LMPROC_SK_UNIX_H
#define LMPROC_SK_UNIX_H

#include <stdbool.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "fd-types.h"

#define UNIX_SK_FLAGS (O_ACCMODE | O_NONBLOCK)
/* sizeof(sun_path) */
#define UNIX_NAME_MAX 108
#define MAX_QUEUE (1 << 20)
#define SHUTDOWN_MASK 3
/* The most fds one message carries (the kernel's SCM_MAX_FD). */
#define SCM_MAX_FD 253
/* Room for a peek's control messages: the fds, and credentials with
 * SO_PASSCRED. */
#define SCM_CMSG_SPACE (CMSG_SPACE(sizeof(int) * SCM_MAX_FD) + CMSG_SPACE(sizeof(struct ucred)))

/* sk-unix-diag.c: the host's unix sockets as sock_diag lists them, read
 * once per dump, sorted by inode. */
struct unix_diag_sk {
	uint64_t ino;
	uint64_t peer;
	bool connected; /* to PEER, or to a peer that is gone (PEER 0) */
	uint32_t type;
	uint32_t state;
	uint32_t shutdown;
	uint32_t rqueue;  /* a listener's connections not yet accepted */
	uint32_t backlog; /* a listener's; of any other: bytes its peer has not read */
	uint32_t *icons;  /* a listener's: the clients of its connections not accepted
			   * yet, in the order accept() takes them (0: closed) */
	uint32_t nr_icons;
	uint64_t vfs_ino;
	uint64_t vfs_dev; /* the kernel's dev_t: major << 20 | minor */
	uint8_t name_len; /* sun_path bytes; 0: unbound */
	char name[UNIX_NAME_MAX];
	bool held; /* by an fd of the process being dumped */
	bool in_tree; /* by an fd of any process of the tree */
	uint32_t nr_holders; /* processes of the tree holding it */
	pid_t last_holder;   /* the last one mark_tree counted */
};

struct unix_diag_table {
	struct unix_diag_sk *sks;
	size_t nr;
	size_t cap;
	pid_t held_by; /* the process the held marks are of, 0: none yet */
};

/* Loads the table into D (once per dump): 0 or -errno. */
int unix_diag_load(struct files_dump *d);
/* The socket INO of the table, or NULL. */
struct unix_diag_sk *unix_diag_of(const struct files_dump *d, uint64_t ino);
/* Whether the process being dumped holds socket INO. */
bool unix_held_by_process(struct files_dump *d, uint64_t ino);
/* A socket of the process of TYPE bound to NAME (LEN bytes) in state
 * STATE (-1: any), other than EXCEPT.  Abstract names are per type. */
const struct unix_diag_sk *unix_held_by_name(struct files_dump *d, uint32_t type,
					     const char *name, size_t len, int state,
					     uint64_t except);
/* The listener of the process that accepted S, or NULL. */
const struct unix_diag_sk *unix_listener_of(struct files_dump *d, const struct unix_diag_sk *s);
/* A listener of the tree that accepted S, or NULL. */
const struct unix_diag_sk *unix_tree_listener_of(const struct files_dump *d,
						 const struct unix_diag_sk *s);

/* The listener of the tree whose connection not accepted yet S is the
 * client of, or NULL. */
const struct unix_diag_sk *unix_pending_listener_of(const struct files_dump *d,
						    const struct unix_diag_sk *s);

/* Made with its peer at once (socketpair(), or connect() to a listener
 * of the process and accept()), or alone if its peer is gone; the others
 * are made alone, bound, and connected by name once all are bound. */
static inline bool unix_is_pair(const UnixSkEntry *u)
{
	return u->state == TCP_ESTABLISHED && !u->has_peer_name && !u->external &&
	       !u->has_pending_on;
}

/* sk-unix.c: a connection accepted by a listener, shared by processes of
 * the tree, is made by connect and accept in MAKER: it must hold the
 * listener; the client of one not accepted yet is connected by MAKER: it
 * must hold it. */
int unix_check_maker(const struct restore_plan *maker, uint32_t desc);
struct lmproc_opts;
struct restore_tree;
int unix_inherited(const struct lmproc_opts *o, const UnixSkEntry *u);
int unix_check_inherit(const struct restore_tree *t);
/* sk-unix.c: the file of the unix socket INO in P, or -1. */
int unix_find(const struct restore_plan *p, uint64_t ino);

/* sk-unix-restore.c: fd_ops of the task's side. */
int unix_open(struct task_files *tf, uint32_t desc);
int unix_post(struct task_files *tf, uint32_t desc);
int unix_finish(struct task_files *tf, uint32_t desc);

/* sk-unix-scm.c: files in flight (SCM_RIGHTS).  Dump: */
/* The files in flight in one queue while it is peeked: lmproc's copies. */
struct scm_queue {
	struct scm_msg {
		uint32_t msg; /* index in the queue's lengths */
		int nr;
		int fds[SCM_MAX_FD];
	} *msgs;
	size_t nr;
};
/* Message MSG carries the NR files FDS (consumed, closed on failure). */
int unix_scm_note(struct scm_queue *sq, uint32_t msg, const int *fds, int nr);
/* Once P's queue Q is peeked: dumps the files of SQ no process or queue
 * dumped yet, notes their ids in Q. */
int unix_scm_dump_queue(struct files_dump *d, const struct fd_parms *p, struct scm_queue *sq,
			UnixQueueEntry *q);
/* Closes what SQ still holds. */
void unix_scm_queue_free(struct scm_queue *sq);
/* Frees Q's rights. */
void unix_scm_free(UnixQueueEntry *q);
/* Restore, the images alone: Q's rights fit its messages. */
bool unix_scm_queue_ok(const UnixQueueEntry *q);
/* Restore, all files of P linked into objects: every file in flight is a
 * file of the dump that restore can make; marks in_flight_here. */
int unix_scm_plan(struct restore_plan *p);
/* In the task, before DESC's object is made: opens every file in flight
 * in DESC's queue that no fd holds yet. */
int unix_scm_prepare(struct task_files *tf, uint32_t desc);
/* In the task: TMP, made for a file in flight no fd of the process
 * holds, kept (parked) until the queues are filled. */
int unix_scm_keep(struct task_files *tf, uint32_t desc, int tmp);
/* The fds message MSG of DESC's queue carries into FDS (SCM_MAX_FD), and
 * their number; *NEXT: the next rights entry, 0 at the first message. */
int unix_scm_fds(const struct task_files *tf, uint32_t desc, size_t msg, size_t *next, int *fds);
/* Every queue filled: closes the files kept only for the sending. */
void unix_scm_release(struct task_files *tf);

/* sk-unix-cred.c: peer credentials.  Dump: reads FD's (pid PID's fd FDN)
 * into U. */
int unix_cred_dump(pid_t pid, int fdn, int fd, UnixSkEntry *u);
/* Restore, the images alone: U's credentials are whole. */
bool unix_cred_ok(const UnixSkEntry *u);
/* The plan: DESC, made by the process of index OWNER (the one above all
 * its holders), gets its dumped credentials back; else refused. */
int unix_cred_check(const struct restore_tree *t, uint32_t desc, size_t owner);
/* In the task: the effective ids become U's credentials' (if it has
 * any) until unix_cred_leave, for the call that gives them to a socket. */
struct unix_cred_save {
	bool on;
	uid_t euid;
	gid_t egid;
	int n;
	gid_t *groups;
};
int unix_cred_enter(const UnixSkEntry *u, struct unix_cred_save *s);
int unix_cred_leave(struct unix_cred_save *s);
/* CALL(ARG) (0 or -errno) for U in task SELF: run here, or, if U's maker
 * was another pid (one that exited), in a child made with that pid and
 * sharing this fd table, so that the kernel gives U that pid.  -EEXIST:
 * that pid is taken here. */
int unix_cred_call_as(const UnixSkEntry *u, pid_t self, int (*call)(void *), void *arg);

#endif
