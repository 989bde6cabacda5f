/* Owns the keeper daemon and its protocol.  The keeper only holds
 * descriptors and a token; it never looks at the tracked process except
 * to notice it has exited. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
/* No exchange with a keeper, or with a client of it, may wait longer. */
#define KEEPER_ANSWER_S 5

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

/* Where a keeper listens: a socket file, with the keeper's pid next to
 * it, in a directory only lmproc's user can write (/run/lmproc for root).
 * Not an abstract name: anyone can bind one first, and a squatter on it
 * would have made every round wait for it, and learnt the tokens. */
struct keeper_paths {
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char pidf[PATH_MAX];
};

static int keeper_dir(char *buf, size_t len)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (!geteuid())
		snprintf(buf, len, "/run/lmproc");
	else if (rt && rt[0] == '/')
		snprintf(buf, len, "%.*s/lmproc", (int)len - 8, rt);
	else {
		pr_err("No place for the tracking keeper's socket: not root, and no XDG_RUNTIME_DIR\n");
		return -ENOENT;
	}
	if (mkdir(buf, 0700) && errno != EEXIST) {
		pr_perror("Can't create %s for the tracking keeper's socket", buf);
		return -errno;
	}
	if (lstat(buf, &st)) {
		pr_perror("Can't stat %s", buf);
		return -errno;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		pr_err("%s is not a directory only uid %u can use (mode %04o, owner uid %u): the tracking keeper's socket can't go there\n",
		       buf, (unsigned int)geteuid(), (unsigned int)(st.st_mode & 07777),
		       (unsigned int)st.st_uid);
		return -EPERM;
	}
	return 0;
}

static int keeper_paths(pid_t pid, struct keeper_paths *kp)
{
	char dir[PATH_MAX - 64];
	struct proc_stat st;
	int n, ret = proc_read_stat(pid, &st);

	if (!ret)
		ret = keeper_dir(dir, sizeof(dir));
	if (ret)
		return ret;
	/* A pid reused by another process gets another start time, so
	 * another name. */
	n = snprintf(kp->sock, sizeof(kp->sock), "%s/track-%d-%llu.sock", dir, pid,
		     (unsigned long long)st.start_time);
	snprintf(kp->pidf, sizeof(kp->pidf), "%s/track-%d-%llu.pid", dir, pid,
		 (unsigned long long)st.start_time);
	if (n >= (int)sizeof(kp->sock)) {
		pr_err("The tracking keeper's socket path %s... is too long for a unix socket\n",
		       kp->sock);
		return -ENAMETOOLONG;
	}
	return 0;
}

static void sock_addr(const struct keeper_paths *kp, struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, kp->sock, sizeof(addr->sun_path));
}

static void set_timeouts(int sk)
{
	struct timeval tv = { .tv_sec = KEEPER_ANSWER_S };

	setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sk, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
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

/* The keeper's own files, to remove when it ends unless a newer keeper
 * has replaced them meanwhile. */
static struct keeper_own {
	const struct keeper_paths *kp;
	struct stat sock, pidf;
} own;

static void unlink_if_same(const char *path, const struct stat *was)
{
	struct stat now;

	/* The change time too: a file system that reuses a freed inode
	 * number at once (ext4) gives a newer keeper's file the number of
	 * ours. */
	if (!lstat(path, &now) && now.st_dev == was->st_dev && now.st_ino == was->st_ino &&
	    now.st_ctim.tv_sec == was->st_ctim.tv_sec && now.st_ctim.tv_nsec == was->st_ctim.tv_nsec)
		unlink(path);
}

/* Once: a keeper told to stop removes its files before it answers, so
 * the stopper may bind the name again at once. */
static void unlink_own(void)
{
	if (!own.kp)
		return;
	unlink_if_same(own.kp->sock, &own.sock);
	unlink_if_same(own.kp->pidf, &own.pidf);
	own.kp = NULL;
}

/* Listens, and writes the keeper's pid next to the socket: a client
 * checks that the socket's owner (SO_PEERCRED, taken at listen) is it. */
static int keeper_publish(int lsk, const struct keeper_paths *kp)
{
	char buf[24];
	int fd, n = snprintf(buf, sizeof(buf), "%d\n", getpid());

	own.kp = kp;
	if (listen(lsk, 4) || lstat(kp->sock, &own.sock))
		return -errno;
	fd = open(kp->pidf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, n) != n || fstat(fd, &own.pidf)) {
		close(fd);
		unlink(kp->pidf);
		return -EIO;
	}
	close(fd);
	return 0;
}

/* Until told, or the process (PIDFD) or the owner (OWNFD, -1: none)
 * exits, or an hour passes idle. */
static void keeper_serve(int lsk, int pidfd, int ownfd, struct keeper_state *st)
{
	for (;;) {
		struct pollfd p[3] = { { .fd = lsk, .events = POLLIN },
				       { .fd = pidfd, .events = POLLIN },
				       { .fd = ownfd, .events = POLLIN } };
		struct keeper_msg req;
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int c, n;

		n = poll(p, 3, KEEPER_IDLE_MS);
		if (n == 0 || (n > 0 && (p[1].revents || p[2].revents)))
			return;
		if (n < 0 || !(p[0].revents & POLLIN))
			continue;
		c = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		/* A client that says nothing must not hold the keeper. */
		set_timeouts(c);
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != getuid() ||
		    recv(c, &req, sizeof(req), 0) != sizeof(req) || req.magic != KEEPER_MAGIC) {
			close(c);
			continue;
		}
		if (req.op == KEEPER_STOP) {
			/* Gone before the stopper hears: the next round
			 * binds the name at once, and registers the VMAs
			 * again (an exit releases the userfaultfd only after
			 * it closed the connection: EBUSY, seen under load
			 * in pre-dump-anew). */
			unlink_own();
			close(lsk);
			for (int i = 0; i < st->nr_fds; i++)
				close(st->fds[i]);
			st->nr_fds = 0;
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

static void keeper_main(int lsk, int pidfd, int ownfd, struct keeper_state *st,
			const struct keeper_paths *kp, int ready)
{
	int keep[TRACK_MAX_FDS + 3];
	int nr = 0;

	if (keeper_publish(lsk, kp)) {
		pr_perror("The tracking keeper can't listen on %s", kp->sock);
		_exit(1);
	}
	if (write(ready, "k", 1) != 1)
		_exit(1);

	keep[nr++] = lsk;
	keep[nr++] = pidfd;
	keep[nr++] = ownfd;
	for (int i = 0; i < st->nr_fds; i++)
		keep[nr++] = st->fds[i];
	setsid();
	/* The keeper outlives the run: lmproc's blocked signals are not its. */
	interrupt_child_reset();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	keeper_close_others(keep, nr);
	keeper_serve(lsk, pidfd, ownfd, st);
	unlink_own();
	_exit(0);
}

/* The keeper listens, or could not: a bounded wait either way. */
static int wait_ready(int rfd, pid_t pid)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	char c;

	if (poll(&p, 1, KEEPER_ANSWER_S * 1000) == 1 && read(rfd, &c, 1) == 1)
		return 0;
	pr_err("The tracking keeper for pid %d did not start within %d s\n", pid, KEEPER_ANSWER_S);
	return -ETIMEDOUT;
}

static int keeper_bind(const struct keeper_paths *kp, pid_t pid)
{
	struct sockaddr_un addr;
	int lsk;

	/* What is left of a keeper that was killed. */
	unlink(kp->sock);
	unlink(kp->pidf);
	sock_addr(kp, &addr);
	lsk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&addr, sizeof(addr))) {
		pr_perror("Can't create the tracking keeper's socket %s for pid %d", kp->sock, pid);
		if (lsk >= 0)
			close(lsk);
		return -errno;
	}
	return lsk;
}

int keeper_start(pid_t pid, const struct keeper_state *st)
{
	struct keeper_state copy = *st;
	struct keeper_paths kp;
	int lsk = -1, pidfd, ownfd = -1, status, ret, ready[2] = { -1, -1 };
	pid_t child;

	ret = keeper_paths(pid, &kp);
	if (!ret)
		ret = keeper_stop(pid);
	if (ret)
		return ret;
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		pr_perror("Can't open a pidfd for pid %d", pid);
		return -errno;
	}
	if (st->owner > 0) {
		ownfd = pidfd_open(st->owner, 0);
		if (ownfd < 0) {
			ret = -errno;
			pr_perror("Can't open a pidfd for pid %d, the tracking keeper's owner",
				  st->owner);
			goto out;
		}
	}
	lsk = keeper_bind(&kp, pid);
	if (lsk < 0) {
		ret = lsk;
		goto out;
	}
	if (pipe2(ready, O_CLOEXEC) || (child = fork()) < 0) {
		pr_perror("Can't start the tracking keeper for pid %d", pid);
		ret = -errno;
		goto out;
	}
	if (child == 0) {
		/* Twice, so the keeper is nobody's child here. */
		if (fork() == 0) {
			close(ready[0]);
			keeper_main(lsk, pidfd, ownfd, &copy, &kp, ready[1]);
		}
		_exit(0);
	}
	waitpid(child, &status, 0);
	close(ready[1]);
	ready[1] = -1;
	ret = wait_ready(ready[0], pid);
out:
	for (int i = 0; i < 2; i++)
		if (ready[i] >= 0)
			close(ready[i]);
	if (lsk >= 0)
		close(lsk);
	if (ownfd >= 0)
		close(ownfd);
	close(pidfd);
	return ret;
}

static pid_t read_pidfile(const char *path)
{
	char buf[24] = "";
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? (pid_t)strtol(buf, NULL, 10) : -1;
}

/* The other end must be the keeper this path names: our uid, and the pid
 * the keeper wrote when it started listening. */
static int check_keeper_peer(int sk, pid_t pid, const struct keeper_paths *kp)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	pid_t want = read_pidfile(kp->pidf);

	if (getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		pr_perror("Can't read the credentials of the tracking keeper of pid %d", pid);
		return -errno;
	}
	if (cred.uid == geteuid() && want > 0 && cred.pid == want)
		return 0;
	pr_err("%s, the tracking keeper's socket of pid %d, is held by pid %d uid %u, not by its keeper (pid %d uid %u): refused\n",
	       kp->sock, pid, cred.pid, (unsigned int)cred.uid, want, (unsigned int)geteuid());
	return -EPERM;
}

/* A keeper that did not answer once is not asked again by this lmproc:
 * one error, not one more wait for each later step. */
static pid_t silent_keeper_of;

static int keeper_timed_out(pid_t pid, const char *what)
{
	pr_err("The tracking keeper of pid %d did not %s within %d s\n", pid, what,
	       KEEPER_ANSWER_S);
	silent_keeper_of = pid;
	return -ETIMEDOUT;
}

static int keeper_connect(pid_t pid)
{
	struct sockaddr_un addr;
	struct keeper_paths kp;
	int sk, ret;

	if (pid == silent_keeper_of)
		return -ETIMEDOUT;
	ret = keeper_paths(pid, &kp);
	if (ret)
		return ret;
	sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return -errno;
	set_timeouts(sk);
	sock_addr(&kp, &addr);
	if (connect(sk, (struct sockaddr *)&addr, sizeof(addr))) {
		ret = errno == ECONNREFUSED || errno == ENOENT ? -ENOENT : -errno;
		if (ret == -EAGAIN)
			ret = keeper_timed_out(pid, "accept the connection");
		else if (ret != -ENOENT)
			pr_perror("Can't reach the tracking keeper of pid %d at %s", pid, kp.sock);
		close(sk);
		return ret;
	}
	ret = check_keeper_peer(sk, pid, &kp);
	if (ret) {
		close(sk);
		return ret;
	}
	return sk;
}

static int recv_state(int sk, pid_t pid, struct keeper_state *st)
{
	char cbuf[CMSG_SPACE(sizeof(int) * TRACK_MAX_FDS)];
	struct keeper_msg m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return keeper_timed_out(pid, "answer");
	if (n != sizeof(m) || m.magic != KEEPER_MAGIC || m.nr_fds > TRACK_MAX_FDS) {
		pr_err("The tracking keeper of pid %d sent a bad reply\n", pid);
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
		ret = recv_state(sk, pid, st);
	close(sk);
	return ret;
}

int keeper_stop(pid_t pid)
{
	struct keeper_msg req = { .magic = KEEPER_MAGIC, .op = KEEPER_STOP };
	int sk = keeper_connect(pid);
	ssize_t n = 0;
	char c;

	if (sk < 0)
		return sk == -ENOENT ? 0 : sk;
	if (send(sk, &req, sizeof(req), MSG_NOSIGNAL) == sizeof(req))
		/* Wait until the keeper closed it: its fds are gone then. */
		while ((n = recv(sk, &c, 1, 0)) > 0)
			;
	close(sk);
	return n < 0 ? keeper_timed_out(pid, "stop") : 0;
}
