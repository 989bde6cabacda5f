/* Owns each thread's credentials in core-PID.img: real, effective, saved
 * and fs uids and gids, supplementary groups, the five capability sets
 * and securebits.  Dump reads the ids from /proc, the capability sets
 * with libcap and securebits through the parasite; restore validates
 * them, refuses any that would give the task a privilege lmproc itself
 * lacks (before anything is created), and passes them to the restorer,
 * which applies them last of all (pie/restorer-attrs.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "proc.h"
#include "restore.h"
#include "task-attrs.h"

/* NGROUPS_MAX of include/uapi/linux/limits.h. */
#define MAX_GROUPS 65536
/* include/uapi/linux/securebits.h: the six bits and their locks. */
#define SECBITS_ALL 0x3f

struct creds_store {
	CredsEntry e;
	uint32_t groups[];
};

static int read_id_line(const char *buf, const char *key, uint32_t ids[4])
{
	const char *l = strstr(buf, key);

	if (!l || sscanf(l + strlen(key), "%u %u %u %u", &ids[0], &ids[1], &ids[2], &ids[3]) != 4)
		return -EIO;
	return 0;
}

static size_t count_groups(const char *l)
{
	size_t n = 0;
	char *end;

	for (;;) {
		strtoul(l, &end, 10);
		if (end == l)
			return n;
		n++;
		l = end;
	}
}

/* Uid:, Gid: and Groups: of /proc/PID/task/TID/status. */
static int read_ids(pid_t pid, pid_t tid, struct creds_store **out)
{
	cleanup_free char *buf = NULL;
	struct creds_store *s;
	uint32_t uids[4], gids[4];
	const char *g;
	char path[96], *end;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	buf = proc_read_file(path, NULL);
	g = buf ? strstr(buf, "\nGroups:") : NULL;
	if (!g || read_id_line(buf, "\nUid:", uids) || read_id_line(buf, "\nGid:", gids)) {
		pr_perror("Can't read the ids of thread %d from %s", tid, path);
		return -EIO;
	}
	g += strlen("\nGroups:");
	n = count_groups(g);
	s = calloc(1, sizeof(*s) + n * sizeof(uint32_t));
	if (!s)
		return -ENOMEM;
	creds_entry__init(&s->e);
	for (size_t i = 0; i < n; i++, g = end)
		s->groups[i] = strtoul(g, &end, 10);
	s->e.uid = uids[0];
	s->e.euid = uids[1];
	s->e.suid = uids[2];
	s->e.fsuid = uids[3];
	s->e.gid = gids[0];
	s->e.egid = gids[1];
	s->e.sgid = gids[2];
	s->e.fsgid = gids[3];
	s->e.groups = s->groups;
	s->e.n_groups = n;
	*out = s;
	return 0;
}

static uint64_t cap_mask(cap_t c, cap_flag_t flag)
{
	uint64_t m = 0;

	for (cap_value_t cap = 0; cap < cap_max_bits() && cap < 64; cap++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (!cap_get_flag(c, cap, flag, &v) && v == CAP_SET)
			m |= 1ULL << cap;
	}
	return m;
}

/* The bounding set comes in libcap's IAB as its complement ("blocked"). */
static uint64_t iab_mask(cap_iab_t iab, cap_iab_vector_t vec, bool invert)
{
	uint64_t m = 0;

	for (cap_value_t cap = 0; cap < cap_max_bits() && cap < 64; cap++)
		if ((cap_iab_get_vector(iab, vec, cap) == CAP_SET) != invert)
			m |= 1ULL << cap;
	return m;
}

static int read_caps(pid_t tid, CredsEntry *e)
{
	cap_t c = cap_get_pid(tid);
	cap_iab_t iab = c ? cap_iab_get_pid(tid) : NULL;

	if (!c || !iab) {
		pr_perror("Can't read the capabilities of thread %d", tid);
		if (c)
			cap_free(c);
		return -EIO;
	}
	e->cap_eff = cap_mask(c, CAP_EFFECTIVE);
	e->cap_prm = cap_mask(c, CAP_PERMITTED);
	e->cap_inh = cap_mask(c, CAP_INHERITABLE);
	e->cap_amb = iab_mask(iab, CAP_IAB_AMB, false);
	e->cap_bnd = iab_mask(iab, CAP_IAB_BOUND, true);
	cap_free(iab);
	cap_free(c);
	return 0;
}

int dump_thread_creds(pid_t pid, pid_t tid, ThreadCoreEntry *tc,
		      const struct parasite_thread_state *ts)
{
	struct creds_store *s = NULL;
	int ret;

	ret = read_ids(pid, tid, &s);
	if (ret)
		return ret;
	tc->creds = &s->e;
	s->e.secbits = ts->secbits;
	return read_caps(tid, &s->e);
}

void free_thread_creds(ThreadCoreEntry *tc)
{
	free(tc->creds);
	tc->creds = NULL;
}

int check_creds(const char *img, const ThreadCoreEntry *tc)
{
	const CredsEntry *c = tc->creds;
	uint64_t all = cap_max_bits() >= 64 ? ~0ULL : (1ULL << cap_max_bits()) - 1;
	uint64_t sets = c->cap_eff | c->cap_prm | c->cap_inh | c->cap_bnd | c->cap_amb;

	if (sets & ~all)
		return restore_plan_bad(img,
					"thread %u has capabilities 0x%llx beyond this kernel's %d",
					tc->tid, (unsigned long long)sets, cap_max_bits());
	if ((c->cap_eff & ~c->cap_prm) || (c->cap_amb & ~(c->cap_prm & c->cap_inh)))
		return restore_plan_bad(img,
					"thread %u: effective 0x%llx or ambient 0x%llx "
					"capabilities not permitted (0x%llx)",
					tc->tid, (unsigned long long)c->cap_eff,
					(unsigned long long)c->cap_amb,
					(unsigned long long)c->cap_prm);
	if (c->secbits & ~SECBITS_ALL)
		return restore_plan_bad(img, "thread %u: securebits 0x%x", tc->tid, c->secbits);
	if (c->n_groups > MAX_GROUPS)
		return restore_plan_bad(img, "thread %u: %zu supplementary groups", tc->tid,
					c->n_groups);
	return 0;
}

struct own_creds {
	uid_t uid[3];
	gid_t gid[3];
	uint64_t prm;
	uint64_t bnd;
	bool setuid, setgid, setpcap;
};

static int own_creds(struct own_creds *o)
{
	cap_t c = cap_get_proc();

	if (!c || getresuid(&o->uid[0], &o->uid[1], &o->uid[2]) ||
	    getresgid(&o->gid[0], &o->gid[1], &o->gid[2])) {
		pr_perror("Can't read lmproc's own credentials");
		if (c)
			cap_free(c);
		return -EIO;
	}
	o->prm = cap_mask(c, CAP_PERMITTED);
	o->bnd = 0;
	for (cap_value_t cap = 0; cap < cap_max_bits() && cap < 64; cap++)
		if (cap_get_bound(cap) == 1)
			o->bnd |= 1ULL << cap;
	o->setuid = cap_mask(c, CAP_EFFECTIVE) & (1ULL << CAP_SETUID);
	o->setgid = cap_mask(c, CAP_EFFECTIVE) & (1ULL << CAP_SETGID);
	o->setpcap = cap_mask(c, CAP_EFFECTIVE) & (1ULL << CAP_SETPCAP);
	cap_free(c);
	return 0;
}

static bool one_of(uint32_t id, const uint32_t own[3])
{
	return id == own[0] || id == own[1] || id == own[2];
}

/* The lowest capability in MASK, by name, for the message. */
static void cap_name_of(uint64_t mask, char *buf, size_t len)
{
	char *name = cap_to_name(__builtin_ctzll(mask));

	snprintf(buf, len, "%s", name ? name : "?");
	cap_free(name);
}

static int may_set_thread(pid_t pid, const ThreadCoreEntry *tc, const struct own_creds *o)
{
	const CredsEntry *c = tc->creds;
	uint64_t extra = (c->cap_eff | c->cap_prm | c->cap_inh | c->cap_amb) & ~o->prm;
	uint32_t uids[3] = {o->uid[0], o->uid[1], o->uid[2]};
	uint32_t gids[3] = {o->gid[0], o->gid[1], o->gid[2]};
	const char *why = NULL;
	char name[64];

	if (!extra)
		extra = c->cap_bnd & ~o->bnd;
	if (extra) {
		cap_name_of(extra, name, sizeof(name));
		pr_err("Can't restore pid %d: thread %u would hold %s, which lmproc (restoring) "
		       "lacks\n",
		       pid, tc->tid, name);
		return -EPERM;
	}
	if (!o->setuid && !(one_of(c->uid, uids) && one_of(c->euid, uids) &&
			    one_of(c->suid, uids) && one_of(c->fsuid, uids)))
		why = "its uids are not lmproc's, and lmproc lacks CAP_SETUID";
	else if (!o->setgid && !(one_of(c->gid, gids) && one_of(c->egid, gids) &&
				 one_of(c->sgid, gids) && one_of(c->fsgid, gids)))
		why = "its gids are not lmproc's, and lmproc lacks CAP_SETGID";
	else if (!o->setgid)
		why = "setting its supplementary groups needs CAP_SETGID, which lmproc lacks";
	else if (!o->setpcap)
		why = "setting its capability sets needs CAP_SETPCAP, which lmproc lacks";
	if (why) {
		pr_err("Can't restore pid %d: thread %u: %s\n", pid, tc->tid, why);
		return -EPERM;
	}
	return 0;
}

int restore_may_set_creds(const struct restore_plan *p)
{
	struct own_creds o;
	int ret = own_creds(&o);

	for (size_t i = 0; !ret && i < p->nr_threads; i++)
		ret = may_set_thread(p->pid, restore_thread_core(p, i), &o);
	return ret;
}

size_t nr_restore_groups(const struct restore_plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nr_threads; i++)
		n += restore_thread_core(p, i)->creds->n_groups;
	return n;
}

void fill_creds(const ThreadCoreEntry *tc, struct restorer_thread *t, uint32_t *groups,
		uint64_t groups_addr)
{
	const CredsEntry *c = tc->creds;
	struct restorer_creds *rc = &t->creds;

	*rc = (struct restorer_creds){
	    .uids = {c->uid, c->euid, c->suid, c->fsuid},
	    .gids = {c->gid, c->egid, c->sgid, c->fsgid},
	    .cap_eff = c->cap_eff,
	    .cap_prm = c->cap_prm,
	    .cap_inh = c->cap_inh,
	    .cap_bnd = c->cap_bnd,
	    .cap_amb = c->cap_amb,
	    .secbits = c->secbits,
	    .nr_groups = c->n_groups,
	    .groups = groups_addr,
	};
	memcpy(groups, c->groups, c->n_groups * sizeof(*groups));
}
