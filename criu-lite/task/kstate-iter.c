/* Owns the BPF kernel-state iterators of bpf/kstate.bpf.c: loaded once
 * per run when first asked, attached to one process per question (asked
 * rarely: an owner F_GETOWN_EX can't show, a fanout group, an AIO ring).
 * A kernel or a machine that refuses them (no BTF, no CAP_BPF) gives
 * -errno: the caller refuses what it can't check. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "kstate-iter.h"
#include "log.h"
#include "proc.h"
#include "kstate.skel.h"

/* One read of an iterator: more than its seq_file's buffer (8 pages). */
#define ITER_BUF (128 * 1024)
/* How deep kstate_prepare looks below the root for AIO rings. */
#define KSTATE_MAX_DEPTH 16

static struct {
	bool tried;
	int err;
	struct kstate_bpf *skel;
} ks;

static int load(void)
{
	if (ks.tried)
		return ks.err;
	ks.tried = true;
	ks.skel = kstate_bpf__open();
	if (ks.skel) {
		ks.skel->bss->nr_cpus = libbpf_num_possible_cpus();
		if (kstate_bpf__load(ks.skel)) {
			kstate_bpf__destroy(ks.skel);
			ks.skel = NULL;
		}
	}
	if (!ks.skel) {
		ks.err = -(errno ?: EINVAL);
		pr_info("Can't load the BPF kernel-state iterators: %s\n", strerror(-ks.err));
	}
	return ks.err;
}

/* A UDP-Lite socket in ROOT's network namespace, the tree's (its dump
 * asks the iterators: net/sk-udplite.c): a line past the header of
 * /proc/ROOT/net/udplite or udplite6. */
static bool udplite_sockets(pid_t root)
{
	static const char *const tables[] = { "udplite", "udplite6" };
	char path[64], line[256];
	bool found = false;

	for (size_t i = 0; i < ARRAY_SIZE(tables) && !found; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", root, tables[i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		found = fgets(line, sizeof(line), f) && fgets(line, sizeof(line), f);
		fclose(f);
	}
	return found;
}

void kstate_prepare(pid_t root)
{
	/* Loading costs ~75 ms here: before the freeze where an AIO ring
	 * or a UDP-Lite socket will need it, else only when asked (inside
	 * it, and rarely). */
	if (!ks.tried && (proc_tree_maps(root, "/[aio]", KSTATE_MAX_DEPTH) ||
			  udplite_sockets(root)))
		load();
}

/* Every record PROG writes for process PID, appended to *BUF (*LEN
 * bytes). */
static int run(struct bpf_program *prog, pid_t pid, char **buf, size_t *len)
{
	union bpf_iter_link_info li = {.task.pid = pid};
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &li, .link_info_len = sizeof(li));
	struct bpf_link *link = bpf_program__attach_iter(prog, &opts);
	int fd, ret = 0;
	ssize_t n;

	*buf = NULL;
	*len = 0;
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		ret = -errno;
	while (!ret) {
		char *b = realloc(*buf, *len + ITER_BUF);

		if (!b) {
			ret = -ENOMEM;
			break;
		}
		*buf = b;
		n = read(fd, *buf + *len, ITER_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : 0;
			break;
		}
		*len += n;
	}
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	if (ret) {
		free(*buf);
		*buf = NULL;
	}
	return ret;
}

int kstate_file(pid_t pid, int fd, struct kstate_file_rec *r)
{
	const struct kstate_file_rec *recs;
	char *buf;
	size_t len;
	int ret = load();

	if (ret)
		return ret;
	ret = run(ks.skel->progs.fileiter, pid, &buf, &len);
	if (ret)
		return ret;
	recs = (const struct kstate_file_rec *)buf;
	ret = -ENOENT;
	/* The iterator visits every thread with a files table of its own:
	 * the process's are the leader's. */
	for (size_t i = 0; i < len / sizeof(*recs) && recs[i].fd != KSTATE_FILE_END; i++) {
		if (recs[i].tgid == (uint32_t)pid && recs[i].fd == (uint32_t)fd) {
			*r = recs[i];
			ret = 0;
			break;
		}
	}
	free(buf);
	return ret;
}

int kstate_aio(pid_t pid, uint64_t addr, struct kstate_aio_rec *r)
{
	char *buf;
	size_t len;
	int ret = load();

	if (ret)
		return ret;
	ks.skel->bss->aio_addr = addr;
	ret = run(ks.skel->progs.aioiter, pid, &buf, &len);
	if (ret)
		return ret;
	ret = -ENOENT;
	for (size_t off = 0; off + sizeof(*r) <= len; off += sizeof(*r)) {
		memcpy(r, buf + off, sizeof(*r));
		if (r->ring_addr == addr) {
			ret = 0;
			break;
		}
	}
	free(buf);
	return ret;
}
