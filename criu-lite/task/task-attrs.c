/* Owns the attributes in core-PID.img that are neither memory, registers,
 * signals, credentials nor timers: per process the rlimits, dumpable,
 * child-subreaper, oom_score_adj, whether it was stopped and by which
 * signal, the audit loginuid and sessionid and the membarrier
 * registrations; per thread
 * the scheduling policy, priority and nice, CPU affinity, timer slack,
 * I/O priority (ioprio_get), parent-death signal and no_new_privs.  Dump reads them from /proc and
 * sched_*(2) from outside, and through the parasite where only the task
 * can say; restore validates them, refuses what lmproc itself may not
 * set, and passes them to the restorer (pie/restorer-attrs.c). */
#include <errno.h>
#include <fcntl.h>
#include <linux/ioprio.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "proc.h"
#include "restore.h"
#include "seize.h"
#include "task-attrs.h"
#include "uapi-compat.h"

#define SCHED_FLAG_RESET_ON_FORK 0x01
#define AUDIT_UNSET 4294967295U
#define MEMBARRIER_REGISTRATIONS                                                           \
	(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED | \
	 MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE |                                 \
	 MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ)
#define NR_RLIMITS PARASITE_NR_RLIMITS

static const char *const rlimit_names[NR_RLIMITS] = {
    "RLIMIT_CPU",      "RLIMIT_FSIZE", "RLIMIT_DATA",	"RLIMIT_STACK",
    "RLIMIT_CORE",     "RLIMIT_RSS",   "RLIMIT_NPROC",	"RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",  "RLIMIT_AS",    "RLIMIT_LOCKS",	"RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};

int collect_task_misc(struct parasite_ctl *ctl, pid_t pid, struct task_misc *m)
{
	int ret = parasite_dump_misc(ctl, &m->misc);

	if (ret)
		return ret;
	/* Only suid_dumpable gives 2, and prctl can't set it back. */
	if (m->misc.dumpable != 0 && m->misc.dumpable != 1) {
		pr_err("pid %d has dumpable %d (from suid_dumpable): prctl can't set that\n", pid,
		       m->misc.dumpable);
		return -EOPNOTSUPP;
	}
	return collect_posix_timers(ctl, pid, m);
}

/* The registrations live in the mm and only the task may ask (6.3+). */
int collect_membarrier(struct parasite_ctl *ctl, pid_t pid, struct task_misc *m)
{
	long r;
	int ret = parasite_syscall(ctl, &r, __NR_membarrier, LM_MEMBARRIER_CMD_GET_REGISTRATIONS,
				   0, 0, 0, 0, 0);

	if (ret)
		return ret;
	if (r == -EINVAL) {
		pr_err("Can't read the membarrier registrations of pid %d: this kernel has no "
		       "MEMBARRIER_CMD_GET_REGISTRATIONS (Linux 6.3)\n",
		       pid);
		return -EOPNOTSUPP;
	}
	if (r < 0 || (r & ~MEMBARRIER_REGISTRATIONS)) {
		pr_err("pid %d: membarrier registrations 0x%lx: %s\n", pid, r,
		       r < 0 ? strerror(-r) : "unknown bits");
		return r < 0 ? (int)r : -EOPNOTSUPP;
	}
	m->membarrier = r;
	return 0;
}

void free_task_misc(struct task_misc *m)
{
	free(m->timers);
	m->timers = NULL;
	m->nr_timers = 0;
}

static int read_int_file(const char *path, int *val)
{
	cleanup_free char *buf = proc_read_file(path, NULL);

	if (!buf || sscanf(buf, "%d", val) != 1) {
		pr_perror("Can't read %s", path);
		return -EIO;
	}
	return 0;
}

static int read_u32_file(const char *path, uint32_t *val)
{
	cleanup_free char *buf = proc_read_file(path, NULL);

	if (!buf || sscanf(buf, "%u", val) != 1) {
		pr_perror("Can't read %s", path);
		return -EIO;
	}
	return 0;
}

/* A number in file NAME under the directory fd AT, quietly: -EIO. */
static int read_u32_at(int at, const char *name, uint32_t *val)
{
	char buf[24];
	int fd = openat(at, name, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return sscanf(buf, "%u", val) == 1 ? 0 : -EIO;
}

/* /proc/PID/loginuid and sessionid, which exist only with CONFIG_AUDIT. */
static int read_audit(pid_t pid, ProcessAttrsEntry *e)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/loginuid", pid);
	if (access(path, F_OK))
		return 0;
	if (read_u32_file(path, &e->loginuid))
		return -EIO;
	snprintf(path, sizeof(path), "/proc/%d/sessionid", pid);
	if (read_u32_file(path, &e->sessionid))
		return -EIO;
	e->has_loginuid = e->has_sessionid = true;
	return 0;
}

struct process_attrs_store {
	ProcessAttrsEntry e;
	RlimitEntry r[NR_RLIMITS];
	RlimitEntry *rp[NR_RLIMITS];
};

int dump_process_attrs(pid_t pid, CoreEntry *core, const struct task_misc *m)
{
	struct process_attrs_store *s = calloc(1, sizeof(*s));
	char path[64];

	if (!s)
		return -ENOMEM;
	process_attrs_entry__init(&s->e);
	core->attrs = &s->e;
	for (int i = 0; i < NR_RLIMITS; i++) {
		rlimit_entry__init(&s->r[i]);
		s->r[i].cur = m->misc.rlimits[i].cur;
		s->r[i].max = m->misc.rlimits[i].max;
		s->rp[i] = &s->r[i];
	}
	s->e.rlimits = s->rp;
	s->e.n_rlimits = NR_RLIMITS;
	s->e.dumpable = m->misc.dumpable;
	s->e.child_subreaper = m->misc.child_subreaper != 0;
	s->e.stopped = m->stopped;
	s->e.has_stop_signo = m->stopped;
	s->e.stop_signo = m->stop_signo;
	s->e.membarrier = m->membarrier;
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
	if (read_int_file(path, &s->e.oom_score_adj))
		return -EIO;
	return read_audit(pid, &s->e);
}

void free_process_attrs(CoreEntry *core)
{
	free(core->attrs);
	core->attrs = NULL;
}

/* include/uapi/linux/sched/types.h (SCHED_ATTR_SIZE_VER0). */
struct lm_sched_attr {
	uint32_t size;
	uint32_t policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime;
	uint64_t deadline;
	uint64_t period;
};

struct thread_attrs_store {
	ThreadAttrsEntry e;
	uint8_t mask[RESTORER_CPUMASK_BYTES];
};

static int read_status_field(pid_t pid, pid_t tid, const char *key, int *val)
{
	cleanup_free char *buf = NULL;
	char path[96], *line;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	buf = proc_read_file(path, NULL);
	line = buf ? strstr(buf, key) : NULL;
	if (!line || sscanf(line + strlen(key), "%d", val) != 1) {
		pr_perror("Can't read%s from %s", key, path);
		return -EIO;
	}
	return 0;
}

static int read_no_new_privs(pid_t pid, pid_t tid, protobuf_c_boolean *nnp)
{
	int v, ret = read_status_field(pid, tid, "\nNoNewPrivs:", &v);

	*nnp = v;
	return ret;
}

static int read_sched(pid_t tid, ThreadAttrsEntry *e)
{
	struct lm_sched_attr sa = {};

	if (syscall(SYS_sched_getattr, tid, &sa, sizeof(sa), 0)) {
		pr_perror("Can't read the scheduling attributes of thread %d", tid);
		return -errno;
	}
	if (sa.policy != SCHED_OTHER && sa.policy != SCHED_FIFO && sa.policy != SCHED_RR &&
	    sa.policy != SCHED_BATCH && sa.policy != SCHED_IDLE) {
		pr_err(
		    "Thread %d runs with scheduling policy %u (SCHED_DEADLINE?): not supported\n",
		    tid, sa.policy);
		return -EOPNOTSUPP;
	}
	e->sched_policy = sa.policy;
	e->sched_reset_on_fork = sa.flags & SCHED_FLAG_RESET_ON_FORK;
	e->sched_nice = sa.nice;
	e->sched_priority = sa.priority;
	return 0;
}

/* An I/O priority only once one was set (ionice): IOPRIO_CLASS_NONE, 0,
 * follows the nice value and is what a new thread has. */
static int read_ioprio(pid_t tid, ThreadAttrsEntry *e)
{
	long prio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);

	if (prio < 0) {
		pr_perror("Can't read the I/O priority of thread %d", tid);
		return -errno;
	}
	e->has_ioprio = prio != 0;
	e->ioprio = prio;
	return 0;
}

int dump_thread_attrs(pid_t pid, pid_t tid, ThreadCoreEntry *tc,
		      const struct parasite_thread_state *ts)
{
	struct thread_attrs_store *s = calloc(1, sizeof(*s));
	long len;
	int ret;

	if (!s)
		return -ENOMEM;
	thread_attrs_entry__init(&s->e);
	tc->attrs = &s->e;
	s->e.timerslack_ns = ts->timerslack_ns;
	s->e.pdeathsig = ts->pdeathsig;
	ret = read_no_new_privs(pid, tid, &s->e.no_new_privs);
	if (!ret)
		ret = read_sched(tid, &s->e);
	if (!ret)
		ret = read_ioprio(tid, &s->e);
	if (ret)
		return ret;
	/* The raw call says how many bytes of mask the kernel has. */
	len = syscall(SYS_sched_getaffinity, tid, sizeof(s->mask), s->mask);
	if (len <= 0) {
		pr_perror("Can't read the CPU affinity of thread %d", tid);
		return len ? -errno : -EIO;
	}
	s->e.cpu_affinity.data = s->mask;
	s->e.cpu_affinity.len = len;
	return 0;
}

void free_thread_attrs(ThreadCoreEntry *tc)
{
	free(tc->attrs);
	tc->attrs = NULL;
}

/* A stop by SIGTSTP, SIGTTIN or SIGTTOU is made again by that signal,
 * which only stops a task whose action for it is the default one (the
 * stop itself was such a delivery). */
static int check_stop_signal(const char *img, const struct restore_plan *p)
{
	const ProcessAttrsEntry *e = p->core->attrs;

	if (!e->stopped)
		return e->has_stop_signo ? restore_plan_bad(img, "a stop signal, not stopped") : 0;
	if (!e->has_stop_signo || (e->stop_signo != SIGSTOP && e->stop_signo != SIGTSTP &&
				   e->stop_signo != SIGTTIN && e->stop_signo != SIGTTOU))
		return restore_plan_bad(img, "stopped by signal %u", e->stop_signo);
	for (size_t i = 0; i < p->core->n_sigactions; i++) {
		const SigactionEntry *sa = p->core->sigactions[i];

		if (sa->sig == e->stop_signo && sa->handler != (uint64_t)(uintptr_t)SIG_DFL)
			return restore_plan_bad(img, "stopped by %s, which it does not take by "
						"default", sigabbrev_np(e->stop_signo));
	}
	return 0;
}

int check_process_attrs(const char *img, const struct restore_plan *p)
{
	const ProcessAttrsEntry *e = p->core->attrs;

	if (e->n_rlimits != NR_RLIMITS)
		return restore_plan_bad(img, "%zu rlimits, not %d", e->n_rlimits, NR_RLIMITS);
	for (int i = 0; i < NR_RLIMITS; i++)
		if (e->rlimits[i]->cur > e->rlimits[i]->max)
			return restore_plan_bad(img, "%s soft limit %llu above its hard limit %llu",
						rlimit_names[i],
						(unsigned long long)e->rlimits[i]->cur,
						(unsigned long long)e->rlimits[i]->max);
	if (e->dumpable > 1)
		return restore_plan_bad(img, "dumpable %u", e->dumpable);
	if (e->oom_score_adj < -1000 || e->oom_score_adj > 1000)
		return restore_plan_bad(img, "oom_score_adj %d", e->oom_score_adj);
	if (e->membarrier & ~MEMBARRIER_REGISTRATIONS)
		return restore_plan_bad(img, "membarrier registrations 0x%x", e->membarrier);
	if (e->has_sessionid != e->has_loginuid)
		return restore_plan_bad(img, "a sessionid without a loginuid or the reverse");
	return check_stop_signal(img, p);
}

static bool is_rt(uint32_t policy)
{
	return policy == SCHED_FIFO || policy == SCHED_RR;
}

int check_thread_attrs(const char *img, const ThreadCoreEntry *tc)
{
	const ThreadAttrsEntry *e = tc->attrs;
	bool any_cpu = false;

	if (e->sched_policy != SCHED_OTHER && e->sched_policy != SCHED_BATCH &&
	    e->sched_policy != SCHED_IDLE && !is_rt(e->sched_policy))
		return restore_plan_bad(img, "thread %u: scheduling policy %u", tc->tid,
					e->sched_policy);
	if (e->sched_nice < -20 || e->sched_nice > 19 ||
	    (is_rt(e->sched_policy) ? e->sched_priority < 1 || e->sched_priority > 99
				    : e->sched_priority != 0))
		return restore_plan_bad(img, "thread %u: nice %d, priority %u", tc->tid,
					e->sched_nice, e->sched_priority);
	for (size_t i = 0; i < e->cpu_affinity.len; i++)
		any_cpu |= e->cpu_affinity.data[i] != 0;
	if (!any_cpu || e->cpu_affinity.len > RESTORER_CPUMASK_BYTES)
		return restore_plan_bad(img, "thread %u: CPU affinity of %zu bytes, %s", tc->tid,
					e->cpu_affinity.len, any_cpu ? "too long" : "no CPU");
	if (e->has_ioprio && (IOPRIO_PRIO_CLASS(e->ioprio) == IOPRIO_CLASS_NONE ||
			      IOPRIO_PRIO_CLASS(e->ioprio) > IOPRIO_CLASS_IDLE ||
			      e->ioprio >> IOPRIO_CLASS_SHIFT > IOPRIO_CLASS_IDLE))
		return restore_plan_bad(img, "thread %u: I/O priority 0x%x", tc->tid, e->ioprio);
	/* Real-time threads have no slack (sched_setattr sets it to 0). */
	if (e->pdeathsig > 64 || (!e->timerslack_ns && !is_rt(e->sched_policy)))
		return restore_plan_bad(img, "thread %u: parent-death signal %u, timer slack %llu",
					tc->tid, e->pdeathsig,
					(unsigned long long)e->timerslack_ns);
	return 0;
}

static bool have_cap(cap_value_t cap)
{
	cap_flag_value_t v = CAP_CLEAR;
	cap_t c = cap_get_proc();

	if (c) {
		cap_get_flag(c, cap, CAP_EFFECTIVE, &v);
		cap_free(c);
	}
	return v == CAP_SET;
}

static int may_set_rlimits(const struct restore_plan *p)
{
	const ProcessAttrsEntry *e = p->core->attrs;
	bool resource = have_cap(CAP_SYS_RESOURCE);
	struct rlimit own;
	int nr_open = 0;

	for (int i = 0; i < NR_RLIMITS; i++) {
		if (getrlimit(i, &own))
			return -errno;
		if (e->rlimits[i]->max <= own.rlim_max || resource)
			continue;
		pr_err("Can't restore pid %d: its %s hard limit %llu is above lmproc's %llu, and "
		       "lmproc lacks CAP_SYS_RESOURCE to raise it\n",
		       p->pid, rlimit_names[i], (unsigned long long)e->rlimits[i]->max,
		       (unsigned long long)own.rlim_max);
		return -EPERM;
	}
	if (!read_int_file("/proc/sys/fs/nr_open", &nr_open) &&
	    e->rlimits[RLIMIT_NOFILE]->max > (uint64_t)nr_open) {
		pr_err("Can't restore pid %d: its RLIMIT_NOFILE hard limit %llu is above this "
		       "machine's fs.nr_open %d\n",
		       p->pid, (unsigned long long)e->rlimits[RLIMIT_NOFILE]->max, nr_open);
		return -EPERM;
	}
	return 0;
}

/* /sys/devices/system/cpu/online ("0-3,8") as a mask of LEN bytes. */
static int online_cpus(uint8_t *mask, size_t len)
{
	cleanup_free char *buf = proc_read_file("/sys/devices/system/cpu/online", NULL);
	char *s = buf, *end;
	unsigned long from, to;

	if (!buf)
		return -EIO;
	memset(mask, 0, len);
	while (*s && *s != '\n') {
		from = to = strtoul(s, &end, 10);
		if (*end == '-')
			to = strtoul(end + 1, &end, 10);
		for (unsigned long c = from; c <= to && c < len * 8; c++)
			mask[c / 8] |= 1 << (c % 8);
		if (end == s || (*end != ',' && *end != '\n' && *end))
			return -EIO;
		s = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/* sched_setaffinity() fails for a mask with no CPU of this machine: say
 * so before anything is created. */
static int may_set_affinity(const struct restore_plan *p)
{
	uint8_t online[RESTORER_CPUMASK_BYTES];

	if (online_cpus(online, sizeof(online)))
		return 0;
	for (size_t i = 0; i < p->nr_threads; i++) {
		const ThreadCoreEntry *tc = restore_thread_core(p, i);
		const ProtobufCBinaryData *m = &tc->attrs->cpu_affinity;
		bool any = false;

		for (size_t b = 0; b < m->len; b++)
			any |= (m->data[b] & online[b]) != 0;
		if (any)
			continue;
		pr_err("Can't restore pid %d: thread %u may only run on CPUs this machine does not "
		       "have online\n",
		       p->pid, tc->tid);
		return -EINVAL;
	}
	return 0;
}

/* The loginuid is written back (CAP_AUDIT_CONTROL, or once if lmproc
 * has none); the kernel then gives the task a fresh sessionid (none for
 * an unset loginuid), so the dumped one comes back only where it is
 * lmproc's own and the task simply inherits both.  A session id is the
 * audit log's counter of logins, never reused: a task restored outside
 * its session gets a new one, said here. */
static int may_set_audit(const struct restore_plan *p)
{
	const ProcessAttrsEntry *e = p->core->attrs;
	uint32_t own_uid, own_sid;

	if (!e->has_loginuid)
		return 0;
	if (read_u32_file("/proc/self/loginuid", &own_uid) ||
	    read_u32_file("/proc/self/sessionid", &own_sid)) {
		pr_err("Can't restore pid %d: it has a loginuid and this kernel has none "
		       "(CONFIG_AUDIT)\n",
		       p->pid);
		return -EOPNOTSUPP;
	}
	if (e->loginuid == own_uid && e->sessionid == own_sid)
		return 0;
	if (!have_cap(CAP_AUDIT_CONTROL) && own_uid != AUDIT_UNSET) {
		pr_err("Can't restore pid %d: its loginuid %u differs from lmproc's %u, and lmproc "
		       "lacks CAP_AUDIT_CONTROL to set it\n",
		       p->pid, e->loginuid, own_uid);
		return -EPERM;
	}
	if (e->sessionid != AUDIT_UNSET)
		pr_warn("pid %d: its audit sessionid %u can't be given back; it gets a new one "
			"with its loginuid %u\n",
			p->pid, e->sessionid, e->loginuid);
	return 0;
}

int restore_may_set_attrs(const struct restore_plan *p)
{
	const ProcessAttrsEntry *e = p->core->attrs;
	bool nice_cap = have_cap(CAP_SYS_NICE);
	int own_nice, own_oom = 0, ret;

	ret = may_set_rlimits(p);
	if (!ret)
		ret = may_set_affinity(p);
	if (!ret)
		ret = may_set_audit(p);
	if (ret)
		return ret;
	errno = 0;
	own_nice = getpriority(PRIO_PROCESS, 0);
	for (size_t i = 0; !nice_cap && i < p->nr_threads; i++) {
		const ThreadCoreEntry *tc = restore_thread_core(p, i);

		if (!is_rt(tc->attrs->sched_policy) && tc->attrs->sched_nice >= own_nice)
			continue;
		pr_err("Can't restore pid %d: thread %u runs with policy %u, nice %d; lmproc (nice "
		       "%d) lacks CAP_SYS_NICE to give it that\n",
		       p->pid, tc->tid, tc->attrs->sched_policy, tc->attrs->sched_nice, own_nice);
		return -EPERM;
	}
	ret = read_int_file("/proc/self/oom_score_adj", &own_oom);
	if (ret)
		return ret;
	if (e->oom_score_adj < own_oom && !have_cap(CAP_SYS_RESOURCE)) {
		pr_err(
		    "Can't restore pid %d: its oom_score_adj %d is below lmproc's %d, and lmproc "
		    "lacks CAP_SYS_RESOURCE to lower it\n",
		    p->pid, e->oom_score_adj, own_oom);
		return -EPERM;
	}
	return 0;
}

void fill_process_attrs(const struct restore_plan *p, struct restorer_args *a)
{
	const ProcessAttrsEntry *e = p->core->attrs;

	for (int i = 0; i < NR_RLIMITS; i++) {
		a->rlimits[i].cur = e->rlimits[i]->cur;
		a->rlimits[i].max = e->rlimits[i]->max;
	}
	a->dumpable = e->dumpable;
	a->child_subreaper = e->child_subreaper;
	a->cap_last_cap = cap_max_bits() - 1;
}

void fill_thread_attrs(const ThreadCoreEntry *tc, struct restorer_thread *t)
{
	const ThreadAttrsEntry *e = tc->attrs;
	struct restorer_thread_attrs *at = &t->attrs;

	at->sched = (struct restorer_sched_attr){
	    .size = sizeof(at->sched),
	    .policy = e->sched_policy,
	    .flags = e->sched_reset_on_fork ? SCHED_FLAG_RESET_ON_FORK : 0,
	    .nice = e->sched_nice,
	    .priority = e->sched_priority,
	};
	at->timerslack_ns = e->timerslack_ns;
	at->ioprio = e->has_ioprio ? e->ioprio : 0;
	at->pdeathsig = e->pdeathsig;
	at->no_new_privs = e->no_new_privs;
	at->cpumask_len = e->cpu_affinity.len;
	memcpy(at->cpumask, e->cpu_affinity.data, e->cpu_affinity.len);
}

/* Writes the loginuid unless the one inherited from lmproc is already it
 * (a write, even of the same value, starts a new audit session). */
static int restore_loginuid(const ProcessAttrsEntry *e, int proc, char *err, size_t len)
{
	uint32_t own_uid, own_sid;
	char buf[16];
	int fd, n;

	if (!e->has_loginuid)
		return 0;
	if (!read_u32_at(proc, "self/loginuid", &own_uid) &&
	    !read_u32_at(proc, "self/sessionid", &own_sid) && own_uid == e->loginuid &&
	    own_sid == e->sessionid)
		return 0;
	fd = openat(proc, "self/loginuid", O_WRONLY | O_CLOEXEC);
	n = snprintf(buf, sizeof(buf), "%u", e->loginuid);
	if (fd < 0 || write(fd, buf, n) != n) {
		snprintf(err, len, "can't set loginuid %u: %s", e->loginuid, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EPERM;
	}
	close(fd);
	return 0;
}

/* Each command registers one kind; the mm keeps them all. */
static int restore_membarrier(const ProcessAttrsEntry *e, char *err, size_t len)
{
	for (uint32_t bit = 1; bit <= e->membarrier; bit <<= 1) {
		if (!(e->membarrier & bit))
			continue;
		if (syscall(__NR_membarrier, bit, 0, 0)) {
			snprintf(err, len, "can't register membarrier command 0x%x: %s", bit,
				 strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int restore_task_attrs(const struct restore_plan *p, int proc, char *err, size_t len)
{
	char buf[16];
	int fd, n;

	if (restore_loginuid(p->core->attrs, proc, err, len) ||
	    restore_membarrier(p->core->attrs, err, len))
		return -EPERM;

	fd = openat(proc, "self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	n = snprintf(buf, sizeof(buf), "%d", p->core->attrs->oom_score_adj);
	if (fd < 0 || write(fd, buf, n) != n) {
		snprintf(err, len, "can't set oom_score_adj %d: %s", p->core->attrs->oom_score_adj,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EPERM;
	}
	close(fd);
	return 0;
}
