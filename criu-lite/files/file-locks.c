/* Owns file locks: flock(2), POSIX (fcntl F_SETLK) and OFD (F_OFD_SETLK)
 * locks, read from the "lock:" lines of /proc/PID/fdinfo (which lists the
 * locks taken through that fd's open file description by this process, or
 * by the description itself) and kept with the lowest fd of the
 * description in fdinfo-PID.img.  flock and OFD locks belong to the open
 * file description: the task takes them once its fds are in place.  A
 * POSIX lock belongs to the process and goes away as soon as it closes
 * any fd of the file, which the restorer does with its service fds (a
 * mapped file may be the locked one): the restorer takes them last, after
 * closing those (struct restorer_lock).  A lease (F_SETLEASE) belongs
 * to the description too, and makes the process that takes it the
 * description's owner (F_SETOWN), whom a break signals with F_GETSIG's
 * signal: it is kept only where that process is the owner, with the
 * signal, and the task takes it again with its fds.  A lease being broken
 * (a break pending, or being downgraded), one whose owner is another
 * process, delegations and mandatory locks are refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include <dirent.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "restore.h"

/* A byte range ends below 2^63 (off_t). */
#define LOCK_MAX_END ((uint64_t)INT64_MAX)
#define MAX_LOCKS (1 << 16)

void fd_locks_free(struct fd_parms *p)
{
	for (size_t i = 0; i < p->n_locks; i++)
		free(p->locks[i]);
	free(p->locks);
	p->locks = NULL;
	p->n_locks = 0;
}

static int lock_kind(const char *s, FileLockKind *kind)
{
	if (!strcmp(s, "FLOCK"))
		*kind = FILE_LOCK_KIND__LOCK_FLOCK;
	else if (!strcmp(s, "POSIX"))
		*kind = FILE_LOCK_KIND__LOCK_POSIX;
	else if (!strcmp(s, "OFDLCK"))
		*kind = FILE_LOCK_KIND__LOCK_OFD;
	else if (!strcmp(s, "LEASE"))
		*kind = FILE_LOCK_KIND__LOCK_LEASE;
	else
		return -1;
	return 0;
}

/* One "lock:" line: "1: POSIX  ADVISORY  WRITE 2657 fe:00:123 10 29". */
static int parse_line(const struct files_dump *d, const struct fd_parms *p, const char *l,
		      FileLockEntry *e)
{
	char kind[16], mode[16], type[16], end[24];
	unsigned long long start, last;
	int len = (int)strcspn(l, "\n");

	if (sscanf(l, "%*d: %15s %15s %15s %*d %*x:%*x:%*u %llu %23s", kind, mode, type, &start,
		   end) != 5) {
		pr_err("Can't parse the lock of pid %d fd %d: %.*s\n", d->pid, p->fd, len, l);
		return -EINVAL;
	}
	if (!lock_kind(kind, &e->kind) && e->kind == FILE_LOCK_KIND__LOCK_LEASE &&
	    strcmp(mode, "ACTIVE")) {
		pr_err("pid %d fd %d (%s) holds a lease being broken (%s, to %s): another process "
		       "opened the file, and the break is pending: not supported\n", d->pid, p->fd,
		       p->link, mode, type);
		return -EOPNOTSUPP;
	}
	if (lock_kind(kind, &e->kind) ||
	    strcmp(mode, e->kind == FILE_LOCK_KIND__LOCK_LEASE ? "ACTIVE" : "ADVISORY") ||
	    (strcmp(type, "READ") && strcmp(type, "WRITE"))) {
		pr_err("pid %d fd %d (%s) holds a %s %s %s lock (%.*s): only advisory flock, "
		       "POSIX and OFD locks and leases are supported\n", d->pid, p->fd, p->link,
		       kind, mode, type, len, l);
		return -EOPNOTSUPP;
	}
	e->type = strcmp(type, "READ") ? F_WRLCK : F_RDLCK;
	e->off = start;
	if (e->kind == FILE_LOCK_KIND__LOCK_LEASE)
		return start || strcmp(end, "EOF") ? -EINVAL : 0;
	if (!strcmp(end, "EOF"))
		return 0;
	if (sscanf(end, "%llu", &last) != 1 || last < start) {
		pr_err("Can't parse the lock of pid %d fd %d: %.*s\n", d->pid, p->fd, len, l);
		return -EINVAL;
	}
	e->len = last - start + 1;
	return 0;
}

static int add_lock(struct fd_parms *p, FileLockEntry *e)
{
	FileLockEntry **n = realloc(p->locks, (p->n_locks + 1) * sizeof(*n));
	FileLockEntry *c = malloc(sizeof(*c));

	if (n)
		p->locks = n;
	if (!n || !c) {
		free(c);
		return -ENOMEM;
	}
	*c = *e;
	p->locks[p->n_locks++] = c;
	return 0;
}

/* Does process Q of the tree hold P's open file description too? */
static bool holds_desc(pid_t q, const struct files_dump *d, const struct fd_parms *p)
{
	char path[64];
	struct dirent *de;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", q);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!found && (de = readdir(dir)))
		found = de->d_name[0] != '.' &&
			!syscall(SYS_kcmp, q, d->pid, KCMP_FILE, atoi(de->d_name), p->fd);
	closedir(dir);
	return found;
}

/* A lease of P's description: its owner (whom a break signals) must be
 * D's process, as F_SETLEASE at restore makes it; *KEEP: it is (false:
 * another process of the tree holding the description is, and keeps the
 * lease there). */
static int lease_owner(struct files_dump *d, const struct fd_parms *p, FileLockEntry *e,
		       bool *keep)
{
	struct f_owner_ex own = { 0 };
	int fd = files_steal(d, p), sig;

	if (fd < 0)
		return fd;
	sig = fcntl(fd, F_GETSIG);
	if (sig < 0 || fcntl(fd, F_GETOWN_EX, &own)) {
		pr_perror("Can't read the owner of pid %d fd %d (%s)", d->pid, p->fd, p->link);
		close(fd);
		return -errno;
	}
	close(fd);
	*keep = own.type == F_OWNER_PID && own.pid == d->pid;
	for (size_t i = 0; !*keep && i < d->nr_tree_pids; i++)
		if (own.type == F_OWNER_PID && own.pid == d->tree_pids[i] &&
		    holds_desc(own.pid, d, p))
			return 0;
	if (!*keep) {
		pr_err("pid %d fd %d (%s) holds a lease whose owner (F_SETOWN, signalled on a "
		       "break) is %s %d, not a process of the tree holding it: not supported\n",
		       d->pid, p->fd, p->link, own.type == F_OWNER_PID ? "pid" : "owner of type",
		       own.pid);
		return -EOPNOTSUPP;
	}
	e->has_lease_sig = sig != 0;
	e->lease_sig = sig;
	return 0;
}

int fd_locks_collect(struct files_dump *d, struct fd_parms *p)
{
	for (const char *l = fdinfo_field(p->info, "lock:"); l; l = fdinfo_field(l, "lock:")) {
		FileLockEntry e = FILE_LOCK_ENTRY__INIT;
		int ret;

		bool keep = true;

		l += strspn(l, " \t");
		ret = parse_line(d, p, l, &e);
		if (!ret && e.kind == FILE_LOCK_KIND__LOCK_LEASE)
			ret = lease_owner(d, p, &e, &keep);
		if (!ret && keep)
			ret = add_lock(p, &e);
		if (ret) {
			fd_locks_free(p);
			return ret;
		}
	}
	return 0;
}

static int validate_one(const char *img, const FdinfoEntry *f, const FileLockEntry *e)
{
	if ((e->type != F_RDLCK && e->type != F_WRLCK) || e->off > LOCK_MAX_END ||
	    e->len > LOCK_MAX_END - e->off ||
	    (e->kind != FILE_LOCK_KIND__LOCK_LEASE && e->has_lease_sig) ||
	    (e->has_lease_sig && (!e->lease_sig || e->lease_sig >= _NSIG)) ||
	    ((e->kind == FILE_LOCK_KIND__LOCK_FLOCK || e->kind == FILE_LOCK_KIND__LOCK_LEASE) &&
	     (e->off || e->len)))
		return restore_plan_bad(img, "fd %u: a lock of kind %d, type %u, %llu+%llu", f->fd,
					e->kind, e->type, (unsigned long long)e->off,
					(unsigned long long)e->len);
	return 0;
}

int restore_validate_locks(const struct restore_plan *p, const char *img)
{
	size_t total = 0;

	for (size_t i = 0; i < p->nr_fds; i++) {
		const FdinfoEntry *f = p->fds[i];
		int flocks = 0, leases = 0;

		total += f->n_locks;
		if (f->n_locks && p->fdesc[p->fd_desc[i]].first_fd != (int)f->fd)
			return restore_plan_bad(img, "fd %u holds locks, but is not the first "
						"fd of its file", f->fd);
		for (size_t k = 0; k < f->n_locks; k++) {
			int ret = validate_one(img, f, f->locks[k]);

			if (ret)
				return ret;
			flocks += f->locks[k]->kind == FILE_LOCK_KIND__LOCK_FLOCK;
			leases += f->locks[k]->kind == FILE_LOCK_KIND__LOCK_LEASE;
		}
		if (flocks > 1 || leases > 1 || total > MAX_LOCKS)
			return restore_plan_bad(img, "fd %u: %d flock locks, %d leases, %zu locks "
						"so far", f->fd, flocks, leases, total);
	}
	return 0;
}

static const char *const lock_words[] = {
	[FILE_LOCK_KIND__LOCK_FLOCK] = "flock lock",
	[FILE_LOCK_KIND__LOCK_OFD] = "OFD lock",
	[FILE_LOCK_KIND__LOCK_LEASE] = "lease",
};

static int take_lock(struct task_files *tf, const FdinfoEntry *f, const FileLockEntry *e)
{
	struct flock fl = { .l_type = e->type, .l_whence = SEEK_SET, .l_start = e->off,
			    .l_len = e->len };
	int ret;

	if (e->kind == FILE_LOCK_KIND__LOCK_POSIX)
		return 0;
	if (e->kind == FILE_LOCK_KIND__LOCK_FLOCK)
		ret = flock(f->fd, (e->type == F_WRLCK ? LOCK_EX : LOCK_SH) | LOCK_NB);
	else if (e->kind == FILE_LOCK_KIND__LOCK_LEASE)
		ret = fcntl(f->fd, F_SETSIG, e->lease_sig) ?: fcntl(f->fd, F_SETLEASE, e->type);
	else
		ret = fcntl(f->fd, F_OFD_SETLK, &fl);
	if (!ret)
		return 0;
	snprintf(tf->err, tf->len, "fd %u: can't take a %s %s (%llu+%llu): %s", f->fd,
		 e->type == F_WRLCK ? "write" : "read", lock_words[e->kind],
		 (unsigned long long)e->off, (unsigned long long)e->len,
		 errno == EAGAIN ? "another process holds a conflicting lock or has the file open" :
		 strerror(errno));
	return -errno;
}

int task_take_locks(struct task_files *tf)
{
	for (size_t i = 0; i < tf->plan->nr_fds; i++) {
		const FdinfoEntry *f = tf->plan->fds[i];

		for (size_t k = 0; k < f->n_locks; k++) {
			int ret = take_lock(tf, f, f->locks[k]);

			if (ret)
				return ret;
		}
	}
	return 0;
}

size_t restore_nr_posix_locks(const struct restore_plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nr_fds; i++)
		for (size_t k = 0; k < p->fds[i]->n_locks; k++)
			n += p->fds[i]->locks[k]->kind == FILE_LOCK_KIND__LOCK_POSIX;
	return n;
}

void restore_fill_posix_locks(const struct restore_plan *p, struct restorer_lock *out)
{
	for (size_t i = 0; i < p->nr_fds; i++)
		for (size_t k = 0; k < p->fds[i]->n_locks; k++) {
			const FileLockEntry *e = p->fds[i]->locks[k];

			if (e->kind != FILE_LOCK_KIND__LOCK_POSIX)
				continue;
			*out++ = (struct restorer_lock){ .fd = p->fds[i]->fd, .type = e->type,
							 .start = e->off, .len = e->len };
		}
}
