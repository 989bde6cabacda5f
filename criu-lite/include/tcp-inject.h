/* Segments a restore sends to a connection's local end as if from its
 * peer (net/tcp-inject.c): the peer's FIN of a closing connection
 * (sk-tcp-state.c), a queued connection's handshake (sk-tcp-queue.c);
 * and datagrams a UDP or UDP-Lite socket gets again from their senders
 * (sk-udp-queue.c). */
#ifndef LMPROC_TCP_INJECT_H
#define LMPROC_TCP_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The most payload one injected segment carries. */
#define TCP_INJECT_MAX_DATA 1400u
/* The most payload of one injected datagram: what an IPv6 packet holds
 * (an IPv4 one holds 20 bytes less, which sendto() refuses). */
#define UDP_INJECT_MAX_DATA (65535u - 8u)

struct tcp_seg {
	uint8_t flags;	/* TH_SYN, TH_ACK, TH_FIN, TH_PUSH */
	uint32_t seq, ack;
	uint16_t win;	/* as the header carries it (scaled) */
	const uint8_t *opt;
	size_t olen;	/* a multiple of 4, at most 40 */
	const void *data;
	size_t dlen;	/* at most TCP_INJECT_MAX_DATA */
};

/* A raw socket of FAMILY (AF_INET, AF_INET6) whose packets the network
 * lock lets through (NETLOCK_MARK), in the caller's network namespace:
 * the fd, or -errno. */
int tcp_inject_open(int family);
/* S from PEER to LOCAL (wire addresses: a v4-mapped one is IPv4, ports
 * set), IP header and checksum made here, through RAW: 0 or -errno. */
int tcp_inject(int raw, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
	       const struct tcp_seg *s);
/* A datagram of PROTO (IPPROTO_UDP, IPPROTO_UDPLITE: all of it
 * covered by the checksum) of DLEN bytes from PEER to LOCAL (wire
 * addresses, ports set) through RAW: 0 or -errno. */
int udp_inject(int raw, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
	       int proto, const void *data, size_t dlen);

/* SS into W as the wire carries it: a v4-mapped IPv6 address is IPv4. */
void inject_wire_addr(const struct sockaddr_storage *ss, struct sockaddr_storage *w);

#endif
