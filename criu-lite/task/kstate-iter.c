/* Owns the BPF kernel-state iterators of bpf/kstate.bpf.c: loaded once
 * per run when first asked, attached to one process at a time (the
 * files of the last process asked for are kept, so a dump reads them
 * once per process).  A kernel or a machine that refuses them (no BTF,
 * no CAP_BPF) gives -errno: the caller refuses what it can't check. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "kstate-iter.h"
#include "log.h"
#include "kstate.skel.h"

/* One read of an iterator: more than its seq_file's buffer (8 pages). */
#define ITER_BUF (128 * 1024)

static struct {
	bool tried;
	int err;
	struct kstate_bpf *skel;
	pid_t files_pid; /* whose records files holds, 0: none */
	struct kstate_file_rec *files;
	size_t nr_files;
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

/* Every record PROG writes for process PID, appended to *BUF (*LEN
 * bytes). */
static int run(struct bpf_program *prog, pid_t pid, char **buf, size_t *len)
{
	union bpf_iter_link_info li = { .task.pid = pid };
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

static int read_files(pid_t pid)
{
	const struct kstate_file_rec *r;
	char *buf;
	size_t len, n;
	int ret;

	free(ks.files);
	ks.files = NULL;
	ks.nr_files = 0;
	ks.files_pid = 0;
	ret = run(ks.skel->progs.fileiter, pid, &buf, &len);
	if (ret)
		return ret;
	r = (const struct kstate_file_rec *)buf;
	n = len / sizeof(*r);
	ks.files = calloc(n + 1, sizeof(*r));
	if (!ks.files) {
		free(buf);
		return -ENOMEM;
	}
	/* The iterator visits every thread with a files table of its own:
	 * the process's are the leader's. */
	for (size_t i = 0; i < n && r[i].fd != KSTATE_FILE_END; i++)
		if (r[i].tgid == (uint32_t)pid)
			ks.files[ks.nr_files++] = r[i];
	free(buf);
	ks.files_pid = pid;
	return 0;
}

int kstate_file(pid_t pid, int fd, struct kstate_file_rec *r)
{
	int ret = load();

	if (!ret && ks.files_pid != pid)
		ret = read_files(pid);
	if (ret)
		return ret;
	for (size_t i = 0; i < ks.nr_files; i++) {
		if (ks.files[i].fd == (uint32_t)fd) {
			*r = ks.files[i];
			return 0;
		}
	}
	return -ENOENT;
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
