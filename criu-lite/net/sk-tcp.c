/* Owns established TCP connections (dump --tcp-established; their
 * closing states are sk-tcp-state.c's): read
 * through lmproc's copy of the socket in TCP_REPAIR mode (sequence
 * numbers, both queues peeked, never taken out, the options TCP_INFO
 * shows, window, timestamp), after their packets are locked
 * (net/netlock.c: every connection of the tree at once, found through
 * its fds and sock_diag, before the first enters repair mode); made
 * again in the task in repair mode: sequences, bind, connect without a
 * handshake, queues, window, and left there.  Once the lock is gone and
 * before the tree runs, lmproc takes each out of repair mode through its
 * own copy (its window probe now reaches the peer, which resumes at
 * once) and sends its unsent bytes.  A dump
 * undone (-R, a failure) takes every socket out of repair mode again. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "common.h"
#include "fault.h"
#include "image.h"
#include "log.h"
#include "netns.h"
#include "sk-opts.h"
#include "sk-tcp.h"
#include "tcp-guard.h"

/* No socket buffer holds more (net.core.[rw]mem_max is far below). */
#define MAX_QUEUE (64u << 20)
#define MAX_WSCALE 14
#define KNOWN_OPTS (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE)

struct tcp_dump {
	struct netlock *lock;
	int *fds; /* lmproc's copies, in repair mode */
	size_t nr;
	struct tcp_queue *queue; /* listeners' queues (sk-tcp-queue.c) */
	pid_t pid;		 /* a task of the connections' namespace */
	pid_t *pids;		 /* the tree's live processes */
	size_t nr_pids;
	int netns;		 /* the tree's own namespace once committed, else -1 */
	struct tcp_guard *guard; /* started with the first connection */
};

struct tcp_dump *tcp_dump_start(enum netlock_kind lock)
{
	struct tcp_dump *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->netns = -1;
	t->lock = netlock_new(lock);
	if (!t->lock) {
		free(t);
		return NULL;
	}
	return t;
}

/* The socket inodes of PID's fds added to *INOS (*NR of *CAP). */
static int add_inodes(pid_t pid, unsigned long **inos, size_t *nr, size_t *cap)
{
	char path[64], link[64];
	struct dirent *de;
	unsigned long ino;
	DIR *dir;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		if (*nr == *cap) {
			size_t c = *cap ? 2 * *cap : 256;
			unsigned long *m = realloc(*inos, c * sizeof(*m));

			if (!m) {
				closedir(dir);
				return -ENOMEM;
			}
			*inos = m;
			*cap = c;
		}
		(*inos)[(*nr)++] = ino;
	}
	closedir(dir);
	return 0;
}

static int cmp_ulong(const void *a, const void *b)
{
	const unsigned long *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* The lock, and a task of the namespace whose sockets sock_diag lists. */
struct lock_arg {
	struct netlock *lock;
	pid_t pid;
};

static int lock_one(void *arg, const struct sockaddr_storage *local,
		    const struct sockaddr_storage *peer)
{
	struct lock_arg *a = arg;

	return netlock_add(a->lock, a->pid, local, peer);
}

int tcp_dump_lock(struct tcp_dump *t, const pid_t *pids, size_t nr)
{
	struct lock_arg a = { t ? t->lock : NULL, nr ? pids[0] : 0 };
	cleanup_free unsigned long *inos = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	if (!t || !nr)
		return 0;
	t->pid = pids[0];
	t->pids = malloc(nr * sizeof(*pids));
	if (!t->pids)
		return -ENOMEM;
	memcpy(t->pids, pids, nr * sizeof(*pids));
	t->nr_pids = nr;
	for (size_t i = 0; i < nr && !ret; i++)
		ret = add_inodes(pids[i], &inos, &n, &cap);
	if (ret) {
		pr_err("Can't list the sockets of the tree to lock their connections: %s\n",
		       strerror(-ret));
		return ret;
	}
	qsort(inos, n, sizeof(*inos), cmp_ulong);
	ret = inet_diag_tcp_conns(pids[0], AF_INET, inos, n, lock_one, &a) ?:
	      inet_diag_tcp_conns(pids[0], AF_INET6, inos, n, lock_one, &a) ?:
	      netlock_flush(t->lock);
	if (ret)
		return ret;
	/* A dump killed now must leave no rule (the table is lmproc's). */
	if (fault_injected("dump-killed-locked"))
		raise(SIGKILL);
	return 0;
}

void tcp_dump_keep_repair(struct tcp_dump *t)
{
	if (!t)
		return;
	tcp_guard_release(t->guard);
	t->guard = NULL;
}

/* The tree's own namespace is held from here: it goes with the killed
 * tree once lmproc closes its copies of the sockets (tcp_dump_end).  The
 * guardian lets go first: from here on a dead lmproc must leave the
 * connections in repair mode, the images hold them. */
int tcp_dump_commit(struct tcp_dump *t)
{
	int ret;

	tcp_dump_keep_repair(t);
	ret = t ? netlock_commit(t->lock) : 0;

	if (!ret && t && t->pid)
		t->netns = netns_open_tree(t->pid);
	return ret;
}

static int set_int(int fd, int name, int v)
{
	return setsockopt(fd, IPPROTO_TCP, name, &v, sizeof(v)) ? -errno : 0;
}

static int get_u32(int fd, int name, uint32_t *v)
{
	socklen_t len = sizeof(*v);

	return getsockopt(fd, IPPROTO_TCP, name, v, &len) ? -errno : 0;
}

/* Leaving repair mode sends a window probe: the peer's view of the
 * connection is unchanged, and it resumes at once. */
int tcp_dump_end(struct tcp_dump *t, bool killed)
{
	int ret = 0;

	if (!t)
		return 0;
	/* Back into their listeners while the lock still holds. */
	ret = tcp_queue_end(t->queue, killed);
	if (!killed)
		ret = netlock_end(t->lock, true) ?: ret;
	else
		netlock_end(t->lock, false);
	if (killed && t->netns >= 0)
		netns_links_down(t->netns, t->pids, t->nr_pids);
	for (size_t i = 0; i < t->nr; i++) {
		if (!killed && set_int(t->fds[i], TCP_REPAIR, TCP_REPAIR_OFF)) {
			pr_perror("Can't take a TCP socket out of repair mode");
			ret = ret ?: -EIO;
		}
		close(t->fds[i]);
	}
	tcp_guard_release(t->guard);
	if (t->netns >= 0)
		close(t->netns);
	free(t->pids);
	free(t->fds);
	free(t);
	return ret;
}

/* LEN bytes of queue Q peeked into files-data.img. */
static int save_queue(struct files_dump *d, int fd, int q, uint32_t len)
{
	cleanup_free char *buf = NULL;
	ssize_t n;
	uint64_t at;

	if (!len)
		return 0;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	if (set_int(fd, TCP_REPAIR_QUEUE, q))
		return -errno;
	n = recv(fd, buf, len, MSG_PEEK | MSG_DONTWAIT);
	if (n != (ssize_t)len) {
		pr_err("Can't peek the %s queue of a TCP socket (%zd of %u bytes): %s\n",
		       q == TCP_RECV_QUEUE ? "receive" : "send", n, len,
		       n < 0 ? strerror(errno) : "short");
		return n < 0 ? -errno : -EIO;
	}
	return files_data_write(d, buf, len, &at);
}

static int read_queues(struct files_dump *d, int fd, unsigned state, TcpRepairEntry *t)
{
	int inq = 0, outq = 0, unsent = 0, ret;

	if (ioctl(fd, SIOCINQ, &inq) || ioctl(fd, SIOCOUTQ, &outq) ||
	    ioctl(fd, SIOCOUTQNSD, &unsent))
		return -errno;
	t->inq_len = inq;
	t->outq_len = outq;
	t->unsent_len = unsent;
	ret = set_int(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) ?:
	      get_u32(fd, TCP_QUEUE_SEQ, &t->recv_seq) ?:
	      set_int(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) ?:
	      get_u32(fd, TCP_QUEUE_SEQ, &t->send_seq) ?: tcp_state_dump(t, state);
	if (ret)
		return ret;
	t->data_off = d->data_off;
	ret = save_queue(d, fd, TCP_RECV_QUEUE, t->inq_len) ?:
	      save_queue(d, fd, TCP_SEND_QUEUE, t->outq_len);
	return ret ?: set_int(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
}

static int read_conn(struct files_dump *d, int fd, TcpRepairEntry *t)
{
	struct tcp_repair_window w;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int ret;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -errno;
	if (!tcp_state_kept(ti.tcpi_state))
		return -EAGAIN;
	t->opt_mask = ti.tcpi_options & KNOWN_OPTS;
	t->snd_wscale = ti.tcpi_snd_wscale;
	t->rcv_wscale = ti.tcpi_rcv_wscale;
	ret = get_u32(fd, TCP_MAXSEG, &t->mss) ?: get_u32(fd, TCP_TIMESTAMP, &t->timestamp);
	if (ret)
		return ret;
	len = sizeof(w);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len))
		return -errno;
	t->snd_wl1 = w.snd_wl1;
	t->snd_wnd = w.snd_wnd;
	t->max_window = w.max_window;
	t->rcv_wnd = w.rcv_wnd;
	t->rcv_wup = w.rcv_wup;
	return read_queues(d, fd, ti.tcpi_state, t);
}

/* Locks the connection, reads it from a copy of FD put in repair mode
 * into T; the copy in *COPY (-1 if none was made).  GUARD: the guardian
 * gets a copy too (not for a listener's connection not accepted yet,
 * which goes back into its queue by a new handshake on the same
 * addresses: a copy left alive would hold them). */
static int dump_conn(struct files_dump *d, const struct fd_parms *p, int fd,
		     const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
		     TcpRepairEntry *t, int *copy, bool guard)
{
	struct tcp_dump *td = d->tcp;
	int ret = netlock_add(td->lock, d->pid, local, peer);

	*copy = -1;
	/* Locked already, unless it is no fd of the tree's. */
	ret = ret ?: netlock_flush(td->lock);
	if (ret)
		return ret;
	*copy = dup(fd);
	if (*copy < 0)
		return -errno;
	if (guard && !td->guard)
		td->guard = tcp_guard_start();
	ret = guard ? tcp_guard_add(td->guard, *copy) : 0;
	if (ret) {
		close(*copy);
		*copy = -1;
		return ret;
	}
	if (set_int(*copy, TCP_REPAIR, TCP_REPAIR_ON)) {
		pr_perror("Can't put pid %d fd %d (a TCP connection) in repair mode", d->pid, p->fd);
		close(*copy);
		*copy = -1;
		return -errno;
	}
	/* A dump killed now must leave no connection in repair mode. */
	if (fault_injected("dump-killed-repair"))
		raise(SIGKILL);
	ret = read_conn(d, *copy, t);
	if (ret == -EAGAIN) {
		pr_err("pid %d fd %d: a TCP connection was reset or closed during the dump\n",
		       d->pid, p->fd);
		return -EBUSY;
	}
	if (ret) {
		pr_err("Can't read the TCP repair state of pid %d fd %d: %s\n", d->pid, p->fd,
		       strerror(-ret));
		return ret;
	}
	if (netlock_name(td->lock)) {
		t->lock = (char *)netlock_name(td->lock);
		t->has_lock_kind = true;
		t->lock_kind = netlock_kind_of(td->lock);
	}
	return 0;
}

int tcp_dump_conn(struct files_dump *d, const struct fd_parms *p, int fd,
		  const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
		  TcpRepairEntry *t)
{
	struct tcp_dump *td = d->tcp;
	int *fds = realloc(td->fds, (td->nr + 1) * sizeof(*fds)), copy, ret;

	if (!fds)
		return -ENOMEM;
	td->fds = fds;
	ret = dump_conn(d, p, fd, local, peer, t, &copy, true);
	if (copy >= 0)
		td->fds[td->nr++] = copy;
	return ret;
}

int tcp_dump_child(struct files_dump *d, const struct fd_parms *p, int fd,
		   const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
		   TcpRepairEntry *t)
{
	int copy, ret = dump_conn(d, p, fd, local, peer, t, &copy, false);

	if (copy >= 0)
		close(copy);
	return ret;
}

struct tcp_queue **tcp_dump_queue(struct tcp_dump *t)
{
	return &t->queue;
}

const char *tcp_repair_bad(const TcpRepairEntry *t, uint64_t data_size)
{
	uint64_t len = (uint64_t)t->inq_len + t->outq_len;
	const char *why;

	if (t->inq_len > MAX_QUEUE || t->outq_len > MAX_QUEUE || t->unsent_len > t->outq_len)
		return "queue lengths out of range";
	if (t->data_off > data_size || len > data_size - t->data_off)
		return "queues beyond the end of files-data.img";
	if (!t->mss || t->mss > 65535 || (t->opt_mask & ~KNOWN_OPTS) ||
	    t->snd_wscale > MAX_WSCALE || t->rcv_wscale > MAX_WSCALE)
		return "TCP options (MSS, window scale) out of range";
	why = tcp_state_bad(t);
	if (why)
		return why;
	if (t->lock && (!t->has_lock_kind || t->lock_kind > NETLOCK_IPT || !t->lock[0] ||
			strlen(t->lock) > 28 || strspn(t->lock, "lmproc-0123456789") !=
							strlen(t->lock)))
		return "a network lock name out of range";
	return NULL;
}

/* The refilled send queue may take more memory than bufs_grow() made
 * room for (its buffers cut smaller: MSS-sized over a real link), and no
 * acknowledgement frees any while the lock holds: a send that would wait
 * doubles the send buffer instead (SO_SNDBUFFORCE), up to 1 GiB;
 * bufs_back() sets it back after the refill. */
static int widen_sndbuf(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len))
		return -errno;
	if (v >= 1 << 30)
		return -ENOBUFS;
	return setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) ? -errno : 0;
}

/* LEN bytes of files-data.img at OFF sent into queue Q, in repair mode. */
static int fill_queue(struct task_files *tf, int fd, int q, uint64_t off, uint32_t len)
{
	cleanup_free char *buf = NULL;
	uint32_t done = 0, chunk = len;
	ssize_t n;

	if (!len)
		return 0;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	n = pread(tf->data_fd, buf, len, off);
	if (n != (ssize_t)len)
		return n < 0 ? -errno : -EIO;
	if (set_int(fd, TCP_REPAIR_QUEUE, q))
		return -errno;
	while (done < len) {
		n = send(fd, buf + done, min(chunk, len - done), MSG_DONTWAIT);
		if (n < 0 && errno == ENOMEM && chunk > 1024) {
			chunk /= 2;
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			int ret = widen_sndbuf(fd);

			if (ret)
				return ret;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	return 0;
}

struct sk_bufs {
	int snd, rcv, lock;
};

static int sk_get(int fd, int name, int *v)
{
	socklen_t len = sizeof(*v);

	return getsockopt(fd, SOL_SOCKET, name, v, &len) ? -errno : 0;
}

static int sk_set(int fd, int name, int v)
{
	return setsockopt(fd, SOL_SOCKET, name, &v, sizeof(v)) ? -errno : 0;
}

/* The dumped buffer sizes may be autotuned ones above
 * net.core.[rw]mem_max, which SO_SNDBUF and SO_RCVBUF can't set, and a
 * queue that does not fit would block the refill for ever (nothing
 * drains while the lock holds): each buffer is forced (CAP_NET_ADMIN, as
 * TCP repair) to hold the queues on top of what it was... */
static int bufs_grow(int fd, uint32_t len, struct sk_bufs *b)
{
	return sk_get(fd, SO_SNDBUF, &b->snd) ?: sk_get(fd, SO_RCVBUF, &b->rcv) ?:
	       sk_get(fd, SO_BUF_LOCK, &b->lock) ?:
	       sk_set(fd, SO_SNDBUFFORCE, b->snd / 2 + len) ?:
	       sk_set(fd, SO_RCVBUFFORCE, b->rcv / 2 + len);
}

/* ...and set back after it, with the locks the forcing set. */
static int bufs_back(int fd, const struct sk_bufs *b)
{
	return sk_set(fd, SO_SNDBUFFORCE, b->snd / 2) ?: sk_set(fd, SO_RCVBUFFORCE, b->rcv / 2) ?:
	       sk_set(fd, SO_BUF_LOCK, b->lock);
}

static int set_opts(int fd, const TcpRepairEntry *t)
{
	struct tcp_repair_opt o[4];
	int n = 0;

	o[n++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, t->mss };
	if (t->opt_mask & TCPI_OPT_WSCALE)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_WINDOW,
						  t->snd_wscale | (t->rcv_wscale << 16) };
	if (t->opt_mask & TCPI_OPT_SACK)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (t->opt_mask & TCPI_OPT_TIMESTAMPS)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	return setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, o, n * sizeof(o[0])) ? -errno : 0;
}

static int set_window(int fd, const TcpRepairEntry *t)
{
	struct tcp_repair_window w = {
		.snd_wl1 = t->snd_wl1,
		.snd_wnd = t->snd_wnd,
		.max_window = t->max_window,
		.rcv_wnd = t->rcv_wnd,
		.rcv_wup = t->rcv_wup,
	};

	tcp_state_window(t, &w);

	return setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) ? -errno : 0;
}

/* The queues: the receive queue's bytes and the send queue's sent ones
 * in repair mode (acknowledgements may come for them); its unsent ones
 * go out of repair mode at the hand-over (tcp_restore_resume), as the
 * task would have sent them. */
static int fill_queues(struct task_files *tf, int fd, const TcpRepairEntry *t, const char **step)
{
	struct sk_bufs b;
	int ret;

	*step = "make room for the queues in the socket's buffers";
	ret = bufs_grow(fd, t->inq_len + t->outq_len - t->unsent_len, &b);
	if (ret)
		return ret;
	*step = "refill the receive queue";
	ret = fill_queue(tf, fd, TCP_RECV_QUEUE, t->data_off, t->inq_len);
	*step = "refill the send queue";
	ret = ret ?: fill_queue(tf, fd, TCP_SEND_QUEUE, t->data_off + t->inq_len,
			       t->outq_len - t->unsent_len);
	if (ret)
		return ret;
	*step = "set the socket's buffer sizes back";
	return bufs_back(fd, &b);
}

static int repair(struct task_files *tf, int fd, const InetSkEntry *e, const char **step)
{
	const TcpRepairEntry *t = e->tcp;
	struct sockaddr_storage ss;
	socklen_t len;
	int ret;

	*step = "enter repair mode";
	ret = set_int(fd, TCP_REPAIR, TCP_REPAIR_ON);
	*step = "set the sequence numbers";
	ret = ret ?: set_int(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) ?:
		      set_int(fd, TCP_QUEUE_SEQ, t->recv_seq - t->inq_len) ?:
		      set_int(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) ?:
		      set_int(fd, TCP_QUEUE_SEQ, t->send_seq - t->outq_len);
	if (ret)
		return ret;
	*step = "bind";
	len = inet_sk_addr(e, &e->src_addr, e->src_port, &ss);
	if (bind(fd, (struct sockaddr *)&ss, len))
		return -errno;
	*step = "set TCP_TIMESTAMP";
	ret = set_int(fd, TCP_TIMESTAMP, t->timestamp);
	if (ret)
		return ret;
	*step = "connect";
	len = inet_sk_addr(e, &e->dst_addr, e->dst_port, &ss);
	if (connect(fd, (struct sockaddr *)&ss, len))
		return -errno;
	*step = "set TCP_REPAIR_OPTIONS";
	ret = set_opts(fd, t) ?: fill_queues(tf, fd, t, step);
	if (ret)
		return ret;
	*step = "set TCP_REPAIR_WINDOW";
	return set_window(fd, t) ?: tcp_state_restore(fd, e, step);
}

/* A failed STEP of E's repair in words, naming both ends: a bind of an
 * address this host lacks, a connect whose connection is here already
 * (the dumped tree runs on: dump -R). */
static int conn_err(struct task_files *tf, uint32_t desc, const InetSkEntry *e, const char *step,
		    int err)
{
	char l[INET6_ADDRSTRLEN + 16], r[INET6_ADDRSTRLEN + 16];
	struct sockaddr_storage ss;
	unsigned state = e->tcp->has_state ? e->tcp->state : TCP_ESTABLISHED;
	const char *why = strerror(err);
	bool binding = !strcmp(step, "bind");

	inet_sk_addr(e, &e->src_addr, e->src_port, &ss);
	inet_addr_name(&ss, l, sizeof(l));
	inet_sk_addr(e, &e->dst_addr, e->dst_port, &ss);
	inet_addr_name(&ss, r, sizeof(r));
	if (binding)
		why = inet_bind_why(err);
	if (!strcmp(step, "connect") && err == EADDRNOTAVAIL)
		why = "this connection exists on this host already (the dumped tree still runs?)";
	errno = err;
	return task_files_err(tf, desc, "TCP connection %s -> %s%s%s%s: can't %s%s: %s", l, r,
			      state != TCP_ESTABLISHED ? " (" : "",
			      state != TCP_ESTABLISHED ? tcp_state_name(state) : "",
			      state != TCP_ESTABLISHED ? ")" : "", step,
			      binding ? " its address" : "", why);
}

int tcp_restore_conn(struct task_files *tf, uint32_t desc, int fd, const InetSkEntry *e)
{
	unsigned state = e->tcp->has_state ? e->tcp->state : TCP_ESTABLISHED;
	const char *step = "";
	int ret;

	if (!tf->opts->tcp_established && state == TCP_ESTABLISHED)
		return task_files_err(tf, desc, "an established TCP connection: restore needs "
				      "--tcp-established");
	if (!tf->opts->tcp_established)
		return task_files_err(tf, desc, "a TCP connection in state %s: restore needs "
				      "--tcp-established", tcp_state_name(state));
	ret = repair(tf, fd, e, &step);
	if (ret)
		return conn_err(tf, desc, e, step, -ret);
	return 0;
}

/* The unsent part of E's send queue, out of repair mode: without
 * waiting, into a send buffer made room in as for the refill. */
static int send_unsent(const struct restore_ctx *ctx, int fd, int copy, int data_fd,
		       const TcpRepairEntry *t)
{
	uint64_t off = t->data_off + t->inq_len + t->outq_len - t->unsent_len;
	cleanup_free char *buf = NULL;
	uint32_t done = 0;
	struct sk_bufs b;
	ssize_t n = 0;
	int ret;

	if (!t->unsent_len)
		return 0;
	buf = malloc(t->unsent_len);
	if (!buf)
		return -ENOMEM;
	n = pread(data_fd, buf, t->unsent_len, off);
	if (n != (ssize_t)t->unsent_len) {
		pr_err("Can't read the unsent bytes of pid %d fd %d (a TCP connection) from "
		       "files-data.img: %s\n", ctx->plan.pid, fd, n < 0 ? strerror(errno) : "short");
		return n < 0 ? -errno : -EIO;
	}
	ret = bufs_grow(copy, t->unsent_len, &b);
	while (!ret && done < t->unsent_len) {
		n = send(copy, buf + done, t->unsent_len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;
		done += n;
	}
	if (!ret && done == t->unsent_len)
		ret = bufs_back(copy, &b);
	if (ret)
		pr_err("Can't size the send buffer of pid %d fd %d (a TCP connection) for its "
		       "unsent bytes: %s\n", ctx->plan.pid, fd, strerror(-ret));
	if (ret || done == t->unsent_len)
		return ret;
	pr_err("pid %d fd %d (a TCP connection): only %u of its %u unsent bytes could be "
	       "sent: %s\n", ctx->plan.pid, fd, done, t->unsent_len,
	       n < 0 ? strerror(errno) : "the send buffer is full");
	return n < 0 && errno != EAGAIN ? -errno : -ENOBUFS;
}

/* Task fd FD of CTX, a connection in repair mode, through lmproc's copy
 * of it: out of repair mode (its window probe goes out), then its
 * unsent bytes, then a FIN of this side that was unsent too.  KEPT: the
 * copy goes there (-1 if none), not closed. */
static int resume_conn(const struct restore_ctx *ctx, int fd, int data_fd, const InetSkEntry *e,
		       int *kept)
{
	int copy = pidfd_getfd(ctx->pidfd, fd, 0), ret;
	const char *step = "";

	if (kept)
		*kept = copy;
	if (copy < 0) {
		pr_perror("Can't take pid %d fd %d (a TCP connection) out of repair mode: no "
			  "copy of it", ctx->plan.pid, fd);
		return -errno;
	}
	ret = set_int(copy, TCP_REPAIR, TCP_REPAIR_OFF);
	if (ret)
		pr_err("Can't take pid %d fd %d (a TCP connection) out of repair mode: %s\n",
		       ctx->plan.pid, fd, strerror(-ret));
	ret = ret ?: send_unsent(ctx, fd, copy, data_fd, e->tcp);
	if (!ret) {
		ret = tcp_state_resume(copy, e, &step);
		if (ret)
			pr_err("pid %d fd %d (a TCP connection in state %s): can't %s: %s\n",
			       ctx->plan.pid, fd, tcp_state_name(e->tcp->state), step,
			       strerror(-ret));
	}
	if (!kept)
		close(copy);
	return ret;
}

/* DONE (per file of the tree's files.img, the same in every plan): its
 * connection resumed already, through another fd or process. */
static int resume_task(const struct restore_ctx *ctx, int data_fd, bool *done, int *kept,
		       size_t *nr_kept)
{
	const struct restore_plan *p = &ctx->plan;

	for (size_t i = 0; i < p->nr_fds; i++) {
		uint32_t desc = p->fd_desc[i];
		const InetSkEntry *e = p->files[desc]->inet_sk;
		int ret;

		if (!e || !e->tcp || done[desc])
			continue;
		done[desc] = true;
		ret = resume_conn(ctx, p->fds[i]->fd, data_fd, e,
				  kept ? &kept[(*nr_kept)++] : NULL);
		if (ret)
			return ret;
	}
	return 0;
}

static bool has_conn(const struct restore_plan *p)
{
	for (size_t i = 0; i < p->nr_files; i++)
		if (p->files[i]->inet_sk && p->files[i]->inet_sk->tcp)
			return true;
	return false;
}

static int resume(const struct restore_tree *t, int dfd, int **copies, size_t *nr_copies)
{
	cleanup_free bool *done = NULL;
	size_t nr = 0;
	int data_fd, ret = 0;

	for (size_t i = 0; i < t->nr && !nr; i++)
		if (t->ctx[i].plan.pid && has_conn(&t->ctx[i].plan))
			nr = t->ctx[i].plan.nr_files;
	if (!nr)
		return 0;
	done = calloc(nr, sizeof(*done));
	if (!done)
		return -ENOMEM;
	/* At most one copy per file of files.img. */
	if (copies) {
		*copies = calloc(nr, sizeof(**copies));
		if (!*copies)
			return -ENOMEM;
	}
	data_fd = img_open_file(dfd, image_descs[IMG_FILES_DATA].name_fmt, false);
	if (data_fd < 0)
		return data_fd;
	for (size_t i = 0; i < t->nr && !ret; i++)
		if (t->ctx[i].plan.pid)
			ret = resume_task(&t->ctx[i], data_fd, done, copies ? *copies : NULL,
					  nr_copies);
	close(data_fd);
	if (!ret && fault_injected("restore-tcp-resume")) {
		pr_err("Can't hand the restored connections over: fault injected\n");
		return -EIO;
	}
	return ret;
}

int tcp_restore_resume(const struct restore_tree *t, int dfd)
{
	return resume(t, dfd, NULL, NULL);
}

int tcp_restore_resume_keep(const struct restore_tree *t, int dfd, int **copies, size_t *nr)
{
	*nr = 0;
	return resume(t, dfd, copies, nr);
}

void tcp_restore_repair_again(const int *copies, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		if (copies[i] >= 0 && set_int(copies[i], TCP_REPAIR, TCP_REPAIR_ON))
			pr_warn("A restored connection can't go back into repair mode: closing "
				"it may reach its peer once the lock is gone\n");
}

static void release_lock(const TcpRepairEntry *t, char *last)
{
	if (!t || !t->lock || !strcmp(t->lock, last))
		return;
	if (netlock_release(t->lock_kind, t->lock))
		pr_warn("The network lock %s of the restored connections is still there\n", t->lock);
	snprintf(last, 32, "%s", t->lock);
}

/* The locks P's connections (and the connections its listeners' queues
 * hold) name, removed; LAST (32 bytes) the last one removed, so that
 * each goes once.  A lock that can't be removed is logged: the tree
 * runs, and its connections wait behind it. */
const TcpRepairEntry *tcp_lock_of(const struct restore_plan *p)
{
	for (size_t i = 0; i < p->nr_files; i++) {
		const InetSkEntry *e = p->files[i]->inet_sk;

		if (e && e->tcp && e->tcp->lock)
			return e->tcp;
	}
	return NULL;
}

void tcp_release_locks(const struct restore_plan *p, char *last)
{
	for (size_t i = 0; i < p->nr_files; i++) {
		const InetSkEntry *e = p->files[i]->inet_sk;

		if (!e)
			continue;
		release_lock(e->tcp, last);
		for (size_t j = 0; j < e->n_queued; j++)
			release_lock(e->queued[j]->tcp, last);
	}
}
