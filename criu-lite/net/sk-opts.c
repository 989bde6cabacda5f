/* Owns the options of unix, IP, netlink and packet sockets beyond the few their entries
 * carry in fields of their own: one table of every option Linux 6.18 lets
 * a process set on these sockets (by level, in the order restore sets
 * them), each with how it is read, checked and set.  The dump reads each
 * on the socket and compares it with a fresh socket's of the same family,
 * type and protocol made in the socket's owner's network namespace (so
 * defaults that follow a namespace's sysctls, buffer sizes or the
 * congestion control, come out right), read once per namespace, family,
 * type and protocol, not once per socket, keeps
 * those that differ and refuses those it can't set again: an eBPF filter,
 * an upper layer protocol (TCP_ULP), TCP repair mode, UDP encapsulation,
 * timestamping that counts (OPT_ID) or is bound to a PHC.  Restore sets
 * them back in two steps: before the buffer sizes and bind(), and after
 * the buffer sizes (the buffer locks, SO_LOCK_FILTER).  What no interface
 * shows per socket is listed in docs/architecture.md ("Sockets"). */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/icmp6.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/icmp.h>
#include <linux/net_tstamp.h>
#include <linux/netlink.h>

#include "common.h"
#include "log.h"
#include "netns.h"
#include "sk-opts.h"
#include "uapi-compat.h"

enum opt_kind {
	K_INT,        /* an int */
	K_BYTES,      /* bytes, set as read */
	K_NAME,       /* a name read with its NUL, set without */
	K_IFINDEX,    /* an interface index, kept as the interface's name */
	K_IFINDEX_BE, /* the same, set in network order */
	K_FILTER,     /* SO_GET_FILTER's classic program, set by SO_ATTACH_FILTER */
};

#define F_NOT_INET (1 << 0) /* inet_sk_entry has a field of its own for it */
#define F_NOT_UNIX (1 << 1) /* unix_sk_entry has */
#define F_LATE (1 << 2)     /* set after the buffer sizes */
#define F_ALWAYS (1 << 3)   /* kept even when it is the default */
/* Fixed for a connection when it is made, whatever the namespace's
 * default becomes: kept for a connection even when it is the default,
 * and checked before a restore (the name of something the host must
 * have). */
#define F_CONN (1 << 4)

struct opt {
	int level;
	int name;
	const char *str;
	enum opt_kind kind;
	unsigned short max; /* K_BYTES, K_NAME: the most bytes */
	unsigned flags;
	/* Why a value other than the default can't be set again, or NULL. */
	const char *(*refuse)(const uint8_t *v, size_t len);
};

#define MAX_VALUE (BPF_MAXINSNS * sizeof(struct sock_filter))

static const char *refuse_ulp(const uint8_t *v, size_t len)
{
	(void)v;
	(void)len;
	return "an upper layer protocol (TCP_ULP: kTLS, MPTCP...): not supported";
}

static const char *refuse_repair(const uint8_t *v, size_t len)
{
	(void)v;
	(void)len;
	return "in TCP repair mode: not supported";
}

static const char *refuse_encap(const uint8_t *v, size_t len)
{
	(void)v;
	(void)len;
	return "UDP encapsulation (ESP-in-UDP, L2TP, GTP...): not supported";
}

/* The timestamp key counts the bytes or datagrams sent so far: setting
 * OPT_ID again would start it at 0; a PHC is bound by its index. */
static const char *refuse_tstamp(const uint8_t *v, size_t len)
{
	int flags;

	if (len < sizeof(flags))
		return NULL;
	memcpy(&flags, v, sizeof(flags));
	if (flags & SOF_TIMESTAMPING_OPT_ID)
		return "timestamping with SOF_TIMESTAMPING_OPT_ID (a counter of what was sent, "
		       "which can't be set): not supported";
	if (flags & SOF_TIMESTAMPING_BIND_PHC)
		return "timestamping bound to a PHC (SOF_TIMESTAMPING_BIND_PHC): not supported";
	return NULL;
}

#define INT(l, n, f) { l, n, #n, K_INT, 4, f, NULL }
#define BYTES(l, n, m, f) { l, n, #n, K_BYTES, m, f, NULL }

static const struct opt table[] = {
	/* Before TCP_WINDOW_CLAMP: on TCP it may raise the receive buffer
	 * and the window clamp. */
	INT(SOL_SOCKET, SO_RCVLOWAT, 0),
	/* IP_TOS sets SO_PRIORITY too: the SOL_SOCKET ones come after. */
	INT(IPPROTO_IP, IP_TOS, 0),
	INT(IPPROTO_IP, IP_TTL, 0),
	BYTES(IPPROTO_IP, IP_OPTIONS, 40, 0),
	INT(IPPROTO_IP, IP_RECVOPTS, 0),
	INT(IPPROTO_IP, IP_RETOPTS, 0),
	INT(IPPROTO_IP, IP_PKTINFO, 0),
	INT(IPPROTO_IP, IP_MTU_DISCOVER, 0),
	INT(IPPROTO_IP, IP_RECVERR, 0),
	INT(IPPROTO_IP, IP_RECVTTL, 0),
	INT(IPPROTO_IP, IP_RECVTOS, 0),
	INT(IPPROTO_IP, IP_PASSSEC, 0),
	INT(IPPROTO_IP, IP_TRANSPARENT, 0),
	INT(IPPROTO_IP, IP_RECVORIGDSTADDR, 0),
	INT(IPPROTO_IP, IP_MINTTL, 0),
	INT(IPPROTO_IP, IP_CHECKSUM, 0),
	INT(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 0),
	INT(IPPROTO_IP, IP_RECVFRAGSIZE, 0),
	INT(IPPROTO_IP, IP_RECVERR_RFC4884, 0),
	BYTES(IPPROTO_IP, IP_MULTICAST_IF, 4, 0),
	INT(IPPROTO_IP, IP_MULTICAST_TTL, 0),
	INT(IPPROTO_IP, IP_MULTICAST_LOOP, 0),
	INT(IPPROTO_IP, IP_MULTICAST_ALL, 0),
	{ IPPROTO_IP, IP_UNICAST_IF, "IP_UNICAST_IF", K_IFINDEX_BE, IFNAMSIZ - 1, 0, NULL },
	INT(IPPROTO_IP, IP_LOCAL_PORT_RANGE, 0),
	/* A raw socket's: its own IP header, the ICMP types it gets, router
	 * alert packets, fragments not reassembled. */
	INT(IPPROTO_IP, IP_HDRINCL, 0),
	INT(IPPROTO_IP, IP_ROUTER_ALERT, 0),
	INT(IPPROTO_IP, IP_NODEFRAG, 0),
	BYTES(SOL_RAW, ICMP_FILTER, 4, 0),
	INT(IPPROTO_IPV6, IPV6_HDRINCL, 0),
	INT(IPPROTO_IPV6, IPV6_CHECKSUM, 0),
	BYTES(SOL_ICMPV6, ICMP6_FILTER, sizeof(struct icmp6_filter), 0),
	INT(IPPROTO_IPV6, IPV6_2292PKTINFO, 0),
	INT(IPPROTO_IPV6, IPV6_2292HOPOPTS, 0),
	INT(IPPROTO_IPV6, IPV6_2292DSTOPTS, 0),
	INT(IPPROTO_IPV6, IPV6_2292RTHDR, 0),
	INT(IPPROTO_IPV6, IPV6_2292HOPLIMIT, 0),
	INT(IPPROTO_IPV6, IPV6_FLOWINFO, 0),
	INT(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 0),
	{ IPPROTO_IPV6, IPV6_MULTICAST_IF, "IPV6_MULTICAST_IF", K_IFINDEX, IFNAMSIZ - 1, 0, NULL },
	INT(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 0),
	INT(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0),
	INT(IPPROTO_IPV6, IPV6_MTU_DISCOVER, 0),
	INT(IPPROTO_IPV6, IPV6_RECVERR, 0),
	INT(IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0),
	INT(IPPROTO_IPV6, IPV6_ROUTER_ALERT_ISOLATE, 0),
	INT(IPPROTO_IPV6, IPV6_RECVERR_RFC4884, 0),
	INT(IPPROTO_IPV6, IPV6_FLOWINFO_SEND, 0),
	INT(IPPROTO_IPV6, IPV6_RECVPKTINFO, 0),
	INT(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 0),
	INT(IPPROTO_IPV6, IPV6_RECVHOPOPTS, 0),
	BYTES(IPPROTO_IPV6, IPV6_HOPOPTS, 2048, 0),
	BYTES(IPPROTO_IPV6, IPV6_RTHDRDSTOPTS, 2048, 0),
	INT(IPPROTO_IPV6, IPV6_RECVRTHDR, 0),
	BYTES(IPPROTO_IPV6, IPV6_RTHDR, 2048, 0),
	INT(IPPROTO_IPV6, IPV6_RECVDSTOPTS, 0),
	BYTES(IPPROTO_IPV6, IPV6_DSTOPTS, 2048, 0),
	INT(IPPROTO_IPV6, IPV6_RECVPATHMTU, 0),
	INT(IPPROTO_IPV6, IPV6_DONTFRAG, 0),
	INT(IPPROTO_IPV6, IPV6_RECVTCLASS, 0),
	INT(IPPROTO_IPV6, IPV6_TCLASS, 0),
	INT(IPPROTO_IPV6, IPV6_AUTOFLOWLABEL, 0),
	INT(IPPROTO_IPV6, IPV6_ADDR_PREFERENCES, 0),
	INT(IPPROTO_IPV6, IPV6_MINHOPCOUNT, 0),
	INT(IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, 0),
	INT(IPPROTO_IPV6, IPV6_TRANSPARENT, 0),
	{ IPPROTO_IPV6, IPV6_UNICAST_IF, "IPV6_UNICAST_IF", K_IFINDEX_BE, IFNAMSIZ - 1, 0, NULL },
	INT(IPPROTO_IPV6, IPV6_RECVFRAGSIZE, 0),
	{ IPPROTO_TCP, TCP_ULP, "TCP_ULP", K_NAME, 16, 0, refuse_ulp },
	{ IPPROTO_TCP, TCP_REPAIR, "TCP_REPAIR", K_INT, 4, 0, refuse_repair },
	INT(IPPROTO_TCP, TCP_MAXSEG, 0),
	INT(IPPROTO_TCP, TCP_CORK, 0),
	INT(IPPROTO_TCP, TCP_KEEPIDLE, 0),
	INT(IPPROTO_TCP, TCP_KEEPINTVL, 0),
	INT(IPPROTO_TCP, TCP_KEEPCNT, 0),
	INT(IPPROTO_TCP, TCP_SYNCNT, 0),
	INT(IPPROTO_TCP, TCP_LINGER2, 0),
	INT(IPPROTO_TCP, TCP_DEFER_ACCEPT, 0),
	INT(IPPROTO_TCP, TCP_WINDOW_CLAMP, 0),
	INT(IPPROTO_TCP, TCP_QUICKACK, 0),
	{ IPPROTO_TCP, TCP_CONGESTION, "TCP_CONGESTION", K_NAME, 15, F_CONN, NULL },
	INT(IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS, 0),
	INT(IPPROTO_TCP, TCP_USER_TIMEOUT, 0),
	INT(IPPROTO_TCP, TCP_FASTOPEN, 0),
	INT(IPPROTO_TCP, TCP_NOTSENT_LOWAT, 0),
	INT(IPPROTO_TCP, TCP_SAVE_SYN, 0),
	INT(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 0),
	BYTES(IPPROTO_TCP, TCP_FASTOPEN_KEY, 32, 0),
	INT(IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, 0),
	INT(IPPROTO_TCP, TCP_INQ, 0),
	INT(IPPROTO_TCP, TCP_TX_DELAY, 0),
	INT(IPPROTO_TCP, TCP_RTO_MAX_MS, 0),
	INT(IPPROTO_TCP, TCP_RTO_MIN_US, 0),
	INT(IPPROTO_TCP, TCP_DELACK_MAX_US, 0),
	INT(IPPROTO_UDP, UDP_CORK, 0),
	{ IPPROTO_UDP, UDP_ENCAP, "UDP_ENCAP", K_INT, 4, 0, refuse_encap },
	INT(IPPROTO_UDP, UDP_NO_CHECK6_TX, 0),
	INT(IPPROTO_UDP, UDP_NO_CHECK6_RX, 0),
	INT(IPPROTO_UDP, UDP_SEGMENT, 0),
	INT(IPPROTO_UDP, UDP_GRO, 0),
	INT(SOL_NETLINK, NETLINK_PKTINFO, 0),
	INT(SOL_NETLINK, NETLINK_BROADCAST_ERROR, 0),
	INT(SOL_NETLINK, NETLINK_NO_ENOBUFS, 0),
	INT(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, 0),
	INT(SOL_NETLINK, NETLINK_CAP_ACK, 0),
	INT(SOL_NETLINK, NETLINK_EXT_ACK, 0),
	INT(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 0),
	/* PACKET_VERSION and PACKET_RESERVE before any ring (none is kept);
	 * PACKET_VNET_HDR sets the header size PACKET_VNET_HDR_SZ changes. */
	INT(SOL_PACKET, PACKET_VERSION, 0),
	INT(SOL_PACKET, PACKET_RESERVE, 0),
	INT(SOL_PACKET, PACKET_COPY_THRESH, 0),
	INT(SOL_PACKET, PACKET_AUXDATA, 0),
	INT(SOL_PACKET, PACKET_ORIGDEV, 0),
	INT(SOL_PACKET, PACKET_VNET_HDR, 0),
	INT(SOL_PACKET, PACKET_VNET_HDR_SZ, 0),
	INT(SOL_PACKET, PACKET_LOSS, 0),
	INT(SOL_PACKET, PACKET_TIMESTAMP, 0),
	INT(SOL_PACKET, PACKET_TX_HAS_OFF, 0),
	INT(SOL_PACKET, PACKET_QDISC_BYPASS, 0),
	INT(SOL_PACKET, PACKET_IGNORE_OUTGOING, 0),
	INT(SOL_SOCKET, SO_DEBUG, 0),
	INT(SOL_SOCKET, SO_REUSEADDR, F_NOT_INET),
	INT(SOL_SOCKET, SO_KEEPALIVE, F_NOT_INET),
	INT(SOL_SOCKET, SO_BROADCAST, F_NOT_INET),
	INT(SOL_SOCKET, SO_DONTROUTE, 0),
	INT(SOL_SOCKET, SO_OOBINLINE, 0),
	INT(SOL_SOCKET, SO_NO_CHECK, 0),
	INT(SOL_SOCKET, SO_PRIORITY, 0),
	BYTES(SOL_SOCKET, SO_LINGER, sizeof(struct linger), 0),
	INT(SOL_SOCKET, SO_PASSSEC, 0),
	INT(SOL_SOCKET, SO_PASSPIDFD, 0),
	INT(SOL_SOCKET, SO_PASSRIGHTS, 0),
	BYTES(SOL_SOCKET, SO_RCVTIMEO_OLD, 16, 0),
	BYTES(SOL_SOCKET, SO_SNDTIMEO_OLD, 16, 0),
	{ SOL_SOCKET, SO_BINDTODEVICE, "SO_BINDTODEVICE", K_NAME, IFNAMSIZ - 1, 0, NULL },
	/* Before the SO_TIMESTAMP* flags, which it leaves alone. */
	{ SOL_SOCKET, SO_TIMESTAMPING_OLD, "SO_TIMESTAMPING", K_BYTES, 8, 0, refuse_tstamp },
	INT(SOL_SOCKET, SO_TIMESTAMP_OLD, 0),
	INT(SOL_SOCKET, SO_TIMESTAMPNS_OLD, 0),
	INT(SOL_SOCKET, SO_TIMESTAMP_NEW, 0),
	INT(SOL_SOCKET, SO_TIMESTAMPNS_NEW, 0),
	INT(SOL_SOCKET, SO_MARK, 0),
	INT(SOL_SOCKET, SO_RCVMARK, 0),
	INT(SOL_SOCKET, SO_RCVPRIORITY, 0),
	INT(SOL_SOCKET, SO_RXQ_OVFL, 0),
	INT(SOL_SOCKET, SO_WIFI_STATUS, 0),
	INT(SOL_SOCKET, SO_PEEK_OFF, F_NOT_UNIX),
	INT(SOL_SOCKET, SO_NOFCS, 0),
	INT(SOL_SOCKET, SO_SELECT_ERR_QUEUE, 0),
	INT(SOL_SOCKET, SO_BUSY_POLL, 0),
	INT(SOL_SOCKET, SO_PREFER_BUSY_POLL, 0),
	BYTES(SOL_SOCKET, SO_MAX_PACING_RATE, 8, 0),
	INT(SOL_SOCKET, SO_INCOMING_CPU, 0),
	INT(SOL_SOCKET, SO_ZEROCOPY, 0),
	BYTES(SOL_SOCKET, SO_TXTIME, 8, 0),
	INT(SOL_SOCKET, SO_RESERVE_MEM, 0),
	INT(SOL_SOCKET, SO_TXREHASH, 0),
	{ SOL_SOCKET, SO_ATTACH_FILTER, "SO_ATTACH_FILTER", K_FILTER, 0, 0, NULL },
	INT(SOL_SOCKET, SO_LOCK_FILTER, F_LATE),
	/* Setting a buffer size locks it: the locks as they were come last. */
	INT(SOL_SOCKET, SO_BUF_LOCK, F_LATE | F_ALWAYS),
};

static bool applies(const struct opt *t, int family)
{
	if (family == AF_UNIX)
		return t->level == SOL_SOCKET && !(t->flags & F_NOT_UNIX);
	if (family == AF_NETLINK)
		return t->level == SOL_SOCKET || t->level == SOL_NETLINK;
	if (family == AF_PACKET)
		return t->level == SOL_SOCKET || t->level == SOL_PACKET;
	if (t->level == SOL_NETLINK || t->level == SOL_PACKET ||
	    ((t->level == IPPROTO_IPV6 || t->level == SOL_ICMPV6) && family != AF_INET6))
		return false;
	if (t->level == SOL_RAW && family != AF_INET)
		return false;
	return !(t->flags & F_NOT_INET);
}

static const struct opt *find(uint32_t level, uint32_t name)
{
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if ((uint32_t)table[i].level == level && (uint32_t)table[i].name == name)
			return &table[i];
	return NULL;
}

static int read_filter(int fd, uint8_t *buf, size_t *len)
{
	socklen_t n = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &n))
		return -errno;
	if (n > BPF_MAXINSNS)
		return -E2BIG;
	*len = n * sizeof(struct sock_filter);
	if (n && getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, buf, &n))
		return -errno;
	return 0;
}

static int read_ifindex(int fd, const struct opt *t, uint8_t *buf, size_t *len)
{
	char name[IF_NAMESIZE];
	socklen_t n = sizeof(int);
	int idx = 0;

	if (getsockopt(fd, t->level, t->name, &idx, &n))
		return -errno;
	*len = 0;
	if (!idx)
		return 0;
	if (!if_indextoname(idx, name))
		return -ENODEV;
	*len = strlen(name);
	memcpy(buf, name, *len);
	return 0;
}

/* The value of option T of FD into BUF (MAX_VALUE bytes): 0 or -errno. */
static int read_opt(int fd, const struct opt *t, uint8_t *buf, size_t *len)
{
	socklen_t n = t->kind == K_INT ? sizeof(int) : (socklen_t)t->max + 1;

	if (t->kind == K_FILTER)
		return read_filter(fd, buf, len);
	if (t->kind == K_IFINDEX || t->kind == K_IFINDEX_BE)
		return read_ifindex(fd, t, buf, len);
	memset(buf, 0, n);
	if (getsockopt(fd, t->level, t->name, buf, &n))
		return -errno;
	*len = t->kind == K_NAME ? strnlen((char *)buf, n) : n;
	return 0;
}

static int refuse(const struct sk_who *w, const struct opt *t, const char *why)
{
	pr_err("pid %d fd %d (%s): option %s: %s\n", w->pid, w->fd, w->what, t->str, why);
	return -EOPNOTSUPP;
}

static int keep(struct sk_opts *o, const struct opt *t, const uint8_t *v, size_t len)
{
	SkOptEntry *e = &o->ents[o->n];

	if (o->n >= ARRAY_SIZE(o->ents))
		return -E2BIG;
	sk_opt_entry__init(e);
	e->level = t->level;
	e->name = t->name;
	e->value.len = len;
	e->value.data = malloc(len ?: 1);
	if (!e->value.data)
		return -ENOMEM;
	memcpy(e->value.data, v, len);
	o->ptrs[o->n++] = e;
	return 0;
}

/* A fresh socket's value of one option: DR its read's 0 or -errno. */
struct opt_def {
	int dr;
	size_t len;
	uint8_t *v;
};

/* The fresh socket's values of every option of the table, for one
 * network namespace, family, type and protocol: read once per run (the
 * tree is frozen), which spares about 130 getsockopt per socket. */
static struct defaults {
	dev_t dev;
	ino_t ino;
	int family, type, proto;
	struct opt_def defs[ARRAY_SIZE(table)];
} *defaults[8];
static size_t nr_defaults;

/* A socket of FAMILY, TYPE, PROTO made in PID's network namespace (NS):
 * its defaults are that namespace's. */
static int fresh_socket(pid_t pid, const struct stat *ns, int family, int type, int proto)
{
	struct stat own;
	int back = -1, fd, e;

	if (stat("/proc/self/ns/net", &own))
		return -errno;
	if (own.st_ino != ns->st_ino || own.st_dev != ns->st_dev) {
		back = netns_enter(pid);
		if (back < 0)
			return back;
	}
	fd = socket(family, type | SOCK_CLOEXEC, proto);
	e = errno;
	if (back >= 0 && netns_leave(back)) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	return fd < 0 ? -e : fd;
}

static void defaults_free(struct defaults *df)
{
	for (size_t i = 0; df && i < ARRAY_SIZE(table); i++)
		free(df->defs[i].v);
	free(df);
}

static int read_defaults(struct defaults *df, int fresh, uint8_t *buf)
{
	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		struct opt_def *d = &df->defs[i];

		if (!applies(&table[i], df->family))
			continue;
		d->dr = read_opt(fresh, &table[i], buf, &d->len);
		if (d->dr)
			continue;
		d->v = malloc(d->len ?: 1);
		if (!d->v)
			return -ENOMEM;
		memcpy(d->v, buf, d->len);
	}
	return 0;
}

static int find_defaults(const struct sk_who *w, int family, int type, int proto,
			 uint8_t *buf, struct defaults **out)
{
	struct defaults *df;
	struct stat ns;
	char path[64];
	int fresh, ret;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", w->pid);
	if (stat(path, &ns))
		return -errno;
	for (size_t i = 0; i < min(nr_defaults, ARRAY_SIZE(defaults)); i++) {
		df = defaults[i];
		if (df->ino == ns.st_ino && df->dev == ns.st_dev && df->family == family &&
		    df->type == type && df->proto == proto) {
			*out = df;
			return 0;
		}
	}
	fresh = fresh_socket(w->pid, &ns, family, type, proto);
	if (fresh < 0) {
		pr_err("Can't make a socket of family %d type %d to compare pid %d fd %d's "
		       "options with: %s\n", family, type, w->pid, w->fd, strerror(-fresh));
		return fresh;
	}
	df = calloc(1, sizeof(*df));
	if (df)
		*df = (struct defaults){ .dev = ns.st_dev, .ino = ns.st_ino, .family = family,
					 .type = type, .proto = proto };
	ret = df ? read_defaults(df, fresh, buf) : -ENOMEM;
	close(fresh);
	if (ret) {
		defaults_free(df);
		return ret;
	}
	/* More kinds than the cache holds: the oldest goes. */
	defaults_free(defaults[nr_defaults % ARRAY_SIZE(defaults)]);
	defaults[nr_defaults++ % ARRAY_SIZE(defaults)] = df;
	*out = df;
	return 0;
}

/* Option T of FD against the fresh socket's, D. */
static int dump_one(const struct sk_who *w, int fd, const struct opt_def *d, const struct opt *t,
		    struct sk_opts *o, uint8_t *buf)
{
	size_t len = 0;
	int r = read_opt(fd, t, buf, &len), dr = d->dr;
	const char *why;

	if (r == -EACCES && t->kind == K_FILTER)
		return refuse(w, t, "an eBPF socket filter (SO_ATTACH_BPF), whose program can't "
			      "be read back: not supported");
	if (r && dr)
		return 0;
	if (r == -ENODEV)
		return refuse(w, t, "an interface index that names no interface: not supported");
	if (r || dr) {
		pr_err("pid %d fd %d (%s): can't read option %s: %s\n", w->pid, w->fd, w->what,
		       t->str, strerror(r ? -r : -dr));
		return r ?: dr;
	}
	if (len == d->len && !memcmp(buf, d->v, len) && !(t->flags & F_ALWAYS) &&
	    !(w->connected && (t->flags & F_CONN)))
		return 0;
	why = t->refuse ? t->refuse(buf, len) : NULL;
	if (why)
		return refuse(w, t, why);
	return keep(o, t, buf, len);
}

int sk_opts_dump(const struct sk_who *w, int fd, int family, int type, int proto,
		 struct sk_opts *o)
{
	cleanup_free uint8_t *buf = malloc(MAX_VALUE);
	struct defaults *df;
	int ret;

	o->n = 0;
	if (!buf)
		return -ENOMEM;
	ret = find_defaults(w, family, type, proto, buf, &df);
	for (size_t i = 0; i < ARRAY_SIZE(table) && !ret; i++)
		if (applies(&table[i], family))
			ret = dump_one(w, fd, &df->defs[i], &table[i], o, buf);
	return ret;
}

void sk_opts_free(struct sk_opts *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->ents[i].value.data);
	o->n = 0;
}

static bool name_ok(const ProtobufCBinaryData *v, size_t max)
{
	if (!v->len || v->len > max)
		return false;
	for (size_t i = 0; i < v->len; i++)
		if (v->data[i] <= ' ' || v->data[i] > '~' || v->data[i] == '/')
			return false;
	return true;
}

static bool value_ok(const struct opt *t, const ProtobufCBinaryData *v)
{
	switch (t->kind) {
	case K_INT:
		return v->len == sizeof(int);
	case K_BYTES:
		return v->len && v->len <= t->max;
	case K_NAME:
	case K_IFINDEX:
	case K_IFINDEX_BE:
		return name_ok(v, t->max);
	case K_FILTER:
		return v->len && !(v->len % sizeof(struct sock_filter)) && v->len <= MAX_VALUE;
	}
	return false;
}

const char *sk_opts_bad(SkOptEntry *const *opts, size_t n, int family)
{
	for (size_t i = 0; i < n; i++) {
		const struct opt *t = find(opts[i]->level, opts[i]->name);

		if (!t || !applies(t, family))
			return "an option lmproc does not set on such a socket";
		if (!value_ok(t, &opts[i]->value))
			return "an option's value of the wrong size or shape";
		if (t->refuse && t->refuse(opts[i]->value.data, opts[i]->value.len))
			return "an option's value lmproc refuses";
		for (size_t k = 0; k < i; k++)
			if (opts[k]->level == opts[i]->level && opts[k]->name == opts[i]->name)
				return "an option twice";
	}
	return NULL;
}

static int set_ifindex(int fd, const struct opt *t, const ProtobufCBinaryData *v)
{
	char name[IF_NAMESIZE] = "";
	unsigned idx;

	memcpy(name, v->data, v->len);
	idx = if_nametoindex(name);
	if (!idx)
		return -ENODEV;
	if (t->kind == K_IFINDEX_BE)
		idx = htonl(idx);
	return setsockopt(fd, t->level, t->name, &idx, sizeof(idx)) ? -errno : 0;
}

static int set_opt(int fd, const struct opt *t, const ProtobufCBinaryData *v)
{
	struct sock_fprog prog = { .len = v->len / sizeof(struct sock_filter),
				   .filter = (struct sock_filter *)v->data };

	if (t->kind == K_IFINDEX || t->kind == K_IFINDEX_BE)
		return set_ifindex(fd, t, v);
	if (t->kind == K_FILTER)
		return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ? -errno :
											     0;
	return setsockopt(fd, t->level, t->name, v->data, v->len) ? -errno : 0;
}

int sk_opts_check(const struct sk_who *w, SkOptEntry *const *opts, size_t n, int family,
		  int type, int proto)
{
	int fd = -1, ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		const struct opt *t = find(opts[i]->level, opts[i]->name);

		if (!t || !(t->flags & F_CONN))
			continue;
		if (fd < 0)
			fd = socket(family, type | SOCK_CLOEXEC, proto);
		if (fd < 0) {
			pr_perror("Can't make a socket to check pid %d fd %d's options on",
				  w->pid, w->fd);
			return -errno;
		}
		ret = set_opt(fd, t, &opts[i]->value);
		if (ret)
			pr_err("pid %d fd %d (%s): option %s: \"%.*s\" is not available on this "
			       "host (%s); the dump's host had it\n", w->pid, w->fd, w->what, t->str,
			       (int)opts[i]->value.len, (char *)opts[i]->value.data, strerror(-ret));
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

int sk_opts_restore(int fd, SkOptEntry *const *opts, size_t n, bool late, const char **which)
{
	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		const struct opt *t = &table[i];
		int ret;

		if (!(t->flags & F_LATE) != !late)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (opts[k]->level != (uint32_t)t->level || opts[k]->name != (uint32_t)t->name)
				continue;
			ret = set_opt(fd, t, &opts[k]->value);
			if (ret) {
				*which = t->str;
				return ret;
			}
		}
	}
	return 0;
}

int sock_int(int fd, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len))
		return -1;
	return v;
}

/* The kernel doubles what SO_RCVBUF/SO_SNDBUF are given and reads back
 * the doubled size, which the images hold. */
static int set_buf(int fd, int name, uint32_t size)
{
	int v = size / 2;

	if (!size || sock_int(fd, SOL_SOCKET, name) == (int)size)
		return 0;
	return setsockopt(fd, SOL_SOCKET, name, &v, sizeof(v)) ? -errno : 0;
}

int sk_opts_restore_all(int fd, SkOptEntry *const *opts, size_t n, uint32_t rcvbuf,
			uint32_t sndbuf, const char **which)
{
	int ret = sk_opts_restore(fd, opts, n, false, which);

	if (ret)
		return ret;
	*which = "SO_RCVBUF";
	ret = set_buf(fd, SO_RCVBUF, rcvbuf);
	if (ret)
		return ret;
	*which = "SO_SNDBUF";
	ret = set_buf(fd, SO_SNDBUF, sndbuf);
	return ret ?: sk_opts_restore(fd, opts, n, true, which);
}
