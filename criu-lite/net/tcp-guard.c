/* Owns the guardian of a dump's TCP connections: a child of lmproc, not
 * a tracer, that holds a copy of each socket lmproc puts in repair mode
 * (passed before it enters it) and waits on a socket pair.  lmproc's
 * end closes when lmproc dies, even by SIGKILL; unless lmproc released
 * it before, the guardian then takes every one of them still in repair
 * mode out of it, as a dump undone would (sk-tcp.c), and exits.  The
 * network lock needs no such help: its nftables table is owned by
 * lmproc's netlink socket and goes with it (netlock.c). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "tcp-guard.h"

/* Enough for any tree this tool dumps; more are left unguarded, logged. */
#define GUARD_MAX_FDS 4096

enum { GUARD_ADD = 'A', GUARD_RELEASE = 'R' };

struct tcp_guard {
	pid_t pid;
	int sk;
	unsigned int nr;
};

static void leave_repair(const int *fds, unsigned int nr)
{
	socklen_t len;
	int on, off = 0;

	for (unsigned int i = 0; i < nr; i++) {
		len = sizeof(on);
		if (getsockopt(fds[i], IPPROTO_TCP, TCP_REPAIR, &on, &len) || !on)
			continue;
		setsockopt(fds[i], IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
	}
}

/* One message: ADD with one fd, or RELEASE.  0 at EOF, -1 on error. */
static int recv_one(int sk, char *op, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {op, 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *ch;
	ssize_t n;

	*fd = -1;
	do {
		n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n;
	ch = CMSG_FIRSTHDR(&mh);
	if (ch && ch->cmsg_level == SOL_SOCKET && ch->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(ch), sizeof(int));
	return 1;
}

static void __attribute__((noreturn)) guard_main(int sk)
{
	static int fds[GUARD_MAX_FDS];
	unsigned int nr = 0;
	char op;
	int fd;

	/* A terminal's signals go to the whole group: lmproc decides. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (dup2(sk, 0) < 0)
		_exit(1);
	close_range(1, ~0U, 0);
	while (recv_one(0, &op, &fd) > 0) {
		if (op == GUARD_RELEASE)
			_exit(0);
		if (fd >= 0 && nr < GUARD_MAX_FDS)
			fds[nr++] = fd;
		else if (fd >= 0)
			close(fd);
	}
	leave_repair(fds, nr);
	_exit(0);
}

struct tcp_guard *tcp_guard_start(void)
{
	struct tcp_guard *g = calloc(1, sizeof(*g));
	int p[2];

	if (!g || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p)) {
		pr_warn("No guardian of the connections in repair mode if lmproc is killed: %s\n",
			strerror(errno));
		free(g);
		return NULL;
	}
	g->pid = fork();
	if (g->pid == 0)
		guard_main(p[0]);
	close(p[0]);
	if (g->pid < 0) {
		pr_warn("No guardian of the connections in repair mode if lmproc is killed: %s\n",
			strerror(errno));
		close(p[1]);
		free(g);
		return NULL;
	}
	g->sk = p[1];
	return g;
}

int tcp_guard_add(struct tcp_guard *g, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	char op = GUARD_ADD;
	struct iovec iov = {&op, 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *ch;

	if (!g)
		return 0;
	if (g->nr == GUARD_MAX_FDS) {
		pr_warn("More than %d connections: the rest is not guarded if lmproc is killed\n",
			GUARD_MAX_FDS);
		return 0;
	}
	memset(&control, 0, sizeof(control));
	ch = CMSG_FIRSTHDR(&mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	/* Queued in the guardian's socket once sent: it gets the copy even
	 * if lmproc dies right after. */
	if (sendmsg(g->sk, &mh, MSG_NOSIGNAL) != 1) {
		pr_perror("Can't pass a TCP socket to the guardian of repair mode");
		return -errno;
	}
	g->nr++;
	return 0;
}

void tcp_guard_release(struct tcp_guard *g)
{
	char op = GUARD_RELEASE;

	if (!g)
		return;
	if (send(g->sk, &op, 1, MSG_NOSIGNAL) != 1)
		pr_warn("Can't release the guardian of repair mode (pid %d): %s\n", g->pid,
			strerror(errno));
	close(g->sk);
	/* It exits at RELEASE (or at the EOF that follows a failed send). */
	while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
		;
	free(g);
}
