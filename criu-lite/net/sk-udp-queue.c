/* Owns a UDP or UDP-Lite socket's receive queue: the datagrams it
 * holds, each with its sender's address and port (a UDP-Lite one put
 * back whole, its checksum covering all of it: a reader can't tell).  No call puts a datagram into a socket,
 * and no call reads one but recvmsg(), which takes it out; so the dump
 * reads them through its copy of the fd and at once sends each back,
 * through a raw socket in the socket's network namespace, from its
 * sender's address and port (IP and UDP headers made by tcp-inject.c,
 * marked so that a network lock lets them pass), waiting until each is
 * queued again before the next goes, so the queue is back, in order,
 * before the dump goes on, whatever happens to it; restore queues them
 * the same way after bind() and before connect().  A datagram arriving
 * meanwhile comes before those put back.  What the datagrams can't carry
 * again is refused when something is queued: options that give a reader
 * more than the payload and the sender (IP_PKTINFO, timestamps, the
 * TTL...), a socket filter, a socket bound to an interface (the
 * datagrams come back over the loopback), SO_REUSEPORT or another socket
 * of its protocol bound to the same port (they could go to that one), a queue more than half full (a datagram
 * put back may take more memory than the kernel gave it on arrival), a
 * connected socket holding datagrams of another sender (from before its
 * connect(): they could not be put back into the running tree).  And
 * whatever the queue holds, a datagram still to be sent (corked with
 * UDP_CORK or MSG_MORE) is refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>

#include "common.h"
#include "log.h"
#include "netns.h"
#include "sk-tcp.h"
#include "sk-udp.h"
#include "tcp-inject.h"
#include "uapi-compat.h"

/* More than a socket's largest receive buffer holds of empty datagrams. */
#define MAX_DGRAMS 65536u
/* How long a datagram put back may take to reach the socket. */
#define ARRIVE_MS 2000

struct recv_opt {
	int level, name;
	const char *str;
};

#define R(l, n) { l, n, #n }
/* Options with which a reader gets more than the payload and the sender,
 * or which decide which datagrams reach the socket. */
static const struct recv_opt recv_opts[] = {
	R(IPPROTO_IP, IP_PKTINFO),
	R(IPPROTO_IP, IP_RECVTTL),
	R(IPPROTO_IP, IP_RECVTOS),
	R(IPPROTO_IP, IP_RECVOPTS),
	R(IPPROTO_IP, IP_RETOPTS),
	R(IPPROTO_IP, IP_RECVORIGDSTADDR),
	R(IPPROTO_IP, IP_PASSSEC),
	R(IPPROTO_IP, IP_RECVFRAGSIZE),
	R(IPPROTO_IP, IP_CHECKSUM),
	R(IPPROTO_IP, IP_MINTTL),
	R(IPPROTO_IPV6, IPV6_RECVPKTINFO),
	R(IPPROTO_IPV6, IPV6_2292PKTINFO),
	R(IPPROTO_IPV6, IPV6_2292HOPOPTS),
	R(IPPROTO_IPV6, IPV6_2292DSTOPTS),
	R(IPPROTO_IPV6, IPV6_2292RTHDR),
	R(IPPROTO_IPV6, IPV6_2292HOPLIMIT),
	R(IPPROTO_IPV6, IPV6_FLOWINFO),
	R(IPPROTO_IPV6, IPV6_RECVHOPLIMIT),
	R(IPPROTO_IPV6, IPV6_RECVHOPOPTS),
	R(IPPROTO_IPV6, IPV6_RECVRTHDR),
	R(IPPROTO_IPV6, IPV6_RECVDSTOPTS),
	R(IPPROTO_IPV6, IPV6_RECVPATHMTU),
	R(IPPROTO_IPV6, IPV6_RECVTCLASS),
	R(IPPROTO_IPV6, IPV6_RECVORIGDSTADDR),
	R(IPPROTO_IPV6, IPV6_RECVFRAGSIZE),
	R(IPPROTO_IPV6, IPV6_MINHOPCOUNT),
	R(IPPROTO_UDP, UDP_GRO),
	R(SOL_SOCKET, SO_TIMESTAMP_OLD),
	R(SOL_SOCKET, SO_TIMESTAMPNS_OLD),
	R(SOL_SOCKET, SO_TIMESTAMP_NEW),
	R(SOL_SOCKET, SO_TIMESTAMPNS_NEW),
	R(SOL_SOCKET, SO_TIMESTAMPING_OLD),
	R(SOL_SOCKET, SO_RCVMARK),
	R(SOL_SOCKET, SO_RCVPRIORITY),
	R(SOL_SOCKET, SO_RXQ_OVFL),
	R(SOL_SOCKET, SO_PASSSEC),
	R(SOL_SOCKET, SO_PASSPIDFD),
	R(SOL_SOCKET, SO_WIFI_STATUS),
	R(SOL_SOCKET, SO_BINDTODEVICE),
	R(SOL_SOCKET, SO_ATTACH_FILTER),
};

/* The option of E that a queue can't be kept with, or NULL. */
static const char *recv_opt_set(const InetSkEntry *e)
{
	for (size_t i = 0; i < e->n_opts; i++)
		for (size_t k = 0; k < ARRAY_SIZE(recv_opts); k++)
			if (e->opts[i]->level == (uint32_t)recv_opts[k].level &&
			    e->opts[i]->name == (uint32_t)recv_opts[k].name)
				return recv_opts[k].str;
	return NULL;
}

static int meminfo(int fd, uint32_t *rmem, uint32_t *rcvbuf)
{
	uint32_t mi[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof(mi);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len))
		return -errno;
	*rmem = mi[SK_MEMINFO_RMEM_ALLOC];
	*rcvbuf = mi[SK_MEMINFO_RCVBUF];
	return 0;
}

/* Where a datagram from SRC (wire) to a socket bound to LOCAL goes: the
 * socket's address, the loopback's if it is bound to any. */
static int dest_addr(const struct sockaddr_storage *local, const struct sockaddr_storage *src,
		     struct sockaddr_storage *dst)
{
	struct sockaddr_in *d4 = (void *)dst;
	struct sockaddr_in6 *d6 = (void *)dst;
	in_port_t port = ((const struct sockaddr_in *)local)->sin_port;

	inject_wire_addr(local, dst);
	if (dst->ss_family != src->ss_family) {
		const struct sockaddr_in6 *l6 = (const void *)local;

		if (src->ss_family != AF_INET || !IN6_IS_ADDR_UNSPECIFIED(&l6->sin6_addr))
			return -EAFNOSUPPORT;
		memset(dst, 0, sizeof(*dst));
		d4->sin_family = AF_INET;
		d4->sin_port = port;
	}
	if (dst->ss_family == AF_INET && d4->sin_addr.s_addr == htonl(INADDR_ANY))
		d4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (dst->ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&d6->sin6_addr))
		d6->sin6_addr = in6addr_loopback;
	return 0;
}

static void dgram_addr(int family, const UdpDgramEntry *g, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET) {
		a4->sin_port = htons(g->src_port);
		memcpy(&a4->sin_addr, g->src_addr.data, 4);
	} else {
		a6->sin6_port = htons(g->src_port);
		memcpy(&a6->sin6_addr, g->src_addr.data, 16);
	}
}

/* Until the socket's receive memory grows past BEFORE: the datagram is
 * queued. */
static int wait_arrival(int fd, uint32_t before)
{
	struct timespec ms = { .tv_nsec = 1000000 };
	uint32_t rmem, rcvbuf;

	for (int i = 0; i < ARRIVE_MS; i++) {
		int ret = meminfo(fd, &rmem, &rcvbuf);

		if (ret)
			return ret;
		if (rmem > before)
			return 0;
		nanosleep(&ms, NULL);
	}
	return -ETIMEDOUT;
}

/* Sends the N datagrams of G (of a socket of FAMILY and PROTO) to FD,
 * bound to LOCAL, through RAW (an IPv4 and an IPv6 raw socket), each
 * waited for; on failure *AT is the one that failed and *WHY says how. */
static int queue_again(int fd, const int raw[2], int family, int proto,
		       const struct sockaddr_storage *local, UdpDgramEntry *const *g, size_t n,
		       size_t *at, const char **why)
{
	struct sockaddr_storage src, wsrc, dst;
	uint32_t rmem, rcvbuf;
	int ret;

	for (*at = 0; *at < n; (*at)++) {
		dgram_addr(family, g[*at], &src);
		inject_wire_addr(&src, &wsrc);
		*why = "its sender's address can't reach the socket's";
		ret = dest_addr(local, &wsrc, &dst);
		if (ret)
			return ret;
		*why = "can't read the socket's memory";
		ret = meminfo(fd, &rmem, &rcvbuf);
		if (ret)
			return ret;
		*why = "the socket's receive buffer is full";
		if (rmem > rcvbuf)
			return -ENOBUFS;
		*why = "can't send it";
		ret = udp_inject(raw[dst.ss_family == AF_INET6], &dst, &wsrc, proto,
				 g[*at]->data.data, g[*at]->data.len);
		if (ret)
			return ret;
		*why = "it did not reach the socket";
		ret = wait_arrival(fd, rmem);
		if (ret)
			return ret;
	}
	return 0;
}

/* Dump side. */

void udp_queue_free(struct udp_queue *q)
{
	for (size_t i = 0; q->ents && i < q->n; i++) {
		free(q->ents[i].src_addr.data);
		free(q->ents[i].data.data);
	}
	free(q->ents);
	free(q->ptrs);
	*q = (struct udp_queue){ 0 };
}

static int refuse(const struct files_dump *d, const struct fd_parms *p, const char *what,
		  const char *why, const char *more)
{
	pr_err("pid %d fd %d (%s): datagrams queued, %s%s: not supported\n", d->pid, p->fd, what,
	       why, more ?: "");
	return -EOPNOTSUPP;
}

static bool same_sender(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct sockaddr_storage wa, wb;
	const struct sockaddr_in *a4 = (void *)&wa, *b4 = (void *)&wb;
	const struct sockaddr_in6 *a6 = (void *)&wa, *b6 = (void *)&wb;

	inject_wire_addr(a, &wa);
	inject_wire_addr(b, &wb);
	if (wa.ss_family != wb.ss_family || a4->sin_port != b4->sin_port) /* sin6_port's place */
		return false;
	if (wa.ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}

/* A connected socket: every datagram queued comes from its peer, read
 * without taking them (SO_PEEK_OFF walks the queue; the socket's own
 * offset is set back).  1 if so, 0 if not, -errno. */
static int all_from_peer(int fd, uint8_t *buf)
{
	struct sockaddr_storage peer, from;
	socklen_t len = sizeof(peer), olen = sizeof(int);
	int off = -1, zero = 0, ok = 1;

	if (getpeername(fd, (struct sockaddr *)&peer, &len) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, &olen) ||
	    setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)))
		return -errno;
	for (unsigned i = 0; ok && i < MAX_DGRAMS; i++) {
		len = sizeof(from);
		if (recvfrom(fd, buf, UDP_INJECT_MAX_DATA, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&from, &len) < 0)
			break;
		ok = same_sender(&from, &peer);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)))
		return -errno;
	return ok;
}

/* Another socket of PROTO of PID's namespace bound to PORT than INO
 * (listed in /proc/PID/net/udp and udp6, or udplite and udplite6: each
 * protocol has ports of its own): 1 if so, 0 if not, -errno. */
static int port_shared(pid_t pid, int proto, unsigned long ino, unsigned port)
{
	static const char *const udp[] = { "udp", "udp6" }, *const lite[] = { "udplite", "udplite6" };
	const char *const *tables = proto == IPPROTO_UDPLITE ? lite : udp;
	char path[64], line[512];
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(udp) && !ret; i++) {
		unsigned lport;
		unsigned long lino;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, tables[i]);
		f = fopen(path, "re");
		if (!f)
			return errno == ENOENT ? 0 : -errno;
		while (!ret && fgets(line, sizeof(line), f))
			ret = sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %*x %*x:%*x "
				     "%*x:%*x %*x %*u %*d %lu", &lport, &lino) == 2 &&
			      lport == port && lino != ino;
		fclose(f);
	}
	return ret;
}

/* What makes the queue of FD refused: NULL, or why and *MORE. */
static const char *queue_refusal(const struct files_dump *d, const struct fd_parms *p, int fd,
				 const InetSkEntry *e, uint8_t *buf, const char **more, int *err)
{
	uint32_t rmem, rcvbuf;

	*more = recv_opt_set(e);
	if (*more)
		return "with option ";
	if (e->reuseport)
		return "with SO_REUSEPORT (a datagram put back could reach another socket of its "
		       "group)";
	*err = port_shared(d->pid, e->protocol, p->st.st_ino, e->src_port);
	if (*err < 0)
		return "can't read its namespace's sockets of its protocol";
	if (*err)
		return "and another socket of its protocol bound to its port (a datagram put back "
		       "could reach that one)";
	*err = meminfo(fd, &rmem, &rcvbuf);
	if (*err)
		return "can't read the socket's memory";
	if (rmem > rcvbuf / 2)
		return "its receive buffer more than half full (a datagram put back may take "
		       "more memory than it did)";
	if (!e->has_dst_addr)
		return NULL;
	*err = all_from_peer(fd, buf);
	if (*err < 0)
		return "can't peek at them";
	return *err ? NULL : "some from another sender than the connected peer (queued before "
			     "connect())";
}

static int take_one(struct udp_queue *q, const struct sockaddr_storage *from, int family,
		    const uint8_t *buf, size_t len)
{
	UdpDgramEntry *g, *ents = realloc(q->ents, (q->n + 1) * sizeof(*ents));
	size_t alen = family == AF_INET ? 4 : 16;

	if (!ents)
		return -ENOMEM;
	q->ents = ents;
	g = &ents[q->n];
	udp_dgram_entry__init(g);
	g->src_addr.data = malloc(alen);
	g->data.data = malloc(len ?: 1);
	q->n++;
	if (!g->src_addr.data || !g->data.data)
		return -ENOMEM;
	g->src_addr.len = alen;
	memcpy(g->src_addr.data, family == AF_INET ?
		       (const void *)&((const struct sockaddr_in *)from)->sin_addr :
		       (const void *)&((const struct sockaddr_in6 *)from)->sin6_addr, alen);
	g->src_port = ntohs(((const struct sockaddr_in *)from)->sin_port);
	g->data.len = len;
	memcpy(g->data.data, buf, len);
	return 0;
}

/* Takes every datagram queued on FD into Q. */
static int read_all(int fd, int family, uint8_t *buf, struct udp_queue *q)
{
	struct sockaddr_storage from;
	socklen_t len;
	ssize_t n;
	int ret;

	for (;;) {
		len = sizeof(from);
		n = recvfrom(fd, buf, UDP_INJECT_MAX_DATA + 1, MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&from, &len);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (from.ss_family != family || n > UDP_INJECT_MAX_DATA || q->n >= MAX_DGRAMS)
			return -EMSGSIZE;
		ret = take_one(q, &from, family, buf, n);
		if (ret)
			return ret;
	}
}

/* An IPv4 and an IPv6 raw socket in the caller's network namespace:
 * 0, or -errno with none open. */
static int open_raw(int raw[2])
{
	raw[0] = tcp_inject_open(AF_INET);
	raw[1] = raw[0] < 0 ? raw[0] : tcp_inject_open(AF_INET6);
	if (raw[1] >= 0)
		return 0;
	if (raw[0] >= 0)
		close(raw[0]);
	return raw[1];
}

static void close_raw(const int raw[2])
{
	close(raw[0]);
	close(raw[1]);
}

/* Puts Q back into FD; a datagram that can't go back is lost: named. */
static int put_back(const struct files_dump *d, const struct fd_parms *p, int fd,
		    const struct sockaddr_storage *local, const char *what, int family, int proto,
		    const struct udp_queue *q)
{
	const char *why = "can't open a raw socket in its network namespace";
	int back = netns_enter(d->pid), raw[2], ret = back;
	size_t at = 0;

	if (back >= 0) {
		ret = open_raw(raw);
		ret = netns_leave(back) ?: ret;
	}
	if (!ret) {
		ret = queue_again(fd, raw, family, proto, local, q->ptrs, q->n, &at, &why);
		close_raw(raw);
	}
	if (!ret)
		return 0;
	pr_err("pid %d fd %d (%s): %zu of its %zu queued datagrams could not be put back, they "
	       "are lost: datagram %zu: %s: %s\n", d->pid, p->fd, what, q->n - at, q->n, at + 1,
	       why, strerror(-ret));
	return -EIO;
}

int udp_queue_dump(const struct files_dump *d, const struct fd_parms *p, int fd,
		   const struct sockaddr_storage *local, const char *what, InetSkEntry *e,
		   struct udp_queue *q)
{
	cleanup_free uint8_t *buf = malloc(UDP_INJECT_MAX_DATA + 1);
	const char *why, *more = NULL;
	int err = 0, ret, outq = 0;
	uint32_t rmem, rcvbuf;

	if (!buf)
		return -ENOMEM;
	/* Sent datagrams leave the socket's memory at once over the
	 * loopback, once sent by a device elsewhere: what stays is corked. */
	if (ioctl(fd, SIOCOUTQ, &outq)) {
		pr_perror("pid %d fd %d (%s): can't read its send queue", d->pid, p->fd, what);
		return -errno;
	}
	if (outq) {
		pr_err("pid %d fd %d (%s): data corked, waiting to be sent (UDP_CORK or MSG_MORE; "
		       "%d bytes of its send buffer), which no call reads back: not supported\n",
		       d->pid, p->fd, what, outq);
		return -EOPNOTSUPP;
	}
	/* Not a recv(MSG_PEEK): it would take a pending error. */
	ret = meminfo(fd, &rmem, &rcvbuf);
	if (ret) {
		pr_err("pid %d fd %d (%s): can't read its memory: %s\n", d->pid, p->fd, what,
		       strerror(-ret));
		return ret;
	}
	if (!rmem)
		return 0;
	why = queue_refusal(d, p, fd, e, buf, &more, &err);
	if (why && err < 0) {
		pr_err("pid %d fd %d (%s): %s: %s\n", d->pid, p->fd, what, why, strerror(-err));
		return err;
	}
	if (why)
		return refuse(d, p, what, why, more);
	ret = read_all(fd, e->family, buf, q);
	q->ptrs = q->n ? calloc(q->n, sizeof(*q->ptrs)) : NULL;
	for (size_t i = 0; q->ptrs && i < q->n; i++)
		q->ptrs[i] = &q->ents[i];
	if (q->n && !q->ptrs)
		ret = ret ?: -ENOMEM;
	if (ret)
		pr_err("pid %d fd %d (%s): can't read its queued datagrams: %s\n", d->pid, p->fd,
		       what, strerror(-ret));
	ret = (q->ptrs ? put_back(d, p, fd, local, what, e->family, e->protocol, q) : 0) ?: ret;
	e->dgrams = q->ptrs;
	e->n_dgrams = q->n;
	return ret;
}

/* Restore side. */

const char *udp_queue_bad(const InetSkEntry *e)
{
	size_t alen = e->family == AF_INET ? 4 : 16;

	if (!e->n_dgrams)
		return NULL;
	if (!udp_kind(e->type, e->protocol))
		return "datagrams queued on a socket other than UDP or UDP-Lite";
	if (!e->has_src_addr || !e->src_port)
		return "datagrams queued on a socket with no port";
	if (e->n_dgrams > MAX_DGRAMS)
		return "more datagrams queued than a socket holds";
	if (recv_opt_set(e) || e->reuseport)
		return "datagrams queued on a socket with an option they can't be kept with";
	for (size_t i = 0; i < e->n_dgrams; i++) {
		const UdpDgramEntry *g = e->dgrams[i];
		bool v4 = alen == 4 ||
			  (g->src_addr.len == 16 && IN6_IS_ADDR_V4MAPPED(g->src_addr.data));

		/* An IPv4 packet holds 20 bytes less than an IPv6 one. */
		if (g->src_addr.len != alen || g->src_port > 65535 ||
		    g->data.len > UDP_INJECT_MAX_DATA - (v4 ? 20 : 0))
			return "a queued datagram's sender or size out of range";
	}
	return NULL;
}

int udp_queue_restore(struct task_files *tf, uint32_t desc, int fd, const InetSkEntry *e)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	const char *why = "can't open a raw socket";
	int raw[2], ret;
	size_t at = 0;

	if (!e->n_dgrams)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&local, &len))
		return task_files_err(tf, desc, "can't read its address: %s", strerror(errno));
	ret = open_raw(raw);
	if (!ret) {
		ret = queue_again(fd, raw, e->family, e->protocol, &local, e->dgrams, e->n_dgrams,
				  &at, &why);
		close_raw(raw);
	}
	if (!ret)
		return 0;
	errno = -ret;
	return task_files_err(tf, desc, "can't queue its datagram %zu of %zu again: %s: %s",
			      at + 1, (size_t)e->n_dgrams, why, strerror(-ret));
}
