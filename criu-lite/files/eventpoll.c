/* Owns epoll instances: every registration (the fd number it was made
 * with, events, data), from fdinfo on dump, each checked with
 * kcmp(KCMP_EPOLL_TFD) to be still reachable through that fd number in
 * a process of the tree holding the epoll, which registers it again.
 * Restore creates the epoll with the other fds and each holder registers
 * its targets once every fd of the process is in place, so targets
 * (other epolls too) always exist before they are added. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "common.h"
#include "eventpoll.h"
#include "fd-types.h"
#include "log.h"
#include "pstree.h"
#include "words.h"

#define EPOLL_FLAGS (O_ACCMODE | O_NONBLOCK)
#define MAX_TFDS (1 << 20)

static bool eventpoll_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return !strcmp(p->link, "anon_inode:[eventpoll]");
}

/* Is fd TFD of process Q the file registered as TFD in the epoll of P? */
static bool registered_in(pid_t q, const struct files_dump *d, const struct fd_parms *p,
			  uint32_t tfd)
{
	struct kcmp_epoll_slot slot = { .efd = p->fd, .tfd = tfd, .toff = 0 };

	return !syscall(SYS_kcmp, q, d->pid, KCMP_EPOLL_TFD, tfd, &slot);
}

/* Does process Q of the tree hold the epoll P too? */
static bool holds_epoll(pid_t q, const struct files_dump *d, const struct fd_parms *p)
{
	char path[64], link[32];
	struct dirent *de;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", q);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!found && (de = readdir(dir))) {
		ssize_t n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);

		if (de->d_name[0] == '.' || n < 0)
			continue;
		link[n] = '\0';
		found = !strcmp(link, "anon_inode:[eventpoll]") &&
			!syscall(SYS_kcmp, q, d->pid, KCMP_FILE, atoi(de->d_name), p->fd);
	}
	closedir(dir);
	return found;
}

/* The process that registers TFD again at restore: one that holds the
 * epoll and whose fd TFD still refers to the registered file.  With
 * fork, the epoll's holders often have it at the same number (the
 * first, this one); an epoll made before a fork and used after it by
 * the child only is registered through the child's fds.  HOLDS caches,
 * per process of the tree, whether it holds the epoll (0: not known):
 * a worker's thousands of registrations must not scan its fds each. */
static int find_registrar(struct files_dump *d, const struct fd_parms *p, uint32_t tfd,
			  int8_t *holds, pid_t *pid)
{
	*pid = d->pid;
	if (registered_in(d->pid, d, p, tfd))
		return 0;
	for (size_t i = 0; i < d->nr_tree_pids; i++) {
		*pid = d->tree_pids[i];
		if (*pid == d->pid || !registered_in(*pid, d, p, tfd))
			continue;
		if (!holds[i])
			holds[i] = holds_epoll(*pid, d, p) ? 1 : -1;
		if (holds[i] > 0)
			return 0;
	}
	pr_err("pid %d fd %d: the epoll watches a file through fd %u, which no process of the "
	       "tree holding the epoll has at that number: not supported\n", d->pid, p->fd, tfd);
	return -EOPNOTSUPP;
}

static int add_tfd(EventpollEntry *e, uint32_t tfd, uint32_t events, uint64_t data, pid_t pid)
{
	EventpollTfdEntry **n = realloc(e->tfds, (e->n_tfds + 1) * sizeof(*n));
	EventpollTfdEntry *t = malloc(sizeof(*t));

	if (n)
		e->tfds = n;
	if (!n || !t) {
		free(t);
		return -ENOMEM;
	}
	eventpoll_tfd_entry__init(t);
	t->tfd = tfd;
	t->events = events;
	t->data = data;
	t->has_pid = true;
	t->pid = pstree_vpid(pid);
	e->tfds[e->n_tfds++] = t;
	return 0;
}

static int parse_tfds(struct files_dump *d, const struct fd_parms *p, EventpollEntry *e)
{
	cleanup_free int8_t *holds = calloc(d->nr_tree_pids + 1, sizeof(*holds));

	if (!holds)
		return -ENOMEM;
	for (const char *l = p->info; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned long long data;
		unsigned int tfd, events;
		pid_t pid;
		int ret;

		if (strncmp(l, "tfd:", 4))
			continue;
		if (sscanf(l + 4, "%u events: %x data: %llx", &tfd, &events, &data) != 3) {
			pr_err("Can't parse the epoll of pid %d fd %d in its fdinfo\n", d->pid,
			       p->fd);
			return -EINVAL;
		}
		for (size_t i = 0; i < e->n_tfds; i++)
			if (e->tfds[i]->tfd == tfd) {
				pr_err("pid %d fd %d: the epoll has two files registered as fd %u: "
				       "not supported\n", d->pid, p->fd, tfd);
				return -EOPNOTSUPP;
			}
		ret = find_registrar(d, p, tfd, holds, &pid);
		if (!ret)
			ret = add_tfd(e, tfd, events, data, pid);
		if (ret)
			return ret;
	}
	return 0;
}

static int eventpoll_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	EventpollEntry e = EVENTPOLL_ENTRY__INIT;
	int ret;

	if (p->flags & ~EPOLL_FLAGS)
		return files_refuse_flags(d, p, "an epoll instance", EPOLL_FLAGS);
	e.flags = p->flags;
	ret = parse_tfds(d, p, &e);
	if (!ret) {
		fe->eventpoll = &e;
		ret = files_write(d, fe);
	}
	for (size_t i = 0; i < e.n_tfds; i++)
		free(e.tfds[i]);
	free(e.tfds);
	return ret;
}

static int eventpoll_validate(const FileEntry *f, uint64_t data_size)
{
	const EventpollEntry *e = f->eventpoll;

	(void)data_size;
	if (!e)
		return restore_plan_bad("files.img", "file id %u has no eventpoll entry", f->id);
	if ((e->flags & ~EPOLL_FLAGS) || (e->flags & O_ACCMODE) != O_RDWR ||
	    e->n_tfds > MAX_TFDS)
		return restore_plan_bad("files.img", "epoll file id %u: flags %s, %zu targets",
					f->id, open_flags_words(e->flags).s, e->n_tfds);
	return 0;
}

static bool has_fd(const struct restore_plan *p, uint32_t fd)
{
	size_t lo = 0, hi = p->nr_fds;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (p->fds[mid]->fd == fd)
			return true;
		if (p->fds[mid]->fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Whose fd a registration is: images before the epoll's holders were
 * recorded could only have one. */
static bool registers_here(const EventpollTfdEntry *t, pid_t pid)
{
	return !t->has_pid || t->pid == (uint32_t)pid;
}

/* Every target this process registers is an fd of it (fds are sorted by
 * now). */
static int eventpoll_validate_plan(const struct restore_plan *p, uint32_t desc)
{
	const FileEntry *f = p->fdesc[desc].fe;

	for (size_t i = 0; i < f->eventpoll->n_tfds; i++) {
		const EventpollTfdEntry *t = f->eventpoll->tfds[i];

		if (registers_here(t, p->pid) && !has_fd(p, t->tfd))
			return restore_plan_bad("files.img", "epoll file id %u watches fd %u, "
						"which pid %d does not have", f->id, t->tfd,
						p->pid);
	}
	return 0;
}

static bool holds(const struct restore_tree *t, uint32_t pid, uint32_t desc)
{
	for (size_t i = 0; i < t->nr; i++)
		if (t->ctx[i].plan.pid && (uint32_t)t->ctx[i].plan.pid == pid)
			return t->ctx[i].plan.fdesc[desc].first_fd >= 0;
	return false;
}

int eventpoll_check_registrars(const struct restore_tree *t, uint32_t desc, bool shared)
{
	const FileEntry *f = t->ctx[0].plan.fdesc[desc].fe;

	for (size_t i = 0; i < f->eventpoll->n_tfds; i++) {
		const EventpollTfdEntry *e = f->eventpoll->tfds[i];

		if (e->has_pid ? holds(t, e->pid, desc) : !shared)
			continue;
		if (!e->has_pid)
			return restore_plan_bad("files.img", "epoll file id %u is shared by "
						"several processes, but its registration of fd "
						"%u names none", f->id, e->tfd);
		return restore_plan_bad("files.img", "epoll file id %u: its registration of fd "
					"%u is pid %u's, which does not hold the epoll", f->id,
					e->tfd, e->pid);
	}
	return 0;
}

static int eventpoll_open(struct task_files *tf, uint32_t desc)
{
	const EventpollEntry *e = tf->plan->fdesc[desc].fe->eventpoll;
	int fd = epoll_create1(EPOLL_CLOEXEC);

	if (fd < 0)
		return task_files_err(tf, desc, "can't create an epoll: %s", strerror(errno));
	if ((e->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK)) {
		close(fd);
		return task_files_err(tf, desc, "can't set O_NONBLOCK: %s", strerror(errno));
	}
	return task_files_install(tf, desc, fd);
}

static int eventpoll_post(struct task_files *tf, uint32_t desc)
{
	const EventpollEntry *e = tf->plan->fdesc[desc].fe->eventpoll;
	int epfd = tf->file_fd[desc];

	for (size_t i = 0; i < e->n_tfds && epfd >= 0; i++) {
		const EventpollTfdEntry *t = e->tfds[i];
		struct epoll_event ev = { .events = t->events, .data.u64 = t->data };

		if (!registers_here(t, tf->plan->pid))
			continue;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, t->tfd, &ev))
			return task_files_err(tf, desc, "can't register fd %u (events 0x%x): %s",
					      t->tfd, t->events, strerror(errno));
	}
	return 0;
}

/* The registrations (their targets' positions too) stand still while the
 * task is frozen. */
static uint64_t eventpoll_share_key(const struct fd_parms *p)
{
	return fdinfo_hash_from(p->info, "tfd:");
}

const struct fd_ops eventpoll_fd_ops = {
	.type = FD_TYPE__FD_EVENTPOLL,
	.name = "epoll",
	.share_key = eventpoll_share_key,
	.match = eventpoll_match,
	.dump = eventpoll_dump,
	.validate = eventpoll_validate,
	.validate_plan = eventpoll_validate_plan,
	.open = eventpoll_open,
	.post = eventpoll_post,
	.post_in_holders = true,
};
