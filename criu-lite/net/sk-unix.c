/* Owns the dump of unix sockets: stream, datagram and seqpacket sockets,
 * unnamed or bound to a name (in the filesystem, absolute or relative to
 * the process's cwd, or abstract; a socket file removed or replaced
 * since is no obstacle), listening,
 * connected to another socket of the process (socket pairs, a client and
 * the socket a listener of the process accepted for it, a datagram socket
 * connected to a bound one or to itself), the other end of an unnamed pair held by
 * another process of the tree, a connection a listener of the tree
 * accepted (whichever processes hold its ends), or, with --ext-unix-sk, a
 * datagram socket connected to a bound socket outside and a stream or
 * seqpacket socket connected to any socket outside (handed over at
 * restore); with their receive queues (and each datagram's sender),
 * shutdown state, buffer sizes, SO_PASSCRED and SO_PEEK_OFF.  Names, peers
 * and states come from sock_diag (sk-unix-diag.c), queues are peeked
 * (SO_PEEK_OFF, MSG_PEEK) from a copy of the task's fd, so nothing leaves
 * them; the files in flight in them are sk-unix-scm.c's.  A listener's
 * connections not accepted yet (sock_diag's icons: their clients, in
 * accept order) are dumped as their clients, which must be sockets of one
 * process (the listener's or one below it) that sent nothing yet.  Refused: stream peers outside the
 * tree without --ext-unix-sk, named connections between processes.
 * sk-unix-restore.c makes them again. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>
#include <netinet/tcp.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "proc.h"
#include "sk-opts.h"
#include "sk-unix.h"
#include "words.h"

#define PEEK_BUF FILES_SCRATCH_SIZE
#define MAX_BACKLOG (1U << 20)

static bool unix_match(struct files_dump *d, const struct fd_parms *p)
{
	if (!S_ISSOCK(p->st.st_mode) || (p->flags & O_PATH))
		return false;
	if (!d->unix_diag && unix_diag_load(d))
		return false;
	return unix_diag_of(d, p->st.st_ino);
}

static void print_name(const struct unix_diag_sk *s, char *buf, size_t len)
{
	if (!s || !s->name_len)
		snprintf(buf, len, "unnamed");
	else if (s->name[0])
		snprintf(buf, len, "%.*s", (int)s->name_len, s->name);
	else
		snprintf(buf, len, "@%.*s", (int)s->name_len - 1, s->name + 1);
}

static const char *type_name(uint32_t type)
{
	return type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "datagram" :
		type == SOCK_SEQPACKET ? "seqpacket" : "unknown";
}

/* "pid 1 fd 5 (unix stream socket:[2], @name): WHY; peer socket:[3] (unnamed)" */
static int refuse(struct files_dump *d, const struct fd_parms *p, const struct unix_diag_sk *s,
		  const char *why)
{
	const struct unix_diag_sk *peer = s->peer ? unix_diag_of(d, s->peer) : NULL;
	char name[UNIX_NAME_MAX + 8], pname[UNIX_NAME_MAX + 8];

	print_name(s, name, sizeof(name));
	print_name(peer, pname, sizeof(pname));
	pr_err("pid %d fd %d (unix %s %s, %s): %s; peer socket:[%llu] (%s)\n", d->pid, p->fd,
	       type_name(s->type), p->link, name, why, (unsigned long long)s->peer, pname);
	return -EOPNOTSUPP;
}

/* PATH is S's socket file (lmproc's stat of it in ST). */
static bool is_file_of(const char *path, const struct unix_diag_sk *s, struct stat *st)
{
	return !stat(path, st) && S_ISSOCK(st->st_mode) && st->st_ino == s->vfs_ino &&
	       ((uint64_t)major(st->st_dev) << 20 | minor(st->st_dev)) == s->vfs_dev;
}

/* A relative NAME was bound from the binder's cwd of then: as CRIU does,
 * it is looked for from the process's cwd, then its root; DIR gets the
 * one it is found from. */
static bool find_relative(struct files_dump *d, const struct unix_diag_sk *s, const char *name,
			  char *dir, struct stat *st)
{
	static const char *const whats[] = { "cwd", "root" };
	char link[64], path[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(whats); i++) {
		snprintf(link, sizeof(link), "/proc/%d/%s", d->pid, whats[i]);
		if (proc_readlink(link, dir, PATH_MAX) || dir[0] != '/' ||
		    strstr(dir, " (deleted)"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", link, name);
		if (is_file_of(path, s, st))
			return true;
	}
	return false;
}

/* A name in the filesystem is bound again at restore: a relative one must
 * lead to this socket's inode from the process's cwd or root (DIR gets
 * it; '\0' for an absolute name); an absolute one whose file was removed
 * or replaced is bound and removed again (returns 1), if its directory is
 * still there. */
static int check_path(struct files_dump *d, const struct fd_parms *p, const struct unix_diag_sk *s,
		      struct stat *st, char *dir)
{
	char name[UNIX_NAME_MAX + 1];

	memcpy(name, s->name, s->name_len);
	name[s->name_len] = '\0';
	dir[0] = '\0';
	if (strlen(name) != s->name_len)
		return refuse(d, p, s, "bound to a name with a NUL in it: not supported");
	if (name[0] != '/') {
		if (find_relative(d, s, name, dir, st))
			return 0;
		return refuse(d, p, s, "bound to a relative path not found from its working "
			      "directory or root (bound from another directory, or removed): not "
			      "supported");
	}
	if (is_file_of(name, s, st))
		return 0;
	if (stat(name, st) && errno != ENOENT)
		return refuse(d, p, s, "its socket file can't be looked at");
	*strrchr(name, '/') = '\0';
	if (stat(name[0] ? name : "/", st) || !S_ISDIR(st->st_mode))
		return refuse(d, p, s, "its socket file was removed with its directory: not "
			      "supported");
	return 1;
}

/* S's absolute name still leads to its socket file. */
static bool file_of(const struct unix_diag_sk *s)
{
	char path[UNIX_NAME_MAX + 1];
	struct stat st;

	memcpy(path, s->name, s->name_len);
	path[s->name_len] = '\0';
	return is_file_of(path, s, &st);
}

/* A peer outside the process: only a datagram socket's, to a bound
 * socket, with --ext-unix-sk; it is connected again by name. */
static int check_outside_peer(struct files_dump *d, const struct fd_parms *p,
			      const struct unix_diag_sk *s, const struct unix_diag_sk *peer)
{
	if (!d->ext_unix_sk)
		return refuse(d, p, s, "connected to a socket outside the tree: refused without "
			      "--ext-unix-sk");
	/* The caller hands a connected socket over at restore (--inherit-fd):
	 * what the outside peer had sent could not be put back into it. */
	if (s->type != SOCK_DGRAM && (s->rqueue || s->shutdown))
		return refuse(d, p, s, "connected to a socket outside the tree, with bytes it "
			      "sent queued or shut down: not supported");
	if (s->type != SOCK_DGRAM)
		return 0;
	if (!peer || !peer->name_len)
		return refuse(d, p, s, "connected to an unnamed socket outside the process: not "
			      "supported");
	if (peer->name[0] == '/' && !file_of(peer))
		return refuse(d, p, s, "connected to a socket outside the process whose socket "
			      "file was removed or replaced: it can't be reached by name");
	return 0;
}

/* A peer in another process of the tree: an unnamed pair (socketpair,
 * then fork) is made whole by the process above both and inherited
 * (restore-tree.c). */
static int check_tree_peer(struct files_dump *d, const struct fd_parms *p,
			   const struct unix_diag_sk *s, const struct unix_diag_sk *peer,
			   const struct unix_diag_sk *l)
{
	if (peer->peer != s->ino)
		return refuse(d, p, s, "connected to a socket of another process of the tree "
			      "that is not connected back: not supported");
	/* A connection a listener of the tree accepted: remade by connect
	 * and accept in the listener's process (restore-tree.c checks it
	 * is above the other end's). */
	if (l || (!s->name_len && unix_tree_listener_of(d, peer)))
		return 0;
	if (s->name_len || peer->name_len)
		return refuse(d, p, s, "connected by name to a socket of another process of the "
			      "tree, not through a listener of the tree: not supported");
	return 0;
}

/* ANC is PID's parent, or its parent's... (a process of the tree). */
static bool is_ancestor(const struct files_dump *d, pid_t anc, pid_t pid)
{
	struct proc_status st;

	for (size_t i = 0; i <= d->nr_tree_pids && pid > 1; i++) {
		if (proc_read_status(pid, &st))
			return false;
		if (st.ppid == anc)
			return true;
		pid = st.ppid;
	}
	return false;
}

/* The clients of the connections listener S has not accepted yet are
 * made again by one process in S's order: S's own, or one below it that
 * reaches S by its name (which must still lead to S) once S's process
 * made it and forked.  0: they may be; HOLDER is that process. */
static const char *pending_holder_bad(struct files_dump *d, const struct unix_diag_sk *s,
				      pid_t holder)
{
	if (holder == d->pid)
		return NULL;
	if (s->nr_holders != 1 || !is_ancestor(d, d->pid, holder))
		return "held by a process that is not below the listener's alone";
	if (s->name[0] == '/' && !file_of(s))
		return "in another process, and the listener's socket file was removed or "
		       "replaced";
	return NULL;
}

/* A listener's connections not accepted yet: their clients sockets of one
 * process of the tree that hold every one of them (pending_holder_bad),
 * which sent nothing yet (what a client sent waits in a socket no fd
 * holds: nothing reads it without accepting it).  Notes them in U, in the
 * order accept() takes them. */
static int check_pending(struct files_dump *d, const struct fd_parms *p,
			 const struct unix_diag_sk *s, UnixSkEntry *u)
{
	const char *bad = NULL;
	char why[256];
	pid_t holder = 0;

	if (s->nr_icons != s->rqueue)
		return refuse(d, p, s, "listening, with connections not accepted yet that "
			      "sock_diag does not list: not supported");
	u->pending = calloc(s->nr_icons, sizeof(*u->pending));
	if (!u->pending)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->nr_icons && !bad; i++) {
		const struct unix_diag_sk *c = unix_diag_of(d, s->icons[i]);

		if (!c)
			return refuse(d, p, s, "listening, with a connection not accepted yet whose "
				      "client was closed: not supported");
		snprintf(why, sizeof(why), "listening, with a connection not accepted yet from "
			 "socket:[%llu], ", (unsigned long long)c->ino);
		if (c->backlog || c->shutdown)
			bad = "which sent bytes or shut down: what it sent can't be read without "
			      "accepting it";
		else if (!c->in_tree || c->nr_holders != 1 || (holder && c->last_holder != holder))
			bad = "not a socket of the one process of the tree holding the others: not "
			      "supported";
		else
			bad = pending_holder_bad(d, s, c->last_holder);
		holder = c->last_holder;
		u->pending[u->n_pending++] = c->ino;
	}
	return bad ? refuse(d, p, s, strncat(why, bad, sizeof(why) - strlen(why) - 1)) : 0;
}

/* The client of a connection a listener has not accepted yet: the
 * listener is a socket of the process, or of a process above it alone
 * (check_pending checks the rest from the listener's side). */
static int check_pending_client(struct files_dump *d, const struct fd_parms *p,
				const struct unix_diag_sk *s, const struct unix_diag_sk *l,
				UnixSkEntry *u)
{
	if (!unix_held_by_process(d, l->ino) &&
	    (!l->in_tree || l->nr_holders != 1 || !is_ancestor(d, l->last_holder, d->pid)))
		return refuse(d, p, s, "waiting to be accepted by a listener that is neither a "
			      "socket of the process nor of one process above it: not supported");
	u->has_pending_on = true;
	u->pending_on = l->ino;
	return 0;
}

/* What restore can make again; fills the connection fields of U. */
static int check_restorable(struct files_dump *d, const struct fd_parms *p,
			    const struct unix_diag_sk *s, UnixSkEntry *u, char *dir)
{
	const struct unix_diag_sk *peer = s->peer ? unix_diag_of(d, s->peer) : NULL;
	const struct unix_diag_sk *l = unix_listener_of(d, s) ?: unix_tree_listener_of(d, s), *pl;
	struct stat st;
	int ret;

	if (s->type != SOCK_STREAM && s->type != SOCK_DGRAM && s->type != SOCK_SEQPACKET)
		return refuse(d, p, s, "of an unknown type: not supported");
	if (s->state != TCP_ESTABLISHED && s->state != TCP_CLOSE && s->state != TCP_LISTEN)
		return refuse(d, p, s, "connecting: not supported");
	if (s->state == TCP_LISTEN && s->rqueue) {
		ret = check_pending(d, p, s, u);
		if (ret)
			return ret;
	}
	pl = unix_pending_listener_of(d, s);
	if (pl) {
		ret = check_pending_client(d, p, s, pl, u);
		if (ret)
			return ret;
	}
	/* A stream connection to a socket outside the tree, whichever end
	 * connected (a client the tree's server accepted, the tree's client
	 * of a server outside), is handed over at restore (--inherit-fd): its
	 * name and listener play no part. */
	if (s->type != SOCK_DGRAM && s->peer && !unix_held_by_process(d, s->peer) &&
	    !(peer && peer->in_tree)) {
		ret = check_outside_peer(d, p, s, peer);
		u->peer = 0;
		u->has_external = u->external = !ret;
		return ret;
	}
	if (s->name_len && s->type != SOCK_DGRAM && s->state == TCP_ESTABLISHED && !l && !pl &&
	    !(peer && peer->peer == s->ino && unix_held_by_process(d, s->peer) && unix_listener_of(d, peer)))
		return refuse(d, p, s, "connected, with a name, but neither accepted by nor "
			      "connected to a listener of the tree (was it closed?): not "
			      "supported");
	if (s->name_len && s->name[0] && !l) {
		ret = check_path(d, p, s, &st, dir);
		if (ret < 0)
			return ret;
		u->name_dir = dir[0] ? dir : NULL;
		u->has_file_gone = u->file_gone = ret;
		u->has_file_perm = u->has_file_uid = u->has_file_gid = !ret;
		u->file_perm = ret ? 0 : st.st_mode & 07777;
		u->file_uid = ret ? 0 : st.st_uid;
		u->file_gid = ret ? 0 : st.st_gid;
	}
	if (l) {
		u->has_listener = true;
		u->listener = l->ino;
	} else if (s->name_len) {
		u->has_name = true;
		u->name.data = (uint8_t *)s->name;
		u->name.len = s->name_len;
	}
	if (!s->peer)
		return 0;
	if (!unix_held_by_process(d, s->peer) && peer && peer->in_tree)
		return check_tree_peer(d, p, s, peer, l);
	if (!unix_held_by_process(d, s->peer)) {
		ret = check_outside_peer(d, p, s, peer);
		if (ret)
			return ret;
		u->peer = 0;
	} else if (peer && peer->peer == s->ino && s->peer != s->ino) {
		/* A pair: made at once (socketpair, or connect and accept),
		 * then bound to its names.  A datagram socket connected to
		 * itself is no pair: it is bound, then connected by its name. */
		return 0;
	} else if (s->type != SOCK_DGRAM || !peer || !peer->name_len) {
		return refuse(d, p, s, "connected to a socket that is not connected back: not "
			      "supported");
	}
	if (peer->name[0] && peer->name[0] != '/')
		return refuse(d, p, s, "connected by name to a socket bound to a relative path: "
			      "not supported");
	u->has_peer_name = true;
	u->peer_name.data = (uint8_t *)peer->name;
	u->peer_name.len = peer->name_len;
	return 0;
}

/* The sender of a queued datagram: unbound, or a datagram socket of the
 * process (it sends it again). */
static int check_source(struct files_dump *d, const struct fd_parms *p, const char *name,
			size_t len)
{
	const struct unix_diag_sk *s;
	char buf[UNIX_NAME_MAX + 8];

	if (!len)
		return 0;
	s = unix_held_by_name(d, SOCK_DGRAM, name, len, -1, 0);
	if (s)
		return 0;
	if (name[0])
		snprintf(buf, sizeof(buf), "%.*s", (int)len, name);
	else
		snprintf(buf, sizeof(buf), "@%.*s", (int)len - 1, name + 1);
	pr_err("pid %d fd %d: a unix socket with a datagram queued from %s, which is not a "
	       "socket of the process: not supported\n", d->pid, p->fd, buf);
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

struct peeked {
	bool more;   /* the message goes on */
	bool ctrunc; /* more control data than lmproc has room for */
	int fds[SCM_MAX_FD]; /* the files it carries: lmproc's copies */
	int nr_fds;
	struct sockaddr_un from;
	socklen_t from_len;
};

/* One peek at the peek offset: >= 0 bytes, -EAGAIN at the end of the
 * queue. */
static ssize_t peek(int fd, char *buf, struct peeked *pk)
{
	char cbuf[SCM_CMSG_SPACE];
	struct iovec iov = { .iov_base = buf, .iov_len = PEEK_BUF };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf), .msg_name = &pk->from,
			     .msg_namelen = sizeof(pk->from) };
	ssize_t n = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return -errno;
	pk->more = mh.msg_flags & MSG_TRUNC;
	pk->ctrunc = mh.msg_flags & MSG_CTRUNC;
	pk->from_len = mh.msg_namelen;
	pk->nr_fds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd = ((int *)CMSG_DATA(c))[i];

			if (pk->nr_fds < SCM_MAX_FD)
				pk->fds[pk->nr_fds++] = fd;
			else
				pk->ctrunc = true;
			if (pk->ctrunc)
				close(fd);
		}
	}
	return n;
}

/* The sender of the message just peeked, for datagram queues refilled by
 * sending each message again from its sender. */
static int add_source(struct files_dump *d, const struct fd_parms *p, UnixQueueEntry *q,
		      const struct peeked *pk)
{
	size_t len = pk->from_len > offsetof(struct sockaddr_un, sun_path) ?
			     pk->from_len - offsetof(struct sockaddr_un, sun_path) : 0;
	ProtobufCBinaryData *n;
	int ret;

	/* A name in the filesystem comes with its NUL. */
	if (len && pk->from.sun_path[0])
		len = strnlen(pk->from.sun_path, len);
	ret = check_source(d, p, pk->from.sun_path, len);
	if (ret)
		return ret;
	n = realloc(q->sources, (q->n_sources + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	q->sources = n;
	n[q->n_sources].len = len;
	n[q->n_sources].data = len ? malloc(len) : NULL;
	if (len && !n[q->n_sources].data)
		return -ENOMEM;
	if (len)
		memcpy(n[q->n_sources].data, pk->from.sun_path, len);
	q->n_sources++;
	return 0;
}

/* The files the message being peeked (at its byte OFF, N bytes peeked)
 * carries: a datagram's come with each peek of it, and count once.  A
 * peek of a stream socket glues the bytes queued before a message with
 * files to it (and stops after it), and no peek tells where it starts (a
 * peek of any length there gets the files): they go with the whole piece.
 * A peek that fills the buffer gets the files of a message it may not
 * have reached, which the next peek gets again. */
static int peeked_files(struct files_dump *d, const struct fd_parms *p,
			const struct unix_diag_sk *s, UnixQueueEntry *q, struct scm_queue *sq,
			struct peeked *pk, uint64_t off, ssize_t n)
{
	int ret = 0;

	if (pk->ctrunc) {
		pr_err("pid %d fd %d: a queued message carries more files than lmproc can "
		       "peek: not supported\n", d->pid, p->fd);
		ret = -EOPNOTSUPP;
	} else if (pk->nr_fds && s->type == SOCK_STREAM && n == PEEK_BUF) {
		pr_err("pid %d fd %d: a stream socket with %d bytes or more queued before a "
		       "message with files (SCM_RIGHTS): not supported\n", d->pid, p->fd,
		       PEEK_BUF);
		ret = -EOPNOTSUPP;
	} else if (pk->nr_fds && !off) {
		return unix_scm_note(sq, q->n_lengths, pk->fds, pk->nr_fds);
	}
	for (int i = 0; i < pk->nr_fds; i++)
		close(pk->fds[i]);
	return ret;
}

/* The receive queue, message by message (a stream socket's in the
 * pieces the peeks gave); SOURCES: note each datagram's sender. */
static int peek_queue(struct files_dump *d, const struct fd_parms *p, int fd,
		      const struct unix_diag_sk *s, UnixQueueEntry *q, struct scm_queue *sq,
		      char *buf, bool sources)
{
	bool stream = s->type == SOCK_STREAM;
	struct peeked pk = {};
	uint64_t msg = 0;
	int ret = 0;

	q->data_off = d->data_off;
	for (;;) {
		ssize_t n = peek(fd, buf, &pk);
		uint64_t at;

		if (n == -EAGAIN || (n == 0 && (stream || (s->shutdown & 1)))) {
			for (int i = 0; n == 0 && i < pk.nr_fds; i++)
				close(pk.fds[i]);
			break;
		}
		if (n < 0) {
			pr_err("Can't peek at pid %d fd %d's queue: %s\n", d->pid, p->fd,
			       strerror(-n));
			return n;
		}
		ret = peeked_files(d, p, s, q, sq, &pk, msg, n);
		if (ret)
			return ret;
		if (sources && !msg) {
			ret = add_source(d, p, q, &pk);
			if (ret)
				return ret;
		}
		ret = files_data_write(d, buf, n, &at);
		if (ret)
			return ret;
		msg += n;
		if (pk.more || msg > UINT32_MAX)
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
	struct scm_queue sq = {};
	int zero = 0, ret;

	if (!buf)
		return -ENOMEM;
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero))) {
		pr_perror("Can't peek at pid %d fd %d's queue", d->pid, p->fd);
		return -errno;
	}
	ret = peek_queue(d, p, fd, s, q, &sq, buf, s->type == SOCK_DGRAM && !unix_is_pair(u));
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &u->peek_off, sizeof(u->peek_off))) {
		pr_perror("Can't give pid %d fd %d its peek offset back", d->pid, p->fd);
		ret = ret ?: -errno;
	}
	/* The queue's bytes lie back to back in files-data.img: the files
	 * in flight, which may bring data of their own, are dumped after. */
	if (!ret)
		ret = unix_scm_dump_queue(d, p, &sq, q);
	unix_scm_queue_free(&sq);
	return ret;
}

static int read_options(struct files_dump *d, const struct fd_parms *p, int fd, UnixSkEntry *u,
			struct sk_opts *o)
{
	char what[64];
	struct sk_who w = { .pid = d->pid, .fd = p->fd, .what = what };
	int rcv, snd, cred, off, ret;

	if (sockopt(fd, SO_RCVBUF, &rcv) || sockopt(fd, SO_SNDBUF, &snd) ||
	    sockopt(fd, SO_PASSCRED, &cred) || sockopt(fd, SO_PEEK_OFF, &off)) {
		pr_perror("Can't read the options of pid %d fd %d", d->pid, p->fd);
		return -errno;
	}
	u->rcvbuf = rcv;
	u->sndbuf = snd;
	u->passcred = cred;
	u->peek_off = off;
	snprintf(what, sizeof(what), "unix %s %s", type_name(u->type), p->link);
	ret = sk_opts_dump(&w, fd, AF_UNIX, u->type, 0, o);
	u->opts = o->ptrs;
	u->n_opts = o->n;
	return ret;
}

static int write_entry(struct files_dump *d, struct fd_parms *p, FileEntry *fe, UnixSkEntry *u,
		       const struct unix_diag_sk *s)
{
	if (u->queue->n_lengths && !unix_is_pair(u) && !(s->type == SOCK_DGRAM && u->has_name)) {
		pr_err("pid %d fd %d: a unix socket with a queue, neither bound nor connected to a "
		       "peer of the process: not supported\n", d->pid, p->fd);
		return -EOPNOTSUPP;
	}
	if (s->state == TCP_LISTEN) {
		u->has_backlog = true;
		u->backlog = s->backlog;
	}
	fe->unix_sk = u;
	return files_write(d, fe);
}

/* A listener's queue holds connections, not bytes; a stream or seqpacket
 * socket never connected has no queue at all (recvmsg() refuses it with
 * EINVAL or ENOTCONN).  One whose peer closed stays established. */
static bool has_queue(const struct unix_diag_sk *s)
{
	if (s->state == TCP_LISTEN)
		return false;
	return s->type == SOCK_DGRAM || s->state == TCP_ESTABLISHED;
}

static int unix_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	const struct unix_diag_sk *s = unix_diag_of(d, p->st.st_ino);
	UnixSkEntry u = UNIX_SK_ENTRY__INIT;
	UnixQueueEntry q = UNIX_QUEUE_ENTRY__INIT;
	cleanup_free struct sk_opts *o = calloc(1, sizeof(*o));
	char dir[PATH_MAX];
	int fd, ret;

	if (!o)
		return -ENOMEM;
	if (p->flags & ~UNIX_SK_FLAGS)
		return files_refuse_flags(d, p, "a unix socket", UNIX_SK_FLAGS);
	u.ino = s->ino;
	u.type = s->type;
	u.flags = p->flags;
	/* The kernel marks a datagram socket others connected to as
	 * established; unless it is connected itself (maybe to a peer that
	 * is gone) it has no peer to restore. */
	u.state = s->type == SOCK_DGRAM && !s->connected ? TCP_CLOSE : s->state;
	u.shutdown = s->shutdown;
	u.peer = s->peer;
	u.queue = &q;
	ret = check_restorable(d, p, s, &u, dir);
	if (ret) {
		free(u.pending);
		return ret;
	}
	fd = files_steal(d, p);
	if (fd < 0)
		return fd;
	ret = read_options(d, p, fd, &u, o);
	if (!ret)
		ret = unix_cred_dump(d->pid, p->fd, fd, &u);
	if (!ret && has_queue(s))
		ret = dump_queue(d, p, fd, s, &u, &q);
	close(fd);
	if (!ret)
		ret = write_entry(d, p, fe, &u, s);
	sk_opts_free(o);
	free(u.pending);
	free(u.peer_groups);
	free(q.lengths);
	unix_scm_free(&q);
	for (size_t i = 0; i < q.n_sources; i++)
		free(q.sources[i].data);
	free(q.sources);
	return ret;
}

/* A sun_path of LEN bytes: abstract (a NUL first), or a path without
 * NULs, absolute if ABSOLUTE. */
static bool name_ok(const ProtobufCBinaryData *n, bool absolute)
{
	if (!n->len || n->len > UNIX_NAME_MAX)
		return false;
	return !n->data[0] || ((n->data[0] == '/' || !absolute) && !memchr(n->data, 0, n->len));
}

/* A relative name comes with the absolute directory it is bound from. */
static bool name_dir_ok(const UnixSkEntry *u)
{
	if (!u->name_dir)
		return true;
	return u->has_name && u->name.data[0] && u->name.data[0] != '/' &&
	       u->name_dir[0] == '/' && strlen(u->name_dir) < PATH_MAX;
}

/* The connection fields fit the state. */
static bool state_ok(const UnixSkEntry *u)
{
	bool named = u->has_name, queue = u->queue->n_lengths;

	if ((u->has_name && !name_ok(&u->name, !u->name_dir)) || !name_dir_ok(u))
		return false;
	if (u->has_peer_name && (!name_ok(&u->peer_name, true) || u->type != SOCK_DGRAM ||
				 u->state != TCP_ESTABLISHED))
		return false;
	/* Connected to itself: by its own name. */
	if (u->peer == u->ino && (!u->has_peer_name || !named || u->name.len != u->peer_name.len ||
				  memcmp(u->name.data, u->peer_name.data, u->name.len)))
		return false;
	if (u->n_pending && (u->state != TCP_LISTEN || u->n_pending > (size_t)u->backlog + 1))
		return false;
	if (u->has_pending_on && (u->state != TCP_ESTABLISHED || u->type == SOCK_DGRAM || u->peer ||
				  !u->pending_on || u->has_listener || u->has_peer_name ||
				  u->external || queue || u->shutdown))
		return false;
	if (u->file_gone && (!named || u->name.data[0] != '/' || u->has_file_perm))
		return false;
	if ((u->has_file_perm || u->has_file_uid || u->has_file_gid) &&
	    (!named || !u->name.data[0] || !u->has_file_perm || !u->has_file_uid ||
	     !u->has_file_gid || (u->file_perm & ~07777)))
		return false;
	if (u->has_listener && (u->state != TCP_ESTABLISHED || u->type == SOCK_DGRAM || named ||
				u->has_peer_name || !u->listener))
		return false;
	if (u->external && (u->type == SOCK_DGRAM || u->state != TCP_ESTABLISHED || u->peer ||
			    queue || u->shutdown || u->has_listener || u->has_peer_name))
		return false;
	if (u->queue->n_sources && (u->queue->n_sources != u->queue->n_lengths ||
				    u->type != SOCK_DGRAM || unix_is_pair(u)))
		return false;
	for (size_t i = 0; i < u->queue->n_sources; i++)
		if (u->queue->sources[i].len && !name_ok(&u->queue->sources[i], false))
			return false;
	switch (u->state) {
	case TCP_LISTEN:
		return u->type != SOCK_DGRAM && named && !u->peer && !queue && u->has_backlog &&
		       u->backlog <= MAX_BACKLOG;
	case TCP_CLOSE:
		return !u->peer && !u->has_backlog && (!queue || (u->type == SOCK_DGRAM && named));
	case TCP_ESTABLISHED:
		return !u->has_backlog && (!queue || unix_is_pair(u) || named);
	default:
		return false;
	}
}

static int unix_validate(const FileEntry *f, uint64_t data_size)
{
	const UnixSkEntry *u = f->unix_sk;
	const char *why;
	uint64_t total = 0;

	if (!u || !u->queue || !u->ino)
		return restore_plan_bad("files.img", "file id %u has no unix socket entry", f->id);
	if ((u->type != SOCK_STREAM && u->type != SOCK_DGRAM && u->type != SOCK_SEQPACKET) ||
	    (u->flags & ~UNIX_SK_FLAGS) || (u->flags & O_ACCMODE) != O_RDWR ||
	    (u->shutdown & ~SHUTDOWN_MASK) || u->peek_off < -1 ||
	    u->queue->n_lengths > MAX_QUEUE || !state_ok(u) || !unix_scm_queue_ok(u->queue) ||
	    !unix_cred_ok(u))
		return restore_plan_bad("files.img", "unix socket %llu: type %u, flags %s, state "
					"%u, peer %llu, shutdown %u, %zu queued (from %zu "
					"senders), %s, listener %llu, %s%s",
					(unsigned long long)u->ino, u->type, open_flags_words(u->flags).s, u->state,
					(unsigned long long)u->peer, u->shutdown,
					u->queue->n_lengths, u->queue->n_sources,
					u->has_name ? "a bad or misplaced name" : "unnamed",
					(unsigned long long)u->listener,
					u->has_peer_name ? "connected by name" : "no peer name",
					unix_cred_ok(u) ? "" : ", bad peer credentials");
	why = sk_opts_bad(u->opts, u->n_opts, AF_UNIX);
	if (why)
		return restore_plan_bad("files.img", "unix socket %llu: %s",
					(unsigned long long)u->ino, why);
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

/* The --inherit-fd given for the external socket U, or -1. */
int unix_inherited(const struct lmproc_opts *o, const UnixSkEntry *u)
{
	char key[48];

	snprintf(key, sizeof(key), "socket:[%llu]", (unsigned long long)u->ino);
	for (int k = 0; o && k < o->nr_inherit; k++)
		if (!strcmp(o->inherit[k].key, key))
			return k;
	return -1;
}

static int sock_type(int fd)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) ? -1 : v;
}

/* Where the tree holds file I: "pid P fd F". */
static void holder(const struct restore_tree *t, uint32_t i, char *buf, size_t len)
{
	snprintf(buf, len, "the tree");
	for (size_t k = 0; k < t->nr; k++)
		if (t->ctx[k].plan.pid && t->ctx[k].plan.fdesc[i].first_fd >= 0) {
			snprintf(buf, len, "pid %d fd %d", t->ctx[k].plan.pid,
				 t->ctx[k].plan.fdesc[i].first_fd);
			return;
		}
}

/* Every external socket of the dump has an --inherit-fd socket:[INODE],
 * every such option names one, and lmproc's fd is a socket of its type. */
int unix_check_inherit(const struct restore_tree *t)
{
	const struct restore_plan *p0 = &t->ctx[0].plan;
	const struct lmproc_opts *o = t->ctx[0].opts;
	bool used[MAX_INHERIT_FDS] = {};
	char where[64];

	for (uint32_t i = 0; i < p0->nr_files; i++) {
		const UnixSkEntry *u = p0->files[i]->type == FD_TYPE__FD_UNIX_SK ?
				       p0->files[i]->unix_sk : NULL;
		struct stat st;
		int k;

		if (!u || !u->external)
			continue;
		holder(t, i, where, sizeof(where));
		k = unix_inherited(o, u);
		if (k < 0) {
			pr_err("%s: unix socket %llu was connected to a socket outside the tree: "
			       "restore with --inherit-fd fd[N]:socket:[%llu], N a socket of "
			       "lmproc's connected where it should be\n", where,
			       (unsigned long long)u->ino, (unsigned long long)u->ino);
			return -EINVAL;
		}
		used[k] = true;
		if (fstat(o->inherit[k].fd, &st) || !S_ISSOCK(st.st_mode) ||
		    sock_type(o->inherit[k].fd) != (int)u->type) {
			pr_err("--inherit-fd fd[%d]:%s: lmproc's fd %d is not a unix socket of "
			       "type %u\n", o->inherit[k].fd, o->inherit[k].key, o->inherit[k].fd,
			       u->type);
			return -EBADF;
		}
	}
	for (int k = 0; k < o->nr_inherit; k++)
		if (!used[k] && !strncmp(o->inherit[k].key, "socket:", 7)) {
			pr_err("--inherit-fd fd[%d]:%s: the dump has no such socket connected "
			       "outside the tree\n", o->inherit[k].fd, o->inherit[k].key);
			return -ENOENT;
		}
	return 0;
}

/* A pair is one object: both name it by the lower inode. */
static uint64_t unix_obj_key(const FileEntry *f)
{
	const UnixSkEntry *u = f->unix_sk;

	return unix_is_pair(u) && u->peer ? min(u->ino, u->peer) : 0;
}

static bool unix_obj_carrier(const FileEntry *f)
{
	return f->unix_sk->ino < f->unix_sk->peer;
}

int unix_find(const struct restore_plan *p, uint64_t ino)
{
	for (size_t i = 0; i < p->nr_files; i++)
		if (p->files[i]->type == FD_TYPE__FD_UNIX_SK && p->files[i]->unix_sk->ino == ino)
			return i;
	return -1;
}

/* An accepted socket's listener is a listening socket of the tree; the
 * process that makes the connection must hold it (unix_check_maker). */
static int check_listener(const struct restore_plan *p, const UnixSkEntry *u)
{
	int l = unix_find(p, u->listener);
	const UnixSkEntry *ls = l >= 0 ? p->files[l]->unix_sk : NULL;

	if (!ls || ls->state != TCP_LISTEN || ls->type != u->type)
		return restore_plan_bad("files.img", "unix socket %llu was accepted from %llu, "
					"which is not a listening socket of the tree",
					(unsigned long long)u->ino,
					(unsigned long long)u->listener);
	return 0;
}

int unix_check_maker(const struct restore_plan *maker, uint32_t desc)
{
	const UnixSkEntry *u = maker->files[desc]->unix_sk;
	int l;

	/* Connected in its listener's order by a process holding it. */
	if (u->has_pending_on && maker->fdesc[desc].first_fd < 0) {
		pr_err("unix socket %llu waits to be accepted by %llu and is held by several "
		       "processes, none above the others: not supported\n",
		       (unsigned long long)u->ino, (unsigned long long)u->pending_on);
		return -EOPNOTSUPP;
	}

	if (!u->has_listener)
		return 0;
	l = unix_find(maker, u->listener);
	if (l >= 0 && maker->fdesc[l].first_fd >= 0)
		return 0;
	pr_err("unix socket %llu was accepted by a listener that pid %d, which makes the "
	       "connection for the processes holding its ends, does not hold: not supported\n",
	       (unsigned long long)u->ino, maker->pid);
	return -EOPNOTSUPP;
}

/* A client of a connection not accepted yet and its listener name each
 * other: the listener lists it once, the client names that listener. */
static int check_pending_plan(const struct restore_plan *p, const UnixSkEntry *u)
{
	int l = u->has_pending_on ? unix_find(p, u->pending_on) : -1;
	const UnixSkEntry *ls = l >= 0 ? p->files[l]->unix_sk : NULL;
	size_t seen = 0;

	for (size_t i = 0; i < u->n_pending; i++) {
		int c = unix_find(p, u->pending[i]);

		if (c < 0 || !p->files[c]->unix_sk->has_pending_on ||
		    p->files[c]->unix_sk->pending_on != u->ino ||
		    p->files[c]->unix_sk->type != u->type)
			return restore_plan_bad("files.img", "unix socket %llu lists %llu as a "
						"connection not accepted yet, which is not its "
						"client in the dump", (unsigned long long)u->ino,
						(unsigned long long)u->pending[i]);
	}
	if (!u->has_pending_on)
		return 0;
	for (size_t i = 0; ls && i < ls->n_pending; i++)
		seen += ls->pending[i] == u->ino;
	if (!ls || seen != 1)
		return restore_plan_bad("files.img", "unix socket %llu waits to be accepted by "
					"%llu, which does not list it once",
					(unsigned long long)u->ino,
					(unsigned long long)u->pending_on);
	return 0;
}

/* The peer is the other socket of the object, connected back. */
static int unix_validate_plan(const struct restore_plan *p, uint32_t desc)
{
	const UnixSkEntry *u = p->fdesc[desc].fe->unix_sk, *o;
	uint32_t other = p->fdesc[desc].obj_next;

	if (u->has_listener && check_listener(p, u))
		return -EINVAL;
	if (check_pending_plan(p, u))
		return -EINVAL;
	if (!unix_is_pair(u) || !u->peer)
		return 0;
	o = p->fdesc[other].fe->unix_sk;
	if (other == desc || p->fdesc[other].obj_next != desc || o->ino != u->peer ||
	    o->peer != u->ino || o->type != u->type || !unix_is_pair(o) ||
	    (u->has_listener && o->has_listener))
		return restore_plan_bad("files.img", "unix socket %llu: its peer %llu is not in "
					"the dump as its pair", (unsigned long long)u->ino,
					(unsigned long long)u->peer);
	return 0;
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
	.post = unix_post,
	.finish = unix_finish,
};
