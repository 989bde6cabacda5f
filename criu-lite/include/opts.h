/* What the user asked for on the command line.  Passed down explicitly;
 * there is no global options singleton. */
#ifndef LMPROC_OPTS_H
#define LMPROC_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dirty-track.h"
#include "file-valid.h"

enum page_path {
	PAGE_PATH_AUTO,
	PAGE_PATH_READ,		/* process_vm_readv from lmproc */
	PAGE_PATH_SPLICE,	/* parasite vmsplice -> pipe -> splice */
};

/* restore --inherit-fd fd[N]:KEY: lmproc's fd N takes the place of the
 * dumped file KEY ("pipe:[INODE]"), whose other end was outside. */
#define MAX_INHERIT_FDS 16

struct inherit_fd {
	int fd;
	char key[48];
};

/* restore --manage-cgroups: what to do with the tree's cgroups. */
enum cgroup_mode {
	CGROUPS_EXISTING, /* only into cgroups that exist: a missing one refuses */
	CGROUPS_MANAGE,	  /* make the missing ones (soft, full, strict) */
	CGROUPS_IGNORE,	  /* leave the tree in lmproc's cgroups */
};

/* restore --veth-pair IN=OUT[@BRIDGE]: the dumped veth IN's outside end
 * is made in lmproc's namespace as OUT, plugged into BRIDGE if given. */
#define MAX_VETH_PAIRS 16
#define VETH_NAME_LEN 16 /* IFNAMSIZ */

struct veth_pair {
	char in[VETH_NAME_LEN];
	char out[VETH_NAME_LEN];
	char bridge[VETH_NAME_LEN]; /* empty: none */
};

struct restore_tree;
struct tcp_dump;

struct lmproc_opts {
	pid_t pid;			/* -t */
	const char *images_dir;		/* -D */
	bool leave_running;		/* -R */
	bool detach;			/* -d */
	/* dump, restore --leave-stopped: the tree is left stopped (each
	 * process in a group stop, as by SIGSTOP) instead of killed or
	 * running; a dump implies -R with it. */
	bool leave_stopped;
	const char *pidfile;		/* restore --pidfile: the root's pid */
	bool display_stats;		/* dump, pre-dump, restore --display-stats */
	int freeze_timeout_s;		/* dump, pre-dump --timeout (0: the default) */
	bool shell_job;			/* -j: the process's terminal is its shell's */
	bool pidns;			/* restore --pidns */
	bool timens;			/* restore --timens */
	bool ext_unix_sk;		/* --ext-unix-sk */
	bool tcp_established;		/* --tcp-established */
	bool skip_in_flight;		/* --skip-in-flight */
	int network_lock;		/* --network-lock: enum netlock_kind */
	enum cgroup_mode manage_cgroups; /* restore --manage-cgroups */
	enum page_path page_path;	/* --page-path */
	const char *prev_images_dir;	/* --prev-images-dir */
	enum track_backend track;	/* --track */
	const char *feature;		/* check --feature */
	unsigned int cpu_cap;		/* restore, check --cpu-cap: enum cpu_cap, 0 default */
	/* dump: what is recorded of a mapped file; restore, check -D, serve:
	 * what accepts another inode at its path (file-valid.h). */
	enum file_valid_mode file_valid;
	struct inherit_fd inherit[MAX_INHERIT_FDS]; /* restore --inherit-fd */
	int nr_inherit;
	struct veth_pair veth[MAX_VETH_PAIRS]; /* restore --veth-pair */
	int nr_veth;
	const char *listen;		/* serve --listen ADDR:PORT */
	const char *to;			/* migrate --to ADDR:PORT */
	const char *psk_file;		/* --tls-psk-file */
	const char *tls_cacert;		/* --tls-cacert: the CA of the peer's certificate */
	const char *tls_cert;		/* --tls-cert: this side's certificate */
	const char *tls_key;		/* --tls-key: its private key */
	bool tls_no_cn_verify;		/* migrate --tls-no-cn-verify */
	bool insecure;			/* --insecure: plaintext channel */
	bool json;			/* --json */
	/* dump, pre-dump, restore, check --json: the command's own object on
	 * stdout (never set for the dumps and restores migrate and serve
	 * run, which report in their own words). */
	bool json_report;
	bool progress;			/* the progress line, if stderr is a terminal */
	int max_downtime_ms;		/* migrate --max-downtime (default 300) */
	int max_rounds;			/* migrate --max-rounds (default 8) */
	int max_time_s;			/* migrate --max-time (0: no limit) */
	bool auto_converge;		/* migrate --auto-converge: CPU quota steps */
	/* migrate --grace MS (in HELLO to serve's restore): the restored
	 * tree runs MS, its network still locked, before restore_hold; a
	 * process of it that dies meanwhile fails the restore, and the
	 * reason goes to grace_why (serve's) too.  Only with restore_hold. */
	int grace_ms;
	char *grace_why;
	size_t grace_why_len;
	int grace_peer_fd; /* serve: the source's socket; a word or its end
			    * within the grace ends it (with restore_hold) */
	int link_timeout_s;		/* serve, migrate --link-timeout (default 30) */
	/* migrate: its own pid; the rounds' tracking keepers end with it, so
	 * that a migrate killed mid-round leaves the tree untracked. */
	pid_t keeper_owner;
	/* migrate: called with the tree frozen and its images complete and
	 * checked, before the kill.  0: kill it (committed); negative: release
	 * it as -R would; DUMP_HOLD_FROZEN: leave it stopped (outcome unknown). */
	int (*dump_hold)(void *arg, int dfd, uint64_t t_frozen_us);
	/* The held dump's connections (NULL without any): dump_hold keeps
	 * them in repair mode, even if lmproc dies, before it commits. */
	struct tcp_dump *hold_tcp;
	/* serve: called with the tree restored and stopped (after a grace:
	 * running, its network locked), right before the hand-over; non-zero
	 * fails the restore (the tree is killed).  TREE for
	 * restore_tree_intact(). */
	int (*restore_hold)(void *arg, const struct restore_tree *tree, pid_t root);
	void *hold_arg;
	/* serve: the pre-copy rounds' memory staged in this process
	 * (mem/restore-stage.c), which the restore moves into place. */
	struct restore_stage *stage;
	int argc;			/* positional arguments after the command */
	char **argv;
};

#define DUMP_HOLD_FROZEN 1

int opts_parse_veth(const char *s, struct lmproc_opts *opts);
int cmd_dump(struct lmproc_opts *opts);
int cmd_pre_dump(struct lmproc_opts *opts);
int cmd_restore(struct lmproc_opts *opts);
int cmd_check(struct lmproc_opts *opts);
int cmd_show(struct lmproc_opts *opts);
int cmd_version(void);

#endif
