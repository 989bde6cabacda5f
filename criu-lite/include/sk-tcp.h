/* TCP repair of established connections (net/sk-tcp.c), both sides. */
#ifndef LMPROC_SK_TCP_H
#define LMPROC_SK_TCP_H

#include <stdbool.h>
#include <sys/socket.h>

#include "fd-types.h"
#include "netlock.h"

/* The connections a dump put in repair mode: lmproc's copies of their
 * sockets, held until the dump ends, and the lock on their packets. */
struct tcp_dump;

struct tcp_dump *tcp_dump_start(enum netlock_kind lock);
/* Locks, in one go, every TCP connection (with a peer) of the fds of
 * PIDS (NR, the root first, whose network namespace is asked). */
int tcp_dump_lock(struct tcp_dump *t, const pid_t *pids, size_t nr);
/* The commit point, before the kill: the lock handed over to the restore
 * (netlock_commit). */
int tcp_dump_commit(struct tcp_dump *t);
/* The connections stay in repair mode even if lmproc dies from here on
 * (a tree held stopped): their guardian (tcp-guard.c) lets go. */
void tcp_dump_keep_repair(struct tcp_dump *t);
/* Locks the connection of task fd P (FD: lmproc's copy, kept), puts it
 * in repair mode and fills T, its queues written to files-data.img. */
int tcp_dump_conn(struct files_dump *d, const struct fd_parms *p, int fd,
		  const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
		  TcpRepairEntry *t);
/* As tcp_dump_conn for FD, a connection lmproc accepted from a listener
 * (sk-tcp-queue.c, which keeps FD and puts it back at the end). */
int tcp_dump_child(struct files_dump *d, const struct fd_parms *p, int fd,
		   const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
		   TcpRepairEntry *t);
/* The listeners' queues a dump took (sk-tcp-queue.c's, NULL at first). */
struct tcp_queue **tcp_dump_queue(struct tcp_dump *t);
/* The dump is over.  KILLED: the tree was killed with its sockets in
 * repair mode (closing them sent nothing), the lock stays for the
 * restore.  Otherwise (-R, a failure) every socket leaves repair mode
 * and the lock goes, before the tree runs again. */
int tcp_dump_end(struct tcp_dump *t, bool killed);

/* Checks T against files-data.img of DATA_SIZE bytes: NULL or why not. */
const char *tcp_repair_bad(const TcpRepairEntry *t, uint64_t data_size);
/* In the task, FD a new socket of E's family, options set, not bound:
 * binds and connects it in repair mode, with its queues (but the send
 * queue's unsent bytes), window and timestamps, and leaves it in repair
 * mode: the task never runs with it so (tcp_restore_resume). */
int tcp_restore_conn(struct task_files *tf, uint32_t desc, int fd, const InetSkEntry *e);
/* The hand-over: every task of T finished and stopped, the locks gone.
 * Each restored connection, once however many fds hold it, leaves repair
 * mode through lmproc's copy (pidfd_getfd) and sends its unsent bytes
 * (files-data.img in DFD).  An error names pid and fd: the tree dies. */
int tcp_restore_resume(const struct restore_tree *t, int dfd);
/* The same before --grace, the locks still in place: lmproc keeps its
 * copy of each connection in *COPIES (*NR of them), for
 * tcp_restore_repair_again if the grace fails. */
int tcp_restore_resume_keep(const struct restore_tree *t, int dfd, int **copies, size_t *nr);
/* Each copy back into repair mode: once the tree is killed, their close
 * sends nothing (no FIN, no reset) to peers the source resumes with. */
void tcp_restore_repair_again(const int *copies, size_t nr);
/* net/sk-inet.c: E's address ADDR and PORT (validated lengths) as a
 * sockaddr of its family into SS; its length. */
socklen_t inet_sk_addr(const InetSkEntry *e, const ProtobufCBinaryData *addr, uint32_t port,
		       struct sockaddr_storage *ss);
/* net/sk-inet.c: SS as "198.18.0.1:80" or "[fd00::1]:80" into BUF. */
void inet_addr_name(const struct sockaddr_storage *ss, char *buf, size_t len);
/* net/sk-inet.c: why bind() of an address of the dump failed with ERR,
 * in words (an address this host lacks says what the tree needs). */
const char *inet_bind_why(int err);
/* net/sk-inet.c, check -D: every address a bound IP socket of P takes
 * again (not a connection's: TCP repair binds it; not a closed one's:
 * restored unbound if taken) is free in lmproc's network namespace, tried
 * by binding a fresh socket with the socket's options. */
int inet_check_ports(const struct restore_plan *p);
/* The check of one socket's address that check -D's ports and serve's
 * preflight share (pid PID, fd FD, for the message); a running process's
 * socket read for the preflight (SBUF: 16 bytes for its address), and
 * what serve refuses of a peer's. */
int inet_check_port(pid_t pid, int fd, const InetSkEntry *e);
bool inet_preflight_read(int fd, InetSkEntry *e, uint8_t *sbuf, bool *connected);
const char *inet_preflight_bad(const InetSkEntry *e);
/* Whether P has a connection restored by TCP repair (CAP_NET_ADMIN). */
bool inet_has_connections(const struct restore_plan *p);
/* net/sk-tcp-queue.c: task fd P, a TCP listener bound to LOCAL (FD:
 * lmproc's copy), has WAITING connections not accepted yet.  With
 * --tcp-established each is accepted by lmproc and read in repair mode
 * into E's queued entries (a pre-dump only checks); with
 * --skip-in-flight they are left out, each named in a warning;
 * otherwise refused (-EOPNOTSUPP, one line). */
int tcp_queue_dump(struct files_dump *d, const struct fd_parms *p, int fd,
		   const struct sockaddr_storage *local, unsigned waiting, InetSkEntry *e);
/* The dump is over: the connections taken from listeners are put back
 * into their queues (not KILLED), or closed silently. */
int tcp_queue_end(struct tcp_queue *q, bool killed);
/* Checks a listener's queued entries: NULL or why not. */
const char *tcp_queue_bad(const InetSkEntry *e, uint64_t data_size);
/* In the task, once E's socket listens: its connections queued again,
 * in order. */
int tcp_queue_restore(struct task_files *tf, uint32_t desc, const InetSkEntry *e);
/* Restore, once the tree runs or the restore failed: removes the network
 * locks P's connections name; LAST (32 bytes, "" at first) keeps the last
 * one removed so that each goes once. */
void tcp_release_locks(const struct restore_plan *p, char *last);
/* The entry of P's first connection that names a lock, or NULL. */
const TcpRepairEntry *tcp_lock_of(const struct restore_plan *p);

/* net/sk-tcp-state.c: the closing states of a repaired connection. */
struct tcp_repair_window;
/* STATE in words ("FIN_WAIT1"). */
const char *tcp_state_name(unsigned state);
/* Whether a connection in STATE is dumped: established or closing. */
bool tcp_state_kept(unsigned state);
/* T read in repair mode from a socket in STATE: its sequence numbers
 * and queue lengths made FIN-less, the state recorded.  -EPROTO if the
 * send queue lacks the FIN the state says it holds. */
int tcp_state_dump(TcpRepairEntry *t, unsigned state);
/* T's state fields checked: NULL or why not. */
const char *tcp_state_bad(const TcpRepairEntry *t);
/* W, T's window, as it was before the peer's FIN came. */
void tcp_state_window(const TcpRepairEntry *t, struct tcp_repair_window *w);
/* FD, made established in repair mode from E: its FINs put back until
 * it is in E's state.  On failure -errno and *STEP names what failed. */
int tcp_state_restore(int fd, const InetSkEntry *e, const char **step);
/* At the hand-over, on lmproc's copy of the socket out of repair mode
 * after its unsent bytes: this side's FIN the task left out (it was
 * unsent at the dump), then, for CLOSING, the peer's. */
int tcp_state_resume(int fd, const InetSkEntry *e, const char **step);

#endif
