/* Owns the keeper daemon and its protocol.  The keeper only holds
 * descriptors and a token; it never looks at the tracked process except
 * to notice it has exited. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "interrupt.h"
#include "log.h"
#include "proc.h"
#include "track-keeper.h"

#define KEEPER_MAGIC 0x4c4d4b50u /* "LMKP" */
#define KEEPER_IDLE_MS (3600 * 1000)
#define KEEPER_REPLY_S 5

enum keeper_op {
	KEEPER_FETCH = 1,
	KEEPER_STOP = 2,
};

struct keeper_msg {
	uint32_t magic;
	uint32_t op;
	uint64_t token;
	char backend[16];
	uint32_t nr_fds;
	uint32_t pad;
};

static int keeper_addr(pid_t pid, struct sockaddr_un *addr, socklen_t *len)
{
	struct proc_stat st;
	int n, ret = proc_read_stat(pid, &st);

	if (ret)
		return ret;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	/* Abstract name: nothing to clean up, and a pid reused by another
	 * process gets another start time, so another name. */
	n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "lmproc-track/%d/%llu", pid,
		     (unsigned long long)st.start_time);
	*len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
	return 0;
}

static int send_state(int sk, const struct keeper_state *st)
{
	char cbuf[CMSG_SPACE(sizeof(int) * TRACK_MAX_FDS)] = {};
	struct keeper_msg m = { .magic = KEEPER_MAGIC, .token = st->token, .nr_fds = st->nr_fds };
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	memcpy(m.backend, st->backend, sizeof(m.backend));
	if (st->nr_fds) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * st->nr_fds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * st->nr_fds);
		memcpy(CMSG_DATA(c), st->fds, sizeof(int) * st->nr_fds);
	}
	return sendmsg(sk, &mh, MSG_NOSIGNAL) == sizeof(m) ? 0 : -EIO;
}

static void keeper_serve(int lsk, int pidfd, struct keeper_state *st)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = lsk, .events = POLLIN },
				       { .fd = pidfd, .events = POLLIN } };
		struct keeper_msg req;
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int c, n;

		n = poll(p, 2, KEEPER_IDLE_MS);
		if (n == 0 || (n > 0 && p[1].revents))
			return;
		if (n < 0 || !(p[0].revents & POLLIN))
			continue;
		c = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != getuid() ||
		    recv(c, &req, sizeof(req), 0) != sizeof(req) || req.magic != KEEPER_MAGIC) {
			close(c);
			continue;
		}
		if (req.op == KEEPER_STOP) {
			/* The name is free once the stopper sees the end: the
			 * next round binds it at once. */
			close(lsk);
			close(c);
			return;
		}
		if (req.op == KEEPER_FETCH && !send_state(c, st))
			st->token = req.token;
		close(c);
	}
}

static bool fd_kept(int fd, const int *keep, int nr)
{
	for (int i = 0; i < nr; i++)
		if (keep[i] == fd)
			return true;
	return false;
}

/* The keeper must hold nothing of the lmproc that started it: no image
 * files, no terminal. */
static void keeper_close_others(const int *keep, int nr)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd <= 2 || fd == dirfd(d) || fd_kept(fd, keep, nr))
			continue;
		close(fd);
	}
	closedir(d);
}

static void keeper_main(int lsk, int pidfd, struct keeper_state *st)
{
	int keep[TRACK_MAX_FDS + 2];
	int nr = 0;

	keep[nr++] = lsk;
	keep[nr++] = pidfd;
	for (int i = 0; i < st->nr_fds; i++)
		keep[nr++] = st->fds[i];
	setsid();
	/* The keeper outlives the run: lmproc's blocked signals are not its. */
	interrupt_child_reset();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	keeper_close_others(keep, nr);
	keeper_serve(lsk, pidfd, st);
	_exit(0);
}

int keeper_start(pid_t pid, const struct keeper_state *st)
{
	struct sockaddr_un addr;
	struct keeper_state copy = *st;
	socklen_t len;
	int lsk, pidfd, status, ret;
	pid_t child;

	ret = keeper_addr(pid, &addr, &len);
	if (ret)
		return ret;
	keeper_stop(pid);
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		pr_perror("Can't open a pidfd for pid %d", pid);
		return -errno;
	}
	lsk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&addr, len) || listen(lsk, 4)) {
		pr_perror("Can't create the tracking keeper's socket for pid %d", pid);
		ret = -errno;
		goto out;
	}
	child = fork();
	if (child < 0) {
		pr_perror("Can't start the tracking keeper for pid %d", pid);
		ret = -errno;
		goto out;
	}
	if (child == 0) {
		/* Twice, so the keeper is nobody's child here. */
		if (fork() == 0)
			keeper_main(lsk, pidfd, &copy);
		_exit(0);
	}
	waitpid(child, &status, 0);
	ret = 0;
out:
	if (lsk >= 0)
		close(lsk);
	close(pidfd);
	return ret;
}

static int keeper_connect(pid_t pid)
{
	const struct timeval timeout = { .tv_sec = KEEPER_REPLY_S };
	struct sockaddr_un addr;
	socklen_t len;
	int sk, ret = keeper_addr(pid, &addr, &len);

	if (ret)
		return ret;
	sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return -errno;
	/* A keeper that does not answer must not hold the dump for ever:
	 * bounds connect (a full backlog), the reply and the wait for its
	 * end alike. */
	if (setsockopt(sk, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) ||
	    setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout))) {
		ret = -errno;
		close(sk);
		return ret;
	}
	if (connect(sk, (struct sockaddr *)&addr, len)) {
		ret = errno == ECONNREFUSED ? -ENOENT : -errno;
		close(sk);
		return ret;
	}
	return sk;
}

static int recv_state(int sk, struct keeper_state *st)
{
	char cbuf[CMSG_SPACE(sizeof(int) * TRACK_MAX_FDS)];
	struct keeper_msg m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);

	if (n != sizeof(m) || m.magic != KEEPER_MAGIC || m.nr_fds > TRACK_MAX_FDS) {
		pr_err("The tracking keeper sent a bad reply\n");
		return -EIO;
	}
	memset(st, 0, sizeof(*st));
	st->token = m.token;
	memcpy(st->backend, m.backend, sizeof(st->backend));
	st->backend[sizeof(st->backend) - 1] = '\0';
	c = CMSG_FIRSTHDR(&mh);
	if (m.nr_fds) {
		if (!c || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len != CMSG_LEN(sizeof(int) * m.nr_fds)) {
			pr_err("The tracking keeper sent %u fds that did not arrive\n", m.nr_fds);
			return -EIO;
		}
		memcpy(st->fds, CMSG_DATA(c), sizeof(int) * m.nr_fds);
	}
	st->nr_fds = m.nr_fds;
	return 0;
}

int keeper_fetch(pid_t pid, uint64_t new_token, struct keeper_state *st)
{
	struct keeper_msg req = { .magic = KEEPER_MAGIC, .op = KEEPER_FETCH, .token = new_token };
	int sk = keeper_connect(pid), ret;

	if (sk < 0)
		return sk;
	if (send(sk, &req, sizeof(req), MSG_NOSIGNAL) != sizeof(req))
		ret = -EIO;
	else
		ret = recv_state(sk, st);
	close(sk);
	return ret;
}

int keeper_stop(pid_t pid)
{
	struct keeper_msg req = { .magic = KEEPER_MAGIC, .op = KEEPER_STOP };
	int sk = keeper_connect(pid);
	char c;

	if (sk < 0)
		return sk == -ENOENT ? 0 : sk;
	if (send(sk, &req, sizeof(req), MSG_NOSIGNAL) == sizeof(req))
		/* Wait until the keeper closed it: its fds are gone then. */
		while (recv(sk, &c, 1, 0) > 0)
			;
	close(sk);
	return 0;
}
