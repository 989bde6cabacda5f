/* The restorer's last steps: what a thread or the process has besides its
 * memory and registers (scheduling, affinity, timer slack, rlimits,
 * prctl state), its timers and, last of all, its credentials.  Runs in
 * the task being restored, after every thread exists: no libc, no
 * allocation, no globals, results only through struct restorer_args. */
#include <stdint.h>
#include <linux/errno.h>
#include <linux/ioprio.h>
#include <linux/prctl.h>

#include "pie-syscall.h"
#include "restorer-attrs.h"

/* include/uapi/linux/prctl.h (6.17) */
#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#define PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#define PR_TIMER_CREATE_RESTORE_IDS_ON 1
#endif
/* include/uapi/linux/securebits.h */
#define SECBIT_NO_SETUID_FIXUP (1 << 2)
#define SECBIT_KEEP_CAPS (1 << 4)
/* include/uapi/linux/capability.h */
#define CAP_VERSION_3 0x20080522

struct cap_header {
	uint32_t version;
	int32_t pid;
};

struct cap_data {
	uint32_t eff;
	uint32_t prm;
	uint32_t inh;
};

static long tfail(struct restorer_thread *t, uint32_t step, uint64_t index, long err)
{
	t->err = err;
	t->step = step;
	t->index = index;
	return err;
}

static long pfail(uint32_t *step, uint64_t *index, uint32_t s, uint64_t i, long err)
{
	*step = s;
	*index = i;
	return err;
}

long rst_thread_attrs(struct restorer_thread *t)
{
	struct restorer_thread_attrs *at = &t->attrs;
	long ret;

	ret = sys_sched_setattr(0, &at->sched, 0);
	if (ret)
		return tfail(t, RST_STEP_SCHED, at->sched.policy, ret);
	ret = sys_sched_setaffinity(0, at->cpumask_len, at->cpumask);
	if (ret)
		return tfail(t, RST_STEP_AFFINITY, 0, ret);
	ret = sys_prctl(PR_SET_TIMERSLACK, at->timerslack_ns, 0, 0, 0);
	if (ret)
		return tfail(t, RST_STEP_TIMERSLACK, at->timerslack_ns, ret);
	/* Also when none was set: a fork inherits lmproc's (ionice lmproc). */
	ret = sys_ioprio_set(IOPRIO_WHO_PROCESS, 0, at->ioprio);
	if (ret)
		return tfail(t, RST_STEP_IOPRIO, at->ioprio, ret);
	if (at->no_new_privs) {
		ret = sys_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		if (ret)
			return tfail(t, RST_STEP_NO_NEW_PRIVS, 0, ret);
	}
	return 0;
}

static long set_ids(struct restorer_thread *t)
{
	struct restorer_creds *c = &t->creds;
	long ret;

	ret = sys_setgroups(c->nr_groups, c->groups);
	if (ret)
		return tfail(t, RST_STEP_GROUPS, c->nr_groups, ret);
	/* Every capability stays through the uid change: the final sets
	 * are applied after it. */
	ret = sys_prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP | SECBIT_KEEP_CAPS, 0, 0, 0);
	if (ret)
		return tfail(t, RST_STEP_SECBITS, SECBIT_NO_SETUID_FIXUP | SECBIT_KEEP_CAPS, ret);
	ret = sys_setresgid(c->gids[0], c->gids[1], c->gids[2]);
	if (!ret) {
		sys_setfsgid(c->gids[3]);
		if (sys_setfsgid(-1) != c->gids[3])
			ret = -EPERM;
	}
	if (ret)
		return tfail(t, RST_STEP_GIDS, c->gids[1], ret);
	ret = sys_setresuid(c->uids[0], c->uids[1], c->uids[2]);
	if (!ret) {
		sys_setfsuid(c->uids[3]);
		if (sys_setfsuid(-1) != c->uids[3])
			ret = -EPERM;
	}
	if (ret)
		return tfail(t, RST_STEP_UIDS, c->uids[1], ret);
	return 0;
}

static long set_caps(struct restorer_thread *t, uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct cap_header h = {CAP_VERSION_3, 0};
	struct cap_data d[2] = {
	    {(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
	    {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
	};
	long ret = sys_capset(&h, d);

	return ret ? tfail(t, RST_STEP_CAPS, 0, ret) : 0;
}

/* Inheritable and ambient first, while the task still holds every
 * capability it inherited; the bounding set and securebits need
 * CAP_SETPCAP; the final effective, permitted, inheritable sets last. */
static long set_cap_sets(struct restorer_args *a, struct restorer_thread *t)
{
	struct restorer_creds *c = &t->creds;
	struct cap_header h = {CAP_VERSION_3, 0};
	struct cap_data now[2];
	uint64_t eff, prm;
	long ret;

	ret = sys_capget(&h, now);
	if (ret)
		return tfail(t, RST_STEP_CAPS, 0, ret);
	eff = now[0].eff | (uint64_t)now[1].eff << 32;
	prm = now[0].prm | (uint64_t)now[1].prm << 32;
	ret = set_caps(t, eff, prm, c->cap_inh);
	if (ret)
		return ret;
	for (uint32_t cap = 0; cap <= a->cap_last_cap; cap++) {
		if (!(c->cap_amb & (1ULL << cap)))
			continue;
		ret = sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
		if (ret)
			return tfail(t, RST_STEP_AMBIENT, cap, ret);
	}
	for (uint32_t cap = 0; cap <= a->cap_last_cap; cap++) {
		if (c->cap_bnd & (1ULL << cap))
			continue;
		ret = sys_prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
		if (ret)
			return tfail(t, RST_STEP_BSET, cap, ret);
	}
	ret = sys_prctl(PR_SET_SECUREBITS, c->secbits, 0, 0, 0);
	if (ret)
		return tfail(t, RST_STEP_SECBITS, c->secbits, ret);
	return set_caps(t, c->cap_eff, c->cap_prm, c->cap_inh);
}

long rst_thread_creds(struct restorer_args *a, struct restorer_thread *t)
{
	long ret;

	ret = set_ids(t);
	if (!ret)
		ret = set_cap_sets(a, t);
	if (ret)
		return ret;
	/* Cleared by any change of the effective or fs ids. */
	ret = sys_prctl(PR_SET_PDEATHSIG, t->attrs.pdeathsig, 0, 0, 0);
	if (ret)
		return tfail(t, RST_STEP_PDEATHSIG, t->attrs.pdeathsig, ret);
	return 0;
}

long rst_process_attrs(struct restorer_args *a, uint32_t *step, uint64_t *index)
{
	long ret;

	for (uint32_t i = 0; i < 16; i++) {
		ret = sys_prlimit64(0, i, &a->rlimits[i], 0);
		if (ret)
			return pfail(step, index, RST_STEP_RLIMIT, i, ret);
	}
	ret = sys_prctl(PR_SET_CHILD_SUBREAPER, a->child_subreaper, 0, 0, 0);
	if (ret)
		return pfail(step, index, RST_STEP_SUBREAPER, 0, ret);
	return 0;
}

/* Kernels before 6.17 hand out the lowest free id above the last one:
 * create and delete until the wanted id comes (CRIU's way).  Timers are
 * created in ascending id order, so a higher id means it is lost. */
static long create_linear(struct restorer_posix_timer *pt, void *ev)
{
	int32_t id;
	long ret;

	for (;;) {
		ret = sys_timer_create(pt->clock_id, ev, &id);
		if (ret)
			return ret;
		if (id == pt->id)
			return 0;
		sys_timer_delete(id);
		if (id > pt->id)
			return -EEXIST;
	}
}

static long create_posix_timers(struct restorer_args *a, uint32_t *step, uint64_t *index)
{
	struct restorer_posix_timer *pt = (struct restorer_posix_timer *)a->posix_timers;
	int exact;
	long ret = 0;

	exact = !a->timer_ids_by_trial &&
		!sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0);
	for (uint32_t i = 0; !ret && i < a->nr_posix_timers; i++, pt++) {
		int32_t id = pt->id;

		if (exact) {
			ret = sys_timer_create(pt->clock_id, &pt->sival, &id);
			if (!ret && id != pt->id)
				ret = -EEXIST;
		} else {
			ret = create_linear(pt, &pt->sival);
		}
		if (ret)
			pfail(step, index, RST_STEP_POSIX_TIMER, pt->id, ret);
	}
	if (exact)
		sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0);
	return ret;
}

long rst_timers(struct restorer_args *a, uint32_t *step, uint64_t *index)
{
	struct restorer_posix_timer *pt = (struct restorer_posix_timer *)a->posix_timers;
	long ret;

	ret = create_posix_timers(a, step, index);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < a->nr_posix_timers; i++, pt++) {
		if (!pt->value_sec && !pt->value_nsec)
			continue;
		ret = sys_timer_settime(pt->id, 0, &pt->interval_sec, 0);
		if (ret)
			return pfail(step, index, RST_STEP_POSIX_TIMER, pt->id, ret);
	}
	for (uint32_t i = 0; i < 3; i++) {
		ret = sys_setitimer(i, &a->itimers[i], 0);
		if (ret)
			return pfail(step, index, RST_STEP_ITIMER, i, ret);
	}
	return 0;
}

long rst_dumpable(struct restorer_args *a, uint32_t *step, uint64_t *index)
{
	long ret = sys_prctl(PR_SET_DUMPABLE, a->dumpable, 0, 0, 0);

	return ret ? pfail(step, index, RST_STEP_DUMPABLE, a->dumpable, ret) : 0;
}
