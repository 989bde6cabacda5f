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
 * binds and connects it in repair mode, with its queues, window and
 * timestamps, and takes it out of repair mode. */
int tcp_restore_conn(struct task_files *tf, uint32_t desc, int fd, const InetSkEntry *e);
/* net/sk-inet.c: E's address ADDR and PORT (validated lengths) as a
 * sockaddr of its family into SS; its length. */
socklen_t inet_sk_addr(const InetSkEntry *e, const ProtobufCBinaryData *addr, uint32_t port,
		       struct sockaddr_storage *ss);
/* net/sk-inet.c: "198.18.0.1:80", "[fd00::1]:80" into BUF. */
void inet_addr_name(const struct sockaddr_storage *ss, char *buf, size_t len);
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

#endif
