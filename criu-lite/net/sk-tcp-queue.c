/* Owns the connections waiting in a TCP listener's accept queue.  The
 * kernel has no call that puts a socket into a listener's queue: a
 * queued connection is only ever the child of a handshake the listener
 * ran (docs/architecture.md, "Connections not accepted yet").  So with
 * --tcp-established the dump accepts each one itself (the tree is
 * frozen, the connection locked) and reads it in repair mode like an
 * established connection, and to queue it again (at restore, or back
 * into the source after -R or a failed dump) lmproc makes the handshake
 * happen: a TIME_WAIT of the connection's tuple made with TCP repair
 * decides the listener's initial sequence number (a SYN that hits a
 * TIME_WAIT gets ISN = its snd_nxt + 65537), then the client's SYN, ACK
 * and unread bytes are injected through a raw socket, marked so that
 * the network lock lets them pass.  What the kernel chooses itself (the
 * window scale, the timestamp offset: the same on the same boot) is
 * checked through sock_diag or refused.  With --skip-in-flight the
 * connections are left out instead, each named in a warning; without
 * either the listener is refused in one line. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "common.h"
#include "log.h"
#include "sk-opts.h"
#include "sk-tcp.h"
#include "tcp-inject.h"

#define NAME_LEN (INET6_ADDRSTRLEN + 16)
#define BOOT_ID_LEN 36
/* tcp_timewait_state_process(): a SYN on a TIME_WAIT gets this ISN. */
#define TW_ISN_GAP 65537u

struct queued_conn {
	int fd; /* lmproc's accepted socket, in repair mode */
	struct sockaddr_storage local, peer;
	uint8_t la[16], pa[16];
	TcpQueuedEntry q;
	TcpRepairEntry t;
	char *data; /* its receive queue, for putting it back */
};

struct queued_listener {
	pid_t pid;
	int fd;
	struct queued_conn **conns; /* each on its own: entries point into it */
	size_t nr;
	TcpQueuedEntry **ptrs;
};

struct tcp_queue {
	struct queued_listener *ls;
	size_t nr;
	char boot_id[BOOT_ID_LEN + 1];
};

static int read_boot_id(char *buf)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, BOOT_ID_LEN);

	if (fd >= 0)
		close(fd);
	if (n != BOOT_ID_LEN)
		return -EIO;
	buf[BOOT_ID_LEN] = 0;
	return 0;
}

/* The injection: segments from the client of a tuple to its local end. */
struct inject {
	int raw;
	struct sockaddr_storage local, peer; /* wire addresses */
	/* As the socket sees them (sock_diag lists a v4-mapped connection
	 * under the listener's family). */
	const struct sockaddr_storage *sk_local, *sk_peer;
	const TcpRepairEntry *t;
};

static int set_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v)) ? -errno : 0;
}

/* A TIME_WAIT of the tuple whose snd_nxt makes the listener answer the
 * client's SYN with ISN = the connection's send sequence - 1, and whose
 * rcv_nxt lies before that SYN.  All in repair mode: it binds next to
 * the listener (SK_FORCE_REUSE), and its FIN, sent with the send queue
 * selected, counts as sent without leaving; the client's FIN+ACK is
 * injected. */
static int make_time_wait(const struct inject *in, uint32_t syn_seq)
{
	const TcpRepairEntry *t = in->t;
	uint32_t snd = t->send_seq - 1 - TW_ISN_GAP - 1, rcv = syn_seq - 1000;
	struct tcp_repair_window w = { .snd_wl1 = rcv, .snd_wnd = 65535, .max_window = 65535,
				       .rcv_wnd = 65535, .rcv_wup = rcv };
	socklen_t len = in->local.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
							 sizeof(struct sockaddr_in6);
	struct tcp_info ti;
	int fd = socket(in->local.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP), ret;

	if (fd < 0)
		return -errno;
	ret = set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON) ?:
	      set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) ?:
	      set_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, rcv) ?:
	      set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) ?:
	      set_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, snd);
	if (!ret && (bind(fd, (const struct sockaddr *)&in->local, len) ||
		     connect(fd, (const struct sockaddr *)&in->peer, len) ||
		     setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) ||
		     shutdown(fd, SHUT_WR)))
		ret = -errno;
	ret = ret ?: tcp_inject(in->raw, &in->local, &in->peer,
				&(struct tcp_seg){ .flags = TH_FIN | TH_ACK, .seq = rcv,
						   .ack = snd + 1, .win = 65535 });
	len = sizeof(ti);
	if (!ret &&
	    (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) || ti.tcpi_state != TCP_CLOSE))
		ret = -EPROTO;
	close(fd);
	return ret;
}

/* The client's options: what the connection negotiated (its MSS: the
 * clamp TCP_MAXSEG reads in repair mode); timestamps with value 0, which
 * no PAWS check refuses (the connection takes the client's next one). */
static size_t syn_opts(const TcpRepairEntry *t, uint8_t *o)
{
	bool ts = t->opt_mask & TCPI_OPT_TIMESTAMPS;
	uint32_t mss = t->mss;
	size_t n = 0;

	o[n++] = TCPOPT_MAXSEG;
	o[n++] = 4;
	o[n++] = mss >> 8;
	o[n++] = mss & 0xff;
	if (t->opt_mask & TCPI_OPT_SACK) {
		o[n++] = TCPOPT_SACK_PERMITTED;
		o[n++] = 2;
	}
	if (ts) {
		memset(o + n, 0, 10);
		o[n] = TCPOPT_TIMESTAMP;
		o[n + 1] = 10;
		n += 10;
	}
	if (t->opt_mask & TCPI_OPT_WSCALE) {
		o[n++] = TCPOPT_WINDOW;
		o[n++] = 3;
		o[n++] = t->snd_wscale;
	}
	while (n % 4)
		o[n++] = TCPOPT_NOP;
	return n;
}

/* The handshake and the client's unread bytes DATA. */
static int handshake(const struct inject *in, const char *data)
{
	const TcpRepairEntry *t = in->t;
	uint32_t seq = t->recv_seq - t->inq_len, win = t->snd_wnd >> t->snd_wscale;
	uint8_t so[24], ao[12] = { TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TIMESTAMP, 10 };
	struct tcp_seg s = { .flags = TH_SYN, .seq = seq - 1, .win = 65535, .opt = so };
	int ret = make_time_wait(in, seq - 1);

	if (ret)
		return ret;
	s.olen = syn_opts(t, so);
	ret = tcp_inject(in->raw, &in->local, &in->peer, &s);
	s = (struct tcp_seg){ .flags = TH_ACK, .seq = seq, .ack = t->send_seq, .win = min(win, 65535u),
			  .opt = ao, .olen = t->opt_mask & TCPI_OPT_TIMESTAMPS ? 12 : 0 };
	ret = ret ?: tcp_inject(in->raw, &in->local, &in->peer, &s);
	for (uint32_t off = 0; !ret && off < t->inq_len; off += s.dlen) {
		s.flags = TH_ACK | TH_PUSH;
		s.seq = seq + off;
		s.data = data + off;
		s.dlen = min(t->inq_len - off, min(t->mss, TCP_INJECT_MAX_DATA));
		ret = tcp_inject(in->raw, &in->local, &in->peer, &s);
	}
	return ret;
}

/* What the kernel chose for the new child, checked against the dumped
 * connection: the state, the window scales, the options, every byte
 * queued. */
static const char *check_child(pid_t pid, const struct inject *in)
{
	const TcpRepairEntry *t = in->t;
	struct tcp_info ti;
	unsigned rqueue;
	int ret = inet_diag_child(pid, in->sk_local, in->sk_peer, &ti, &rqueue);

	if (ret)
		return ret == -ENOENT ? "the handshake made no connection" : "sock_diag failed";
	if (ti.tcpi_state != TCP_ESTABLISHED)
		return "the connection made is not established";
	if (rqueue != t->inq_len)
		return "not every unread byte was queued again";
	if ((ti.tcpi_options & (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE)) !=
	    t->opt_mask)
		return "the options negotiated differ";
	if ((t->opt_mask & TCPI_OPT_WSCALE) &&
	    (ti.tcpi_snd_wscale != t->snd_wscale || ti.tcpi_rcv_wscale != t->rcv_wscale))
		return "this listener chose another window scale (its buffer sizes or "
		       "net.ipv4.tcp_rmem differ)";
	return NULL;
}

/* Queues again, into the listener of LOCAL's port, the connection
 * LOCAL <- PEER of state T with the unread bytes DATA: NULL or why not. */
static const char *requeue(pid_t pid, const struct sockaddr_storage *local,
			   const struct sockaddr_storage *peer, const TcpRepairEntry *t,
			   const char *data, int *err)
{
	struct inject in = { .sk_local = local, .sk_peer = peer, .t = t };
	const char *why;

	inject_wire_addr(local, &in.local);
	inject_wire_addr(peer, &in.peer);
	in.raw = tcp_inject_open(in.local.ss_family);
	if (in.raw < 0) {
		*err = in.raw;
		return "can't open a raw socket";
	}
	*err = handshake(&in, data);
	close(in.raw);
	if (*err)
		return "can't inject the handshake";
	why = check_child(pid, &in);
	*err = why ? -EPROTO : 0;
	return why;
}

/* Dump side. */

static void warn_skipped(const struct files_dump *d, const struct fd_parms *p,
			 const struct sockaddr_storage *listener, const char *lname,
			 unsigned waiting)
{
	cleanup_free struct inet_tuple *t = calloc(waiting, sizeof(*t));
	char local[NAME_LEN], peer[NAME_LEN];
	int n = t ? 0 : -ENOMEM;

	if (t)
		n = inet_diag_pending(d->pid, listener, t, waiting);
	for (int i = 0; i < n; i++) {
		inet_addr_name(&t[i].local, local, sizeof(local));
		inet_addr_name(&t[i].peer, peer, sizeof(peer));
		pr_warn("pid %d fd %d (TCP listener %s): the connection %s <- %s waits to be "
			"accepted: left out of the images (--skip-in-flight), its client gets a "
			"reset once this listener is gone\n",
			d->pid, p->fd, lname, local, peer);
	}
	if (n != (int)waiting)
		pr_warn("pid %d fd %d (TCP listener %s): %u connections wait to be accepted, "
			"left out of the images (--skip-in-flight); sock_diag named %d of them%s%s\n",
			d->pid, p->fd, lname, waiting, max(n, 0), n < 0 ? ": " : "",
			n < 0 ? strerror(-n) : "");
}

static void take_addr(const struct sockaddr_storage *ss, ProtobufCBinaryData *a, uint8_t *buf,
		      uint32_t *port)
{
	const struct sockaddr_in *a4 = (const void *)ss;
	const struct sockaddr_in6 *a6 = (const void *)ss;

	a->data = buf;
	if (ss->ss_family == AF_INET) {
		memcpy(buf, &a4->sin_addr, 4);
		a->len = 4;
		*port = ntohs(a4->sin_port);
		return;
	}
	memcpy(buf, &a6->sin6_addr, 16);
	a->len = 16;
	*port = ntohs(a6->sin6_port);
}

/* The unread bytes of C (in repair mode), kept to put it back. */
static int keep_data(struct queued_conn *c)
{
	ssize_t n;
	int ret;

	if (!c->t.inq_len)
		return 0;
	c->data = malloc(c->t.inq_len);
	if (!c->data)
		return -ENOMEM;
	ret = set_int(c->fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE);
	if (ret)
		return ret;
	n = recv(c->fd, c->data, c->t.inq_len, MSG_PEEK | MSG_DONTWAIT);
	set_int(c->fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
	return n == (ssize_t)c->t.inq_len ? 0 : -EIO;
}

/* Reads accepted connection C of listener L. */
static int read_child(struct files_dump *d, const struct fd_parms *p, struct tcp_queue *q,
		      struct queued_conn *c)
{
	char lname[NAME_LEN], pname[NAME_LEN];
	int ret = tcp_dump_child(d, p, c->fd, &c->local, &c->peer, &c->t) ?: keep_data(c);

	inet_addr_name(&c->local, lname, sizeof(lname));
	inet_addr_name(&c->peer, pname, sizeof(pname));
	if (!ret && c->t.outq_len)
		ret = -EOPNOTSUPP;
	if (ret) {
		pr_err("pid %d fd %d (TCP listener): the connection %s <- %s waiting to be "
		       "accepted: can't be read: %s\n",
		       d->pid, p->fd, lname, pname, strerror(-ret));
		return ret;
	}
	take_addr(&c->local, &c->q.local_addr, c->la, &c->q.local_port);
	take_addr(&c->peer, &c->q.peer_addr, c->pa, &c->q.peer_port);
	c->q.tcp = &c->t;
	c->q.boot_id = q->boot_id;
	return 0;
}

/* Accepts the next connection of listener FD into L: 1, 0 if none
 * waits, -errno.  The listener's file is the task's: poll, since its
 * O_NONBLOCK is the task's too. */
static int accept_one(int fd, struct queued_listener *l)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct queued_conn *c, **n;
	socklen_t len;

	if (poll(&pfd, 1, 0) != 1)
		return 0;
	n = realloc(l->conns, (l->nr + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	l->conns = n;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct queued_conn){ .q = TCP_QUEUED_ENTRY__INIT, .t = TCP_REPAIR_ENTRY__INIT };
	len = sizeof(c->peer);
	c->fd = accept4(fd, (struct sockaddr *)&c->peer, &len, SOCK_CLOEXEC);
	if (c->fd < 0) {
		free(c);
		return errno == EAGAIN ? 0 : -errno;
	}
	l->conns[l->nr++] = c;
	len = sizeof(c->local);
	return getsockname(c->fd, (struct sockaddr *)&c->local, &len) ? -errno : 1;
}

static struct queued_listener *new_listener(struct tcp_queue **qp, pid_t pid, int fd)
{
	struct tcp_queue *q = *qp;
	struct queued_listener *ls;

	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return NULL;
		*qp = q;
		if (read_boot_id(q->boot_id))
			q->boot_id[0] = 0;
	}
	ls = realloc(q->ls, (q->nr + 1) * sizeof(*ls));
	if (!ls)
		return NULL;
	q->ls = ls;
	ls = &q->ls[q->nr++];
	*ls = (struct queued_listener){ .pid = pid, .fd = fd };
	return ls;
}

/* A queued connection whose client closed its side is refused before
 * any is taken (its FIN would have to be injected too). */
static int check_states(const struct files_dump *d, const struct fd_parms *p,
			const struct sockaddr_storage *listener, unsigned waiting)
{
	cleanup_free struct inet_tuple *t = calloc(waiting + 1, sizeof(*t));
	char local[NAME_LEN], peer[NAME_LEN];
	int n = t ? inet_diag_pending(d->pid, listener, t, waiting + 1) : -ENOMEM;

	for (int i = 0; i < n; i++) {
		if (t[i].state == TCP_ESTABLISHED)
			continue;
		inet_addr_name(&t[i].local, local, sizeof(local));
		inet_addr_name(&t[i].peer, peer, sizeof(peer));
		pr_err("pid %d fd %d (TCP listener): the connection %s <- %s waiting to be "
		       "accepted: its client closed its side: not supported\n",
		       d->pid, p->fd, local, peer);
		return -EOPNOTSUPP;
	}
	return n < 0 ? n : 0;
}

/* Takes every waiting connection of FD (lmproc's copy of task fd P). */
static int take_queue(struct files_dump *d, const struct fd_parms *p, int fd,
		      const struct sockaddr_storage *local, unsigned waiting, InetSkEntry *e)
{
	struct tcp_queue **qp = tcp_dump_queue(d->tcp);
	struct queued_listener *l;
	int ret = check_states(d, p, local, waiting);

	if (ret)
		return ret;
	l = new_listener(qp, d->pid, p->fd);
	if (!l)
		return -ENOMEM;
	if (!(*qp)->boot_id[0]) {
		pr_err("Can't read /proc/sys/kernel/random/boot_id\n");
		return -EIO;
	}
	/* Each read at once: one not read can't be put back. */
	while ((ret = accept_one(fd, l)) > 0) {
		ret = read_child(d, p, *qp, l->conns[l->nr - 1]);
		if (ret)
			return ret;
	}
	if (ret)
		return ret;
	l->ptrs = calloc(l->nr, sizeof(*l->ptrs));
	if (!l->ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < l->nr; i++)
		l->ptrs[i] = &l->conns[i]->q;
	e->queued = l->ptrs;
	e->n_queued = l->nr;
	return 0;
}

int tcp_queue_dump(struct files_dump *d, const struct fd_parms *p, int fd,
		   const struct sockaddr_storage *local, unsigned waiting, InetSkEntry *e)
{
	char lname[NAME_LEN];

	inet_addr_name(local, lname, sizeof(lname));
	if (d->skip_in_flight) {
		warn_skipped(d, p, local, lname, waiting);
		return 0;
	}
	if (!d->tcp_established) {
		pr_err("pid %d fd %d (TCP listener %s): %u connection%s wait%s to be accepted: "
		       "needs --tcp-established (--skip-in-flight leaves them out: their "
		       "clients get a reset)\n",
		       d->pid, p->fd, lname, waiting, waiting == 1 ? "" : "s",
		       waiting == 1 ? "s" : "");
		return -EOPNOTSUPP;
	}
	return d->tcp ? take_queue(d, p, fd, local, waiting, e) : 0;
}

/* Puts C back into its listener's queue (the dump undone). */
static int put_back(const struct queued_listener *l, struct queued_conn *c)
{
	char lname[NAME_LEN], pname[NAME_LEN];
	const char *why;
	int err = 0;

	/* In repair mode: closing sends nothing and frees the tuple. */
	close(c->fd);
	c->fd = -1;
	why = c->q.tcp ? requeue(l->pid, &c->local, &c->peer, &c->t, c->data, &err) :
			 "it was not read";
	if (!why)
		return 0;
	inet_addr_name(&c->local, lname, sizeof(lname));
	inet_addr_name(&c->peer, pname, sizeof(pname));
	pr_err("pid %d fd %d (TCP listener): the connection %s <- %s that waited to be "
	       "accepted is lost: %s%s%s\n",
	       l->pid, l->fd, lname, pname, why, err ? ": " : "", err ? strerror(-err) : "");
	return -EIO;
}

int tcp_queue_end(struct tcp_queue *q, bool killed)
{
	int ret = 0;

	if (!q)
		return 0;
	for (size_t i = 0; i < q->nr; i++) {
		struct queued_listener *l = &q->ls[i];

		for (size_t j = 0; j < l->nr; j++) {
			if (!killed)
				ret = put_back(l, l->conns[j]) ?: ret;
			else
				close(l->conns[j]->fd);
			free(l->conns[j]->data);
			free(l->conns[j]);
		}
		free(l->conns);
		free(l->ptrs);
	}
	free(q->ls);
	free(q);
	return ret;
}

/* Restore side. */

static bool addr_ok(const ProtobufCBinaryData *a, uint32_t port, size_t alen)
{
	return a->len == alen && port && port <= 65535;
}

const char *tcp_queue_bad(const InetSkEntry *e, uint64_t data_size)
{
	size_t alen = e->family == AF_INET ? 4 : 16;
	const char *why;

	if (e->n_queued && (!e->has_backlog || e->type != SOCK_STREAM))
		return "connections queued on a socket that does not listen";
	for (size_t i = 0; i < e->n_queued; i++) {
		const TcpQueuedEntry *q = e->queued[i];

		if (!addr_ok(&q->local_addr, q->local_port, alen) ||
		    !addr_ok(&q->peer_addr, q->peer_port, alen))
			return "a queued connection's addresses out of range";
		if (strlen(q->boot_id) != BOOT_ID_LEN)
			return "a queued connection's boot id out of range";
		why = tcp_repair_bad(q->tcp, data_size);
		if (why)
			return why;
		if (q->tcp->outq_len)
			return "a queued connection with bytes to send";
	}
	return NULL;
}

static int restore_one(struct task_files *tf, uint32_t desc, const InetSkEntry *e,
		       const TcpQueuedEntry *q, const char *boot_id)
{
	struct sockaddr_storage local, peer;
	char lname[NAME_LEN], pname[NAME_LEN];
	cleanup_free char *data = NULL;
	const char *why = NULL;
	int err = 0;

	inet_sk_addr(e, &q->local_addr, q->local_port, &local);
	inet_sk_addr(e, &q->peer_addr, q->peer_port, &peer);
	inet_addr_name(&local, lname, sizeof(lname));
	inet_addr_name(&peer, pname, sizeof(pname));
	if ((q->tcp->opt_mask & TCPI_OPT_TIMESTAMPS) && strcmp(q->boot_id, boot_id))
		return task_files_err(tf, desc,
				      "the connection %s <- %s waiting to be accepted "
				      "used TCP timestamps and was dumped on another boot: its "
				      "timestamps can't continue",
				      lname, pname);
	data = malloc(q->tcp->inq_len + 1);
	if (!data)
		return -ENOMEM;
	if (pread(tf->data_fd, data, q->tcp->inq_len, q->tcp->data_off) != (ssize_t)q->tcp->inq_len)
		why = "can't read its bytes from files-data.img";
	/* The task's own namespace: its pid may be of a namespace of its own. */
	why = why ?: requeue(0, &local, &peer, q->tcp, data, &err);
	if (!why)
		return 0;
	return task_files_err(tf, desc,
			      "the connection %s <- %s waiting to be accepted: can't "
			      "be queued again: %s%s%s",
			      lname, pname, why, err ? ": " : "", err ? strerror(-err) : "");
}

int tcp_queue_restore(struct task_files *tf, uint32_t desc, const InetSkEntry *e)
{
	char boot_id[BOOT_ID_LEN + 1] = "";
	int ret = 0;

	if (!e->n_queued)
		return 0;
	if (!tf->opts->tcp_established)
		return task_files_err(tf, desc,
				      "a TCP listener with connections waiting to be "
				      "accepted: restore needs --tcp-established");
	read_boot_id(boot_id);
	for (size_t i = 0; !ret && i < e->n_queued; i++)
		ret = restore_one(tf, desc, e, e->queued[i], boot_id);
	return ret;
}
