/* Owns the packet filter rules of a tree's own network namespace
 * (netns.img's nft_ruleset): its nftables tables (iptables-nft's rules
 * are nftables tables too) as `nft list table` prints each, read through
 * libnftables inside the namespace, checked at the dump by a dry run of
 * loading them there (what the restore would refuse, the dump refuses),
 * and loaded into the namespace the restore makes, once its links,
 * addresses and routes are in.  The network lock's tables (lmproc-PID,
 * netlock.c) are lmproc's, not the tree's: left out.  A table owned by a
 * netlink socket (NFT_TABLE_F_OWNER) is refused by sk-netlink.c.  The
 * x_tables of iptables-legacy are refused: their rules have no text form
 * this side of iptables-save. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nftables/libnftables.h>

#include "common.h"
#include "log.h"
#include "netns.h"
#include "proc.h"

/* netns.img's bound: a ruleset is text of a few kB, a large one 1 MB. */
#define NFT_RULESET_MAX (16U << 20)

static const char *const legacy_tables[] = { "ip_tables_names", "ip6_tables_names",
					     "arp_tables_names" };

/* iptables-legacy tables of PID's namespace: their names (the kernel
 * lists a table once anything used it), or none. */
static int check_legacy(pid_t pid)
{
	for (size_t i = 0; i < ARRAY_SIZE(legacy_tables); i++) {
		char path[96], *names;
		size_t len = 0;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, legacy_tables[i]);
		names = proc_read_file(path, &len);
		if (names && len) {
			for (char *c = names; *c; c++)
				if (*c == '\n')
					*c = ' ';
			pr_err("pid %d: its network namespace has iptables-legacy (x_tables) tables "
			       "(%s: %.100s): not supported; nftables rules, iptables-nft's too, "
			       "are\n", pid, legacy_tables[i], names);
			free(names);
			return -EOPNOTSUPP;
		}
		free(names);
	}
	return 0;
}

static int run(struct nft_ctx *nft, const char *cmd, pid_t pid, const char *what)
{
	const char *err;

	if (!nft_run_cmd_from_buffer(nft, cmd))
		return 0;
	err = nft_ctx_get_error_buffer(nft);
	pr_err("pid %d: nftables can't %s in its network namespace: %.300s\n", pid, what,
	       err && *err ? err : "no reason given");
	return -EIO;
}

/* A table lmproc's network lock made (netlock.c's "lmproc-PID"). */
static bool lock_table(const char *family, const char *name)
{
	const char *p = name + strlen("lmproc-");

	if (strcmp(family, "inet") || strncmp(name, "lmproc-", strlen("lmproc-")) || !*p)
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return !*p;
}

/* Each table `list tables` names, printed in full, into OUT. */
static int list_tables(struct nft_ctx *nft, pid_t pid, FILE *out)
{
	char *tables, *save = NULL, cmd[160];
	const char *text;
	int ret;

	ret = run(nft, "list tables", pid, "list its tables");
	if (ret)
		return ret;
	tables = strdup(nft_ctx_get_output_buffer(nft) ?: "");
	if (!tables)
		return -ENOMEM;
	for (char *l = strtok_r(tables, "\n", &save); l && !ret; l = strtok_r(NULL, "\n", &save)) {
		char family[16], name[128];

		if (sscanf(l, "table %15s %127s", family, name) != 2 || lock_table(family, name))
			continue;
		snprintf(cmd, sizeof(cmd), "list table %s %s", family, name);
		ret = run(nft, cmd, pid, "list a table");
		if (ret)
			break;
		/* Read once: reading the buffer empties it.  An owned table is
		 * its netlink socket's: refused with it (sk-netlink.c) when
		 * the tree holds that socket, else it goes with its owner,
		 * not with the tree. */
		text = nft_ctx_get_output_buffer(nft) ?: "";
		if (!strstr(text, "\n\tflags owner"))
			fputs(text, out);
	}
	free(tables);
	return ret;
}

int netns_nft_dump(pid_t pid, char **ruleset)
{
	struct nft_ctx *nft;
	size_t len = 0;
	char *text = NULL;
	FILE *out;
	int ret = check_legacy(pid);

	if (ret || !ruleset)
		return ret;
	*ruleset = NULL;
	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	out = open_memstream(&text, &len);
	if (!nft || !out || nft_ctx_buffer_output(nft) || nft_ctx_buffer_error(nft))
		ret = -ENOMEM;
	if (!ret)
		ret = list_tables(nft, pid, out);
	if (out)
		fclose(out);
	if (!ret && len > NFT_RULESET_MAX) {
		pr_err("pid %d: the nftables ruleset of its network namespace is %zu bytes: more "
		       "than lmproc's %u\n", pid, len, NFT_RULESET_MAX);
		ret = -E2BIG;
	}
	/* The restore loads it into an empty namespace with the same links;
	 * here it is checked against the kernel, nothing committed. */
	if (!ret && len) {
		nft_ctx_set_dry_run(nft, true);
		ret = run(nft, text, pid, "load its own ruleset again (a dry run)");
	}
	if (nft)
		nft_ctx_free(nft);
	if (!ret && len)
		*ruleset = text;
	else
		free(text);
	return ret;
}

int netns_nft_check(const char *ruleset)
{
	size_t len = strnlen(ruleset, NFT_RULESET_MAX + 1);

	return len <= NFT_RULESET_MAX ? 0 : -E2BIG;
}

int netns_nft_restore(const char *ruleset)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *err;
	int ret = 0;

	if (!nft || nft_ctx_buffer_output(nft) || nft_ctx_buffer_error(nft)) {
		if (nft)
			nft_ctx_free(nft);
		return -ENOMEM;
	}
	if (nft_run_cmd_from_buffer(nft, ruleset)) {
		err = nft_ctx_get_error_buffer(nft);
		pr_err("nftables can't load the tree's ruleset in the restored network namespace: "
		       "%.300s\n", err && *err ? err : "no reason given");
		ret = -EIO;
	}
	nft_ctx_free(nft);
	return ret;
}
