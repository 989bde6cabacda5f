/* Owns the network lock (include/netlock.h): an nftables table
 * "inet lmproc-PID" (libnftables) whose two sets hold both directions of
 * every dumped connection (one set lookup per packet, whatever the
 * number of connections), matched by one drop rule per hook and family;
 * or iptables/ip6tables chains "lmproc-PID" jumped to from INPUT and
 * OUTPUT, with one drop rule per direction of each connection.  The
 * name is recorded in the images so that the restore (another lmproc)
 * removes it.  Every chain lets the packets a restore injects (marked
 * NETLOCK_MARK) through first.  The lock lives in the network namespace
 * of the connections (where their packets pass: a tree's own namespace,
 * not lmproc's), and a restore into a new namespace makes it there again
 * over all of its TCP until the tree runs (netlock_lock_netns).  The
 * dump's nftables lock lives in a table owned by its
 * libnftables context's netlink socket (NFT_TABLE_F_OWNER, Linux 5.12):
 * the kernel removes it if lmproc dies, so that a killed dump never
 * leaves a rule cutting the running tree's connections; at the commit
 * point (netlock_commit) the same rules go into the persistent
 * "lmproc-PID" the restore removes.  Connections are queued
 * (netlock_add) and locked in one transaction (netlock_flush). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "netlock.h"
#include "netns.h"

/* One direction pair of a connection in the set of its family. */
struct elem {
	bool v6;
	char *text; /* "A . P . B . Q, B . Q . A . P" */
};

struct netlock {
	enum netlock_kind kind;
	bool made;  /* the rules exist */
	bool owned; /* nftables: in the table owned by nft's netlink socket */
	pid_t pid;  /* a task of the namespace the lock lives in */
	struct nft_ctx *nft; /* its netlink socket opened in that namespace */
	char name[32];	/* the lock the images name */
	char table[40]; /* the nftables table holding the rules now */
	void *seen;	/* the elements' texts, once each */
	struct elem *elems;
	size_t nr, cap, done; /* elements; of them, in the kernel */
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

static int nft_run_ctx(struct nft_ctx *nft, const char *cmd, bool quiet)
{
	const char *err;
	int ret;

	nft_ctx_buffer_error(nft);
	ret = nft_run_cmd_from_buffer(nft, cmd);
	if (ret && !quiet) {
		err = nft_ctx_get_error_buffer(nft);
		pr_err("nftables refused \"%.200s\": %s\n", cmd, err ? err : "?");
	}
	return ret ? -EIO : 0;
}

static int nft_run(const char *cmd)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int ret;

	if (!nft)
		return -ENOMEM;
	ret = nft_run_ctx(nft, cmd, false);
	nft_ctx_free(nft);
	return ret;
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

static int ipt_make(struct netlock *l)
{
	int ret = 0;

	for (int i = 0; i < 2 && !ret; i++)
		ret = ipt(ipt_tools[i], false, "-N", l->name, NULL, NULL) ?:
		      ipt(ipt_tools[i], false, "-I", "INPUT", "-j", l->name) ?:
		      ipt(ipt_tools[i], false, "-I", "OUTPUT", "-j", l->name) ?:
		      ipt_mark_rule(ipt_tools[i], l->name);
	l->made = true;
	if (ret)
		netlock_release(l->kind, l->name);
	l->made = !ret;
	return ret;
}

/* Table TABLE (owned by nft's socket if OWNED) with its sets, chains and
 * rules, written to F. */
static void nft_table_text(FILE *f, const char *table, bool owned)
{
	static const char *const hooks[] = { "in", "out" };

	fprintf(f, "add table inet %s%s\n", table, owned ? " { flags owner; }" : "");
	fprintf(f, "add set inet %s c4 { type ipv4_addr . inet_service . ipv4_addr . "
		   "inet_service; }\n", table);
	fprintf(f, "add set inet %s c6 { type ipv6_addr . inet_service . ipv6_addr . "
		   "inet_service; }\n", table);
	for (int i = 0; i < 2; i++) {
		fprintf(f, "add chain inet %s %s { type filter hook %sput priority -150; }\n",
			table, hooks[i], i ? "out" : "in");
		fprintf(f, "add rule inet %s %s meta mark 0x%x accept\n", table, hooks[i],
			NETLOCK_MARK);
		fprintf(f, "add rule inet %s %s ip saddr . tcp sport . ip daddr . tcp dport @c4 "
			   "drop\n", table, hooks[i]);
		fprintf(f, "add rule inet %s %s ip6 saddr . tcp sport . ip6 daddr . tcp dport @c6 "
			   "drop\n", table, hooks[i]);
	}
}

/* Elements FROM.. of L added to TABLE's sets, written to F. */
static void nft_elems_text(const struct netlock *l, FILE *f, const char *table, size_t from)
{
	for (int v6 = 0; v6 < 2; v6++) {
		bool any = false;

		for (size_t i = from; i < l->nr; i++) {
			if (l->elems[i].v6 != v6)
				continue;
			if (!any)
				fprintf(f, "add element inet %s c%d { ", table, v6 ? 6 : 4);
			else
				fputs(",\n", f);
			fputs(l->elems[i].text, f);
			any = true;
		}
		if (any)
			fputs(" }\n", f);
	}
}

/* One transaction in L's context: TABLE made whole (WHOLE: its sets,
 * chains and rules, owned if OWNED) and L's elements FROM.. added. */
static int nft_batch(struct netlock *l, const char *table, bool owned, size_t from, bool whole,
		     bool quiet)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	if (whole)
		nft_table_text(f, table, owned);
	nft_elems_text(l, f, table, from);
	if (fclose(f))
		return -ENOMEM;
	return nft_run_ctx(l->nft, buf, quiet);
}

/* The dump's table: owned where the kernel and nft have it, else the
 * persistent one at once. */
static int nft_make(struct netlock *l)
{
	int back = netns_enter(l->pid), ret;

	if (back < 0)
		return back;
	l->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	ret = netns_leave(back);
	if (!l->nft)
		return -ENOMEM;
	if (ret)
		return ret;
	snprintf(l->table, sizeof(l->table), "%s-dump", l->name);
	ret = nft_batch(l, l->table, true, l->done, true, true);
	if (!ret) {
		l->owned = l->made = true;
		return 0;
	}
	pr_warn("nftables can't make a table owned by lmproc (flags owner: Linux 5.12, nft "
		"0.9.9): the network lock stays if lmproc is killed during the dump (%.200s)\n",
		nft_ctx_get_error_buffer(l->nft) ?: "?");
	snprintf(l->table, sizeof(l->table), "%s", l->name);
	ret = nft_batch(l, l->table, false, l->done, true, false);
	l->made = !ret;
	return ret;
}

int netlock_flush(struct netlock *l)
{
	int ret;

	if (!l || l->kind != NETLOCK_NFT || l->done == l->nr)
		return 0;
	ret = l->made ? nft_batch(l, l->table, l->owned, l->done, false, false) : nft_make(l);
	if (!ret)
		l->done = l->nr;
	return ret;
}

int netlock_commit(struct netlock *l)
{
	char cmd[128];
	int ret;

	if (!l || l->kind != NETLOCK_NFT || !l->owned)
		return 0;
	ret = netlock_flush(l) ?: nft_batch(l, l->name, false, 0, true, false);
	if (ret) {
		pr_err("Can't hand the network lock over to the restore (table inet %s)\n", l->name);
		return ret;
	}
	l->owned = false;
	snprintf(cmd, sizeof(cmd), "delete table inet %s\n", l->table);
	snprintf(l->table, sizeof(l->table), "%s", l->name);
	/* Left, it goes with lmproc's socket anyway. */
	if (nft_run_ctx(l->nft, cmd, false))
		pr_warn("The dump's own network lock stays until lmproc exits\n");
	return 0;
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

static void nop_free(void *p)
{
	(void)p;
}

static int elem_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Both directions of the connection queued in the set of its family
 * (for nftables; iptables takes them at once): 1 if new, 0 if queued
 * before (its fd is the tree's and it was locked at the freeze), or
 * -errno. */
static int queue_conn(struct netlock *l, bool v6, const char *lh, unsigned lp, const char *ph,
		      unsigned pp)
{
	char text[2 * (2 * INET6_ADDRSTRLEN + 24)], **at;
	struct elem *e;

	snprintf(text, sizeof(text), "%s . %u . %s . %u, %s . %u . %s . %u", ph, pp, lh, lp, lh,
		 lp, ph, pp);
	if (tfind(text, &l->seen, elem_cmp))
		return 0;
	if (l->nr == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;

		e = realloc(l->elems, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		l->elems = e;
		l->cap = cap;
	}
	e = &l->elems[l->nr];
	e->v6 = v6;
	e->text = strdup(text);
	if (!e->text)
		return -ENOMEM;
	at = tsearch(e->text, &l->seen, elem_cmp);
	if (!at) {
		free(e->text);
		return -ENOMEM;
	}
	l->nr++;
	return 1;
}

int netlock_add(struct netlock *l, pid_t pid, const struct sockaddr_storage *local,
		const struct sockaddr_storage *peer)
{
	char lh[INET6_ADDRSTRLEN], ph[INET6_ADDRSTRLEN];
	unsigned lp, pp;
	int family, back, ret;

	if (l->kind == NETLOCK_SKIP)
		return 0;
	if (!l->pid)
		l->pid = pid;
	family = wire_addr(local, lh, sizeof(lh), &lp);
	wire_addr(peer, ph, sizeof(ph), &pp);
	ret = queue_conn(l, family == AF_INET6, lh, lp, ph, pp);
	if (ret <= 0 || l->kind == NETLOCK_NFT)
		return ret < 0 ? ret : 0;
	back = netns_enter(l->pid);
	if (back < 0)
		return back;
	ret = l->made ? 0 : ipt_make(l);
	ret = ret ?: ipt_rule(l, family, ph, pp, lh, lp) ?: ipt_rule(l, family, lh, lp, ph, pp);
	return netns_leave(back) ?: ret;
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

int netlock_lock_netns(enum netlock_kind kind, const char *name)
{
	struct netlock l = { .kind = kind };
	char cmd[512];
	int ret;

	snprintf(l.name, sizeof(l.name), "%s", name);
	if (kind == NETLOCK_NFT) {
		snprintf(cmd, sizeof(cmd),
			 "add table inet %s\n"
			 "add chain inet %s in { type filter hook input priority -150; }\n"
			 "add chain inet %s out { type filter hook output priority -150; }\n"
			 "add rule inet %s in meta mark 0x%x accept\n"
			 "add rule inet %s out meta mark 0x%x accept\n"
			 "add rule inet %s in meta l4proto tcp drop\n"
			 "add rule inet %s out meta l4proto tcp drop\n",
			 name, name, name, name, NETLOCK_MARK, name, NETLOCK_MARK, name, name);
		ret = nft_run(cmd);
	} else {
		ret = ipt_make(&l);
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
	char cmd[128];
	int ret = 0;

	if (!l)
		return 0;
	if (release && l->made && l->kind == NETLOCK_NFT) {
		snprintf(cmd, sizeof(cmd), "delete table inet %s\n", l->table);
		ret = nft_run_ctx(l->nft, cmd, false);
	} else if (release && l->made) {
		int back = netns_enter(l->pid);

		ret = back < 0 ? back : netlock_release(l->kind, l->name);
		if (back >= 0)
			ret = netns_leave(back) ?: ret;
	}
	/* An owned table left (a dump that could not remove it) goes with
	 * the context's socket. */
	if (l->nft)
		nft_ctx_free(l->nft);
	tdestroy(l->seen, nop_free);
	for (size_t i = 0; i < l->nr; i++)
		free(l->elems[i].text);
	free(l->elems);
	free(l);
	return ret;
}
