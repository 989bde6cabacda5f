/* What unix, IP, netlink and packet sockets share about their options
 * (net/sk-opts.c): the dump of every option that differs from a fresh
 * socket's, its validation and its setting again. */
#ifndef LMPROC_SK_OPTS_H
#define LMPROC_SK_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "fdinfo.pb-c.h"

/* The most options one entry carries: more than the table holds. */
#define SK_OPTS_MAX 160

/* The options one socket's entry carries (sk_opts_dump fills it). */
struct sk_opts {
	size_t n;
	SkOptEntry *ptrs[SK_OPTS_MAX];
	SkOptEntry ents[SK_OPTS_MAX];
};

/* The socket being dumped, for refusals: "pid P fd F (WHAT)";
 * CONNECTED for a TCP connection. */
struct sk_who {
	pid_t pid;
	int fd;
	const char *what;
	bool connected;
};

/* Reads every option of the table for socket FD (of FAMILY, TYPE,
 * PROTO) of W->pid and keeps in O those that differ from a fresh
 * socket's made in W->pid's network namespace (read once per namespace,
 * family, type and protocol); refuses (-EOPNOTSUPP, one line naming the
 * socket and the option) a value lmproc can't set again.  O is freed
 * with sk_opts_free whatever it returns. */
int sk_opts_dump(const struct sk_who *w, int fd, int family, int type, int proto,
		 struct sk_opts *o);
void sk_opts_free(struct sk_opts *o);

/* Every entry is an option of the table that FAMILY's entries carry,
 * once, with a value of its shape; NULL or why not (a static string). */
const char *sk_opts_bad(SkOptEntry *const *opts, size_t n, int family);

/* Before a restore: each option of OPTS that names what this host must
 * have (TCP_CONGESTION's algorithm) set on a socket of FAMILY, TYPE,
 * PROTO made here; -errno and one line naming W and the option if this
 * host lacks it. */
int sk_opts_check(const struct sk_who *w, SkOptEntry *const *opts, size_t n, int family,
		  int type, int proto);

/* Sets the options of OPTS on FD: LATE false before the buffer sizes and
 * bind(), true after the buffer sizes (the locks, SO_PRIORITY after
 * IP_TOS).  On failure, -errno and *WHICH names the option. */
int sk_opts_restore(int fd, SkOptEntry *const *opts, size_t n, bool late, const char **which);
/* The early options, the buffer sizes (RCVBUF, SNDBUF as getsockopt read
 * them; 0: left as made), then the late ones. */
int sk_opts_restore_all(int fd, SkOptEntry *const *opts, size_t n, uint32_t rcvbuf,
			uint32_t sndbuf, const char **which);
/* An int socket option of FD, -1 if it can't be read. */
int sock_int(int fd, int level, int name);

/* net/sk-inet-diag.c: the shutdown state of IP socket INO (of FAMILY,
 * PROTO) and whether it holds TCP MD5 keys, from sock_diag; -ENOENT if
 * sock_diag does not list it (neither bound nor connected).  Asked in
 * PID's network namespace. */
int inet_diag_state(pid_t pid, int family, int proto, unsigned long ino, unsigned *shutdown, bool *md5);
/* The peer address sock_diag lists for IP socket INO: a connection
 * being opened has one that getpeername() does not show. */
int inet_diag_peer(pid_t pid, int family, int proto, unsigned long ino,
		   struct sockaddr_storage *peer);

/* Both ends of a TCP connection. */
struct inet_tuple {
	struct sockaddr_storage local, peer;
	int state; /* TCP_ESTABLISHED... */
};

/* The connections waiting in the queue of PID's TCP listener bound to
 * LOCAL (sock_diag: established or closed by the peer, in no file, on
 * its port and address), at most MAX into OUT: how many, or -errno.
 * Another listener of the same port (SO_REUSEPORT) shows its own too. */
int inet_diag_pending(pid_t pid, const struct sockaddr_storage *local, struct inet_tuple *out,
		      size_t max);
/* The TCP_INFO and unread bytes of PID's (0: the caller's) TCP
 * connection LOCAL <- PEER that no file holds (one in a listener's
 * queue): 0, -ENOENT, -errno. */
struct tcp_info;
int inet_diag_child(pid_t pid, const struct sockaddr_storage *local,
		    const struct sockaddr_storage *peer, struct tcp_info *ti, unsigned *rqueue);

/* Calls CB for every TCP socket of FAMILY in PID's network namespace
 * that has a peer (neither listening, closed nor in TIME_WAIT) and whose
 * inode is one of INOS (N, sorted), with its local and peer addresses;
 * stops at CB's first non-zero return, returned. */
int inet_diag_tcp_conns(pid_t pid, int family, const unsigned long *inos, size_t n,
			int (*cb)(void *arg, const struct sockaddr_storage *local,
				  const struct sockaddr_storage *peer),
			void *arg);

/* net/sk-netlink.c: a sock_diag dump request REQ (LEN bytes) asked in
 * PID's network namespace, CB called with each answer (libnl's
 * NL_CB_VALID callback, ARG); 0 or -errno. */
struct nl_msg;
/* Socket FD has an error its next call returns (sk_err), or errors
 * queued: seen with poll(), which takes nothing. */
bool sk_error_pending(int fd);
int sk_diag_dump(pid_t pid, const void *req, size_t len, int (*cb)(struct nl_msg *, void *),
		 void *arg);

/* Multicast groups socket FD joined (IPv4 groups and, for AF_INET6,
 * IPv6 ones), from the groups /proc/PID/net/igmp{,6} list asked of the
 * socket one by one: 0 none, 1 one (GROUP its address), -errno. */
int sk_mcast_member(pid_t pid, int fd, int family, char *group, size_t len);

#endif
