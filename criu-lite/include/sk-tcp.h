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
/* Locks the connection of task fd P (FD: lmproc's copy, kept), puts it
 * in repair mode and fills T, its queues written to files-data.img. */
int tcp_dump_conn(struct files_dump *d, const struct fd_parms *p, int fd,
		  const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
		  TcpRepairEntry *t);
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
/* Restore, once the tree runs or the restore failed: removes the network
 * locks P's connections name; LAST (32 bytes, "" at first) keeps the last
 * one removed so that each goes once. */
void tcp_release_locks(const struct restore_plan *p, char *last);

#endif
