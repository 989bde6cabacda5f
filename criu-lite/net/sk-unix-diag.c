/* Owns the table of the host's unix sockets that a dump reads once
 * (NETLINK_SOCK_DIAG through libnl): each socket's name, peer, state,
 * shutdown, queue lengths, inode and a listener's connections not accepted
 * yet, and which of them the tree and the
 * process being dumped hold.  sk-unix.c decides from it what can be
 * dumped; nothing here looks at a socket's queue or changes it. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "netns.h"
#include "sk-unix.h"

static void diag_attrs(struct unix_diag_sk *s, struct nlattr **tb)
{
	if (tb[UNIX_DIAG_NAME]) {
		s->name_len = min((size_t)nla_len(tb[UNIX_DIAG_NAME]), sizeof(s->name));
		memcpy(s->name, nla_data(tb[UNIX_DIAG_NAME]), s->name_len);
		/* A name in the filesystem may come with its NUL. */
		if (s->name_len && s->name[0])
			s->name_len = strnlen(s->name, s->name_len);
	}
	if (tb[UNIX_DIAG_PEER]) {
		s->connected = true;
		s->peer = nla_get_u32(tb[UNIX_DIAG_PEER]);
	}
	if (tb[UNIX_DIAG_SHUTDOWN])
		s->shutdown = nla_get_u8(tb[UNIX_DIAG_SHUTDOWN]);
	if (tb[UNIX_DIAG_RQLEN] &&
	    nla_len(tb[UNIX_DIAG_RQLEN]) >= (int)sizeof(struct unix_diag_rqlen)) {
		const struct unix_diag_rqlen *r = nla_data(tb[UNIX_DIAG_RQLEN]);

		s->rqueue = r->udiag_rqueue;
		s->backlog = r->udiag_wqueue;
	}
	if (tb[UNIX_DIAG_ICONS] && nla_len(tb[UNIX_DIAG_ICONS]) >= (int)sizeof(uint32_t)) {
		size_t n = nla_len(tb[UNIX_DIAG_ICONS]) / sizeof(uint32_t);

		s->icons = malloc(n * sizeof(uint32_t));
		if (s->icons) {
			memcpy(s->icons, nla_data(tb[UNIX_DIAG_ICONS]), n * sizeof(uint32_t));
			s->nr_icons = n;
		}
	}
	if (tb[UNIX_DIAG_VFS] && nla_len(tb[UNIX_DIAG_VFS]) >= (int)sizeof(struct unix_diag_vfs)) {
		const struct unix_diag_vfs *v = nla_data(tb[UNIX_DIAG_VFS]);

		s->vfs_ino = v->udiag_vfs_ino;
		s->vfs_dev = v->udiag_vfs_dev;
	}
}

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
				    .state = m->udiag_state };
	diag_attrs(s, tb);
	return NL_OK;
}

static int cmp_diag(const void *a, const void *b)
{
	const struct unix_diag_sk *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void free_sks(struct unix_diag_table *t)
{
	for (size_t i = 0; i < t->nr; i++)
		free(t->sks[i].icons);
	free(t->sks);
}

/* Which sockets the tree holds: every fd of every live process.  The tree
 * is frozen, so this holds for the whole dump. */
static int mark_tree(struct files_dump *d)
{
	for (size_t i = 0; i < d->nr_tree_pids; i++) {
		char path[64], link[64];
		struct dirent *de;
		DIR *dir;

		snprintf(path, sizeof(path), "/proc/%d/fd", d->tree_pids[i]);
		dir = opendir(path);
		if (!dir) {
			pr_perror("Can't open %s", path);
			return -errno;
		}
		while ((de = readdir(dir))) {
			ssize_t n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
			unsigned long long ino;
			struct unix_diag_sk *s;

			if (n <= 0)
				continue;
			link[n] = '\0';
			if (sscanf(link, "socket:[%llu]", &ino) != 1 || !(s = unix_diag_of(d, ino)))
				continue;
			s->in_tree = true;
			if (s->last_holder != d->tree_pids[i])
				s->nr_holders++;
			s->last_holder = d->tree_pids[i];
		}
		closedir(dir);
	}
	return 0;
}

/* Every unix socket of the tree's network namespace, once per dump. */
int unix_diag_load(struct files_dump *d)
{
	struct unix_diag_req req = { .sdiag_family = AF_UNIX, .udiag_states = ~0U,
				     .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER |
						   UDIAG_SHOW_RQLEN | UDIAG_SHOW_VFS |
						   UDIAG_SHOW_ICONS };
	struct unix_diag_table *t = calloc(1, sizeof(*t));
	struct nl_sock *sk = nl_socket_alloc();
	int ret = -EIO, back, err;

	if (!t || !sk)
		goto out;
	nl_socket_enable_msg_peek(sk);
	/* sock_diag lists the sockets of its own socket's namespace: the
	 * tree's (net/netns.c). */
	back = netns_enter(d->pid);
	if (back < 0)
		goto out;
	err = nl_connect(sk, NETLINK_SOCK_DIAG);
	if (netns_leave(back))
		goto out;
	if (err ||
	    nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, diag_cb, t) ||
	    nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req)) < 0 ||
	    nl_recvmsgs_default(sk) < 0) {
		pr_err("Can't list the unix sockets with sock_diag\n");
		goto out;
	}
	qsort(t->sks, t->nr, sizeof(*t->sks), cmp_diag);
	d->unix_diag = t;
	t = NULL;
	ret = mark_tree(d);
out:
	if (t)
		free_sks(t);
	free(t);
	nl_socket_free(sk);
	return ret;
}

void unix_diag_free(struct unix_diag_table *t)
{
	if (t)
		free_sks(t);
	free(t);
}

struct unix_diag_sk *unix_diag_of(const struct files_dump *d, uint64_t ino)
{
	struct unix_diag_sk key = { .ino = ino };

	if (!d->unix_diag)
		return NULL;
	return bsearch(&key, d->unix_diag->sks, d->unix_diag->nr, sizeof(key), cmp_diag);
}

/* Once every fd of the process is known (after classifying).  The table
 * serves the whole tree: the marks are redone for each process. */
static void unix_mark_held(struct files_dump *d)
{
	if (d->unix_diag->held_by == d->pid)
		return;
	for (size_t i = 0; i < d->unix_diag->nr; i++)
		d->unix_diag->sks[i].held = false;
	for (int i = 0; i < d->nr_fds; i++) {
		struct unix_diag_sk *s = unix_diag_of(d, d->fds[i].st.st_ino);

		if (s && S_ISSOCK(d->fds[i].st.st_mode))
			s->held = true;
	}
	d->unix_diag->held_by = d->pid;
}

bool unix_held_by_process(struct files_dump *d, uint64_t ino)
{
	const struct unix_diag_sk *s = unix_diag_of(d, ino);

	unix_mark_held(d);
	return s && s->held;
}

/* A socket of the process of TYPE bound to NAME (LEN bytes) in state
 * STATE (-1: any), other than EXCEPT.  Abstract names are per type. */
const struct unix_diag_sk *unix_held_by_name(struct files_dump *d, uint32_t type,
					       const char *name, size_t len, int state,
					       uint64_t except)
{
	unix_mark_held(d);
	for (size_t i = 0; i < d->unix_diag->nr; i++) {
		const struct unix_diag_sk *s = &d->unix_diag->sks[i];

		if (s->held && s->type == type && s->ino != except && s->name_len == len && len &&
		    !memcmp(s->name, name, len) && (state < 0 || s->state == (uint32_t)state))
			return s;
	}
	return NULL;
}

/* The listener of the process that accepted S: its name, and for a name
 * in the filesystem its inode, are S's. */
const struct unix_diag_sk *unix_listener_of(struct files_dump *d, const struct unix_diag_sk *s)
{
	const struct unix_diag_sk *l;

	if (!s->name_len || s->state != TCP_ESTABLISHED || s->type == SOCK_DGRAM)
		return NULL;
	l = unix_held_by_name(d, s->type, s->name, s->name_len, TCP_LISTEN, s->ino);
	if (l && l->vfs_ino == s->vfs_ino && l->vfs_dev == s->vfs_dev)
		return l;
	return NULL;
}

/* A listening socket of the tree that S (an accepted socket) came from:
 * its name and, for a name in the filesystem, its inode are S's. */
const struct unix_diag_sk *unix_tree_listener_of(const struct files_dump *d,
						   const struct unix_diag_sk *s)
{
	if (!s->name_len || s->state != TCP_ESTABLISHED || s->type == SOCK_DGRAM)
		return NULL;
	for (size_t i = 0; i < d->unix_diag->nr; i++) {
		const struct unix_diag_sk *l = &d->unix_diag->sks[i];

		if (l->in_tree && l->state == TCP_LISTEN && l->type == s->type &&
		    l->name_len == s->name_len && !memcmp(l->name, s->name, s->name_len) &&
		    l->vfs_ino == s->vfs_ino && l->vfs_dev == s->vfs_dev)
			return l;
	}
	return NULL;
}

const struct unix_diag_sk *unix_pending_listener_of(const struct files_dump *d,
						    const struct unix_diag_sk *s)
{
	if (s->peer || s->state != TCP_ESTABLISHED || s->type == SOCK_DGRAM)
		return NULL;
	for (size_t i = 0; i < d->unix_diag->nr; i++) {
		const struct unix_diag_sk *l = &d->unix_diag->sks[i];

		for (uint32_t k = 0; l->state == TCP_LISTEN && k < l->nr_icons; k++)
			if (l->icons[k] == s->ino)
				return l;
	}
	return NULL;
}
