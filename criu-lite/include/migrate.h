/* Live migration (`lmproc serve`, `lmproc migrate`): the protocol's
 * framing and messages (migrate/proto.c), the channel they travel on
 * (migrate/channel.c: one TCP connection, TLS 1.3 with a pre-shared key
 * or X.509 certificates through GnuTLS, or plaintext with --insecure), and
 * the two commands.
 * docs/migration.md describes the states and every failure transition. */
#ifndef LMPROC_MIGRATE_H
#define LMPROC_MIGRATE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "opts.h"

#define MIG_MAGIC 0x474d4d4cu /* "LMMG", little-endian on the wire */
/* 2: pre-copy rounds (ROUND, ROUND_DONE) before the final images;
 * 3: DRY_RUN after round 1; 4: streamed and voided FILEs; 5: PREFLIGHT after
 * HELLO. */
#define MIG_VERSION 6
#define MIG_HDR_SIZE 16

/* Bounds checked before anything is allocated or written. */
#define MIG_MAX_CHUNK (1u << 20)	/* one DATA message */
#define MIG_MAX_SMALL 4096u		/* HELLO, ERROR, ABORT, RESTORED... */
#define MIG_MAX_PREFLIGHT (1u << 20)	/* a PREFLIGHT, either way */
#define MIG_MAX_NAME 128u		/* an image's name */
#define MIG_MAX_FILES 65536u		/* files in one migration */
#define MIG_MAX_FILE_SIZE (64ull << 30) /* one image */
#define MIG_MAX_CONNS 8u		/* connections serve handles at once */
#define MIG_MAX_TOTAL (256ull << 30)	/* all images of one migration */
#define MIG_MAX_ROUNDS 32		/* pre-copy rounds, each a restore level */

/* FILE sizes that are not sizes: a file whose DATA end with an empty
 * DATA (written while it was sent), and a file of this round streamed
 * before, which the dump removed since (stream.c). */
#define MIG_SIZE_STREAMED UINT64_MAX
#define MIG_SIZE_DROPPED (UINT64_MAX - 1)
#define MIG_STREAM_MAX 1024 /* files streamed in one dump; the rest after it */

/* Timeouts, in ms: every wait for the peer is bounded. */
#define MIG_IO_TIMEOUT_MS 30000 /* one read or write until --link-timeout applies */
#define MIG_HANDSHAKE_TIMEOUT_MS 10000
#define MIG_LINGER_MS 1000	      /* a refused peer's last data, read and dropped */
#define MIG_RESTORE_TIMEOUT_MS 120000 /* DUMP_DONE to RESTORED, plus --grace */
#define MIG_MAX_GRACE_MS 60000		/* --grace */

enum mig_type {
	MIG_HELLO = 1,
	MIG_FILE, /* u64 size (LE), then the name; DATA messages follow
		   * (MIG_SIZE_STREAMED: until an empty one) */
	MIG_DATA,
	MIG_DUMP_DONE,
	MIG_RESTORED, /* "pid N us M": the restored root's pid there, the restore's time */
	MIG_COMMIT,
	MIG_COMMITTED,
	MIG_ABORT, /* the reason, text */
	MIG_ERROR, /* the reason, text */
	MIG_ROUND, /* "K": round K's FILEs follow, into its own directory */
	MIG_ROUND_DONE, /* source: round K is complete; serve: stored */
	MIG_DRY_RUN,	/* source: none; serve: "us N fork M", its restore's checks'
			 * time and the hand-over fork's predicted one */
	MIG_PREFLIGHT,	/* source: a PreflightEntry; serve: "NAME ok DETAIL" lines */
	MIG_TYPE_NR,
};

struct mig_psk {
	char identity[64];
	unsigned char key[64];
	size_t key_len;
};

/* How the channel is secured (--insecure: none, a NULL one): a
 * pre-shared key, or X.509 certificates loaded once for every
 * connection. */
struct mig_auth {
	struct mig_psk psk;
	void *x509;	/* gnutls_certificate_credentials_t; NULL: the PSK */
	char name[128]; /* migrate: the host the server's certificate must name */
};

struct mig_chan {
	int fd;
	bool tls;
	bool server;
	void *session; /* gnutls_session_t */
	void *cred;    /* gnutls_psk_{client,server}_credentials_t */
	const struct mig_auth *auth;
	const char *alert; /* the fatal TLS alert the peer sent (its name) */
	uint64_t bytes_sent, bytes_recv;
	/* A write failed or timed out: a TLS record may be cut, so nothing
	 * more is written (GnuTLS would finish the cut record, not send the
	 * next). */
	bool broken;
	char peer[64];
};

/* A received message: DATA is LEN bytes plus a NUL, malloc'ed. */
struct mig_msg {
	enum mig_type type;
	uint32_t len;
	char *data;
};

/* proto.c */
const char *mig_type_name(enum mig_type type);
int mig_send(struct mig_chan *c, enum mig_type type, const void *data, uint32_t len);
int mig_send_text(struct mig_chan *c, enum mig_type type, const char *text);
int mig_recv(struct mig_chan *c, struct mig_msg *m, char *why, size_t why_len);
void mig_msg_free(struct mig_msg *m);
bool mig_name_ok(const char *name);
void mig_printable(char *s);
/* serve: the source's CPU, from its HELLO's "cpu" line (SEEN: it had one). */
struct mig_peer_cpu {
	bool seen;
	CpuEntry cpu;
};

int mig_hello_make(char *buf, size_t len, const struct lmproc_opts *opts);
int mig_hello_parse(const struct mig_msg *m, struct lmproc_opts *opts, struct mig_peer_cpu *cpu,
		    char *why, size_t why_len);

/* preflight.c: the source's PREFLIGHT for the running tree of ROOT (BUF
 * malloc'ed), read from /proc without stopping it (WHY: what failed, if
 * logged); serve's checks of a
 * received one: negative (WHY: what is malformed), or how many checks
 * failed (WHY: "NAME: DETAIL; ..."), LINES a line per check. */
int mig_preflight_make(pid_t root, uint8_t **buf, size_t *len, char *why, size_t why_len);
int mig_preflight_check(const struct mig_msg *m, enum file_valid_mode fv, char *lines, size_t len,
			char *why, size_t why_len);

/* channel.c */
/* The PSK file or the certificates OPTS name (not --insecure); SERVER:
 * for serve (no name to check). */
int mig_auth_load(const struct lmproc_opts *opts, bool server, struct mig_auth *auth);
void mig_auth_free(struct mig_auth *auth);
/* "pre-shared key" or "X.509 certificates", for the logs. */
const char *mig_auth_kind(const struct mig_auth *auth);
int mig_listen(const char *addr, char *bound, size_t bound_len);
int mig_connect(const char *addr, int timeout_ms);
int mig_chan_start(struct mig_chan *c, int fd, bool server, const struct mig_auth *auth, char *why,
		   size_t why_len);
int mig_chan_timeout(struct mig_chan *c, int ms);
int mig_chan_link_timeout(struct mig_chan *c, int s);
int mig_chan_write(struct mig_chan *c, const void *buf, size_t len);
int mig_chan_read(struct mig_chan *c, void *buf, size_t len);
/* Until C has something to read (0), TIMEOUT_MS passed (-ETIMEDOUT), or
 * STOP, asked every 200 ms, says non-zero (its value). */
int mig_chan_wait(struct mig_chan *c, int timeout_ms, int (*stop)(void));
void mig_chan_close(struct mig_chan *c);

/* planner.c: one pre-copy round's measurements and what they predict. */
struct mig_round {
	unsigned int k;
	uint64_t bytes;	      /* sent on the channel for the round */
	uint64_t dirty_bytes; /* the pages it copied */
	uint64_t t_start;     /* its freeze, about (us, CLOCK_MONOTONIC) */
	uint64_t send_us;     /* from ROUND to the destination's ROUND_DONE */
	uint64_t us;	      /* the whole round: pre-dump and send */
	double mib_s;	      /* bytes / send time */
	double dirty_mib_s;   /* dirty bytes / time since the last freeze; < 0: none */
	double predicted_ms;  /* the final step's, if it froze now; < 0: unknown */
	int throttle_pct;     /* the tree's throttle from this round on */
	double ebpf_mib_s;    /* the eBPF tracker's rate at its freeze; < 0: none */
	uint64_t wp_faults;   /* write-protect faults the tree took since the last */
	double track_pct;     /* their cost, % of the time since the last; < 0: unknown */
	uint64_t wait_us;     /* the pause before the next round, to spare the tree */
	uint64_t copy_us;     /* its pages' copy out of the tree and write (stats) */
};

/* throttle.c: --auto-converge's cgroup (docs/migration.md). */
struct mig_throttle {
	pid_t pid;	     /* the tree's root */
	bool made, v2;
	int pct;	     /* throttled: the quota is (100 - pct)% of one CPU */
	char path[2048];	  /* the tree's cpu cgroup, in its hierarchy */
	char orig[PATH_MAX];	  /* the same, mounted here */
	char cg[PATH_MAX + 64]; /* the cgroup made for the throttle */
	char why[PATH_MAX + 128];
};

/* Throttles the tree (PIDS: "PID PID...", changed) to PCT%: the first
 * call makes the cgroup and moves it there; a failure undoes it all and
 * says why in T->why. */
int throttle_raise(struct mig_throttle *t, int pct, char *pids);
void throttle_undo(struct mig_throttle *t);

struct mig_plan {
	const struct lmproc_opts *opts;
	struct mig_round hist[MIG_MAX_ROUNDS];
	unsigned int nr;
	uint64_t t_start;
	/* The final step's fixed cost: round 1's frozen time less its page
	 * copy, the destination's dry run, and the two round trips of the
	 * hand-over (DUMP_DONE to RESTORED, COMMIT to COMMITTED). */
	uint64_t fixed_us;
	uint64_t nonmem_us, dry_run_us, rtt_us;
	uint64_t fork_us; /* the destination's hand-over fork, predicted */
	/* The source's copy of a MiB of pages out of the tree (ms, the best
	 * round's); the final restore's fill over the staging is taken to
	 * cost as much.  0: not known yet. */
	double copy_ms_per_mib;
	const char *stop;  /* why pre-copy ended, once it has */
	/* --auto-converge: raises the throttle to PCT; 0 done. */
	int (*throttle)(void *arg, int pct);
	void *throttle_arg;
	int throttle_pct;
	double wp_fault_us; /* one write-protect fault here, measured; < 0: unknown */
};

/* Takes round R (its fields up to us filled in), prints its line, and
 * says whether the final dump should freeze now (PLAN->stop says why). */
bool mig_plan_round(struct mig_plan *plan, const struct mig_round *r);
void mig_round_json(const struct mig_round *r, char *buf, size_t len);
/* The frozen time predicted when pre-copy ended (< 0: unknown), and
 * with the fixed cost's parts as JSON fields of the summary. */
double mig_plan_predicted(const struct mig_plan *plan);
void mig_plan_json(const struct mig_plan *plan, char *buf, size_t len);

/* stream.c: a dump's pages images sent while it writes them into DIR. */
struct mig_stream {
	struct mig_chan *chan;
	int dfd, ifd, fd;
	int wake; /* eventfd: the dump ended */
	char *buf;
	pthread_t thr;
	bool running, dump_done;
	/* The pages images made, in order; those before NEXT went whole. */
	char names[MIG_STREAM_MAX][MIG_MAX_NAME];
	bool closed[MIG_STREAM_MAX];
	/* Removed by the dump: voided, or never sent. */
	bool gone[MIG_STREAM_MAX];
	uint64_t sizes[MIG_STREAM_MAX];
	unsigned int nr, next;
	/* Sent, and of that voided since. */
	uint64_t bytes, voided_bytes;
	int err;
	char why[256];
};

/* The channel is the stream's until mig_stream_end, which returns its
 * error (WHY says what) after voiding what the dump removed. */
int mig_stream_start(struct mig_stream *s, struct mig_chan *chan, const char *dir);
int mig_stream_end(struct mig_stream *s);
bool mig_stream_sent(const struct mig_stream *s, const char *name);
/* The files the stream carried that the destination keeps. */
unsigned int mig_stream_files(const struct mig_stream *s);

int cmd_serve(struct lmproc_opts *opts);
int cmd_migrate(struct lmproc_opts *opts);

#endif
