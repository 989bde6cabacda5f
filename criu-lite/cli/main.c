/* The command line: parses options and hands them to one cmd_*().  Exit
 * codes: 0 success, 1 failure, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "log.h"
#include "migrate.h"
#include "netlock.h"
#include "opts.h"

static const char usage_text[] =
	"Usage:\n"
	"  lmproc dump    -t PID -D DIR [-R | --leave-stopped] [--page-path read|splice]\n"
	"                 [--prev-images-dir DIR] [--display-stats]\n"
	"                 [--ext-unix-sk] [--tcp-established] [--skip-in-flight]\n"
	"                 [--network-lock nftables|iptables|skip] [--json]\n"
	"  lmproc pre-dump -t PID -D DIR [--prev-images-dir DIR] [--track BACKEND] [--json]\n"
	"  lmproc restore -D DIR [-d] [--pidfile FILE] [--leave-stopped] [--display-stats]\n"
	"                 [--inherit-fd fd[N]:pipe|socket:[INODE]]...\n"
	"                 [--manage-cgroups[=soft|full|strict|ignore]] [--cpu-cap CAPS] [--json]\n"
	"                 [--file-validation hash|buildid|filesize]\n"
	"  lmproc serve   -D DIR [--listen ADDR:PORT] CHANNEL [--link-timeout S]\n"
	"                 [--cpu-cap CAPS]\n"
	"  lmproc migrate -t PID --to ADDR:PORT CHANNEL [--tls-no-cn-verify]\n"
	"                 [--max-downtime MS] [--max-rounds N] [--max-time S] [--auto-converge]\n"
	"                 [--grace MS]\n"
	"                 [--tcp-established] [--veth-pair IN=OUT[@BRIDGE]]... [--json]\n"
	"                 [--link-timeout S]\n"
	"    CHANNEL: --tls-psk-file FILE | --tls-cacert FILE --tls-cert FILE --tls-key FILE\n"
	"             | --insecure\n"
	"  lmproc check   [--feature NAME] [--json] | -D DIR [--pidns] [--cpu-cap CAPS]\n"
	"  lmproc show    DIR|IMAGE\n"
	"  lmproc --version\n"
	"\n"
	"Commands:\n"
	"  dump      checkpoint process PID into image directory DIR; the process\n"
	"            is killed after a successful dump unless -R is given\n"
	"  pre-dump  copy the memory of PID into DIR while it keeps running and start\n"
	"            tracking the pages it writes; later rounds (pre-dump or dump with\n"
	"            --prev-images-dir) copy only what was written since\n"
	"  restore   restore the tree saved in DIR with its original pids and wait\n"
	"            for it, forwarding its exit status (-d: return at once)\n"
	"  serve     receive migrations (destination): each connection's tree is\n"
	"            restored under DIR into a new pid and time namespace, held stopped\n"
	"            until the source commits, then let run; keeps serving\n"
	"  migrate   move the tree of PID to a serve (source): pre-copy rounds stream\n"
	"            its memory while it runs, until the predicted downtime is under\n"
	"            --max-downtime; then frozen, the rest dumped and streamed, killed\n"
	"            here only once the destination has acknowledged the commit; any\n"
	"            failure before resumes it here\n"
	"  check     probe the kernel features lmproc can use here; with -D DIR: can\n"
	"            this host restore the images in DIR (one line per check, ok or\n"
	"            FAIL and why; exit 0 only if all are ok)\n"
	"  show      decode images to JSON on stdout\n"
	"\n"
	"Options:\n"
	"  -t, --tree PID          the process to dump, with all its descendants\n"
	"  -D, --images-dir DIR    where images are written or read\n"
	"  -R, --leave-running     keep the process running after the dump\n"
	"      --leave-stopped     dump, restore: leave the tree stopped (as by SIGSTOP:\n"
	"                          SIGCONT resumes it) instead of killed or running\n"
	"  -d, --detach            restore and return without waiting (also\n"
	"                          --restore-detached, CRIU's name)\n"
	"      --pidfile FILE      restore: write the root's pid (as this host sees\n"
	"                          it) to FILE, which must not exist\n"
	"      --display-stats     dump, pre-dump, restore: print the stats (times,\n"
	"                          pages) as lines on stdout at the end\n"
	"      --timeout S         dump, pre-dump: how long a thread may take to stop\n"
	"                          when the tree is frozen (default 10)\n"
	"      --file-locks, --track-mem, --link-remap, --auto-dedup, --ghost-limit SIZE\n"
	"                          accepted for CRIU's command lines: lmproc always\n"
	"                          dumps locks, tracks after a pre-dump, saves deleted\n"
	"                          files of any size, keeps each round's images apart\n"
	"  -j, --shell-job         the process uses its shell's terminal: dump it by\n"
	"                          device, restore lmproc's terminal in its place\n"
	"      --pidns             restore the tree into a new pid namespace (with a /proc\n"
	"                          of its own): its pids are free whatever the host runs\n"
	"      --timens            restore the tree into a new time namespace whose\n"
	"                          CLOCK_MONOTONIC and CLOCK_BOOTTIME continue from the\n"
	"                          values dumped (for a move to another host)\n"
	"      --page-path MODE    how pages leave the target: read (process_vm_readv,\n"
	"                          the default) or splice (parasite vmsplice)\n"
	"      --prev-images-dir DIR  the previous round (relative to -D, or absolute)\n"
	"      --ext-unix-sk       dump: a unix socket connected to one outside the tree:\n"
	"                          a datagram one is connected to its name again at\n"
	"                          restore, a stream one needs --inherit-fd socket:[...]\n"
	"      --tcp-established  dump and restore established TCP connections (TCP\n"
	"                          repair); without it a dump refuses them\n"
	"      --skip-in-flight    dump: a TCP listener's connections not accepted yet\n"
	"                          are left out of the images (warned, naming each);\n"
	"                          their clients get a reset; without it: refused\n"
	"      --network-lock MODE  dump: how the connections' packets are held until\n"
	"                          the restore: nftables (default), iptables, skip\n"
	"      --track BACKEND     dirty tracking: auto (default), pagemap-scan, soft-dirty\n"
	"      --inherit-fd fd[N]:pipe:[INODE], fd[N]:socket:[INODE]  restore: lmproc's fd\n"
	"                          N replaces the dumped pipe or unix socket INODE whose\n"
	"                          other end was outside the tree\n"
	"      --manage-cgroups[=MODE]  restore: make a cgroup of the tree that is\n"
	"                          missing here (soft, the default, full and strict: the\n"
	"                          same, limits set only on the cgroups it makes); ignore:\n"
	"                          leave the tree in lmproc's cgroups.  Without it a\n"
	"                          missing cgroup refuses the restore\n"
	"      --cpu-cap CAPS      restore, check -D, serve: what this CPU must have of\n"
	"                          the dumping one, a list of: fpu (the dumped xsave\n"
	"                          components enabled here), ins (every feature a\n"
	"                          process may use: the default is fpu,ins), cpu\n"
	"                          (every recorded CPUID bit), all (fpu,cpu), none\n"
	"                          (no check, warned)\n"
	"      --file-validation MODE  restore, check -D, serve: how a file mapped or open\n"
	"                          read-only, at its path another inode (another host)\n"
	"                          or touched, may still be the dumped one: hash (the\n"
	"                          default: same size and XXH3-128 of its content),\n"
	"                          or CRIU's weaker buildid (same size and ELF\n"
	"                          build-id) or filesize (same size); dump: what it\n"
	"                          records (hash: hash and build-id, buildid: the\n"
	"                          build-id, filesize: neither)\n"
	"      --veth-pair IN=OUT[@BRIDGE]  restore: the dumped veth IN of the tree's\n"
	"                          network namespace gets its outside end OUT here,\n"
	"                          plugged into BRIDGE if given\n"
	"      --listen ADDR:PORT  serve: where to listen (default 127.0.0.1:7070;\n"
	"                          port 0 takes a free one, logged)\n"
	"      --to ADDR:PORT      migrate: the destination's serve\n"
	"      --tls-psk-file FILE the channel's pre-shared key (TLS 1.3): one line,\n"
	"                          HEXKEY or IDENTITY:HEXKEY, 16 to 64 bytes, mode 600\n"
	"      --tls-cacert FILE   serve, migrate: X.509 instead of a pre-shared key (TLS\n"
	"                          1.3): the peer's certificate must be signed by the CA\n"
	"                          in FILE (PEM); each side presents its own:\n"
	"      --tls-cert FILE     this side's certificate (PEM), with\n"
	"      --tls-key FILE      its private key (PEM, mode 600)\n"
	"      --tls-no-cn-verify  migrate: accept a server certificate that does not\n"
	"                          name --to's address in an IP address SAN\n"
	"      --insecure          serve, migrate: plaintext channel, no authentication\n"
	"      --json              migrate: one JSON object per pre-copy round, then\n"
	"                          the summary, on stdout; dump, pre-dump, restore,\n"
	"                          check: one JSON object on stdout, what the command\n"
	"                          did and its figures (also when it fails), no\n"
	"                          progress line\n"
	"      --max-downtime MS   migrate: freeze for the final dump once the\n"
	"                          predicted downtime is under MS (default 300)\n"
	"      --max-rounds N      migrate: at most N pre-copy rounds (default 8;\n"
	"                          0: none, everything in the final dump)\n"
	"      --max-time S        migrate: pre-copy for at most S seconds\n"
	"      --auto-converge     migrate: when rounds stop converging, throttle the\n"
	"                          tree's CPU (50% up to 99%) through a cgroup\n"
	"      --grace MS          migrate: the destination lets the restored tree run\n"
	"                          MS (at most 60000), its network still locked, before\n"
	"                          the commit; if it dies meanwhile, it resumes here\n"
	"      --link-timeout S    serve, migrate: the link is lost once a message\n"
	"                          waits S seconds, or sent data S seconds unacked\n"
	"                          (default 30)\n"
	"  -v[0-4], -v...          log level (default 2: errors and warnings)\n"
	"  -o, --log-file FILE     write the log to FILE (errors also go to stderr); for\n"
	"                          dump, pre-dump and restore a relative FILE is in\n"
	"                          the work directory, as CRIU's\n"
	"  -W, --work-dir DIR      dump, pre-dump, restore: where a relative -o or\n"
	"                          --pidfile goes (default: -D)\n"
	"  -h, --help              this text\n"
	"  -V, --version           version, image format, commit and features; exit\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "lmproc: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'lmproc --help'.\n");
	return 2;
}

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v <= 0 || v > 4194304)
		return -1;
	*pid = v;
	return 0;
}

/* A whole number from 0 to MAX, for migrate's planner limits. */
static int parse_count(const char *s, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A size as CRIU's --ghost-limit takes it: N, NK, NM or NG. */
static int parse_size(const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-' || (*end && strchr("KMG", *end) == NULL) ||
	    (*end && end[1]))
		return -1;
	return v > (1ULL << 40) ? -1 : 0;
}

/* The channel's options for serve or migrate: one way to secure it,
 * complete; NULL, or what is wrong. */
static const char *channel_opts_error(const struct lmproc_opts *o, bool serve)
{
	bool x509 = o->tls_cacert || o->tls_cert || o->tls_key;

	if (o->insecure && (o->psk_file || x509))
		return "--insecure takes no --tls-psk-file, --tls-cacert, --tls-cert or "
		       "--tls-key: plaintext or TLS, not both";
	if (o->psk_file && x509)
		return "--tls-psk-file and --tls-cacert, --tls-cert, --tls-key can't be mixed: "
		       "a pre-shared key or certificates, not both";
	if (o->tls_cert && !o->tls_key)
		return "--tls-cert needs --tls-key, its private key";
	if (o->tls_key && !o->tls_cert)
		return "--tls-key needs --tls-cert, the certificate it is the key of";
	if (x509 && !o->tls_cacert)
		return "--tls-cert and --tls-key need --tls-cacert, the CA that signs the "
		       "peer's certificate";
	if (x509 && !o->tls_cert)
		return "--tls-cacert needs --tls-cert and --tls-key: each side presents its "
		       "certificate";
	if (o->tls_no_cn_verify && serve)
		return "--tls-no-cn-verify is migrate's: serve checks no name in the client's "
		       "certificate";
	if (o->tls_no_cn_verify && !x509)
		return "--tls-no-cn-verify needs --tls-cacert, --tls-cert and --tls-key";
	if (!o->insecure && !o->psk_file && !x509)
		return serve ? "serve needs --tls-psk-file FILE, or --tls-cacert, --tls-cert and "
			       "--tls-key, or --insecure"
			     : "migrate needs --tls-psk-file FILE, or --tls-cacert, --tls-cert "
			       "and --tls-key, or --insecure";
	return NULL;
}

enum {
	OPT_PAGE_PATH = 256,
	OPT_PREV_IMAGES,
	OPT_FEATURE,
	OPT_TRACK,
	OPT_PIDNS,
	OPT_TIMENS,
	OPT_EXT_UNIX_SK,
	OPT_INHERIT_FD,
	OPT_MANAGE_CGROUPS,
	OPT_CPU_CAP,
	OPT_FILE_VALIDATION,
	OPT_VETH_PAIR,
	OPT_TCP_ESTABLISHED,
	OPT_SKIP_IN_FLIGHT,
	OPT_NETWORK_LOCK,
	OPT_LISTEN,
	OPT_TO,
	OPT_PSK_FILE,
	OPT_INSECURE,
	OPT_TLS_CACERT,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_NO_CN_VERIFY,
	OPT_JSON,
	OPT_MAX_DOWNTIME,
	OPT_MAX_ROUNDS,
	OPT_MAX_TIME,
	OPT_AUTO_CONVERGE,
	OPT_GRACE,
	OPT_LINK_TIMEOUT,
	OPT_LEAVE_STOPPED,
	OPT_PIDFILE,
	OPT_DISPLAY_STATS,
	OPT_CRIU_NOOP,
	OPT_CRIU_NOOP_ARG,
	OPT_TIMEOUT,
};

/* CRIU's modes: full would also set the limits of cgroups that exist
 * here, which a restore does not touch (it changes only what it made), so
 * it is soft; strict is soft too, since a limit that can't be set always
 * refuses the restore. */
static int parse_cgroup_mode(const char *s, struct lmproc_opts *opts)
{
	if (!s || !strcmp(s, "soft") || !strcmp(s, "full") || !strcmp(s, "strict"))
		opts->manage_cgroups = CGROUPS_MANAGE;
	else if (!strcmp(s, "ignore"))
		opts->manage_cgroups = CGROUPS_IGNORE;
	else
		return -1;
	return 0;
}

/* "fd[N]:pipe:[INODE]" or "fd[N]:socket:[INODE]" */
static int parse_inherit(const char *s, struct lmproc_opts *opts)
{
	struct inherit_fd *in = &opts->inherit[opts->nr_inherit];
	unsigned long long ino;
	char kind[8], tail;
	int n = 0;

	if (opts->nr_inherit == MAX_INHERIT_FDS)
		return -1;
	if (sscanf(s, "fd[%d]:%n", &in->fd, &n) != 1 || !n || in->fd < 0 ||
	    sscanf(s + n, "%7[a-z]:[%llu]%c", kind, &ino, &tail) != 2 ||
	    (strcmp(kind, "pipe") && strcmp(kind, "socket")))
		return -1;
	snprintf(in->key, sizeof(in->key), "%s:[%llu]", kind, ino);
	opts->nr_inherit++;
	return 0;
}

/* The options of dump and restore that others lack, or that exclude
 * each other; 0 or usage_error()'s 2. */
static int check_dump_restore_opts(const char *cmd, struct lmproc_opts *opts)
{
	bool dump = !strcmp(cmd, "dump"), restore = !strcmp(cmd, "restore");

	if (opts->leave_stopped && !dump && !restore)
		return usage_error("%s", "--leave-stopped is dump's or restore's");
	if (opts->leave_stopped && opts->leave_running)
		return usage_error("%s", "-R and --leave-stopped: the tree runs or stops, not both");
	if (opts->pidfile && !restore)
		return usage_error("%s", "--pidfile is restore's");
	if (opts->display_stats && !dump && !restore && strcmp(cmd, "pre-dump"))
		return usage_error("%s", "--display-stats is dump's, pre-dump's or restore's");
	if (opts->freeze_timeout_s && !dump && strcmp(cmd, "pre-dump"))
		return usage_error("%s", "--timeout is dump's or pre-dump's");
	if (opts->display_stats && opts->json)
		return usage_error("%s", "--display-stats and --json both print on stdout: one of them");
	/* The dump's release is -R's, with a stop before the detach. */
	if (dump && opts->leave_stopped)
		opts->leave_running = true;
	return 0;
}

/* *PATH under DIR if relative, in BUF; -1 if that is too long. */
static int under(const char *dir, const char **path, char *buf, size_t len)
{
	if (!*path || (*path)[0] == '/' || !dir)
		return 0;
	if ((size_t)snprintf(buf, len, "%s/%s", dir, *path) >= len)
		return -1;
	*path = buf;
	return 0;
}

/* CRIU's work directory (-W, else -D): where dump, pre-dump and restore
 * put a relative log file and pid file.  0, or usage_error()'s 2. */
static int in_work_dir(const char *cmd, const char *work_dir, struct lmproc_opts *opts,
		       const char **log_file)
{
	static char log_buf[PATH_MAX], pid_buf[PATH_MAX];
	bool ours = !strcmp(cmd, "dump") || !strcmp(cmd, "pre-dump") || !strcmp(cmd, "restore");

	if (work_dir && !ours)
		return usage_error("%s", "-W/--work-dir is dump's, pre-dump's or restore's");
	if (!ours)
		return 0;
	if (!work_dir)
		work_dir = opts->images_dir;
	if (under(work_dir, log_file, log_buf, sizeof(log_buf)) ||
	    under(work_dir, &opts->pidfile, pid_buf, sizeof(pid_buf)))
		return usage_error("%s", "-o or --pidfile: the path under the work directory is too long");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "tree", required_argument, NULL, 't' },
		{ "images-dir", required_argument, NULL, 'D' },
		{ "leave-running", no_argument, NULL, 'R' },
		{ "detach", no_argument, NULL, 'd' },
		{ "restore-detached", no_argument, NULL, 'd' },
		{ "leave-stopped", no_argument, NULL, OPT_LEAVE_STOPPED },
		{ "pidfile", required_argument, NULL, OPT_PIDFILE },
		{ "display-stats", no_argument, NULL, OPT_DISPLAY_STATS },
		{ "file-locks", no_argument, NULL, OPT_CRIU_NOOP },
		{ "track-mem", no_argument, NULL, OPT_CRIU_NOOP },
		{ "link-remap", no_argument, NULL, OPT_CRIU_NOOP },
		{ "auto-dedup", no_argument, NULL, OPT_CRIU_NOOP },
		{ "ghost-limit", required_argument, NULL, OPT_CRIU_NOOP_ARG },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "shell-job", no_argument, NULL, 'j' },
		{ "log-file", required_argument, NULL, 'o' },
		{ "work-dir", required_argument, NULL, 'W' },
		{ "verbosity", optional_argument, NULL, 'v' },
		{ "page-path", required_argument, NULL, OPT_PAGE_PATH },
		{ "prev-images-dir", required_argument, NULL, OPT_PREV_IMAGES },
		{ "feature", required_argument, NULL, OPT_FEATURE },
		{ "track", required_argument, NULL, OPT_TRACK },
		{ "pidns", no_argument, NULL, OPT_PIDNS },
		{ "timens", no_argument, NULL, OPT_TIMENS },
		{ "ext-unix-sk", no_argument, NULL, OPT_EXT_UNIX_SK },
		{ "tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED },
		{ "skip-in-flight", no_argument, NULL, OPT_SKIP_IN_FLIGHT },
		{ "network-lock", required_argument, NULL, OPT_NETWORK_LOCK },
		{ "inherit-fd", required_argument, NULL, OPT_INHERIT_FD },
		{ "manage-cgroups", optional_argument, NULL, OPT_MANAGE_CGROUPS },
		{ "cpu-cap", required_argument, NULL, OPT_CPU_CAP },
		{ "file-validation", required_argument, NULL, OPT_FILE_VALIDATION },
		{ "veth-pair", required_argument, NULL, OPT_VETH_PAIR },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "to", required_argument, NULL, OPT_TO },
		{ "tls-psk-file", required_argument, NULL, OPT_PSK_FILE },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "tls-cacert", required_argument, NULL, OPT_TLS_CACERT },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "tls-no-cn-verify", no_argument, NULL, OPT_TLS_NO_CN_VERIFY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "max-downtime", required_argument, NULL, OPT_MAX_DOWNTIME },
		{ "max-rounds", required_argument, NULL, OPT_MAX_ROUNDS },
		{ "max-time", required_argument, NULL, OPT_MAX_TIME },
		{ "link-timeout", required_argument, NULL, OPT_LINK_TIMEOUT },
		{ "auto-converge", no_argument, NULL, OPT_AUTO_CONVERGE },
		{ "grace", required_argument, NULL, OPT_GRACE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	struct lmproc_opts opts = { .max_downtime_ms = 300, .max_rounds = 8, .link_timeout_s = 30 };
	const char *log_file = NULL, *work_dir = NULL;
	bool file_valid_given = false;
	int level = LOG_WARN, vcount = 0, c, ret;
	const char *cmd;

	while ((c = getopt_long(argc, argv, "t:D:Rdjo:W:v::hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_pid(optarg, &opts.pid))
				return usage_error("invalid pid '%s'", optarg);
			break;
		case 'D':
			opts.images_dir = optarg;
			break;
		case 'R':
			opts.leave_running = true;
			break;
		case 'd':
			opts.detach = true;
			break;
		case 'j':
			opts.shell_job = true;
			break;
		case OPT_LEAVE_STOPPED:
			opts.leave_stopped = true;
			break;
		case OPT_PIDFILE:
			opts.pidfile = optarg;
			break;
		case OPT_DISPLAY_STATS:
			opts.display_stats = true;
			break;
		case OPT_CRIU_NOOP:
			/* CRIU's --file-locks, --track-mem and --link-remap ask
			 * for what lmproc always does (locks dumped, pre-dumps
			 * tracking, deleted files restored from their saved
			 * contents); --auto-dedup frees parent images' pages,
			 * which lmproc's rounds keep apart anyway. */
			break;
		case OPT_CRIU_NOOP_ARG:
			/* --ghost-limit: lmproc saves deleted files of any size. */
			if (parse_size(optarg))
				return usage_error("bad --ghost-limit %s (a size: N, NK, NM or NG)", optarg);
			break;
		case OPT_TIMEOUT:
			if (parse_count(optarg, 3600, &opts.freeze_timeout_s) || !opts.freeze_timeout_s)
				return usage_error("bad --timeout %s (1 to 3600 seconds)", optarg);
			break;
		case OPT_PIDNS:
			opts.pidns = true;
			break;
		case OPT_TIMENS:
			opts.timens = true;
			break;
		case 'o':
			log_file = optarg;
			break;
		case 'W':
			work_dir = optarg;
			break;
		case 'v':
			if (!optarg) {
				vcount++;
				level = LOG_WARN + vcount;
			} else if (optarg[0] == 'v') {
				level = LOG_WARN + 1 + strspn(optarg, "v");
			} else if (optarg[0] >= '0' && optarg[0] <= '4' && !optarg[1]) {
				level = optarg[0] - '0';
			} else {
				return usage_error("invalid verbosity '%s'", optarg);
			}
			break;
		case OPT_PAGE_PATH:
			if (!strcmp(optarg, "read"))
				opts.page_path = PAGE_PATH_READ;
			else if (!strcmp(optarg, "splice"))
				opts.page_path = PAGE_PATH_SPLICE;
			else
				return usage_error("--page-path must be read or splice, not '%s'",
						   optarg);
			break;
		case OPT_PREV_IMAGES:
			opts.prev_images_dir = optarg;
			break;
		case OPT_EXT_UNIX_SK:
			opts.ext_unix_sk = true;
			break;
		case OPT_TCP_ESTABLISHED:
			opts.tcp_established = true;
			break;
		case OPT_SKIP_IN_FLIGHT:
			opts.skip_in_flight = true;
			break;
		case OPT_NETWORK_LOCK:
			if (!strcmp(optarg, "nftables"))
				opts.network_lock = NETLOCK_NFT;
			else if (!strcmp(optarg, "iptables"))
				opts.network_lock = NETLOCK_IPT;
			else if (!strcmp(optarg, "skip"))
				opts.network_lock = NETLOCK_SKIP;
			else
				return usage_error("--network-lock must be nftables, iptables or skip, "
						   "not '%s'", optarg);
			break;
		case OPT_INHERIT_FD:
			if (parse_inherit(optarg, &opts))
				return usage_error("--inherit-fd must be fd[N]:pipe:[INODE] or "
						   "fd[N]:socket:[INODE] (at most 16), "
						   "not '%s'", optarg);
			break;
		case OPT_VETH_PAIR:
			if (opts_parse_veth(optarg, &opts))
				return usage_error("--veth-pair must be IN=OUT or IN=OUT@BRIDGE (names "
						   "under 16 bytes, at most 16 pairs), not '%s'",
						   optarg);
			break;
		case OPT_MANAGE_CGROUPS:
			/* "--manage-cgroups soft", as CRIU's users write it. */
			if (!optarg && optind < argc && !parse_cgroup_mode(argv[optind], &opts)) {
				optind++;
				break;
			}
			if (parse_cgroup_mode(optarg, &opts))
				return usage_error("--manage-cgroups must be soft, full, strict or ignore, not '%s'",
						   optarg);
			break;
		case OPT_CPU_CAP:
			if (cpu_cap_parse(optarg, &opts.cpu_cap))
				return usage_error("--cpu-cap must be a list of fpu, ins, cpu, all, or "
						   "none alone, not '%s'", optarg);
			break;
		case OPT_FILE_VALIDATION:
			if (file_valid_parse(optarg, &opts.file_valid))
				return usage_error("--file-validation must be hash, buildid or filesize, "
						   "not '%s'", optarg);
			file_valid_given = true;
			break;
		case OPT_LISTEN:
			opts.listen = optarg;
			break;
		case OPT_TO:
			opts.to = optarg;
			break;
		case OPT_PSK_FILE:
			opts.psk_file = optarg;
			break;
		case OPT_INSECURE:
			opts.insecure = true;
			break;
		case OPT_TLS_CACERT:
			opts.tls_cacert = optarg;
			break;
		case OPT_TLS_CERT:
			opts.tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			opts.tls_key = optarg;
			break;
		case OPT_TLS_NO_CN_VERIFY:
			opts.tls_no_cn_verify = true;
			break;
		case OPT_JSON:
			opts.json = true;
			break;
		case OPT_MAX_DOWNTIME:
			if (parse_count(optarg, 3600000, &opts.max_downtime_ms))
				return usage_error("bad --max-downtime %s (milliseconds)", optarg);
			break;
		case OPT_MAX_ROUNDS:
			if (parse_count(optarg, MIG_MAX_ROUNDS, &opts.max_rounds))
				return usage_error("bad --max-rounds %s (0 to 32)", optarg);
			break;
		case OPT_AUTO_CONVERGE:
			opts.auto_converge = true;
			break;
		case OPT_GRACE:
			if (parse_count(optarg, MIG_MAX_GRACE_MS, &opts.grace_ms))
				return usage_error("bad --grace %s (milliseconds, 0 to 60000)", optarg);
			break;
		case OPT_MAX_TIME:
			if (parse_count(optarg, 86400, &opts.max_time_s))
				return usage_error("bad --max-time %s (seconds)", optarg);
			break;
		case OPT_LINK_TIMEOUT:
			if (parse_count(optarg, 3600, &opts.link_timeout_s) || !opts.link_timeout_s)
				return usage_error("bad --link-timeout %s (1 to 3600 seconds)", optarg);
			break;
		case OPT_FEATURE:
			opts.feature = optarg;
			break;
		case OPT_TRACK:
			if (track_backend_by_name(optarg, &opts.track))
				return usage_error("--track must be auto, pagemap-scan, soft-dirty or ebpf, not '%s'",
						   optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			return cmd_version();
		default:
			return usage_error("%s", "bad option");
		}
	}
	if (optind >= argc)
		return usage_error("%s", "no command given");
	cmd = argv[optind++];
	/* serve takes the grace from each source's HELLO. */
	if (opts.grace_ms && strcmp(cmd, "migrate"))
		return usage_error("%s", "--grace is migrate's");
	opts.argc = argc - optind;
	opts.argv = argv + optind;
	/* A word getopt left is a mistake (an option's value cut off by a
	 * space, a typo): only show and check name what they take. */
	if (opts.argc && strcmp(cmd, "show") && strcmp(cmd, "check"))
		return usage_error("unexpected argument '%s' after the options", opts.argv[0]);
	if (check_dump_restore_opts(cmd, &opts))
		return 2;
	if (file_valid_given && strcmp(cmd, "dump") && strcmp(cmd, "restore") &&
	    strcmp(cmd, "check") && strcmp(cmd, "serve"))
		return usage_error("%s", "--file-validation is dump's, restore's, check's or serve's");
	if (in_work_dir(cmd, work_dir, &opts, &log_file))
		return 2;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	if (log_init(level, log_file))
		return 1;
	/* migrate and serve run dumps and restores of their own: only these
	 * commands' own print the object or the progress line. */
	if (!strcmp(cmd, "dump") || !strcmp(cmd, "pre-dump") || !strcmp(cmd, "restore") ||
	    !strcmp(cmd, "check")) {
		opts.json_report = opts.json;
		opts.progress = !opts.json;
	}

	if (!strcmp(cmd, "dump")) {
		if (!opts.pid)
			return usage_error("%s", "dump needs -t PID");
		if (!opts.images_dir)
			return usage_error("%s", "dump needs -D DIR");
		ret = cmd_dump(&opts);
	} else if (!strcmp(cmd, "pre-dump")) {
		if (!opts.pid)
			return usage_error("%s", "pre-dump needs -t PID");
		if (!opts.images_dir)
			return usage_error("%s", "pre-dump needs -D DIR");
		ret = cmd_pre_dump(&opts);
	} else if (!strcmp(cmd, "restore")) {
		if (!opts.images_dir)
			return usage_error("%s", "restore needs -D DIR");
		ret = cmd_restore(&opts);
	} else if (!strcmp(cmd, "serve") || !strcmp(cmd, "migrate")) {
		bool serve = !strcmp(cmd, "serve");

		const char *tls_err = channel_opts_error(&opts, serve);

		if (tls_err)
			return usage_error("%s", tls_err);
		if (serve && !opts.images_dir)
			return usage_error("%s", "serve needs -D DIR");
		if (!serve && (!opts.pid || !opts.to))
			return usage_error("%s", "migrate needs -t PID and --to ADDR:PORT");
		/* -R would leave a second copy running once the first is moved. */
		if (!serve && (opts.leave_running || opts.images_dir || opts.prev_images_dir))
			return usage_error("%s", "migrate takes no -R, -D or --prev-images-dir");
		ret = serve ? cmd_serve(&opts) : cmd_migrate(&opts);
	} else if (!strcmp(cmd, "check")) {
		ret = cmd_check(&opts);
	} else if (!strcmp(cmd, "show")) {
		if (opts.argc != 1 && !opts.images_dir)
			return usage_error("%s", "show needs one DIR or IMAGE");
		ret = cmd_show(&opts);
	} else {
		return usage_error("unknown command '%s'", cmd);
	}
	log_fini();
	/* cmd_restore returns the restored task's exit status (0..255). */
	if (!strcmp(cmd, "restore") && ret >= 0)
		return ret;
	return ret ? 1 : 0;
}
