/* Owns epoll instances: every registration (the fd number it was made
 * with, events, data), from fdinfo on dump, each checked with
 * kcmp(KCMP_EPOLL_TFD) to be still reachable through that fd number.
 * Restore creates the epoll with the other fds and registers its targets
 * once every fd of the process is in place, so targets (other epolls
 * too) always exist before they are added. */
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
#include "fd-types.h"
#include "log.h"

#define EPOLL_FLAGS (O_ACCMODE | O_NONBLOCK)
#define MAX_TFDS (1 << 20)

static bool eventpoll_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return !strcmp(p->link, "anon_inode:[eventpoll]");
}

/* The registered file is what fd TFD of the task refers to now. */
static int check_target(struct files_dump *d, const struct fd_parms *p, uint32_t tfd)
{
	struct kcmp_epoll_slot slot = { .efd = p->fd, .tfd = tfd, .toff = 0 };

	if (!syscall(SYS_kcmp, d->pid, d->pid, KCMP_EPOLL_TFD, tfd, &slot))
		return 0;
	pr_err("pid %d fd %d: the epoll watches a file through fd %u, which no longer refers "
	       "to it: not supported\n", d->pid, p->fd, tfd);
	return -EOPNOTSUPP;
}

static int add_tfd(EventpollEntry *e, uint32_t tfd, uint32_t events, uint64_t data)
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
	e->tfds[e->n_tfds++] = t;
	return 0;
}

static int parse_tfds(struct files_dump *d, const struct fd_parms *p, EventpollEntry *e)
{
	for (const char *l = p->info; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned long long data;
		unsigned int tfd, events;
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
		ret = check_target(d, p, tfd);
		if (!ret)
			ret = add_tfd(e, tfd, events, data);
		if (ret)
			return ret;
	}
	return 0;
}

static int eventpoll_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	EventpollEntry e = EVENTPOLL_ENTRY__INIT;
	int ret;

	if (p->flags & ~EPOLL_FLAGS) {
		pr_err("pid %d fd %d is an epoll with flags 0%o: not supported yet\n", d->pid,
		       p->fd, p->flags);
		return -EOPNOTSUPP;
	}
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
		return restore_plan_bad("files.img", "epoll file id %u: flags 0%o, %zu targets",
					f->id, e->flags, e->n_tfds);
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

/* Every target is an fd of the process (fds are sorted by now). */
static int eventpoll_validate_plan(const struct restore_plan *p, uint32_t desc)
{
	const FileEntry *f = p->fdesc[desc].fe;

	for (size_t i = 0; i < f->eventpoll->n_tfds; i++)
		if (!has_fd(p, f->eventpoll->tfds[i]->tfd))
			return restore_plan_bad("files.img", "epoll file id %u watches fd %u, "
						"which the process does not have", f->id,
						f->eventpoll->tfds[i]->tfd);
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
};
