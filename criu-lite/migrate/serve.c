/* `lmproc serve`: the destination's side.  Accepts connections and handles
 * each in a child process of its own (a crash or a namespace change in one
 * never affects the next): authenticates the peer before reading anything
 * it sends, receives the images into a private directory under -D, runs
 * restore's own code path into a new pid and time namespace, holds the
 * restored tree stopped (or, with the source's --grace, running with its
 * network locked: restore-grace.c) until the source's COMMIT,
 * acknowledges it, and only then lets the restore hand the tree over.
 * One log line per connection; serve keeps serving. */
#include <ctype.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "fault.h"
#include "image.h"
#include "log.h"
#include "migrate.h"
#include "restore.h"
#include "restore-stage.h"

struct mig_dst {
	const struct lmproc_opts *sopts;
	struct lmproc_opts ropts; /* the restore's */
	struct mig_chan chan;
	unsigned int id;
	char name[64]; /* the images' directory under -D */
	char dir[PATH_MAX];
	int dfd;
	/* Pre-copy: round K's images go to pre-K beside the final's, which
	 * names it as its parent_dir (round K's names ../pre-(K-1)). */
	unsigned int round;
	int round_dfd; /* the open round's directory, -1 between rounds */
	unsigned int final_files;
	/* The rounds' memory, staged while the source's tree runs
	 * (restore-stage.c); STAGE_DUE: the last round is not in it yet. */
	struct restore_stage stage;
	bool stage_due;
	uint64_t t_start, bytes;
	uint64_t t_images; /* DUMP_DONE received: the restore starts */
	uint64_t t_committed; /* COMMIT received; once it runs, the hand-over's us */
	unsigned int files;
	pid_t root;
	bool committed;
	char reason[2048];
};

static volatile sig_atomic_t stop_serving;

static void serve_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One write per line: the connections' children log at once. */
static void serve_log(const char *fmt, ...)
{
	char line[1024];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;
	size_t off;

	off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ lmproc serve: ",
		       gmtime_r(&t, &tm));
	va_start(ap, fmt);
	vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap);
	va_end(ap);
	off = strlen(line);
	line[off++] = '\n';
	if (write(STDERR_FILENO, line, off) < 0)
		return;
}

static int fail(struct mig_dst *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct mig_dst *d, int err, const char *fmt, ...)
{
	va_list ap;

	if (d->reason[0])
		return err;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	return err;
}

/* DATA messages that fill exactly SIZE bytes of FD. */
static int recv_data(struct mig_dst *d, int fd, const char *name, uint64_t size)
{
	struct mig_msg m;
	char why[256];
	int ret;

	while (size) {
		ret = mig_recv(&d->chan, &m, why, sizeof(why));
		if (ret)
			return fail(d, ret, "%s, in the middle of %s", why, name);
		if (m.type != MIG_DATA || m.len > size || !m.len) {
			fail(d, -EPROTO, "%s of %u bytes where %llu bytes of %s's DATA were due",
			     mig_type_name(m.type), m.len, (unsigned long long)size, name);
			mig_msg_free(&m);
			return -EPROTO;
		}
		ret = write(fd, m.data, m.len) == (ssize_t)m.len ? 0 : -EIO;
		size -= m.len;
		mig_msg_free(&m);
		if (ret)
			return fail(d, ret, "can't write %s in %s", name, d->dir);
	}
	return 0;
}

/* A streamed file's DATA until the empty one, each counted against the
 * bounds as it comes. */
static int recv_stream(struct mig_dst *d, int fd, const char *name)
{
	uint64_t size = 0;
	struct mig_msg m;
	char why[256];
	int ret;

	for (;;) {
		ret = mig_recv(&d->chan, &m, why, sizeof(why));
		if (ret)
			return fail(d, ret, "%s, in the middle of %s", why, name);
		if (m.type != MIG_DATA) {
			fail(d, -EPROTO, "%s where %s's DATA were due", mig_type_name(m.type), name);
			mig_msg_free(&m);
			return -EPROTO;
		}
		if (!m.len) {
			mig_msg_free(&m);
			return 0;
		}
		size += m.len;
		d->bytes += m.len;
		ret = size > MIG_MAX_FILE_SIZE || d->bytes > MIG_MAX_TOTAL ? -EFBIG : 0;
		if (!ret)
			ret = write(fd, m.data, m.len) == (ssize_t)m.len ? 0 : -EIO;
		mig_msg_free(&m);
		if (ret == -EFBIG)
			return fail(d, ret, "%s streamed past %llu bytes is over the bounds", name,
				    (unsigned long long)size);
		if (ret)
			return fail(d, ret, "can't write %s in %s", name, d->dir);
	}
}

/* A FILE of this round streamed before, which the source's dump removed
 * since: a pages image only, and one that is here. */
static int drop_file(struct mig_dst *d, const char *name)
{
	struct stat st;

	if (d->round_dfd < 0 || strncmp(name, "pages-", 6))
		return fail(d, -EPROTO, "%s voided outside a round, or not a pages image", name);
	if (fstatat(d->round_dfd, name, &st, AT_SYMLINK_NOFOLLOW) ||
	    unlinkat(d->round_dfd, name, 0))
		return fail(d, -EPROTO, "%s voided but never received: %s", name, strerror(errno));
	/* Counted as if it had never come. */
	d->files--;
	d->bytes -= st.st_size;
	return 0;
}

/* One FILE message: its size and name checked before anything is made. */
static int recv_file(struct mig_dst *d, const struct mig_msg *m)
{
	char name[MIG_MAX_NAME + 1];
	bool streamed;
	uint64_t size;
	size_t nl;
	int fd, ret;

	if (m->len <= 8)
		return fail(d, -EPROTO, "a FILE message of %u bytes, too short", m->len);
	memcpy(&size, m->data, 8);
	size = le64toh(size);
	nl = m->len - 8;
	memcpy(name, m->data + 8, nl);
	name[nl] = 0;
	if (strlen(name) != nl || !mig_name_ok(name)) {
		mig_printable(name);
		return fail(d, -EPROTO, "a FILE named '%s', not an image name", name);
	}
	if (size == MIG_SIZE_DROPPED)
		return drop_file(d, name);
	streamed = size == MIG_SIZE_STREAMED;
	if (streamed)
		size = 0;
	if (++d->files > MIG_MAX_FILES || size > MIG_MAX_FILE_SIZE ||
	    d->bytes + size > MIG_MAX_TOTAL)
		return fail(d, -EFBIG, "%s of %llu bytes (file %u) is over the bounds", name,
			    (unsigned long long)size, d->files);
	d->bytes += size;
	if (d->round_dfd < 0)
		d->final_files++;
	fd = openat(d->round_dfd >= 0 ? d->round_dfd : d->dfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(d, -errno, "can't create %s in %s: %s", name, d->dir, strerror(errno));
	ret = streamed ? recv_stream(d, fd, name) : recv_data(d, fd, name, size);
	close(fd);
	return ret;
}

/* ROUND "K": the next round's directory, made before its FILEs. */
/* What the hand-over's one fork costs per page it copies (the staged
 * memory's page tables, restore-stage.c), measured once per migration:
 * the best of nine forks of this process holding 64 MiB written, at
 * round 1's start. */
static double fork_ns_per_page(void)
{
	const size_t len = 64UL << 20;
	static double ns = -1;

	for (int i = 0; i < 3 && ns < 0; i++) {
		char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t t0;
		pid_t pid;

		if (m == MAP_FAILED)
			return 0;
		madvise(m, len, MADV_POPULATE_WRITE);
		for (int k = 0; k < 3; k++) {
			t0 = now_us();
			pid = fork();
			if (!pid)
				_exit(0);
			if (pid > 0) {
				double took = (now_us() - t0) * 1000.0 / (len >> PAGE_SHIFT);

				waitpid(pid, NULL, 0);
				ns = ns < 0 ? took : min(ns, took);
			}
		}
		munmap(m, len);
	}
	return max(ns, 0.0);
}

static int begin_round(struct mig_dst *d, const struct mig_msg *m)
{
	unsigned int k;
	char name[32];
	int n = 0;

	if (d->round_dfd >= 0 || d->final_files)
		return fail(d, -EPROTO, "ROUND %s inside round %u or after the final images",
			    m->data, d->round);
	if (!isdigit((unsigned char)m->data[0]) || sscanf(m->data, "%u%n", &k, &n) != 1 ||
	    n != (int)m->len || k != d->round + 1 || k > MIG_MAX_ROUNDS) {
		mig_printable(m->data);
		return fail(d, -EPROTO, "ROUND '%s' where round %u (at most %u) was due", m->data,
			    d->round + 1, MIG_MAX_ROUNDS);
	}
	d->round = k;
	/* Measured now, not in the timed DRY_RUN exchange: the source would
	 * count it as a round trip. */
	if (k == 1)
		fork_ns_per_page();
	/* The test's moment to kill this process in the middle of a round. */
	if (k == 2 && fault_injected("serve-stop-in-round"))
		raise(SIGSTOP);
	snprintf(name, sizeof(name), "pre-%u", k);
	if (mkdirat(d->dfd, name, 0700))
		return fail(d, -errno, "can't make %s in %s: %s", name, d->dir, strerror(errno));
	d->round_dfd = openat(d->dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (d->round_dfd < 0)
		return fail(d, -errno, "can't open %s in %s: %s", name, d->dir, strerror(errno));
	return 0;
}

/* The last round's memory into the staging, while the source's tree
 * runs: before ROUND_DONE is answered (round 1's once its dry run is, which
 * the source times).  A failure costs only the staging: the restore then
 * fills every page itself. */
static void stage_round(struct mig_dst *d)
{
	char name[32], why[256] = "";
	uint64_t t0 = now_us();
	int fd;

	d->stage_due = false;
	/* The test's stale staging: round 1's, where the dump's parent is a
	 * later round; the restore must not take it. */
	if (d->round > 1 && fault_injected("serve-stage-stale"))
		return;
	snprintf(name, sizeof(name), "pre-%u", d->round);
	fd = openat(d->dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		snprintf(why, sizeof(why), "%s", strerror(errno));
	if (fd < 0 || restore_stage_round(&d->stage, fd, d->round, why, sizeof(why)))
		serve_log("migration %u: round %u not staged (%s): the restore fills its pages",
			  d->id, d->round, why);
	else
		pr_info("migration %u: round %u staged in %.1f ms\n", d->id, d->round,
			(now_us() - t0) / 1000.0);
	if (fd >= 0)
		close(fd);
}

/* ROUND_DONE: the round is complete (its inventory came), and stored. */
static int end_round(struct mig_dst *d)
{
	int ret;

	if (d->round_dfd < 0)
		return fail(d, -EPROTO, "ROUND_DONE outside a round");
	ret = faccessat(d->round_dfd, "inventory.img", F_OK, AT_SYMLINK_NOFOLLOW);
	close(d->round_dfd);
	d->round_dfd = -1;
	if (ret)
		return fail(d, -ENOENT, "round %u came without inventory.img", d->round);
	if (fault_injected("serve-round-fails"))
		return fail(d, -EIO, "round %u could not be stored (fault injected)", d->round);
	/* Staged before the answer: a source that freezes on it finds this
	 * serve free for the final images, not busy staging in its frozen
	 * time.  Round 1 is staged after its dry run, which the source
	 * times without it. */
	d->stage_due = true;
	if (d->round > 1)
		stage_round(d);
	if (mig_send(&d->chan, MIG_ROUND_DONE, NULL, 0))
		return fail(d, -ECONNRESET, "the connection failed after round %u", d->round);
	return 0;
}

/* The pages round DFD carries (its pages images' sizes): what the
 * staging of a first round holds. */
static uint64_t round_pages(int dfd)
{
	DIR *d = fdopendir(dup(dfd));
	uint64_t bytes = 0;
	struct dirent *de;
	struct stat st;

	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "pages-", 6) &&
		    !fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode))
			bytes += st.st_size;
	if (d)
		closedir(d);
	return bytes >> PAGE_SHIFT;
}

/* DRY_RUN, between rounds: the restore's own checks of the last round
 * stored, timed, nothing made; the source adds the time to the final
 * step's predicted cost.  As the final restore of a staged round, it
 * checks the raw images' footers only: the staging that follows verifies
 * every page's sum (and a round it could not stage is verified whole by
 * the restore, frozen). */
static int dry_run(struct mig_dst *d)
{
	char name[32], why[256] = "", text[64];
	uint64_t t0 = now_us(), us, fork_us = 0;
	int fd, ret;

	if (d->round_dfd >= 0 || !d->round || d->final_files)
		return fail(d, -EPROTO,
			    "DRY_RUN inside round %u, before any round or after the final images",
			    d->round);
	snprintf(name, sizeof(name), "pre-%u", d->round);
	fd = openat(d->dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return fail(d, -errno, "can't open %s in %s: %s", name, d->dir, strerror(errno));
	ret = restore_dry_run_round(fd, false, why, sizeof(why));
	us = now_us() - t0;
	if (!ret)
		fork_us = fork_ns_per_page() * round_pages(fd) / 1000.0;
	close(fd);
	if (ret)
		return fail(d, ret, "the dry run of round %u failed: %s", d->round, why);
	snprintf(text, sizeof(text), "us %llu fork %llu", (unsigned long long)us,
		 (unsigned long long)fork_us);
	if (mig_send_text(&d->chan, MIG_DRY_RUN, text))
		return fail(d, -ECONNRESET, "the connection failed after the dry run");
	return 0;
}

static int recv_images(struct mig_dst *d)
{
	struct mig_msg m;
	char why[256];
	int ret;

	for (;;) {
		ret = mig_recv(&d->chan, &m, why, sizeof(why));
		if (ret)
			return fail(d, ret, "%s", why);
		if (d->stage_due && m.type != MIG_DRY_RUN)
			stage_round(d);
		if (m.type == MIG_DUMP_DONE && d->round_dfd < 0)
			break;
		if (m.type == MIG_DUMP_DONE) {
			ret = fail(d, -EPROTO, "DUMP_DONE inside round %u", d->round);
		} else if (m.type == MIG_FILE) {
			ret = recv_file(d, &m);
		} else if (m.type == MIG_ROUND) {
			ret = begin_round(d, &m);
		} else if (m.type == MIG_ROUND_DONE) {
			ret = end_round(d);
		} else if (m.type == MIG_DRY_RUN) {
			ret = dry_run(d);
			if (!ret && d->stage_due)
				stage_round(d);
		} else if (m.type == MIG_ABORT) {
			mig_printable(m.data);
			ret = fail(d, -ECANCELED, "the source aborted: %s", m.data);
		} else {
			ret = fail(d, -EPROTO, "%s among the images", mig_type_name(m.type));
		}
		mig_msg_free(&m);
		if (ret)
			return ret;
	}
	mig_msg_free(&m);
	d->t_images = now_us();
	if (faccessat(d->dfd, "inventory.img", F_OK, AT_SYMLINK_NOFOLLOW))
		return fail(d, -ENOENT, "the images came without inventory.img");
	return 0;
}

/* The restore's hold: the tree made and stopped, nothing of it runs (or,
 * after the source's --grace, running, its network still locked). */
static int hold(void *arg, const struct restore_tree *tree, pid_t root)
{
	struct mig_dst *d = arg;
	char msg[64], why[256];
	struct mig_msg m;
	int ret;

	d->root = root;
	/* The restore's time: the source's summary shows it in the frozen time. */
	snprintf(msg, sizeof(msg), "pid %d us %llu", root,
		 (unsigned long long)(now_us() - d->t_images));
	if (mig_send_text(&d->chan, MIG_RESTORED, msg))
		return fail(d, -ECONNRESET, "the connection failed before RESTORED was sent");
	ret = mig_recv(&d->chan, &m, why, sizeof(why));
	if (ret)
		return fail(d, ret, "no COMMIT: %s", why);
	if (m.type != MIG_COMMIT) {
		mig_printable(m.data);
		fail(d, -ECANCELED, "%s instead of COMMIT%s%s", mig_type_name(m.type),
		     m.len ? ": " : "", m.data);
		mig_msg_free(&m);
		return -ECANCELED;
	}
	mig_msg_free(&m);
	/* The test's moment to cut the link between COMMIT and COMMITTED, or
	 * to kill the copy before its check. */
	if (fault_injected("serve-stop-before-committed"))
		raise(SIGSTOP);
	/* A copy that died since RESTORED (killed, out of memory) is not
	 * committed to: the ERROR goes once the restore's failure path has
	 * killed and reaped the rest, and the source resumes its own. */
	ret = restore_tree_intact(tree, why, sizeof(why));
	if (ret)
		return fail(d, ret, "%s after RESTORED: not committed", why);
	/* Committed: the source kills its tree once it reads COMMITTED, and
	 * stays stopped if it never does; either way this copy runs. */
	d->committed = true;
	d->t_committed = now_us();
	if (fault_injected("serve-no-committed")) {
		mig_chan_close(&d->chan);
		return 0;
	}
	mig_send(&d->chan, MIG_COMMITTED, NULL, 0);
	return 0;
}

static int make_dir(struct mig_dst *d)
{
	snprintf(d->name, sizeof(d->name), "mig-%d-%u", getppid(), d->id);
	snprintf(d->dir, sizeof(d->dir), "%s/%s", d->sopts->images_dir, d->name);
	if (mkdir(d->dir, 0700))
		return fail(d, -errno, "can't make %s: %s", d->dir, strerror(errno));
	d->dfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (d->dfd < 0)
		return fail(d, -errno, "can't open %s: %s", d->dir, strerror(errno));
	/* Held until this process ends: a directory nobody holds was left by
	 * a serve killed with its children (sweep_stale). */
	if (flock(d->dfd, LOCK_EX | LOCK_NB))
		return fail(d, -errno, "can't lock %s: %s", d->dir, strerror(errno));
	return 0;
}

static bool round_name(const char *name)
{
	unsigned int k;
	int n = 0;

	return sscanf(name, "pre-%u%n", &k, &n) == 1 && !name[n] && k && k <= MIG_MAX_ROUNDS;
}

/* Only what recv_file and begin_round made: image names, and the rounds'
 * directories of image names (DEPTH 1), nothing else. */
static void remove_images(int dfd, int depth)
{
	int fd = dup(dfd), sub;
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		if (mig_name_ok(de->d_name)) {
			unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (depth || !round_name(de->d_name))
			continue;
		sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub >= 0) {
			remove_images(sub, depth + 1);
			close(sub);
		}
		unlinkat(dfd, de->d_name, AT_REMOVEDIR);
	}
	if (dir)
		closedir(dir);
	else if (fd >= 0)
		close(fd);
}

static void remove_dir(struct mig_dst *d)
{
	if (d->round_dfd >= 0)
		close(d->round_dfd);
	d->round_dfd = -1;
	if (d->dfd < 0)
		return;
	remove_images(d->dfd, 0);
	close(d->dfd);
	d->dfd = -1;
	if (rmdir(d->dir))
		serve_log("migration %u: can't remove %s: %s", d->id, d->dir, strerror(errno));
}

static int restore_tree(struct mig_dst *d)
{
	char why[256];
	int ret;

	d->ropts.images_dir = d->dir;
	d->ropts.pidns = true;
	d->ropts.timens = true;
	d->ropts.detach = true;
	d->ropts.restore_hold = hold;
	d->ropts.hold_arg = d;
	/* --grace: a tree that dies within it is the reason (as is, since
	 * fail() keeps the first). */
	d->ropts.grace_why = d->reason;
	d->ropts.grace_why_len = sizeof(d->reason);
	d->ropts.grace_peer_fd = d->chan.fd;
	d->ropts.stage = &d->stage;
	log_first_error_reset();
	ret = cmd_restore(&d->ropts);
	snprintf(why, sizeof(why), "%s", log_first_error());
	/* The rounds verified as they were staged are this migration's. */
	restore_stage_drop(&d->stage);
	img_raw_forget_verified();
	if (ret)
		fail(d, ret, "the restore failed (%s)%s%s", strerror(ret < 0 ? -ret : EIO),
		     why[0] ? ": " : "", why);
	return ret;
}

/* The restore would refuse this CPU at the end, after the source's
 * freeze: refused now, the reason as the answer to HELLO. */
static int check_cpu(struct mig_dst *d, const struct mig_peer_cpu *cpu)
{
	char why[sizeof(d->reason)] = "";
	int ret;

	if (!cpu->seen)
		return 0;
	log_capture_start(why, sizeof(why));
	ret = cpu_check(&cpu->cpu, 0, d->ropts.cpu_cap, NULL, 0);
	log_capture_end();
	if (!ret)
		return 0;
	fail(d, ret, "%s", why);
	mig_send_text(&d->chan, MIG_ERROR, d->reason);
	return ret;
}

static int handshake(struct mig_dst *d, const struct mig_auth *auth, int fd)
{
	char hello[MIG_MAX_SMALL], why[256];
	struct mig_peer_cpu cpu = {};
	struct mig_msg m;
	int ret;

	ret = mig_chan_start(&d->chan, fd, true, auth, why, sizeof(why));
	if (ret)
		return fail(d, ret, "%s", why);
	if (mig_chan_link_timeout(&d->chan, d->sopts->link_timeout_s))
		return fail(d, -errno, "can't set the link's timeouts: %s", strerror(errno));
	ret = mig_recv(&d->chan, &m, why, sizeof(why));
	if (!ret) {
		ret = mig_hello_parse(&m, &d->ropts, &cpu, why, sizeof(why));
		mig_msg_free(&m);
	}
	if (ret) {
		/* An authenticated peer learns why, if it still listens. */
		fail(d, ret, "%s", why);
		mig_send_text(&d->chan, MIG_ERROR, d->reason);
		return ret;
	}
	ret = check_cpu(d, &cpu);
	if (ret)
		return ret;
	ret = mig_hello_make(hello, sizeof(hello), NULL);
	ret = ret < 0 ? ret : mig_send(&d->chan, MIG_HELLO, hello, ret);
	return ret ? fail(d, ret, "can't answer HELLO") : 0;
}

/* Before the source freezes anything: check -D's own checks on what it
 * read of its running tree.  A failed check or a malformed PREFLIGHT is
 * the answer (ERROR, serve_one's) and the end; the restore checks it
 * all again at the end. */
static int preflight(struct mig_dst *d)
{
	char lines[MIG_MAX_SMALL], why[sizeof(d->reason)];
	struct mig_msg m;
	int ret = mig_recv(&d->chan, &m, why, sizeof(why));

	if (ret)
		return fail(d, ret, "%s", why);
	if (m.type != MIG_PREFLIGHT) {
		fail(d, -EPROTO, "%s where PREFLIGHT was due", mig_type_name(m.type));
		mig_msg_free(&m);
		return -EPROTO;
	}
	ret = mig_preflight_check(&m, d->ropts.file_valid, lines, sizeof(lines), why, sizeof(why));
	mig_msg_free(&m);
	if (ret < 0)
		return fail(d, ret, "%s", why);
	if (ret)
		return fail(d, -ECANCELED, "this host can't restore the tree: %s", why);
	ret = mig_send_text(&d->chan, MIG_PREFLIGHT, lines);
	return ret ? fail(d, ret, "can't answer PREFLIGHT") : 0;
}

/* Which processes the staged memory went through: the root's fork only,
 * or (a regression) the init too. */
static const char *carried(const struct mig_dst *d, char *buf, size_t len)
{
	if (!d->stage.handed_down)
		return "";
	if (!d->stage.init_kb)
		return "; handed to the tree by one fork, the pid namespace's init maps none of it";
	snprintf(buf, len, "; the pid namespace's init maps %llu kB of it",
		 (unsigned long long)d->stage.init_kb);
	return buf;
}

static int serve_one(struct mig_dst *d, const struct mig_auth *auth, int fd)
{
	char msg[96];
	bool started;
	int ret;

	ret = handshake(d, auth, fd);
	started = !ret;
	if (!ret)
		ret = preflight(d);
	if (!ret)
		ret = make_dir(d);
	if (!ret)
		ret = recv_images(d);
	if (!ret)
		ret = restore_tree(d);
	/* The tree runs: the hand-over took this long after COMMIT. */
	d->t_committed = now_us() - d->t_committed;
	remove_dir(d);
	if (!ret && d->round)
		serve_log("migration %u: %llu vmas (%llu MiB) moved from round %u's staging, "
			  "%llu pages filled over them at the freeze, %llu vmas not taken%s",
			  d->id, (unsigned long long)d->stage.used_vmas,
			  (unsigned long long)(d->stage.used_bytes >> 20), d->stage.round,
			  (unsigned long long)d->stage.filled_pages,
			  (unsigned long long)d->stage.unused_vmas, carried(d, msg, sizeof(msg)));
	if (!ret) {
		serve_log(
		    "migration %u from %s: pid %d runs here (%u images, %llu bytes, %u pre-copy "
		    "rounds, a grace of %d ms, %.1f ms; hand-over after COMMIT %.1f ms)%s",
		    d->id, d->chan.peer, d->root, d->files, (unsigned long long)d->bytes, d->round,
		    d->ropts.grace_ms, (now_us() - d->t_start) / 1000.0, d->t_committed / 1000.0,
		    d->chan.fd < 0 ? "; the link was closed before COMMITTED" : "");
		mig_chan_close(&d->chan);
		return 0;
	}
	/* The source learns why, if it still listens. */
	if (started && d->chan.fd >= 0)
		mig_send_text(&d->chan, MIG_ERROR, d->reason);
	serve_log("%s %u from %s refused: %s", started ? "migration" : "connection", d->id,
		  d->chan.peer[0] ? d->chan.peer : "?", d->reason);
	mig_chan_close(&d->chan);
	return ret;
}

/* What a serve killed with its connections' children (SIGKILL) left
 * under -D: their directories, mig-PID-N, which no child holds locked
 * any more; removed as the child would have. */
static void sweep_stale(const struct lmproc_opts *opts)
{
	DIR *dir = opendir(opts->images_dir);
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		struct mig_dst d = {.sopts = opts, .dfd = -1, .round_dfd = -1};
		int pid, n = 0;

		if (sscanf(de->d_name, "mig-%d-%u%n", &pid, &d.id, &n) != 2 || de->d_name[n])
			continue;
		snprintf(d.dir, sizeof(d.dir), "%s/%s", opts->images_dir, de->d_name);
		d.dfd =
		    openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (d.dfd < 0)
			continue;
		if (flock(d.dfd, LOCK_EX | LOCK_NB)) {
			close(d.dfd);
			continue;
		}
		remove_dir(&d);
		serve_log("removed %s: serve %d was killed with its migration %u", d.dir, pid,
			  d.id);
	}
	if (dir)
		closedir(dir);
}

static void on_stop(int sig)
{
	(void)sig;
	stop_serving = 1;
}

static void child(const struct lmproc_opts *opts, const struct mig_auth *auth, int fd,
		  unsigned int id)
{
	struct mig_dst d = {.sopts = opts, .id = id, .dfd = -1, .round_dfd = -1,
			    .t_start = now_us()};

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	d.chan.fd = -1;
	d.ropts.manage_cgroups = opts->manage_cgroups;
	d.ropts.network_lock = opts->network_lock;
	d.ropts.cpu_cap = opts->cpu_cap;
	d.ropts.file_valid = opts->file_valid;
	_exit(serve_one(&d, auth, fd) ? 1 : 0);
}

/* The connections being served: a child's id names its directory. */
struct conn {
	pid_t pid;
	unsigned int id;
};

/* A child that crashed left its images: removed as the child would. */
static void child_ended(const struct lmproc_opts *opts, struct conn *conns, pid_t pid, int status)
{
	struct mig_dst d = {.sopts = opts, .dfd = -1, .round_dfd = -1};

	for (unsigned int i = 0; i < MIG_MAX_CONNS; i++) {
		if (conns[i].pid != pid)
			continue;
		conns[i].pid = 0;
		d.id = conns[i].id;
		if (WIFSIGNALED(status))
			serve_log("connection %u: its process was killed by SIG%s", d.id,
				  sigabbrev_np(WTERMSIG(status)));
		snprintf(d.dir, sizeof(d.dir), "%s/mig-%d-%u", opts->images_dir, getpid(), d.id);
		d.dfd = open(d.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		remove_dir(&d);
	}
}

/* Reaps the connections' children that ended (WAIT: all of them); how
 * many still run. */
static unsigned int reap(const struct lmproc_opts *opts, struct conn *conns, unsigned int running,
			 bool wait)
{
	int status;
	pid_t pid;

	while (running && (pid = waitpid(-1, &status, wait ? 0 : WNOHANG)) > 0) {
		child_ended(opts, conns, pid, status);
		running--;
	}
	return running;
}

static void conn_add(struct conn *conns, pid_t pid, unsigned int id, unsigned int *running)
{
	for (unsigned int i = 0; i < MIG_MAX_CONNS; i++) {
		if (!conns[i].pid) {
			conns[i] = (struct conn){.pid = pid, .id = id};
			break;
		}
	}
	(*running)++;
}

static int serve_loop(const struct lmproc_opts *opts, const struct mig_auth *auth, int lfd)
{
	struct conn conns[MIG_MAX_CONNS] = {};
	unsigned int id = 0, running = 0;

	while (!stop_serving) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		pid_t pid;
		int fd;

		running = reap(opts, conns, running, false);
		if (poll(&p, 1, 1000) != 1)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		id++;
		/* Peers that never finish their handshake can't pile up. */
		running = reap(opts, conns, running, false);
		if (running >= MIG_MAX_CONNS) {
			serve_log("connection %u refused: %u connections are being served already",
				  id, running);
			close(fd);
			continue;
		}
		fflush(NULL);
		pid = fork();
		if (!pid) {
			close(lfd);
			child(opts, auth, fd, id);
		}
		if (pid < 0)
			serve_log("connection %u: can't fork: %s", id, strerror(errno));
		else
			conn_add(conns, pid, id, &running);
		close(fd);
	}
	reap(opts, conns, running, true);
	return 0;
}

int cmd_serve(struct lmproc_opts *opts)
{
	struct sigaction sa = {.sa_handler = on_stop};
	const char *addr = opts->listen ?: "127.0.0.1:7070";
	char bound[80];
	struct mig_auth auth = {};
	struct stat st;
	int lfd, ret;

	if (!opts->insecure && mig_auth_load(opts, true, &auth))
		return -EINVAL;
	if (stat(opts->images_dir, &st) || !S_ISDIR(st.st_mode)) {
		pr_err("-D %s is not a directory\n", opts->images_dir);
		mig_auth_free(&auth);
		return -ENOTDIR;
	}
	sweep_stale(opts);
	lfd = mig_listen(addr, bound, sizeof(bound));
	if (lfd < 0) {
		mig_auth_free(&auth);
		return lfd;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	serve_log("listening on %s (%s%s), images under %s", bound,
		  opts->insecure ? "plaintext: --insecure" : "TLS 1.3, ",
		  opts->insecure ? "" : mig_auth_kind(&auth), opts->images_dir);
	ret = serve_loop(opts, opts->insecure ? NULL : &auth, lfd);
	close(lfd);
	mig_auth_free(&auth);
	serve_log("stopped");
	return ret;
}
