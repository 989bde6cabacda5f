/* Owns the network namespace a tree's root owns, when it is not lmproc's
 * (netns.img): dumped through libnl-route with a netlink socket opened
 * inside it (links: loopback and veth only, with name, MAC, MTU, up;
 * addresses the kernel does not derive; routes of the main table the
 * kernel did not make for an address; the sysctls under /proc/sys/net
 * that matter, read inside it).  Restore makes a new namespace the same
 * way from outside before the tree is forked into it: lmproc's thread
 * enters it for the fork only, each veth's outside end is made in
 * lmproc's namespace under --veth-pair's name and plugged into its
 * bridge.  A failed restore removes the outside ends it made.  A
 * killed tree's namespace has its links set down before lmproc lets it
 * go (netns_links_down). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include "common.h"
#include "image.h"
#include "log.h"
#include "netns.h"
#include "proc.h"
#include "restore.h"
#include "sk-tcp.h"

#include "netns.pb-c.h"

#define NETNS_MAX_LINKS 64
#define NETNS_MAX_ADDRS 256
#define NETNS_MAX_ROUTES 256


/* The dumped tree's namespace (st_ino 0: lmproc's, or no dump yet). */
static struct stat tree_ns;

struct netns_restore {
	NetnsEntry *e;
	int host_fd; /* lmproc's namespace while inside the new one, else -1 */
	int tree_fd; /* the new namespace once made, else -1 */
	struct nl_sock *host_sk;
	char made[MAX_VETH_PAIRS][VETH_NAME_LEN]; /* outside ends made */
	int nr_made;
};

static int ns_stat(pid_t pid, struct stat *st)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (!pid)
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	if (stat(path, st)) {
		pr_perror("Can't read the network namespace of %s", path);
		return -errno;
	}
	return 0;
}

static bool same_ns(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev;
}

int netns_enter(pid_t pid)
{
	char path[64];
	int back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ns;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (back < 0 || ns < 0 || setns(ns, CLONE_NEWNET)) {
		int e = errno;

		pr_perror("Can't enter the network namespace of pid %d", pid);
		if (back >= 0)
			close(back);
		if (ns >= 0)
			close(ns);
		return -e;
	}
	close(ns);
	return back;
}

int netns_leave(int back)
{
	int ret = setns(back, CLONE_NEWNET) ? -errno : 0;

	if (ret)
		pr_perror("Can't return to lmproc's network namespace");
	close(back);
	return ret;
}

/* The network namespace socket FD of PID lives in (SIOCGSKNS on a copy):
 * the one it was made in, which need not be its process's. */
static int sock_ns_stat(pid_t pid, int fd, struct stat *st)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0), sk = -1, ns = -1, ret = 0;

	if (pidfd >= 0)
		sk = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (sk >= 0)
		ns = ioctl(sk, SIOCGSKNS);
	if (ns < 0 || fstat(ns, st)) {
		ret = -errno;
		pr_perror("Can't read the network namespace of pid %d fd %d (SIOCGSKNS)", pid, fd);
	}
	if (ns >= 0)
		close(ns);
	if (sk >= 0)
		close(sk);
	if (pidfd >= 0)
		close(pidfd);
	return ret;
}

int netns_check_sock(pid_t pid, int fd, const char *what)
{
	struct stat own, its, sk;
	int ret = ns_stat(pid, &its) ?: ns_stat(0, &own) ?: sock_ns_stat(pid, fd, &sk);

	if (ret)
		return ret;
	/* Restore makes it in its process's namespace. */
	if (!same_ns(&sk, &its)) {
		pr_err("pid %d fd %d: %s made in another network namespace than its process's "
		       "(net:[%lu]): not supported\n", pid, fd, what, (unsigned long)sk.st_ino);
		return -EOPNOTSUPP;
	}
	if (same_ns(&its, &own) || (tree_ns.st_ino && same_ns(&its, &tree_ns)))
		return 0;
	pr_err("pid %d fd %d: %s in another network namespace than lmproc's and than the tree's "
	       "root's: not supported\n", pid, fd, what);
	return -EOPNOTSUPP;
}

int netns_open_tree(pid_t pid)
{
	char path[64];
	struct stat st;
	int fd;

	if (!tree_ns.st_ino)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !fstat(fd, &st) && same_ns(&st, &tree_ns))
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static bool in_list(pid_t pid, const pid_t *pids, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Whether anything but the tree (PIDS) holds namespace NS: a process,
 * or a bind mount of it (ip netns add) in lmproc's mount namespace. */
static bool held_elsewhere(const struct stat *ns, const pid_t *pids, size_t nr)
{
	char path[64], want[64], line[1024];
	struct dirent *de;
	struct stat st;
	bool held = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	DIR *d;

	snprintf(want, sizeof(want), "net:[%lu]", (unsigned long)ns->st_ino);
	while (f && !held && fgets(line, sizeof(line), f))
		held = strstr(line, want) != NULL;
	if (f)
		fclose(f);
	d = held ? NULL : opendir("/proc");
	while (d && !held && (de = readdir(d))) {
		pid_t pid = atoi(de->d_name);

		if (pid <= 0 || in_list(pid, pids, nr))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		held = !stat(path, &st) && same_ns(&st, ns);
		if (held)
			pr_info("pid %d (not of the tree) is in its network namespace\n", pid);
	}
	if (d)
		closedir(d);
	return held;
}

/* A namespace's teardown removes its firewall hooks (their pre_exit)
 * before its links: a peer's segment arriving meanwhile finds no lock
 * and no socket, and gets a reset.  Links that are down receive
 * nothing.  A namespace something else holds is left as it is: it does
 * not go, and its links are not the tree's to take down. */
void netns_links_down(int nsfd, const pid_t *pids, size_t nr)
{
	int back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), sk = -1, n = 0;
	struct if_nameindex *ifs = NULL;
	struct stat ns;

	if (back >= 0 && !fstat(nsfd, &ns) && held_elsewhere(&ns, pids, nr)) {
		pr_info("The killed tree's network namespace is held by others: its links stay up\n");
		close(back);
		return;
	}
	if (back < 0 || setns(nsfd, CLONE_NEWNET)) {
		pr_perror("Can't enter the killed tree's network namespace to set its links down");
		if (back >= 0)
			close(back);
		return;
	}
	sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ifs = sk < 0 ? NULL : if_nameindex();
	for (struct if_nameindex *i = ifs; i && i->if_index; i++) {
		struct ifreq r = {};

		snprintf(r.ifr_name, sizeof(r.ifr_name), "%s", i->if_name);
		if (ioctl(sk, SIOCGIFFLAGS, &r) || (r.ifr_flags & IFF_LOOPBACK) ||
		    !(r.ifr_flags & IFF_UP))
			continue;
		r.ifr_flags &= ~IFF_UP;
		if (ioctl(sk, SIOCSIFFLAGS, &r))
			pr_warn("Can't set link %s of the killed tree's network namespace down: "
				"%s\n", i->if_name, strerror(errno));
		else
			n++;
	}
	if (!ifs)
		pr_perror("Can't list the links of the killed tree's network namespace");
	else
		if_freenameindex(ifs);
	if (sk >= 0)
		close(sk);
	pr_info("%d links of the killed tree's network namespace set down before it goes\n", n);
	netns_leave(back);
}

/* Dump */

struct netns_dump {
	pid_t pid;
	uint32_t lo; /* the loopback's ifindex */
	NetnsEntry e;
	NetnsLink *links;
	NetnsAddr *addrs;
	NetnsRoute *routes;
	NetnsSysctl *sc;
	struct netns_sysctls sys;
	bool images; /* images are written (not a pre-dump's check) */
	char *nft; /* its nftables ruleset, or NULL */
	uint8_t bytes[NETNS_MAX_ADDRS + 2 * NETNS_MAX_ROUTES + NETNS_MAX_LINKS][16];
	size_t nr_bytes;
};

static ProtobufCBinaryData keep_bytes(struct netns_dump *d, const void *p, size_t len)
{
	ProtobufCBinaryData b = { 0, NULL };

	if (len > 16 || d->nr_bytes == ARRAY_SIZE(d->bytes))
		return b;
	memcpy(d->bytes[d->nr_bytes], p, len);
	b.data = d->bytes[d->nr_bytes++];
	b.len = len;
	return b;
}

static int dump_link(struct netns_dump *d, struct rtnl_link *l)
{
	NetnsLink *o = &d->links[d->e.n_links];
	const char *type = rtnl_link_get_type(l), *kind = NULL;
	struct nl_addr *mac = rtnl_link_get_addr(l);

	if (rtnl_link_get_flags(l) & IFF_LOOPBACK)
		kind = "loopback";
	else if (type && !strcmp(type, "veth"))
		kind = "veth";
	if (!kind) {
		pr_err("pid %d: link %s of its network namespace is of kind %s: lmproc makes only "
		       "loopback and veth links\n", d->pid, rtnl_link_get_name(l),
		       type ? type : "unknown");
		return -EOPNOTSUPP;
	}
	if (d->e.n_links == NETNS_MAX_LINKS) {
		pr_err("pid %d: its network namespace has more than %d links: not supported\n",
		       d->pid, NETNS_MAX_LINKS);
		return -EOPNOTSUPP;
	}
	netns_link__init(o);
	if (!strcmp(kind, "loopback"))
		d->lo = rtnl_link_get_ifindex(l);
	o->kind = (char *)kind;
	o->ifindex = rtnl_link_get_ifindex(l);
	o->name = rtnl_link_get_name(l);
	o->mtu = rtnl_link_get_mtu(l);
	o->up = rtnl_link_get_flags(l) & IFF_UP;
	if (mac && nl_addr_get_len(mac) == 6)
		o->mac = keep_bytes(d, nl_addr_get_binary_addr(mac), 6);
	d->e.n_links++;
	return 0;
}

/* 127.0.0.1/8 and ::1/128: the loopback gets them back when it goes up
 * (adding ::1 again would add a second route to it). */
static bool lo_own(int family, struct nl_addr *a)
{
	static const uint8_t v4[4] = { 127, 0, 0, 1 }, v6[16] = { [15] = 1 };
	const void *want = family == AF_INET ? v4 : v6;
	unsigned len = family == AF_INET ? 4 : 16, plen = family == AF_INET ? 8 : 128;

	return nl_addr_get_len(a) == len && nl_addr_get_prefixlen(a) == plen &&
	       !memcmp(nl_addr_get_binary_addr(a), want, len);
}

static int dump_addr(struct netns_dump *d, struct rtnl_addr *a)
{
	struct nl_addr *local = rtnl_addr_get_local(a);
	NetnsAddr *o = &d->addrs[d->e.n_addrs];
	int family = rtnl_addr_get_family(a);

	/* Link-local IPv6 addresses come from the MAC again. */
	if (!local || (family == AF_INET6 && rtnl_addr_get_scope(a) == RT_SCOPE_LINK))
		return 0;
	if ((uint32_t)rtnl_addr_get_ifindex(a) == d->lo && lo_own(family, local))
		return 0;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (d->e.n_addrs == NETNS_MAX_ADDRS) {
		pr_err("pid %d: its network namespace has more than %d addresses: not supported\n",
		       d->pid, NETNS_MAX_ADDRS);
		return -EOPNOTSUPP;
	}
	netns_addr__init(o);
	o->ifindex = rtnl_addr_get_ifindex(a);
	o->family = family;
	o->addr = keep_bytes(d, nl_addr_get_binary_addr(local), nl_addr_get_len(local));
	o->prefixlen = rtnl_addr_get_prefixlen(a);
	d->e.n_addrs++;
	return 0;
}

static int dump_route(struct netns_dump *d, struct rtnl_route *r)
{
	NetnsRoute *o = &d->routes[d->e.n_routes];
	struct nl_addr *dst = rtnl_route_get_dst(r), *gw = NULL;
	struct rtnl_nexthop *nh;
	char buf[64];

	if (rtnl_route_get_protocol(r) == RTPROT_KERNEL)
		return 0;
	/* The restore makes only the main table's routes again. */
	if (rtnl_route_get_table(r) != RT_TABLE_MAIN) {
		pr_err("pid %d: route %s of its network namespace is in table %u: only the main "
		       "table's routes are dumped: not supported\n", d->pid,
		       dst ? nl_addr2str(dst, buf, sizeof(buf)) : "?", rtnl_route_get_table(r));
		return -EOPNOTSUPP;
	}
	if (rtnl_route_get_nnexthops(r) > 1 || d->e.n_routes == NETNS_MAX_ROUTES) {
		pr_err("pid %d: route %s of its network namespace: %s: not supported\n", d->pid,
		       dst ? nl_addr2str(dst, buf, sizeof(buf)) : "?",
		       d->e.n_routes == NETNS_MAX_ROUTES ? "too many routes" : "multipath");
		return -EOPNOTSUPP;
	}
	netns_route__init(o);
	o->family = rtnl_route_get_family(r);
	if (dst && nl_addr_get_prefixlen(dst)) {
		o->has_dst = true;
		o->dst = keep_bytes(d, nl_addr_get_binary_addr(dst), nl_addr_get_len(dst));
		o->dst_len = nl_addr_get_prefixlen(dst);
	}
	nh = rtnl_route_get_nnexthops(r) ? rtnl_route_nexthop_n(r, 0) : NULL;
	if (nh) {
		o->oif = rtnl_route_nh_get_ifindex(nh);
		gw = rtnl_route_nh_get_gateway(nh);
	}
	if (gw) {
		o->has_gateway = true;
		o->gateway = keep_bytes(d, nl_addr_get_binary_addr(gw), nl_addr_get_len(gw));
	}
	o->scope = rtnl_route_get_scope(r);
	o->protocol = rtnl_route_get_protocol(r);
	o->priority = rtnl_route_get_priority(r);
	o->type = rtnl_route_get_type(r);
	d->e.n_routes++;
	return 0;
}

/* A new namespace's routing rules, which the restore's namespace has:
 * any other (a policy route, a default one removed) is refused.  Counts
 * the default ones of each family in DEFAULTS (IPv4, IPv6). */
static int check_rule(const struct netns_dump *d, struct rtnl_rule *r, unsigned int defaults[2])
{
	static const struct {
		uint32_t prio, table;
	} std[] = { { 0, RT_TABLE_LOCAL }, { 32766, RT_TABLE_MAIN }, { 32767, RT_TABLE_DEFAULT } };
	int family = rtnl_rule_get_family(r);
	uint32_t mark = rtnl_rule_get_mark(r);

	for (size_t i = 0; i < ARRAY_SIZE(std); i++) {
		if (rtnl_rule_get_prio(r) != std[i].prio || rtnl_rule_get_table(r) != std[i].table ||
		    rtnl_rule_get_action(r) != FR_ACT_TO_TBL || rtnl_rule_get_src(r) ||
		    rtnl_rule_get_dst(r) || rtnl_rule_get_iif(r) || rtnl_rule_get_oif(r) ||
		    (mark && mark != UINT32_MAX))
			continue;
		defaults[family == AF_INET6]++;
		return 0;
	}
	pr_err("pid %d: its network namespace has a routing rule of its own (%s, priority %u, "
	       "table %u): not supported\n", d->pid, family == AF_INET6 ? "IPv6" : "IPv4",
	       rtnl_rule_get_prio(r), rtnl_rule_get_table(r));
	return -EOPNOTSUPP;
}

static int check_rules(const struct netns_dump *d, struct nl_cache *rules)
{
	/* IPv4's local, main and default; IPv6's local and main. */
	unsigned int defaults[2] = {}, want6 = access("/proc/sys/net/ipv6", F_OK) ? 0 : 2;
	int ret = 0;

	for (struct nl_object *o = nl_cache_get_first(rules); o && !ret; o = nl_cache_get_next(o))
		ret = check_rule(d, (struct rtnl_rule *)o, defaults);
	if (!ret && (defaults[0] != 3 || defaults[1] != want6)) {
		pr_err("pid %d: its network namespace lacks routing rules a new one has (%u of "
		       "IPv4's 3, %u of IPv6's %u): not supported\n", d->pid, defaults[0],
		       defaults[1], want6);
		ret = -EOPNOTSUPP;
	}
	return ret;
}

static int read_sysctls(struct netns_dump *d)
{
	int ret = netns_sysctl_read(d->pid, &d->sys);

	if (ret)
		return ret;
	d->sc = calloc(d->sys.nr + 1, sizeof(*d->sc));
	if (!d->sc)
		return -ENOMEM;
	for (size_t i = 0; i < d->sys.nr; i++) {
		netns_sysctl__init(&d->sc[i]);
		d->sc[i].name = d->sys.v[i].name;
		d->sc[i].value = d->sys.v[i].value;
	}
	d->e.n_sysctls = d->sys.nr;
	return 0;
}

struct caches {
	struct nl_cache *links, *addrs, *routes, *rules;
};

static void free_caches(struct caches *c)
{
	if (c->links)
		nl_cache_free(c->links);
	if (c->addrs)
		nl_cache_free(c->addrs);
	if (c->routes)
		nl_cache_free(c->routes);
	if (c->rules)
		nl_cache_free(c->rules);
}

/* Inside the namespace: its tables and sysctls. */
static int read_inside(struct netns_dump *d, struct caches *c)
{
	struct nl_sock *sk = nl_socket_alloc();
	int back, err = -ENOMEM;

	if (!sk)
		return -ENOMEM;
	back = netns_enter(d->pid);
	if (back < 0) {
		nl_socket_free(sk);
		return back;
	}
	err = nl_connect(sk, NETLINK_ROUTE) ?: rtnl_link_alloc_cache(sk, AF_UNSPEC, &c->links) ?:
	      rtnl_addr_alloc_cache(sk, &c->addrs) ?:
	      rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &c->routes) ?:
	      rtnl_rule_alloc_cache(sk, AF_UNSPEC, &c->rules);
	if (err) {
		pr_err("Can't read the links, addresses and routes of pid %d's network namespace: "
		       "%s\n", d->pid, nl_geterror(err));
		err = -EIO;
	}
	/* A pre-dump writes no netns.img: nothing of the sysctls (5-6 ms
	 * frozen) refuses, only iptables-legacy tables do. */
	if (!err && d->images)
		err = read_sysctls(d);
	if (!err)
		err = netns_nft_dump(d->pid, d->images ? &d->nft : NULL);
	nl_socket_free(sk);
	return netns_leave(back) ?: err;
}

static int walk(struct netns_dump *d, struct caches *c)
{
	int ret = 0;

	for (struct nl_object *o = nl_cache_get_first(c->links); o && !ret;
	     o = nl_cache_get_next(o))
		ret = dump_link(d, (struct rtnl_link *)o);
	for (struct nl_object *o = nl_cache_get_first(c->addrs); o && !ret;
	     o = nl_cache_get_next(o))
		ret = dump_addr(d, (struct rtnl_addr *)o);
	for (struct nl_object *o = nl_cache_get_first(c->routes); o && !ret;
	     o = nl_cache_get_next(o))
		ret = dump_route(d, (struct rtnl_route *)o);
	return ret ?: check_rules(d, c->rules);
}

static int dump_ns(int dfd, pid_t pid)
{
	cleanup_free struct netns_dump *d = calloc(1, sizeof(*d));
	struct caches c = {};
	NetnsLink *lp[NETNS_MAX_LINKS];
	NetnsAddr *ap[NETNS_MAX_ADDRS];
	NetnsRoute *rp[NETNS_MAX_ROUTES];
	cleanup_free NetnsSysctl **sp = NULL;
	int ret;

	if (!d)
		return -ENOMEM;
	d->pid = pid;
	d->images = dfd >= 0;
	d->links = calloc(NETNS_MAX_LINKS, sizeof(*d->links));
	d->addrs = calloc(NETNS_MAX_ADDRS, sizeof(*d->addrs));
	d->routes = calloc(NETNS_MAX_ROUTES, sizeof(*d->routes));
	netns_entry__init(&d->e);
	ret = d->links && d->addrs && d->routes ? 0 : -ENOMEM;
	if (!ret)
		ret = read_inside(d, &c);
	if (!ret)
		ret = walk(d, &c);
	if (!ret) {
		sp = calloc(d->e.n_sysctls + 1, sizeof(*sp));
		ret = sp ? 0 : -ENOMEM;
	}
	for (size_t i = 0; !ret && i < NETNS_MAX_LINKS; i++)
		lp[i] = &d->links[i];
	for (size_t i = 0; !ret && i < NETNS_MAX_ADDRS; i++)
		ap[i] = &d->addrs[i];
	for (size_t i = 0; !ret && i < NETNS_MAX_ROUTES; i++)
		rp[i] = &d->routes[i];
	for (size_t i = 0; !ret && i < d->e.n_sysctls; i++)
		sp[i] = &d->sc[i];
	d->e.links = lp;
	d->e.addrs = ap;
	d->e.routes = rp;
	d->e.sysctls = sp;
	d->e.nft_ruleset = d->nft;
	if (!ret && dfd >= 0)
		ret = img_write_one(dfd, IMG_NETNS, 0, &d->e.base);
	if (!ret)
		pr_info("pid %d owns a network namespace: %zu links, %zu addresses, %zu routes, "
			"%zu sysctls not a new namespace's, %zu bytes of nftables rules\n", pid,
			d->e.n_links, d->e.n_addrs, d->e.n_routes, d->e.n_sysctls,
			d->nft ? strlen(d->nft) : 0);
	free_caches(&c);
	free(d->nft);
	free(d->links);
	free(d->addrs);
	free(d->routes);
	free(d->sc);
	netns_sysctl_free(&d->sys);
	return ret;
}

void netns_dump_prepare(pid_t root)
{
	struct stat own, its;

	if (!ns_stat(root, &its) && !ns_stat(0, &own) && !same_ns(&its, &own))
		netns_sysctl_prepare();
}

int netns_dump(int dfd, const struct pstree *t)
{
	pid_t root = t->items[0].pid;
	struct stat own, its, other;
	int ret = ns_stat(root, &its) ?: ns_stat(0, &own);

	memset(&tree_ns, 0, sizeof(tree_ns));
	for (size_t i = 1; !ret && i < t->nr; i++) {
		if (t->items[i].zombie)
			continue;
		ret = ns_stat(t->items[i].pid, &other);
		if (!ret && !same_ns(&other, &its)) {
			pr_err("pid %d is in another network namespace than the tree's root %d: "
			       "not supported\n", t->items[i].pid, root);
			ret = -EOPNOTSUPP;
		}
	}
	if (ret || same_ns(&its, &own))
		return ret;
	ret = dump_ns(dfd, root);
	if (!ret)
		tree_ns = its;
	return ret;
}

/* Restore: validation */

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_err("Image netns.img is invalid: %s\n", msg);
	return -EINVAL;
}

static bool name_ok(const char *s)
{
	size_t len = strlen(s);

	return len && len < IFNAMSIZ && !strpbrk(s, "/ :") && strcmp(s, ".") && strcmp(s, "..");
}

static const NetnsLink *link_of(const NetnsEntry *e, uint32_t ifindex)
{
	for (size_t i = 0; i < e->n_links; i++)
		if (e->links[i]->ifindex == ifindex)
			return e->links[i];
	return NULL;
}

static int check_links(const NetnsEntry *e)
{
	size_t lo = 0;

	if (e->n_links > NETNS_MAX_LINKS)
		return bad("%zu links, at most %d", e->n_links, NETNS_MAX_LINKS);
	for (size_t i = 0; i < e->n_links; i++) {
		const NetnsLink *l = e->links[i];

		if (!name_ok(l->name))
			return bad("link %zu has no valid name", i);
		if (!l->ifindex || link_of(e, l->ifindex) != l)
			return bad("link %s: ifindex %u is 0 or repeated", l->name, l->ifindex);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(e->links[j]->name, l->name))
				return bad("link name %s is repeated", l->name);
		if (strcmp(l->kind, "loopback") && strcmp(l->kind, "veth"))
			return bad("link %s is of kind %.32s, not loopback or veth", l->name,
				   l->kind);
		if (l->mac.len != 0 && l->mac.len != 6)
			return bad("link %s: a MAC address of %zu bytes", l->name, l->mac.len);
		if (l->mtu < 68 || l->mtu > 65536)
			return bad("link %s: MTU %u out of 68..65536", l->name, l->mtu);
		lo += !strcmp(l->kind, "loopback");
		if (!strcmp(l->kind, "loopback") && strcmp(l->name, "lo"))
			return bad("the loopback link is named %s, not lo", l->name);
	}
	if (lo != 1)
		return bad("%zu loopback links, not one", lo);
	return 0;
}

static size_t family_len(uint32_t family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static int check_addrs(const NetnsEntry *e)
{
	if (e->n_addrs > NETNS_MAX_ADDRS)
		return bad("%zu addresses, at most %d", e->n_addrs, NETNS_MAX_ADDRS);
	for (size_t i = 0; i < e->n_addrs; i++) {
		const NetnsAddr *a = e->addrs[i];
		size_t len = family_len(a->family);

		if (!len || a->addr.len != len || a->prefixlen > len * 8)
			return bad("address %zu: family %u, %zu bytes, prefix length %u", i,
				   a->family, a->addr.len, a->prefixlen);
		if (!link_of(e, a->ifindex))
			return bad("address %zu is on ifindex %u, no link of the image", i,
				   a->ifindex);
	}
	return 0;
}

static int check_routes(const NetnsEntry *e)
{
	if (e->n_routes > NETNS_MAX_ROUTES)
		return bad("%zu routes, at most %d", e->n_routes, NETNS_MAX_ROUTES);
	for (size_t i = 0; i < e->n_routes; i++) {
		const NetnsRoute *r = e->routes[i];
		size_t len = family_len(r->family);

		if (!len || r->dst_len > len * 8 || (r->has_dst && r->dst.len != len) ||
		    (!r->has_dst && r->dst_len) || (r->has_gateway && r->gateway.len != len))
			return bad("route %zu: family %u, destination or gateway of the wrong size",
				   i, r->family);
		if (r->oif && !link_of(e, r->oif))
			return bad("route %zu goes out of ifindex %u, no link of the image", i,
				   r->oif);
		if (r->scope > 255 || r->protocol > 255 || r->type > RTN_MAX || !r->type)
			return bad("route %zu: scope %u, protocol %u, type %u out of range", i,
				   r->scope, r->protocol, r->type);
	}
	return 0;
}

static int check_sysctls(const NetnsEntry *e)
{
	if (e->n_sysctls > 4096)
		return bad("%zu sysctls", e->n_sysctls);
	for (size_t i = 0; i < e->n_sysctls; i++) {
		const NetnsSysctl *s = e->sysctls[i];

		if (!netns_sysctl_ok(s->name, s->value))
			return bad("sysctl %.64s (\"%.64s\") is not one lmproc sets", s->name,
				   s->value);
	}
	return 0;
}

int restore_read_netns(int dfd, struct restore_tree *t)
{
	ProtobufCMessage **msgs = NULL;
	size_t nr = 0;
	NetnsEntry *e;
	int ret = img_read_all(dfd, IMG_NETNS, 0, true, &msgs, &nr);

	if (ret || !nr) {
		free(msgs);
		return ret;
	}
	e = (NetnsEntry *)msgs[0];
	for (size_t i = 1; i < nr; i++)
		img_free_msg(msgs[i]);
	free(msgs);
	t->netns = calloc(1, sizeof(*t->netns));
	if (!t->netns) {
		img_free_msg(&e->base);
		return -ENOMEM;
	}
	t->netns->e = e;
	t->netns->host_fd = -1;
	t->netns->tree_fd = -1;
	if (nr > 1)
		return bad("%zu messages, not one", nr);
	if (e->nft_ruleset && netns_nft_check(e->nft_ruleset))
		return bad("an nftables ruleset of more than 16 MiB");
	return check_links(e) ?: check_addrs(e) ?: check_routes(e) ?: check_sysctls(e);
}

void restore_free_netns(struct restore_tree *t)
{
	if (!t->netns)
		return;
	if (t->netns->host_fd >= 0)
		close(t->netns->host_fd);
	if (t->netns->tree_fd >= 0)
		close(t->netns->tree_fd);
	if (t->netns->host_sk)
		nl_socket_free(t->netns->host_sk);
	img_free_msg(&t->netns->e->base);
	free(t->netns);
	t->netns = NULL;
}

/* Restore: this machine */

static const struct veth_pair *pair_of(const struct lmproc_opts *opts, const char *in)
{
	for (int i = 0; i < opts->nr_veth; i++)
		if (!strcmp(opts->veth[i].in, in))
			return &opts->veth[i];
	return NULL;
}

static int nl_fail(int err, const char *fmt, const char *name)
{
	char what[128];

	snprintf(what, sizeof(what), fmt, name);
	pr_err("Can't %s in the restored network namespace: %s\n", what, nl_geterror(err));
	return -EIO;
}

/* Through netlink: /sys/class/net shows the namespace sysfs was mounted
 * in, not necessarily lmproc's. */
static int check_bridge(struct nl_sock *sk, const struct veth_pair *v)
{
	struct rtnl_link *l = NULL;
	const char *type;
	bool ok;

	if (!v->bridge[0])
		return 0;
	rtnl_link_get_kernel(sk, 0, v->bridge, &l);
	type = l ? rtnl_link_get_type(l) : NULL;
	ok = type && !strcmp(type, "bridge");
	if (!ok)
		pr_err("--veth-pair %s=%s@%s: bridge %s does not exist here%s\n", v->in, v->out,
		       v->bridge, v->bridge, l ? " (that link is no bridge)" : "");
	if (l)
		rtnl_link_put(l);
	return ok ? 0 : -ENODEV;
}

static int check_pairs(struct nl_sock *sk, const NetnsEntry *e, const struct lmproc_opts *opts)
{
	int ret = 0;

	for (int i = 0; i < opts->nr_veth && !ret; i++) {
		const NetnsLink *l = NULL;

		for (size_t k = 0; e && k < e->n_links; k++)
			if (!strcmp(e->links[k]->name, opts->veth[i].in) &&
			    !strcmp(e->links[k]->kind, "veth"))
				l = e->links[k];
		if (!l) {
			pr_err("--veth-pair %s=%s: the dump has no veth %s in a network namespace "
			       "of the tree\n", opts->veth[i].in, opts->veth[i].out,
			       opts->veth[i].in);
			return -EINVAL;
		}
		if (if_nametoindex(opts->veth[i].out)) {
			pr_err("--veth-pair %s=%s: a link named %s exists here already\n",
			       opts->veth[i].in, opts->veth[i].out, opts->veth[i].out);
			return -EEXIST;
		}
		ret = check_bridge(sk, &opts->veth[i]);
	}
	return ret;
}

int restore_check_netns(const struct restore_tree *t, const struct lmproc_opts *opts)
{
	const NetnsEntry *e = t->netns ? t->netns->e : NULL;
	struct nl_sock *sk;
	int ret = 0, err;

	if (!e && !opts->nr_veth)
		return 0;
	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err)
		ret = nl_fail(err, "open a %s socket", "netlink");
	if (!ret)
		ret = check_pairs(sk, e, opts);
	nl_socket_free(sk);
	for (size_t k = 0; e && k < e->n_links && !ret; k++) {
		if (strcmp(e->links[k]->kind, "veth") || pair_of(opts, e->links[k]->name))
			continue;
		pr_err("The tree's network namespace has veth %s: restore needs --veth-pair %s=OUT"
		       "[@BRIDGE] naming its outside end\n", e->links[k]->name,
		       e->links[k]->name);
		ret = -EINVAL;
	}
	return ret;
}

/* Restore: making it */

static int link_up(struct nl_sock *sk, const char *name, uint32_t mtu, bool up)
{
	struct rtnl_link *l = NULL, *c = rtnl_link_alloc();
	int err;

	if (!c)
		return -ENOMEM;
	err = rtnl_link_get_kernel(sk, 0, name, &l);
	if (!err) {
		if (mtu)
			rtnl_link_set_mtu(c, mtu);
		if (up)
			rtnl_link_set_flags(c, IFF_UP);
		err = rtnl_link_change(sk, l, c, 0);
	}
	if (l)
		rtnl_link_put(l);
	rtnl_link_put(c);
	return err ? nl_fail(err, "set up link %s", name) : 0;
}

/* lmproc's thread is in the new namespace: links outside are found
 * through the socket opened outside. */
static int host_ifindex(struct netns_restore *r, const char *name)
{
	struct rtnl_link *l = NULL;
	int idx = 0;

	if (!rtnl_link_get_kernel(r->host_sk, 0, name, &l))
		idx = rtnl_link_get_ifindex(l);
	if (l)
		rtnl_link_put(l);
	if (!idx)
		pr_err("Can't find link %s in lmproc's network namespace\n", name);
	return idx;
}

static int plug(struct netns_restore *r, const struct veth_pair *v)
{
	int err = 0, out = host_ifindex(r, v->out), br = 0;

	if (out && v->bridge[0])
		br = host_ifindex(r, v->bridge);
	if (!out || (v->bridge[0] && !br))
		return -ENODEV;
	if (br)
		err = rtnl_link_enslave_ifindex(r->host_sk, br, out);
	if (err)
		return nl_fail(err, "plug the outside end into bridge %s", v->bridge);
	return link_up(r->host_sk, v->out, 0, true);
}

static int make_veth(struct netns_restore *r, struct nl_sock *sk, const NetnsLink *l,
		     const struct veth_pair *v)
{
	struct rtnl_link *link = rtnl_link_veth_alloc(), *peer;
	struct nl_addr *mac = NULL;
	int err;

	if (!link)
		return -ENOMEM;
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, l->name);
	rtnl_link_set_mtu(link, l->mtu);
	if (l->mac.len) {
		mac = nl_addr_build(AF_LLC, l->mac.data, l->mac.len);
		if (mac)
			rtnl_link_set_addr(link, mac);
	}
	rtnl_link_set_name(peer, v->out);
	rtnl_link_set_mtu(peer, l->mtu);
	rtnl_link_set_ns_fd(peer, r->host_fd);
	err = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	if (mac)
		nl_addr_put(mac);
	rtnl_link_put(peer);
	rtnl_link_veth_release(link);
	if (err)
		return nl_fail(err, "make veth %s", l->name);
	snprintf(r->made[r->nr_made++], VETH_NAME_LEN, "%s", v->out);
	pr_info("Made veth %s in the restored network namespace, %s outside\n", l->name, v->out);
	return plug(r, v) ?: link_up(sk, l->name, 0, l->up);
}

/* Dumped ifindexes are the dumped namespace's: links are found by name. */
static int ifindex_here(const NetnsEntry *e, uint32_t dumped)
{
	const NetnsLink *l = link_of(e, dumped);
	int idx = l ? (int)if_nametoindex(l->name) : 0;

	if (!idx)
		pr_err("Can't find link %s in the restored network namespace\n",
		       l ? l->name : "?");
	return idx;
}

static int add_addr(struct nl_sock *sk, const NetnsEntry *e, const NetnsAddr *a)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = nl_addr_build(a->family, a->addr.data, a->addr.len);
	int idx = ifindex_here(e, a->ifindex), err = -NLE_NOMEM;
	char buf[64] = "?";

	if (ra && local && idx) {
		nl_addr_set_prefixlen(local, a->prefixlen);
		nl_addr2str(local, buf, sizeof(buf));
		rtnl_addr_set_ifindex(ra, idx);
		rtnl_addr_set_local(ra, local);
		rtnl_addr_set_prefixlen(ra, a->prefixlen);
		/* The tasks bind to it at once: no duplicate detection first. */
		if (a->family == AF_INET6)
			rtnl_addr_set_flags(ra, IFA_F_NODAD);
		err = rtnl_addr_add(sk, ra, NLM_F_REPLACE);
	}
	if (local)
		nl_addr_put(local);
	if (ra)
		rtnl_addr_put(ra);
	if (!idx)
		return -ENODEV;
	return err ? nl_fail(err, "add address %s", buf) : 0;
}

static struct nl_addr *route_addr(uint32_t family, const ProtobufCBinaryData *b, uint32_t len)
{
	static const uint8_t zero[16];
	struct nl_addr *a = nl_addr_build(family, b ? b->data : zero, family_len(family));

	if (a)
		nl_addr_set_prefixlen(a, len);
	return a;
}

static int add_route(struct nl_sock *sk, const NetnsEntry *e, const NetnsRoute *r)
{
	struct rtnl_route *rr = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = route_addr(r->family, r->has_dst ? &r->dst : NULL, r->dst_len);
	struct nl_addr *gw = r->has_gateway ? route_addr(r->family, &r->gateway,
							  family_len(r->family) * 8) : NULL;
	int idx = r->oif ? ifindex_here(e, r->oif) : 0, err = -NLE_NOMEM;
	char buf[64] = "?";

	if (rr && nh && dst && (gw || !r->has_gateway) && (idx || !r->oif)) {
		nl_addr2str(dst, buf, sizeof(buf));
		rtnl_route_set_family(rr, r->family);
		rtnl_route_set_table(rr, RT_TABLE_MAIN);
		rtnl_route_set_dst(rr, dst);
		rtnl_route_set_scope(rr, r->scope);
		rtnl_route_set_protocol(rr, r->protocol);
		rtnl_route_set_priority(rr, r->priority);
		rtnl_route_set_type(rr, r->type);
		if (idx)
			rtnl_route_nh_set_ifindex(nh, idx);
		if (gw)
			rtnl_route_nh_set_gateway(nh, gw);
		rtnl_route_add_nexthop(rr, nh);
		nh = NULL;
		err = rtnl_route_add(sk, rr, NLM_F_CREATE | NLM_F_REPLACE);
	}
	if (nh)
		rtnl_route_nh_free(nh);
	if (rr)
		rtnl_route_put(rr);
	if (dst)
		nl_addr_put(dst);
	if (gw)
		nl_addr_put(gw);
	if (r->oif && !idx)
		return -ENODEV;
	return err ? nl_fail(err, "add route to %s", buf) : 0;
}

static int write_sysctls(const NetnsEntry *e)
{
	int ret = 0;

	for (size_t i = 0; i < e->n_sysctls && !ret; i++)
		ret = netns_sysctl_write(e->sysctls[i]->name, e->sysctls[i]->value);
	return ret;
}

/* lmproc's thread is inside the new namespace. */
static int fill(struct netns_restore *r, const struct lmproc_opts *opts)
{
	const NetnsEntry *e = r->e;
	struct nl_sock *sk = nl_socket_alloc();
	int ret = sk ? 0 : -ENOMEM, err;

	if (sk && (err = nl_connect(sk, NETLINK_ROUTE)))
		ret = nl_fail(err, "open a %s socket", "netlink");
	for (size_t i = 0; !ret && i < e->n_links; i++) {
		const NetnsLink *l = e->links[i];

		if (!strcmp(l->kind, "loopback"))
			ret = link_up(sk, l->name, l->mtu, l->up);
		else
			ret = make_veth(r, sk, l, pair_of(opts, l->name));
	}
	for (size_t i = 0; !ret && i < e->n_addrs; i++)
		ret = add_addr(sk, e, e->addrs[i]);
	for (size_t i = 0; !ret && i < e->n_routes; i++)
		ret = add_route(sk, e, e->routes[i]);
	if (!ret)
		ret = write_sysctls(e);
	if (!ret && e->nft_ruleset)
		ret = netns_nft_restore(e->nft_ruleset);
	if (sk)
		nl_socket_free(sk);
	return ret;
}

/* Before a link is up: the peers of the dumped connections may find
 * the namespace (a bridge learns its MAC from its first frame) before
 * their sockets exist, and would get a reset.  The lock the images name,
 * made here over all TCP, goes when the tree runs (cmd-restore.c). */
static int lock_netns(const struct restore_tree *t)
{
	const TcpRepairEntry *lock = NULL;

	for (size_t i = 0; !lock && i < t->nr; i++)
		if (t->ctx[i].plan.pid)
			lock = tcp_lock_of(&t->ctx[i].plan);
	if (!lock)
		return 0;
	pr_info("The TCP packets of the tree's network namespace are held (%s)\n", lock->lock);
	return netlock_lock_netns(lock->lock_kind, lock->lock);
}

int restore_enter_netns(const struct restore_tree *t)
{
	const struct netns_restore *r = t->netns;
	int back;

	if (!r || r->tree_fd < 0)
		return -1;
	back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (back >= 0 && !setns(r->tree_fd, CLONE_NEWNET))
		return back;
	pr_perror("Can't enter the restored tree's network namespace");
	if (back >= 0)
		close(back);
	return -1;
}

int restore_make_netns(struct restore_tree *t, const struct lmproc_opts *opts)
{
	struct netns_restore *r = t->netns;
	int ret, err;

	if (!r)
		return 0;
	r->host_sk = nl_socket_alloc();
	if (!r->host_sk)
		return -ENOMEM;
	err = nl_connect(r->host_sk, NETLINK_ROUTE);
	if (err)
		return nl_fail(err, "open a %s socket", "netlink");
	r->host_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (r->host_fd < 0 || unshare(CLONE_NEWNET)) {
		pr_perror("Can't create a network namespace for the restore");
		return -errno;
	}
	r->tree_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ret = r->tree_fd < 0 ? -errno : lock_netns(t);
	ret = ret ?: fill(r, opts);
	if (!ret) {
		pr_info("The tree's network namespace is made: %zu links, %zu addresses, %zu "
			"routes\n", r->e->n_links, r->e->n_addrs, r->e->n_routes);
		return 0;
	}
	restore_leave_netns(t);
	restore_undo_netns(t);
	return ret;
}

int restore_leave_netns(struct restore_tree *t)
{
	struct netns_restore *r = t->netns;
	int ret;

	if (!r || r->host_fd < 0)
		return 0;
	ret = netns_leave(r->host_fd);
	r->host_fd = -1;
	return ret;
}

void restore_undo_netns(struct restore_tree *t)
{
	struct netns_restore *r = t->netns;

	for (int i = 0; r && i < r->nr_made; i++) {
		struct rtnl_link *l = rtnl_link_alloc();
		int err;

		if (!l)
			continue;
		rtnl_link_set_name(l, r->made[i]);
		err = rtnl_link_delete(r->host_sk, l);
		rtnl_link_put(l);
		if (err && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND)
			pr_warn("Could not remove link %s this restore made: %s\n", r->made[i],
				nl_geterror(err));
	}
	if (r)
		r->nr_made = 0;
}
