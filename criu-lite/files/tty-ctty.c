/* Owns the ptys of the tree that are a session's controlling terminal, as
 * script(1), tmux or sshd leave them: the slave is the terminal of a
 * session a process of the tree leads, with a foreground group.  Dump
 * records the session and group with the pair (tty.c dumps the pair
 * itself); restore has the leader, after its setsid() and before it forks
 * the rest of its session, take the slave as its terminal (TIOCSCTTY), and
 * put the foreground group back once every task exists.  A process of the
 * session gets the terminal by fork, as it did; one that dropped it
 * (TIOCNOTTY) is refused.  An fd of /dev/tty standing for such a
 * terminal is opened again by its maker right after (its fds held
 * /dev/null until then), before it forks the rest of its session. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "proc.h"
#include "restore.h"
#include "tty.h"

static bool in_tree(const struct files_dump *d, pid_t pid)
{
	for (size_t i = 0; i < d->nr_tree_pids; i++)
		if (d->tree_pids[i] == pid)
			return true;
	return false;
}

/* Every process of session SID has the slave of pty INDEX as its
 * terminal: a restored session gives it to all of them. */
static int check_members(const struct files_dump *d, pid_t sid, uint32_t index)
{
	uint32_t rdev = tty_pts_rdev(index);

	for (size_t i = 0; i < d->nr_tree_pids; i++) {
		pid_t pid = d->tree_pids[i];
		struct proc_stat st;
		int ret = proc_read_stat(pid, &st);

		if (ret) {
			pr_err("pid %d: can't read its controlling terminal: %s\n", pid,
			       strerror(-ret));
			return ret;
		}
		if (st.sid != sid || st.tty_nr == rdev)
			continue;
		pr_err("pid %d of session %d has terminal %u:%u, not its session's /dev/pts/%u: not supported\n",
		       pid, sid, major(st.tty_nr), minor(st.tty_nr), index);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* The foreground group, if a process of the tree and of session SID is in
 * it: no other group can be made again there. */
static bool fg_in_tree(const struct files_dump *d, pid_t sid, pid_t pgrp)
{
	for (size_t i = 0; i < d->nr_tree_pids; i++) {
		struct proc_stat st;

		if (!proc_read_stat(d->tree_pids[i], &st) && st.sid == sid && st.pgid == pgrp)
			return true;
	}
	return false;
}

int tty_dump_ctty(struct files_dump *d, int master, uint32_t index, PtyStateEntry *ps)
{
	pid_t sid, pgrp;

	/* Through the master: through the slave the kernel answers only
	 * for the caller's own terminal. */
	if (ioctl(master, TIOCGSID, &sid))
		return 0;
	if (!in_tree(d, sid)) {
		pr_err("pid %d: pty %u is the controlling terminal of session %d, whose leader is not a process of the tree: not supported\n",
		       d->pid, index, sid);
		return -EOPNOTSUPP;
	}
	if (!tty_pid_holds(sid, index, false) && !tty_pid_holds(sid, index, true)) {
		pr_err("pid %d: pty %u is the controlling terminal of session %d, whose leader holds no fd of it: not supported\n",
		       d->pid, index, sid);
		return -EOPNOTSUPP;
	}
	if (ioctl(master, TIOCGPGRP, &pgrp)) {
		pr_perror("pid %d: can't read the foreground group of pty %u", d->pid, index);
		return -errno;
	}
	ps->has_session = true;
	ps->session = sid;
	if (pgrp > 0 && fg_in_tree(d, sid, pgrp)) {
		ps->has_fg_pgrp = true;
		ps->fg_pgrp = pgrp;
	} else {
		pr_warn("pid %d: the foreground group %d of pty %u (terminal of session %d) has no process of the tree; the session leader's group will be in front\n",
			d->pid, pgrp, index, sid);
	}
	return check_members(d, sid, index);
}

/* The leader's fd of pty INDEX: a slave if it holds one (*MASTER false),
 * else the master; -1 if neither. */
static int64_t leader_fd(const struct restore_plan *p, uint32_t index, bool *master)
{
	int64_t fd = -1;

	for (size_t i = 0; i < p->nr_fds; i++) {
		const TtyEntry *te = p->fdesc[p->fd_desc[i]].fe->tty;

		if (p->fds[i]->type != FD_TYPE__FD_TTY ||
		    (te->kind != TTY_KIND__TTY_PTY_MASTER && te->kind != TTY_KIND__TTY_PTY_SLAVE) ||
		    te->index != index)
			continue;
		*master = te->kind == TTY_KIND__TTY_PTY_MASTER;
		fd = p->fds[i]->fd;
		if (!*master)
			break;
	}
	return fd;
}

static bool fg_restorable(const struct restore_tree *t, uint32_t sid, uint32_t pgrp)
{
	for (size_t i = 0; i < t->nr; i++)
		if (t->ctx[i].plan.pid && t->entries[i]->sid == sid && t->entries[i]->pgid == pgrp)
			return true;
	return false;
}

static int64_t leader_of(const struct restore_tree *t, uint32_t sid)
{
	for (size_t i = 0; i < t->nr; i++)
		if (t->ctx[i].plan.pid && t->entries[i]->pid == sid && t->entries[i]->sid == sid)
			return i;
	return -1;
}

static int plan_one(struct restore_tree *t, const TtyEntry *te)
{
	const PtyStateEntry *ps = te->pty;
	int64_t l = leader_of(t, ps->session), fd;
	struct restore_ctx *c;
	bool master = false;

	if (l < 0)
		return restore_plan_bad("files.img", "pty %u: terminal of session %u, which no live process of the tree leads",
					te->index, ps->session);
	c = &t->ctx[l];
	if (c->ctty)
		return restore_plan_bad("files.img", "session %u has two controlling terminals",
					ps->session);
	fd = leader_fd(&c->plan, te->index, &master);
	if (fd < 0)
		return restore_plan_bad("files.img", "pty %u: terminal of session %u, whose leader holds no fd of it",
					te->index, ps->session);
	if (ps->has_fg_pgrp && !fg_restorable(t, ps->session, ps->fg_pgrp))
		return restore_plan_bad("files.img", "pty %u: foreground group %u has no live process of session %u",
					te->index, ps->fg_pgrp, ps->session);
	if (!l && c->opts->shell_job) {
		pr_err("pid %u led session %u with pty %u as its terminal: it can't be a shell job (restore without --shell-job)\n",
		       ps->session, ps->session, te->index);
		return -EOPNOTSUPP;
	}
	c->ctty = true;
	c->ctty_master = master;
	c->ctty_fd = fd;
	c->ctty_fg = ps->has_fg_pgrp ? (pid_t)ps->fg_pgrp : 0;
	return 0;
}

/* Pty INDEX is the terminal of session SID, a pair of the tree. */
static bool ctty_planned(const struct restore_plan *p0, uint32_t index, uint32_t sid)
{
	for (size_t i = 0; i < p0->nr_files; i++) {
		const TtyEntry *te = p0->files[i]->tty;

		if (p0->files[i]->type == FD_TYPE__FD_TTY && te->kind == TTY_KIND__TTY_PTY_MASTER &&
		    te->index == index && te->pty->has_session && te->pty->session == sid)
			return true;
	}
	return false;
}

/* /dev/tty file F: every process holding it is in its session, whose
 * terminal is the pair it stood for, and none has it in flight: its maker
 * (above them all, so in that session too) opens it once the terminal is
 * there, before it forks them. */
static int plan_dev_tty(struct restore_tree *t, const struct restore_plan *p0, size_t f)
{
	const TtyEntry *te = p0->files[f]->tty;

	if (!ctty_planned(p0, te->index, te->dev_tty_session))
		return restore_plan_bad("files.img", "/dev/tty (file id %u) stood for pty %u, which is not the terminal of its session %u",
					p0->files[f]->id, te->index, te->dev_tty_session);
	for (size_t i = 0; i < t->nr; i++) {
		const struct file_desc *d = &t->ctx[i].plan.fdesc[f];

		if (!t->ctx[i].plan.pid || (d->first_fd < 0 && !d->in_flight_here))
			continue;
		if (d->in_flight_here)
			return restore_plan_bad("files.img", "/dev/tty (file id %u) of session %u: pid %u has it in flight",
						p0->files[f]->id, te->dev_tty_session,
						t->entries[i]->pid);
		if (t->entries[i]->sid != te->dev_tty_session)
			return restore_plan_bad("files.img", "/dev/tty (file id %u) of session %u: pid %u fd %d holds it from another session (%u), where it stands for no terminal",
						p0->files[f]->id, te->dev_tty_session,
						t->entries[i]->pid, d->first_fd, t->entries[i]->sid);
	}
	return 0;
}

int restore_plan_ctty(struct restore_tree *t)
{
	const struct restore_plan *p0 = NULL;

	for (size_t i = 0; i < t->nr && !p0; i++)
		if (t->ctx[i].plan.pid)
			p0 = &t->ctx[i].plan;
	for (size_t i = 0; p0 && i < p0->nr_files; i++) {
		if (p0->files[i]->type == FD_TYPE__FD_TTY &&
		    p0->files[i]->tty->kind == TTY_KIND__TTY_DEV_TTY) {
			int ret = plan_dev_tty(t, p0, i);

			if (ret)
				return ret;
		}
	}
	for (size_t i = 0; p0 && i < p0->nr_files; i++) {
		const TtyEntry *te = p0->files[i]->tty;
		int ret;

		if (p0->files[i]->type != FD_TYPE__FD_TTY || te->kind != TTY_KIND__TTY_PTY_MASTER ||
		    !te->pty->has_session)
			continue;
		ret = plan_one(t, te);
		if (ret)
			return ret;
	}
	return 0;
}

int restore_task_ctty(struct restore_ctx *ctx, char *err, size_t len)
{
	int fd = ctx->ctty_fd;

	if (!ctx->ctty)
		return 0;
	if (ctx->ctty_master)
		fd = ioctl(ctx->ctty_fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 0)) {
		snprintf(err, len, "can't make the pty at fd %d its session's terminal: %s",
			 ctx->ctty_fd, strerror(errno));
		if (fd >= 0 && ctx->ctty_master)
			close(fd);
		return -EIO;
	}
	if (ctx->ctty_master)
		close(fd);
	return 0;
}

/* Every fd of description DESC made here, and its place for the
 * processes below, gets FD, a new open of /dev/tty. */
static int dev_tty_place(const struct restore_plan *p, size_t desc, int fd, char *err, size_t len)
{
	const struct file_desc *d = &p->fdesc[desc];

	if (d->make_here && dup3(fd, d->inherit_fd, O_CLOEXEC) < 0) {
		snprintf(err, len, "can't move /dev/tty to fd %d: %s", d->inherit_fd,
			 strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < p->nr_fds; i++) {
		const FdinfoEntry *e = p->fds[i];

		if (p->fd_desc[i] != desc)
			continue;
		if (dup3(fd, e->fd, e->fd_flags & FD_CLOEXEC ? O_CLOEXEC : 0) < 0) {
			snprintf(err, len, "fd %u: can't put /dev/tty there: %s", e->fd,
				 strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int restore_task_dev_tty(struct restore_ctx *ctx, char *err, size_t len)
{
	const struct restore_plan *p = &ctx->plan;

	for (size_t i = 0; i < p->nr_files; i++) {
		const struct file_desc *d = &p->fdesc[i];
		int fd, ret;

		if (p->files[i]->type != FD_TYPE__FD_TTY ||
		    p->files[i]->tty->kind != TTY_KIND__TTY_DEV_TTY ||
		    !(d->make_here || (d->first_fd >= 0 && d->inherit_fd < 0)))
			continue;
		fd = open("/dev/tty", p->files[i]->tty->flags | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, len, "can't open /dev/tty (pty %u, terminal of session %u): %s",
				 p->files[i]->tty->index, p->files[i]->tty->dev_tty_session,
				 strerror(errno));
			return -errno;
		}
		ret = dev_tty_place(p, i, fd, err, len);
		close(fd);
		if (ret)
			return ret;
	}
	return 0;
}

/* Through the master too: it names the same terminal, our session's.
 * SIGTTOU is blocked, so a leader in the background may do it. */
int restore_task_fg(struct restore_ctx *ctx, char *err, size_t len)
{
	if (!ctx->ctty || !ctx->ctty_fg)
		return 0;
	if (tcsetpgrp(ctx->ctty_fd, ctx->ctty_fg)) {
		snprintf(err, len, "can't put process group %d in front of its terminal: %s",
			 ctx->ctty_fg, strerror(errno));
		return -EIO;
	}
	return 0;
}
