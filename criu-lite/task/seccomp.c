/* Owns seccomp, strict and filter mode, per thread.  Dump: a thread
 * under seccomp gets PTRACE_O_SUSPEND_SECCOMP once seized (no filter
 * judges lmproc's injected calls; the detach ends it, so -R and pre-dump
 * leave it as it was); its mode comes from /proc status, its filters
 * from PTRACE_SECCOMP_GET_FILTER (index 0 the oldest: kernel/seccomp.c
 * get_nth_filter(); up to ENOENT), their flags from
 * PTRACE_SECCOMP_GET_METADATA.  Threads share the filters they inherited
 * or got by TSYNC; lmproc finds them equal by program and flags and
 * stores each once in core_entry, each thread's chain as indexes, oldest
 * first (as CRIU's seccomp.img).  Restore: after everything else, the
 * threads traced, stopped and about to get their dumped registers,
 * lmproc injects seccomp(2) calls, the programs in the restorer area:
 * the main thread installs the filters every thread has in common with
 * SECCOMP_FILTER_FLAG_TSYNC, so they are shared again, then each thread
 * its own, oldest first; the suspension keeps them from judging the
 * calls that follow (the area's munmap).  no_new_privs is the
 * restorer's (restorer-attrs.c); a filter needs it or CAP_SYS_ADMIN,
 * which the thread has as dumped by then, so a thread that had neither
 * is refused at dump.  Refused too: a filter that may send user
 * notifications (its listener can't be made again). */
#include <errno.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "proc.h"
#include "restore.h"
#include "seccomp.h"
#include "seize.h"

#define CAP_SYS_ADMIN_BIT 21
/* kernel/seccomp.c: a chain's programs, each counting 4 more
 * instructions, may hold at most MAX_INSNS_PER_PATH of them. */
#define MAX_INSNS_PER_PATH 32768
#define FILTER_PATH_COST 4
#define MAX_CHAIN (MAX_INSNS_PER_PATH / (1 + FILTER_PATH_COST))
#define INSN_SIZE sizeof(struct sock_filter)

struct thread_status {
	int mode;
	int nnp;
	uint64_t cap_eff;
};

static const char *mode_name(int mode)
{
	return mode == SECCOMP_MODE_STRICT   ? "strict"
	       : mode == SECCOMP_MODE_FILTER ? "filter"
					     : "an unknown";
}

static int read_thread_status(pid_t pid, pid_t tid, struct thread_status *s)
{
	cleanup_free char *buf = NULL;
	const char *m, *n, *c;
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	buf = proc_read_file(path, NULL);
	m = buf ? strstr(buf, "\nSeccomp:") : NULL;
	n = buf ? strstr(buf, "\nNoNewPrivs:") : NULL;
	c = buf ? strstr(buf, "\nCapEff:") : NULL;
	if (!m || !n || !c || sscanf(m + 9, "%d", &s->mode) != 1 ||
	    sscanf(n + 12, "%d", &s->nnp) != 1 || sscanf(c + 8, "%" SCNx64, &s->cap_eff) != 1) {
		pr_err("Can't read Seccomp, NoNewPrivs and CapEff from %s\n", path);
		return -EIO;
	}
	return 0;
}

/* Every thread, cheaper than reading each one's mode first; where lmproc
 * may not (no CAP_SYS_ADMIN, or itself under seccomp), only a thread
 * under seccomp is refused. */
int seccomp_suspend(const struct seized_task *t)
{
	struct thread_status s;
	int ret, err;

	for (size_t i = 0; i < t->nr_tids; i++) {
		if (!ptrace(PTRACE_SETOPTIONS, t->tids[i], NULL, PTRACE_O_SUSPEND_SECCOMP))
			continue;
		err = errno;
		ret = read_thread_status(t->pid, t->tids[i], &s);
		if (ret)
			return ret;
		if (!s.mode)
			continue;
		pr_err("Thread %d of pid %d runs under seccomp (%s mode) and lmproc can't suspend "
		       "it for its own calls (PTRACE_O_SUSPEND_SECCOMP needs CAP_SYS_ADMIN, and "
		       "lmproc outside seccomp): %s\n",
		       t->tids[i], t->pid, mode_name(s.mode), strerror(err));
		return -err;
	}
	return 0;
}

/* Why a filter can't be given back, or NULL. */
static const char *filter_refused(const SeccompFilterEntry *f)
{
	const struct sock_filter *insn = (const struct sock_filter *)f->prog.data;

	if (f->flags & ~SECCOMP_FILTER_FLAG_LOG)
		return "was installed with flags other than SECCOMP_FILTER_FLAG_LOG";
	for (size_t i = 0; i < f->prog.len / INSN_SIZE; i++) {
		uint16_t code = insn[i].code;

		if (BPF_CLASS(code) != BPF_RET)
			continue;
		if (BPF_RVAL(code) == BPF_A)
			return "returns a computed action (BPF_RET|BPF_A), which may be a user "
			       "notification";
		if ((insn[i].k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF)
			return "sends user notifications (SECCOMP_RET_USER_NOTIF) to a listener "
			       "lmproc can't make again";
	}
	return NULL;
}

static void free_filter(SeccompFilterEntry *f)
{
	if (!f)
		return;
	free(f->prog.data);
	free(f);
}

/* Filter I of the chain (0: the oldest): 1 past the newest. */
static int read_filter(pid_t pid, pid_t tid, unsigned long i, SeccompFilterEntry **out)
{
	struct __ptrace_seccomp_metadata md = {.filter_off = i};
	SeccompFilterEntry *f;
	long n;

	n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)i, NULL);
	if (n < 0 && errno == ENOENT)
		return 1;
	if (n <= 0 || n > BPF_MAXINSNS) {
		pr_err("Can't read seccomp filter %lu of thread %d of pid %d: %s\n", i, tid, pid,
		       n < 0 ? strerror(errno) : "bad length");
		return n < 0 ? -errno : -EIO;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	seccomp_filter_entry__init(f);
	f->prog.len = n * INSN_SIZE;
	f->prog.data = malloc(f->prog.len);
	if (!f->prog.data || ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)i, f->prog.data) != n ||
	    ptrace(PTRACE_SECCOMP_GET_METADATA, tid, (void *)sizeof(md), &md) < 0) {
		pr_perror("Can't read seccomp filter %lu of thread %d of pid %d", i, tid, pid);
		free_filter(f);
		return -EIO;
	}
	f->flags = md.flags;
	*out = f;
	return 0;
}

/* The index of F in CORE's filters, F added (and owned) if new. */
static uint32_t filter_index(CoreEntry *core, SeccompFilterEntry *f)
{
	for (size_t i = 0; i < core->n_seccomp_filters; i++) {
		const SeccompFilterEntry *g = core->seccomp_filters[i];

		if (g->flags == f->flags && g->prog.len == f->prog.len &&
		    !memcmp(g->prog.data, f->prog.data, f->prog.len)) {
			free_filter(f);
			return i;
		}
	}
	core->seccomp_filters[core->n_seccomp_filters] = f;
	return core->n_seccomp_filters++;
}

/* Thread TID's chain into E, oldest first as the kernel numbers it. */
static int read_chain(pid_t pid, pid_t tid, CoreEntry *core, ThreadSeccompEntry *e)
{
	cleanup_free SeccompFilterEntry **chain = calloc(MAX_CHAIN, sizeof(*chain));
	SeccompFilterEntry **all;
	size_t n = 0;
	int ret = 0;

	if (!chain)
		return -ENOMEM;
	while (!ret && n < MAX_CHAIN) {
		ret = read_filter(pid, tid, n, &chain[n]);
		if (!ret)
			n++;
	}
	if (ret < 0 || !n) {
		if (!n && !ret)
			pr_err("Thread %d of pid %d is in seccomp filter mode with no filter\n",
			       tid, pid);
		for (size_t i = 0; i < n; i++)
			free_filter(chain[i]);
		return ret < 0 ? ret : -EIO;
	}
	all = realloc(core->seccomp_filters, (core->n_seccomp_filters + n) * sizeof(*all));
	e->filters = calloc(n, sizeof(*e->filters));
	if (!all || !e->filters) {
		if (all)
			core->seccomp_filters = all;
		for (size_t i = 0; i < n; i++)
			free_filter(chain[i]);
		return -ENOMEM;
	}
	core->seccomp_filters = all;
	for (size_t i = 0; i < n; i++)
		e->filters[e->n_filters++] = filter_index(core, chain[i]);
	return 0;
}

/* A restore gives back exactly this thread's state, or it is refused. */
static int check_thread(pid_t pid, pid_t tid, const struct thread_status *s, const CoreEntry *core,
			const ThreadSeccompEntry *e)
{
	for (size_t i = 0; i < e->n_filters; i++) {
		const char *why = filter_refused(core->seccomp_filters[e->filters[i]]);

		if (why) {
			pr_err("Thread %d of pid %d has a seccomp filter (%zu of %zu, oldest "
			       "first) that %s: not supported\n",
			       tid, pid, i + 1, e->n_filters, why);
			return -EOPNOTSUPP;
		}
	}
	if (e->n_filters && !s->nnp && !(s->cap_eff & (1ULL << CAP_SYS_ADMIN_BIT))) {
		pr_err("Thread %d of pid %d has seccomp filters but neither no_new_privs nor "
		       "CAP_SYS_ADMIN: a restore could not install them again; not supported\n",
		       tid, pid);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int dump_thread(pid_t pid, pid_t tid, CoreEntry *core, ThreadSeccompEntry **out)
{
	struct thread_status s;
	ThreadSeccompEntry *e;
	int ret;

	*out = NULL;
	ret = read_thread_status(pid, tid, &s);
	if (ret || !s.mode)
		return ret;
	if (s.mode != SECCOMP_MODE_STRICT && s.mode != SECCOMP_MODE_FILTER) {
		pr_err("Thread %d of pid %d runs in seccomp mode %d: not supported\n", tid, pid,
		       s.mode);
		return -EOPNOTSUPP;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	thread_seccomp_entry__init(e);
	e->mode = s.mode;
	*out = e;
	if (s.mode == SECCOMP_MODE_FILTER)
		ret = read_chain(pid, tid, core, e);
	return ret ?: check_thread(pid, tid, &s, core, e);
}

static void free_thread_entry(ThreadSeccompEntry *e)
{
	if (!e)
		return;
	free(e->filters);
	free(e);
}

static void free_filters(CoreEntry *core)
{
	for (size_t i = 0; i < core->n_seccomp_filters; i++)
		free_filter(core->seccomp_filters[i]);
	free(core->seccomp_filters);
	core->seccomp_filters = NULL;
	core->n_seccomp_filters = 0;
}

int seccomp_dump(const struct seized_task *t, CoreEntry *core, ThreadCoreEntry *const *tcs)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < t->nr_tids; i++)
		ret = dump_thread(t->pid, t->tids[i], core, &tcs[i]->seccomp);
	return ret;
}

void seccomp_free(CoreEntry *core, ThreadCoreEntry *const *tcs, size_t nr)
{
	for (size_t i = 0; tcs && i < nr && tcs[i]; i++) {
		free_thread_entry(tcs[i]->seccomp);
		tcs[i]->seccomp = NULL;
	}
	free_filters(core);
}

int seccomp_check_task(const struct seized_task *t)
{
	CoreEntry core = CORE_ENTRY__INIT;
	ThreadSeccompEntry *e = NULL;
	int ret = 0;

	for (size_t i = 0; !ret && i < t->nr_tids; i++) {
		ret = dump_thread(t->pid, t->tids[i], &core, &e);
		free_thread_entry(e);
	}
	free_filters(&core);
	return ret;
}

static int check_filter(const char *img, size_t i, const SeccompFilterEntry *f)
{
	const char *why;

	if (!f->prog.len || f->prog.len % INSN_SIZE || f->prog.len / INSN_SIZE > BPF_MAXINSNS)
		return restore_plan_bad(img,
					"seccomp filter %zu is %zu bytes long (1 to %d "
					"instructions of %zu bytes)",
					i, f->prog.len, BPF_MAXINSNS, INSN_SIZE);
	why = filter_refused(f);
	return why ? restore_plan_bad(img, "seccomp filter %zu %s", i, why) : 0;
}

static int check_chain(const char *img, const CoreEntry *core, const ThreadCoreEntry *tc)
{
	const ThreadSeccompEntry *e = tc->seccomp;
	size_t path = 0;

	if (e->mode == SECCOMP_MODE_STRICT && e->n_filters)
		return restore_plan_bad(img, "thread %u is in seccomp strict mode with %zu filters",
					tc->tid, e->n_filters);
	if (e->mode == SECCOMP_MODE_STRICT)
		return 0;
	if (e->mode != SECCOMP_MODE_FILTER)
		return restore_plan_bad(img, "thread %u has seccomp mode %u", tc->tid, e->mode);
	if (!e->n_filters || e->n_filters > MAX_CHAIN)
		return restore_plan_bad(img, "thread %u has %zu seccomp filters (1 to %d)", tc->tid,
					e->n_filters, MAX_CHAIN);
	for (size_t k = 0; k < e->n_filters; k++) {
		if (e->filters[k] >= core->n_seccomp_filters)
			return restore_plan_bad(img, "thread %u has seccomp filter %u of %zu",
						tc->tid, e->filters[k], core->n_seccomp_filters);
		path +=
		    core->seccomp_filters[e->filters[k]]->prog.len / INSN_SIZE + FILTER_PATH_COST;
	}
	if (path > MAX_INSNS_PER_PATH)
		return restore_plan_bad(img,
					"thread %u has seccomp filters of %zu instructions "
					"in all (at most %d)",
					tc->tid, path, MAX_INSNS_PER_PATH);
	if (!tc->attrs->no_new_privs && !(tc->creds->cap_eff & (1ULL << CAP_SYS_ADMIN_BIT)))
		return restore_plan_bad(img,
					"thread %u has seccomp filters but neither "
					"no_new_privs nor CAP_SYS_ADMIN",
					tc->tid);
	return 0;
}

int seccomp_check_image(const char *img, const CoreEntry *core)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < core->n_seccomp_filters; i++)
		ret = check_filter(img, i, core->seccomp_filters[i]);
	for (size_t i = 0; !ret && i <= core->n_threads; i++) {
		const ThreadCoreEntry *tc = i ? core->threads[i - 1] : core->thread;

		if (tc->seccomp)
			ret = check_chain(img, core, tc);
	}
	return ret;
}

size_t seccomp_area_size(const struct restore_plan *p)
{
	size_t size = p->core->n_seccomp_filters * sizeof(struct sock_fprog);

	for (size_t i = 0; i < p->core->n_seccomp_filters; i++)
		size += p->core->seccomp_filters[i]->prog.len;
	return size;
}

void seccomp_fill_area(const struct restore_plan *p, void *dst, uint64_t addr)
{
	size_t n = p->core->n_seccomp_filters, off = n * sizeof(struct sock_fprog);
	struct sock_fprog *fp = dst;

	for (size_t i = 0; i < n; i++) {
		const ProtobufCBinaryData *prog = &p->core->seccomp_filters[i]->prog;

		fp[i].len = prog->len / INSN_SIZE;
		fp[i].filter = (struct sock_filter *)(uintptr_t)(addr + off);
		memcpy((char *)dst + off, prog->data, prog->len);
		off += prog->len;
	}
}

/* How many filters, oldest first, every thread's chain has in common:
 * the kernel shares them (inherited at clone, or synchronized with
 * SECCOMP_FILTER_FLAG_TSYNC), and so will the restore.  None if a thread
 * is not in filter mode, or if the main thread has no_new_privs and
 * another has not (TSYNC would give it). */
static size_t shared_prefix(const CoreEntry *core)
{
	const ThreadSeccompEntry *m = core->thread->seccomp;
	size_t n = m && m->mode == SECCOMP_MODE_FILTER ? m->n_filters : 0;

	for (size_t i = 0; n && i < core->n_threads; i++) {
		const ThreadCoreEntry *tc = core->threads[i];
		const ThreadSeccompEntry *e = tc->seccomp;
		size_t k = 0;

		if (!e || e->mode != SECCOMP_MODE_FILTER ||
		    (core->thread->attrs->no_new_privs && !tc->attrs->no_new_privs))
			return 0;
		while (k < n && k < e->n_filters && e->filters[k] == m->filters[k])
			k++;
		n = k;
	}
	return core->n_threads ? n : 0;
}

bool seccomp_in_use(const CoreEntry *core)
{
	for (size_t i = 0; i <= core->n_threads; i++)
		if ((i ? core->threads[i - 1] : core->thread)->seccomp)
			return true;
	return false;
}

/* Before anything is made: lmproc can suspend the task's seccomp while
 * it installs the filters (CAP_SYS_ADMIN, lmproc outside seccomp). */
int seccomp_may_restore(const struct restore_plan *p)
{
	cap_flag_value_t admin = CAP_CLEAR;
	struct thread_status s;
	cap_t c;
	int ret;

	if (!seccomp_in_use(p->core))
		return 0;
	c = cap_get_proc();
	if (c) {
		cap_get_flag(c, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin);
		cap_free(c);
	}
	ret = read_thread_status(getpid(), getpid(), &s);
	if (ret)
		return ret;
	if (admin == CAP_SET && !s.mode)
		return 0;
	pr_err("Can't restore pid %d: it runs under seccomp, and lmproc %s to install it "
	       "(PTRACE_O_SUSPEND_SECCOMP)\n",
	       p->pid, s.mode ? "runs under seccomp itself" : "lacks CAP_SYS_ADMIN");
	return -EPERM;
}

static int suspend(struct restore_ctx *ctx, const ThreadCoreEntry *tc, pid_t tid)
{
	if (!ptrace(PTRACE_SETOPTIONS, tid, NULL,
		    PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP))
		return 0;
	pr_perror("Can't restore pid %d: can't suspend seccomp for lmproc's calls in thread %u "
		  "(PTRACE_O_SUSPEND_SECCOMP needs CAP_SYS_ADMIN)",
		  ctx->pid, tc->tid);
	return -errno;
}

static int install(struct restore_ctx *ctx, const ThreadCoreEntry *tc, pid_t tid, unsigned int op,
		   unsigned int flags, uint64_t prog, const char *what)
{
	long res;
	int ret;

	ret = restore_inject_call(ctx, tid, __NR_seccomp, op, flags, prog, &res);
	if (ret)
		return ret;
	if (res > 0) {
		pr_err("Can't restore pid %d: %s of thread %u could not be synchronized to its "
		       "thread %ld\n",
		       ctx->pid, what, tc->tid, res);
		return -EIO;
	}
	if (res) {
		pr_err("Can't restore pid %d: the kernel refused %s of thread %u: %s\n", ctx->pid,
		       what, tc->tid, strerror(-res));
		return (int)res;
	}
	return 0;
}

static int install_filters(struct restore_ctx *ctx, const ThreadCoreEntry *tc, pid_t tid,
			   size_t from, size_t to, unsigned int tsync)
{
	const CoreEntry *core = ctx->plan.core;
	const ThreadSeccompEntry *e = tc->seccomp;
	char what[64];
	int ret = 0;

	for (size_t k = from; !ret && k < to; k++) {
		uint32_t i = e->filters[k];

		snprintf(what, sizeof(what), "seccomp filter %u (%zu of %zu)", i, k + 1,
			 e->n_filters);
		ret = install(ctx, tc, tid, SECCOMP_SET_MODE_FILTER,
			      core->seccomp_filters[i]->flags | tsync,
			      ctx->seccomp_progs + i * sizeof(struct sock_fprog), what);
	}
	return ret;
}

int seccomp_restore_shared(struct restore_ctx *ctx)
{
	const ThreadCoreEntry *tc = ctx->plan.core->thread;
	size_t n = shared_prefix(ctx->plan.core);
	int ret;

	if (!n)
		return 0;
	ret = suspend(ctx, tc, ctx->pid);
	return ret ?: install_filters(ctx, tc, ctx->pid, 0, n, SECCOMP_FILTER_FLAG_TSYNC);
}

int seccomp_restore_thread(struct restore_ctx *ctx, const ThreadCoreEntry *tc, pid_t tid)
{
	const ThreadSeccompEntry *e = tc->seccomp;
	int ret;

	if (!e)
		return 0;
	ret = suspend(ctx, tc, tid);
	if (ret)
		return ret;
	if (e->mode == SECCOMP_MODE_STRICT)
		return install(ctx, tc, tid, SECCOMP_SET_MODE_STRICT, 0, 0, "seccomp strict mode");
	return install_filters(ctx, tc, tid, shared_prefix(ctx->plan.core), e->n_filters, 0);
}
