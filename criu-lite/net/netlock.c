/* Owns the network lock (include/netlock.h): an nftables table
 * "inet lmproc-PID" (libnftables) or iptables/ip6tables chains
 * "lmproc-PID" jumped to from INPUT and OUTPUT, with one drop rule per
 * direction of each dumped connection, after one that lets the packets
 * a restore injects (marked NETLOCK_MARK) through, in the network
 * namespace of the connections (where their packets pass: a tree's own
 * namespace, not lmproc's).  The name is recorded in the images so that
 * the restore (another lmproc) removes it; a restore into a new namespace
 * makes it there again over all of its TCP until the tree runs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "netlock.h"
#include "netns.h"

struct netlock {
	enum netlock_kind kind;
	bool made;
	pid_t pid; /* a task of the namespace the lock lives in */
	char name[32];
};

struct netlock *netlock_new(enum netlock_kind kind)
{
	struct netlock *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->kind = kind;
	snprintf(l->name, sizeof(l->name), "lmproc-%d", getpid());
	return l;
}

const char *netlock_name(const struct netlock *l)
{
	return l && l->made ? l->name : NULL;
}

enum netlock_kind netlock_kind_of(const struct netlock *l)
{
	return l->kind;
}

static int nft_run(const char *cmd)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *err;
	int ret;

	if (!nft)
		return -ENOMEM;
	nft_ctx_buffer_error(nft);
	ret = nft_run_cmd_from_buffer(nft, cmd);
	if (ret) {
		err = nft_ctx_get_error_buffer(nft);
		pr_err("nftables refused \"%.200s\": %s\n", cmd, err ? err : "?");
	}
	nft_ctx_free(nft);
	return ret ? -EIO : 0;
}

/* Runs ARGV (iptables...) quietly; its exit status, or -errno. */
static int run_cmd(char *const argv[], bool quiet)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (!pid) {
		if (quiet && !freopen("/dev/null", "w", stderr))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -EIO;
}

static int ipt(const char *tool, bool quiet, const char *a, const char *b, const char *c,
	       const char *d)
{
	char *argv[] = { (char *)tool, "-w", (char *)a, (char *)b, (char *)c, (char *)d, NULL };
	int ret = run_cmd(argv, quiet);

	if (ret && !quiet)
		pr_err("%s -w %s %s %s %s failed (%d)\n", tool, a, b, c ?: "", d ?: "", ret);
	return ret ? -EIO : 0;
}

static const char *const ipt_tools[] = { "iptables", "ip6tables" };

/* The chain's first rule: packets of NETLOCK_MARK go on. */
static int ipt_mark_rule(const char *tool, const char *chain)
{
	char mark[16];
	char *argv[] = { (char *)tool, "-w", "-A", (char *)chain, "-m", "mark", "--mark",
			 mark, "-j", "RETURN", NULL };

	snprintf(mark, sizeof(mark), "0x%x", NETLOCK_MARK);
	if (run_cmd(argv, false)) {
		pr_err("%s can't add the mark rule to chain %s\n", tool, chain);
		return -EIO;
	}
	return 0;
}

static int make_lock(struct netlock *l)
{
	char cmd[384];
	int ret = 0;

	if (l->kind == NETLOCK_NFT) {
		snprintf(cmd, sizeof(cmd),
			 "add table inet %s\n"
			 "add chain inet %s in { type filter hook input priority -150; }\n"
			 "add chain inet %s out { type filter hook output priority -150; }\n"
			 "add rule inet %s in meta mark 0x%x accept\n"
			 "add rule inet %s out meta mark 0x%x accept\n",
			 l->name, l->name, l->name, l->name, NETLOCK_MARK, l->name, NETLOCK_MARK);
		ret = nft_run(cmd);
	} else {
		for (int i = 0; i < 2 && !ret; i++)
			ret = ipt(ipt_tools[i], false, "-N", l->name, NULL, NULL) ?:
			      ipt(ipt_tools[i], false, "-I", "INPUT", "-j", l->name) ?:
			      ipt(ipt_tools[i], false, "-I", "OUTPUT", "-j", l->name) ?:
			      ipt_mark_rule(ipt_tools[i], l->name);
	}
	l->made = true;
	if (ret)
		netlock_release(l->kind, l->name);
	l->made = !ret;
	return ret;
}

/* A v4-mapped IPv6 address is an IPv4 one on the wire. */
static int wire_addr(const struct sockaddr_storage *ss, char *host, size_t len, unsigned *port)
{
	const struct sockaddr_in *a4 = (const void *)ss;
	const struct sockaddr_in6 *a6 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &a4->sin_addr, host, len);
		*port = ntohs(a4->sin_port);
		return AF_INET;
	}
	*port = ntohs(a6->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
		inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], host, len);
		return AF_INET;
	}
	inet_ntop(AF_INET6, &a6->sin6_addr, host, len);
	return AF_INET6;
}

static int ipt_rule(const struct netlock *l, int family, const char *src, unsigned sport,
		    const char *dst, unsigned dport)
{
	char sp[8], dp[8];
	char *argv[] = { (char *)ipt_tools[family == AF_INET6], "-w", "-A", (char *)l->name,
			 "-p", "tcp", "-s", (char *)src, "--sport", sp, "-d", (char *)dst,
			 "--dport", dp, "-j", "DROP", NULL };

	snprintf(sp, sizeof(sp), "%u", sport);
	snprintf(dp, sizeof(dp), "%u", dport);
	if (run_cmd(argv, false)) {
		pr_err("%s can't add a rule to chain %s\n", argv[0], l->name);
		return -EIO;
	}
	return 0;
}

static int add_rules(struct netlock *l, const struct sockaddr_storage *local,
		     const struct sockaddr_storage *peer)
{
	char lh[INET6_ADDRSTRLEN], ph[INET6_ADDRSTRLEN], cmd[512];
	unsigned lp, pp;
	int family, ret;
	const char *ip;

	if (!l->made) {
		ret = make_lock(l);
		if (ret)
			return ret;
	}
	family = wire_addr(local, lh, sizeof(lh), &lp);
	wire_addr(peer, ph, sizeof(ph), &pp);
	if (l->kind == NETLOCK_IPT)
		return ipt_rule(l, family, ph, pp, lh, lp) ?: ipt_rule(l, family, lh, lp, ph, pp);
	ip = family == AF_INET ? "ip" : "ip6";
	snprintf(cmd, sizeof(cmd),
		 "add rule inet %s in %s saddr %s %s daddr %s tcp sport %u tcp dport %u drop\n"
		 "add rule inet %s out %s saddr %s %s daddr %s tcp sport %u tcp dport %u drop\n",
		 l->name, ip, ph, ip, lh, pp, lp, l->name, ip, lh, ip, ph, lp, pp);
	return nft_run(cmd);
}

/* Whether table NAME is there: a dump -R released its lock already, and
 * a restore from its images finds nothing to remove. */
static bool nft_table_exists(const char *name)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	char cmd[64];
	bool ret;

	if (!nft)
		return true;
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	snprintf(cmd, sizeof(cmd), "list table inet %s\n", name);
	ret = !nft_run_cmd_from_buffer(nft, cmd);
	nft_ctx_free(nft);
	return ret;
}

int netlock_add(struct netlock *l, pid_t pid, const struct sockaddr_storage *local,
		const struct sockaddr_storage *peer)
{
	int back, ret;

	if (l->kind == NETLOCK_SKIP)
		return 0;
	if (!l->made)
		l->pid = pid;
	back = netns_enter(l->pid);
	if (back < 0)
		return back;
	ret = add_rules(l, local, peer);
	return netns_leave(back) ?: ret;
}

int netlock_lock_netns(enum netlock_kind kind, const char *name)
{
	struct netlock l = { .kind = kind };
	char cmd[256];
	int ret;

	snprintf(l.name, sizeof(l.name), "%s", name);
	ret = make_lock(&l);
	if (ret)
		return ret;
	if (kind == NETLOCK_NFT) {
		snprintf(cmd, sizeof(cmd),
			 "add rule inet %s in meta l4proto tcp drop\n"
			 "add rule inet %s out meta l4proto tcp drop\n", name, name);
		ret = nft_run(cmd);
	}
	for (int i = 0; i < 2 && kind == NETLOCK_IPT && !ret; i++) {
		char *argv[] = { (char *)ipt_tools[i], "-w", "-A", l.name, "-p", "tcp", "-j",
				 "DROP", NULL };

		ret = run_cmd(argv, false) ? -EIO : 0;
	}
	if (ret) {
		pr_err("Can't lock the TCP packets of the restored network namespace (%s)\n", name);
		netlock_release(kind, name);
	}
	return ret;
}

int netlock_release(enum netlock_kind kind, const char *name)
{
	char cmd[128];
	int ret = 0;

	if (kind == NETLOCK_NFT) {
		if (!nft_table_exists(name))
			return 0;
		snprintf(cmd, sizeof(cmd), "delete table inet %s\n", name);
		return nft_run(cmd);
	}
	/* Each step may find its part already gone (a lock half made). */
	for (int i = 0; i < 2; i++) {
		ipt(ipt_tools[i], true, "-D", "INPUT", "-j", name);
		ipt(ipt_tools[i], true, "-D", "OUTPUT", "-j", name);
		ipt(ipt_tools[i], true, "-F", name, NULL, NULL);
		if (ipt(ipt_tools[i], true, "-X", name, NULL, NULL) &&
		    !ipt(ipt_tools[i], true, "-L", name, NULL, NULL)) {
			pr_err("%s can't remove chain %s\n", ipt_tools[i], name);
			ret = -EIO;
		}
	}
	return ret;
}

int netlock_end(struct netlock *l, bool release)
{
	int ret = 0;

	if (!l)
		return 0;
	if (release && l->made) {
		int back = netns_enter(l->pid);

		ret = back < 0 ? back : netlock_release(l->kind, l->name);
		if (back >= 0)
			ret = netns_leave(back) ?: ret;
	}
	free(l);
	return ret;
}
