/* Owns packet sockets (AF_PACKET, SOCK_RAW and SOCK_DGRAM): the protocol
 * it receives (socket()'s or bind()'s), the interface it is bound to (by
 * name in its namespace: ifindexes are a namespace's own), its SOL_SOCKET
 * and SOL_PACKET options (sk-opts.c: version, reserve, copy_thresh,
 * timestamp, auxdata, origdev, vnet_hdr..., a classic BPF filter), its
 * multicast list and fanout group.  Read through a copy of the task's fd
 * and sock_diag (packet_diag, in the socket's namespace); made again with
 * socket() (protocol 0: it receives nothing yet), the options, bind() to
 * its interface and protocol, PACKET_ADD_MEMBERSHIP and PACKET_FANOUT.
 * Refused, naming pid, fd and why: rings (PACKET_RX_RING, PACKET_TX_RING:
 * memory the task maps), frames queued, an error pending, a socket that
 * does not receive (its interface down or gone), a fanout group whose id
 * the kernel chose or that steers by a BPF program, a socket of another
 * network namespace than lmproc's or the tree's.  The packets and drops counters
 * (PACKET_STATISTICS, reset when read) start again at 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/if_packet.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "common.h"
#include "fd-types.h"
#include "kstate-iter.h"
#include "log.h"
#include "netns.h"
#include "sk-opts.h"

#define PACKET_FLAGS (O_ACCMODE | O_NONBLOCK)
#define MAX_MCLIST 64
#define MCLIST_ADDR_MAX 32 /* MAX_ADDR_LEN */
/* fanout's flags byte (PACKET_FANOUT_FLAG_* >> 8) */
#define FANOUT_UNIQUEID (PACKET_FANOUT_FLAG_UNIQUEID >> 8)
/* The size limit of a group a join without fanout_args makes
 * (net/packet/af_packet.c, fanout_add). */
#define FANOUT_DEF_MAX 256
/* The largest limit a group takes (net/packet/internal.h, PACKET_FANOUT_MAX). */
#define PACKET_FANOUT_MAX_MEMBERS (1 << 16)

/* What packet_diag shows of one socket. */
struct pk_diag {
	unsigned long ino;
	bool found, rings, running, has_fanout;
	uint32_t rmem, wmem, fanout;
	struct packet_diag_mclist mc[MAX_MCLIST];
	size_t n_mc;
	bool mc_too_many;
};

static void pk_mclist(struct pk_diag *s, struct nlattr *a)
{
	size_t n = nla_len(a) / sizeof(struct packet_diag_mclist);

	s->mc_too_many = n > MAX_MCLIST;
	s->n_mc = min(n, (size_t)MAX_MCLIST);
	memcpy(s->mc, nla_data(a), s->n_mc * sizeof(*s->mc));
}

static int pk_diag_cb(struct nl_msg *msg, void *arg)
{
	struct pk_diag *s = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct packet_diag_msg *m = nlmsg_data(nlh);
	struct nlattr *tb[PACKET_DIAG_MAX + 1];

	if (nlmsg_parse(nlh, sizeof(*m), tb, PACKET_DIAG_MAX, NULL) < 0 || m->pdiag_ino != s->ino)
		return NL_OK;
	s->found = true;
	s->rings = tb[PACKET_DIAG_RX_RING] || tb[PACKET_DIAG_TX_RING];
	if (tb[PACKET_DIAG_INFO] &&
	    nla_len(tb[PACKET_DIAG_INFO]) >= (int)sizeof(struct packet_diag_info)) {
		const struct packet_diag_info *i = nla_data(tb[PACKET_DIAG_INFO]);

		s->running = i->pdi_flags & PDI_RUNNING;
	}
	if (tb[PACKET_DIAG_MEMINFO] &&
	    nla_len(tb[PACKET_DIAG_MEMINFO]) >= (int)(SK_MEMINFO_WMEM_ALLOC + 1) * 4) {
		const uint32_t *mi = nla_data(tb[PACKET_DIAG_MEMINFO]);

		s->rmem = mi[SK_MEMINFO_RMEM_ALLOC];
		s->wmem = mi[SK_MEMINFO_WMEM_ALLOC];
	}
	if (tb[PACKET_DIAG_FANOUT] && nla_len(tb[PACKET_DIAG_FANOUT]) >= 4) {
		s->has_fanout = true;
		s->fanout = nla_get_u32(tb[PACKET_DIAG_FANOUT]);
	}
	if (tb[PACKET_DIAG_MCLIST])
		pk_mclist(s, tb[PACKET_DIAG_MCLIST]);
	return NL_OK;
}

static int pk_refuse(const struct files_dump *d, const struct fd_parms *p, const char *why)
{
	pr_err("pid %d fd %d (a packet socket): %s\n", d->pid, p->fd, why);
	return -EOPNOTSUPP;
}

static bool packet_match(struct files_dump *d, const struct fd_parms *p)
{
	int fd, family;

	if (!S_ISSOCK(p->st.st_mode) || (p->flags & O_PATH))
		return false;
	fd = syscall(SYS_pidfd_getfd, d->pidfd, p->fd, 0);
	if (fd < 0)
		return false;
	family = sock_int(fd, SOL_SOCKET, SO_DOMAIN);
	close(fd);
	return family == AF_PACKET;
}

/* The name of interface IDX in PID's network namespace into NAME
 * (IF_NAMESIZE); -ENODEV if it has none. */
static int ifname_of(pid_t pid, int idx, char *name)
{
	int back = netns_enter(pid), ret = 0;

	if (back < 0)
		return back;
	if (!if_indextoname(idx, name))
		ret = -ENODEV;
	return netns_leave(back) ?: ret;
}

static int pk_diag_read(const struct files_dump *d, const struct fd_parms *p, int fd,
			struct pk_diag *s)
{
	struct packet_diag_req req = { .sdiag_family = AF_PACKET,
				       .pdiag_show = PACKET_SHOW_INFO | PACKET_SHOW_MCLIST |
						     PACKET_SHOW_RING_CFG | PACKET_SHOW_FANOUT |
						     PACKET_SHOW_MEMINFO };
	char why[128];
	int ret;

	s->ino = p->st.st_ino;
	ret = sk_diag_dump(d->pid, &req, sizeof(req), pk_diag_cb, s);
	if (ret || !s->found) {
		pr_err("pid %d fd %d (a packet socket): can't read it from sock_diag: %s\n",
		       d->pid, p->fd, ret ? strerror(-ret) : "not listed");
		return ret ?: -ENOENT;
	}
	if (s->rings)
		return pk_refuse(d, p, "rings (PACKET_RX_RING or PACKET_TX_RING), memory shared "
				 "with the kernel: not supported");
	if (s->mc_too_many)
		return pk_refuse(d, p, "more than 64 multicast memberships: not supported");
	if (sk_error_pending(fd))
		return pk_refuse(d, p, "an error pending (its interface went down or away), which "
				 "the next call returns: not supported");
	if (s->rmem || s->wmem) {
		snprintf(why, sizeof(why), "frames queued (%u bytes to read, %u to send): not "
			 "supported", s->rmem, s->wmem);
		return pk_refuse(d, p, why);
	}
	if (s->has_fanout && (s->fanout >> 16 & 0xff) >= PACKET_FANOUT_CBPF)
		return pk_refuse(d, p, "a fanout group steered by a BPF program "
				 "(PACKET_FANOUT_CBPF/EBPF): not supported");
	if (s->has_fanout && (s->fanout >> 24) & FANOUT_UNIQUEID)
		return pk_refuse(d, p, "a fanout group whose id the kernel chose "
				 "(PACKET_FANOUT_FLAG_UNIQUEID): not supported");
	return 0;
}

/* What one socket's entry points into while it is written. */
struct pk_bufs {
	struct sk_opts o;
	struct pk_diag s;
	PacketMclistEntry mc[MAX_MCLIST];
	PacketMclistEntry *mcp[MAX_MCLIST];
	char names[MAX_MCLIST][IF_NAMESIZE];
	char ifname[IF_NAMESIZE];
};

/* The multicast list, interfaces by name. */
static int pk_mc_read(const struct files_dump *d, const struct fd_parms *p, struct pk_bufs *b,
		      PacketSkEntry *e)
{
	for (size_t i = 0; i < b->s.n_mc; i++) {
		const struct packet_diag_mclist *m = &b->s.mc[i];
		PacketMclistEntry *mc = &b->mc[i];

		if (m->pdmc_alen > MCLIST_ADDR_MAX || ifname_of(d->pid, m->pdmc_index, b->names[i]))
			return pk_refuse(d, p, "a multicast membership of an interface that is "
					 "gone: not supported");
		packet_mclist_entry__init(mc);
		mc->ifname = b->names[i];
		mc->type = m->pdmc_type;
		mc->count = m->pdmc_count;
		mc->addr.data = (uint8_t *)m->pdmc_addr;
		mc->addr.len = m->pdmc_alen;
		b->mcp[i] = mc;
	}
	e->mclist = b->mcp;
	e->n_mclist = b->s.n_mc;
	return 0;
}

/* The fanout group's size limit: in no sockopt or sock_diag answer, read
 * through the BPF iterator (task/kstate-iter.c); recorded where it is not
 * what a join without it gives. */
static int pk_fanout_max(const struct files_dump *d, const struct fd_parms *p, PacketSkEntry *e)
{
	struct kstate_file_rec r;
	int ret = kstate_file(d->pid, p->fd, &r);

	if (ret) {
		errno = -ret;
		pr_perror("pid %d fd %d: can't read the size limit of the packet socket's fanout "
			  "group 0x%x (max_num_members, BPF iterator)", d->pid, p->fd, e->fanout);
		return ret;
	}
	if (!r.fanout_max)
		return pk_refuse(d, p, "in a fanout group the BPF iterator does not see");
	if (r.fanout_max != FANOUT_DEF_MAX) {
		e->has_fanout_max = true;
		e->fanout_max = r.fanout_max;
	}
	return 0;
}

/* Everything but the options and the multicast list. */
static int pk_addr(const struct files_dump *d, const struct fd_parms *p, int fd,
		   PacketSkEntry *e, const struct pk_diag *s, char *ifname)
{
	struct sockaddr_ll a = { 0 };
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len)) {
		pr_perror("Can't read the address of pid %d fd %d", d->pid, p->fd);
		return -errno;
	}
	e->protocol = ntohs(a.sll_protocol);
	if (a.sll_ifindex) {
		if (a.sll_ifindex < 0 || ifname_of(d->pid, a.sll_ifindex, ifname))
			return pk_refuse(d, p, "bound to an interface that is gone: not "
					 "supported");
		e->ifname = ifname;
	}
	if (e->protocol && !s->running)
		return pk_refuse(d, p, "not receiving (its interface is down): not supported");
	if (s->has_fanout) {
		e->has_fanout = true;
		e->fanout = s->fanout;
		return pk_fanout_max(d, p, e);
	}
	return 0;
}


static int pk_read(struct files_dump *d, struct fd_parms *p, int fd, PacketSkEntry *e,
		   struct pk_bufs *b)
{
	struct sk_who w = { .pid = d->pid, .fd = p->fd, .what = "a packet socket" };
	int ret;

	e->type = sock_int(fd, SOL_SOCKET, SO_TYPE);
	e->flags = p->flags;
	if (e->type != SOCK_RAW && e->type != SOCK_DGRAM)
		return pk_refuse(d, p, "a type other than SOCK_RAW and SOCK_DGRAM (SOCK_PACKET): "
				 "not supported");
	ret = pk_diag_read(d, p, fd, &b->s) ?: pk_addr(d, p, fd, e, &b->s, b->ifname) ?:
	      pk_mc_read(d, p, b, e);
	if (ret)
		return ret;
	e->rcvbuf = max(sock_int(fd, SOL_SOCKET, SO_RCVBUF), 0);
	e->sndbuf = max(sock_int(fd, SOL_SOCKET, SO_SNDBUF), 0);
	ret = sk_opts_dump(&w, fd, AF_PACKET, e->type, 0, &b->o);
	e->opts = b->o.ptrs;
	e->n_opts = b->o.n;
	return ret;
}

static int packet_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	PacketSkEntry e = PACKET_SK_ENTRY__INIT;
	cleanup_free struct pk_bufs *b = calloc(1, sizeof(*b));
	int fd, ret;

	if (!b)
		return -ENOMEM;
	if (p->flags & ~PACKET_FLAGS)
		return files_refuse_flags(d, p, "a packet socket", PACKET_FLAGS);
	ret = netns_check_sock(d->pid, p->fd, "a packet socket");
	if (ret)
		return ret;
	fd = files_steal(d, p);
	if (fd < 0)
		return fd;
	ret = pk_read(d, p, fd, &e, b);
	close(fd);
	if (!ret) {
		fe->packet_sk = &e;
		ret = files_write(d, fe);
	}
	sk_opts_free(&b->o);
	return ret;
}

static bool ifname_ok(const char *n)
{
	size_t len = strnlen(n, IF_NAMESIZE);

	return len && len < IF_NAMESIZE && !strchr(n, '/');
}

static const char *mclist_bad(const PacketSkEntry *e)
{
	if (e->n_mclist > MAX_MCLIST)
		return "more than 64 multicast memberships";
	for (size_t i = 0; i < e->n_mclist; i++) {
		const PacketMclistEntry *m = e->mclist[i];

		if (!ifname_ok(m->ifname) || m->type > PACKET_MR_UNICAST ||
		    m->addr.len > MCLIST_ADDR_MAX || !m->count || m->count > 65536)
			return "a multicast membership out of range";
	}
	return NULL;
}

static int packet_validate(const FileEntry *f, uint64_t data_size)
{
	const PacketSkEntry *e = f->packet_sk;
	const char *why;

	(void)data_size;
	if (!e)
		return restore_plan_bad("files.img", "file id %u has no packet_sk entry", f->id);
	if ((e->type != SOCK_RAW && e->type != SOCK_DGRAM) || (e->flags & ~PACKET_FLAGS) ||
	    (e->flags & O_ACCMODE) != O_RDWR || e->protocol > 0xffff ||
	    (e->ifname && !ifname_ok(e->ifname)) ||
	    e->rcvbuf > INT32_MAX || e->sndbuf > INT32_MAX ||
	    (e->has_fanout && (!e->protocol || (e->fanout >> 16 & 0xff) >= PACKET_FANOUT_CBPF ||
			       ((e->fanout >> 24) & FANOUT_UNIQUEID))) ||
	    (e->has_fanout_max && (!e->has_fanout || !e->fanout_max ||
				   e->fanout_max > PACKET_FANOUT_MAX_MEMBERS)))
		return restore_plan_bad("files.img", "packet socket file id %u: type %u, flags 0%o, "
					"protocol 0x%x, interface or fanout 0x%x out of range",
					f->id, e->type, e->flags, e->protocol, e->fanout);
	why = mclist_bad(e) ?: sk_opts_bad(e->opts, e->n_opts, AF_PACKET);
	if (why)
		return restore_plan_bad("files.img", "packet socket file id %u: %s", f->id, why);
	return 0;
}

/* Before the bind: the filter holds for the first frame. */
static int pk_options(int fd, const PacketSkEntry *e, const char **which)
{
	return sk_opts_restore_all(fd, e->opts, e->n_opts, e->rcvbuf, e->sndbuf, which);
}

static int pk_ifindex(struct task_files *tf, uint32_t desc, const char *name)
{
	int idx = if_nametoindex(name);

	if (!idx)
		return task_files_err(tf, desc, "the packet socket's interface %s is not in its "
				      "network namespace", name);
	return idx;
}

/* Made with protocol 0, the socket receives nothing until this bind to
 * its interface (or every one) and protocol: socket()'s protocol is
 * only seen as the one it receives. */
static int pk_bind(struct task_files *tf, uint32_t desc, int fd, const PacketSkEntry *e)
{
	struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(e->protocol) };

	if (!e->ifname && !e->protocol)
		return 0;
	if (e->ifname) {
		a.sll_ifindex = pk_ifindex(tf, desc, e->ifname);
		if (a.sll_ifindex < 0)
			return a.sll_ifindex;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		return task_files_err(tf, desc, "can't bind the packet socket to %s, protocol "
				      "0x%04x again: %s", e->ifname ?: "every interface",
				      e->protocol, strerror(errno));
	return 0;
}

/* The multicast list, each membership as many times as it was taken. */
static int pk_members(struct task_files *tf, uint32_t desc, int fd, const PacketSkEntry *e)
{
	for (size_t i = 0; i < e->n_mclist; i++) {
		const PacketMclistEntry *m = e->mclist[i];
		struct {
			struct packet_mreq r;
			uint8_t more[MCLIST_ADDR_MAX - 8];
		} mr = { .r = { .mr_type = m->type, .mr_alen = m->addr.len } };
		int idx = pk_ifindex(tf, desc, m->ifname);

		if (idx < 0)
			return idx;
		mr.r.mr_ifindex = idx;
		memcpy(mr.r.mr_address, m->addr.data, m->addr.len);
		for (uint32_t k = 0; k < m->count; k++)
			if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)))
				return task_files_err(tf, desc, "can't add the packet socket's "
						      "membership of type %u on %s again: %s",
						      m->type, m->ifname, strerror(errno));
	}
	return 0;
}

/* The group again, with its size limit (fanout_args) if not the default. */
static int pk_fanout(struct task_files *tf, uint32_t desc, int fd, const PacketSkEntry *e)
{
	struct fanout_args a = { .id = e->fanout & 0xffff, .type_flags = e->fanout >> 16,
				 .max_num_members = e->fanout_max };

	if (!e->has_fanout)
		return 0;
	if (!e->has_fanout_max && !setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &e->fanout,
					      sizeof(e->fanout)))
		return 0;
	if (e->has_fanout_max && !setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &a, sizeof(a)))
		return 0;
	return task_files_err(tf, desc, "can't join the packet socket's fanout group 0x%x "
			      "(of at most %u members) again: %s", e->fanout,
			      e->has_fanout_max ? e->fanout_max : FANOUT_DEF_MAX, strerror(errno));
}

static int pk_make(struct task_files *tf, uint32_t desc, const PacketSkEntry *e)
{
	const char *which = "";
	int fd = socket(AF_PACKET, e->type | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return task_files_err(tf, desc, "can't create a packet socket: %s",
				      strerror(errno));
	ret = pk_options(fd, e, &which);
	if (ret) {
		ret = task_files_err(tf, desc, "can't set the packet socket's option %s: %s",
				     which, strerror(-ret));
		goto err;
	}
	ret = pk_bind(tf, desc, fd, e) ?: pk_members(tf, desc, fd, e);
	if (ret)
		goto err;
	ret = pk_fanout(tf, desc, fd, e);
	if (ret)
		goto err;
	if ((e->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK)) {
		ret = task_files_err(tf, desc, "can't set O_NONBLOCK: %s", strerror(errno));
		goto err;
	}
	return fd;
err:
	close(fd);
	return ret;
}

static int packet_open(struct task_files *tf, uint32_t desc)
{
	int fd = pk_make(tf, desc, tf->plan->fdesc[desc].fe->packet_sk);

	return fd < 0 ? fd : task_files_install(tf, desc, fd);
}

const struct fd_ops packet_sk_fd_ops = {
	.type = FD_TYPE__FD_PACKET_SK,
	.name = "packet socket",
	.match = packet_match,
	.dump = packet_dump,
	.validate = packet_validate,
	.open = packet_open,
};
