/* Owns unix sockets: stream, datagram and seqpacket sockets connected to
 * another socket of the same process (socket pairs, also one whose peer
 * was closed) and unconnected unnamed ones, with their receive queues,
 * shutdown state, buffer sizes, SO_PASSCRED and SO_PEEK_OFF.  Peers and
 * states come from sock_diag (NETLINK_SOCK_DIAG through libnl), queues are
 * peeked (SO_PEEK_OFF, MSG_PEEK) from a copy of the task's fd, so nothing
 * leaves them.  Restore makes the pair with socketpair() and sends each
 * socket's queue from its peer.  Bound or listening sockets, peers
 * outside the process and queued SCM_RIGHTS are refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"

#define UNIX_SK_FLAGS (O_ACCMODE | O_NONBLOCK)
#define PEEK_BUF FILES_SCRATCH_SIZE
#define MAX_QUEUE (1 << 20)
#define SHUTDOWN_MASK 3

struct unix_diag_sk {
	uint64_t ino;
	uint64_t peer;
	uint32_t type;
	uint32_t state;
	uint32_t shutdown;
	bool named;
	bool held; /* by an fd of the process */
};

struct unix_diag_table {
	struct unix_diag_sk *sks;
	size_t nr;
	size_t cap;
	bool held_marked;
};

static int diag_cb(struct nl_msg *msg, void *arg)
{
	struct unix_diag_table *t = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct unix_diag_msg *m = nlmsg_data(nlh);
	struct nlattr *tb[UNIX_DIAG_MAX + 1];
	struct unix_diag_sk *s;

	if (nlmsg_parse(nlh, sizeof(*m), tb, UNIX_DIAG_MAX, NULL) < 0)
		return NL_SKIP;
	if (t->nr == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct unix_diag_sk *n = realloc(t->sks, cap * sizeof(*n));

		if (!n)
			return NL_STOP;
		t->sks = n;
		t->cap = cap;
	}
	s = &t->sks[t->nr++];
	*s = (struct unix_diag_sk){ .ino = m->udiag_ino, .type = m->udiag_type,
				    .state = m->udiag_state, .named = tb[UNIX_DIAG_NAME] };
	if (tb[UNIX_DIAG_PEER])
		s->peer = nla_get_u32(tb[UNIX_DIAG_PEER]);
	if (tb[UNIX_DIAG_SHUTDOWN])
		s->shutdown = nla_get_u8(tb[UNIX_DIAG_SHUTDOWN]);
	return NL_OK;
}

static int cmp_diag(const void *a, const void *b)
{
	const struct unix_diag_sk *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* Every unix socket of the host, once per dump. */
static int load_diag(struct files_dump *d)
{
	struct unix_diag_req req = { .sdiag_family = AF_UNIX, .udiag_states = ~0U,
				     .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER };
	struct unix_diag_table *t = calloc(1, sizeof(*t));
	struct nl_sock *sk = nl_socket_alloc();
	int ret = -EIO;

	if (!t || !sk)
		goto out;
	nl_socket_enable_msg_peek(sk);
	if (nl_connect(sk, NETLINK_SOCK_DIAG) ||
	    nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, diag_cb, t) ||
	    nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req)) < 0 ||
	    nl_recvmsgs_default(sk) < 0) {
		pr_err("Can't list the unix sockets with sock_diag\n");
		goto out;
	}
	qsort(t->sks, t->nr, sizeof(*t->sks), cmp_diag);
	d->unix_diag = t;
	t = NULL;
	ret = 0;
out:
	if (t)
		free(t->sks);
	free(t);
	nl_socket_free(sk);
	return ret;
}

void unix_diag_free(struct unix_diag_table *t)
{
	if (t)
		free(t->sks);
	free(t);
}

static const struct unix_diag_sk *diag_of(const struct files_dump *d, uint64_t ino)
{
	struct unix_diag_sk key = { .ino = ino };

	if (!d->unix_diag)
		return NULL;
	return bsearch(&key, d->unix_diag->sks, d->unix_diag->nr, sizeof(key), cmp_diag);
}

static bool unix_match(struct files_dump *d, const struct fd_parms *p)
{
	if (!S_ISSOCK(p->st.st_mode) || (p->flags & O_PATH))
		return false;
	if (!d->unix_diag && load_diag(d))
		return false;
	return diag_of(d, p->st.st_ino);
}

/* Once every fd of the process is known (after classifying). */
static bool held_by_process(struct files_dump *d, uint64_t ino)
{
	struct unix_diag_sk *s;

	if (!d->unix_diag->held_marked) {
		for (int i = 0; i < d->nr_fds; i++) {
			s = (struct unix_diag_sk *)diag_of(d, d->fds[i].st.st_ino);
			if (s && S_ISSOCK(d->fds[i].st.st_mode))
				s->held = true;
		}
		d->unix_diag->held_marked = true;
	}
	s = (struct unix_diag_sk *)diag_of(d, ino);
	return s && s->held;
}

/* What restore can make again: a pair inside the process (or one whose
 * peer is gone), or an unconnected unnamed socket. */
static int check_restorable(struct files_dump *d, const struct fd_parms *p,
			    const struct unix_diag_sk *s)
{
	const struct unix_diag_sk *peer = s->peer ? diag_of(d, s->peer) : NULL;
	const char *why = NULL;

	if (s->type != SOCK_STREAM && s->type != SOCK_DGRAM && s->type != SOCK_SEQPACKET)
		why = "of an unknown type";
	else if (s->named)
		why = "bound to a name";
	else if (s->state == TCP_LISTEN)
		why = "listening";
	else if (s->state != TCP_ESTABLISHED && s->state != TCP_CLOSE)
		why = "connecting";
	else if (s->peer && !held_by_process(d, s->peer))
		why = "connected to a socket outside the process";
	else if (s->peer && (!peer || peer->peer != s->ino))
		why = "connected to a socket that is not connected back";
	if (!why)
		return 0;
	pr_err("pid %d fd %d is a unix socket %s (%s, peer socket:[%llu]): not supported yet\n",
	       d->pid, p->fd, why, p->link, (unsigned long long)s->peer);
	return -EOPNOTSUPP;
}

static int add_length(UnixQueueEntry *q, uint32_t len)
{
	uint32_t *n;

	if (q->n_lengths >= MAX_QUEUE)
		return -E2BIG;
	n = realloc(q->lengths, (q->n_lengths + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	q->lengths = n;
	q->lengths[q->n_lengths++] = len;
	return 0;
}

/* One peek at the peek offset: >= 0 bytes (*more: the message goes on),
 * -EAGAIN at the end of the queue. */
static ssize_t peek(int fd, char *buf, bool *more, bool *rights)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 253)];
	struct iovec iov = { .iov_base = buf, .iov_len = PEEK_BUF };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return -errno;
	*more = mh.msg_flags & MSG_TRUNC;
	*rights = mh.msg_flags & MSG_CTRUNC;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		*rights = true;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
			close(((int *)CMSG_DATA(c))[i]);
	}
	return n;
}

/* The receive queue, message by message (a stream socket's in the
 * pieces the peeks gave). */
static int peek_queue(struct files_dump *d, const struct fd_parms *p, int fd,
		      const struct unix_diag_sk *s, UnixQueueEntry *q, char *buf)
{
	bool stream = s->type == SOCK_STREAM, more = false, rights = false;
	uint64_t msg = 0;
	int ret = 0;

	q->data_off = d->data_off;
	for (;;) {
		ssize_t n = peek(fd, buf, &more, &rights);
		uint64_t at;

		if (n == -EAGAIN || (n == 0 && (stream || (s->shutdown & 1))))
			break;
		if (n < 0) {
			pr_err("Can't peek at pid %d fd %d's queue: %s\n", d->pid, p->fd,
			       strerror(-n));
			return n;
		}
		if (rights) {
			pr_err("pid %d fd %d: a unix socket with file descriptors in its queue "
			       "(SCM_RIGHTS): not supported yet\n", d->pid, p->fd);
			return -EOPNOTSUPP;
		}
		ret = files_data_write(d, buf, n, &at);
		if (ret)
			return ret;
		msg += n;
		if (more || msg > UINT32_MAX)
			continue;
		ret = add_length(q, msg);
		if (ret)
			return ret;
		msg = 0;
	}
	if (msg) {
		pr_err("pid %d fd %d: a queued message of more than 4 GiB\n", d->pid, p->fd);
		return -E2BIG;
	}
	return 0;
}

static int sockopt(int fd, int opt, int *v)
{
	socklen_t len = sizeof(*v);

	return getsockopt(fd, SOL_SOCKET, opt, v, &len);
}

/* Peeks from the start of the queue, then gives the socket its own peek
 * offset back. */
static int dump_queue(struct files_dump *d, const struct fd_parms *p, int fd,
		      const struct unix_diag_sk *s, UnixSkEntry *u, UnixQueueEntry *q)
{
	char *buf = files_scratch(d);
	int zero = 0, ret;

	if (!buf)
		return -ENOMEM;
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero))) {
		pr_perror("Can't peek at pid %d fd %d's queue", d->pid, p->fd);
		return -errno;
	}
	ret = peek_queue(d, p, fd, s, q, buf);
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &u->peek_off, sizeof(u->peek_off))) {
		pr_perror("Can't give pid %d fd %d its peek offset back", d->pid, p->fd);
		return ret ?: -errno;
	}
	return ret;
}

static int read_options(struct files_dump *d, const struct fd_parms *p, int fd, UnixSkEntry *u)
{
	int rcv, snd, cred, off;

	if (sockopt(fd, SO_RCVBUF, &rcv) || sockopt(fd, SO_SNDBUF, &snd) ||
	    sockopt(fd, SO_PASSCRED, &cred) || sockopt(fd, SO_PEEK_OFF, &off)) {
		pr_perror("Can't read the options of pid %d fd %d", d->pid, p->fd);
		return -errno;
	}
	u->rcvbuf = rcv;
	u->sndbuf = snd;
	u->passcred = cred;
	u->peek_off = off;
	return 0;
}

static int unix_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	const struct unix_diag_sk *s = diag_of(d, p->st.st_ino);
	UnixSkEntry u = UNIX_SK_ENTRY__INIT;
	UnixQueueEntry q = UNIX_QUEUE_ENTRY__INIT;
	int fd, ret;

	ret = check_restorable(d, p, s);
	if (ret)
		return ret;
	if (p->flags & ~UNIX_SK_FLAGS) {
		pr_err("pid %d fd %d is a unix socket with flags 0%o: not supported yet\n", d->pid,
		       p->fd, p->flags);
		return -EOPNOTSUPP;
	}
	fd = files_steal(d, p);
	if (fd < 0)
		return fd;
	ret = read_options(d, p, fd, &u);
	if (!ret)
		ret = dump_queue(d, p, fd, s, &u, &q);
	close(fd);
	if (!ret && q.n_lengths && s->state != TCP_ESTABLISHED) {
		pr_err("pid %d fd %d: an unconnected unix socket with a queue: not supported yet\n",
		       d->pid, p->fd);
		ret = -EOPNOTSUPP;
	}
	if (!ret) {
		u.ino = s->ino;
		u.type = s->type;
		u.flags = p->flags;
		u.state = s->state;
		u.peer = s->peer;
		u.shutdown = s->shutdown;
		u.queue = &q;
		fe->unix_sk = &u;
		ret = files_write(d, fe);
	}
	free(q.lengths);
	return ret;
}

static int unix_validate(const FileEntry *f, uint64_t data_size)
{
	const UnixSkEntry *u = f->unix_sk;
	uint64_t total = 0;

	if (!u || !u->queue || !u->ino)
		return restore_plan_bad("files.img", "file id %u has no unix socket entry", f->id);
	if ((u->type != SOCK_STREAM && u->type != SOCK_DGRAM && u->type != SOCK_SEQPACKET) ||
	    (u->flags & ~UNIX_SK_FLAGS) || (u->flags & O_ACCMODE) != O_RDWR ||
	    (u->shutdown & ~SHUTDOWN_MASK) || u->peer == u->ino || u->peek_off < -1 ||
	    (u->state != TCP_ESTABLISHED && u->state != TCP_CLOSE) ||
	    (u->state == TCP_CLOSE && (u->peer || u->queue->n_lengths)) ||
	    u->queue->n_lengths > MAX_QUEUE)
		return restore_plan_bad("files.img", "unix socket %llu: type %u, flags 0%o, state "
					"%u, peer %llu, shutdown %u, %zu queued",
					(unsigned long long)u->ino, u->type, u->flags, u->state,
					(unsigned long long)u->peer, u->shutdown,
					u->queue->n_lengths);
	for (size_t i = 0; i < u->queue->n_lengths; i++)
		total += u->queue->lengths[i];
	if (u->queue->data_off > data_size || total > data_size - u->queue->data_off)
		return restore_plan_bad("files.img", "unix socket %llu: %llu queued bytes at %llu, "
					"files-data.img has %llu", (unsigned long long)u->ino,
					(unsigned long long)total,
					(unsigned long long)u->queue->data_off,
					(unsigned long long)data_size);
	return 0;
}

/* A pair is one object: both name it by the lower inode. */
static uint64_t unix_obj_key(const FileEntry *f)
{
	const UnixSkEntry *u = f->unix_sk;

	return u->peer ? min(u->ino, u->peer) : 0;
}

static bool unix_obj_carrier(const FileEntry *f)
{
	return f->unix_sk->ino < f->unix_sk->peer;
}

/* The peer is the other socket of the object, connected back. */
static int unix_validate_plan(const struct restore_plan *p, uint32_t desc)
{
	const UnixSkEntry *u = p->fdesc[desc].fe->unix_sk, *o;
	uint32_t other = p->fdesc[desc].obj_next;

	if (!u->peer)
		return 0;
	o = p->fdesc[other].fe->unix_sk;
	if (other == desc || p->fdesc[other].obj_next != desc || o->ino != u->peer ||
	    o->peer != u->ino || o->type != u->type || o->state != u->state)
		return restore_plan_bad("files.img", "unix socket %llu: its peer %llu is not in "
					"the dump as its pair", (unsigned long long)u->ino,
					(unsigned long long)u->peer);
	return 0;
}

static void set_buf(int fd, int force, int opt, uint32_t size)
{
	/* The kernel doubles what it is given. */
	int v = size / 2;

	if (setsockopt(fd, SOL_SOCKET, force, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

static int sk_options(struct task_files *tf, uint32_t desc, int fd)
{
	const UnixSkEntry *u = tf->plan->fdesc[desc].fe->unix_sk;
	int cred = u->passcred;

	set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, u->sndbuf);
	set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, u->rcvbuf);
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &cred, sizeof(cred)))
		return task_files_err(tf, desc, "can't set SO_PASSCRED: %s", strerror(errno));
	return 0;
}

/* Sends DESC's queue into it from FROM, its peer's end. */
static int fill_queue(struct task_files *tf, uint32_t desc, int from)
{
	const UnixQueueEntry *q = tf->plan->fdesc[desc].fe->unix_sk->queue;
	uint64_t off = q->data_off;
	cleanup_free char *buf = NULL;
	uint32_t max = 0;

	for (size_t i = 0; i < q->n_lengths; i++)
		max = max(max, q->lengths[i]);
	buf = malloc(max + 1);
	if (!buf)
		return task_files_err(tf, desc, "no memory for a %u-byte message", max);
	for (size_t i = 0; i < q->n_lengths; i++) {
		uint32_t len = q->lengths[i];
		ssize_t n = pread(tf->data_fd, buf, len, off);

		if (n != (ssize_t)len)
			return task_files_err(tf, desc, "can't read queued message %zu: %s", i,
					      n < 0 ? strerror(errno) : "files-data.img is short");
		for (uint32_t done = 0; done < len || !len; done += n) {
			n = send(from, buf + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0)
				return task_files_err(tf, desc, "can't queue message %zu (%u "
						      "bytes) again: %s", i, len, strerror(errno));
			if (!len)
				break;
		}
		off += len;
	}
	return 0;
}

/* After every queue is filled: shutdown (which would stop the sending),
 * the peek offset, O_NONBLOCK. */
static int sk_finish(struct task_files *tf, uint32_t desc, int fd)
{
	const UnixSkEntry *u = tf->plan->fdesc[desc].fe->unix_sk;
	int how = -1;

	if ((u->shutdown & SHUTDOWN_MASK) == SHUTDOWN_MASK)
		how = SHUT_RDWR;
	else if (u->shutdown & 1)
		how = SHUT_RD;
	else if (u->shutdown & 2)
		how = SHUT_WR;
	if (how >= 0 && shutdown(fd, how) && errno != ENOTCONN)
		return task_files_err(tf, desc, "can't shut it down (%u): %s", u->shutdown,
				      strerror(errno));
	if (u->peek_off >= 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &u->peek_off, sizeof(u->peek_off)))
		return task_files_err(tf, desc, "can't set its peek offset: %s", strerror(errno));
	if (fcntl(fd, F_SETFL, u->flags & O_NONBLOCK))
		return task_files_err(tf, desc, "can't set flags 0%o: %s", u->flags,
				      strerror(errno));
	return 0;
}

/* Both sockets of a pair, or one whose peer is gone: then the other end
 * only sends its queue and is closed, as the peer was. */
static int open_pair(struct task_files *tf, uint32_t desc)
{
	const UnixSkEntry *u = tf->plan->fdesc[desc].fe->unix_sk;
	uint32_t other = tf->plan->fdesc[desc].obj_next, m[2] = { desc, other };
	int nr = other == desc ? 1 : 2, sv[2], ret = 0;

	if (socketpair(AF_UNIX, u->type | SOCK_CLOEXEC, 0, sv))
		return task_files_err(tf, desc, "can't create a socket pair: %s", strerror(errno));
	for (int i = 0; i < 2 && !ret; i++) {
		if (!task_files_in_the_way(tf, desc, sv[i], i < nr ? m[i] : UINT32_MAX))
			continue;
		sv[i] = task_files_park(tf, sv[i]);
		if (sv[i] < 0) {
			close(sv[!i]);
			return -EMFILE;
		}
	}
	for (int i = 0; i < nr && !ret; i++)
		ret = sk_options(tf, m[i], sv[i]);
	for (int i = 0; i < nr && !ret; i++)
		ret = fill_queue(tf, m[i], sv[!i]);
	if (nr == 1) {
		close(sv[1]);
		sv[1] = -1;
	}
	for (int i = 0; i < nr && !ret; i++)
		ret = sk_finish(tf, m[i], sv[i]);
	for (int i = 0; i < nr; i++) {
		if (ret) {
			close(sv[i]);
			continue;
		}
		ret = task_files_install(tf, m[i], sv[i]);
	}
	return ret;
}

static int unix_open(struct task_files *tf, uint32_t desc)
{
	const UnixSkEntry *u = tf->plan->fdesc[desc].fe->unix_sk;
	int fd, ret;

	if (u->state == TCP_ESTABLISHED)
		return open_pair(tf, desc);
	fd = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return task_files_err(tf, desc, "can't create a unix socket: %s", strerror(errno));
	ret = sk_options(tf, desc, fd);
	if (!ret)
		ret = sk_finish(tf, desc, fd);
	if (ret) {
		close(fd);
		return ret;
	}
	return task_files_install(tf, desc, fd);
}

const struct fd_ops unix_sk_fd_ops = {
	.type = FD_TYPE__FD_UNIX_SK,
	.name = "unix socket",
	.match = unix_match,
	.dump = unix_dump,
	.validate = unix_validate,
	.obj_key = unix_obj_key,
	.obj_carrier = unix_obj_carrier,
	.validate_plan = unix_validate_plan,
	.open = unix_open,
};
