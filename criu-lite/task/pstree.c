/* Owns the process tree of a dump: every descendant of the target, found
 * and frozen top-down (a frozen parent forks no more, so its children
 * list is final once it is seized), zombies recorded with their exit
 * status, and the tree released, or killed, as a whole.  Never leaves a
 * process of the tree frozen on a failure.  Also the pids the tree sees
 * (pstree_vpid()): those of its own pid namespace when it lives in one
 * below lmproc's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"

#include "pstree.pb-c.h"

/* A tree in a pid namespace below lmproc's (one `restore --pidns` made)
 * is traced by lmproc's pids and dumped with its own: every image names
 * processes and threads as they name themselves (NSpid's field of the
 * tree's namespace).  One map for the process, as a dump dumps one tree:
 * the code that writes a pid into an image asks pstree_vpid(). */
#define MAX_NS_LEVELS 33 /* MAX_PID_NS_LEVEL + 1 */

struct vpid {
	pid_t host, v;
};

static struct vpid *vmap;
static size_t nr_vmap;
static int vlevel; /* the tree's namespace in NSpid; 0: lmproc's */
static const struct pstree *seized; /* the tree seize_tree() made last */

static int vpid_cmp(const void *a, const void *b)
{
	pid_t x = ((const struct vpid *)a)->host, y = ((const struct vpid *)b)->host;

	return x < y ? -1 : x > y;
}

static int nspid(pid_t pid, pid_t tid, pid_t *out)
{
	int n = proc_read_nspid(pid, tid, out, MAX_NS_LEVELS);

	if (n > 0)
		return n;
	pr_err("Can't read the pids of pid %d (thread %d) in its pid namespaces (NSpid): %s\n",
	       pid, tid ?: pid, strerror(n ? -n : EIO));
	return n ?: -EIO;
}

static int vmap_add(pid_t pid, pid_t tid)
{
	pid_t ns[MAX_NS_LEVELS];
	int n = nspid(pid, tid, ns);

	if (n < 0)
		return n;
	if (n <= vlevel) {
		pr_err("pid %d is not in the pid namespace of the tree's root\n", tid ?: pid);
		return -EOPNOTSUPP;
	}
	vmap[nr_vmap++] = (struct vpid){ .host = tid ?: pid, .v = ns[vlevel] };
	return 0;
}

static void vmap_free(void)
{
	free(vmap);
	vmap = NULL;
	nr_vmap = 0;
	vlevel = 0;
}

/* The root's pid namespace is lmproc's when its NSpid has as many levels
 * as lmproc's own. */
static int map_vpids(const struct pstree *t)
{
	pid_t self[MAX_NS_LEVELS], root[MAX_NS_LEVELS];
	size_t nr = 0;
	int own = nspid(getpid(), 0, self);
	int levels = own < 0 ? own : nspid(t->items[0].pid, 0, root);
	int ret = 0;

	vmap_free();
	if (levels < 0)
		return levels;
	if (levels <= own)
		return 0;
	vlevel = levels - 1;
	for (size_t i = 0; i < t->nr; i++)
		nr += t->items[i].zombie ? 1 : t->items[i].task.nr_tids;
	vmap = calloc(nr, sizeof(*vmap));
	if (!vmap)
		return -ENOMEM;
	for (size_t i = 0; i < t->nr && !ret; i++) {
		const struct pstree_item *it = &t->items[i];

		if (it->zombie)
			ret = vmap_add(it->pid, 0);
		for (size_t k = 0; !it->zombie && k < it->task.nr_tids && !ret; k++)
			ret = vmap_add(it->pid, it->task.tids[k]);
	}
	qsort(vmap, nr_vmap, sizeof(*vmap), vpid_cmp);
	if (ret)
		vmap_free();
	else
		pr_info("pid %d lives in a pid namespace below lmproc's, as pid %d: its images "
			"name its processes as it sees them\n", t->items[0].pid, root[vlevel]);
	return ret;
}

pid_t pstree_vpid(pid_t host)
{
	struct vpid key = { .host = host }, *hit;
	pid_t ns[MAX_NS_LEVELS];
	int n;

	if (!vlevel || host <= 0)
		return host;
	hit = bsearch(&key, vmap, nr_vmap, sizeof(*vmap), vpid_cmp);
	if (hit)
		return hit->v;
	/* Outside the tree (its parent, a session leader): 0 if the tree
	 * can't see it. */
	n = proc_read_nspid(host, 0, ns, MAX_NS_LEVELS);
	return n > vlevel ? ns[vlevel] : 0;
}

bool pstree_live_vpid(pid_t v)
{
	for (size_t i = 0; seized && v > 0 && i < seized->nr; i++)
		if (!seized->items[i].zombie && pstree_vpid(seized->items[i].pid) == v)
			return true;
	return false;
}

bool pstree_own_pidns(void)
{
	return vlevel;
}

int pstree_open_pidns(void)
{
	char path[64];
	int fd;

	if (!seized || !seized->nr)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", seized->items[0].pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static struct pstree_item *add_item(struct pstree *t, pid_t pid, int parent)
{
	struct pstree_item *it;

	if (t->nr == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct pstree_item *n = realloc(t->items, cap * sizeof(*n));

		if (!n)
			return NULL;
		t->items = n;
		t->cap = cap;
	}
	it = &t->items[t->nr++];
	memset(it, 0, sizeof(*it));
	it->pid = pid;
	it->parent = parent;
	return it;
}

/* ids as they are now that the process (or its parent) is frozen. */
/* How long a zombie's threads may take to go once its group is exiting
 * (each leaves Threads: as the kernel releases it). */
#define GROUP_EXIT_PASSES 200
#define GROUP_EXIT_NAP_US 1000

/* A main thread that exited (pthread_exit) leaves its process a zombie in
 * /proc while the other threads run on: no zombie to record, and ptrace
 * can't seize it.  PS is PID's status, re-read while threads remain. */
static int refuse_zombie_leader(pid_t pid, struct proc_status *ps)
{
	for (int i = 0; ps->threads > 1 && i < GROUP_EXIT_PASSES; i++) {
		usleep(GROUP_EXIT_NAP_US);
		if (proc_read_status(pid, ps) || ps->state != 'Z')
			return 0;
	}
	if (ps->threads <= 1)
		return 0;
	pr_err("pid %d (%s) has exited its main thread, %d other threads run on: not supported\n",
	       pid, ps->comm, ps->threads - 1);
	return -EOPNOTSUPP;
}

static int read_ids(struct pstree_item *it)
{
	struct proc_status ps;
	struct proc_stat st;
	int ret = proc_read_stat(it->pid, &st);

	if (ret) {
		pr_err("Can't read /proc/%d/stat: %s\n", it->pid, strerror(-ret));
		return ret;
	}
	it->ppid = st.ppid;
	it->pgid = st.pgid;
	it->sid = st.sid;
	if (st.state == 'Z') {
		it->zombie = true;
		it->exit_status = st.exit_code;
		if (proc_read_status(it->pid, &ps))
			return 0;
		snprintf(it->comm, sizeof(it->comm), "%s", ps.comm);
		return refuse_zombie_leader(it->pid, &ps);
	}
	return 0;
}

/* How long a child found exiting while it was seized may take to become
 * the zombie its frozen parent can't reap. */
#define EXITING_CHILD_PASSES 2000
#define EXITING_CHILD_NAP_US 1000

/* IT exited while being seized: it may still be on its way out (the wait
 * saw it exiting, /proc does not say zombie yet).  A zombie is recorded
 * as one; a child its parent's SIG_IGN of SIGCHLD let the kernel reap is
 * gone and no part of the tree. */
static int take_exited_child(struct pstree *t, int parent, struct pstree_item *it)
{
	pid_t pid = it->pid;
	struct proc_stat st;

	for (int i = 0; i < EXITING_CHILD_PASSES; i++) {
		int ret = proc_read_stat(pid, &st);

		if (ret == -ENOENT || (!ret && st.ppid != t->items[parent].pid)) {
			t->nr--;
			return 0;
		}
		if (!ret && st.state == 'Z')
			return read_ids(it);
		usleep(EXITING_CHILD_NAP_US);
	}
	pr_err("Child %d of pid %d vanished while being seized\n", pid, t->items[parent].pid);
	return -ESRCH;
}

/* A child is either seized or, if it exited (now or before), a zombie
 * its frozen parent cannot reap. */
static int take_child(struct pstree *t, int parent, pid_t pid)
{
	struct pstree_item *it = add_item(t, pid, parent);
	int ret;

	if (!it)
		return -ENOMEM;
	ret = read_ids(it);
	if (ret || it->zombie)
		return ret;
	ret = seize_task(pid, &it->task, t->stop_timeout_ms);
	if (ret == -ESRCH)
		return take_exited_child(t, parent, it);
	if (ret)
		t->nr--;
	else
		it->seized = true;
	return ret;
}

static int child_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/* The children of every thread of a frozen process, ascending. */
static int list_children(const struct pstree_item *it, pid_t **out, size_t *nr)
{
	size_t cap = 0;
	pid_t *kids = NULL;

	*nr = 0;
	for (size_t i = 0; i < it->task.nr_tids; i++) {
		char path[96], *s, *end;
		cleanup_free char *buf = NULL;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", it->pid,
			 it->task.tids[i]);
		buf = proc_read_file(path, NULL);
		if (!buf) {
			pr_perror("Can't read %s", path);
			free(kids);
			return -errno;
		}
		for (s = buf;; s = end) {
			long v = strtol(s, &end, 10);

			if (end == s)
				break;
			if (*nr == cap) {
				pid_t *n = realloc(kids, (cap = cap ? cap * 2 : 16) * sizeof(*n));

				if (!n) {
					free(kids);
					return -ENOMEM;
				}
				kids = n;
			}
			kids[(*nr)++] = v;
		}
	}
	if (*nr)
		qsort(kids, *nr, sizeof(*kids), child_cmp);
	*out = kids;
	return 0;
}

/* Processes that share one fd table (clone(CLONE_FILES) without
 * CLONE_THREAD) would each get a table of their own: refused, naming
 * both.  Pairwise: a tree of a few hundred processes takes milliseconds. */
static int check_shared_fd_tables(const struct pstree *t)
{
	for (size_t i = 0; i < t->nr; i++) {
		for (size_t k = i + 1; k < t->nr && !t->items[i].zombie; k++) {
			long r;

			if (t->items[k].zombie)
				continue;
			r = syscall(SYS_kcmp, t->items[i].pid, t->items[k].pid, KCMP_FILES, 0, 0);
			if (r < 0) {
				pr_perror("Can't compare the fd tables of pid %d and pid %d (kcmp)",
					  t->items[i].pid, t->items[k].pid);
				return -errno;
			}
			if (r)
				continue;
			pr_err("pid %d and pid %d share one fd table (clone(CLONE_FILES) without "
			       "CLONE_THREAD): not supported\n",
			       t->items[i].pid, t->items[k].pid);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

int seize_tree(pid_t root, struct pstree *t, int timeout_ms)
{
	uint64_t start = now_us();
	struct pstree_item *it;
	int ret;

	memset(t, 0, sizeof(*t));
	t->stop_timeout_ms = timeout_ms;
	it = add_item(t, root, -1);
	if (!it)
		return -ENOMEM;
	ret = seize_task(root, &it->task, timeout_ms);
	if (ret) {
		struct proc_status ps;

		if (ret == -ESRCH && !proc_read_status(root, &ps) && ps.state == 'Z' &&
		    refuse_zombie_leader(root, &ps))
			ret = -EOPNOTSUPP;
		else if (ret == -ESRCH)
			pr_err("pid %d exited while being seized\n", root);
		t->nr = 0;
		return ret;
	}
	it->seized = true;
	ret = read_ids(it);
	/* Breadth first: items[] lists parents before their children. */
	for (size_t i = 0; !ret && i < t->nr; i++) {
		cleanup_free pid_t *kids = NULL;
		size_t nr = 0;

		if (t->items[i].zombie)
			continue;
		ret = list_children(&t->items[i], &kids, &nr);
		for (size_t k = 0; !ret && k < nr; k++)
			ret = take_child(t, i, kids[k]);
	}
	if (!ret)
		ret = check_shared_fd_tables(t);
	if (!ret)
		ret = map_vpids(t);
	if (ret) {
		unseize_tree(t);
		pstree_free(t);
		return ret;
	}
	pr_debug("Tree of pid %d: %zu processes seized in %lu us\n", root, t->nr,
		 (unsigned long)(now_us() - start));
	seized = t;
	return 0;
}

/* A process killed while seized can't be detached from: its threads are
 * zombies only lmproc can reap.  Its name and end are kept for the dump's
 * refusal. */
static void release_dead(struct pstree_item *it)
{
	struct proc_status ps;
	struct proc_stat st;

	if (!proc_read_status(it->pid, &ps))
		snprintf(it->comm, sizeof(it->comm), "%s", ps.comm);
	it->died = true;
	it->died_status = reap_dead_task(&it->task);
	/* A wait of the dump took the status already: the zombie, which its
	 * parent has not reaped yet, still shows it. */
	if (it->died_status == -1 && !proc_read_stat(it->pid, &st) && st.state == 'Z')
		it->died_status = st.exit_code;
}

void unseize_tree(struct pstree *t)
{
	for (size_t i = t->nr; i-- > 0;) {
		struct pstree_item *it = &t->items[i];

		if (it->seized && seized_task_dead(&it->task))
			release_dead(it);
		else if (it->seized)
			unseize_task(&it->task);
		it->seized = false;
	}
}

int pstree_check_alive(const struct pstree *t)
{
	for (size_t i = 0; i < t->nr; i++) {
		if (t->items[i].seized && seized_task_dead(&t->items[i].task)) {
			pr_info("pid %d died while the tree was frozen\n", t->items[i].pid);
			return -ESRCH;
		}
	}
	return 0;
}

const struct pstree_item *pstree_first_death(const struct pstree *t)
{
	for (size_t i = 0; i < t->nr; i++)
		if (t->items[i].died)
			return &t->items[i];
	return NULL;
}

/* Parents first would hand the children to a reaper before their
 * threads are reaped by us; leaves first keeps every wait ours. */
int kill_tree(struct pstree *t)
{
	int ret = 0;

	for (size_t i = t->nr; i-- > 0;) {
		int r;

		if (!t->items[i].seized)
			continue;
		r = kill_seized_task(&t->items[i].task);
		t->items[i].seized = false;
		ret = ret ?: r;
	}
	return ret;
}

void pstree_free(struct pstree *t)
{
	if (seized == t)
		seized = NULL;
	vmap_free();
	free(t->items);
	memset(t, 0, sizeof(*t));
}

int dump_pstree(int dfd, const struct pstree *t)
{
	struct cr_img *img = img_open_write(dfd, IMG_PSTREE, 0);
	int ret = 0;

	if (!img)
		return -EIO;
	for (size_t i = 0; i < t->nr && !ret; i++) {
		const struct pstree_item *it = &t->items[i];
		PstreeEntry pe = PSTREE_ENTRY__INIT;
		cleanup_free uint32_t *tids = calloc(it->task.nr_tids + 1, sizeof(*tids));

		if (!tids) {
			ret = -ENOMEM;
			break;
		}
		for (size_t k = 0; k < it->task.nr_tids; k++)
			tids[k] = pstree_vpid(it->task.tids[k]);
		pe.pid = pstree_vpid(it->pid);
		pe.ppid = pstree_vpid(it->ppid);
		pe.pgid = pstree_vpid(it->pgid);
		pe.sid = pstree_vpid(it->sid);
		pe.n_threads = it->task.nr_tids;
		pe.threads = tids;
		if (it->zombie) {
			pe.has_exit_status = true;
			pe.exit_status = it->exit_status;
			pe.comm = (char *)it->comm;
		}
		ret = img_write_msg(img, &pe.base);
	}
	return img_close(img) ?: ret;
}
