/* Owns what a restore decides about the tree as a whole before anything
 * is forked: how each process gets its session and process group back
 * (through fork order and setsid/setpgid, the only ways the kernel
 * offers), and which process makes each open file description that
 * several processes share, so that the others inherit it by fork as they
 * did when it was first shared. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common.h"
#include "eventpoll.h"
#include "fd-types.h"
#include "log.h"
#include "restore.h"
#include "sk-unix.h"

bool restore_in_subtree(const struct restore_tree *t, size_t anc, size_t i)
{
	for (int k = i; k >= 0; k = t->parent[k])
		if ((size_t)k == anc)
			return true;
	return false;
}

static size_t depth(const struct restore_tree *t, size_t i)
{
	size_t d = 0;

	for (int k = t->parent[i]; k >= 0; k = t->parent[k])
		d++;
	return d;
}

static size_t common_ancestor(const struct restore_tree *t, size_t a, size_t b)
{
	while (depth(t, a) > depth(t, b))
		a = t->parent[a];
	while (depth(t, b) > depth(t, a))
		b = t->parent[b];
	while (a != b) {
		a = t->parent[a];
		b = t->parent[b];
	}
	return a;
}

/* The session a process of the tree had before it called setsid(): its
 * parent's, or lmproc's for the root. */
static uint32_t session_before(const struct restore_tree *t, size_t i)
{
	return t->parent[i] < 0 ? (uint32_t)getsid(0) : t->entries[t->parent[i]]->sid;
}

static bool group_exists(const struct restore_tree *t, uint32_t pgid)
{
	for (size_t i = 0; i < t->nr; i++)
		if (t->entries[i]->pid == pgid)
			return true;
	return !t->pidns && !kill(-(pid_t)pgid, 0);
}

/* A group whose leader is gone lives on in its other members: made again
 * by a helper with the leader's pid, which the parent forks, puts the
 * members into and kills.  Only for members that share their parent and
 * its session (setpgid's rule for a parent moving its child). */
static bool helper_can_make(const struct restore_tree *t, size_t i)
{
	const PstreeEntry *e = t->entries[i];

	if (!e->pgid || t->ctx[i].fork_early || e->sid != t->entries[t->parent[i]]->sid)
		return false;
	for (size_t k = 1; k < t->nr; k++)
		if (t->entries[k]->pgid == e->pgid && t->parent[k] != t->parent[i])
			return false;
	return true;
}

/* A child of the root or deeper: its session is made by setsid() or
 * inherited from its parent, before or after the parent's own setsid(). */
static int plan_child_session(struct restore_tree *t, size_t i)
{
	const PstreeEntry *e = t->entries[i], *pe = t->entries[t->parent[i]];
	struct restore_ctx *c = &t->ctx[i];

	if (e->sid == e->pid) {
		c->session = TASK_NEW_SESSION;
	} else if (e->sid != pe->sid) {
		if (pe->sid != pe->pid || e->sid != session_before(t, t->parent[i])) {
			pr_err("pid %u is in session %u, which lmproc cannot recreate below its "
			       "parent %u (session %u)\n",
			       e->pid, e->sid, pe->pid, pe->sid);
			return -EOPNOTSUPP;
		}
		c->fork_early = true;
	}
	if (e->pgid == e->pid)
		c->own_group = true;
	else if (c->fork_early || e->pgid != pe->pgid)
		c->join_late = true;
	if (c->join_late && !group_exists(t, e->pgid) && helper_can_make(t, i)) {
		c->join_late = false;
		c->group_helper = true;
	}
	if (c->join_late && (!e->pgid || !group_exists(t, e->pgid))) {
		pr_warn("pid %u was in process group %u, which is gone; it stays in its parent's\n",
			e->pid, e->pgid);
		c->join_late = false;
	}
	return 0;
}

int restore_plan_sessions(struct restore_tree *t)
{
	for (size_t i = 1; i < t->nr; i++) {
		int ret = plan_child_session(t, i);

		if (ret)
			return ret;
	}
	return 0;
}

/* The first live process's plan: files.img is the same in every plan. */
static const struct restore_plan *any_plan(const struct restore_tree *t)
{
	return &t->ctx[0].plan;
}

/* The listener a socket of the object was accepted from, -1 if none:
 * the connection is made by connect and accept on it. */
static int object_listener(const struct restore_tree *t, uint32_t desc)
{
	const struct restore_plan *p0 = any_plan(t);
	uint32_t m = desc;

	do {
		const FileEntry *fe = p0->fdesc[m].fe;

		if (fe->type == FD_TYPE__FD_UNIX_SK && fe->unix_sk->has_listener)
			return unix_find(p0, fe->unix_sk->listener);
		m = p0->fdesc[m].obj_next;
	} while (m != desc);
	return -1;
}

/* Folds the processes holding file F into OWNER (-1: none yet). */
static int add_holders(const struct restore_tree *t, uint32_t f, int owner, bool *shared)
{
	for (size_t i = 0; i < t->nr; i++) {
		const struct restore_plan *p = &t->ctx[i].plan;

		/* A file in flight: whoever fills the queue needs it. */
		if (!p->pid || (p->fdesc[f].first_fd < 0 && !p->fdesc[f].in_flight_here) ||
		    owner == (int)i)
			continue;
		if (owner >= 0)
			*shared = true;
		owner = owner < 0 ? (int)i : (int)common_ancestor(t, owner, i);
	}
	return owner;
}

/* Who holds any file of the object DESC belongs to: the deepest process
 * above all of them, or -1 if no process holds it.  A connection accepted
 * from a listener is made where the listener is (a forking server's child
 * holds what its parent accepted): the listener's holders count too. */
static int object_owner(const struct restore_tree *t, uint32_t desc, bool *shared)
{
	const struct restore_plan *p0 = any_plan(t);
	int owner = -1, l = object_listener(t, desc);
	uint32_t m = desc;

	*shared = false;
	do {
		owner = add_holders(t, m, owner, shared);
		m = p0->fdesc[m].obj_next;
	} while (m != desc);
	if (l >= 0 && owner >= 0)
		owner = add_holders(t, l, owner, shared);
	return owner;
}

/* OWNER can make every socket of the object DESC belongs to. */
static int check_maker(const struct restore_tree *t, uint32_t desc, size_t owner)
{
	const struct restore_plan *p0 = any_plan(t);
	uint32_t m = desc;

	do {
		if (p0->fdesc[m].fe->type == FD_TYPE__FD_UNIX_SK) {
			int ret = unix_check_maker(&t->ctx[owner].plan, m) ?:
				  unix_cred_check(t, m, owner);

			if (ret)
				return ret;
		}
		m = p0->fdesc[m].obj_next;
	} while (m != desc);
	return 0;
}

static int share_object(struct restore_tree *t, uint32_t desc, size_t owner, int *next)
{
	const struct restore_plan *p0 = any_plan(t);
	uint32_t m = desc;
	int ret = check_maker(t, desc, owner);

	if (ret)
		return ret;
	do {
		for (size_t i = 0; i < t->nr; i++) {
			struct restore_plan *p = &t->ctx[i].plan;

			if (!p->pid)
				continue;
			p->fdesc[m].inherit_fd = *next;
			if (i == owner) {
				p->fdesc[m].make_here = true;
				p->fdesc[m].first_fd = *next;
			}
		}
		(*next)++;
		m = p0->fdesc[m].obj_next;
	} while (m != desc);
	return 0;
}

static int raise_nofile(int top)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		pr_perror("Can't read RLIMIT_NOFILE");
		return -errno;
	}
	if ((rlim_t)top < rl.rlim_cur)
		return 0;
	if ((rlim_t)top >= rl.rlim_max) {
		pr_err("The shared files need fds up to %d, above RLIMIT_NOFILE (%llu)\n", top,
		       (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		pr_perror("Can't raise RLIMIT_NOFILE");
		return -errno;
	}
	return 0;
}

/* Objects made by connect and accept come second: the listener they
 * need may itself be a shared object whose maker's fd is set first. */
static int plan_objects(struct restore_tree *t, bool *done, bool accepted, int *next)
{
	const struct restore_plan *p0 = any_plan(t);

	for (uint32_t f = 0; f < p0->nr_files; f++) {
		bool shared;
		int owner, ret;
		uint32_t m = f;

		if (done[f] || (object_listener(t, f) >= 0) != accepted)
			continue;
		do {
			done[m] = true;
			m = p0->fdesc[m].obj_next;
		} while (m != f);
		owner = object_owner(t, f, &shared);
		if (owner < 0)
			continue;
		if (p0->fdesc[f].fe->type == FD_TYPE__FD_EVENTPOLL) {
			ret = eventpoll_check_registrars(t, f, shared);
			if (ret)
				return ret;
		}
		if (p0->fdesc[f].fe->type == FD_TYPE__FD_PIPE)
			pipe_warn_outside(t, f);
		if (!shared)
			ret = check_maker(t, f, owner);
		else
			ret = share_object(t, f, owner, next);
		if (ret)
			return ret;
	}
	return 0;
}

int restore_plan_shared_objects(struct restore_tree *t)
{
	const struct restore_plan *p0 = any_plan(t);
	cleanup_free bool *done = calloc(p0->nr_files + 1, sizeof(*done));
	int base = 0, next, ret;

	if (!done)
		return -ENOMEM;
	for (size_t i = 0; i < t->nr; i++)
		base = max(base, t->ctx[i].svc_fds[1] + 1);
	t->inherit_base = next = base;
	ret = plan_objects(t, done, false, &next) ?: plan_objects(t, done, true, &next);
	if (ret)
		return ret;
	t->nr_inherit = next - base;
	if (t->nr_inherit)
		pr_debug("%d shared open file descriptions at fds %d-%d\n", t->nr_inherit, base,
			 next - 1);
	return 0;
}

int restore_plan_shared_files(struct restore_tree *t)
{
	int ret = restore_plan_shared_objects(t);

	if (ret || !t->nr_inherit)
		return ret;
	return raise_nofile(t->inherit_base + t->nr_inherit + RESTORE_PARKED_FDS);
}

bool restore_tree_has(const struct restore_tree *t, uint32_t pid)
{
	for (size_t i = 0; i < t->nr; i++)
		if (t->entries[i]->pid == pid)
			return true;
	return false;
}

/* Above every fd any process of the tree will have: each task keeps the
 * service fds of the processes below it until it has forked them. */
int restore_tree_fd_base(const struct restore_tree *t)
{
	int base = 0;

	for (size_t i = 0; i < t->nr; i++) {
		const struct restore_plan *p = &t->ctx[i].plan;

		if (p->pid && p->nr_fds)
			base = max(base, (int)p->fds[p->nr_fds - 1]->fd + 1);
	}
	return base;
}
