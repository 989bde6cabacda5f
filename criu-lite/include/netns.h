/* The network namespace a tree's root owns (net/netns.c): dumped into
 * netns.img when it is not lmproc's (links, addresses, main-table routes,
 * the sysctls that matter), made again at restore before the tree is
 * forked into it, with the outside ends of its veths named by
 * --veth-pair. */
#ifndef LMPROC_NETNS_H
#define LMPROC_NETNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "opts.h"
#include "pstree.h"

struct restore_tree;

/* Dump side.  Every live process of T must share its root's network
 * namespace; if that is not lmproc's, its links must be ones lmproc can
 * make.  DFD < 0: check only (pre-dump), else netns.img is written. */
int netns_dump(int dfd, const struct pstree *t);
/* 0 if PID lives in lmproc's namespace or in the dumped tree's and its
 * socket FD in PID's; else -EOPNOTSUPP, refused naming pid, fd and WHAT. */
int netns_check_sock(pid_t pid, int fd, const char *what);
/* Enters PID's network namespace (the calling thread only): lmproc's own
 * namespace fd to go back with, or -errno (logged). */
int netns_enter(pid_t pid);
/* The nftables tables of PID's network namespace (lmproc's thread inside
 * it), checked by a dry run of loading them there: *RULESET their text
 * (malloc'd) or NULL for none.  Refused: iptables-legacy tables, the only
 * check with RULESET NULL (a pre-dump's). */
int netns_nft_dump(pid_t pid, char **ruleset);
/* netns.img's RULESET is within bounds. */
int netns_nft_check(const char *ruleset);
/* Loads RULESET where lmproc's thread is: the restored namespace. */
int netns_nft_restore(const char *ruleset);
/* The sysctls of a network namespace that differ from a new one's. */
struct netns_sysctl {
	char *name; /* under /proc/sys/net: "core/somaxconn" */
	char *value;
};
struct netns_sysctls {
	struct netns_sysctl *v;
	size_t nr, cap;
};
/* Before the freeze: what netns_dump will compare with, read now if
 * ROOT's network namespace is not lmproc's. */
void netns_dump_prepare(pid_t root);
/* Reads, once per lmproc, what a new network namespace has. */
int netns_sysctl_prepare(void);
/* The sysctls of the namespace lmproc's thread is in (PID's, for errors)
 * whose values differ from a new namespace's, in the order the restore
 * writes them. */
int netns_sysctl_read(pid_t pid, struct netns_sysctls *s);
void netns_sysctl_free(struct netns_sysctls *s);
/* NAME and VALUE are ones the restore may write (netns.img's check). */
bool netns_sysctl_ok(const char *name, const char *value);
/* Writes VALUE to NAME where lmproc's thread is (logged on failure). */
int netns_sysctl_write(const char *name, const char *value);
/* Back to lmproc's namespace from netns_enter(); closes BACK. */
int netns_leave(int back);
/* PID's network namespace if it is the dumped tree's own (netns_dump
 * found it not lmproc's): an fd; else -1. */
int netns_open_tree(pid_t pid);
/* The killed tree's namespace NSFD is about to go: every link but the
 * loopback set down, so that its peers' packets reach no stack while
 * the namespace is torn down, unless a process not in PIDS (the tree's,
 * NR) or a bind mount holds it (logged, never fails). */
void netns_links_down(int nsfd, const pid_t *pids, size_t nr);

/* Restore side.  Reads and validates netns.img (optional) into T. */
int restore_read_netns(int dfd, struct restore_tree *t);
void restore_free_netns(struct restore_tree *t);
/* Before anything is made: every dumped veth has a --veth-pair, every
 * bridge named exists, every outside name is free. */
int restore_check_netns(const struct restore_tree *t, const struct lmproc_opts *opts);
/* Makes the new namespace with the dumped connections' lock (over all
 * its TCP), its links, addresses, routes, sysctls and leaves lmproc's
 * thread inside it, for the fork; nothing made on error. */
int restore_make_netns(struct restore_tree *t, const struct lmproc_opts *opts);
/* lmproc's thread into the restored tree's new namespace: lmproc's to
 * go back with (netns_leave), or -1 (none, or not made yet). */
int restore_enter_netns(const struct restore_tree *t);
/* After the fork: lmproc back in its own namespace. */
int restore_leave_netns(struct restore_tree *t);
/* A failed restore: the outside veth ends go (the namespace goes with
 * its tasks). */
void restore_undo_netns(struct restore_tree *t);

#endif
