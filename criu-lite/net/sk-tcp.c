/* Owns established TCP connections (dump --tcp-established): read
 * through lmproc's copy of the socket in TCP_REPAIR mode (sequence
 * numbers, both queues peeked, never taken out, the options TCP_INFO
 * shows, window, timestamp), after their packets are locked
 * (net/netlock.c: every connection of the tree at once, found through
 * its fds and sock_diag, before the first enters repair mode); made again in the task in repair mode: sequences,
 * bind, connect without a handshake, queues, window, then out of repair
 * mode, which sends a window probe so the peer resumes at once.  A dump
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
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "common.h"
#include "fault.h"
#include "log.h"
#include "sk-opts.h"
#include "sk-tcp.h"

/* No socket buffer holds more (net.core.[rw]mem_max is far below). */
#define MAX_QUEUE (64u << 20)
#define MAX_WSCALE 14
#define KNOWN_OPTS (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE)

struct tcp_dump {
	struct netlock *lock;
	int *fds; /* lmproc's copies, in repair mode */
	size_t nr;
};

struct tcp_dump *tcp_dump_start(enum netlock_kind lock)
{
	struct tcp_dump *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
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

static int lock_one(void *arg, const struct sockaddr_storage *local,
		    const struct sockaddr_storage *peer)
{
	return netlock_add(arg, local, peer);
}

int tcp_dump_lock(struct tcp_dump *t, const pid_t *pids, size_t nr)
{
	cleanup_free unsigned long *inos = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	if (!t || !nr)
		return 0;
	for (size_t i = 0; i < nr && !ret; i++)
		ret = add_inodes(pids[i], &inos, &n, &cap);
	if (ret) {
		pr_err("Can't list the sockets of the tree to lock their connections: %s\n",
		       strerror(-ret));
		return ret;
	}
	qsort(inos, n, sizeof(*inos), cmp_ulong);
	ret = inet_diag_tcp_conns(pids[0], AF_INET, inos, n, lock_one, t->lock) ?:
	      inet_diag_tcp_conns(pids[0], AF_INET6, inos, n, lock_one, t->lock) ?:
	      netlock_flush(t->lock);
	if (ret)
		return ret;
	/* A dump killed now must leave no rule (the table is lmproc's). */
	if (fault_injected("dump-killed-locked"))
		raise(SIGKILL);
	return 0;
}

int tcp_dump_commit(struct tcp_dump *t)
{
	return t ? netlock_commit(t->lock) : 0;
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
	if (!killed)
		ret = netlock_end(t->lock, true);
	else
		netlock_end(t->lock, false);
	for (size_t i = 0; i < t->nr; i++) {
		if (!killed && set_int(t->fds[i], TCP_REPAIR, TCP_REPAIR_OFF)) {
			pr_perror("Can't take a TCP socket out of repair mode");
			ret = ret ?: -EIO;
		}
		close(t->fds[i]);
	}
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

static int read_queues(struct files_dump *d, int fd, TcpRepairEntry *t)
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
	      get_u32(fd, TCP_QUEUE_SEQ, &t->send_seq);
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
	if (ti.tcpi_state != TCP_ESTABLISHED)
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
	return read_queues(d, fd, t);
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
	/* Locked already, unless it is no fd of the tree's. */
	ret = netlock_add(td->lock, local, peer) ?: netlock_flush(td->lock);
	if (ret)
		return ret;
	copy = dup(fd);
	if (copy < 0)
		return -errno;
	if (set_int(copy, TCP_REPAIR, TCP_REPAIR_ON)) {
		pr_perror("Can't put pid %d fd %d (a TCP connection) in repair mode", d->pid, p->fd);
		close(copy);
		return -errno;
	}
	td->fds[td->nr++] = copy;
	ret = read_conn(d, copy, t);
	if (ret == -EAGAIN) {
		pr_err("pid %d fd %d: a TCP connection left the established state during the "
		       "dump\n", d->pid, p->fd);
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

const char *tcp_repair_bad(const TcpRepairEntry *t, uint64_t data_size)
{
	uint64_t len = (uint64_t)t->inq_len + t->outq_len;

	if (t->inq_len > MAX_QUEUE || t->outq_len > MAX_QUEUE || t->unsent_len > t->outq_len)
		return "queue lengths out of range";
	if (t->data_off > data_size || len > data_size - t->data_off)
		return "queues beyond the end of files-data.img";
	if (!t->mss || t->mss > 65535 || (t->opt_mask & ~KNOWN_OPTS) ||
	    t->snd_wscale > MAX_WSCALE || t->rcv_wscale > MAX_WSCALE)
		return "TCP options (MSS, window scale) out of range";
	if (t->lock && (!t->has_lock_kind || t->lock_kind > NETLOCK_IPT || !t->lock[0] ||
			strlen(t->lock) > 28 || strspn(t->lock, "lmproc-0123456789") !=
							strlen(t->lock)))
		return "a network lock name out of range";
	return NULL;
}

/* LEN bytes of files-data.img at OFF sent into queue Q (TCP_NO_QUEUE:
 * out of repair mode, sent as the task would). */
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
	if (q != TCP_NO_QUEUE && set_int(fd, TCP_REPAIR_QUEUE, q))
		return -errno;
	while (done < len) {
		n = send(fd, buf + done, min(chunk, len - done), 0);
		if (n < 0 && errno == ENOMEM && chunk > 1024) {
			chunk /= 2;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	return 0;
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

	return setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) ? -errno : 0;
}

/* The queues: the receive queue's bytes, the send queue's sent ones in
 * repair mode (acknowledgements may come for them), its unsent ones out
 * of repair mode, as the task would have sent them. */
static int fill_queues(struct task_files *tf, int fd, const TcpRepairEntry *t, const char **step)
{
	uint32_t sent = t->outq_len - t->unsent_len;
	int ret;

	*step = "refill the receive queue";
	ret = fill_queue(tf, fd, TCP_RECV_QUEUE, t->data_off, t->inq_len);
	*step = "refill the send queue";
	ret = ret ?: fill_queue(tf, fd, TCP_SEND_QUEUE, t->data_off + t->inq_len, sent);
	if (ret || !t->unsent_len)
		return ret;
	*step = "send the unsent bytes";
	return set_int(fd, TCP_REPAIR, TCP_REPAIR_OFF) ?:
	       fill_queue(tf, fd, TCP_NO_QUEUE, t->data_off + t->inq_len + sent, t->unsent_len) ?:
	       set_int(fd, TCP_REPAIR, TCP_REPAIR_ON);
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
	ret = set_window(fd, t);
	*step = "leave repair mode";
	return ret ?: set_int(fd, TCP_REPAIR, TCP_REPAIR_OFF);
}

int tcp_restore_conn(struct task_files *tf, uint32_t desc, int fd, const InetSkEntry *e)
{
	const char *step = "";
	int ret;

	if (!tf->opts->tcp_established)
		return task_files_err(tf, desc, "an established TCP connection: restore needs "
				      "--tcp-established");
	ret = repair(tf, fd, e, &step);
	if (ret)
		return task_files_err(tf, desc, "TCP repair of an established connection: can't "
				      "%s: %s", step, strerror(-ret));
	return 0;
}

/* The locks P's connections name, removed; LAST (32 bytes) the last one
 * removed, so that each goes once.  A lock that can't be removed is
 * logged: the tree runs, and its connections wait behind it. */
void tcp_release_locks(const struct restore_plan *p, char *last)
{
	for (size_t i = 0; i < p->nr_files; i++) {
		const InetSkEntry *e = p->files[i]->inet_sk;

		if (!e || !e->tcp || !e->tcp->lock || !strcmp(e->tcp->lock, last))
			continue;
		if (netlock_release(e->tcp->lock_kind, e->tcp->lock))
			pr_warn("The network lock %s of the restored connections is still there\n",
				e->tcp->lock);
		snprintf(last, 32, "%s", e->tcp->lock);
	}
}
