/* Owns the peer credentials of unix sockets (SO_PEERCRED, SO_PEERGROUPS):
 * the kernel sets them from the process that calls socketpair(), connect()
 * (the accepted end's) or listen() (a listener's, which its clients copy
 * when they connect), with its effective uid, gid and groups at that
 * moment.  Dump reads them from lmproc's copy of the socket (the pid of
 * a maker that exited in a tree with a pid namespace of its own through a
 * process made in that namespace, peer_vpid_gone); the plan
 * checks that the process restore makes each socket in is the pid they
 * name (restore makes a connection where all its holders inherit it, so
 * one whose pid is another process of the tree, or none, is refused);
 * the task makes the socket with the dumped uid, gid and groups as its
 * effective ones for that one call.  A maker that has exited since (a
 * daemon that listened, then forked and left) lends its pid at restore:
 * the call runs in a child made with that pid, sharing the task's fd
 * table (unix_cred_call_as). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "pid-lend.h"
#include "pstree.h"
#include "restore.h"
#include "sk-unix.h"

/* The kernel's NGROUPS_MAX. */
#define PEER_GROUPS_MAX 65536

static int read_groups(pid_t pid, int fdn, int fd, UnixSkEntry *u)
{
	socklen_t len = 64 * sizeof(gid_t);
	gid_t *g = NULL;

	for (int tries = 0; tries < 3; tries++) {
		free(g);
		g = malloc(len ?: 1);
		if (!g)
			return -ENOMEM;
		if (!getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len)) {
			u->peer_groups = g;
			u->n_peer_groups = len / sizeof(gid_t);
			return 0;
		}
		if (errno != ERANGE)
			break;
	}
	free(g);
	pr_perror("Can't read the peer groups (SO_PEERGROUPS) of pid %d fd %d", pid, fdn);
	return -errno;
}

/* B, in the tree's pid namespace: FD's SO_PEERCRED pid as it sees it,
 * written to OUT. */
static void __attribute__((noreturn)) read_peer_in_ns(int fd, int out)
{
	struct ucred c = {0};
	socklen_t len = sizeof(c);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len))
		c.pid = 0;
	_exit(write(out, &c.pid, sizeof(c.pid)) == sizeof(c.pid) ? 0 : 1);
}

/* A, in lmproc's: enters the tree's pid namespace for its children and
 * makes B there. */
static void __attribute__((noreturn)) fork_in_ns(int nsfd, int fd, int out)
{
	pid_t b;
	int st;

	if (setns(nsfd, CLONE_NEWPID))
		_exit(1);
	b = fork();
	if (b == 0)
		read_peer_in_ns(fd, out);
	_exit(b > 0 && waitpid(b, &st, 0) == b && WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* FD's SO_PEERCRED pid as the tree's pid namespace sees it, for a maker
 * that has exited: the socket keeps its struct pid, whose numbers /proc no
 * longer shows (pstree_vpid() gives 0).  The kernel gives the pid in the
 * reader's namespace: a grandchild made in the tree's reads it (two forks,
 * only for such sockets).  0 if none, or if that namespace does not see
 * the maker either. */
static pid_t peer_vpid_gone(int fd)
{
	int p[2], nsfd = pstree_open_pidns(), st;
	pid_t a, v = 0;

	if (nsfd < 0)
		return 0;
	if (pipe2(p, O_CLOEXEC)) {
		close(nsfd);
		return 0;
	}
	a = fork();
	if (a == 0)
		fork_in_ns(nsfd, fd, p[1]);
	close(p[1]);
	close(nsfd);
	if (a > 0 && read(p[0], &v, sizeof(v)) != sizeof(v))
		v = 0;
	close(p[0]);
	if (a > 0)
		waitpid(a, &st, 0);
	return v > 0 ? v : 0;
}

int unix_cred_dump(pid_t pid, int fdn, int fd, UnixSkEntry *u)
{
	struct ucred c;
	socklen_t len = sizeof(c);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len)) {
		pr_perror("Can't read the peer credentials (SO_PEERCRED) of pid %d fd %d", pid,
			  fdn);
		return -errno;
	}
	/* No credentials: pid 0, uid and gid -1. */
	if (!c.pid && c.uid == (uid_t)-1 && c.gid == (gid_t)-1)
		return 0;
	u->has_peer_pid = u->has_peer_uid = u->has_peer_gid = true;
	/* As the tree sees it (0: a pid its namespace does not see). */
	u->peer_pid = pstree_vpid(c.pid);
	if (!u->peer_pid && c.pid > 0 && pstree_own_pidns())
		u->peer_pid = peer_vpid_gone(fd);
	u->peer_uid = c.uid;
	u->peer_gid = c.gid;
	return read_groups(pid, fdn, fd, u);
}

bool unix_cred_ok(const UnixSkEntry *u)
{
	if (u->has_peer_pid != u->has_peer_uid || u->has_peer_pid != u->has_peer_gid)
		return false;
	if (!u->has_peer_pid)
		return !u->n_peer_groups;
	return u->n_peer_groups <= PEER_GROUPS_MAX && u->peer_uid != (uint32_t)-1 &&
	       u->peer_gid != (uint32_t)-1;
}

/* The same uid, gid and groups. */
static bool same_ids(const UnixSkEntry *a, const UnixSkEntry *b)
{
	return a->has_peer_pid == b->has_peer_pid && a->peer_uid == b->peer_uid &&
	       a->peer_gid == b->peer_gid && a->n_peer_groups == b->n_peer_groups &&
	       !memcmp(a->peer_groups, b->peer_groups, a->n_peer_groups * sizeof(uint32_t));
}

static const char *type_word(uint32_t type)
{
	return type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "datagram" : "seqpacket";
}

/* A process of the tree holding DESC, for the refusal: *FD its fd. */
static pid_t holder(const struct restore_tree *t, uint32_t desc, int *fd)
{
	for (size_t i = 0; i < t->nr; i++) {
		const struct restore_plan *p = &t->ctx[i].plan;

		if (p->pid && p->fdesc[desc].first_fd >= 0) {
			*fd = p->fdesc[desc].first_fd;
			return p->pid;
		}
	}
	*fd = -1;
	return 0;
}

static int refuse(const struct restore_tree *t, uint32_t desc, const char *why)
{
	const UnixSkEntry *u = t->ctx[0].plan.fdesc[desc].fe->unix_sk;
	int fd;
	pid_t pid = holder(t, desc, &fd);

	pr_err("pid %d fd %d: unix %s socket %llu: can't restore its peer credentials "
	       "(SO_PEERCRED pid %u uid %u gid %u): %s\n",
	       pid, fd, type_word(u->type), (unsigned long long)u->ino, u->peer_pid, u->peer_uid,
	       u->peer_gid, why);
	return -EOPNOTSUPP;
}

/* Restore makes DESC in MAKER: its pid is MAKER's. */
static int check_made_by(const struct restore_tree *t, uint32_t desc, pid_t maker)
{
	const UnixSkEntry *u = t->ctx[0].plan.fdesc[desc].fe->unix_sk;
	char why[160];

	if (u->peer_pid == (uint32_t)maker)
		return 0;
	/* Not a process of the tree: lent at restore (unix_cred_call_as),
	 * but for pid 1, the init of the namespace restore puts the tree in,
	 * and a pid the tree's namespace does not see. */
	if (u->peer_pid <= 1)
		snprintf(why, sizeof(why), "%s",
			 u->peer_pid ? "pid 1, its namespace's init, made it"
				     : "a process its pid namespace does not see made it");
	else if (!restore_tree_has(t, u->peer_pid))
		return 0;
	else
		snprintf(why, sizeof(why),
			 "restore makes it in pid %d (the process above all "
			 "that hold it or its listener)",
			 maker);
	return refuse(t, desc, why);
}

/* Restore connects DESC to its listener L: it copies L's credentials. */
static int check_copied(const struct restore_tree *t, uint32_t desc, int l)
{
	const struct restore_plan *p0 = &t->ctx[0].plan;
	const UnixSkEntry *u = p0->fdesc[desc].fe->unix_sk;
	const UnixSkEntry *ls = l >= 0 ? p0->fdesc[l].fe->unix_sk : NULL;

	if (ls && ls->peer_pid == u->peer_pid && same_ids(u, ls))
		return 0;
	return refuse(t, desc,
		      "not its listener's, from which restore copies them (the "
		      "listener listened again since)");
}

int unix_cred_check(const struct restore_tree *t, uint32_t desc, size_t owner)
{
	const struct restore_plan *p0 = &t->ctx[0].plan;
	const UnixSkEntry *u = p0->fdesc[desc].fe->unix_sk, *o;
	uint32_t other = p0->fdesc[desc].obj_next;
	pid_t maker = t->ctx[owner].plan.pid;

	if (!u->has_peer_pid || u->external)
		return 0;
	if (u->state == TCP_LISTEN)
		return check_made_by(t, desc, maker);
	if (u->has_pending_on)
		return check_copied(t, desc, unix_find(p0, u->pending_on));
	if (!unix_is_pair(u))
		return refuse(t, desc, "restore makes it without any");
	o = p0->fdesc[other].fe->unix_sk;
	if (!u->has_listener && other != desc && o->has_listener)
		return check_copied(t, desc, unix_find(p0, o->listener));
	if (!u->has_listener && other != desc && !same_ids(u, o))
		return refuse(t, desc, "not its peer's, which one socketpair() can't make");
	return check_made_by(t, desc, maker);
}

/* The effective ids of the task, which unix_cred_enter changed. */
static int set_ids(uid_t uid, gid_t gid, size_t n, const gid_t *groups)
{
	if (syscall(SYS_setresuid, -1, 0, -1) || syscall(SYS_setgroups, n, groups) ||
	    syscall(SYS_setresgid, -1, gid, -1) || syscall(SYS_setresuid, -1, uid, -1))
		return -errno;
	return 0;
}

/* Leaving euid 0 clears the effective capabilities: the task keeps them
 * (its permitted ones) to reach the socket's address as it did. */
static int keep_caps(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct c[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, c))
		return -errno;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		c[i].effective = c[i].permitted;
	return syscall(SYS_capset, &h, c) ? -errno : 0;
}

int unix_cred_enter(const UnixSkEntry *u, struct unix_cred_save *s)
{
	int n, ret;

	memset(s, 0, sizeof(*s));
	if (!u->has_peer_pid)
		return 0;
	n = getgroups(0, NULL);
	if (n < 0)
		return -errno;
	s->groups = malloc((n ?: 1) * sizeof(gid_t));
	if (!s->groups)
		return -ENOMEM;
	s->n = getgroups(n, s->groups);
	if (s->n < 0) {
		ret = -errno;
		free(s->groups);
		return ret;
	}
	s->euid = geteuid();
	s->egid = getegid();
	/* Already the socket's ids (a tree that runs as root, as the
	 * restore does): nothing to change. */
	if (s->euid == u->peer_uid && s->egid == u->peer_gid && (size_t)s->n == u->n_peer_groups &&
	    !memcmp(s->groups, u->peer_groups, s->n * sizeof(gid_t))) {
		free(s->groups);
		s->groups = NULL;
		return 0;
	}
	s->on = true;
	ret = set_ids(u->peer_uid, u->peer_gid, u->n_peer_groups, (const gid_t *)u->peer_groups);
	if (!ret)
		ret = keep_caps();
	if (ret)
		unix_cred_leave(s);
	return ret;
}

int unix_cred_leave(struct unix_cred_save *s)
{
	int ret;

	if (!s->on)
		return 0;
	/* Back to the ids the task had a moment ago. */
	ret = set_ids(s->euid, s->egid, s->n, s->groups);
	free(s->groups);
	s->on = false;
	return ret;
}

int unix_cred_call_as(const UnixSkEntry *u, pid_t self, int (*call)(void *), void *arg)
{
	pid_t pid = u->has_peer_pid ? (pid_t)u->peer_pid : self;

	if (pid == self)
		return call(arg);
	return pid_lend_call(pid, -1, CLONE_FILES, call, arg);
}
