/* Owns the announcement of a restored network namespace's addresses
 * (restore into a namespace of the tree's own, net/netns.c), as QEMU
 * announces a migrated VM: once the network lock is gone, from inside
 * that namespace, a gratuitous ARP request and reply (broadcast) for each
 * IPv4 address of each link that is up and has an Ethernet address, and
 * an unsolicited neighbour advertisement (to ff02::1, override flag, the
 * link's MAC as target link-layer option) for each IPv6 one.  A bridge
 * learns the new port of that MAC, and the peers' neighbour caches the
 * MAC, at once rather than after their entries time out.  An
 * announcement that fails is a warning: the tree is restored. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_addr.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include "announce.h"
#include "log.h"
#include "netns.h"
#include "restore.h"

struct garp {
	struct arphdr h;
	uint8_t sha[ETH_ALEN];
	uint8_t sip[4];
	uint8_t tha[ETH_ALEN];
	uint8_t tip[4];
} __attribute__((packed));

struct unsol_na {
	struct nd_neighbor_advert h;
	struct nd_opt_hdr opt;
	uint8_t mac[ETH_ALEN];
} __attribute__((packed));

struct announce {
	struct nl_cache *links;
	int arp_sk;  /* AF_PACKET, ETH_P_ARP */
	int icmp_sk; /* raw ICMPv6, hop limit 255 as neighbour discovery needs */
	int nr_v4, nr_v6, nr_failed;
};

/* A request, then a reply whose target hardware address is the sender's:
 * Linux takes either as gratuitous (arp_is_garp) and updates its entry. */
static int send_garp(const struct announce *a, int ifindex, const uint8_t *mac, const void *ip)
{
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ARP),
		.sll_ifindex = ifindex,
		.sll_halen = ETH_ALEN,
		.sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	struct garp g = {
		.h = { htons(ARPHRD_ETHER), htons(ETH_P_IP), ETH_ALEN, 4, htons(ARPOP_REQUEST) },
	};

	memcpy(g.sha, mac, ETH_ALEN);
	memcpy(g.sip, ip, 4);
	memcpy(g.tip, ip, 4);
	if (sendto(a->arp_sk, &g, sizeof(g), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	g.h.ar_op = htons(ARPOP_REPLY);
	memcpy(g.tha, mac, ETH_ALEN);
	if (sendto(a->arp_sk, &g, sizeof(g), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

/* From the address itself (IPV6_PKTINFO), so that the advertisement
 * names the address its peers know. */
static int send_na(const struct announce *a, int ifindex, const uint8_t *mac, const void *ip)
{
	struct sockaddr_in6 to = {
		.sin6_family = AF_INET6,
		.sin6_scope_id = ifindex,
	};
	struct unsol_na na = {
		.h.nd_na_type = ND_NEIGHBOR_ADVERT,
		.h.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE,
		.opt = { ND_OPT_TARGET_LINKADDR, 1 },
	};
	char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo))] = { 0 };
	struct iovec iov = { &na, sizeof(na) };
	struct msghdr m = {
		.msg_name = &to,
		.msg_namelen = sizeof(to),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	struct in6_pktinfo pi = { .ipi6_ifindex = ifindex };

	inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
	memcpy(&na.h.nd_na_target, ip, 16);
	memcpy(na.mac, mac, ETH_ALEN);
	memcpy(&pi.ipi6_addr, ip, 16);
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	return sendmsg(a->icmp_sk, &m, 0) < 0 ? -errno : 0;
}

/* The Ethernet address of link IFINDEX if it is up, not loopback and
 * speaks ARP; NULL otherwise. */
static const uint8_t *link_mac(const struct announce *a, int ifindex)
{
	struct rtnl_link *l = rtnl_link_get(a->links, ifindex);
	struct nl_addr *mac = l ? rtnl_link_get_addr(l) : NULL;
	unsigned flags = l ? rtnl_link_get_flags(l) : 0;
	const uint8_t *ret = NULL;

	if (mac && rtnl_link_get_arptype(l) == ARPHRD_ETHER && (flags & IFF_UP) &&
	    !(flags & (IFF_LOOPBACK | IFF_NOARP)) && nl_addr_get_len(mac) == ETH_ALEN)
		ret = nl_addr_get_binary_addr(mac);
	if (l)
		rtnl_link_put(l);
	return ret;
}

static void announce_addr(struct nl_object *o, void *arg)
{
	struct rtnl_addr *ra = (struct rtnl_addr *)o;
	struct announce *a = arg;
	struct nl_addr *local = rtnl_addr_get_local(ra);
	int ifindex = rtnl_addr_get_ifindex(ra), family = rtnl_addr_get_family(ra), ret;
	const uint8_t *mac = link_mac(a, ifindex);
	char name[64];

	/* A tentative address can't be a source yet: its own DAD speaks. */
	if (!mac || !local || (rtnl_addr_get_flags(ra) & (IFA_F_TENTATIVE | IFA_F_DADFAILED)))
		return;
	if (family == AF_INET && nl_addr_get_len(local) == 4)
		ret = send_garp(a, ifindex, mac, nl_addr_get_binary_addr(local));
	else if (family == AF_INET6 && nl_addr_get_len(local) == 16)
		ret = send_na(a, ifindex, mac, nl_addr_get_binary_addr(local));
	else
		return;
	if (!ret) {
		*(family == AF_INET ? &a->nr_v4 : &a->nr_v6) += 1;
		return;
	}
	a->nr_failed++;
	nl_addr2str(local, name, sizeof(name));
	pr_warn("Could not announce the restored address %s: %s\n", name, strerror(-ret));
}

static int open_sockets(struct announce *a)
{
	int hops = 255;

	a->arp_sk = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	a->icmp_sk = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	if (a->arp_sk < 0 || a->icmp_sk < 0 ||
	    setsockopt(a->icmp_sk, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)))
		return -errno;
	return 0;
}

/* lmproc's thread is inside the restored namespace. */
static int announce_inside(struct announce *a)
{
	struct nl_cache *addrs = NULL;
	struct nl_sock *sk = nl_socket_alloc();
	int err = sk ? nl_connect(sk, NETLINK_ROUTE) : -NLE_NOMEM;

	err = err ?: rtnl_link_alloc_cache(sk, AF_UNSPEC, &a->links);
	err = err ?: rtnl_addr_alloc_cache(sk, &addrs);
	if (err) {
		pr_warn("Can't list the restored network namespace's addresses to announce "
			"them: %s\n", nl_geterror(err));
	} else if (open_sockets(a)) {
		pr_warn("Can't open sockets to announce the restored addresses: %s\n",
			strerror(errno));
		err = -NLE_FAILURE;
	} else {
		nl_cache_foreach(addrs, announce_addr, a);
	}
	if (addrs)
		nl_cache_free(addrs);
	if (a->links)
		nl_cache_free(a->links);
	if (sk)
		nl_socket_free(sk);
	return err;
}

void restore_announce(const struct restore_tree *t)
{
	struct announce a = { .arp_sk = -1, .icmp_sk = -1 };
	int back;

	if (!t->netns)
		return;
	back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (back < 0 || setns(t->ctx[0].pidfd, CLONE_NEWNET)) {
		pr_warn("Can't enter the restored network namespace to announce its addresses: "
			"%s\n", strerror(errno));
		if (back >= 0)
			close(back);
		return;
	}
	if (!announce_inside(&a) && !a.nr_failed)
		pr_info("Announced %d IPv4 and %d IPv6 addresses of the restored network "
			"namespace\n", a.nr_v4, a.nr_v6);
	if (a.arp_sk >= 0)
		close(a.arp_sk);
	if (a.icmp_sk >= 0)
		close(a.icmp_sk);
	netns_leave(back);
}
