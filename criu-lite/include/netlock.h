/* The network lock: rules that drop every packet of the dumped TCP
 * connections, in and out, from before their sockets enter repair mode
 * until the restored tree runs (or the dump is undone), so that no stack
 * answers a peer's packet with a reset meanwhile. */
#ifndef LMPROC_NETLOCK_H
#define LMPROC_NETLOCK_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The mark (SO_MARK) of packets the lock lets through: those a restore
 * injects itself, the peer's FIN or ACK of a closing connection
 * (sk-tcp-state.c), a listener's queue made again (sk-tcp-queue.c);
 * CRIU's value. */
#define NETLOCK_MARK 0xC114

enum netlock_kind {
	NETLOCK_NFT,	  /* an nftables table of lmproc's, through libnftables */
	NETLOCK_IPT,	  /* iptables/ip6tables chains (run as commands) */
	NETLOCK_SKIP,	  /* the caller locks */
};

struct netlock;

/* A lock of KIND, named after lmproc's pid; nothing is made until the
 * first connection.  NULL: out of memory. */
struct netlock *netlock_new(enum netlock_kind kind);
/* Drops the packets between LOCAL and PEER (a TCP connection of task
 * PID), both ways, in PID's network namespace (the first connection's
 * decides for the lock): at once for iptables, from the next
 * netlock_flush for nftables (a connection queued twice is locked once).
 * 0 or -errno (logged). */
int netlock_add(struct netlock *l, pid_t pid, const struct sockaddr_storage *local,
		const struct sockaddr_storage *peer);
/* Locks the connections queued since the last flush, in one nftables
 * transaction (the first one makes the table, owned by lmproc's netlink
 * socket where the kernel has NFT_TABLE_F_OWNER).  0 or -errno. */
int netlock_flush(struct netlock *l);
/* The commit point of a dump: the rules copied into the persistent table
 * the images name, which outlives lmproc for the restore to remove, and
 * the owned one removed.  0 or -errno (logged). */
int netlock_commit(struct netlock *l);
/* The lock's name, NULL if nothing is locked (or KIND is skip). */
const char *netlock_name(const struct netlock *l);
enum netlock_kind netlock_kind_of(const struct netlock *l);
/* Removes the rules (RELEASE) or leaves them for the restore, and frees L. */
int netlock_end(struct netlock *l, bool release);
/* Removes the lock NAME of KIND a dump left: 0, or -errno (logged). */
int netlock_release(enum netlock_kind kind, const char *name);
/* Restore into a new network namespace, before its links come up: the
 * lock NAME of KIND made there again over every TCP packet, in and out,
 * until it is released.  0, or -errno (logged; nothing left). */
int netlock_lock_netns(enum netlock_kind kind, const char *name);

#endif
