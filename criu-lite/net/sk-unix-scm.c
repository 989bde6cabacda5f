/* Owns the files in flight in unix sockets' queues (SCM_RIGHTS).
 *
 * Dump: peeking a message that carries files gives lmproc copies of them
 * (sk-unix.c); they are dumped as the fds of a process of their own
 * (files_dump_own), so a description a process of the tree holds too
 * gets the same file id, and kept open until the dump ends (descs_seen
 * names them by fd).  The queue notes which message carries which ids (a
 * stream socket's: which piece, sk-unix.c).  Refused: sockets (a queue in
 * flight) and epolls (fds of no process) in flight.
 *
 * Restore: the processes holding a socket whose queue carries a file count
 * as holders of that file (in_flight_here), so restore-tree.c makes a file
 * several processes need above them all; whoever fills the queue has it
 * then, opens the ones no fd of it holds only for the sending, and closes
 * those once every queue is filled.  Never touches a queue itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "sk-unix.h"

struct scm_kept {
	int fd;
	uint32_t id;
};

void unix_scm_dump_end(struct files_dump *d)
{
	for (size_t i = 0; i < d->nr_in_flight; i++)
		close(d->in_flight[i].fd);
	free(d->in_flight);
	d->in_flight = NULL;
	d->nr_in_flight = 0;
}

static void close_fds(const int *fds, int nr)
{
	for (int i = 0; i < nr; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Does a process of the tree hold FD's open file description? */
static bool held_in_tree(const struct files_dump *d, int fd)
{
	bool found = false;

	for (size_t i = 0; i < d->nr_tree_pids && !found; i++) {
		char path[64];
		struct dirent *de;
		DIR *dir;

		snprintf(path, sizeof(path), "/proc/%d/fd", d->tree_pids[i]);
		dir = opendir(path);
		if (!dir)
			continue;
		while (!found && (de = readdir(dir)))
			found = de->d_name[0] != '.' &&
				!syscall(SYS_kcmp, getpid(), d->tree_pids[i], KCMP_FILE, fd,
					 atoi(de->d_name));
		closedir(dir);
	}
	return found;
}

/* A flock or OFD lock belongs to the description: taken again only by a
 * process holding it (file-locks.c), so one only in flight would be lost.
 * Its fdinfo in lmproc shows exactly those (POSIX locks are the
 * sender's, shown in its own fdinfo). */
static bool locked_in_flight_only(const struct files_dump *d, int fd)
{
	char path[64], info[4096];
	ssize_t n;
	int ifd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ifd = open(path, O_RDONLY | O_CLOEXEC);
	if (ifd < 0)
		return false;
	n = read(ifd, info, sizeof(info) - 1);
	close(ifd);
	if (n <= 0)
		return false;
	info[n] = '\0';
	return fdinfo_field(info, "lock:") && !held_in_tree(d, fd);
}

/* A socket would bring its own queue (maybe itself in it), an epoll fds
 * of no process: restore can't make either from the queue alone; a pidfd
 * is opened again only where an fd holds it (pidfd.c). */
static int check_carried(struct files_dump *d, const struct fd_parms *p, uint32_t msg, int fd)
{
	char path[64], link[64];
	const char *what;
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0 || fstat(fd, &st)) {
		pr_perror("Can't inspect a file in flight in pid %d fd %d's queue", d->pid, p->fd);
		return -errno;
	}
	link[n] = '\0';
	if (S_ISSOCK(st.st_mode))
		what = "a socket";
	else if (!strcmp(link, "anon_inode:[eventpoll]"))
		what = "an epoll";
	else if (!strcmp(link, "anon_inode:[pidfd]"))
		what = "a pidfd";
	else if (locked_in_flight_only(d, fd))
		what = "a file locked (flock or OFD lock) that no process of the tree holds";
	else
		return 0;
	pr_err("pid %d fd %d: message %u of its queue carries %s (%s, SCM_RIGHTS): not supported\n",
	       d->pid, p->fd, msg, what, link);
	return -EOPNOTSUPP;
}

/* Where FD's description is, or would be, among the copies kept, which
 * are in kcmp's order of the descriptions (*AT); its id if it is there
 * (in flight in a queue dumped before: files_dump_own tells apart only
 * the fds it gets), 0 if not, -errno. */
static int64_t kept_id(const struct files_dump *d, int fd, size_t *at)
{
	size_t lo = 0, hi = d->nr_in_flight;
	pid_t self = getpid();

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		long r = syscall(SYS_kcmp, self, self, KCMP_FILE, d->in_flight[mid].fd, fd);

		if (r < 0 || r > 2) {
			pr_err("Can't compare two files in flight (kcmp): %s\n",
			       r < 0 ? strerror(errno) : "no order");
			return r < 0 ? -errno : -EINVAL;
		}
		if (!r) {
			*at = mid;
			return d->in_flight[mid].id;
		}
		if (r == 1)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return 0;
}

/* Keeps FD (D has room for it): 0, or 1 if another fd of its
 * description is kept already (FD is not taken), -errno. */
static int keep(struct files_dump *d, int fd, uint32_t id)
{
	size_t at;
	int64_t r = kept_id(d, fd, &at);

	if (r)
		return r < 0 ? r : 1;
	memmove(d->in_flight + at + 1, d->in_flight + at,
		(d->nr_in_flight - at) * sizeof(*d->in_flight));
	d->in_flight[at] = (struct scm_kept){ fd, id };
	d->nr_in_flight++;
	return 0;
}

static int add_rights(UnixQueueEntry *q, uint32_t msg, const uint32_t *ids, int nr)
{
	UnixQueueRights *r = malloc(sizeof(*r)), **n;

	if (!r)
		return -ENOMEM;
	unix_queue_rights__init(r);
	r->msg = msg;
	r->file_ids = malloc(nr * sizeof(*ids));
	n = realloc(q->rights, (q->n_rights + 1) * sizeof(*n));
	if (n)
		q->rights = n;
	if (!r->file_ids || !n) {
		free(r->file_ids);
		free(r);
		return -ENOMEM;
	}
	memcpy(r->file_ids, ids, nr * sizeof(*ids));
	r->n_file_ids = nr;
	q->rights[q->n_rights++] = r;
	return 0;
}

void unix_scm_free(UnixQueueEntry *q)
{
	for (size_t i = 0; i < q->n_rights; i++) {
		free(q->rights[i]->file_ids);
		free(q->rights[i]);
	}
	free(q->rights);
}

/* The files of the descriptions not in flight before: dumped, kept. */
static int dump_new(struct files_dump *d, const struct fd_parms *p, uint32_t msg, int *fds,
		    int nr, uint32_t *ids)
{
	int fresh[SCM_MAX_FD], at[SCM_MAX_FD], nr_fresh = 0, ret;
	uint32_t fresh_ids[SCM_MAX_FD];
	struct scm_kept *k;

	for (int i = 0; i < nr; i++)
		if (fds[i] >= 0) {
			at[nr_fresh] = i;
			fresh[nr_fresh++] = fds[i];
		}
	if (!nr_fresh)
		return 0;
	k = realloc(d->in_flight, (d->nr_in_flight + nr_fresh) * sizeof(*k));
	if (!k)
		return -ENOMEM;
	d->in_flight = k;
	ret = files_dump_own(d, fresh, nr_fresh, fresh_ids);
	if (ret) {
		pr_err("pid %d fd %d: message %u of its queue carries a file lmproc can't dump "
		       "(lmproc's copy above)\n", d->pid, p->fd, msg);
		return ret;
	}
	for (int i = 0; i < nr_fresh; i++) {
		ids[at[i]] = fresh_ids[i];
		/* Two fds of one description in this message: one is kept. */
		ret = keep(d, fresh[i], fresh_ids[i]);
		if (ret < 0)
			return ret;
		if (!ret)
			fds[at[i]] = -1;
	}
	return 0;
}

static int add_message(struct files_dump *d, const struct fd_parms *p, UnixQueueEntry *q,
		       uint32_t msg, int *fds, int nr)
{
	uint32_t ids[SCM_MAX_FD];
	int ret = 0;

	for (int i = 0; i < nr && !ret; i++)
		ret = check_carried(d, p, msg, fds[i]);
	for (int i = 0; i < nr && !ret; i++) {
		size_t at;
		int64_t id = kept_id(d, fds[i], &at);

		if (id < 0) {
			ret = id;
		} else if (id) {
			ids[i] = id;
			close(fds[i]);
			fds[i] = -1;
		}
	}
	if (!ret)
		ret = dump_new(d, p, msg, fds, nr, ids);
	close_fds(fds, nr);
	return ret ?: add_rights(q, msg, ids, nr);
}

int unix_scm_note(struct scm_queue *sq, uint32_t msg, const int *fds, int nr)
{
	struct scm_msg *m = realloc(sq->msgs, (sq->nr + 1) * sizeof(*m));

	if (!m) {
		close_fds(fds, nr);
		return -ENOMEM;
	}
	sq->msgs = m;
	m[sq->nr].msg = msg;
	m[sq->nr].nr = nr;
	memcpy(m[sq->nr++].fds, fds, nr * sizeof(*fds));
	return 0;
}

int unix_scm_dump_queue(struct files_dump *d, const struct fd_parms *p, struct scm_queue *sq,
			UnixQueueEntry *q)
{
	int ret = 0;

	for (size_t i = 0; i < sq->nr && !ret; i++) {
		ret = add_message(d, p, q, sq->msgs[i].msg, sq->msgs[i].fds, sq->msgs[i].nr);
		sq->msgs[i].nr = 0;
	}
	return ret;
}

void unix_scm_queue_free(struct scm_queue *sq)
{
	for (size_t i = 0; i < sq->nr; i++)
		close_fds(sq->msgs[i].fds, sq->msgs[i].nr);
	free(sq->msgs);
	sq->msgs = NULL;
	sq->nr = 0;
}

bool unix_scm_queue_ok(const UnixQueueEntry *q)
{
	int64_t last = -1;

	for (size_t i = 0; i < q->n_rights; i++) {
		const UnixQueueRights *r = q->rights[i];

		if ((int64_t)r->msg <= last || r->msg >= q->n_lengths || !r->n_file_ids ||
		    r->n_file_ids > SCM_MAX_FD)
			return false;
		for (size_t k = 0; k < r->n_file_ids; k++)
			if (!r->file_ids[k])
				return false;
		last = r->msg;
	}
	return true;
}

static int64_t desc_of_id(const struct restore_plan *p, uint32_t id)
{
	for (size_t i = 0; i < p->nr_files; i++)
		if (p->files[i]->id == id)
			return i;
	return -1;
}

/* Any socket of DESC's object, or the listener it was accepted from, is
 * held here: the object is made here or above (restore-tree.c). */
static bool object_held(const struct restore_plan *p, uint32_t desc)
{
	uint32_t m = desc;

	do {
		const UnixSkEntry *u = p->files[m]->unix_sk;
		int l = u->has_listener ? unix_find(p, u->listener) : -1;

		if (p->fdesc[m].first_fd >= 0 || (l >= 0 && p->fdesc[l].first_fd >= 0))
			return true;
		m = p->fdesc[m].obj_next;
	} while (m != desc);
	return false;
}

static int plan_queue(struct restore_plan *p, uint32_t desc)
{
	const UnixSkEntry *u = p->files[desc]->unix_sk;
	bool held = object_held(p, desc);

	for (size_t i = 0; i < u->queue->n_rights; i++) {
		const UnixQueueRights *r = u->queue->rights[i];

		for (size_t k = 0; k < r->n_file_ids; k++) {
			int64_t f = desc_of_id(p, r->file_ids[k]);
			FdType t = f >= 0 ? p->files[f]->type : FD_TYPE__FD_UNIX_SK;

			/* As the dump refuses them (check_carried); a TCP
			 * connection held by no fd would stay in repair mode. */
			if (t == FD_TYPE__FD_UNIX_SK || t == FD_TYPE__FD_INET_SK ||
			    t == FD_TYPE__FD_NETLINK_SK || t == FD_TYPE__FD_PACKET_SK ||
			    t == FD_TYPE__FD_EVENTPOLL)
				return restore_plan_bad("files.img", "unix socket %llu: message %u "
							"carries file id %u, %s",
							(unsigned long long)u->ino, r->msg,
							r->file_ids[k], f < 0 ? "which files.img lacks" :
							"a socket or an epoll");
			if (held)
				p->fdesc[f].in_flight_here = true;
		}
	}
	return 0;
}

int unix_scm_plan(struct restore_plan *p)
{
	for (size_t i = 0; i < p->nr_files; i++) {
		int ret;

		if (p->files[i]->type != FD_TYPE__FD_UNIX_SK)
			continue;
		ret = plan_queue(p, i);
		if (ret)
			return ret;
	}
	return 0;
}

int unix_scm_prepare(struct task_files *tf, uint32_t desc)
{
	const UnixQueueEntry *q = tf->plan->files[desc]->unix_sk->queue;

	for (size_t i = 0; i < q->n_rights; i++) {
		for (size_t k = 0; k < q->rights[i]->n_file_ids; k++) {
			int64_t f = desc_of_id(tf->plan, q->rights[i]->file_ids[k]);
			int ret;

			if (tf->file_fd[f] >= 0)
				continue;
			ret = tf->plan->fdesc[f].ops->open(tf, f);
			if (ret)
				return ret;
			if (tf->file_fd[f] < 0) {
				errno = EBADF;
				return task_files_err(tf, desc, "file id %u, in flight in its queue, "
						      "is not at hand", q->rights[i]->file_ids[k]);
			}
		}
	}
	return 0;
}

int unix_scm_keep(struct task_files *tf, uint32_t desc, int tmp)
{
	tmp = task_files_park(tf, tmp);
	if (tmp < 0)
		return tmp;
	tf->file_fd[desc] = tmp;
	return 0;
}

int unix_scm_fds(const struct task_files *tf, uint32_t desc, size_t msg, size_t *next, int *fds)
{
	const UnixQueueEntry *q = tf->plan->files[desc]->unix_sk->queue;
	const UnixQueueRights *r;

	if (*next >= q->n_rights || q->rights[*next]->msg != msg)
		return 0;
	r = q->rights[(*next)++];
	for (size_t k = 0; k < r->n_file_ids; k++)
		fds[k] = tf->file_fd[desc_of_id(tf->plan, r->file_ids[k])];
	return r->n_file_ids;
}

void unix_scm_release(struct task_files *tf)
{
	for (size_t i = 0; i < tf->plan->nr_files; i++) {
		const struct file_desc *d = &tf->plan->fdesc[i];

		if (!d->in_flight_here || d->first_fd >= 0 || d->inherit_fd >= 0 ||
		    tf->file_fd[i] < 0)
			continue;
		close(tf->file_fd[i]);
		tf->file_fd[i] = -1;
	}
}
