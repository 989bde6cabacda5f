/* Owns the closing states of a repaired TCP connection (FIN_WAIT1,
 * FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING), both sides.  Dump: the
 * sequence numbers and queue lengths TCP repair reads count a FIN as one
 * byte; they are saved without it, with the state saying which FINs were
 * sent and received.  Restore: the socket is made established in repair
 * mode (sk-tcp.c), then its FINs are put back in the order the state
 * went through: this side's FIN by shutdown(SHUT_WR) (in repair mode
 * with the send queue selected when it had been sent, so that it counts
 * as sent and is not sent again until a retransmission), the peer's FIN
 * as a packet injected through a raw socket, and the peer's ACK of this
 * side's FIN (FIN_WAIT2) likewise.  Injected packets carry the mark the
 * network lock lets through (NETLOCK_MARK), and each is waited for
 * until the socket reaches the state it leads to. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "sk-tcp.h"
#include "tcp-inject.h"

#define F(s) (1u << (s))
/* This side sent its FIN, not acknowledged yet. */
#define OUR_FIN_UNACKED (F(TCP_FIN_WAIT1) | F(TCP_CLOSING) | F(TCP_LAST_ACK))
#define OUR_FIN (OUR_FIN_UNACKED | F(TCP_FIN_WAIT2))
/* The peer's FIN was received. */
#define PEER_FIN (F(TCP_CLOSE_WAIT) | F(TCP_CLOSING) | F(TCP_LAST_ACK))
#define KEPT (F(TCP_ESTABLISHED) | OUR_FIN | PEER_FIN)
/* How long an injected packet may take to reach the socket. */
#define INJECT_WAIT_MS 2000

static const char *const names[] = {
	[TCP_ESTABLISHED] = "ESTABLISHED",
	[TCP_SYN_SENT] = "SYN_SENT",
	[TCP_SYN_RECV] = "SYN_RECV",
	[TCP_FIN_WAIT1] = "FIN_WAIT1",
	[TCP_FIN_WAIT2] = "FIN_WAIT2",
	[TCP_TIME_WAIT] = "TIME_WAIT",
	[TCP_CLOSE] = "CLOSE",
	[TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCP_LAST_ACK] = "LAST_ACK",
	[TCP_LISTEN] = "LISTEN",
	[TCP_CLOSING] = "CLOSING",
};

const char *tcp_state_name(unsigned state)
{
	return state < ARRAY_SIZE(names) && names[state] ? names[state] : "unknown";
}

bool tcp_state_kept(unsigned state)
{
	return state < 32 && (F(state) & KEPT);
}

int tcp_state_dump(TcpRepairEntry *t, unsigned state)
{
	unsigned m = F(state);

	if (state == TCP_ESTABLISHED)
		return 0;
	t->has_state = true;
	t->state = state;
	if (m & PEER_FIN)
		t->recv_seq--;
	if (m & OUR_FIN)
		t->send_seq--;
	if (!(m & OUR_FIN_UNACKED))
		return 0;
	/* SIOCOUTQ counts the unacknowledged FIN, SIOCOUTQNSD an unsent one. */
	if (!t->outq_len)
		return -EPROTO;
	t->outq_len--;
	if (t->unsent_len) {
		t->unsent_len--;
		t->has_fin_unsent = t->fin_unsent = true;
	}
	return 0;
}

const char *tcp_state_bad(const TcpRepairEntry *t)
{
	if (t->has_state && !tcp_state_kept(t->state))
		return "a TCP state out of range";
	if (t->fin_unsent && (!t->has_state || !(F(t->state) & OUR_FIN_UNACKED)))
		return "an unsent FIN in a state that has none";
	if (t->has_state && t->state == TCP_FIN_WAIT2 && t->outq_len)
		return "FIN_WAIT2 with unacknowledged bytes";
	return NULL;
}

/* The window was read with the peer's FIN counted in rcv_wup; the FIN
 * comes back after the window is set. */
void tcp_state_window(const TcpRepairEntry *t, struct tcp_repair_window *w)
{
	int32_t over = (int32_t)(w->rcv_wup - t->recv_seq);

	if (!t->has_state || !(F(t->state) & PEER_FIN) || over <= 0)
		return;
	w->rcv_wup -= over;
	w->rcv_wnd += over;
}

static int set_int(int fd, int name, int v)
{
	return setsockopt(fd, IPPROTO_TCP, name, &v, sizeof(v)) ? -errno : 0;
}

static int state_of(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ? -errno : ti.tcpi_state;
}

/* This side's FIN: shutdown(SHUT_WR), which in repair mode with the
 * send queue selected queues it as sent. */
static int queue_fin(int fd, const TcpRepairEntry *t)
{
	int ret = t->fin_unsent ? 0 : set_int(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);

	if (!ret && shutdown(fd, SHUT_WR))
		ret = -errno;
	return ret ?: set_int(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
}

/* The wire addresses of E (a v4-mapped IPv6 connection is IPv4 on the
 * wire), ports set, into LOCAL and PEER. */
static void wire_addrs(const InetSkEntry *e, struct sockaddr_storage *local,
		       struct sockaddr_storage *peer)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	struct sockaddr_in *l4 = (void *)local, *p4 = (void *)peer;
	struct sockaddr_in6 *l6 = (void *)local, *p6 = (void *)peer;
	bool v4 = e->family == AF_INET;
	size_t off = 0;

	memset(local, 0, sizeof(*local));
	memset(peer, 0, sizeof(*peer));
	if (!v4 && !memcmp(e->src_addr.data, mapped, 12) && !memcmp(e->dst_addr.data, mapped, 12)) {
		v4 = true;
		off = 12;
	}
	if (v4) {
		l4->sin_family = p4->sin_family = AF_INET;
		memcpy(&l4->sin_addr, e->src_addr.data + off, 4);
		memcpy(&p4->sin_addr, e->dst_addr.data + off, 4);
		l4->sin_port = htons(e->src_port);
		p4->sin_port = htons(e->dst_port);
		return;
	}
	l6->sin6_family = p6->sin6_family = AF_INET6;
	memcpy(&l6->sin6_addr, e->src_addr.data, 16);
	memcpy(&p6->sin6_addr, e->dst_addr.data, 16);
	l6->sin6_port = htons(e->src_port);
	p6->sin6_port = htons(e->dst_port);
}

/* The peer's window as its segments carry it (scaled). */
static uint16_t peer_window(const TcpRepairEntry *t)
{
	uint32_t w = t->snd_wnd >> (t->opt_mask & TCPI_OPT_WSCALE ? t->snd_wscale : 0);

	return min(w, 65535u);
}

/* Sends the peer's segment with FIN (or a bare ACK) and ACK = ACK_SEQ to
 * E's socket (tcp-inject.c). */
static int inject(const InetSkEntry *e, bool fin, uint32_t ack_seq)
{
	struct tcp_seg s = { .flags = TH_ACK | (fin ? TH_FIN : 0), .seq = e->tcp->recv_seq,
			     .ack = ack_seq, .win = peer_window(e->tcp) };
	struct sockaddr_storage local, peer;
	int raw, ret;

	wire_addrs(e, &local, &peer);
	raw = tcp_inject_open(local.ss_family);
	if (raw < 0)
		return raw;
	ret = tcp_inject(raw, &local, &peer, &s);
	close(raw);
	return ret;
}

/* The injected packet goes through the stack's backlog: waits up to MS
 * until FD is in STATE. */
static int wait_state(int fd, int state, int ms)
{
	struct timespec one = { 0, 1000000 };
	int now = -1;

	for (int i = 0; i < ms; i++) {
		now = state_of(fd);
		if (now == state || now < 0)
			break;
		nanosleep(&one, NULL);
	}
	if (now < 0)
		return now;
	return now == state ? 0 : -ETIMEDOUT;
}

/* The peer's segment (FIN, or a bare ACK) until FD reaches STATE, sent
 * again every INJECT_WAIT_MS / 4 (a loaded machine lost one now and
 * then): a copy that arrives after the first is an old segment, which
 * changes nothing. */
static int inject_until(int fd, const InetSkEntry *e, bool fin, uint32_t ack_seq, int state)
{
	int ret = -ETIMEDOUT;

	for (int i = 0; i < 4 && ret == -ETIMEDOUT; i++)
		ret = inject(e, fin, ack_seq) ?: wait_state(fd, state, INJECT_WAIT_MS / 4);
	return ret;
}

static int peer_fin(int fd, const InetSkEntry *e, int state)
{
	const TcpRepairEntry *t = e->tcp;

	return inject_until(fd, e, true, t->send_seq - t->outq_len, state);
}

/* The state the task leaves the socket in: the dumped one, but for a FIN
 * of this side still unsent (queued behind unsent bytes, or a closed
 * window): it goes at the hand-over (tcp_state_resume()), after those
 * bytes, and the peer's FIN of a CLOSING connection after it. */
static unsigned task_state(const TcpRepairEntry *t)
{
	if (!t->fin_unsent)
		return t->state;
	return t->state == TCP_LAST_ACK ? TCP_CLOSE_WAIT : TCP_ESTABLISHED;
}

int tcp_state_restore(int fd, const InetSkEntry *e, const char **step)
{
	const TcpRepairEntry *t = e->tcp;
	unsigned m, want;
	int ret = 0;

	if (!t->has_state || t->state == TCP_ESTABLISHED)
		return 0;
	want = task_state(t);
	m = F(want);
	if (m & (OUR_FIN & ~F(TCP_LAST_ACK))) {
		*step = "queue this side's FIN";
		ret = queue_fin(fd, t);
	}
	if (!ret && (m & PEER_FIN)) {
		*step = "inject the peer's FIN (a raw socket's packet, marked 0xc114)";
		ret = peer_fin(fd, e, want == TCP_CLOSING ? TCP_CLOSING : TCP_CLOSE_WAIT);
		if (ret == -ETIMEDOUT)
			*step = "see the injected FIN arrive within 2 s (does a rule drop packets "
				"marked 0xc114?)";
	}
	if (!ret && want == TCP_LAST_ACK) {
		*step = "queue this side's FIN";
		ret = queue_fin(fd, t);
	}
	if (!ret && want == TCP_FIN_WAIT2) {
		*step = "inject the peer's ACK of this side's FIN (marked 0xc114)";
		ret = inject_until(fd, e, false, t->send_seq + 1, TCP_FIN_WAIT2);
		if (ret == -ETIMEDOUT)
			*step = "see the injected ACK arrive within 2 s (does a rule drop packets "
				"marked 0xc114?)";
	}
	if (ret)
		return ret;
	*step = "reach the dumped state";
	return state_of(fd) == (int)want ? 0 : -EPROTO;
}

int tcp_state_resume(int fd, const InetSkEntry *e, const char **step)
{
	const TcpRepairEntry *t = e->tcp;
	int ret = 0;

	if (!t->has_state || !t->fin_unsent || task_state(t) == t->state)
		return 0;
	*step = "send this side's FIN after its unsent bytes";
	if (shutdown(fd, SHUT_WR))
		return -errno;
	if (t->state == TCP_CLOSING) {
		*step = "inject the peer's FIN (a raw socket's packet, marked 0xc114)";
		ret = peer_fin(fd, e, TCP_CLOSING);
	}
	if (ret)
		return ret;
	*step = "reach the dumped state";
	return state_of(fd) == (int)t->state ? 0 : -EPROTO;
}
