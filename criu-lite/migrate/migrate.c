/* `lmproc migrate`: the source's side.  Connects and authenticates before
 * anything is frozen, then runs the dump's own code path into a private
 * tmpfs directory; with the tree frozen and its images checked, streams
 * them, waits for the destination's RESTORED, commits, and only on
 * COMMITTED lets the dump kill the tree.  Before COMMIT every failure
 * releases the tree as `dump -R` does; after COMMIT without COMMITTED the
 * tree stays stopped, neither killed nor resumed (docs/migration.md).
 * Before the final dump, pre-copy rounds (the pre-dump's own code path)
 * stream what the tree writes while it runs, as the planner decides. */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "dirty-track.h"
#include "fault.h"
#include "image.h"
#include "interrupt.h"
#include "json.h"
#include "log.h"
#include "migrate.h"
#include "pstree.h"
#include "sk-tcp.h"
#include "track-keeper.h"

#include "stats.pb-c.h"

struct mig_src {
	struct lmproc_opts *opts;
	struct mig_chan chan;
	char dir[64];
	uint64_t t_start, t_frozen, t_committed;
	/* The frozen time's parts (docs/migration.md, Output): the freeze
	 * before t_frozen; the hold's start, DUMP_DONE written, RESTORED
	 * read; the destination's restore as serve timed it (-1: not told). */
	uint64_t freeze_us, t_held, t_sent, t_restored;
	int64_t dest_restore_us;
	uint64_t image_bytes, final_bytes;
	uint64_t final_start; /* bytes sent when the final dump began */
	unsigned int files;
	struct mig_plan plan;
	struct mig_throttle throttle;
	pid_t dest_pid;
	pid_t janitor;	/* removes dir if migrate is SIGKILLed */
	int janitor_fd; /* its socket's other end: closed, it ends */
	bool held; /* the dump reached the hold: the images were complete */
	bool dump_said; /* a pre-copy round failed and said why itself */
	/* The dump's pages images, sent while it writes them (stream.c);
	 * SENT: the last stream's, whose files send_images skips. */
	struct mig_stream stream;
	const struct mig_stream *sent;
	const char *result;
	char reason[2200];
	char preflight[MIG_MAX_SMALL]; /* serve's answer to PREFLIGHT, a line per check */
};

static int fail(struct mig_src *m, int err, const char *fmt, const char *arg)
{
	snprintf(m->reason, sizeof(m->reason), fmt, arg);
	return err;
}

static int send_file(struct mig_src *m, int dfd, const char *name)
{
	unsigned char hdr[8 + MIG_MAX_NAME];
	static char buf[MIG_MAX_CHUNK];
	size_t nl = strlen(name);
	uint64_t size, le;
	struct stat st;
	int fd, ret = 0;

	if (!mig_name_ok(name))
		return fail(m, -EINVAL,
			    "the dump wrote %s, not an image name the destination takes", name);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return fail(m, -errno, "can't read the image %s", name);
	}
	size = st.st_size;
	le = htole64(size);
	memcpy(hdr, &le, 8);
	memcpy(hdr + 8, name, nl);
	ret = mig_send(&m->chan, MIG_FILE, hdr, 8 + nl);
	while (!ret && size) {
		ssize_t n = read(fd, buf, min(size, (uint64_t)sizeof(buf)));

		if (n <= 0) {
			ret = fail(m, -EIO, "%s changed while it was sent", name);
			break;
		}
		ret = mig_send(&m->chan, MIG_DATA, buf, n);
		size -= n;
	}
	close(fd);
	m->image_bytes += st.st_size;
	m->files++;
	return ret;
}

/* A listing of the images directory DFD from its start (DFD stays open). */
static DIR *list_images(int dfd)
{
	int dup_fd = dup(dfd);
	DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);

	if (!d && dup_fd >= 0)
		close(dup_fd);
	if (d)
		rewinddir(d);
	return d;
}

static int send_images(struct mig_src *m, int dfd)
{
	int ret = 0, stopped = 0;
	struct dirent *de;
	DIR *d = list_images(dfd);

	if (!d)
		return fail(m, -errno, "can't list the images in %s", m->dir);
	while (!ret && (de = readdir(d))) {
		/* The rounds' directories went in their rounds. */
		if (de->d_name[0] == '.' || de->d_type == DT_DIR)
			continue;
		if (mig_stream_sent(m->sent, de->d_name))
			continue;
		ret = interrupt_check();
		if (ret) {
			fail(m, ret, "interrupted by SIG%s before the commit",
			     sigabbrev_np(interrupt_signal()));
			break;
		}
		ret = send_file(m, dfd, de->d_name);
		if (ret && !m->reason[0])
			fail(m, ret, "the connection failed while sending %s", de->d_name);
		/* The test's moment to cut the link in the final dump's send. */
		if (!ret && m->t_held && !stopped++ && fault_injected("migrate-stop-in-send"))
			raise(SIGSTOP);
	}
	closedir(d);
	return ret;
}

/* RESTORED's "pid N", and " us M" (its restore's time) from a serve that
 * times it. */
static int parse_restored(struct mig_src *m, const struct mig_msg *msg)
{
	unsigned long long us;
	int n = 0, k = 0;

	if (sscanf(msg->data, "pid %d%n", &m->dest_pid, &n) != 1 || m->dest_pid <= 0)
		return -EPROTO;
	if (n == (int)msg->len)
		return 0;
	if (sscanf(msg->data + n, " us %llu%n", &us, &k) != 1 || n + k != (int)msg->len ||
	    us > INT64_MAX)
		return -EPROTO;
	m->dest_restore_us = us;
	return 0;
}

/* The answer to DUMP_DONE: RESTORED, or the destination's reason. */
static int wait_restored(struct mig_src *m)
{
	struct mig_msg msg;
	char why[256];
	int ret;

	/* A signal to lmproc meanwhile (blocked during a dump) is an abort:
	 * nothing is committed yet. */
	ret = mig_chan_wait(&m->chan, MIG_RESTORE_TIMEOUT_MS + m->opts->grace_ms, interrupt_check);
	if (ret == -EINTR)
		return fail(m, ret, "interrupted by SIG%s before the commit",
			    sigabbrev_np(interrupt_signal()));
	if (ret)
		return fail(m, ret, "%s", "the destination did not restore the tree in time");
	ret = mig_recv(&m->chan, &msg, why, sizeof(why));
	if (ret)
		return fail(m, ret, "no answer from the destination after the images: %s", why);
	if (msg.type == MIG_RESTORED && !parse_restored(m, &msg)) {
		m->t_restored = now_us();
		mig_msg_free(&msg);
		return 0;
	}
	mig_printable(msg.data);
	if (msg.type == MIG_ERROR || msg.type == MIG_ABORT)
		fail(m, -ECANCELED, "the destination could not restore the tree: %s", msg.data);
	else if (msg.type == MIG_RESTORED)
		fail(m, -EPROTO, "the destination answered a RESTORED that does not parse: '%s'",
		     msg.data);
	else
		fail(m, -EPROTO, "the destination answered %s instead of RESTORED",
		     mig_type_name(msg.type));
	mig_msg_free(&msg);
	return -ECANCELED;
}

static int wait_committed(struct mig_src *m, bool *gone)
{
	struct mig_msg msg;
	char why[256];
	int ret = mig_recv(&m->chan, &msg, why, sizeof(why));

	if (!ret && msg.type == MIG_ERROR) {
		/* serve answers COMMIT with ERROR only once its copy is gone:
		 * the tree resumes here. */
		mig_printable(msg.data);
		fail(m, -ECANCELED, "the destination's copy is gone: %s", msg.data);
		mig_msg_free(&msg);
		*gone = true;
		return -ECANCELED;
	}
	if (!ret && msg.type != MIG_COMMITTED)
		ret = -EPROTO;
	if (ret)
		fail(m, ret, "%s",
		     ret == -EPROTO ? "the destination answered COMMIT wrongly" : why);
	mig_msg_free(&msg);
	return ret;
}

/* The final dump's freeze (seizing every thread), from its stats. */
static uint64_t freeze_time(int dfd)
{
	ProtobufCMessage *msg;
	uint64_t us;

	if (img_read_one(dfd, IMG_STATS_DUMP, 0, &msg))
		return 0;
	us = ((DumpStatsEntry *)msg)->freezing_time_us;
	img_free_msg(msg);
	return us;
}

static int stream_start(struct mig_src *m, const char *dir)
{
	m->sent = NULL;
	return mig_stream_start(&m->stream, &m->chan, dir) ? fail(m, -EIO, "%s",
		"can't stream the pages images") : 0;
}

/* The stream's files are the dump's: counted as send_file counts. */
static int stream_end(struct mig_src *m)
{
	int ret = mig_stream_end(&m->stream);

	if (m->sent)
		return 0;
	m->sent = &m->stream;
	m->image_bytes += m->stream.bytes - m->stream.voided_bytes;
	m->files += mig_stream_files(&m->stream);
	return ret ? fail(m, ret, "%s", m->stream.why) : 0;
}

/* Said now, so that the dump adds no line of its own: the release that
 * follows is dump -R's.  A signal the dump names itself. */
static int released(struct mig_src *m, int ret)
{
	if (ret != -EINTR)
		pr_err("Migration of pid %d to %s failed: %s; the tree is released and "
		       "runs here as before\n",
		       m->opts->pid, m->opts->to, m->reason);
	return ret;
}

/* Called by the dump with the tree frozen and its images complete. */
static int hold(void *arg, int dfd, uint64_t t_frozen_us)
{
	struct mig_src *m = arg;
	bool gone = false;
	int ret;

	m->t_frozen = t_frozen_us;
	m->t_held = now_us();
	m->held = true;
	m->freeze_us = freeze_time(dfd);
	ret = stream_end(m) ?: send_images(m, dfd);
	if (!ret && mig_send(&m->chan, MIG_DUMP_DONE, NULL, 0))
		ret = fail(m, -ECONNRESET, "%s", "the connection failed after the images");
	if (!ret)
		m->t_sent = now_us();
	m->final_bytes = m->chan.bytes_sent - m->final_start;
	if (!ret)
		ret = wait_restored(m);
	if (ret) {
		/* The destination drops its copy on ABORT, or on the lost link. */
		mig_send_text(&m->chan, MIG_ABORT, m->reason);
		return released(m, ret);
	}
	/* Once COMMIT may have left, the connections belong to the copy
	 * there: a migrate killed from here on leaves them in repair mode. */
	tcp_dump_keep_repair(m->opts->hold_tcp);
	if (mig_send(&m->chan, MIG_COMMIT, NULL, 0)) {
		/* COMMIT may or may not have left: the outcome is unknown. */
		fail(m, -ECONNRESET, "%s", "the connection failed while sending COMMIT");
		return DUMP_HOLD_FROZEN;
	}
	ret = wait_committed(m, &gone);
	if (gone)
		return released(m, ret);
	if (ret)
		return DUMP_HOLD_FROZEN;
	m->t_committed = now_us();
	return 0;
}

/* The images, and the rounds' directories of images (DEPTH 1). */
static void remove_dir(const char *dir, int depth)
{
	char sub[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR && !depth) {
			snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
			remove_dir(sub, depth + 1);
		} else {
			unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	if (d)
		closedir(d);
	if (rmdir(dir) && errno != ENOENT)
		pr_warn("Can't remove %s: %s\n", dir, strerror(errno));
}

/* Reads LEN bytes, or fewer at the end. */
static size_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

/* The janitor learns each state of --auto-converge's cgroup, to undo
 * what a SIGKILLed migrate left. */
static void janitor_tell(struct mig_src *m)
{
	const char *p = (const char *)&m->throttle;
	size_t left = sizeof(m->throttle);

	while (m->janitor > 0 && left) {
		/* A janitor killed on its own must not take migrate along. */
		ssize_t n = send(m->janitor_fd, p, left, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_warn("Can't tell migrate's cleaner the throttle's state: %s\n",
				strerror(errno));
			return;
		}
		p += n;
		left -= n;
	}
}

/* A SIGKILLed migrate can't remove its directory of rounds (as big as
 * the tree's memory, in tmpfs) nor undo --auto-converge's cgroup: a child
 * of its own does, once migrate's end of a socket pair between them is
 * closed; the pair carries the cgroup's states meanwhile.  It holds
 * nothing else (the channel's socket would keep the link up) and ignores
 * the signals a terminal sends the whole group. */
static void start_janitor(struct mig_src *m)
{
	static struct mig_throttle last, in;
	const char *dir = m->dir;
	int p[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p)) {
		pr_warn("No cleaner for %s if migrate is killed: %s\n", dir, strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0)
		pr_warn("No cleaner for %s if migrate is killed: %s\n", dir, strerror(errno));
	if (pid) {
		close(p[0]);
		if (pid < 0) {
			close(p[1]);
			return;
		}
		m->janitor = pid;
		m->janitor_fd = p[1];
		return;
	}
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (dup2(p[0], 0) < 0)
		_exit(1);
	close_range(1, ~0U, 0);
	while (read_full(0, &in, sizeof(in)) == sizeof(in))
		last = in;
	throttle_undo(&last);
	remove_dir(dir, 0);
	_exit(0);
}

/* Migrate ends: its janitor too, before it, so nothing of it is left. */
static void stop_janitor(struct mig_src *m)
{
	if (m->janitor <= 0)
		return;
	close(m->janitor_fd);
	waitpid(m->janitor, NULL, 0);
}

/* What serve says of the running tree, read without stopping it: OK
 * (PREFLIGHT, a line per check) or ERROR naming every failed check. */
static int preflight(struct mig_src *m, char *why, size_t len)
{
	cleanup_free uint8_t *buf = NULL;
	uint64_t t0 = now_us(), t1;
	struct mig_msg msg;
	size_t n;
	char what[512];
	int ret = mig_preflight_make(m->opts->pid, &buf, &n, what, sizeof(what));

	if (ret) {
		snprintf(why, len, "can't read what the tree needs of the destination: %s",
			 what[0] ? what : strerror(-ret));
		return ret;
	}
	t1 = now_us();
	ret = mig_send(&m->chan, MIG_PREFLIGHT, buf, n);
	if (ret) {
		snprintf(why, len, "can't send PREFLIGHT: %s", strerror(-ret));
		return ret;
	}
	ret = mig_recv(&m->chan, &msg, why, len);
	if (ret)
		return ret;
	if (msg.type != MIG_PREFLIGHT)
		mig_printable(msg.data);
	pr_info("Preflight: the tree's needs read in %.1f ms (%zu bytes), the destination's "
		"checks answered in %.1f ms\n", (t1 - t0) / 1000.0, n, (now_us() - t1) / 1000.0);
	if (msg.type == MIG_PREFLIGHT) {
		snprintf(m->preflight, sizeof(m->preflight), "%s", msg.data);
	} else if (msg.type == MIG_ERROR) {
		snprintf(why, len, "it refused: %s", msg.data);
		ret = -ECANCELED;
	} else {
		snprintf(why, len, "%s where the answer to PREFLIGHT was due",
			 mig_type_name(msg.type));
		ret = -EPROTO;
	}
	mig_msg_free(&msg);
	return ret;
}

/* Connected and authenticated, versions agreed, the destination's
 * checks passed: nothing is frozen yet. */
static int open_channel(struct mig_src *m, const struct mig_auth *auth)
{
	char hello[MIG_MAX_SMALL], why[2048];
	struct mig_msg msg;
	int fd, ret;

	fd = mig_connect(m->opts->to, MIG_HANDSHAKE_TIMEOUT_MS);
	if (fd < 0)
		return fd;
	ret = mig_chan_start(&m->chan, fd, false, auth, why, sizeof(why));
	if (!ret && mig_chan_link_timeout(&m->chan, m->opts->link_timeout_s)) {
		ret = -errno;
		snprintf(why, sizeof(why), "can't set the link's timeouts: %s", strerror(errno));
	}
	if (!ret) {
		ret = mig_hello_make(hello, sizeof(hello), m->opts);
		ret = ret < 0 ? ret : mig_send(&m->chan, MIG_HELLO, hello, ret);
		if (ret)
			snprintf(why, sizeof(why), "can't send HELLO: %s", strerror(-ret));
	}
	if (!ret)
		ret = mig_recv(&m->chan, &msg, why, sizeof(why));
	if (!ret) {
		if (msg.type == MIG_ERROR) {
			mig_printable(msg.data);
			snprintf(why, sizeof(why), "it refused: %s", msg.data);
			ret = -ECANCELED;
		} else {
			ret = mig_hello_parse(&msg, NULL, NULL, why, sizeof(why));
		}
		mig_msg_free(&msg);
	}
	if (!ret)
		ret = preflight(m, why, sizeof(why));
	if (ret)
		fail(m, ret, "%s", why);
	if (ret)
		pr_err("Migration of pid %d to %s refused before anything was frozen: %s\n",
		       m->opts->pid, m->opts->to, why);
	return ret;
}

/* serve's checks of the running tree, as check -D --json has them. */
static void preflight_json(const struct mig_src *m)
{
	char lines[sizeof(m->preflight)], *line, *save;
	int n = 0;

	if (!m->preflight[0])
		return;
	snprintf(lines, sizeof(lines), "%s", m->preflight);
	printf(", \"preflight\": [");
	for (line = strtok_r(lines, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[32], ok[8];
		int off = 0;

		mig_printable(line);
		if (sscanf(line, "%31s %7s %n", name, ok, &off) != 2 || !off)
			continue;
		printf("%s{\"name\": ", n++ ? ", " : "");
		json_str(stdout, name);
		printf(", \"ok\": %s, \"detail\": ", strcmp(ok, "ok") ? "false" : "true");
		json_str(stdout, line + off);
		printf("}");
	}
	printf("]");
}

static void history_json(const struct mig_src *m)
{
	char buf[512];

	printf(", \"history\": [");
	for (unsigned int i = 0; i < m->plan.nr; i++) {
		mig_round_json(&m->plan.hist[i], buf, sizeof(buf));
		printf("%s%s", i ? ", " : "", buf);
	}
	printf("]");
}

/* Where the frozen time went, in us: freeze, final dump, transfer, the
 * destination's restore, commit.  A step not reached is 0 and the one in
 * progress runs to END (a release included); the wait for RESTORED beyond
 * the destination's restore (images still in flight, the answer's way
 * back) is the transfer's. */
static void frozen_parts(const struct mig_src *m, uint64_t end, uint64_t part[5])
{
	uint64_t held = m->t_held ?: end, sent = m->t_sent ?: end, restored = m->t_restored ?: end;
	uint64_t wait = restored - sent;
	uint64_t restore = m->dest_restore_us >= 0 ? min((uint64_t)m->dest_restore_us, wait) : wait;

	part[0] = m->freeze_us;
	part[1] = held - m->t_frozen;
	part[2] = sent - held + wait - restore;
	part[3] = restore;
	part[4] = end - restored;
}

static void summary(struct mig_src *m, int ret)
{
	static const char *const names[5] = {"freeze", "final dump", "transfer", "restore",
					     "commit"};
	static const char *const keys[5] = {"freeze_ms", "dump_ms", "send_ms", "restore_ms",
					    "commit_ms"};
	char buf[512];
	uint64_t now = now_us(), part[5] = {0};
	uint64_t frozen = m->t_frozen ? (m->t_committed ?: now) - m->t_frozen + m->freeze_us : 0;

	if (m->t_frozen)
		frozen_parts(m, m->t_committed ?: now, part);

	if (m->opts->json) {
		printf("{\"result\": \"%s\", \"pid\": %d, \"to\": \"%s\", \"dest_pid\": %d, "
		       "\"frozen_ms\": %.3f, \"bytes\": %llu, \"image_bytes\": %llu, "
		       "\"files\": %u, \"total_ms\": %.3f, \"final_bytes\": %llu, \"rounds\": %u",
		       m->result, m->opts->pid, m->opts->to, m->dest_pid, frozen / 1000.0,
		       (unsigned long long)m->chan.bytes_sent, (unsigned long long)m->image_bytes,
		       m->files, (now - m->t_start) / 1000.0,
		       (unsigned long long)m->final_bytes, m->plan.nr);
		printf(", \"frozen\": {");
		for (int i = 0; i < 5; i++)
			printf("%s\"%s\": %.3f", i ? ", " : "", keys[i], part[i] / 1000.0);
		printf("}");
		if (m->plan.stop)
			printf(", \"stop\": \"%s\"", m->plan.stop);
		mig_plan_json(&m->plan, buf, sizeof(buf));
		printf("%s", buf);
		preflight_json(m);
		history_json(m);
		if (ret) {
			for (char *p = m->reason; *p; p++)
				if (*p == '"' || *p == '\\')
					*p = '\'';
			printf(", \"reason\": \"%s\"", m->reason);
		}
		printf("}\n");
		fflush(stdout);
		return;
	}
	if (!ret && m->plan.nr)
		printf("predicted frozen %.1f ms (fixed %.1f: final dump's non-memory state "
		       "%.1f, destination's dry run %.1f and hand-over fork %.1f, round trips "
		       "%.1f)\n",
		       mig_plan_predicted(&m->plan), m->plan.fixed_us / 1000.0,
		       m->plan.nonmem_us / 1000.0, m->plan.dry_run_us / 1000.0,
		       m->plan.fork_us / 1000.0, 2 * m->plan.rtt_us / 1000.0);
	if (!ret)
		printf("pid %d migrated to %s (pid %d there): frozen %.1f ms, %llu bytes sent "
		       "(%u images, %llu bytes; %llu in the final dump after %u pre-copy "
		       "rounds), total %.1f ms\n",
		       m->opts->pid, m->opts->to, m->dest_pid, frozen / 1000.0,
		       (unsigned long long)m->chan.bytes_sent, m->files,
		       (unsigned long long)m->image_bytes, (unsigned long long)m->final_bytes,
		       m->plan.nr, (now - m->t_start) / 1000.0);
	if (!m->t_frozen)
		return;
	printf("frozen %.1f ms:", frozen / 1000.0);
	for (int i = 0; i < 5; i++)
		printf("%s %s %.1f%s", i ? "," : "", names[i], part[i] / 1000.0,
		       i == 3 ? " (the destination's)" : "");
	printf("\n");
}

/* PID and its descendants, as "PID PID...", for the user's kill. */
static void tree_pids(pid_t pid, char *buf, size_t len, size_t *off)
{
	char path[64];
	FILE *f;
	int child;

	if (*off < len)
		*off += snprintf(buf + *off, len - *off, "%s%d", *off ? " " : "", pid);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "re");
	while (f && fscanf(f, "%d", &child) == 1)
		tree_pids(child, buf, len, off);
	if (f)
		fclose(f);
}

/* After COMMIT without COMMITTED only the destination knows whether the
 * tree runs there. */
static void say_frozen(struct mig_src *m)
{
	char pids[1024] = "";
	size_t off = 0;

	tree_pids(m->opts->pid, pids, sizeof(pids), &off);
	pr_err("Migration of pid %d to %s: COMMIT was sent but not acknowledged (%s): the "
	       "tree is left STOPPED here, neither killed nor resumed.  If it runs on %s, "
	       "end it here with `kill -9 %s`; if it does not, resume it here with "
	       "`kill -CONT %s`%s\n",
	       m->opts->pid, m->opts->to, m->reason, m->opts->to, pids, pids,
	       m->opts->tcp_established ? "; its TCP connections stay in repair mode and "
					  "locked: resuming them is not supported yet"
					: "");
}

/* Ends the tracking the rounds left (each process's keeper): the tree
 * runs on as if no round had been. */
static void stop_tracking(struct mig_src *m)
{
	char pids[1024] = "", *p, *save = NULL;
	size_t off = 0;

	tree_pids(m->opts->pid, pids, sizeof(pids), &off);
	for (p = strtok_r(pids, " ", &save); p; p = strtok_r(NULL, " ", &save))
		if (keeper_stop(atoi(p)))
			pr_warn("pid %s: its tracking keeper did not stop\n", p);
}

/* The planner's --auto-converge step: the tree throttled to PCT%, or
 * one line saying why it can't be (the rounds then go on unthrottled). */
static int throttle(void *arg, int pct)
{
	struct mig_src *m = arg;
	char pids[1024] = "";
	size_t off = 0;
	int ret;

	tree_pids(m->opts->pid, pids, sizeof(pids), &off);
	m->throttle.pid = m->opts->pid;
	ret = throttle_raise(&m->throttle, pct, pids);
	janitor_tell(m);
	if (ret) {
		pr_warn("pid %d: --auto-converge can't throttle the tree: %s\n", m->opts->pid,
			m->throttle.why);
		m->plan.throttle = NULL;
	}
	return ret;
}

/* Round R's pages; round 1 also gives the final step's fixed cost: its
 * frozen time less its page copy and its tracker's. */
static void round_stats(struct mig_src *m, int dfd, struct mig_round *r)
{
	ProtobufCMessage *msg;
	DumpStatsEntry *ds;

	if (img_read_one(dfd, IMG_STATS_DUMP, 0, &msg))
		return;
	ds = (DumpStatsEntry *)msg;
	r->dirty_bytes = ds->pages_written * PAGE_SIZE;
	r->copy_us = ds->page_copy_time_us + ds->page_write_time_us;
	if (r->k > 1 && ds->has_dirty_rate_pps && ds->dirty_rate_pps >= 0)
		r->ebpf_mib_s = ds->dirty_rate_pps * PAGE_SIZE / (1024.0 * 1024.0);
	/* Without the eBPF tracker's count, each page the round copied took
	 * at least the one fault that made it dirty. */
	r->wp_faults = ds->has_write_faults ? ds->write_faults : ds->pages_written;
	/* Less round 1's tracker, which protects every page once (tens of
	 * ms for 1 GiB) where the final dump only reads it. */
	if (r->k == 1)
		m->plan.nonmem_us = ds->frozen_time_us -
				    min(ds->frozen_time_us,
					ds->page_copy_time_us + ds->track_collect_time_us);
	img_free_msg(msg);
}

/* The destination's answer to ROUND_DONE: the round is stored. */
static int wait_round_done(struct mig_src *m, unsigned int k)
{
	char why[256], text[512];
	struct mig_msg msg;
	int ret;

	ret = mig_chan_wait(&m->chan, m->opts->link_timeout_s * 1000, interrupt_check);
	if (ret == -EINTR)
		return fail(m, ret, "interrupted by SIG%s during pre-copy",
			    sigabbrev_np(interrupt_signal()));
	if (!ret)
		ret = mig_recv(&m->chan, &msg, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "no answer in time");
	if (ret) {
		snprintf(text, sizeof(text), "round %u: not stored: %s", k, why);
		return fail(m, ret, "%s", text);
	}
	if (msg.type != MIG_ROUND_DONE) {
		mig_printable(msg.data);
		snprintf(text, sizeof(text), "the destination answered round %u with %s%s%s", k,
			 mig_type_name(msg.type), msg.len ? ": " : "", msg.data);
		fail(m, -ECANCELED, "%s", text);
		ret = -ECANCELED;
	}
	mig_msg_free(&msg);
	return ret;
}

/* After round 1: the destination's dry run (its restore's checks of the
 * round, timed there), its prediction of the hand-over fork, and the
 * round trip that carried them. */
static int dry_run(struct mig_src *m)
{
	uint64_t t0 = now_us(), us, fork_us, took;
	char why[256], text[512];
	struct mig_msg msg;
	int n = 0, ret;

	ret = mig_send(&m->chan, MIG_DRY_RUN, NULL, 0);
	if (!ret)
		ret = mig_chan_wait(&m->chan, m->opts->link_timeout_s * 1000, interrupt_check);
	if (ret == -EINTR)
		return fail(m, ret, "interrupted by SIG%s during pre-copy",
			    sigabbrev_np(interrupt_signal()));
	if (!ret)
		ret = mig_recv(&m->chan, &msg, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "no answer in time");
	if (ret) {
		snprintf(text, sizeof(text), "the destination's dry run: %s", why);
		return fail(m, ret, "%s", text);
	}
	took = now_us() - t0;
	if (msg.type != MIG_DRY_RUN ||
	    sscanf(msg.data, "us %llu fork %llu%n", (unsigned long long *)&us,
		   (unsigned long long *)&fork_us, &n) != 2 ||
	    n != (int)msg.len || fork_us > 60ULL * 1000 * 1000) {
		mig_printable(msg.data);
		snprintf(text, sizeof(text), "the destination answered DRY_RUN with %s%s%s",
			 mig_type_name(msg.type), msg.len ? ": " : "", msg.data);
		mig_msg_free(&msg);
		return fail(m, -ECANCELED, "%s", text);
	}
	mig_msg_free(&msg);
	m->plan.dry_run_us = min(us, took);
	m->plan.rtt_us = took - m->plan.dry_run_us;
	m->plan.fork_us = fork_us;
	return 0;
}

/* "round K: " before the reason of a round that failed on the link. */
static int round_failed(struct mig_src *m, unsigned int k, int ret)
{
	char why[sizeof(m->reason) + 32];

	if (!m->reason[0])
		fail(m, ret, "%s", "the connection failed");
	if (ret == -EINTR)
		return ret;
	snprintf(why, sizeof(why), "round %u: %s", k, m->reason);
	snprintf(m->reason, sizeof(m->reason), "%.*s", (int)sizeof(m->reason) - 1, why);
	return ret;
}

/* ROUND K, before its pre-dump streams into PATH. */
static int begin_round(struct mig_src *m, unsigned int k, const char *path)
{
	char num[16];
	int ret;

	snprintf(num, sizeof(num), "%u", k);
	ret = mig_send_text(&m->chan, MIG_ROUND, num);
	if (ret)
		return round_failed(m, k, ret);
	ret = stream_start(m, path);
	/* The test's moment to kill migrate, or cut the link, mid-round (or
	 * in the first round the tree runs throttled): the tree runs, no
	 * parasite in it, its signal mask its own. */
	if (!ret && k == 2 && fault_injected("migrate-stop-in-round"))
		raise(SIGSTOP);
	if (!ret && m->plan.throttle_pct && fault_injected("migrate-stop-throttled"))
		raise(SIGSTOP);
	return ret;
}

/* The round's images the stream did not carry, then ROUND_DONE. */
/* The pages of a round the destination has stored are never read here
 * again (the later rounds' and the final dump's checks read the footers
 * only): their tmpfs memory goes, or the source would hold a second copy
 * of the tree's memory until the end.  Not shmem-pages.img: the next
 * round compares its pages with them. */
static void drop_round_pages(int dfd)
{
	struct dirent *de;
	DIR *d = list_images(dfd);

	while (d && (de = readdir(d))) {
		int ret = strncmp(de->d_name, "pages-", 6) ? 0 : img_raw_drop_data(dfd, de->d_name);

		if (ret)
			pr_warn("Can't free the pages of %s, sent: %s\n", de->d_name, strerror(-ret));
	}
	if (d)
		closedir(d);
}

static int end_round(struct mig_src *m, unsigned int k, int dfd)
{
	int ret = send_images(m, dfd);

	if (!ret)
		ret = mig_send(&m->chan, MIG_ROUND_DONE, NULL, 0);
	ret = ret ? round_failed(m, k, ret) : wait_round_done(m, k);
	if (!ret)
		drop_round_pages(dfd);
	return ret;
}

/* Pre-dump round K into DIR/pre-K (its parent ../pre-(K-1)), streamed
 * while the tree runs.  1: the planner says freeze now. */
static int run_round(struct mig_src *m, unsigned int k)
{
	struct mig_round r = { .k = k, .t_start = now_us(), .ebpf_mib_s = -1 };
	char path[128], prev[32], num[16];
	uint64_t t_send, sent = m->chan.bytes_sent;
	int dfd, ret, sret;

	snprintf(num, sizeof(num), "%u", k);
	snprintf(path, sizeof(path), "%s/pre-%u", m->dir, k);
	snprintf(prev, sizeof(prev), "../pre-%u", k - 1);
	if (mkdir(path, 0700))
		return fail(m, -errno, "can't make %s", path);
	/* The link's time: the pages go while the pre-dump writes them. */
	t_send = now_us();
	ret = begin_round(m, k, path);
	if (ret)
		return ret;
	m->opts->images_dir = path;
	m->opts->prev_images_dir = k > 1 ? prev : NULL;
	ret = cmd_pre_dump(m->opts);
	m->opts->prev_images_dir = NULL;
	sret = stream_end(m);
	if (ret) {
		/* The pre-dump said why, in its one line. */
		m->dump_said = true;
		return fail(m, ret, "the dump failed at the source (pre-copy round %s)", num);
	}
	if (sret)
		return round_failed(m, k, sret);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(m, -errno, "can't open %s", path);
	round_stats(m, dfd, &r);
	ret = end_round(m, k, dfd);
	close(dfd);
	if (ret)
		return ret;
	r.send_us = now_us() - t_send;
	r.bytes = m->chan.bytes_sent - sent;
	ret = k == 1 ? dry_run(m) : 0;
	if (ret)
		return ret;
	r.us = now_us() - r.t_start;
	return mig_plan_round(&m->plan, &r) ? 1 : 0;
}

/* The eBPF tracker, where it works, gives the planner the dirty rate of
 * the last second before each freeze and the tree's write faults; an
 * explicit --track is kept. */
static void pick_tracker(struct mig_src *m)
{
	const char *why;

	m->plan.wp_fault_us = track_wp_fault_us();
	if (fault_injected("migrate-slow-wp-fault"))
		m->plan.wp_fault_us = 100;
	if (m->opts->track != TRACK_AUTO)
		return;
	why = track_backend_unavailable(TRACK_EBPF);
	if (!why) {
		m->opts->track = TRACK_EBPF;
		return;
	}
	if (!m->opts->json)
		printf("the eBPF tracker is unavailable here (%s): the dirty rate is each round's "
		       "pages over its time\n", why);
}

/* The planner's pause between two rounds, SIGINT/SIGTERM/SIGHUP heard. */
static int pause_round(uint64_t us)
{
	uint64_t end = now_us() + us;

	while (now_us() < end) {
		struct timespec ts = { 0, min(end - now_us(), 100000ull) * 1000 };

		if (interrupt_check())
			return -EINTR;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* Rounds until the planner says freeze; on failure the tree runs on,
 * untracked, and the destination drops what it stored (ABORT). */
static int precopy(struct mig_src *m)
{
	int ret = 0;

	pick_tracker(m);
	for (unsigned int k = 1; k <= (unsigned int)m->opts->max_rounds && !ret; k++) {
		ret = interrupt_check() ?: run_round(m, k);
		if (!ret)
			ret = pause_round(m->plan.hist[m->plan.nr - 1].wait_us);
	}
	if (ret == -EINTR && !m->reason[0])
		fail(m, ret, "interrupted by SIG%s during pre-copy",
		     sigabbrev_np(interrupt_signal()));
	if (ret >= 0)
		return 0;
	mig_send_text(&m->chan, MIG_ABORT, m->reason);
	stop_tracking(m);
	m->result = "aborted";
	if (m->dump_said)
		return ret;
	pr_err("Migration of pid %d to %s failed during pre-copy: %s; the tree runs here as "
	       "before, untracked\n",
	       m->opts->pid, m->opts->to, m->reason);
	return ret;
}

static int migrate(struct mig_src *m, const struct mig_auth *auth)
{
	char prev[32];
	int ret = open_channel(m, auth);

	if (ret)
		return ret;
	snprintf(m->dir, sizeof(m->dir), "/dev/shm/lmproc-migrate.XXXXXX");
	if (!mkdtemp(m->dir)) {
		pr_perror("Can't make a private directory for the images under /dev/shm");
		return -errno;
	}
	start_janitor(m);
	m->plan = (struct mig_plan){ .opts = m->opts, .t_start = now_us(),
				     .throttle = throttle, .throttle_arg = m };
	ret = m->opts->max_rounds ? precopy(m) : 0;
	/* The final dump records the tree's own cgroups; its freeze follows
	 * at once, so the tree hardly runs unthrottled. */
	throttle_undo(&m->throttle);
	janitor_tell(m);
	if (ret) {
		remove_dir(m->dir, 0);
		return ret;
	}
	snprintf(prev, sizeof(prev), "pre-%u", m->plan.nr);
	m->opts->images_dir = m->dir;
	m->opts->prev_images_dir = m->plan.nr ? prev : NULL;
	m->opts->dump_hold = hold;
	m->opts->hold_arg = m;
	m->final_start = m->chan.bytes_sent;
	ret = stream_start(m, m->dir) ?: cmd_dump(m->opts);
	/* A dump that failed before its hold: the stream ends here. */
	stream_end(m);
	if (ret && m->plan.nr)
		stop_tracking(m);
	remove_dir(m->dir, 0);
	if (ret == DUMP_HOLD_FROZEN) {
		say_frozen(m);
		m->result = "frozen";
		return ret;
	}
	if (ret && !m->held) {
		/* The dump refused or failed on its own, and said why. */
		mig_send_text(&m->chan, MIG_ABORT, "the dump failed at the source");
		fail(m, ret, "%s", "the dump failed; it says why");
	}
	if (ret) {
		m->result = "released";
		return ret;
	}
	m->result = "migrated";
	return 0;
}

int cmd_migrate(struct lmproc_opts *opts)
{
	struct mig_src m = {
	    .opts = opts, .t_start = now_us(), .result = "refused", .dest_restore_us = -1};
	struct mig_auth auth = {};
	int ret;

	m.chan.fd = -1;
	opts->keeper_owner = getpid();
	if (!opts->insecure && mig_auth_load(opts, false, &auth))
		return -EINVAL;
	ret = migrate(&m, opts->insecure ? NULL : &auth);
	summary(&m, ret);
	mig_chan_close(&m.chan);
	mig_auth_free(&auth);
	stop_janitor(&m);
	return ret;
}
