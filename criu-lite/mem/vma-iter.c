/* Owns the text collect_vmas() reads a task's VMAs from (vma-iter.h):
 * /proc/PID/smaps, or its header and VmFlags lines made from
 * /proc/PID/maps and the BPF task_vma iterator of bpf/vmaiter.bpf.c,
 * whose vm_flags bits are translated by a table learnt once per run from
 * a child's mappings of known attributes.  smaps prints, for each mapping,
 * the mnemonic of each set bit in the order of the bits
 * (fs/proc/task_mmu.c, show_smap_vma_flags), and maps prints the same
 * header line as smaps without walking the mapping's page tables. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common.h"
#include "fault.h"
#include "log.h"
#include "proc.h"
#include "uapi-compat.h"
#include "vma-iter.h"
#include "../../bpf/vmaiter.h"
#include "vmaiter.skel.h"

#define NR_BITS 64
#define CALIB_LEN (4 * 4096UL)
#define CALIB_WAIT_MS 5000
/* One read of an iterator: more than its seq_file's buffer (8 pages). */
#define ITER_BUF (128 * 1024)
/* "VmFlags: " and 64 mnemonics of two letters and a space. */
#define FLAGS_LINE_MAX (9 + NR_BITS * 3 + 2)

struct vma_iter {
	bool tried;
	struct vmaiter_bpf *skel;	/* NULL: smaps only */
	char mn[NR_BITS][3];		/* mnemonic of each bit, "" if not learnt */
	/* [vsyscall] is the gate VMA, not in the mm: the iterator never
	 * sees it, and its flags are the same in every process. */
	unsigned long gate_start, gate_end;
	char gate_flags[FLAGS_LINE_MAX];
};

static struct vma_iter vi;

enum text_mode { TEXT_ITER, TEXT_SMAPS, TEXT_CHECK };

static enum text_mode text_mode(void)
{
	const char *m = getenv("LMPROC_VMAS");

	if (m && !strcmp(m, "smaps"))
		return TEXT_SMAPS;
	if (m && !strcmp(m, "check"))
		return TEXT_CHECK;
	return TEXT_ITER;
}

/* libbpf's own messages (verifier logs included) only at -v4. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	pr_debug("libbpf: %s", buf);
	return 0;
}

/* One read of the iterator FD into BUF (more than its seq_file's buffer,
 * 8 pages), its records appended to *OUT.  1 when the leader's end came:
 * the end marker, the end of the file, or a record below the last one,
 * which is another thread's (one with a files table of its own; the
 * iterator skips the others) listing the same mappings again. */
static int iter_read(int fd, uint64_t *from, char *buf, struct vmaiter_rec **out, size_t *nr)
{
	const struct vmaiter_rec *r = (const struct vmaiter_rec *)buf;
	struct vmaiter_rec *n;
	ssize_t len;
	size_t k;

	do
		len = read(fd, buf, ITER_BUF);
	while (len < 0 && errno == EINTR);
	if (len < 0)
		return -errno;
	if (len % sizeof(*r))
		return -EIO;
	k = len / sizeof(*r);
	if (!k)
		return 1;
	n = realloc(*out, (*nr + k) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	*out = n;
	for (size_t i = 0; i < k; i++) {
		if (r[i].start == VMAITER_END || r[i].start < *from)
			return 1;
		if (r[i].end <= r[i].start)
			return -EIO;
		n[(*nr)++] = r[i];
		*from = r[i].end;
	}
	return 0;
}

/* The records the iterator writes for PID's mappings from FROM on, in
 * address order, at least MAX of them if there are.  The iterator is
 * given the process (link_info.task.pid), whose leader comes first, not
 * the thread (.tid): a one-thread iterator starts again at the first
 * mapping at each read() after the first (6.18), never ending once the
 * records fill the seq_file's buffer. */
static int iter_records(pid_t pid, uint64_t from, size_t max, struct vmaiter_rec **out,
			size_t *nr)
{
	union bpf_iter_link_info li = { .task.pid = pid };
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &li, .link_info_len = sizeof(li));
	cleanup_free char *buf = malloc(ITER_BUF);
	struct bpf_link *link;
	int fd, ret = 0;

	*out = NULL;
	*nr = 0;
	if (!buf)
		return -ENOMEM;
	vi.skel->bss->min_start = from;
	link = bpf_program__attach_iter(vi.skel->progs.vmaiter, &opts);
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		ret = -errno;
	while (!ret && *nr < max)
		ret = iter_read(fd, &from, buf, out, nr);
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	if (ret < 0) {
		free(*out);
		*out = NULL;
	}
	return ret < 0 ? ret : 0;
}

/* The child's mappings of known attributes; a step the kernel refuses
 * leaves its mnemonic unlearnt, and a target mapping with it read from
 * smaps. */
static void *calib_map(int prot, int flags)
{
	void *p = mmap(NULL, CALIB_LEN, prot, flags | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void calib_advise(int advice)
{
	void *p = calib_map(PROT_READ | PROT_WRITE, MAP_PRIVATE);

	if (p)
		madvise(p, CALIB_LEN, advice);
}

static void calib_uffd(int mode, void *p)
{
	static int fd = -1;
	struct uffdio_register r = {
		.range = { .start = (uintptr_t)p, .len = CALIB_LEN }, .mode = mode,
	};
	struct uffdio_api api = { .api = UFFD_API };

	if (fd < 0) {
		fd = syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
		if (fd < 0)
			fd = syscall(__NR_userfaultfd, O_CLOEXEC);
		if (fd >= 0 && ioctl(fd, UFFDIO_API, &api)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0 && p)
		ioctl(fd, UFFDIO_REGISTER, &r);
}

/* A shared and a private mapping of a memfd, and a shared one through a
 * read-only open of it (may share, may not write). */
static void *calib_memfd(void)
{
	int fd = memfd_create("lmproc-vma-calib", MFD_CLOEXEC), ro;
	char path[64];
	void *p;

	if (fd < 0 || ftruncate(fd, CALIB_LEN))
		return NULL;
	p = mmap(NULL, CALIB_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	mmap(NULL, CALIB_LEN, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE, fd, 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro >= 0)
		mmap(NULL, CALIB_LEN, PROT_READ, MAP_SHARED, ro, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void calib_make(void)
{
	static const int advices[] = {
		MADV_DONTDUMP, MADV_DONTFORK, MADV_WIPEONFORK, MADV_HUGEPAGE, MADV_NOHUGEPAGE,
		MADV_MERGEABLE, MADV_SEQUENTIAL, MADV_RANDOM,
	};
	void *p, *shm = calib_memfd();

	for (size_t i = 0; i < ARRAY_SIZE(advices); i++)
		calib_advise(advices[i]);
	calib_map(PROT_NONE, MAP_PRIVATE);
	calib_map(PROT_READ | PROT_EXEC, MAP_PRIVATE);
	calib_map(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_GROWSDOWN);
	calib_map(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE);
	calib_map(PROT_READ | PROT_WRITE, MAP_SHARED);
	calib_map(PROT_READ | PROT_WRITE, MAP_DROPPABLE);
	p = calib_map(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	if (p)
		mlock(p, CALIB_LEN);
	p = calib_map(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	if (p)
		syscall(__NR_mlock2, p, CALIB_LEN, MLOCK_ONFAULT);
	p = calib_map(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	if (p)
		syscall(__NR_mseal, p, CALIB_LEN, 0);
	p = calib_map(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	if (p)
		madvise(p, 4096, MADV_GUARD_INSTALL);
	calib_uffd(UFFDIO_REGISTER_MODE_WP, calib_map(PROT_READ | PROT_WRITE, MAP_PRIVATE));
	calib_uffd(UFFDIO_REGISTER_MODE_MISSING, calib_map(PROT_READ | PROT_WRITE, MAP_PRIVATE));
	calib_uffd(UFFDIO_REGISTER_MODE_MINOR, shm);
}

/* The child: makes its mappings, says so on READY, waits to be killed. */
static __attribute__((noreturn)) void calib_child(int ready)
{
	char c = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	calib_make();
	if (write(ready, &c, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* Splits a VmFlags value into its words; -1 if more than NR_BITS. */
static int split_words(char *flags, char *words[NR_BITS])
{
	char *save, *w;
	int n = 0;

	for (w = strtok_r(flags, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (n == NR_BITS)
			return -1;
		words[n++] = w;
	}
	return n;
}

/* The VmFlags value smaps prints for FLAGS ("rd wr mr mw me ac "), or
 * -ENOENT with the first bit not learnt in *BIT. */
static int flags_text(uint64_t flags, char *out, size_t len, int *bit)
{
	size_t n = 0;

	out[0] = '\0';
	for (int b = 0; b < NR_BITS; b++) {
		if (!(flags & (1ULL << b)))
			continue;
		if (!vi.mn[b][0]) {
			*bit = b;
			return -ENOENT;
		}
		n += snprintf(out + n, len - n, "%s ", vi.mn[b]);
		if (n >= len)
			return -E2BIG;
	}
	return 0;
}

/* One mapping of the child: its set bits, in order, are its words. */
static int learn_one(uint64_t flags, const char *text, unsigned long start, char *why,
		     size_t len)
{
	char copy[FLAGS_LINE_MAX], *words[NR_BITS];
	int n, k = 0;

	snprintf(copy, sizeof(copy), "%s", text);
	n = split_words(copy, words);
	if (n != __builtin_popcountll(flags))
		return 0; /* a bit that prints nothing (a protection key's) */
	for (int b = 0; b < NR_BITS; b++) {
		const char *w;

		if (!(flags & (1ULL << b)))
			continue;
		w = words[k++];
		if (strlen(w) != 2 || (vi.mn[b][0] && strcmp(vi.mn[b], w))) {
			snprintf(why, len, "bit %d of the child's mapping at 0x%lx is \"%s\", "
				 "elsewhere \"%s\"", b, start, w, vi.mn[b]);
			return -EINVAL;
		}
		memcpy(vi.mn[b], w, 3);
	}
	return 0;
}

/* No two bits print the same mnemonic (but "??", the kernel's for a bit
 * it has no name for). */
static int check_unique(char *why, size_t len)
{
	for (int a = 0; a < NR_BITS; a++)
		for (int b = a + 1; b < NR_BITS; b++)
			if (vi.mn[a][0] && !strcmp(vi.mn[a], vi.mn[b]) && strcmp(vi.mn[a], "??")) {
				snprintf(why, len, "bits %d and %d both print \"%s\"", a, b,
					 vi.mn[a]);
				return -EINVAL;
			}
	return 0;
}

struct calib_vma {
	unsigned long start, end;
	const char *flags;	/* VmFlags value, in the smaps text */
	const char *path;
};

/* The mappings of an smaps text, in order. */
static int smaps_vmas(char *text, struct calib_vma **out, size_t *nr)
{
	struct calib_vma *v = NULL;
	char *line, *save;
	size_t n = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;
		char perms[5];
		int off = 0;

		if (sscanf(line, "%lx-%lx %4s %*x %*x:%*x %*u %n", &s, &e, perms, &off) == 3 &&
		    off) {
			struct calib_vma *nv = realloc(v, (n + 1) * sizeof(*v));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			v[n++] = (struct calib_vma){ s, e, "", line + off };
		} else if (n && !strncmp(line, "VmFlags:", 8)) {
			v[n - 1].flags = line + 8 + (line[8] == ' ');
		}
	}
	*out = v;
	*nr = n;
	return 0;
}

/* The child's smaps against its iterator records: each bit's mnemonic,
 * then every mapping's VmFlags made again from its bits. */
static int learn(const struct calib_vma *v, size_t nv, const struct vmaiter_rec *r, size_t nr,
		 char *why, size_t len)
{
	char text[FLAGS_LINE_MAX];
	size_t i, k = 0;
	int bit, ret;

	for (i = 0; i < nv; i++) {
		if (k < nr && r[k].start == v[i].start && r[k].end == v[i].end) {
			ret = learn_one(r[k++].flags, v[i].flags, v[i].start, why, len);
			if (ret)
				return ret;
		} else if (i == nv - 1 && !strcmp(v[i].path, "[vsyscall]")) {
			vi.gate_start = v[i].start;
			vi.gate_end = v[i].end;
			snprintf(vi.gate_flags, sizeof(vi.gate_flags), "%s", v[i].flags);
		} else {
			snprintf(why, len, "the child's mapping at 0x%lx is in smaps, not in the "
				 "iterator's records", v[i].start);
			return -EINVAL;
		}
	}
	if (k != nr) {
		snprintf(why, len, "%zu mappings in smaps, %zu in the iterator's records", nv, nr);
		return -EINVAL;
	}
	ret = check_unique(why, len);
	for (i = 0, k = 0; i < nv && !ret; i++) {
		if (k == nr || r[k].start != v[i].start)
			continue;
		if (!flags_text(r[k++].flags, text, sizeof(text), &bit) && strcmp(text, v[i].flags)) {
			snprintf(why, len, "the child's mapping at 0x%lx: smaps says \"%.80s\", its "
				 "bits make \"%.80s\"", v[i].start, v[i].flags, text);
			ret = -EINVAL;
		}
	}
	return ret;
}

static int calib_compare(pid_t pid, char *why, size_t len)
{
	cleanup_free struct vmaiter_rec *r = NULL;
	cleanup_free struct calib_vma *v = NULL;
	cleanup_free char *text = NULL;
	size_t nr, nv;
	char path[64];
	int ret;

	ret = iter_records(pid, 0, SIZE_MAX, &r, &nr);
	if (ret) {
		snprintf(why, len, "the iterator of a child: %s", strerror(-ret));
		return ret;
	}
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	text = proc_read_file(path, NULL);
	if (!text) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -errno;
	}
	ret = smaps_vmas(text, &v, &nv);
	return ret ?: learn(v, nv, r, nr, why, len);
}

static int wait_ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, CALIB_WAIT_MS) != 1 || read(fd, &c, 1) != 1)
		return -ETIMEDOUT;
	return 0;
}

static int calibrate(char *why, size_t len)
{
	int pfd[2], ret;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC)) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		calib_child(pfd[1]);
	}
	close(pfd[1]);
	ret = pid < 0 ? -errno : wait_ready(pfd[0]);
	close(pfd[0]);
	if (ret)
		snprintf(why, len, "a child with mappings to compare: %s", strerror(-ret));
	else
		ret = calib_compare(pid, why, len);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return ret;
}

static void log_table(uint64_t t0)
{
	char line[NR_BITS * 7 + 1];
	size_t n = 0;

	line[0] = '\0';
	for (int b = 0; b < NR_BITS; b++)
		if (vi.mn[b][0])
			n += snprintf(line + n, sizeof(line) - n, " %d:%s", b, vi.mn[b]);
	pr_debug("VMA iterator ready in %lu us; the VmFlags of each vm_flags bit:%s\n",
		 (unsigned long)(now_us() - t0), line);
}

/* A bit the calibration could not learn, for the fallback's test. */
static void forget_injected(void)
{
	for (int b = 0; b < NR_BITS; b++)
		if (!strcmp(vi.mn[b], "lo") && fault_injected("vma-iter-forget-lo"))
			vi.mn[b][0] = '\0';
}

void vma_iter_prepare(void)
{
	uint64_t t0 = now_us();
	char why[256];
	int ret;

	if (vi.tried || text_mode() == TEXT_SMAPS)
		return;
	vi.tried = true;
	libbpf_set_print(libbpf_log);
	vi.skel = vmaiter_bpf__open_and_load();
	if (!vi.skel) {
		pr_info("The VMAs' flags come from /proc/PID/smaps: can't load the BPF VMA "
			"iterator: %s\n", strerror(errno));
		return;
	}
	ret = calibrate(why, sizeof(why));
	if (ret) {
		pr_info("The VMAs' flags come from /proc/PID/smaps: %s\n", why);
		vmaiter_bpf__destroy(vi.skel);
		vi.skel = NULL;
		return;
	}
	forget_injected();
	log_table(t0);
}

static char *read_smaps(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	return proc_read_file(path, NULL);
}

/* Appends LINE and its VmFlags line, made from R or the gate's, to OUT,
 * which has room.  1: R was used; 0: the gate; -EAGAIN: this mapping
 * needs smaps. */
static int add_line(pid_t pid, char *out, size_t *n, const char *line,
		    const struct vmaiter_rec *r)
{
	unsigned long s, e, pgoff, ino;
	char text[FLAGS_LINE_MAX];
	int bit, used = 1;

	if (sscanf(line, "%lx-%lx %*4s %lx %*x:%*x %lu", &s, &e, &pgoff, &ino) != 4)
		return -EAGAIN;
	if ((!r || r->start != s) && s == vi.gate_start && e == vi.gate_end && vi.gate_end) {
		snprintf(text, sizeof(text), "%s", vi.gate_flags);
		used = 0;
	} else if (!r || r->start != s || r->end != e || !ino != !r->ino ||
		   (ino && pgoff != r->pgoff * getpagesize())) {
		pr_info("pid %d: mapping 0x%lx-0x%lx of maps is not the VMA iterator's: "
			"reading smaps\n", pid, s, e);
		return -EAGAIN;
	} else if (flags_text(r->flags, text, sizeof(text), &bit)) {
		pr_info("pid %d: mapping 0x%lx-0x%lx has vm_flags bit %d, which the VMA "
			"iterator's calibration did not see: reading smaps\n", pid, s, e, bit);
		return -EAGAIN;
	}
	*n += sprintf(out + *n, "%s\nVmFlags: %s\n", line, text);
	return used;
}

/* The smaps text of PID's header and VmFlags lines, made from maps and
 * the iterator; NULL with errno EAGAIN if some mapping needs smaps. */
static char *iter_text(pid_t pid)
{
	cleanup_free struct vmaiter_rec *r = NULL;
	cleanup_free char *maps = NULL;
	char path[64], *out, *line, *save;
	size_t nr, k = 0, n = 0, lines = 1;
	int ret;

	ret = iter_records(pid, 0, SIZE_MAX, &r, &nr);
	if (ret) {
		pr_info("pid %d: the VMA iterator failed (%s): reading smaps\n", pid,
			strerror(-ret));
		errno = EAGAIN;
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = proc_read_file(path, NULL);
	if (!maps)
		return NULL;
	for (const char *p = maps; (p = strchr(p, '\n')); p++)
		lines++;
	out = malloc(strlen(maps) + lines * (FLAGS_LINE_MAX + 1) + 1);
	if (!out)
		return NULL;
	out[0] = '\0';
	for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ret = add_line(pid, out, &n, line, k < nr ? &r[k] : NULL);
		if (ret < 0)
			break;
		k += ret;
	}
	if (ret >= 0 && k != nr) {
		pr_info("pid %d: the VMA iterator gave %zu mappings, maps %zu: reading smaps\n",
			pid, nr, k);
		ret = -EAGAIN;
	}
	if (ret < 0) {
		free(out);
		errno = -ret;
		return NULL;
	}
	return out;
}

static bool is_header(const char *line)
{
	unsigned long s, e, pgoff, ino;
	unsigned int maj, mnr;
	char perms[5];

	return sscanf(line, "%lx-%lx %4s %lx %x:%x %lu", &s, &e, perms, &pgoff, &maj, &mnr,
		      &ino) == 7;
}

/* SMAPS without the lines collect_vmas() does not read, in place. */
static void smaps_filter(char *smaps)
{
	char *dst = smaps, *line = smaps;

	while (*line) {
		size_t len = strcspn(line, "\n");
		bool more = line[len] == '\n';

		/* One line at a time: sscanf() measures the whole string. */
		line[len] = '\0';
		if (!strncmp(line, "VmFlags:", 8) || is_header(line)) {
			memmove(dst, line, len);
			dst += len;
			*dst++ = '\n';
		}
		line += len + more;
	}
	*dst = '\0';
}

/* LMPROC_VMAS=check: the iterator's text must be smaps' own. */
static int check_same(pid_t pid, const char *a)
{
	cleanup_free char *smaps = read_smaps(pid);
	const char *b = smaps;

	if (!smaps)
		return -errno;
	smaps_filter(smaps);
	while (*a && *b) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");

		if (la != lb || strncmp(a, b, la))
			break;
		a += la + (a[la] == '\n');
		b += lb + (b[lb] == '\n');
	}
	if (!*a && !*b) {
		pr_info("pid %d: the VMA iterator's VMAs are smaps' own\n", pid);
		return 0;
	}
	pr_err("pid %d: the VMA iterator says \"%.*s\" where smaps says \"%.*s\"\n", pid,
	       (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
	return -EIO;
}

char *vma_text_read(pid_t pid)
{
	enum text_mode mode = text_mode();
	char *text;
	int ret;

	if (!vi.skel || mode == TEXT_SMAPS)
		return read_smaps(pid);
	text = iter_text(pid);
	if (!text)
		return errno == EAGAIN ? read_smaps(pid) : NULL;
	if (mode == TEXT_CHECK && (ret = check_same(pid, text))) {
		free(text);
		errno = -ret;
		return NULL;
	}
	return text;
}

/* The VmFlags value of the mapping at ADDR in SMAPS (filtered), or NULL. */
static const char *smaps_flags_at(char *smaps, uint64_t addr)
{
	char head[32], *p;

	snprintf(head, sizeof(head), "%lx-", (unsigned long)addr);
	for (p = smaps; *p; p += strcspn(p, "\n") + 1) {
		if (strncmp(p, head, strlen(head)))
			continue;
		p += strcspn(p, "\n") + 1;
		if (strncmp(p, "VmFlags: ", 9))
			return NULL;
		p[strcspn(p, "\n")] = '\0';
		return p + 9;
	}
	return NULL;
}

/* LMPROC_VMAS=check: FLAGS must be what smaps says of ADDR. */
static int check_flags_at(pid_t pid, uint64_t addr, const char *flags)
{
	cleanup_free char *smaps = read_smaps(pid);
	const char *want;

	if (!smaps)
		return -errno;
	smaps_filter(smaps);
	want = smaps_flags_at(smaps, addr);
	if (want && !strcmp(want, flags))
		return 0;
	pr_err("pid %d: the VMA iterator says VmFlags \"%s\" of the mapping at 0x%lx, smaps "
	       "\"%s\"\n", pid, flags, (unsigned long)addr, want ?: "(no such mapping)");
	return -EIO;
}

int vma_iter_flags_at(pid_t pid, uint64_t addr, char *out, size_t len)
{
	cleanup_free struct vmaiter_rec *r = NULL;
	enum text_mode mode = text_mode();
	size_t nr;
	int bit, ret;

	if (!vi.skel || mode == TEXT_SMAPS)
		return -EAGAIN;
	ret = iter_records(pid, addr, 1, &r, &nr);
	if (ret || !nr || r[0].start != addr || flags_text(r[0].flags, out, len, &bit)) {
		pr_info("pid %d: the VMA iterator has no flags for the mapping at 0x%lx: reading "
			"smaps\n", pid, (unsigned long)addr);
		return -EAGAIN;
	}
	return mode == TEXT_CHECK ? check_flags_at(pid, addr, out) : 0;
}
