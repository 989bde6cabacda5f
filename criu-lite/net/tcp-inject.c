/* Owns the segments a restore sends as a connection's peer would, to its
 * local end over the loopback of the connection's network namespace, and
 * the datagrams a UDP or UDP-Lite socket's receive queue gets again
 * from their senders (sk-udp-queue.c): a raw socket (IPPROTO_RAW: the IP
 * header is ours, IPv6's too) whose packets carry NETLOCK_MARK, which
 * every network lock lets through first; the TCP and UDP(-Lite) checksums over the
 * pseudo-header are computed here (a raw IPv6 socket does not). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "netlock.h"
#include "tcp-inject.h"

static uint32_t sum16(const void *p, size_t n, uint32_t sum)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (b[i] << 8) | b[i + 1];
	if (n & 1)
		sum += b[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* The TCP header and payload of S at TH, from PEER to LOCAL; its length. */
static size_t tcp_seg(const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
		      const struct tcp_seg *s, struct tcphdr *th)
{
	const struct sockaddr_in *l = (const void *)local, *p = (const void *)peer;
	size_t len = sizeof(*th) + s->olen + s->dlen;

	memset(th, 0, sizeof(*th));
	th->source = p->sin_port; /* the same offset in sockaddr_in6 */
	th->dest = l->sin_port;
	th->seq = htonl(s->seq);
	th->ack_seq = htonl(s->ack);
	th->doff = (sizeof(*th) + s->olen) / 4;
	((uint8_t *)th)[13] = s->flags;
	th->window = htons(s->win);
	if (s->olen)
		memcpy(th + 1, s->opt, s->olen);
	if (s->dlen)
		memcpy((uint8_t *)(th + 1) + s->olen, s->data, s->dlen);
	return len;
}

/* The IP header at PKT of a PROTO packet of TL bytes from PEER to LOCAL;
 * the checksum of its pseudo-header. */
static uint32_t ip_header(const struct sockaddr_storage *local,
			  const struct sockaddr_storage *peer, uint8_t *pkt, size_t tl, int proto)
{
	struct iphdr *ip = (void *)pkt;
	struct ip6_hdr *ip6 = (void *)pkt;

	if (local->ss_family == AF_INET) {
		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = proto;
		ip->tot_len = htons(sizeof(*ip) + tl);
		ip->saddr = ((const struct sockaddr_in *)peer)->sin_addr.s_addr;
		ip->daddr = ((const struct sockaddr_in *)local)->sin_addr.s_addr;
		return sum16(&ip->saddr, 8, proto + tl);
	}
	memset(ip6, 0, sizeof(*ip6));
	ip6->ip6_flow = htonl(6u << 28);
	ip6->ip6_plen = htons(tl);
	ip6->ip6_nxt = proto;
	ip6->ip6_hlim = 64;
	ip6->ip6_src = ((const struct sockaddr_in6 *)peer)->sin6_addr;
	ip6->ip6_dst = ((const struct sockaddr_in6 *)local)->sin6_addr;
	return sum16(&ip6->ip6_src, 32, proto + tl);
}

int tcp_inject_open(int family)
{
	int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW), mark = NETLOCK_MARK;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* The raw socket sends to the header's address (the sockaddr's port
 * must be 0). */
static int send_packet(int raw, const struct sockaddr_storage *local, const void *pkt, size_t len)
{
	struct sockaddr_storage dst = *local;
	bool v4 = local->ss_family == AF_INET;

	((struct sockaddr_in *)&dst)->sin_port = 0;
	if (sendto(raw, pkt, len, 0, (struct sockaddr *)&dst,
		   v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) != (ssize_t)len)
		return -errno;
	return 0;
}

int tcp_inject(int raw, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
	       const struct tcp_seg *s)
{
	uint8_t pkt[sizeof(struct ip6_hdr) + sizeof(struct tcphdr) + 40 + TCP_INJECT_MAX_DATA];
	bool v4 = local->ss_family == AF_INET;
	size_t hl = v4 ? sizeof(struct iphdr) : sizeof(struct ip6_hdr), tl;
	struct tcphdr *th = (void *)(pkt + hl);

	if (s->olen > 40 || s->olen % 4 || s->dlen > TCP_INJECT_MAX_DATA)
		return -EINVAL;
	tl = tcp_seg(local, peer, s, th);
	th->check = htons(fold(sum16(th, tl, ip_header(local, peer, pkt, tl, IPPROTO_TCP))));
	return send_packet(raw, local, pkt, hl + tl);
}

/* A UDP-Lite header is UDP's, its length field the checksum's coverage:
 * the whole datagram, as UDP's checksum covers it, with the protocol's
 * own number in the pseudo-header. */
int udp_inject(int raw, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
	       int proto, const void *data, size_t dlen)
{
	cleanup_free uint8_t *pkt = malloc(sizeof(struct ip6_hdr) + sizeof(struct udphdr) + dlen);
	bool v4 = local->ss_family == AF_INET;
	size_t hl = v4 ? sizeof(struct iphdr) : sizeof(struct ip6_hdr);
	size_t tl = sizeof(struct udphdr) + dlen;
	struct udphdr *uh = (void *)(pkt + hl);
	uint16_t sum;

	if (!pkt)
		return -ENOMEM;
	if (dlen > UDP_INJECT_MAX_DATA || (v4 && hl + tl > 65535))
		return -EMSGSIZE;
	uh->source = ((const struct sockaddr_in *)peer)->sin_port; /* the same offset in v6 */
	uh->dest = ((const struct sockaddr_in *)local)->sin_port;
	uh->len = htons(tl);
	uh->check = 0;
	memcpy(uh + 1, data, dlen);
	sum = fold(sum16(uh, tl, ip_header(local, peer, pkt, tl, proto)));
	/* 0 says "no checksum" (refused over IPv6): all ones is the same sum. */
	uh->check = htons(sum ?: 0xffff);
	return send_packet(raw, local, pkt, hl + tl);
}

void inject_wire_addr(const struct sockaddr_storage *ss, struct sockaddr_storage *w)
{
	const struct sockaddr_in6 *a6 = (const void *)ss;
	struct sockaddr_in *w4 = (void *)w;

	*w = *ss;
	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
		return;
	memset(w, 0, sizeof(*w));
	w4->sin_family = AF_INET;
	w4->sin_port = a6->sin6_port;
	memcpy(&w4->sin_addr, &a6->sin6_addr.s6_addr[12], 4);
}
