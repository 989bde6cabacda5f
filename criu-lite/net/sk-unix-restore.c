/* Owns making the unix sockets of sk-unix.c again, in the task.  open():
 * a pair at once, with socketpair() or, for a socket a listener of the
 * process accepted, connect() to that listener (opened first if it has
 * not been yet) and accept(); any other socket alone; each bound to its
 * name (a stale socket file at the path is removed first, as CRIU does,
 * and the file gets its permissions and owner back; a relative name from
 * the directory it was bound from; one whose file was removed or
 * replaced at dump is bound, its file kept aside until finish() removes
 * it, while a file at its name steps aside only for the bind), a listener
 * listening with its backlog; the clients of its connections not
 * accepted yet connected to it in the order accept() takes them.  A pair's queues are sent from the peer,
 * each message with the files in flight it carries (sk-unix-scm.c opens
 * them first).
 * post(), every socket bound: the queues of the others, each datagram
 * from the socket that sent it (the queue of a connected datagram socket
 * only accepts its peer's), then connect() by name.  finish(), every queue
 * filled: shutdown, peek offset, O_NONBLOCK. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "sk-opts.h"
#include "sk-unix.h"
#include "words.h"

/* The name a socket file that is gone has while the restore needs it. */
#define GONE_NAME ".lmproc-sk-%llu"
#define GONE_PATH_MAX (UNIX_NAME_MAX + 64)

static const UnixSkEntry *sk_of(const struct task_files *tf, uint32_t desc)
{
	return tf->plan->fdesc[desc].fe->unix_sk;
}

static socklen_t make_addr(struct sockaddr_un *a, const ProtobufCBinaryData *n)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, n->data, n->len);
	return offsetof(struct sockaddr_un, sun_path) + n->len;
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
	const UnixSkEntry *u = sk_of(tf, desc);
	const char *which;
	int cred = u->passcred, ret;

	ret = sk_opts_restore(fd, u->opts, u->n_opts, false, &which);
	if (ret)
		return task_files_err(tf, desc, "can't set option %s: %s", which, strerror(-ret));
	set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, u->sndbuf);
	set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, u->rcvbuf);
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &cred, sizeof(cred)))
		return task_files_err(tf, desc, "can't set SO_PASSCRED: %s", strerror(errno));
	ret = sk_opts_restore(fd, u->opts, u->n_opts, true, &which);
	if (ret)
		return task_files_err(tf, desc, "can't set option %s: %s", which, strerror(-ret));
	return 0;
}

/* A relative name is its name_dir's: the task works in DIR while it
 * binds or reaches it (*BACK: its cwd to go back to, -1 for no DIR). */
static int enter_dir(struct task_files *tf, uint32_t desc, const char *dir, int *back)
{
	*back = -1;
	if (!dir)
		return 0;
	*back = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*back < 0)
		return task_files_err(tf, desc, "can't open its cwd: %s", strerror(errno));
	if (!chdir(dir))
		return 0;
	close(*back);
	*back = -1;
	return task_files_err(tf, desc, "can't change to %s: %s", dir, strerror(errno));
}

static int leave_dir(struct task_files *tf, uint32_t desc, int back, int ret)
{
	if (back < 0)
		return ret;
	if (fchdir(back) && !ret)
		ret = task_files_err(tf, desc, "can't go back to its cwd: %s", strerror(errno));
	close(back);
	return ret;
}

/* A socket file left at the path (by the dumped process, which is gone)
 * would make bind() fail; anything else there is not lmproc's to remove. */
static int remove_stale(struct task_files *tf, uint32_t desc, const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : task_files_err(tf, desc, "can't look at %s: %s", path,
							    strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return task_files_err(tf, desc, "can't bind to %s: a file that is not a socket is "
				      "there", path);
	if (unlink(path))
		return task_files_err(tf, desc, "can't remove the old socket file %s: %s", path,
				      strerror(errno));
	return 0;
}

static int bind_here(struct task_files *tf, uint32_t desc, int fd)
{
	const UnixSkEntry *u = sk_of(tf, desc);
	char path[UNIX_NAME_MAX + 1];
	struct sockaddr_un a;
	socklen_t len;
	int ret;

	len = make_addr(&a, &u->name);
	memcpy(path, u->name.data, u->name.len);
	path[u->name.len] = '\0';
	if (path[0]) {
		ret = remove_stale(tf, desc, path);
		if (ret)
			return ret;
	}
	if (bind(fd, (struct sockaddr *)&a, len))
		return task_files_err(tf, desc, "can't bind to %s%s: %s", path[0] ? "" : "@",
				      path[0] ? path : path + 1, strerror(errno));
	if (!path[0])
		return 0;
	if (chmod(path, u->file_perm) || lchown(path, u->file_uid, u->file_gid))
		return task_files_err(tf, desc, "can't give %s mode 0%o, owner %u:%u: %s", path,
				      u->file_perm, u->file_uid, u->file_gid, strerror(errno));
	return 0;
}

/* The directory of U's name (whose file is gone), with its '/'. */
static void gone_dir(const UnixSkEntry *u, char *dir)
{
	size_t n = u->name.len;

	while (n && u->name.data[n - 1] != '/')
		n--;
	memcpy(dir, u->name.data, n);
	dir[n] = '\0';
}

/* Where the socket file of U, whose file is gone, waits for finish()
 * (in the name's directory: OWN) and where a file found at the name steps
 * aside meanwhile (ASIDE). */
static void gone_paths(const UnixSkEntry *u, char *own, char *aside)
{
	char dir[UNIX_NAME_MAX + 1];

	gone_dir(u, dir);
	snprintf(own, GONE_PATH_MAX, "%s" GONE_NAME, dir, (unsigned long long)u->ino);
	snprintf(aside, GONE_PATH_MAX, "%s.lmproc-aside-%llu", dir, (unsigned long long)u->ino);
}

/* A socket whose file was removed or replaced at dump: whatever is at the
 * name now (the file that replaced it) steps aside while the socket binds
 * there and is back at once; the socket's own file moves to OWN, where
 * the sockets of the process connect to it until finish() removes it. */
static int bind_gone(struct task_files *tf, uint32_t desc, int fd)
{
	const UnixSkEntry *u = sk_of(tf, desc);
	char path[UNIX_NAME_MAX + 1], own[GONE_PATH_MAX], aside[GONE_PATH_MAX];
	struct sockaddr_un a;
	socklen_t len = make_addr(&a, &u->name);
	bool moved;
	int ret;

	memcpy(path, u->name.data, u->name.len);
	path[u->name.len] = '\0';
	gone_paths(u, own, aside);
	ret = remove_stale(tf, desc, own);
	if (ret)
		return ret;
	moved = !renameat2(AT_FDCWD, path, AT_FDCWD, aside, RENAME_NOREPLACE);
	if (!moved && errno != ENOENT)
		return task_files_err(tf, desc, "can't move %s aside to bind there: %s", path,
				      strerror(errno));
	if (bind(fd, (struct sockaddr *)&a, len)) {
		ret = task_files_err(tf, desc, "can't bind to %s: %s", path, strerror(errno));
	} else if (renameat2(AT_FDCWD, path, AT_FDCWD, own, RENAME_NOREPLACE)) {
		ret = task_files_err(tf, desc, "can't move its socket file %s to %s: %s", path, own,
				     strerror(errno));
		unlink(path);
	}
	if (moved && renameat2(AT_FDCWD, aside, AT_FDCWD, path, RENAME_NOREPLACE))
		ret = task_files_err(tf, desc, "can't put %s back from %s: %s", path, aside,
				     strerror(errno));
	return ret;
}

/* The address the task reaches socket T by: its name (from its name_dir),
 * or, if its file is gone, its file's name until finish(), from the
 * name's directory.  The task works there until leave_dir(*BACK). */
static int reach(struct task_files *tf, uint32_t desc, const UnixSkEntry *t,
		 struct sockaddr_un *a, socklen_t *len, int *back)
{
	char dir[UNIX_NAME_MAX + 1];
	int n;

	if (!t->file_gone) {
		*len = make_addr(a, &t->name);
		return enter_dir(tf, desc, t->name_dir, back);
	}
	gone_dir(t, dir);
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = snprintf(a->sun_path, sizeof(a->sun_path), GONE_NAME, (unsigned long long)t->ino);
	*len = offsetof(struct sockaddr_un, sun_path) + n + 1;
	return enter_dir(tf, desc, dir, back);
}

static int bind_name(struct task_files *tf, uint32_t desc, int fd)
{
	int back, ret;

	if (!sk_of(tf, desc)->has_name)
		return 0;
	if (sk_of(tf, desc)->file_gone)
		return bind_gone(tf, desc, fd);
	ret = enter_dir(tf, desc, sk_of(tf, desc)->name_dir, &back);
	if (ret)
		return ret;
	return leave_dir(tf, desc, back, bind_here(tf, desc, fd));
}

/* The fd that sends DESC's message I: its peer's (FROM) for a pair, else
 * the socket of the process bound to its sender's name, or an unbound
 * one (*TMP, made once). */
static int sender(struct task_files *tf, uint32_t desc, size_t i, int from, int *tmp)
{
	const UnixQueueEntry *q = sk_of(tf, desc)->queue;
	const ProtobufCBinaryData *src;

	if (from >= 0)
		return from;
	src = i < q->n_sources ? &q->sources[i] : NULL;
	for (size_t k = 0; src && src->len && k < tf->plan->nr_files; k++) {
		const FileEntry *fe = tf->plan->files[k];

		if (fe->type != FD_TYPE__FD_UNIX_SK || fe->unix_sk->type != SOCK_DGRAM ||
		    !fe->unix_sk->has_name ||
		    fe->unix_sk->name.len != src->len ||
		    memcmp(fe->unix_sk->name.data, src->data, src->len) || tf->file_fd[k] < 0)
			continue;
		return tf->file_fd[k];
	}
	if (src && src->len) {
		errno = ENOENT;
		return task_files_err(tf, desc, "message %zu was sent by a socket that is not in "
				      "the dump", i);
	}
	if (*tmp < 0)
		*tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (*tmp < 0)
		return task_files_err(tf, desc, "can't create a socket to send from: %s",
				      strerror(errno));
	return *tmp;
}

/* The NR files FDS go with the message's first bytes (SCM_RIGHTS). */
static int send_one(int fd, char *buf, uint32_t len, struct sockaddr_un *to, socklen_t to_len,
		    const int *fds, int nr)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SCM_MAX_FD)];
	uint32_t done = 0;

	do {
		struct iovec iov = { .iov_base = buf + done, .iov_len = len - done };
		struct msghdr mh = { .msg_name = to, .msg_namelen = to_len, .msg_iov = &iov,
				     .msg_iovlen = 1 };
		ssize_t n;

		if (nr && !done) {
			struct cmsghdr *c;

			mh.msg_control = cbuf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nr);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nr);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nr);
		}
		n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return -errno;
		done += n;
	} while (done < len);
	return 0;
}

/* Sends DESC's queue into it: from FROM, its peer's end, or (-1) from
 * each message's sender to its name. */
static int fill_queue(struct task_files *tf, uint32_t desc, int from)
{
	const UnixSkEntry *u = sk_of(tf, desc);
	const UnixQueueEntry *q = u->queue;
	uint64_t off = q->data_off;
	cleanup_free char *buf = NULL;
	int tmp = -1, back = -1, ret, fds[SCM_MAX_FD];
	struct sockaddr_un to;
	socklen_t to_len = 0;
	size_t rights = 0;
	uint32_t max = 0;

	if (!q->n_lengths)
		return 0;
	for (size_t i = 0; i < q->n_lengths; i++)
		max = max(max, q->lengths[i]);
	buf = malloc(max + 1);
	if (!buf)
		return task_files_err(tf, desc, "no memory for a %u-byte message", max);
	ret = from < 0 ? reach(tf, desc, u, &to, &to_len, &back) : 0;
	for (size_t i = 0; i < q->n_lengths && !ret; i++) {
		uint32_t len = q->lengths[i];
		ssize_t n = pread(tf->data_fd, buf, len, off);
		int fd, nr = unix_scm_fds(tf, desc, i, &rights, fds);

		if (n != (ssize_t)len) {
			ret = task_files_err(tf, desc, "can't read queued message %zu: %s", i,
					     n < 0 ? strerror(errno) : "files-data.img is short");
			break;
		}
		fd = sender(tf, desc, i, from, &tmp);
		ret = fd < 0 ? fd : send_one(fd, buf, len, from < 0 ? &to : NULL, to_len, fds, nr);
		if (fd >= 0 && ret) {
			errno = -ret;
			ret = task_files_err(tf, desc, "can't queue message %zu (%u bytes) again: "
					     "%s", i, len, strerror(errno));
		}
		off += len;
	}
	if (tmp >= 0)
		close(tmp);
	return leave_dir(tf, desc, back, ret);
}

/* The peer credentials of socket DESC are the ids its call (socketpair(),
 * connect(), listen()) runs with: its dumped ones.  CALL's errno is
 * kept; -errno, or 0. */
static int ids_of(struct task_files *tf, uint32_t desc, struct unix_cred_save *s)
{
	int ret = unix_cred_enter(sk_of(tf, desc), s);

	if (ret)
		return task_files_err(tf, desc, "can't take its peer credentials' ids: %s",
				      strerror(-ret));
	return 0;
}

static int ids_back(struct task_files *tf, uint32_t desc, struct unix_cred_save *s, int ret)
{
	int e = errno, back = unix_cred_leave(s);

	if (back && !ret)
		ret = task_files_err(tf, desc, "can't take back the restore's ids: %s",
				     strerror(-back));
	errno = e;
	return ret;
}

/* The pid the kernel gives DESC's peer credentials is taken here. */
static int pid_taken(struct task_files *tf, uint32_t desc, int ret)
{
	if (ret != -EEXIST)
		return ret;
	return task_files_err(tf, desc, "pid %u, which made it and has exited since, is in "
			      "use here: its peer credentials can't name it again",
			      sk_of(tf, desc)->peer_pid);
}

struct sk_call {
	int fd;
	const struct sockaddr_un *to;
	socklen_t len;
	int type, backlog;
	int sv[2];
};

static int do_connect(void *arg)
{
	struct sk_call *c = arg;

	return connect(c->fd, (const struct sockaddr *)c->to, c->len) ? -errno : 0;
}

/* Client C (of CLIENT) connected to its listener at TO, with the ids of
 * ACCEPTED, whose peer credentials the connect() gives. */
static int connect_as(struct task_files *tf, uint32_t accepted, uint32_t client, int c,
		      struct sockaddr_un *to, socklen_t len, int lfd)
{
	struct sk_call call = { .fd = c, .to = to, .len = len };
	struct unix_cred_save s;
	int ret = ids_of(tf, accepted, &s);

	if (ret)
		return ret;
	ret = unix_cred_call_as(sk_of(tf, accepted), tf->plan->pid, do_connect, &call);
	if (ret && ret != -EEXIST)
		ret = task_files_err(tf, client, "can't connect to its listener (fd %d): %s", lfd,
				     strerror(-ret));
	return ids_back(tf, accepted, &s, pid_taken(tf, accepted, ret));
}

/* A client connected to listener L's name, and the socket L accepts for
 * it: SV[ACC] and SV[!ACC].  L is opened first if no fd of it is yet. */
static int connect_accept(struct task_files *tf, const uint32_t m[2], int acc, int sv[2])
{
	const UnixSkEntry *a = sk_of(tf, m[acc]);
	int l = unix_find(tf->plan, a->listener), c, back = -1, ret;
	struct sockaddr_un to;
	socklen_t len;

	if (tf->file_fd[l] < 0) {
		ret = unix_open(tf, l);
		if (ret)
			return ret;
	}
	c = socket(AF_UNIX, a->type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c < 0)
		return task_files_err(tf, m[!acc], "can't create a unix socket: %s",
				      strerror(errno));
	ret = bind_name(tf, m[!acc], c);
	if (!ret)
		ret = reach(tf, m[!acc], sk_of(tf, l), &to, &len, &back);
	if (!ret)
		ret = connect_as(tf, m[acc], m[!acc], c, &to, len, tf->file_fd[l]);
	ret = leave_dir(tf, m[!acc], back, ret);
	if (!ret) {
		sv[acc] = accept4(tf->file_fd[l], NULL, NULL, SOCK_CLOEXEC);
		if (sv[acc] < 0)
			ret = task_files_err(tf, m[acc], "can't accept it on fd %d: %s",
					     tf->file_fd[l], strerror(errno));
	}
	if (ret) {
		close(c);
		return ret;
	}
	sv[!acc] = c;
	return 0;
}

/* The pair lands on the fds C->sv holds (placeholders), which a child
 * lending its pid shares with the task. */
static int do_socketpair(void *arg)
{
	struct sk_call *c = arg;
	int sv[2], ret = 0;

	if (socketpair(AF_UNIX, c->type | SOCK_CLOEXEC, 0, sv))
		return -errno;
	for (int i = 0; i < 2 && !ret; i++)
		if (dup3(sv[i], c->sv[i], O_CLOEXEC) < 0)
			ret = -errno;
	close(sv[0]);
	close(sv[1]);
	return ret;
}

/* A socketpair() with the ids of DESC's peer credentials. */
static int socketpair_as(struct task_files *tf, uint32_t desc, int sv[2])
{
	struct sk_call call = { .type = sk_of(tf, desc)->type, .sv = { -1, -1 } };
	struct unix_cred_save s;
	int ret;

	sv[0] = sv[1] = -1;
	for (int i = 0; i < 2; i++) {
		call.sv[i] = eventfd(0, EFD_CLOEXEC);
		if (call.sv[i] < 0) {
			ret = task_files_err(tf, desc, "can't hold an fd for a socket pair: %s",
					     strerror(errno));
			goto out;
		}
	}
	ret = ids_of(tf, desc, &s);
	if (ret)
		goto out;
	ret = unix_cred_call_as(sk_of(tf, desc), tf->plan->pid, do_socketpair, &call);
	if (ret && ret != -EEXIST)
		ret = task_files_err(tf, desc, "can't create a socket pair: %s", strerror(-ret));
	ret = ids_back(tf, desc, &s, pid_taken(tf, desc, ret));
out:
	if (!ret) {
		sv[0] = call.sv[0];
		sv[1] = call.sv[1];
		return 0;
	}
	for (int i = 0; i < 2; i++)
		if (call.sv[i] >= 0)
			close(call.sv[i]);
	return ret;
}

static int make_pair(struct task_files *tf, const uint32_t m[2], int nr, int sv[2])
{
	int ret;

	for (int i = 0; i < nr; i++)
		if (sk_of(tf, m[i])->has_listener)
			return connect_accept(tf, m, i, sv);
	ret = socketpair_as(tf, m[0], sv);
	for (int i = 0; i < nr && !ret; i++)
		ret = bind_name(tf, m[i], sv[i]);
	if (ret && sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	return ret;
}

/* Both sockets of a pair, or one whose peer is gone: then the other end
 * only sends its queue and is closed, as the peer was. */
static int open_pair(struct task_files *tf, uint32_t desc)
{
	uint32_t other = tf->plan->fdesc[desc].obj_next, m[2] = { desc, other };
	int nr = other == desc ? 1 : 2, sv[2], ret = 0;

	for (int i = 0; i < nr && !ret; i++)
		ret = unix_scm_prepare(tf, m[i]);
	if (!ret)
		ret = make_pair(tf, m, nr, sv);
	if (ret)
		return ret;
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
	for (int i = 0; i < nr; i++) {
		if (ret) {
			close(sv[i]);
			continue;
		}
		ret = task_files_install(tf, m[i], sv[i]);
	}
	return ret;
}

/* A socket connected outside the tree: the one the caller gave lmproc
 * for it (--inherit-fd, checked by unix_check_inherit before forking). */
static int open_external(struct task_files *tf, uint32_t desc)
{
	int k = unix_inherited(tf->opts, sk_of(tf, desc)), fd, ret;

	fd = k < 0 ? -EBADF : fcntl(tf->inherit_fd[k], F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return task_files_err(tf, desc, "can't take the socket given for it: %s",
				      strerror(k < 0 ? EBADF : errno));
	ret = sk_options(tf, desc, fd);
	if (ret) {
		close(fd);
		return ret;
	}
	return task_files_install(tf, desc, fd);
}

/* Client K of a connection listener L has not accepted: connected to L. */
static int connect_one(struct task_files *tf, uint32_t k, uint32_t l)
{
	int fd = socket(AF_UNIX, sk_of(tf, k)->type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), back = -1;
	struct sockaddr_un to;
	socklen_t len;
	int ret;

	if (fd < 0)
		return task_files_err(tf, k, "can't create a unix socket: %s", strerror(errno));
	ret = sk_options(tf, k, fd);
	if (!ret)
		ret = bind_name(tf, k, fd);
	if (!ret)
		ret = reach(tf, k, sk_of(tf, l), &to, &len, &back);
	if (!ret && connect(fd, (struct sockaddr *)&to, len))
		ret = task_files_err(tf, k, "can't connect to its listener, socket %llu: %s",
				     (unsigned long long)sk_of(tf, l)->ino, strerror(errno));
	ret = leave_dir(tf, k, back, ret);
	if (ret) {
		close(fd);
		return ret;
	}
	return task_files_install(tf, k, fd);
}

/* A client of a connection not accepted yet, and every client its
 * listener lists before it: connected in the listener's order, so that
 * accept() takes them in that order.  The listener is opened first if the
 * process holds it and no fd of it is yet; else a process above made it
 * before forking. */
static int open_pending(struct task_files *tf, uint32_t desc)
{
	int l = unix_find(tf->plan, sk_of(tf, desc)->pending_on), ret;
	const struct file_desc *lf = &tf->plan->fdesc[l];
	const UnixSkEntry *ls = sk_of(tf, l);

	if (tf->file_fd[l] < 0 && (lf->first_fd >= 0 || lf->make_here)) {
		ret = unix_open(tf, l);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < ls->n_pending; i++) {
		int k = unix_find(tf->plan, ls->pending[i]);

		if (tf->file_fd[k] >= 0)
			continue;
		ret = connect_one(tf, k, l);
		if (ret || (uint32_t)k == desc)
			return ret;
	}
	return 0;
}

static int do_listen(void *arg)
{
	struct sk_call *c = arg;

	return listen(c->fd, c->backlog) ? -errno : 0;
}

static int listen_as(struct task_files *tf, uint32_t desc, int fd)
{
	const UnixSkEntry *u = sk_of(tf, desc);
	struct sk_call call = { .fd = fd, .backlog = u->backlog };
	struct unix_cred_save s;
	int ret = ids_of(tf, desc, &s);

	if (ret)
		return ret;
	ret = unix_cred_call_as(u, tf->plan->pid, do_listen, &call);
	if (ret && ret != -EEXIST)
		ret = task_files_err(tf, desc, "can't listen with a backlog of %u: %s", u->backlog,
				     strerror(-ret));
	return ids_back(tf, desc, &s, pid_taken(tf, desc, ret));
}

int unix_open(struct task_files *tf, uint32_t desc)
{
	const UnixSkEntry *u = sk_of(tf, desc);
	int fd, ret;

	if (u->external)
		return open_external(tf, desc);
	if (u->has_pending_on)
		return open_pending(tf, desc);
	if (unix_is_pair(u))
		return open_pair(tf, desc);
	fd = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return task_files_err(tf, desc, "can't create a unix socket: %s", strerror(errno));
	ret = sk_options(tf, desc, fd);
	if (!ret)
		ret = bind_name(tf, desc, fd);
	if (!ret && u->state == TCP_LISTEN)
		ret = listen_as(tf, desc, fd);
	if (ret) {
		close(fd);
		return ret;
	}
	return task_files_install(tf, desc, fd);
}

int unix_post(struct task_files *tf, uint32_t desc)
{
	const UnixSkEntry *u = sk_of(tf, desc);
	struct sockaddr_un to;
	int ret, peer, back = -1;
	bool abstract;
	socklen_t len;

	if (unix_is_pair(u) || tf->file_fd[desc] < 0)
		return 0;
	ret = unix_scm_prepare(tf, desc);
	if (!ret)
		ret = fill_queue(tf, desc, -1);
	if (ret || !u->has_peer_name)
		return ret;
	peer = u->peer ? unix_find(tf->plan, u->peer) : -1;
	if (peer >= 0)
		ret = reach(tf, desc, sk_of(tf, peer), &to, &len, &back);
	else
		len = make_addr(&to, &u->peer_name);
	abstract = !u->peer_name.data[0];
	if (!ret && connect(tf->file_fd[desc], (struct sockaddr *)&to, len))
		ret = task_files_err(tf, desc, "can't connect to %s%.*s%s: %s",
				     abstract ? "@" : "", (int)u->peer_name.len - abstract,
				     (const char *)u->peer_name.data + abstract,
				     u->peer ? "" : " (outside the process: it must exist here)",
				     strerror(errno));
	return leave_dir(tf, desc, back, ret);
}

/* After every queue is filled: shutdown (which would stop the sending),
 * the peek offset, O_NONBLOCK. */
int unix_finish(struct task_files *tf, uint32_t desc)
{
	const UnixSkEntry *u = sk_of(tf, desc);
	int how = -1, fd = tf->file_fd[desc];

	if (fd < 0)
		return 0;
	if (u->file_gone) {
		char own[GONE_PATH_MAX], aside[GONE_PATH_MAX];

		gone_paths(u, own, aside);
		if (unlink(own))
			return task_files_err(tf, desc, "can't remove its socket file %s: %s", own,
					      strerror(errno));
	}
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
		return task_files_err(tf, desc, "can't set flags %s: %s", open_flags_words(u->flags).s,
				      strerror(errno));
	return 0;
}
