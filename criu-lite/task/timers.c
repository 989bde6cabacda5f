/* Owns the process's timers in core-PID.img: the three itimers
 * (setitimer(2), alarm(2)) and every POSIX timer (timer_create(2)) with
 * its id, clock, notification and the time left at dump (on a CPU clock:
 * the CPU time its process or thread has still to consume, which restore
 * arms again as such).  Dump reads the
 * list from /proc/PID/timers and the times through the parasite; restore
 * validates them and hands them to the restorer, which re-creates each
 * timer with its id and arms all of them as its last step
 * (pie/restorer-attrs.c). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common.h"
#include "fault.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "restore.h"
#include "task-attrs.h"
#include "words.h"

/* Refuse absurd counts before allocating for them. */
#define MAX_POSIX_TIMERS 4096
#define NSEC_PER_SEC 1000000000ULL
#define USEC_PER_SEC 1000000ULL

/* include/linux/posix-timers_types.h: a CPU clock is ~pid << 3 | which,
 * bit 2 for a thread's; pid 0 is the caller (CLOCK_PROCESS_CPUTIME_ID
 * becomes ~0 << 3 | 2 in timer_create(), CLOCK_THREAD_CPUTIME_ID
 * ~0 << 3 | 6: the thread that created the timer).  The pid is the one
 * the process sees (find_vpid() of its namespace), and so is what the
 * restored tree sees: tids are restored. */
#define CPUCLOCK_PERTHREAD 4
#define CPUCLOCK_WHICH(c) ((c) & 3)
#define CPUCLOCK_MAX 3
#define CPUCLOCK_PID(c) ((pid_t)~((c) >> 3))

static int notify_of(const char *how, const char *whom)
{
	int base;

	if (!strcmp(how, "signal"))
		base = SIGEV_SIGNAL;
	else if (!strcmp(how, "none"))
		base = SIGEV_NONE;
	else if (!strcmp(how, "thread"))
		base = SIGEV_THREAD;
	else
		return -1;
	return !strcmp(whom, "tid") ? base | SIGEV_THREAD_ID : base;
}

/* Whether VTID, as the tree sees it, is a thread of PID; *NR counts its
 * threads. */
static bool has_thread(pid_t pid, pid_t vtid, size_t *nr)
{
	struct dirent *de;
	char path[64];
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	*nr = 0;
	if (!d)
		return false;
	while ((de = readdir(d))) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0)
			continue;
		(*nr)++;
		found |= vtid && pstree_vpid(tid) == vtid;
	}
	closedir(d);
	return found;
}

/* A CPU clock restore makes again: its own process's or another live
 * process's of the tree (all are forked before any restorer runs), or a
 * thread's of it named by tid (created after the threads,
 * pie/restorer.c); the calling thread's only where there is one thread
 * to have called. */
static int check_cpu_clock(pid_t pid, int id, int clock)
{
	pid_t who = CPUCLOCK_PID(clock);
	size_t nr;
	bool found = has_thread(pid, who, &nr);

	if (CPUCLOCK_WHICH(clock) >= CPUCLOCK_MAX)
		pr_err("pid %d timer %d counts %s: not a clock\n", pid, id, clock_words(clock).s);
	else if (!(clock & CPUCLOCK_PERTHREAD) && who && !pstree_live_vpid(who))
		pr_err("pid %d timer %d counts %s: the CPU clock of a process outside the dumped "
		       "tree, or of a zombie, is not supported\n",
		       pid, id, clock_words(clock).s);
	else if (clock & CPUCLOCK_PERTHREAD && !who && nr != 1)
		pr_err("pid %d timer %d counts %s: /proc does not say which of its %zu threads "
		       "created it\n",
		       pid, id, clock_words(clock).s, nr);
	else if (clock & CPUCLOCK_PERTHREAD && who && !found)
		pr_err("pid %d timer %d counts %s: no thread %d in pid %d (it has exited)\n", pid,
		       id, clock_words(clock).s, who, pid);
	else
		return 0;
	return -EOPNOTSUPP;
}

/* One "ID:" block of /proc/PID/timers; the lines after LINE. */
static int parse_timer(pid_t pid, char **save, const char *first, struct posix_timer_state *s)
{
	char how[16], whom[8], *line;
	unsigned long long sival;
	int got = 0;

	memset(s, 0, sizeof(*s));
	if (sscanf(first, "ID: %d", &s->t.id) != 1)
		return -EINVAL;
	while (got != 7 && (line = strtok_r(NULL, "\n", save))) {
		if (sscanf(line, "signal: %u/%llx", &s->signo, &sival) == 2) {
			s->sival = sival;
			got |= 1;
		} else if (sscanf(line, "notify: %15[a-z]/%7[a-z].%d", how, whom, &s->notify_tid) ==
			   3) {
			s->notify = notify_of(how, whom);
			got |= 2;
		} else if (sscanf(line, "ClockID: %d", &s->clock_id) == 1) {
			got |= 4;
		}
	}
	if (got != 7 || s->notify < 0) {
		pr_err("Can't parse timer %d in /proc/%d/timers\n", s->t.id, pid);
		return -EINVAL;
	}
	if (s->clock_id < 0 && check_cpu_clock(pid, s->t.id, s->clock_id))
		return -EOPNOTSUPP;
	if (!(s->notify & SIGEV_THREAD_ID))
		s->notify_tid = 0;
	return 0;
}

static int read_timer_list(pid_t pid, struct task_misc *m)
{
	cleanup_free char *buf = NULL;
	char path[64], *line, *save;
	size_t cap = 0;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/timers", pid);
	buf = proc_read_file(path, NULL);
	if (!buf) {
		pr_perror("Can't read %s", path);
		return -errno ? -errno : -EIO;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "ID:", 3))
			continue;
		if (m->nr_timers == MAX_POSIX_TIMERS) {
			pr_err("pid %d has more than %d POSIX timers\n", pid, MAX_POSIX_TIMERS);
			return -E2BIG;
		}
		if (m->nr_timers == cap) {
			struct posix_timer_state *n;

			cap = cap ? cap * 2 : 8;
			n = realloc(m->timers, cap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			m->timers = n;
		}
		ret = parse_timer(pid, &save, line, &m->timers[m->nr_timers]);
		if (ret)
			return ret;
		m->nr_timers++;
	}
	return 0;
}

static int timer_cmp(const void *a, const void *b)
{
	const struct posix_timer_state *x = a, *y = b;

	return (x->t.id > y->t.id) - (x->t.id < y->t.id);
}

/* timer_getoverrun() gives the overrun count of the timer's last signal
 * delivered; any timer_settime() makes it 0, and so does the restorer's
 * arming: a count of the dumped timer that is not 0 can't come back.  (The
 * count of a signal still pending is in no file or syscall's reach.) */
static int check_overrun(pid_t pid, const struct posix_timer_state *s)
{
	if (!s->t.overrun)
		return 0;
	pr_err("pid %d: POSIX timer %d (signal %u): its last signal's overrun count "
	       "(timer_getoverrun) is %d, which restore can't give back (an armed timer's is 0)\n",
	       pid, s->t.id, s->signo, s->t.overrun);
	return -EOPNOTSUPP;
}

int collect_posix_timers(struct parasite_ctl *ctl, pid_t pid, struct task_misc *m)
{
	struct parasite_posix_timer *t;
	int ret;

	ret = read_timer_list(pid, m);
	if (ret || !m->nr_timers)
		return ret;
	/* The restorer re-creates them in this order. */
	qsort(m->timers, m->nr_timers, sizeof(*m->timers), timer_cmp);
	t = calloc(m->nr_timers, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < m->nr_timers; i++)
		t[i].id = m->timers[i].t.id;
	ret = parasite_dump_timers(ctl, t, m->nr_timers);
	for (size_t i = 0; !ret && i < m->nr_timers; i++)
		m->timers[i].t = t[i];
	free(t);
	for (size_t i = 0; !ret && i < m->nr_timers; i++)
		ret = check_overrun(pid, &m->timers[i]);
	return ret;
}

static uint64_t ns_of(uint64_t sec, uint64_t nsec)
{
	return sec * NSEC_PER_SEC + nsec;
}

int dump_timers(CoreEntry *core, const struct task_misc *m)
{
	ItimerEntry *it = calloc(PARASITE_NR_ITIMERS, sizeof(*it));
	ItimerEntry **itp = calloc(PARASITE_NR_ITIMERS, sizeof(*itp));
	PosixTimerEntry *pt = calloc(m->nr_timers + 1, sizeof(*pt));
	PosixTimerEntry **ptp = calloc(m->nr_timers + 1, sizeof(*ptp));

	core->itimers = itp;
	core->posix_timers = ptp;
	if (!it || !itp || !pt || !ptp) {
		free(it);
		free(pt);
		return -ENOMEM;
	}
	for (int i = 0; i < PARASITE_NR_ITIMERS; i++) {
		const struct parasite_itimer *v = &m->misc.itimers[i];

		itimer_entry__init(&it[i]);
		it[i].interval_us = v->interval_sec * USEC_PER_SEC + v->interval_usec;
		it[i].value_us = v->value_sec * USEC_PER_SEC + v->value_usec;
		itp[core->n_itimers++] = &it[i];
	}
	for (size_t i = 0; i < m->nr_timers; i++) {
		const struct posix_timer_state *s = &m->timers[i];
		PosixTimerEntry *e = &pt[i];

		posix_timer_entry__init(e);
		e->id = s->t.id;
		e->clock_id = s->clock_id;
		e->notify = s->notify;
		e->signo = s->signo;
		e->sival = s->sival;
		e->has_notify_tid = s->notify & SIGEV_THREAD_ID;
		e->notify_tid = pstree_vpid(s->notify_tid);
		e->interval_ns = ns_of(s->t.interval_sec, s->t.interval_nsec);
		e->value_ns = ns_of(s->t.value_sec, s->t.value_nsec);
		e->overrun = s->t.overrun;
		ptp[core->n_posix_timers++] = e;
	}
	if (!core->n_posix_timers)
		free(pt);
	return 0;
}

void free_dumped_timers(CoreEntry *core)
{
	if (core->itimers)
		free(core->itimers[0]);
	free(core->itimers);
	if (core->posix_timers)
		free(core->posix_timers[0]);
	free(core->posix_timers);
}

static bool is_thread_of(const struct restore_plan *p, uint32_t tid)
{
	for (size_t i = 0; i < p->nr_threads; i++)
		if (restore_thread_core(p, i)->tid == tid)
			return true;
	return false;
}

static bool is_live_process_of(const struct restore_plan *p, pid_t pid)
{
	for (size_t i = 0; p->tree && i < p->tree->nr; i++)
		if (p->tree->entries[i]->pid == (uint32_t)pid &&
		    !p->tree->entries[i]->has_exit_status)
			return true;
	return false;
}

/* Clocks timer_create() takes in the restored process: check_cpu_clock()'s
 * CPU clocks, with the tids of the threads made by then. */
static bool timer_clock_ok(const struct restore_plan *p, int clock)
{
	pid_t who = CPUCLOCK_PID(clock);

	switch (clock) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_PROCESS_CPUTIME_ID:
	case CLOCK_THREAD_CPUTIME_ID:
	case CLOCK_BOOTTIME:
	case CLOCK_REALTIME_ALARM:
	case CLOCK_BOOTTIME_ALARM:
	case CLOCK_TAI:
		return true;
	}
	if (clock >= 0 || CPUCLOCK_WHICH(clock) >= CPUCLOCK_MAX)
		return false;
	if (!(clock & CPUCLOCK_PERTHREAD))
		return !who || who == p->pid || is_live_process_of(p, who);
	return who ? is_thread_of(p, who) : p->nr_threads == 1;
}

static int check_posix_timer(const char *img, const struct restore_plan *p,
			     const PosixTimerEntry *e)
{
	int base = e->notify & ~SIGEV_THREAD_ID;

	if (e->id < 0)
		return restore_plan_bad(img, "POSIX timer id %d", e->id);
	if (!timer_clock_ok(p, e->clock_id))
		return restore_plan_bad(img, "POSIX timer %d counts %s, which lmproc does not restore",
					e->id, clock_words(e->clock_id).s);
	if ((base != SIGEV_SIGNAL && base != SIGEV_NONE && base != SIGEV_THREAD) ||
	    (e->notify & ~(SIGEV_THREAD_ID | 3)) ||
	    (base != SIGEV_NONE && (e->signo < 1 || e->signo > 64)))
		return restore_plan_bad(img, "POSIX timer %d: notify %d, signal %u", e->id,
					e->notify, e->signo);
	if (!(e->notify & SIGEV_THREAD_ID) != !e->has_notify_tid ||
	    (e->has_notify_tid && !is_thread_of(p, e->notify_tid)))
		return restore_plan_bad(img,
					"POSIX timer %d signals tid %u, not a thread of pid %d",
					e->id, e->notify_tid, p->pid);
	if (e->overrun)
		return restore_plan_bad(img, "POSIX timer %d: overrun count %d, which restore can't "
					"give back", e->id, e->overrun);
	if (e->interval_ns / NSEC_PER_SEC > INT32_MAX || e->value_ns / NSEC_PER_SEC > INT32_MAX)
		return restore_plan_bad(img, "POSIX timer %d: %llu ns left, interval %llu ns",
					e->id, (unsigned long long)e->value_ns,
					(unsigned long long)e->interval_ns);
	return 0;
}

int check_timers(const char *img, const struct restore_plan *p)
{
	const CoreEntry *core = p->core;
	int ret;

	if (core->n_itimers != PARASITE_NR_ITIMERS)
		return restore_plan_bad(img, "%zu itimers, not 3", core->n_itimers);
	for (size_t i = 0; i < core->n_itimers; i++)
		if (core->itimers[i]->interval_us / USEC_PER_SEC > INT32_MAX ||
		    core->itimers[i]->value_us / USEC_PER_SEC > INT32_MAX)
			return restore_plan_bad(img, "itimer %zu: %llu us left, interval %llu us",
						i, (unsigned long long)core->itimers[i]->value_us,
						(unsigned long long)core->itimers[i]->interval_us);
	if (core->n_posix_timers > MAX_POSIX_TIMERS)
		return restore_plan_bad(img, "%zu POSIX timers", core->n_posix_timers);
	for (size_t i = 0; i < core->n_posix_timers; i++) {
		ret = check_posix_timer(img, p, core->posix_timers[i]);
		if (ret)
			return ret;
		/* Ascending, for the restorer's create-until-the-id loop. */
		if (i && core->posix_timers[i]->id <= core->posix_timers[i - 1]->id)
			return restore_plan_bad(img, "POSIX timer %d after timer %d",
						core->posix_timers[i]->id,
						core->posix_timers[i - 1]->id);
	}
	return 0;
}

size_t nr_restore_timers(const struct restore_plan *p)
{
	return p->core->n_posix_timers;
}

/* setitimer() of ITIMER_VIRTUAL and ITIMER_PROF adds a tick to the value
 * (so the timer never fires early) and getitimer() does not take it off:
 * re-arming what getitimer() said would add one tick per checkpoint.
 * The tick (1/HZ) is measured on lmproc's own, unused ITIMER_VIRTUAL. */
static uint64_t cpu_itimer_tick_us(void)
{
	static const uint64_t ticks[] = {1000, 3334, 4000, 10000};
	struct itimerval set = {.it_value = {1000, 0}}, got, off = {};
	uint64_t extra;

	if (setitimer(ITIMER_VIRTUAL, &set, NULL) || getitimer(ITIMER_VIRTUAL, &got))
		return 0;
	setitimer(ITIMER_VIRTUAL, &off, NULL);
	extra = got.it_value.tv_sec * USEC_PER_SEC + got.it_value.tv_usec - 1000 * USEC_PER_SEC;
	for (size_t i = 0; i < ARRAY_SIZE(ticks); i++)
		if (extra && extra <= ticks[i])
			return ticks[i] == 3334 ? 3333 : ticks[i];
	return 0;
}

void fill_timers(const struct restore_plan *p, struct restorer_args *a,
		 struct restorer_posix_timer *pt)
{
	const CoreEntry *core = p->core;
	uint64_t tick = cpu_itimer_tick_us();

	for (size_t i = 0; i < PARASITE_NR_ITIMERS; i++) {
		const ItimerEntry *e = core->itimers[i];
		uint64_t value = e->value_us;

		if (i != ITIMER_REAL && value > tick)
			value -= tick;
		/* A periodic ITIMER_REAL whose SIGALRM was still queued at dump
		 * (it is re-queued) had not been re-armed yet: the kernel does
		 * that when the signal is taken.  setitimer() with no value
		 * would also drop the interval: arm it one interval ahead, as
		 * the kernel would have. */
		if (i == ITIMER_REAL && !value)
			value = e->interval_us;
		a->itimers[i] = (struct restorer_itimer){
		    .interval_sec = e->interval_us / USEC_PER_SEC,
		    .interval_usec = e->interval_us % USEC_PER_SEC,
		    .value_sec = value / USEC_PER_SEC,
		    .value_usec = value % USEC_PER_SEC,
		};
	}
	for (size_t i = 0; i < core->n_posix_timers; i++) {
		const PosixTimerEntry *e = core->posix_timers[i];

		pt[i] = (struct restorer_posix_timer){
		    .id = e->id,
		    .clock_id = e->clock_id,
		    .sival = e->sival,
		    .signo = e->signo,
		    .notify = e->notify,
		    .notify_tid = e->notify_tid,
		    .interval_sec = e->interval_ns / NSEC_PER_SEC,
		    .interval_nsec = e->interval_ns % NSEC_PER_SEC,
		    .value_sec = e->value_ns / NSEC_PER_SEC,
		    .value_nsec = e->value_ns % NSEC_PER_SEC,
		};
	}
	a->nr_posix_timers = core->n_posix_timers;
	a->timer_ids_by_trial = fault_injected("timer-ids-by-trial");
}
