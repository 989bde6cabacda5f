/* Owns netlink sockets (NETLINK_ROUTE, NETLINK_GENERIC, NETLINK_AUDIT,
 * NETLINK_KOBJECT_UEVENT... any protocol): protocol, type, port id (bound
 * or autobound), every group it is a member of, its connected
 * destination, its SOL_SOCKET and SOL_NETLINK options (sk-opts.c) and
 * buffer sizes.  Read through a copy of the task's fd and sock_diag
 * (netlink_diag, asked in the socket's namespace: its groups beyond the
 * first 32, its queues, a dump in progress); made again with socket(),
 * the options, bind() to the same port id and the first 32 groups,
 * NETLINK_ADD_MEMBERSHIP for the others, connect().  Refused: a socket
 * with messages queued (they can't be read without taking them) or with
 * a dump running (the kernel's cursor in it can't be read), with an
 * error pending (messages dropped: ENOBUFS), one of another network
 * namespace than lmproc's or the tree's, a NETLINK_NETFILTER socket an
 * NFQUEUE queue or NFLOG group is bound to (its packets would stop) or
 * that owns an nf_tables table (NFT_TABLE_F_OWNER: the kernel deletes
 * it with the socket).
 * Also owns what packet sockets share: the sock_diag request
 * (sk_diag_dump) and the look at a pending error (sk_error_pending). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink_diag.h>
#include <linux/sock_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "netns.h"
#include "sk-opts.h"

#define NETLINK_FLAGS (O_ACCMODE | O_NONBLOCK)
/* The kernel's MAX_LINKS: protocols are below it. */
#define NETLINK_PROTOS 32
/* Words of groups an entry may carry: 2048 groups, far beyond any family. */
#define MAX_GROUP_WORDS 64

static const char *const proto_names[NETLINK_PROTOS] = {
	[NETLINK_ROUTE] = "NETLINK_ROUTE",
	[NETLINK_USERSOCK] = "NETLINK_USERSOCK",
	[NETLINK_FIREWALL] = "NETLINK_FIREWALL",
	[NETLINK_SOCK_DIAG] = "NETLINK_SOCK_DIAG",
	[NETLINK_NFLOG] = "NETLINK_NFLOG",
	[NETLINK_XFRM] = "NETLINK_XFRM",
	[NETLINK_SELINUX] = "NETLINK_SELINUX",
	[NETLINK_ISCSI] = "NETLINK_ISCSI",
	[NETLINK_AUDIT] = "NETLINK_AUDIT",
	[NETLINK_FIB_LOOKUP] = "NETLINK_FIB_LOOKUP",
	[NETLINK_CONNECTOR] = "NETLINK_CONNECTOR",
	[NETLINK_NETFILTER] = "NETLINK_NETFILTER",
	[NETLINK_IP6_FW] = "NETLINK_IP6_FW",
	[NETLINK_DNRTMSG] = "NETLINK_DNRTMSG",
	[NETLINK_KOBJECT_UEVENT] = "NETLINK_KOBJECT_UEVENT",
	[NETLINK_GENERIC] = "NETLINK_GENERIC",
	[NETLINK_SCSITRANSPORT] = "NETLINK_SCSITRANSPORT",
	[NETLINK_ECRYPTFS] = "NETLINK_ECRYPTFS",
	[NETLINK_RDMA] = "NETLINK_RDMA",
	[NETLINK_CRYPTO] = "NETLINK_CRYPTO",
	[NETLINK_SMC] = "NETLINK_SMC",
};

/* "a netlink socket (NETLINK_ROUTE, port id 42)" into BUF. */
static const char *nl_what(char *buf, size_t len, unsigned proto, unsigned portid)
{
	const char *name = proto < NETLINK_PROTOS ? proto_names[proto] : NULL;
	char num[32];

	if (!name) {
		snprintf(num, sizeof(num), "protocol %u", proto);
		name = num;
	}
	snprintf(buf, len, "a netlink socket (%s, port id %u)", name, portid);
	return buf;
}

bool sk_error_pending(int fd)
{
	struct pollfd p = { .fd = fd };

	/* POLLERR says so without taking it, as SO_ERROR would. */
	return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

int sk_diag_dump(pid_t pid, const void *req, size_t len, int (*cb)(struct nl_msg *, void *),
		 void *arg)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret = -EIO, back, err;

	if (!sk)
		return -ENOMEM;
	nl_socket_enable_msg_peek(sk);
	/* sock_diag lists the sockets of its own socket's namespace. */
	back = netns_enter(pid);
	if (back < 0) {
		ret = back;
		goto out;
	}
	err = nl_connect(sk, NETLINK_SOCK_DIAG);
	if (netns_leave(back))
		goto out;
	if (err || nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, cb, arg) ||
	    nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, (void *)req, len) < 0 ||
	    nl_recvmsgs_default(sk) < 0)
		goto out;
	ret = 0;
out:
	nl_socket_free(sk);
	return ret;
}

/* What netlink_diag shows of one socket. */
struct nl_diag {
	unsigned long ino;
	bool found;
	uint32_t rmem, wmem, flags;
	uint32_t groups[MAX_GROUP_WORDS];
	size_t n_groups; /* words */
	bool too_many;
};

static int nl_diag_cb(struct nl_msg *msg, void *arg)
{
	struct nl_diag *s = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct netlink_diag_msg *m = nlmsg_data(nlh);
	struct nlattr *tb[NETLINK_DIAG_MAX + 1];

	if (nlmsg_parse(nlh, sizeof(*m), tb, NETLINK_DIAG_MAX, NULL) < 0 || m->ndiag_ino != s->ino)
		return NL_OK;
	s->found = true;
	if (tb[NETLINK_DIAG_MEMINFO] &&
	    nla_len(tb[NETLINK_DIAG_MEMINFO]) >= (int)(SK_MEMINFO_WMEM_ALLOC + 1) * 4) {
		const uint32_t *mi = nla_data(tb[NETLINK_DIAG_MEMINFO]);

		s->rmem = mi[SK_MEMINFO_RMEM_ALLOC];
		s->wmem = mi[SK_MEMINFO_WMEM_ALLOC];
	}
	if (tb[NETLINK_DIAG_FLAGS] && nla_len(tb[NETLINK_DIAG_FLAGS]) >= 4)
		s->flags = nla_get_u32(tb[NETLINK_DIAG_FLAGS]);
	if (tb[NETLINK_DIAG_GROUPS]) {
		/* The kernel's unsigned longs, little-endian: 32-bit words
		 * in order. */
		size_t n = nla_len(tb[NETLINK_DIAG_GROUPS]) / 4;

		s->too_many = n > MAX_GROUP_WORDS;
		s->n_groups = min(n, (size_t)MAX_GROUP_WORDS);
		memcpy(s->groups, nla_data(tb[NETLINK_DIAG_GROUPS]), s->n_groups * 4);
	}
	return NL_OK;
}

static int nl_refuse(const struct files_dump *d, const struct fd_parms *p, const char *what,
		     const char *why)
{
	pr_err("pid %d fd %d (%s): %s\n", d->pid, p->fd, what, why);
	return -EOPNOTSUPP;
}

/* Groups, queues and flags from netlink_diag; an unbound socket that is
 * a member of no group is not listed (nothing can reach it). */
static int nl_diag_read(const struct files_dump *d, const struct fd_parms *p, int fd,
			NetlinkSkEntry *e, const char *what, struct nl_diag *s)
{
	struct netlink_diag_req req = { .sdiag_family = AF_NETLINK,
					.sdiag_protocol = e->protocol,
					.ndiag_show = NDIAG_SHOW_GROUPS | NDIAG_SHOW_MEMINFO |
						      NDIAG_SHOW_FLAGS };
	char why[128];
	int ret;

	s->ino = p->st.st_ino;
	ret = sk_diag_dump(d->pid, &req, sizeof(req), nl_diag_cb, s);
	if (ret) {
		pr_err("pid %d fd %d (%s): can't read it from sock_diag: %s\n", d->pid, p->fd,
		       what, strerror(-ret));
		return ret;
	}
	if (!s->found && e->portid) {
		pr_err("pid %d fd %d (%s): sock_diag does not list it\n", d->pid, p->fd, what);
		return -ENOENT;
	}
	if (s->too_many)
		return nl_refuse(d, p, what, "a member of a group above 2048: not supported");
	if (s->flags & NDIAG_FLAG_CB_RUNNING)
		return nl_refuse(d, p, what, "a dump request in progress (its answer not read "
			       "whole), whose cursor can't be read: not supported");
	if (sk_error_pending(fd))
		return nl_refuse(d, p, what, "an error pending (ENOBUFS: messages to it were "
			       "dropped), which the next read returns: not supported");
	if (s->rmem || s->wmem) {
		snprintf(why, sizeof(why), "messages queued (%u bytes to read, %u to send): not "
			 "supported", s->rmem, s->wmem);
		return nl_refuse(d, p, what, why);
	}
	return 0;
}

/* The nfnetlink_queue or nfnetlink_log instance (NFQNL_CFG_CMD_BIND,
 * NFULNL_CFG_CMD_BIND) PORTID is bound to in PID's namespace (the
 * socket's: netns_check_sock), from /proc/PID/net/netfilter/TABLE
 * ("num portid ..."); -1 if none.  The kernel ends it with the socket,
 * and nothing makes it again. */
static long nfnl_instance(pid_t pid, const char *table, uint32_t portid)
{
	char path[80], line[256];
	unsigned num, peer;
	long found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/netfilter/%s", pid, table);
	f = fopen(path, "re");
	while (f && found < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%u %u", &num, &peer) == 2 && peer == portid)
			found = num;
	if (f)
		fclose(f);
	return found;
}

/* An nf_tables table owned by a port id (NFT_TABLE_F_OWNER): the kernel
 * deletes it when that socket closes. */
struct nft_owned {
	uint32_t portid;
	bool found;
	uint8_t family;
	char name[64];
};

static int nft_table_cb(struct nl_msg *msg, void *arg)
{
	struct nft_owned *o = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[NFTA_TABLE_MAX + 1];
	const struct nfgenmsg *g = nlmsg_data(h);

	if (o->found || nlmsg_parse(h, sizeof(*g), tb, NFTA_TABLE_MAX, NULL) ||
	    !tb[NFTA_TABLE_FLAGS] || !tb[NFTA_TABLE_OWNER] ||
	    !(ntohl(nla_get_u32(tb[NFTA_TABLE_FLAGS])) & NFT_TABLE_F_OWNER) ||
	    ntohl(nla_get_u32(tb[NFTA_TABLE_OWNER])) != o->portid)
		return NL_OK;
	o->found = true;
	o->family = g->nfgen_family;
	if (tb[NFTA_TABLE_NAME])
		nla_strlcpy(o->name, tb[NFTA_TABLE_NAME], sizeof(o->name));
	return NL_OK;
}

/* Whether an nf_tables table of PID's namespace (the socket's) is owned
 * by port id O->portid: 0 (O->found), or -errno.  A kernel without
 * nf_tables has none. */
static int nft_owned_by(pid_t pid, struct nft_owned *o)
{
	struct nfgenmsg g = { .nfgen_family = NFPROTO_UNSPEC, .version = NFNETLINK_V0 };
	struct nl_sock *sk = nl_socket_alloc();
	int ret = -EIO, back, err;

	if (!sk)
		return -ENOMEM;
	back = netns_enter(pid);
	if (back < 0) {
		ret = back;
		goto out;
	}
	err = nl_connect(sk, NETLINK_NETFILTER);
	if (netns_leave(back))
		goto out;
	if (err || nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, nft_table_cb, o) ||
	    nl_send_simple(sk, NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE, NLM_F_DUMP, &g,
			   sizeof(g)) < 0)
		goto out;
	err = nl_recvmsgs_default(sk);
	/* No nf_tables in this kernel: nothing to own. */
	ret = err == -NLE_OBJ_NOTFOUND || err == -NLE_OPNOTSUPP ? 0 : err < 0 ? -EIO : 0;
out:
	nl_socket_free(sk);
	return ret;
}

static int nft_check(const struct files_dump *d, const struct fd_parms *p,
		     const NetlinkSkEntry *e, const char *what)
{
	struct nft_owned o = { .portid = e->portid };
	char why[256];
	int ret = nft_owned_by(d->pid, &o);

	if (ret) {
		snprintf(why, sizeof(why), "can't list the nf_tables tables of its network "
			 "namespace, which it may own: %s", strerror(-ret));
		return nl_refuse(d, p, what, why);
	}
	if (!o.found)
		return 0;
	snprintf(why, sizeof(why), "owns nf_tables table %s (family %u, NFT_TABLE_F_OWNER), "
		 "which the kernel deletes when it closes and restore can't make again: not "
		 "supported", o.name, o.family);
	return nl_refuse(d, p, what, why);
}

static int nfnl_check(const struct files_dump *d, const struct fd_parms *p,
		      const NetlinkSkEntry *e, const char *what)
{
	long q, g;
	char why[160];

	if (e->protocol != NETLINK_NETFILTER || !e->portid)
		return 0;
	q = nfnl_instance(d->pid, "nfnetlink_queue", e->portid);
	g = q < 0 ? nfnl_instance(d->pid, "nfnetlink_log", e->portid) : -1;
	if (q < 0 && g < 0)
		return nft_check(d, p, e, what);
	snprintf(why, sizeof(why), "bound to netfilter %s %ld, which closing it ends and "
		 "lmproc can't bind again: not supported", q >= 0 ? "queue" : "log group",
		 q >= 0 ? q : g);
	return nl_refuse(d, p, what, why);
}

static bool netlink_match(struct files_dump *d, const struct fd_parms *p)
{
	int fd, family;

	if (!S_ISSOCK(p->st.st_mode) || (p->flags & O_PATH))
		return false;
	fd = syscall(SYS_pidfd_getfd, d->pidfd, p->fd, 0);
	if (fd < 0)
		return false;
	family = sock_int(fd, SOL_SOCKET, SO_DOMAIN);
	close(fd);
	return family == AF_NETLINK;
}

/* Port id, first groups and destination: getsockname, getpeername. */
static int nl_addrs(const struct files_dump *d, const struct fd_parms *p, int fd,
		    NetlinkSkEntry *e)
{
	struct sockaddr_nl a = { 0 };
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len)) {
		pr_perror("Can't read the address of pid %d fd %d", d->pid, p->fd);
		return -errno;
	}
	e->portid = a.nl_pid;
	len = sizeof(a);
	memset(&a, 0, sizeof(a));
	if (getpeername(fd, (struct sockaddr *)&a, &len)) {
		pr_perror("Can't read the destination of pid %d fd %d", d->pid, p->fd);
		return -errno;
	}
	if (a.nl_pid || a.nl_groups) {
		e->has_dst_portid = e->has_dst_groups = true;
		e->dst_portid = a.nl_pid;
		e->dst_groups = a.nl_groups;
	}
	return 0;
}

static int nl_read(struct files_dump *d, struct fd_parms *p, int fd, NetlinkSkEntry *e,
		   struct nl_diag *s, struct sk_opts *o)
{
	char what[96];
	struct sk_who w = { .pid = d->pid, .fd = p->fd, .what = what };
	int ret;

	e->type = sock_int(fd, SOL_SOCKET, SO_TYPE);
	e->protocol = sock_int(fd, SOL_SOCKET, SO_PROTOCOL);
	e->flags = p->flags;
	ret = nl_addrs(d, p, fd, e);
	if (ret)
		return ret;
	nl_what(what, sizeof(what), e->protocol, e->portid);
	if (e->type != SOCK_RAW && e->type != SOCK_DGRAM)
		return nl_refuse(d, p, what, "a type other than SOCK_RAW and SOCK_DGRAM");
	ret = nl_diag_read(d, p, fd, e, what, s) ?: nfnl_check(d, p, e, what);
	if (ret)
		return ret;
	/* Trailing words without a group need not be carried. */
	while (s->n_groups && !s->groups[s->n_groups - 1])
		s->n_groups--;
	e->groups = s->groups;
	e->n_groups = s->n_groups;
	e->rcvbuf = max(sock_int(fd, SOL_SOCKET, SO_RCVBUF), 0);
	e->sndbuf = max(sock_int(fd, SOL_SOCKET, SO_SNDBUF), 0);
	ret = sk_opts_dump(&w, fd, AF_NETLINK, e->type, e->protocol, o);
	e->opts = o->ptrs;
	e->n_opts = o->n;
	return ret;
}

static int netlink_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	NetlinkSkEntry e = NETLINK_SK_ENTRY__INIT;
	cleanup_free struct sk_opts *o = calloc(1, sizeof(*o));
	cleanup_free struct nl_diag *s = calloc(1, sizeof(*s));
	int fd, ret;

	if (!o || !s)
		return -ENOMEM;
	if (p->flags & ~NETLINK_FLAGS)
		return files_refuse_flags(d, p, "a netlink socket", NETLINK_FLAGS);
	ret = netns_check_sock(d->pid, p->fd, "a netlink socket");
	if (ret)
		return ret;
	fd = files_steal(d, p);
	if (fd < 0)
		return fd;
	ret = nl_read(d, p, fd, &e, s, o);
	close(fd);
	if (!ret) {
		fe->netlink_sk = &e;
		ret = files_write(d, fe);
	}
	sk_opts_free(o);
	return ret;
}

static int netlink_validate(const FileEntry *f, uint64_t data_size)
{
	const NetlinkSkEntry *e = f->netlink_sk;
	const char *why;

	(void)data_size;
	if (!e)
		return restore_plan_bad("files.img", "file id %u has no netlink_sk entry", f->id);
	if (e->protocol >= NETLINK_PROTOS || (e->type != SOCK_RAW && e->type != SOCK_DGRAM) ||
	    (e->flags & ~NETLINK_FLAGS) || (e->flags & O_ACCMODE) != O_RDWR ||
	    e->n_groups > MAX_GROUP_WORDS || e->has_dst_portid != e->has_dst_groups ||
	    (e->dst_groups & (e->dst_groups - 1)) || e->rcvbuf > INT32_MAX ||
	    e->sndbuf > INT32_MAX)
		return restore_plan_bad("files.img", "netlink socket file id %u: protocol %u, type "
					"%u, flags 0%o, %zu group words or destination group "
					"0x%x out of range", f->id, e->protocol, e->type,
					e->flags, e->n_groups, e->dst_groups);
	why = sk_opts_bad(e->opts, e->n_opts, AF_NETLINK);
	if (why)
		return restore_plan_bad("files.img", "netlink socket file id %u: %s", f->id, why);
	return 0;
}

static int nl_options(int fd, const NetlinkSkEntry *e, const char **which)
{
	return sk_opts_restore_all(fd, e->opts, e->n_opts, e->rcvbuf, e->sndbuf, which);
}

/* The port id with the first 32 groups, then every other group. */
static int nl_bind(struct task_files *tf, uint32_t desc, int fd, const NetlinkSkEntry *e)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = e->portid };
	size_t from = 0;

	if (e->portid) {
		a.nl_groups = e->n_groups ? e->groups[0] : 0;
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
			return task_files_err(tf, desc, "can't bind the netlink socket to port id "
					      "%u again: %s", e->portid,
					      errno == EADDRINUSE ? "taken in its network "
					      "namespace" : strerror(errno));
		from = 32;
	}
	for (size_t g = from; g < e->n_groups * 32; g++) {
		int grp = g + 1;

		if (!(e->groups[g / 32] & (1U << (g % 32))))
			continue;
		if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)))
			return task_files_err(tf, desc, "can't make the netlink socket a member "
					      "of group %d again: %s", grp, strerror(errno));
	}
	return 0;
}

static int nl_make(struct task_files *tf, uint32_t desc, const NetlinkSkEntry *e)
{
	struct sockaddr_nl dst = { .nl_family = AF_NETLINK };
	const char *which = "";
	int fd = socket(AF_NETLINK, e->type | SOCK_CLOEXEC, e->protocol), ret;

	if (fd < 0)
		return task_files_err(tf, desc, "can't create a netlink socket of protocol %u: %s",
				      e->protocol, strerror(errno));
	ret = nl_options(fd, e, &which);
	if (ret) {
		ret = task_files_err(tf, desc, "can't set the netlink socket's option %s: %s",
				     which, strerror(-ret));
		goto err;
	}
	ret = nl_bind(tf, desc, fd, e);
	if (ret)
		goto err;
	dst.nl_pid = e->dst_portid;
	dst.nl_groups = e->dst_groups;
	if (e->has_dst_portid && connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		ret = task_files_err(tf, desc, "can't connect the netlink socket to port id %u, "
				     "groups 0x%x again: %s", e->dst_portid, e->dst_groups,
				     strerror(errno));
		goto err;
	}
	if ((e->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK)) {
		ret = task_files_err(tf, desc, "can't set O_NONBLOCK: %s", strerror(errno));
		goto err;
	}
	return fd;
err:
	close(fd);
	return ret;
}

static int netlink_open(struct task_files *tf, uint32_t desc)
{
	int fd = nl_make(tf, desc, tf->plan->fdesc[desc].fe->netlink_sk);

	return fd < 0 ? fd : task_files_install(tf, desc, fd);
}

const struct fd_ops netlink_sk_fd_ops = {
	.type = FD_TYPE__FD_NETLINK_SK,
	.name = "netlink socket",
	.match = netlink_match,
	.dump = netlink_dump,
	.validate = netlink_validate,
	.open = netlink_open,
};
