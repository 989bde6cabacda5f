/* Owns what an IP socket's fd does not show through getsockopt: its
 * shutdown state and TCP MD5 keys, and the connections waiting in a
 * listener's queue, from sock_diag (NETLINK_SOCK_DIAG, inet_diag,
 * through libnl), and its multicast memberships, from the
 * groups /proc/PID/net/igmp and igmp6 list per interface, each asked
 * of the socket (MCAST_MSFILTER answers only for groups it joined). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "common.h"
#include "netns.h"
#include "sk-opts.h"

struct diag_sk {
	unsigned long ino;
	unsigned shutdown;
	bool md5;
	uint8_t state;
	struct inet_diag_sockid id;
};

/* Every socket of one family and protocol of one network namespace, as
 * sock_diag listed it, by inode: listed once per run (the tree is
 * frozen), not once per socket, which made a dump of N sockets read N
 * times N entries. */
static struct diag_table {
	unsigned long netns;
	int family, proto;
	struct diag_sk *sks;
	size_t nr, cap;
} tables[8];
static size_t nr_tables;

static int diag_cb(struct nl_msg *msg, void *arg)
{
	struct diag_table *t = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct inet_diag_msg *m = nlmsg_data(nlh);
	struct nlattr *tb[INET_DIAG_MAX + 1];
	struct diag_sk *d;

	if (nlmsg_parse(nlh, sizeof(*m), tb, INET_DIAG_MAX, NULL) < 0)
		return NL_SKIP;
	if (t->nr == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct diag_sk *n = realloc(t->sks, cap * sizeof(*n));

		if (!n)
			return NL_STOP;
		t->sks = n;
		t->cap = cap;
	}
	d = &t->sks[t->nr++];
	*d = (struct diag_sk){ .ino = m->idiag_inode, .state = m->idiag_state, .id = m->id };
	if (tb[INET_DIAG_SHUTDOWN] && nla_len(tb[INET_DIAG_SHUTDOWN]) >= 1)
		d->shutdown = *(const uint8_t *)nla_data(tb[INET_DIAG_SHUTDOWN]);
	d->md5 = tb[INET_DIAG_MD5SIG] && nla_len(tb[INET_DIAG_MD5SIG]) > 0;
	return NL_OK;
}

static int cmp_sk(const void *a, const void *b)
{
	const struct diag_sk *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* REQ's sockets of PID's network namespace (0: the caller's), each
 * given to CB with ARG (sock_diag lists the sockets of the namespace its
 * socket lives in). */
static int diag_dump(pid_t pid, struct inet_diag_req_v2 *req, nl_recvmsg_msg_cb_t cb, void *arg)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret = -EIO, back = -1, err;

	if (!sk)
		return -ENOMEM;
	nl_socket_enable_msg_peek(sk);
	if (pid) {
		back = netns_enter(pid);
		if (back < 0) {
			nl_socket_free(sk);
			return back;
		}
	}
	err = nl_connect(sk, NETLINK_SOCK_DIAG);
	ret = pid ? netns_leave(back) : 0;
	if (ret) {
		nl_socket_free(sk);
		return ret;
	}
	ret = -EIO;
	if (!err && !nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, cb, arg) &&
	    nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, req, sizeof(*req)) >= 0 &&
	    nl_recvmsgs_default(sk) >= 0)
		ret = 0;
	nl_socket_free(sk);
	return ret;
}

static int load_table(pid_t pid, struct diag_table *t)
{
	/* The MD5 keys come with INET_DIAG_INFO, to CAP_NET_ADMIN. */
	struct inet_diag_req_v2 req = { .sdiag_family = t->family, .sdiag_protocol = t->proto,
					.idiag_ext = 1 << (INET_DIAG_INFO - 1),
					.idiag_states = ~0U };
	int ret = diag_dump(pid, &req, diag_cb, t);

	if (!ret)
		qsort(t->sks, t->nr, sizeof(*t->sks), cmp_sk);
	return ret;
}

static int table_of(pid_t pid, int family, int proto, struct diag_table **out)
{
	char path[64];
	struct stat st;
	struct diag_table *t;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &st))
		return -errno;
	for (size_t i = 0; i < nr_tables; i++) {
		t = &tables[i];
		if (t->netns == st.st_ino && t->family == family && t->proto == proto) {
			*out = t;
			return 0;
		}
	}
	if (nr_tables == ARRAY_SIZE(tables))
		return -ENOSPC;
	t = &tables[nr_tables];
	*t = (struct diag_table){ .netns = st.st_ino, .family = family, .proto = proto };
	ret = load_table(pid, t);
	if (ret) {
		free(t->sks);
		return ret;
	}
	nr_tables++;
	*out = t;
	return 0;
}

int inet_diag_state(pid_t pid, int family, int proto, unsigned long ino, unsigned *shutdown,
		    bool *md5)
{
	struct diag_sk key = { .ino = ino }, *d;
	struct diag_table *t = NULL;
	int ret = table_of(pid, family, proto, &t);

	*shutdown = 0;
	*md5 = false;
	if (ret)
		return ret;
	d = bsearch(&key, t->sks, t->nr, sizeof(key), cmp_sk);
	if (!d)
		return -ENOENT;
	*shutdown = d->shutdown;
	*md5 = d->md5;
	return 0;
}

int inet_diag_peer(pid_t pid, int family, int proto, unsigned long ino,
		   struct sockaddr_storage *peer)
{
	struct diag_sk key = { .ino = ino }, *d;
	struct diag_table *t = NULL;
	struct sockaddr_in *a4 = (void *)peer;
	struct sockaddr_in6 *a6 = (void *)peer;
	int ret = table_of(pid, family, proto, &t);

	if (ret)
		return ret;
	d = bsearch(&key, t->sks, t->nr, sizeof(key), cmp_sk);
	if (!d)
		return -ENOENT;
	memset(peer, 0, sizeof(*peer));
	peer->ss_family = family;
	if (family == AF_INET) {
		memcpy(&a4->sin_addr, d->id.idiag_dst, 4);
		a4->sin_port = d->id.idiag_dport;
	} else {
		memcpy(&a6->sin6_addr, d->id.idiag_dst, 16);
		a6->sin6_port = d->id.idiag_dport;
	}
	return 0;
}

struct pending_walk {
	const struct sockaddr_storage *local;
	struct inet_tuple *out;
	size_t nr, max;
};

static void diag_addr(int family, const __be32 *a, __be16 port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET) {
		memcpy(&a4->sin_addr, a, 4);
		a4->sin_port = port;
	} else {
		memcpy(&a6->sin6_addr, a, 16);
		a6->sin6_port = port;
	}
}

/* A connection waiting in a listener's queue belongs to no file: inode
 * 0, the listener's port, and its address unless the listener's is the
 * wildcard. */
static bool pending_of(const struct inet_diag_msg *m, const struct sockaddr_storage *l)
{
	static const uint8_t any[16];
	const struct sockaddr_in *l4 = (const void *)l;
	const struct sockaddr_in6 *l6 = (const void *)l;

	if (m->idiag_inode)
		return false;
	if (l->ss_family == AF_INET)
		return m->id.idiag_sport == l4->sin_port &&
		       (!l4->sin_addr.s_addr || !memcmp(m->id.idiag_src, &l4->sin_addr, 4));
	return m->id.idiag_sport == l6->sin6_port &&
	       (!memcmp(&l6->sin6_addr, any, 16) || !memcmp(m->id.idiag_src, &l6->sin6_addr, 16));
}

static int pending_cb(struct nl_msg *msg, void *arg)
{
	struct pending_walk *w = arg;
	const struct inet_diag_msg *m = nlmsg_data(nlmsg_hdr(msg));
	struct inet_tuple *t;

	if (!pending_of(m, w->local) || w->nr == w->max)
		return NL_OK;
	t = &w->out[w->nr++];
	diag_addr(m->idiag_family, m->id.idiag_src, m->id.idiag_sport, &t->local);
	diag_addr(m->idiag_family, m->id.idiag_dst, m->id.idiag_dport, &t->peer);
	t->state = m->idiag_state;
	return NL_OK;
}

int inet_diag_pending(pid_t pid, const struct sockaddr_storage *local, struct inet_tuple *out,
		      size_t max)
{
	/* A queued connection is established, or got its peer's FIN. */
	struct inet_diag_req_v2 req = { .sdiag_family = local->ss_family,
					.sdiag_protocol = IPPROTO_TCP,
					.idiag_states = (1 << TCP_ESTABLISHED) |
							(1 << TCP_CLOSE_WAIT) };
	struct pending_walk w = { .local = local, .out = out, .max = max };
	int ret = diag_dump(pid, &req, pending_cb, &w);

	return ret ?: (int)w.nr;
}

struct child_walk {
	const struct sockaddr_storage *local, *peer;
	struct tcp_info *ti;
	unsigned *rqueue;
	bool found;
};

static bool same_end(int family, const __be32 *a, __be16 port, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *a4 = (const void *)ss;
	const struct sockaddr_in6 *a6 = (const void *)ss;

	if (family == AF_INET)
		return port == a4->sin_port && !memcmp(a, &a4->sin_addr, 4);
	return port == a6->sin6_port && !memcmp(a, &a6->sin6_addr, 16);
}

static int child_cb(struct nl_msg *msg, void *arg)
{
	struct child_walk *w = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	const struct inet_diag_msg *m = nlmsg_data(nlh);
	struct nlattr *tb[INET_DIAG_MAX + 1];
	int fam = w->local->ss_family;

	if (m->idiag_inode || !same_end(fam, m->id.idiag_src, m->id.idiag_sport, w->local) ||
	    !same_end(fam, m->id.idiag_dst, m->id.idiag_dport, w->peer) ||
	    nlmsg_parse(nlh, sizeof(*m), tb, INET_DIAG_MAX, NULL) < 0 || !tb[INET_DIAG_INFO])
		return NL_OK;
	memset(w->ti, 0, sizeof(*w->ti));
	memcpy(w->ti, nla_data(tb[INET_DIAG_INFO]),
	       min((size_t)nla_len(tb[INET_DIAG_INFO]), sizeof(*w->ti)));
	*w->rqueue = m->idiag_rqueue;
	w->found = true;
	return NL_OK;
}

int inet_diag_child(pid_t pid, const struct sockaddr_storage *local,
		    const struct sockaddr_storage *peer, struct tcp_info *ti, unsigned *rqueue)
{
	struct inet_diag_req_v2 req = { .sdiag_family = local->ss_family,
					.sdiag_protocol = IPPROTO_TCP,
					.idiag_ext = 1 << (INET_DIAG_INFO - 1),
					.idiag_states = ~0U };
	struct child_walk w = { .local = local, .peer = peer, .ti = ti, .rqueue = rqueue };
	int ret = diag_dump(pid, &req, child_cb, &w);

	return ret ?: w.found ? 0 : -ENOENT;
}

/* Whether FD joined GROUP on interface IDX: MCAST_MSFILTER fails with
 * EADDRNOTAVAIL for a group it did not join. */
static bool joined(int fd, int level, unsigned idx, const struct sockaddr_storage *group)
{
	struct group_filter gf = { .gf_interface = idx, .gf_group = *group };
	socklen_t len = sizeof(gf);

	return !getsockopt(fd, level, MCAST_MSFILTER, &gf, &len);
}

static int scan_igmp(pid_t pid, int fd, char *name, size_t len)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *a = (void *)&ss;
	unsigned idx = 0, group;
	char line[256];
	FILE *f;

	snprintf(line, sizeof(line), "/proc/%d/net/igmp", pid);
	f = fopen(line, "r");
	int ret = 0;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	a->sin_family = AF_INET;
	while (!ret && fgets(line, sizeof(line), f)) {
		if (line[0] != '\t') {
			sscanf(line, "%u", &idx);
			continue;
		}
		if (sscanf(line, " %x", &group) != 1)
			continue;
		/* The kernel prints the address as it lies in memory. */
		a->sin_addr.s_addr = group;
		if (joined(fd, IPPROTO_IP, idx, &ss)) {
			inet_ntop(AF_INET, &a->sin_addr, name, len);
			ret = 1;
		}
	}
	fclose(f);
	return ret;
}

static int scan_igmp6(pid_t pid, int fd, char *name, size_t len)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in6 *a = (void *)&ss;
	char line[256], hex[33];
	unsigned idx;
	FILE *f;

	snprintf(line, sizeof(line), "/proc/%d/net/igmp6", pid);
	f = fopen(line, "r");
	int ret = 0;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	a->sin6_family = AF_INET6;
	while (!ret && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u %*s %32s", &idx, hex) != 2 || strlen(hex) != 32)
			continue;
		for (int i = 0; i < 16; i++)
			sscanf(hex + 2 * i, "%2hhx", &a->sin6_addr.s6_addr[i]);
		if (joined(fd, IPPROTO_IPV6, idx, &ss)) {
			inet_ntop(AF_INET6, &a->sin6_addr, name, len);
			ret = 1;
		}
	}
	fclose(f);
	return ret;
}

int sk_mcast_member(pid_t pid, int fd, int family, char *group, size_t len)
{
	int ret = scan_igmp(pid, fd, group, len);

	if (ret || family != AF_INET6)
		return ret;
	return scan_igmp6(pid, fd, group, len);
}

static int cmp_ino(const void *a, const void *b)
{
	const unsigned long *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

static void sockid_addr(int family, const __be32 *addr, __be16 port,
			struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET) {
		memcpy(&a4->sin_addr, addr, 4);
		a4->sin_port = port;
		return;
	}
	memcpy(&a6->sin6_addr, addr, 16);
	a6->sin6_port = port;
}

int inet_diag_tcp_conns(pid_t pid, int family, const unsigned long *inos, size_t n,
			int (*cb)(void *arg, const struct sockaddr_storage *local,
				  const struct sockaddr_storage *peer),
			void *arg)
{
	struct sockaddr_storage local, peer;
	struct diag_table *t;
	int ret = table_of(pid, family, IPPROTO_TCP, &t);

	for (size_t i = 0; i < (ret ? 0 : t->nr) && !ret; i++) {
		const struct diag_sk *d = &t->sks[i];

		/* Beyond TCP_CLOSING: TCP_NEW_SYN_RECV, a request, no socket. */
		if (d->state == TCP_LISTEN || d->state == TCP_CLOSE || d->state == TCP_TIME_WAIT ||
		    d->state > TCP_CLOSING || !d->id.idiag_dport ||
		    !bsearch(&d->ino, inos, n, sizeof(*inos), cmp_ino))
			continue;
		sockid_addr(family, d->id.idiag_src, d->id.idiag_sport, &local);
		sockid_addr(family, d->id.idiag_dst, d->id.idiag_dport, &peer);
		ret = cb(arg, &local, &peer);
	}
	return ret;
}
