/* Owns what an IP socket's fd does not show through getsockopt: its
 * shutdown state and TCP MD5 keys, from sock_diag (NETLINK_SOCK_DIAG,
 * inet_diag, through libnl), and its multicast memberships, from the
 * groups /proc/PID/net/igmp and igmp6 list per interface, each asked
 * of the socket (MCAST_MSFILTER answers only for groups it joined). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "common.h"
#include "netns.h"
#include "sk-opts.h"

struct diag_find {
	unsigned long ino;
	bool found;
	unsigned shutdown;
	bool md5;
};

static int diag_cb(struct nl_msg *msg, void *arg)
{
	struct diag_find *f = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct inet_diag_msg *m = nlmsg_data(nlh);
	struct nlattr *tb[INET_DIAG_MAX + 1];

	if (m->idiag_inode != f->ino ||
	    nlmsg_parse(nlh, sizeof(*m), tb, INET_DIAG_MAX, NULL) < 0)
		return NL_SKIP;
	f->found = true;
	if (tb[INET_DIAG_SHUTDOWN] && nla_len(tb[INET_DIAG_SHUTDOWN]) >= 1)
		f->shutdown = *(const uint8_t *)nla_data(tb[INET_DIAG_SHUTDOWN]);
	f->md5 = tb[INET_DIAG_MD5SIG] && nla_len(tb[INET_DIAG_MD5SIG]) > 0;
	return NL_OK;
}

int inet_diag_state(pid_t pid, int family, int proto, unsigned long ino, unsigned *shutdown,
		    bool *md5)
{
	/* The MD5 keys come with INET_DIAG_INFO, to CAP_NET_ADMIN. */
	struct inet_diag_req_v2 req = { .sdiag_family = family, .sdiag_protocol = proto,
					.idiag_ext = 1 << (INET_DIAG_INFO - 1),
					.idiag_states = ~0U };
	struct diag_find f = { .ino = ino };
	struct nl_sock *sk = nl_socket_alloc();
	int ret = -EIO, back, err;

	if (!sk)
		return -ENOMEM;
	nl_socket_enable_msg_peek(sk);
	/* sock_diag lists the sockets of the namespace its socket lives in. */
	back = netns_enter(pid);
	if (back < 0) {
		nl_socket_free(sk);
		return back;
	}
	err = nl_connect(sk, NETLINK_SOCK_DIAG);
	ret = netns_leave(back);
	if (ret) {
		nl_socket_free(sk);
		return ret;
	}
	ret = -EIO;
	if (!err &&
	    !nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, diag_cb, &f) &&
	    nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req)) >= 0 &&
	    nl_recvmsgs_default(sk) >= 0)
		ret = f.found ? 0 : -ENOENT;
	nl_socket_free(sk);
	*shutdown = f.shutdown;
	*md5 = f.md5;
	return ret;
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
