/* Owns terminals.  A pty pair of the tree (both sides in one process, or
 * split between processes) is dumped with its termios, window size,
 * packet mode, lock and its slave's owner and mode, read through copies
 * of its fds, and made again as a new pair (its number may differ) by
 * the process above every holder (restore-tree.c); its role as a
 * controlling terminal is tty-ctty.c's.  Bytes queued in a pty cannot be
 * read without taking them out, so a pair with queued bytes is refused.
 * /dev/tty standing for such a pty (a session's terminal) is recorded as
 * that, and opened again once the session has its terminal back
 * (tty-ctty.c).  Any other terminal (the shell's pty, a console) is not the process's
 * own: with --shell-job it is dumped by device and restored as lmproc's
 * terminal, otherwise refused. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/kcmp.h>
#include <termios.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "proc.h"
#include "tty.h"
#include "words.h"

#define TTY_FLAGS                                                                         \
	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | KERNEL_O_LARGEFILE | O_NOATIME | \
	 O_NOCTTY)

static bool is_ptmx(const struct stat *st)
{
	return major(st->st_rdev) == PTMX_MAJOR && minor(st->st_rdev) == PTMX_MINOR;
}

static bool is_pts(const struct stat *st)
{
	unsigned int maj = major(st->st_rdev);

	return maj >= PTS_MAJOR_FIRST && maj <= PTS_MAJOR_LAST;
}

/* The consoles, serial lines, /dev/tty, /dev/console and ptys. */
static bool tty_match(struct files_dump *d, const struct fd_parms *p)
{
	unsigned int maj = major(p->st.st_rdev);

	(void)d;
	return S_ISCHR(p->st.st_mode) && !(p->flags & O_PATH) &&
	       (maj == 4 || maj == 5 || is_pts(&p->st));
}

static uint32_t pts_index(const struct stat *st)
{
	return (major(st->st_rdev) - PTS_MAJOR_FIRST) * 256 + minor(st->st_rdev);
}

dev_t tty_pts_rdev(uint32_t index)
{
	return makedev(PTS_MAJOR_FIRST + index / 256, index % 256);
}

/* The pty number of master P (TIOCGPTN through a copy), -errno. */
static int64_t master_index(struct files_dump *d, const struct fd_parms *p)
{
	int fd = files_steal(d, p);
	unsigned int n;
	int ret = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, TIOCGPTN, &n)) {
		pr_perror("pid %d fd %d: can't read the pty number of %s", d->pid, p->fd, p->link);
		ret = -errno;
	}
	close(fd);
	return ret ? ret : (int64_t)n;
}

/* The fd of the process that is the master of pty INDEX, -1 if none. */
static int find_master(struct files_dump *d, uint32_t index, const struct fd_parms **out)
{
	for (int i = 0; i < d->nr_fds; i++) {
		const struct fd_parms *m = &d->fds[i];
		int64_t n;

		if (m->ops != &tty_fd_ops || !is_ptmx(&m->st))
			continue;
		n = master_index(d, m);
		if (n < 0)
			return n;
		if (n == index) {
			*out = m;
			return 0;
		}
	}
	*out = NULL;
	return 0;
}

static pid_t pty_elsewhere(const struct files_dump *d, uint32_t index, bool master);

/* The slave of pty INDEX in the process (*OUT), or NULL if only another
 * process of the tree holds it (a terminal emulator and its shell). */
static int find_slave(struct files_dump *d, uint32_t index, const struct fd_parms **out)
{
	for (int i = 0; i < d->nr_fds; i++) {
		const struct fd_parms *s = &d->fds[i];

		if (s->ops == &tty_fd_ops && is_pts(&s->st) && pts_index(&s->st) == index) {
			*out = s;
			return 0;
		}
	}
	*out = NULL;
	if (pty_elsewhere(d, index, false))
		return 0;
	pr_err("pid %d: pty master of pty %u has no slave fd in the tree: not supported\n", d->pid,
	       index);
	return -EOPNOTSUPP;
}

/* Bytes queued for the reader of FD (the other side wrote them). */
static int check_queue(struct files_dump *d, const struct fd_parms *p, int fd, uint32_t index)
{
	int n = 0;

	if (ioctl(fd, TIOCINQ, &n)) {
		pr_perror("pid %d fd %d: can't read the queue of pty %u", d->pid, p->fd, index);
		return -errno;
	}
	if (n) {
		pr_err("pid %d fd %d: pty %u has %d bytes queued for reading at fd %d (%s); a pty's bytes can't be read without taking them: not supported\n",
		       d->pid, p->fd, index, n, p->fd, p->link);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int check_slave(struct files_dump *d, const struct fd_parms *s, uint32_t index)
{
	int fd = files_steal(d, s), ret;

	if (fd < 0)
		return fd;
	ret = check_queue(d, s, fd, index);
	close(fd);
	return ret;
}

/* The slave's inode, /dev/pts/N, has an owner and mode of its own that
 * grantpt() (or a chown) set and a new pty does not get. */
static int read_slave_owner(struct files_dump *d, const struct fd_parms *p, PtyStateEntry *ps,
			    uint32_t index)
{
	char path[32];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/pts/%u", index);
	errno = 0;
	if (stat(path, &st) || st.st_rdev != tty_pts_rdev(index)) {
		pr_err("pid %d fd %d: can't read the owner of the slave %s of its pty: %s\n",
		       d->pid, p->fd, path, errno ? strerror(errno) : "another device there");
		return -ENOENT;
	}
	ps->slave_uid = st.st_uid;
	ps->slave_gid = st.st_gid;
	ps->slave_perm = st.st_mode & 07777;
	return 0;
}

static int read_state(struct files_dump *d, const struct fd_parms *p, int fd, PtyStateEntry *ps,
		      uint32_t index)
{
	static struct termios t;
	struct winsize ws;
	int pkt = 0, lck = 0;

	if (tcgetattr(fd, &t) || ioctl(fd, TIOCGWINSZ, &ws) || ioctl(fd, TIOCGPKT, &pkt) ||
	    ioctl(fd, TIOCGPTLCK, &lck)) {
		pr_perror("pid %d fd %d: can't read the state of pty %u", d->pid, p->fd, index);
		return -errno;
	}
	ps->termios->iflag = t.c_iflag;
	ps->termios->oflag = t.c_oflag;
	ps->termios->cflag = t.c_cflag;
	ps->termios->lflag = t.c_lflag;
	ps->termios->line = t.c_line;
	ps->termios->cc.data = t.c_cc;
	ps->termios->cc.len = NCCS;
	ps->winsize->rows = ws.ws_row;
	ps->winsize->cols = ws.ws_col;
	ps->winsize->xpixel = ws.ws_xpixel;
	ps->winsize->ypixel = ws.ws_ypixel;
	ps->packet = pkt;
	ps->locked = lck;
	return read_slave_owner(d, p, ps, index);
}

static int dump_master(struct files_dump *d, const struct fd_parms *p, TtyEntry *te,
		       PtyStateEntry *ps)
{
	const struct fd_parms *s;
	struct stat key = { .st_dev = (dev_t)-1 };
	int64_t index = master_index(d, p);
	bool first;
	int fd, ret;

	if (index < 0)
		return index;
	te->kind = TTY_KIND__TTY_PTY_MASTER;
	te->has_index = true;
	te->index = index;
	key.st_ino = index;
	if (!files_obj_id(d, FD_TYPE__FD_TTY, &key, &first))
		return -ENOMEM;
	if (!first) {
		pr_err("pid %d fd %d: a second open file description of the master of pty %u: not supported\n",
		       d->pid, p->fd, te->index);
		return -EOPNOTSUPP;
	}
	ret = find_slave(d, index, &s);
	if (!ret && s)
		ret = check_slave(d, s, index);
	if (ret)
		return ret;
	fd = files_steal(d, p);
	if (fd < 0)
		return fd;
	ret = check_queue(d, p, fd, index);
	if (!ret)
		ret = read_state(d, p, fd, ps, index);
	if (!ret)
		ret = tty_dump_ctty(d, fd, index, ps);
	close(fd);
	te->pty = ps;
	return ret;
}

/* Is fd NAME of PID (its link LINK) the MASTER (or slave) of pty INDEX?
 * A master's fdinfo says its "tty-index". */
static bool pty_end_of(pid_t pid, const char *name, const char *link, uint32_t index, bool master)
{
	cleanup_free char *info = NULL;
	char path[300];
	const char *ti;

	if (!master) {
		snprintf(path, sizeof(path), "/dev/pts/%u", index);
		return !strcmp(link, path);
	}
	if (strcmp(link, PTMX_PATH) && strcmp(link, "/dev/pts/ptmx"))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, name);
	info = proc_read_file(path, NULL);
	ti = info ? fdinfo_field(info, "tty-index:") : NULL;
	return ti && strtoul(ti, NULL, 10) == index;
}

bool tty_pid_holds(pid_t pid, uint32_t index, bool master)
{
	char path[64], link[64];
	struct dirent *de;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	while (dir && !found && (de = readdir(dir))) {
		ssize_t n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);

		if (n <= 0)
			continue;
		link[n] = '\0';
		found = pty_end_of(pid, de->d_name, link, index, master);
	}
	if (dir)
		closedir(dir);
	return found;
}

/* Another process of the tree holding the MASTER (or a slave) of pty
 * INDEX: its pid, 0 if none. */
static pid_t pty_elsewhere(const struct files_dump *d, uint32_t index, bool master)
{
	for (size_t i = 0; i < d->nr_tree_pids; i++) {
		pid_t pid = d->tree_pids[i];

		if (pid != d->pid && tty_pid_holds(pid, index, master))
			return pid;
	}
	return 0;
}

/* A terminal no process of the tree owns.  Only the session's own
 * controlling terminal is a shell job's, which --shell-job restores as
 * lmproc's terminal; anything else came in from outside (a client passed
 * it, or the process left the session it had it from). */
static int refuse_external(const struct files_dump *d, const struct fd_parms *p)
{
	bool dev_tty = p->st.st_rdev == makedev(5, 0); /* /dev/tty: always its own */
	struct proc_stat st = { 0 };

	if (proc_read_stat(d->pid, &st))
		st.tty_nr = 0;
	if (dev_tty || (st.tty_nr && st.tty_nr == p->st.st_rdev)) {
		pr_err("pid %d fd %d is the terminal %s, the controlling terminal of its session "
		       "%d, which the process does not own: dump with --shell-job (-j) to restore "
		       "it on lmproc's terminal\n", d->pid, p->fd, p->link, st.sid);
		return -EOPNOTSUPP;
	}
	if (st.tty_nr)
		pr_err("pid %d fd %d is the terminal %s (%u:%u), from outside the tree: no process "
		       "of the tree holds its master, and it is not the controlling terminal of its "
		       "session %d (that is %u:%u): not supported\n", d->pid, p->fd, p->link,
		       major(p->st.st_rdev), minor(p->st.st_rdev), st.sid, major(st.tty_nr),
		       minor(st.tty_nr));
	else
		pr_err("pid %d fd %d is the terminal %s (%u:%u), from outside the tree: no process "
		       "of the tree holds its master, and it is not the controlling terminal of its "
		       "session %d (which has none): not supported\n", d->pid, p->fd, p->link,
		       major(p->st.st_rdev), minor(p->st.st_rdev), st.sid);
	return -EOPNOTSUPP;
}

/* /dev/tty stands for the session's controlling terminal, whichever it
 * is.  When that is a pty of the tree (a shell under tmux or screen holds
 * one), it is recorded with the pty and the session (1), to be opened
 * again once the session has its terminal back (restore_task_dev_tty);
 * 0 if its terminal is another one. */
static int dump_dev_tty(struct files_dump *d, const struct fd_parms *p, TtyEntry *te)
{
	const struct fd_parms *m = NULL;
	struct proc_stat st = { 0 };
	struct stat ctty;
	uint32_t index;
	int ret;

	if (p->st.st_rdev != makedev(5, 0) || proc_read_stat(d->pid, &st) || !st.tty_nr)
		return 0;
	ctty.st_rdev = st.tty_nr;
	if (!is_pts(&ctty))
		return 0;
	index = pts_index(&ctty);
	ret = find_master(d, index, &m);
	if (ret)
		return ret;
	if (!m && !pty_elsewhere(d, index, true))
		return 0;
	te->kind = TTY_KIND__TTY_DEV_TTY;
	te->has_index = true;
	te->index = index;
	te->has_dev_tty_session = true;
	te->dev_tty_session = st.sid;
	return 1;
}

/* Fd NAME of PID, /dev/tty, is P's description (kcmp). */
static bool same_dev_tty(const struct files_dump *d, const struct fd_parms *p, pid_t pid,
			 const char *name, const char *link)
{
	return !strcmp(link, "/dev/tty") &&
	       !syscall(SYS_kcmp, d->pid, pid, KCMP_FILE, p->fd, (int)strtol(name, NULL, 10));
}

/* The process of the tree, 0 if none, whose session's terminal is a pty
 * of the tree and that holds /dev/tty description P: P stands for that
 * pty, not for a terminal of this process's (it left that session, or
 * was passed the fd); the holder dumped first records it (dump_dev_tty),
 * this one came first. */
static pid_t dev_tty_of_tree_pty(const struct files_dump *d, const struct fd_parms *p)
{
	pid_t found = 0;

	for (size_t i = 0; i < d->nr_tree_pids && !found; i++) {
		pid_t pid = d->tree_pids[i];
		struct proc_stat st = { 0 };
		char path[64], link[64];
		struct stat ctty;
		struct dirent *de;
		DIR *dir;

		if (pid == d->pid || proc_read_stat(pid, &st) || !st.tty_nr)
			continue;
		ctty.st_rdev = st.tty_nr;
		if (!is_pts(&ctty) || (!tty_pid_holds(d->pid, pts_index(&ctty), true) &&
				       !pty_elsewhere(d, pts_index(&ctty), true)))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		dir = opendir(path);
		while (dir && !found && (de = readdir(dir))) {
			ssize_t n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);

			if (n <= 0)
				continue;
			link[n] = '\0';
			if (same_dev_tty(d, p, pid, de->d_name, link))
				found = pid;
		}
		if (dir)
			closedir(dir);
	}
	return found;
}

/* /dev/tty that is no terminal of this process's own but stands for a
 * pty of the tree: neither -j's nor restorable from here. */
static int refuse_dev_tty_elsewhere(const struct files_dump *d, const struct fd_parms *p)
{
	struct proc_stat st = { 0 };
	pid_t holder;

	if (p->st.st_rdev != makedev(5, 0))
		return 0;
	holder = dev_tty_of_tree_pty(d, p);
	if (!holder)
		return 0;
	proc_read_stat(d->pid, &st);
	pr_err("pid %d fd %d is /dev/tty, the open file pid %d holds too, whose session's "
	       "terminal is a pty of the tree: in its own session %d it stands for no terminal "
	       "of its own: not supported\n", d->pid, p->fd, holder, st.sid);
	return -EOPNOTSUPP;
}

static int dump_slave_or_external(struct files_dump *d, const struct fd_parms *p, TtyEntry *te)
{
	pid_t other;
	const struct fd_parms *m = NULL;
	int ret;

	if (is_pts(&p->st)) {
		ret = find_master(d, pts_index(&p->st), &m);
		if (ret)
			return ret;
	}
	other = !m && is_pts(&p->st) ? pty_elsewhere(d, pts_index(&p->st), true) : 0;
	if (m || other) {
		te->kind = TTY_KIND__TTY_PTY_SLAVE;
		te->has_index = true;
		te->index = pts_index(&p->st);
		/* The master's process checks this side only if it holds it. */
		return other ? check_slave(d, p, te->index) : 0;
	}
	ret = dump_dev_tty(d, p, te);
	if (ret)
		return ret < 0 ? ret : 0;
	ret = refuse_dev_tty_elsewhere(d, p);
	if (ret)
		return ret;
	if (!d->shell_job)
		return refuse_external(d, p);
	te->kind = TTY_KIND__TTY_EXTERNAL;
	return 0;
}

static int tty_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	TtyEntry te = TTY_ENTRY__INIT;
	PtyStateEntry ps = PTY_STATE_ENTRY__INIT;
	TermiosEntry t = TERMIOS_ENTRY__INIT;
	WinsizeEntry ws = WINSIZE_ENTRY__INIT;
	int ret;

	if (p->flags & ~TTY_FLAGS)
		return files_refuse_flags(d, p, "a terminal", TTY_FLAGS);
	ps.termios = &t;
	ps.winsize = &ws;
	te.flags = p->flags;
	te.rdev = p->st.st_rdev;
	te.path = p->link;
	if (is_ptmx(&p->st))
		ret = dump_master(d, p, &te, &ps);
	else
		ret = dump_slave_or_external(d, p, &te);
	if (ret)
		return ret;
	fe->tty = &te;
	return files_write(d, fe);
}

static int tty_validate(const FileEntry *f, uint64_t data_size)
{
	const TtyEntry *te = f->tty;
	const PtyStateEntry *ps;

	(void)data_size;
	if (!te)
		return restore_plan_bad("files.img", "file id %u has no tty entry", f->id);
	if ((te->flags & ~TTY_FLAGS) || (te->flags & O_ACCMODE) == O_ACCMODE)
		return restore_plan_bad("files.img", "tty file id %u has flags %s", f->id,
					open_flags_words(te->flags).s);
	switch (te->kind) {
	case TTY_KIND__TTY_EXTERNAL:
		if (te->has_index || te->pty || te->has_dev_tty_session)
			break;
		return 0;
	case TTY_KIND__TTY_PTY_MASTER:
		ps = te->pty;
		if (!te->has_index || !ps || te->has_dev_tty_session || ps->termios->cc.len != NCCS ||
		    (ps->has_session && !ps->session) || (ps->has_fg_pgrp && !ps->has_session) ||
		    (ps->has_fg_pgrp && !ps->fg_pgrp) || (ps->slave_perm & ~07777) ||
		    ps->slave_uid == (uint32_t)-1 || ps->slave_gid == (uint32_t)-1)
			break;
		return 0;
	case TTY_KIND__TTY_PTY_SLAVE:
		if (!te->has_index || te->pty || te->has_dev_tty_session)
			break;
		return 0;
	case TTY_KIND__TTY_DEV_TTY:
		if (!te->has_index || te->pty || !te->has_dev_tty_session ||
		    !te->dev_tty_session || te->rdev != makedev(5, 0))
			break;
		return 0;
	default:
		return restore_plan_bad("files.img", "tty file id %u has kind %d", f->id,
					te->kind);
	}
	return restore_plan_bad("files.img", "tty file id %u (%s): fields do not fit its kind",
				f->id, te->path);
}

/* A pair is one object (key: its number + 1), its master the carrier;
 * /dev/tty is not part of it. */
static uint64_t tty_obj_key(const FileEntry *f)
{
	if (f->tty->kind == TTY_KIND__TTY_EXTERNAL || f->tty->kind == TTY_KIND__TTY_DEV_TTY)
		return 0;
	return (uint64_t)f->tty->index + 1;
}

static bool tty_obj_carrier(const FileEntry *f)
{
	return f->tty->kind == TTY_KIND__TTY_PTY_MASTER;
}

static int set_state(struct task_files *tf, uint32_t desc, int master, const PtyStateEntry *ps)
{
	struct termios t = {
		.c_iflag = ps->termios->iflag,
		.c_oflag = ps->termios->oflag,
		.c_cflag = ps->termios->cflag,
		.c_lflag = ps->termios->lflag,
		.c_line = ps->termios->line,
	};
	struct winsize ws = {
		.ws_row = ps->winsize->rows,
		.ws_col = ps->winsize->cols,
		.ws_xpixel = ps->winsize->xpixel,
		.ws_ypixel = ps->winsize->ypixel,
	};
	int pkt = ps->packet;

	memcpy(t.c_cc, ps->termios->cc.data, NCCS);
	if (tcsetattr(master, TCSANOW, &t) || ioctl(master, TIOCSWINSZ, &ws) ||
	    ioctl(master, TIOCPKT, &pkt))
		return task_files_err(tf, desc, "can't set termios, window size or packet mode: %s",
				      strerror(errno));
	return 0;
}

/* The new slave's inode gets the dumped owner and mode. */
static int set_slave_owner(struct task_files *tf, uint32_t desc, int master,
			   const PtyStateEntry *ps)
{
	char path[32];
	unsigned int n;

	if (ioctl(master, TIOCGPTN, &n))
		return task_files_err(tf, desc, "can't read the new pty's number: %s",
				      strerror(errno));
	snprintf(path, sizeof(path), "/dev/pts/%u", n);
	if (chown(path, ps->slave_uid, ps->slave_gid) || chmod(path, ps->slave_perm))
		return task_files_err(tf, desc, "can't give %s owner %u:%u and mode 0%o: %s", path,
				      ps->slave_uid, ps->slave_gid, ps->slave_perm,
				      strerror(errno));
	return 0;
}

/* Each slave description of the pair, opened through the master. */
static int open_side(struct task_files *tf, uint32_t m, int master, int *fd)
{
	const TtyEntry *te = tf->plan->fdesc[m].fe->tty;
	int flags = te->flags | O_NOCTTY;

	if (te->kind == TTY_KIND__TTY_PTY_MASTER) {
		*fd = master;
		return 0;
	}
	*fd = ioctl(master, TIOCGPTPEER, flags);
	if (*fd < 0)
		return task_files_err(tf, m, "can't open the slave of the new pty: %s",
				      strerror(errno));
	*fd = task_files_park(tf, *fd);
	return *fd < 0 ? -EMFILE : 0;
}

/* The whole pair at once: a new master, unlocked to open every slave
 * description, its state set, locked again if it was, every description
 * installed. */
static int pty_open(struct task_files *tf, uint32_t desc)
{
	const struct file_desc *c = &tf->plan->fdesc[tf->plan->fdesc[desc].carrier];
	const TtyEntry *cte = c->fe->tty;
	int master, unlock = 0, lock = 1, ret = 0;
	uint32_t m = desc;

	master = open(PTMX_PATH, (cte->flags & ~O_NOCTTY) | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return task_files_err(tf, desc, "can't open %s: %s", PTMX_PATH, strerror(errno));
	master = task_files_park(tf, master);
	if (master < 0)
		return -EMFILE;
	if (ioctl(master, TIOCSPTLCK, &unlock))
		ret = task_files_err(tf, desc, "can't unlock the new pty: %s", strerror(errno));
	do {
		int fd;

		if (!ret && tf->plan->fdesc[m].fe->tty->kind != TTY_KIND__TTY_PTY_MASTER) {
			ret = open_side(tf, m, master, &fd);
			if (!ret)
				ret = task_files_install(tf, m, fd);
		}
		m = tf->plan->fdesc[m].obj_next;
	} while (m != desc);
	if (!ret)
		ret = set_state(tf, desc, master, cte->pty);
	if (!ret)
		ret = set_slave_owner(tf, desc, master, cte->pty);
	if (!ret && cte->pty->locked && ioctl(master, TIOCSPTLCK, &lock))
		ret = task_files_err(tf, desc, "can't lock the new pty: %s", strerror(errno));
	if (ret) {
		close(master);
		return ret;
	}
	return task_files_install(tf, tf->plan->fdesc[desc].carrier, master);
}

/* A new open file description of lmproc's terminal (restore --shell-job). */
static int external_open(struct task_files *tf, uint32_t desc)
{
	const TtyEntry *te = tf->plan->fdesc[desc].fe->tty;
	int fd;

	if (tf->tty_fd < 0)
		return task_files_err(tf, desc, "no terminal of lmproc to put here");
	fd = task_reopen(tf->tty_fd, (te->flags & ~O_NOCTTY) | O_CLOEXEC);
	if (fd < 0)
		return task_files_err(tf, desc, "can't open lmproc's terminal again: %s",
				      strerror(errno));
	return task_files_install(tf, desc, fd);
}

/* /dev/tty fails (ENXIO) before the session has its terminal: its fds
 * hold /dev/null until restore_task_dev_tty puts /dev/tty there. */
static int dev_tty_placeholder(struct task_files *tf, uint32_t desc)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return task_files_err(tf, desc, "can't open /dev/null to hold the place of /dev/tty: %s",
				      strerror(errno));
	return task_files_install(tf, desc, fd);
}

static int tty_open(struct task_files *tf, uint32_t desc)
{
	if (tf->plan->fdesc[desc].fe->tty->kind == TTY_KIND__TTY_EXTERNAL)
		return external_open(tf, desc);
	if (tf->plan->fdesc[desc].fe->tty->kind == TTY_KIND__TTY_DEV_TTY)
		return dev_tty_placeholder(tf, desc);
	return pty_open(tf, desc);
}

/* files[I] is lmproc's terminal (--shell-job) and this process holds it,
 * makes it for the processes below, or has it in flight. */
static bool external_here(const struct restore_plan *p, size_t i)
{
	const struct file_desc *fd = &p->fdesc[i];

	return p->files[i]->type == FD_TYPE__FD_TTY &&
	       p->files[i]->tty->kind == TTY_KIND__TTY_EXTERNAL &&
	       (fd->first_fd >= 0 || fd->make_here || fd->in_flight_here);
}

int restore_tty_fd(const struct restore_ctx *ctx)
{
	const struct restore_plan *p = &ctx->plan;
	char where[40] = " (for the processes below it)";
	size_t i;

	for (i = 0; i < p->nr_files; i++)
		if (external_here(p, i))
			break;
	if (i == p->nr_files)
		return -1;
	if (p->fdesc[i].first_fd >= 0)
		snprintf(where, sizeof(where), " fd %d", p->fdesc[i].first_fd);
	if (!ctx->opts->shell_job) {
		pr_err("pid %d%s was the terminal %s, dumped with --shell-job: restore with --shell-job (-j) to put lmproc's terminal there\n",
		       p->pid, where, p->files[i]->tty->path);
		return -EOPNOTSUPP;
	}
	for (int fd = 0; fd < 3; fd++)
		if (isatty(fd))
			return fd;
	pr_err("pid %d%s was the terminal %s: lmproc --shell-job needs a terminal on its stdin, stdout or stderr\n",
	       p->pid, where, p->files[i]->tty->path);
	return -ENOTTY;
}

const struct fd_ops tty_fd_ops = {
	.type = FD_TYPE__FD_TTY,
	.name = "tty",
	.match = tty_match,
	.dump = tty_dump,
	.validate = tty_validate,
	.obj_key = tty_obj_key,
	.obj_carrier = tty_obj_carrier,
	.open = tty_open,
};
