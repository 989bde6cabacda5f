/* Owns serve's --grace (`migrate --grace MS`, docs/migration.md): between
 * the restore's last step and restore_hold, the restored tree runs MS with
 * its network still locked.  Its connections leave repair mode first (an
 * application's send in repair mode would be queued as sent and never go
 * out), lmproc keeping a copy of each; then every task is detached, yet
 * still held: by the pidfd of each process, and by its pid namespace's
 * init, which keeps its parent-death signal meanwhile (a SIGKILL of lmproc
 * ends the whole namespace).  A process of the dumped tree that dies
 * within MS, or is found dead or stopped at its end, fails the restore:
 * the tree is killed and reaped, one line names the process and how it
 * died; then (restore_grace_drop) the connections go back into repair
 * mode and lmproc's copies, the last, are closed before the lock goes:
 * nothing of them (no FIN, no reset, no retransmission of what the copy
 * sent) reaches the peers the source resumes with. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "proc.h"
#include "restore.h"
#include "sk-tcp.h"
#include "uapi-compat.h"

/* No process of the tree found dead. */
#define NONE ((size_t)-1)
/* The namespace's init found dead (it ends as the root does). */
#define INIT ((size_t)-2)

/* The tree runs from here: the connections out of repair mode (the
 * locks still in place), every task detached. */
static int let_run(struct restore_tree *t, int dfd)
{
	int ret = tcp_restore_resume_keep(t, dfd, &t->conn_copies, &t->nr_conn_copies);

	for (size_t i = 0; i < t->nr && !ret; i++)
		if (t->ctx[i].plan.pid)
			ret = restore_detach_task(&t->ctx[i]);
	return ret;
}

static uint64_t now_ms(void)
{
	return now_us() / 1000;
}

/* Until MS have passed (0), a process of the tree (or the init) ends
 * (-ECHILD, *DEAD its index or INIT), or the source speaks or goes
 * (-ECANCELED: its ABORT, or the link lost, both end the migration, and
 * the source resumes its tree at once). */
static int watch(struct restore_tree *t, int ms, int peer, size_t *dead)
{
	cleanup_free struct pollfd *p = calloc(t->nr + 2, sizeof(*p));
	cleanup_free size_t *idx = calloc(t->nr + 2, sizeof(*idx));
	uint64_t end = now_ms() + ms;
	size_t n = 0;

	if (!p || !idx)
		return -ENOMEM;
	for (size_t i = 0; i < t->nr; i++) {
		if (!t->ctx[i].plan.pid)
			continue;
		p[n] = (struct pollfd){.fd = t->ctx[i].pidfd, .events = POLLIN};
		idx[n++] = i;
	}
	p[n] = (struct pollfd){.fd = t->init_pidfd, .events = POLLIN};
	idx[n++] = INIT;
	p[n] = (struct pollfd){.fd = peer, .events = POLLIN};
	idx[n++] = NONE;
	for (;;) {
		uint64_t now = now_ms();
		int ready = poll(p, n, now < end ? (int)(end - now) : 0);

		if (ready < 0 && errno == EINTR && restore_check_interrupt(t))
			return -EINTR;
		if (ready < 0 && errno != EINTR) {
			pr_perror("Can't watch the restored tree during its grace period");
			return -errno;
		}
		/* The init is last: a process of the tree is named first. */
		for (size_t k = 0; ready > 0 && k < n; k++) {
			if (p[k].revents) {
				*dead = idx[k];
				return idx[k] == NONE ? -ECANCELED : -ECHILD;
			}
		}
		if (ready == 0 && now_ms() >= end)
			return 0;
	}
}

/* A process is alive if a thread of it is neither dead nor stopped; one
 * dumped in a group stop is back in it (the restore made it so). */
static int check_alive(const struct restore_ctx *c, size_t i, size_t *dead, char *why, size_t len)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	bool running = false, stopped = false;

	snprintf(path, sizeof(path), "/proc/%d/task", c->host_pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		struct proc_stat st;
		int tid = atoi(de->d_name);

		if (tid <= 0 || proc_read_stat(tid, &st))
			continue;
		if (st.state == 'T' || st.state == 't')
			stopped = true;
		else if (st.state != 'Z' && st.state != 'X')
			running = true;
	}
	if (d)
		closedir(d);
	if (running || (stopped && c->plan.core->attrs->stopped))
		return 0;
	if (!stopped) {
		*dead = i;
		return -ECHILD;
	}
	snprintf(why, len, "the restored tree's pid %d was stopped at the end of the grace period",
		 c->plan.pid);
	return -EAGAIN;
}

static int check_end(struct restore_tree *t, size_t *dead, char *why, size_t len)
{
	for (size_t i = 0; i < t->nr; i++) {
		int ret;

		if (!t->ctx[i].plan.pid)
			continue;
		ret = check_alive(&t->ctx[i], i, dead, why, len);
		if (ret)
			return ret;
	}
	return 0;
}

/* How the process of PIDFD ended, once reaped (whoever reaped it). */
static void how_ended(int pidfd, char *buf, size_t len)
{
	struct lm_pidfd_info info = {.mask = LM_PIDFD_INFO_EXIT};
	const char *name;

	if (ioctl(pidfd, LM_PIDFD_GET_INFO, &info) || !(info.mask & LM_PIDFD_INFO_EXIT)) {
		snprintf(buf, len, "how, this kernel does not say");
		return;
	}
	if (WIFEXITED(info.exit_code)) {
		snprintf(buf, len, "exit status %d", WEXITSTATUS(info.exit_code));
		return;
	}
	name = sigabbrev_np(WTERMSIG(info.exit_code));
	if (name)
		snprintf(buf, len, "killed by SIG%s", name);
	else
		snprintf(buf, len, "killed by signal %d", WTERMSIG(info.exit_code));
}

/* After the kill: everything reaped, so the exit status is known. */
static void say_dead(const struct restore_tree *t, size_t dead, char *why, size_t len)
{
	char how[64];

	if (dead == INIT) {
		how_ended(t->init_pidfd, how, sizeof(how));
		snprintf(why, len,
			 "the restored tree's pid namespace init died within the grace period (%s)",
			 how);
		return;
	}
	how_ended(t->ctx[dead].pidfd, how, sizeof(how));
	snprintf(why, len, "the restored tree's pid %d died within the grace period (%s)",
		 t->ctx[dead].plan.pid, how);
}

int restore_grace(struct restore_tree *t, const struct lmproc_opts *opts, int dfd)
{
	size_t dead = NONE;
	char why[256] = "";
	int ret;

	ret = let_run(t, dfd);
	if (!ret)
		ret = watch(t, opts->grace_ms, opts->grace_peer_fd, &dead);
	if (!ret)
		ret = check_end(t, &dead, why, sizeof(why));
	if (!ret)
		return 0;
	if (ret == -ECANCELED)
		snprintf(why, sizeof(why),
			 "the source ended the migration during the grace period (ABORT, or the "
			 "link lost)");
	else if (ret != -ECHILD && ret != -EAGAIN)
		return ret;
	/* Killed here, so that every exit status is known. */
	restore_kill_tree(t);
	if (dead != NONE)
		say_dead(t, dead, why, sizeof(why));
	pr_err("%s: the copy is killed\n", why);
	if (opts->grace_why)
		snprintf(opts->grace_why, opts->grace_why_len, "%s", why);
	return ret;
}

void restore_grace_drop(struct restore_tree *t, bool failed)
{
	if (failed)
		tcp_restore_repair_again(t->conn_copies, t->nr_conn_copies);
	for (size_t i = 0; i < t->nr_conn_copies; i++)
		if (t->conn_copies[i] >= 0)
			close(t->conn_copies[i]);
	free(t->conn_copies);
	t->conn_copies = NULL;
	t->nr_conn_copies = 0;
}
