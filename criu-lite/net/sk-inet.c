/* Owns IPv4 and IPv6 sockets: a TCP socket that listens (its
 * connections waiting to be accepted: sk-tcp-queue.c), is neither
 * connected nor listening, or is established or closing (with
 * --tcp-established; sk-tcp.c and sk-tcp-state.c do its TCP repair), a
 * UDP or UDP-Lite socket, bound or not, connected or not, and its queued
 * datagrams (sk-udp-queue.c; a UDP-Lite socket's checksum coverage:
 * sk-udplite.c), a raw or ICMP ping socket (sk-raw.c: their state).
 * Read through a copy of the task's fd (TCP_INFO gives a listener's
 * backlog and waiting connections) and made again with socket(), the
 * options that matter before bind(), bind(), listen() or connect().
 * Refused: a TCP connection being opened (SYN_SENT, SYN_RECV), an
 * established or closing one without --tcp-established, a socket of
 * another network namespace than lmproc's or the tree's own
 * (net/netns.c), other protocols (SCTP, MPTCP).  A port still
 * taken at restore (the original runs on: dump -R on the same host) fails
 * the restore naming the socket, except for a TCP socket whose connection
 * ended: that one held no port of its own any more (TIME_WAIT may hold
 * it), and is restored unbound when its old port is taken. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "netns.h"
#include "sk-opts.h"
#include "sk-raw.h"
#include "sk-tcp.h"
#include "sk-udp.h"
#include "words.h"

#define INET_FLAGS (O_ACCMODE | O_NONBLOCK)
#define MAX_BACKLOG 65535

static bool inet_match(struct files_dump *d, const struct fd_parms *p)
{
	int fd, family, type, proto;

	if (!S_ISSOCK(p->st.st_mode) || (p->flags & O_PATH))
		return false;
	fd = syscall(SYS_pidfd_getfd, d->pidfd, p->fd, 0);
	if (fd < 0)
		return false;
	family = sock_int(fd, SOL_SOCKET, SO_DOMAIN);
	type = sock_int(fd, SOL_SOCKET, SO_TYPE);
	proto = sock_int(fd, SOL_SOCKET, SO_PROTOCOL);
	close(fd);
	return (family == AF_INET || family == AF_INET6) &&
	       ((type == SOCK_STREAM && proto == IPPROTO_TCP) || udp_kind(type, proto) ||
		inet_raw_kind(type, proto));
}

/* "TCP socket", "UDP socket", "raw IPv4 socket of protocol 1"... */
static const char *kind_name(const InetSkEntry *e, char *buf, size_t len)
{
	if (inet_raw_kind(e->type, e->protocol))
		return inet_raw_name(e, buf, len);
	if (e->type == SOCK_STREAM)
		return "TCP socket";
	return e->protocol == IPPROTO_UDPLITE ? "UDP-Lite socket" : "UDP socket";
}

/* "UDP socket 127.0.0.1:5000"... into BUF: BUF. */
static const char *sk_what(const InetSkEntry *e, const struct sockaddr_storage *local, char *buf,
			   size_t len)
{
	char name[INET6_ADDRSTRLEN + 16], kind[48];

	inet_addr_name(local, name, sizeof(name));
	snprintf(buf, len, "%s %s", kind_name(e, kind, sizeof(kind)), name);
	return buf;
}

void inet_addr_name(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
	} else {
		const struct sockaddr_in6 *a = (const void *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
	}
}

/* Fills ADDR/PORT from SS; false if it is the unspecified address with
 * port 0 (a socket never bound or connected). */
static bool take_addr(const struct sockaddr_storage *ss, ProtobufCBinaryData *addr, uint8_t *buf,
		      uint32_t *port)
{
	static const uint8_t zero[16];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;

		memcpy(buf, &a->sin_addr, 4);
		addr->len = 4;
		*port = ntohs(a->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const void *)ss;

		memcpy(buf, &a->sin6_addr, 16);
		addr->len = 16;
		*port = ntohs(a->sin6_port);
	}
	addr->data = buf;
	return *port || memcmp(buf, zero, addr->len);
}

static int refuse(const struct files_dump *d, const struct fd_parms *p, const char *what,
		  const struct sockaddr_storage *local, const char *why)
{
	char name[INET6_ADDRSTRLEN + 16];

	inet_addr_name(local, name, sizeof(name));
	pr_err("pid %d fd %d (%s %s): %s\n", d->pid, p->fd, what, name, why);
	return -EOPNOTSUPP;
}

/* An established or closing connection (STATE): refused without
 * --tcp-established, checked only by a pre-dump, otherwise locked and
 * read in repair mode (sk-tcp.c). */
static int tcp_established(struct files_dump *d, const struct fd_parms *p, int fd,
			   const struct sockaddr_storage *local, InetSkEntry *e, uint8_t *dbuf,
			   TcpRepairEntry *t, struct sockaddr_storage *peer, unsigned state)
{
	socklen_t len = sizeof(*peer);
	char lname[INET6_ADDRSTRLEN + 16], pname[INET6_ADDRSTRLEN + 16];

	peer->ss_family = e->family;
	if (getpeername(fd, (struct sockaddr *)peer, &len))
		return -errno;
	inet_addr_name(local, lname, sizeof(lname));
	inet_addr_name(peer, pname, sizeof(pname));
	if (!d->tcp_established) {
		pr_err("pid %d fd %d (TCP connection %s -> %s): %s: needs --tcp-established\n",
		       d->pid, p->fd, lname, pname,
		       state == TCP_ESTABLISHED ? "established" : tcp_state_name(state));
		return -EOPNOTSUPP;
	}
	take_addr(peer, &e->dst_addr, dbuf, &e->dst_port);
	e->has_dst_addr = e->has_dst_port = true;
	if (d->tcp)
		e->tcp = t;
	return 0;
}

/* A connection being opened (SYN_SENT, SYN_RECV): refused naming both
 * ends (sock_diag's peer: getpeername() has none before the handshake). */
static int tcp_opening(const struct files_dump *d, const struct fd_parms *p, int fd,
		       const struct sockaddr_storage *local, const InetSkEntry *e, unsigned state)
{
	struct sockaddr_storage peer = { .ss_family = e->family };
	socklen_t len = sizeof(peer);
	char lname[INET6_ADDRSTRLEN + 16], pname[INET6_ADDRSTRLEN + 16] = "?";

	if (!getpeername(fd, (struct sockaddr *)&peer, &len) ||
	    !inet_diag_peer(d->pid, e->family, e->protocol, p->st.st_ino, &peer))
		inet_addr_name(&peer, pname, sizeof(pname));
	inet_addr_name(local, lname, sizeof(lname));
	pr_err("pid %d fd %d (TCP connection %s -> %s): %s, a connection being opened: can't be "
	       "dumped, only established and closing ones are\n", d->pid, p->fd, lname, pname,
	       tcp_state_name(state));
	return -EOPNOTSUPP;
}

/* The state of a TCP socket; a listener's backlog and waiting
 * connections come in TCP_INFO's unacked and sacked. */
static int tcp_state(struct files_dump *d, const struct fd_parms *p, int fd,
		     const struct sockaddr_storage *local, InetSkEntry *e, uint8_t *dbuf,
		     TcpRepairEntry *t, struct sockaddr_storage *peer)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len)) {
		pr_perror("Can't read TCP_INFO of pid %d fd %d", d->pid, p->fd);
		return -errno;
	}
	if (ti.tcpi_state == TCP_LISTEN) {
		int ret = ti.tcpi_unacked ? tcp_queue_dump(d, p, fd, local, ti.tcpi_unacked, e) : 0;

		if (ret)
			return ret;
		e->has_backlog = true;
		e->backlog = ti.tcpi_sacked;
		return 0;
	}
	if (tcp_state_kept(ti.tcpi_state))
		return tcp_established(d, p, fd, local, e, dbuf, t, peer, ti.tcpi_state);
	if (ti.tcpi_state != TCP_CLOSE)
		return tcp_opening(d, p, fd, local, e, ti.tcpi_state);
	/* A connect() sets the receive MSS; a socket never connected has
	 * none. */
	e->has_closed = true;
	e->closed = ti.tcpi_rcv_mss != 0;
	return 0;
}

/* A UDP or UDP-Lite socket's peer, if it is connected, and a UDP-Lite
 * one's checksum coverage. */
static int udp_state(const struct files_dump *d, const struct fd_parms *p, int fd,
		     const struct sockaddr_storage *local, InetSkEntry *e, uint8_t *dbuf)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	char what[INET6_ADDRSTRLEN + 64];

	if (!getpeername(fd, (struct sockaddr *)&peer, &len)) {
		e->has_dst_port = true;
		take_addr(&peer, &e->dst_addr, dbuf, &e->dst_port);
		e->has_dst_addr = true;
	} else if (errno != ENOTCONN) {
		return -errno;
	}
	if (e->protocol != IPPROTO_UDPLITE)
		return 0;
	return udplite_dump(d, p, fd, sk_what(e, local, what, sizeof(what)), e);
}

static void read_options(int fd, InetSkEntry *e)
{
	e->reuseaddr = sock_int(fd, SOL_SOCKET, SO_REUSEADDR) > 0;
	e->reuseport = sock_int(fd, SOL_SOCKET, SO_REUSEPORT) > 0;
	e->keepalive = sock_int(fd, SOL_SOCKET, SO_KEEPALIVE) > 0;
	e->broadcast = sock_int(fd, SOL_SOCKET, SO_BROADCAST) > 0;
	e->v6only = e->family == AF_INET6 && sock_int(fd, IPPROTO_IPV6, IPV6_V6ONLY) > 0;
	e->has_freebind = true;
	e->freebind = e->family == AF_INET6 ? sock_int(fd, IPPROTO_IPV6, IPV6_FREEBIND) > 0 :
					      sock_int(fd, IPPROTO_IP, IP_FREEBIND) > 0;
	e->nodelay = e->protocol == IPPROTO_TCP && sock_int(fd, IPPROTO_TCP, TCP_NODELAY) > 0;
	e->rcvbuf = max(sock_int(fd, SOL_SOCKET, SO_RCVBUF), 0);
	e->sndbuf = max(sock_int(fd, SOL_SOCKET, SO_SNDBUF), 0);
}

/* The shutdown state: sock_diag's; a socket neither bound nor connected
 * is not in its tables, and poll shows only its receive side. */
static int read_shutdown(const struct files_dump *d, const struct fd_parms *p, int fd,
			 const struct sockaddr_storage *local, InetSkEntry *e)
{
	struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };
	unsigned shut = 0;
	bool md5 = false;
	/* sock_diag lists raw sockets only with the protocol attribute and
	 * ping sockets not at all: poll says their receive side. */
	int ret = inet_raw_kind(e->type, e->protocol)
		      ? -ENOENT
		      : inet_diag_state(d->pid, e->family, e->protocol, p->st.st_ino, &shut, &md5);

	if (ret == -ENOENT) {
		shut = poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLRDHUP) ? 1 : 0;
		ret = 0;
	}
	if (ret) {
		pr_err("Can't read the state of pid %d fd %d from sock_diag: %s\n", d->pid, p->fd,
		       strerror(-ret));
		return ret;
	}
	if (md5)
		return refuse(d, p, "TCP socket", local, "option TCP_MD5SIG: TCP MD5 signature "
			      "keys, which can't be read back: not supported");
	e->has_shutdown = shut != 0;
	e->shutdown = shut;
	return 0;
}

/* A datagram socket's pending error (an ICMP error on a connected one)
 * or error queue (IP_RECVERR) is seen by poll only: reading either takes
 * it.  Refused (-EOPNOTSUPP) if there is one, before the queue is read
 * (which would take it too). */
static int pending_error(const struct files_dump *d, const struct fd_parms *p, int fd,
			 const char *what)
{
	struct pollfd pfd = { .fd = fd };

	if (poll(&pfd, 1, 0) < 0)
		return -errno;
	if (!(pfd.revents & POLLERR))
		return 0;
	pr_err("pid %d fd %d (%s): a pending error or entries in its error queue, which can't "
	       "be read without taking them: not supported\n", d->pid, p->fd, what);
	return -EOPNOTSUPP;
}

/* A TCP socket whose connection ended reads the MSS and window clamp its
 * connection negotiated, not settings of its own: a socket made again is
 * unconnected and can't take them (TCP_MAXSEG refuses a value above the
 * unconnected default's range), so they are left to the kernel.  An
 * accepted socket reads the SYN's TTL (hop limit) and interface as its
 * multicast TTL and interface, which a stream socket can't set: left too
 * (TCP repair sets the MSS). */
static void drop_connection_opts(struct sk_opts *o)
{
	size_t k = 0;

	for (size_t i = 0; i < o->n; i++) {
		const SkOptEntry *x = o->ptrs[i];

		if ((x->level == IPPROTO_TCP &&
		     (x->name == TCP_MAXSEG || x->name == TCP_WINDOW_CLAMP)) ||
		    (x->level == IPPROTO_IP &&
		     (x->name == IP_MULTICAST_TTL || x->name == IP_MULTICAST_IF)) ||
		    (x->level == IPPROTO_IPV6 &&
		     (x->name == IPV6_MULTICAST_HOPS || x->name == IPV6_MULTICAST_IF)))
			continue;
		o->ptrs[k++] = o->ptrs[i];
	}
	o->n = k;
}

/* Every option beyond the entry's fields, the shutdown state; refuses
 * multicast memberships (no interface lists them whole). */
static int read_more(const struct files_dump *d, const struct fd_parms *p, int fd,
		     const struct sockaddr_storage *local, InetSkEntry *e, struct sk_opts *o)
{
	char what[INET6_ADDRSTRLEN + 64], group[INET6_ADDRSTRLEN];
	struct sk_who w = { .pid = d->pid, .fd = p->fd, .what = what,
			    .connected = e->type == SOCK_STREAM && e->has_dst_port };
	int ret;

	sk_what(e, local, what, sizeof(what));
	ret = sk_opts_dump(&w, fd, e->family, e->type, e->protocol, o);
	if (ret)
		return ret;
	if (e->closed || e->has_dst_port)
		drop_connection_opts(o);
	e->opts = o->ptrs;
	e->n_opts = o->n;
	ret = read_shutdown(d, p, fd, local, e);
	if (ret || e->type == SOCK_STREAM)
		return ret;
	ret = pending_error(d, p, fd, what);
	if (ret)
		return ret;
	ret = sk_mcast_member(d->pid, fd, e->family, group, sizeof(group));
	if (ret > 0) {
		pr_err("pid %d fd %d (%s): a member of multicast group %s: not supported\n", d->pid,
		       p->fd, what, group);
		return -EOPNOTSUPP;
	}
	return ret;
}

static int raw_state(const struct files_dump *d, const struct fd_parms *p, int fd,
		     const struct sockaddr_storage *local, InetSkEntry *e, uint8_t *dbuf)
{
	char name[INET6_ADDRSTRLEN + 16], what[INET6_ADDRSTRLEN + 64], kind[48];

	inet_addr_name(local, name, sizeof(name));
	snprintf(what, sizeof(what), "%s %s", inet_raw_name(e, kind, sizeof(kind)), name);
	return inet_raw_state(d, p, fd, what, e, dbuf);
}

static int dump_queue(const struct files_dump *d, const struct fd_parms *p, int fd,
		      const struct sockaddr_storage *local, InetSkEntry *e, struct udp_queue *q)
{
	char what[INET6_ADDRSTRLEN + 64];

	return udp_queue_dump(d, p, fd, local, sk_what(e, local, what, sizeof(what)), e, q);
}

static int inet_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	InetSkEntry e = INET_SK_ENTRY__INIT;
	TcpRepairEntry t = TCP_REPAIR_ENTRY__INIT;
	struct sockaddr_storage peer, local = { .ss_family = AF_INET };
	socklen_t len = sizeof(local);
	uint8_t sbuf[16], dbuf[16];
	cleanup_free struct sk_opts *o = calloc(1, sizeof(*o));
	struct udp_queue q = { 0 };
	int fd, ret;

	if (!o)
		return -ENOMEM;
	if (p->flags & ~INET_FLAGS)
		return files_refuse_flags(d, p, "an IP socket", INET_FLAGS);
	ret = netns_check_sock(d->pid, p->fd, "an IPv4/IPv6 socket");
	if (ret)
		return ret;
	fd = files_steal(d, p);
	if (fd < 0)
		return fd;
	e.family = sock_int(fd, SOL_SOCKET, SO_DOMAIN);
	e.type = sock_int(fd, SOL_SOCKET, SO_TYPE);
	e.protocol = sock_int(fd, SOL_SOCKET, SO_PROTOCOL);
	e.flags = p->flags;
	local.ss_family = e.family;
	if (getsockname(fd, (struct sockaddr *)&local, &len)) {
		pr_perror("Can't read the address of pid %d fd %d", d->pid, p->fd);
		close(fd);
		return -errno;
	}
	/* A raw socket's "port" is its protocol: not an address. */
	if (e.type == SOCK_RAW)
		((struct sockaddr_in *)&local)->sin_port = 0; /* sin6_port's place too */
	if (take_addr(&local, &e.src_addr, sbuf, &e.src_port))
		e.has_src_addr = e.has_src_port = true;
	inet_raw_local(&e);
	if (e.type == SOCK_STREAM)
		ret = tcp_state(d, p, fd, &local, &e, dbuf, &t, &peer);
	else if (inet_raw_kind(e.type, e.protocol))
		ret = raw_state(d, p, fd, &local, &e, dbuf);
	else
		ret = udp_state(d, p, fd, &local, &e, dbuf);
	if (!ret) {
		read_options(fd, &e);
		ret = read_more(d, p, fd, &local, &e, o);
	}
	if (!ret && udp_kind(e.type, e.protocol))
		ret = dump_queue(d, p, fd, &local, &e, &q);
	/* Last: the options read above are the task's, not repair mode's. */
	if (!ret && e.tcp)
		ret = tcp_dump_conn(d, p, fd, &local, &peer, &t);
	close(fd);
	if (!ret) {
		fe->inet_sk = &e;
		ret = files_write(d, fe);
	}
	sk_opts_free(o);
	udp_queue_free(&q);
	return ret;
}

/* TCP, UDP, UDP-Lite, raw of any protocol, ping of the family's ICMP. */
static bool kind_ok(const InetSkEntry *e)
{
	if (e->type == SOCK_RAW)
		return e->protocol <= 255;
	if (e->type == SOCK_DGRAM && e->protocol == IPPROTO_ICMP)
		return e->family == AF_INET;
	if (e->type == SOCK_DGRAM && e->protocol == IPPROTO_ICMPV6)
		return e->family == AF_INET6;
	return (e->type == SOCK_STREAM && e->protocol == IPPROTO_TCP) ||
	       udp_kind(e->type, e->protocol);
}

static int inet_validate(const FileEntry *f, uint64_t data_size)
{
	const InetSkEntry *e = f->inet_sk;
	const char *why;
	size_t alen;

	if (!e)
		return restore_plan_bad("files.img", "file id %u has no inet_sk entry", f->id);
	alen = e->family == AF_INET ? 4 : 16;
	if ((e->family != AF_INET && e->family != AF_INET6) || !kind_ok(e) ||
	    (e->flags & ~INET_FLAGS) || (e->flags & O_ACCMODE) != O_RDWR ||
	    e->has_src_addr != e->has_src_port || (e->has_src_addr && e->src_addr.len != alen) ||
	    e->has_dst_addr != e->has_dst_port || (e->has_dst_addr && e->dst_addr.len != alen) ||
	    (e->has_dst_addr && e->type == SOCK_STREAM && !e->tcp) ||
	    (e->tcp && (!e->has_dst_addr || !e->has_src_addr || e->has_backlog || e->closed)) ||
	    (e->has_backlog && (e->type != SOCK_STREAM || e->backlog > MAX_BACKLOG)) ||
	    (e->closed && (e->type != SOCK_STREAM || e->has_backlog)) ||
	    e->src_port > 65535 || e->dst_port > 65535 || (e->v6only && e->family != AF_INET6))
		return restore_plan_bad("files.img", "IP socket file id %u: family %u, type %u, "
					"protocol %u, flags %s, addresses or backlog out of "
					"range", f->id, e->family, e->type, e->protocol,
					open_flags_words(e->flags).s);
	why = (e->tcp ? tcp_repair_bad(e->tcp, data_size) : NULL) ?: tcp_queue_bad(e, data_size);
	if (why)
		return restore_plan_bad("files.img", "TCP connection file id %u: %s", f->id, why);
	why = udp_queue_bad(e) ?: udplite_bad(e);
	if (why)
		return restore_plan_bad("files.img", "%s file id %u: %s",
					e->protocol == IPPROTO_UDPLITE ? "UDP-Lite socket" :
									 "UDP socket", f->id, why);
	why = sk_opts_bad(e->opts, e->n_opts, e->family);
	if (why || (e->has_shutdown && (!e->shutdown || e->shutdown > 3)))
		return restore_plan_bad("files.img", "IP socket file id %u: %s", f->id,
					why ?: "a shutdown state out of range");
	return 0;
}

socklen_t inet_sk_addr(const InetSkEntry *e, const ProtobufCBinaryData *addr, uint32_t port,
		       struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (e->family == AF_INET) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		memcpy(&a4->sin_addr, addr->data, 4);
		return sizeof(*a4);
	}
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(port);
	memcpy(&a6->sin6_addr, addr->data, 16);
	return sizeof(*a6);
}

const char *inet_bind_why(int err)
{
	if (err == EADDRNOTAVAIL)
		return "not an address of this host: it must be, or the tree needs a network "
		       "namespace of its own (--veth-pair)";
	return strerror(err);
}

static int set_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v));
}

/* The options bind() and the rest depend on come first; a buffer size
 * is set to half what was read (the kernel doubles it). */
static int set_options(int fd, const InetSkEntry *e, const char **which)
{
	if ((e->reuseaddr && set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)) ||
	    (e->reuseport && set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1)) ||
	    /* A raw socket's is the namespace's default, fixed at socket(). */
	    (e->family == AF_INET6 && e->type != SOCK_RAW &&
	     set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, e->v6only)) ||
	    (e->freebind && e->family == AF_INET && set_int(fd, IPPROTO_IP, IP_FREEBIND, 1)) ||
	    (e->freebind && e->family == AF_INET6 &&
	     set_int(fd, IPPROTO_IPV6, IPV6_FREEBIND, 1)) ||
	    (e->keepalive && set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1)) ||
	    (e->broadcast && set_int(fd, SOL_SOCKET, SO_BROADCAST, 1)) ||
	    (e->nodelay && set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1)))
		return -errno;
	return udplite_restore(fd, e, which) ?:
	       sk_opts_restore_all(fd, e->opts, e->n_opts, e->rcvbuf, e->sndbuf, which);
}

/* After bind(), listen() and connect(): an unconnected socket takes the
 * shutdown too (and says ENOTCONN).  A repaired connection's SHUT_WR is
 * its FIN, which sk-tcp-state.c puts back where it belongs (after the
 * unsent bytes, at the hand-over, if it was unsent). */
static int set_shutdown(int fd, const InetSkEntry *e)
{
	unsigned shut = e->tcp ? e->shutdown & 1 : e->shutdown;
	int how = shut == 3 ? SHUT_RDWR : shut == 1 ? SHUT_RD : SHUT_WR;

	if (!e->has_shutdown || !shut || !shutdown(fd, how) || errno == ENOTCONN)
		return 0;
	return -errno;
}

static int make_socket(struct task_files *tf, uint32_t desc, const InetSkEntry *e)
{
	struct sockaddr_storage ss;
	char name[INET6_ADDRSTRLEN + 16];
	const char *which = "SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY, SO_KEEPALIVE, "
			    "SO_BROADCAST, TCP_NODELAY or a buffer size";
	socklen_t len;
	int fd = socket(e->family, e->type | SOCK_CLOEXEC, e->protocol), ret;

	if (fd < 0 && errno == EACCES && e->type == SOCK_DGRAM && !udp_kind(e->type, e->protocol))
		return task_files_err(tf, desc, "can't create an ICMP ping socket: "
				      "net.ipv4.ping_group_range does not hold gid %u",
				      (unsigned)getegid());
	if (fd < 0)
		return task_files_err(tf, desc, "can't create an IP socket: %s", strerror(errno));
	ret = set_options(fd, e, &which);
	if (ret) {
		ret = task_files_err(tf, desc, "can't set the socket's option %s: %s", which,
				     strerror(-ret));
		goto err;
	}
	if (e->tcp) {
		ret = tcp_restore_conn(tf, desc, fd, e);
		if (ret)
			goto err;
	} else if (e->has_src_addr) {
		len = inet_sk_addr(e, &e->src_addr, e->src_port, &ss);
		inet_addr_name(&ss, name, sizeof(name));
		if (bind(fd, (struct sockaddr *)&ss, len) && !(e->closed && errno == EADDRINUSE)) {
			ret = task_files_err(tf, desc, "can't bind %s again: %s", name,
					     inet_bind_why(errno));
			goto err;
		}
	}
	if (e->has_backlog && listen(fd, e->backlog)) {
		ret = task_files_err(tf, desc, "can't listen: %s", strerror(errno));
		goto err;
	}
	ret = tcp_queue_restore(tf, desc, e) ?: udp_queue_restore(tf, desc, fd, e);
	if (ret)
		goto err;
	if (e->has_dst_addr && !e->tcp) {
		len = inet_sk_addr(e, &e->dst_addr, e->dst_port, &ss);
		inet_addr_name(&ss, name, sizeof(name));
		if (connect(fd, (struct sockaddr *)&ss, len)) {
			ret = task_files_err(tf, desc, "can't connect to %s again: %s", name,
					     strerror(errno));
			goto err;
		}
	}
	if (set_shutdown(fd, e)) {
		ret = task_files_err(tf, desc, "can't shut it down (%u): %s", e->shutdown,
				     strerror(errno));
		goto err;
	}
	if ((e->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK)) {
		ret = task_files_err(tf, desc, "can't set O_NONBLOCK: %s", strerror(errno));
		goto err;
	}
	return fd;
err:
	close(fd);
	return ret;
}

/* Says before the fork which closed TCP socket finds its old port taken
 * (by its TIME_WAIT, say): it is restored unbound. */
static int check_closed(const struct restore_plan *p, uint32_t desc, const InetSkEntry *e)
{
	struct sockaddr_storage ss;
	char name[INET6_ADDRSTRLEN + 16];
	socklen_t len;
	int fd, ret;

	if (!e->closed || !e->has_src_addr)
		return 0;
	fd = socket(e->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return 0;
	if (e->reuseaddr)
		set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (e->freebind)
		set_int(fd, e->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
			e->family == AF_INET ? IP_FREEBIND : IPV6_FREEBIND, 1);
	len = inet_sk_addr(e, &e->src_addr, e->src_port, &ss);
	ret = bind(fd, (struct sockaddr *)&ss, len);
	close(fd);
	if (ret && errno == EADDRINUSE) {
		inet_addr_name(&ss, name, sizeof(name));
		pr_warn("pid %d fd %d: TCP socket %s, whose connection was closed: its port is "
			"taken, it is restored unbound\n", p->pid, p->fdesc[desc].first_fd, name);
	}
	return 0;
}

/* Before the fork: what the socket's options need of this host (a
 * connection's congestion control) is here. */
static int inet_check(const struct restore_plan *p, uint32_t desc)
{
	const InetSkEntry *e = p->fdesc[desc].fe->inet_sk;
	struct sockaddr_storage ss = { .ss_family = e->family };
	char what[INET6_ADDRSTRLEN + 64];
	struct sk_who w = { .pid = p->pid, .fd = p->fdesc[desc].first_fd, .what = what };

	if (e->has_src_addr)
		inet_sk_addr(e, &e->src_addr, e->src_port, &ss);
	sk_what(e, &ss, what, sizeof(what));
	return udplite_check(w.pid, w.fd, what, e) ?:
	       sk_opts_check(&w, e->opts, e->n_opts, e->family, e->type, e->protocol) ?:
	       check_closed(p, desc, e);
}

int inet_check_port(pid_t pid, int sfd, const InetSkEntry *e)
{
	const char *which = "an option";
	char name[INET6_ADDRSTRLEN + 16], kind[48];
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, ret;

	if (!e->has_src_addr || e->tcp || e->closed)
		return 0;
	len = inet_sk_addr(e, &e->src_addr, e->src_port, &ss);
	inet_addr_name(&ss, name, sizeof(name));
	fd = socket(e->family, e->type | SOCK_CLOEXEC, e->protocol);
	if (fd < 0) {
		pr_perror("pid %d fd %d: can't create an IP socket to try %s", pid, sfd, name);
		return -errno;
	}
	ret = set_options(fd, e, &which);
	if (!ret && bind(fd, (struct sockaddr *)&ss, len)) {
		ret = -errno;
		pr_err("pid %d fd %d: %s %s can't be bound here: %s\n", pid, sfd,
		       kind_name(e, kind, sizeof(kind)), name, inet_bind_why(errno));
	} else if (ret) {
		pr_err("pid %d fd %d: can't set %s of socket %s here: %s\n", pid, sfd, which, name,
		       strerror(-ret));
	}
	close(fd);
	return ret;
}

/* A running process's socket FD (a copy), read without stopping it for
 * migrate's preflight: what inet_check_port tries.  CONNECTED: a TCP
 * connection (restored by TCP repair, its port not tried); false when the
 * socket is no IP socket lmproc binds again (raw, ping, never bound). */
bool inet_preflight_read(int fd, InetSkEntry *e, uint8_t *sbuf, bool *connected)
{
	struct sockaddr_storage local = {}, peer = {};
	socklen_t len = sizeof(local), plen = sizeof(peer);

	e->family = sock_int(fd, SOL_SOCKET, SO_DOMAIN);
	e->type = sock_int(fd, SOL_SOCKET, SO_TYPE);
	e->protocol = sock_int(fd, SOL_SOCKET, SO_PROTOCOL);
	*connected = false;
	if ((e->family != AF_INET && e->family != AF_INET6) || !kind_ok(e) ||
	    inet_raw_kind(e->type, e->protocol))
		return false;
	*connected = e->type == SOCK_STREAM && !getpeername(fd, (struct sockaddr *)&peer, &plen);
	if (*connected || getsockname(fd, (struct sockaddr *)&local, &len))
		return false;
	if (!take_addr(&local, &e->src_addr, sbuf, &e->src_port) || !e->src_port)
		return false;
	e->has_src_addr = e->has_src_port = true;
	read_options(fd, e);
	/* The buffer sizes are set as options, not tried by a bind. */
	e->rcvbuf = e->sndbuf = 0;
	return true;
}

/* What serve's preflight takes of a peer's InetSkEntry: a bound IP
 * socket, its address of the family's length, nothing else. */
const char *inet_preflight_bad(const InetSkEntry *e)
{
	if ((e->family != AF_INET && e->family != AF_INET6) || !kind_ok(e) ||
	    inet_raw_kind(e->type, e->protocol))
		return "not a TCP, UDP or UDP-Lite socket";
	if (!e->has_src_addr || !e->has_src_port || !e->src_addr.data ||
	    e->src_addr.len != (e->family == AF_INET ? 4u : 16u) || e->src_port > 65535 ||
	    !e->src_port)
		return "an address out of range";
	if (e->tcp || e->closed || e->has_dst_addr || e->n_opts || e->rcvbuf || e->sndbuf ||
	    e->has_backlog || e->n_dgrams || e->n_queued || e->has_udplite_send_cscov ||
	    e->has_udplite_recv_cscov || (e->v6only && e->family != AF_INET6))
		return "more than a bound socket";
	return NULL;
}

static int check_port(const struct restore_plan *p, uint32_t desc)
{
	return inet_check_port(p->pid, p->fdesc[desc].first_fd, p->fdesc[desc].fe->inet_sk);
}

int inet_check_ports(const struct restore_plan *p)
{
	for (uint32_t i = 0; i < p->nr_files; i++) {
		const struct file_desc *d = &p->fdesc[i];
		int ret;

		if (d->ops != &inet_sk_fd_ops || (d->first_fd < 0 && !d->make_here))
			continue;
		ret = check_port(p, i);
		if (ret)
			return ret;
	}
	return 0;
}

bool inet_has_connections(const struct restore_plan *p)
{
	for (uint32_t i = 0; i < p->nr_files; i++)
		if (p->fdesc[i].ops == &inet_sk_fd_ops && p->fdesc[i].fe->inet_sk->tcp)
			return true;
	return false;
}

static int inet_open(struct task_files *tf, uint32_t desc)
{
	int fd = make_socket(tf, desc, tf->plan->fdesc[desc].fe->inet_sk);

	return fd < 0 ? fd : task_files_install(tf, desc, fd);
}

const struct fd_ops inet_sk_fd_ops = {
	.type = FD_TYPE__FD_INET_SK,
	.name = "IP socket",
	.match = inet_match,
	.dump = inet_dump,
	.validate = inet_validate,
	.check = inet_check,
	.open = inet_open,
};
