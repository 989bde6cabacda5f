/* Files in flight in unix socket queues (SCM_RIGHTS).  For each type
 * (stream, datagram, seqpacket) a socket pair queues, interleaved with
 * plain messages: the read end of a pipe with bytes in it that the sender
 * closed (both ends), a regular file the process still holds (at another
 * position than 0), an eventfd the sender closed, and a message with two
 * files (another eventfd, and the same regular file again).  A child holds
 * one end of another pair: it has queued a pipe end, the inherited
 * regular file and an eventfd to the parent, and the parent an eventfd to
 * it, and a file only the child holds (the parent moves it, the child
 * sees it moved).  A datagram socket bound to a name has datagrams with an eventfd
 * and a pipe end from an unbound socket, closed since.  After the restore each receiver reads every message in order with
 * its files: the pipes give their bytes then EOF, the eventfds their
 * counts, and every copy of the regular file shares one position with
 * the process's own fd (lseek on one shows on the others).  A stream
 * socket may hand the files out with the bytes queued before their
 * message (a peek can't tell where it starts): never later, in order. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define NR_TYPES 3
#define NR_MSGS 7
#define MSG_LEN 64
#define MAX_FILES 16

/* OWN: a file only the child holds (besides the message). */
enum kind { PLAIN, PIPE, REG, EFD, EFD_REG, OWN };
#define OWN_POS 55
#define OWN_MOVED 4321

static const int types[NR_TYPES] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
static const enum kind msgs[NR_MSGS] = { PLAIN, PIPE, PLAIN, REG, EFD, PLAIN, EFD_REG };
static int sp[NR_TYPES][2], tp[2], go_pipe[2], res_pipe[2], regfd, bound, ownfd = -1;
static uint64_t seed;

static int files_of(enum kind k)
{
	return k == PLAIN ? 0 : k == EFD_REG ? 2 : 1;
}

static void make_msg(char *buf, int who, int n)
{
	for (int i = 0; i < MSG_LEN; i++)
		buf[i] = (char)test_mix(seed + who * 7919 + n * 131 + i);
}

static void make_pipe_data(char *buf, int who)
{
	memset(buf, 0, 32);
	snprintf(buf, 32, "pipe %d %llx", who, (unsigned long long)(seed + who));
}

static int send_files(int s, const char *buf, const int *fds, int nr)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 2)];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = MSG_LEN };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nr) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nr);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nr);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nr);
	}
	return sendmsg(s, &mh, 0) == MSG_LEN ? 0 : -1;
}

/* Message N of kind K from WHO, with new files it closes once sent. */
static int send_one(int s, int who, int n, enum kind k)
{
	char buf[MSG_LEN], data[32];
	int fds[2] = { -1, -1 }, p[2], nr = files_of(k), ret;

	make_msg(buf, who, n);
	if (k == PIPE) {
		make_pipe_data(data, who);
		if (pipe(p) || write(p[1], data, sizeof(data)) != sizeof(data))
			return -1;
		close(p[1]);
		fds[0] = p[0];
	} else if (k == REG) {
		fds[0] = regfd;
	} else if (k == OWN) {
		fds[0] = ownfd;
	} else if (k == EFD || k == EFD_REG) {
		fds[0] = eventfd(who * 10 + n, EFD_CLOEXEC);
		fds[1] = regfd;
	}
	if (nr && fds[0] < 0)
		return -1;
	ret = send_files(s, buf, fds, nr);
	if (fds[0] >= 0 && fds[0] != regfd && fds[0] != ownfd)
		close(fds[0]);
	return ret;
}

/* The files of message N (kind K, from WHO) work and are what was sent. */
static int check_files(int who, int n, enum kind k, const int *fds, char *why, size_t len)
{
	char data[32], want[32], end;
	uint64_t v;

	if (k == PIPE) {
		make_pipe_data(want, who);
		if (read(fds[0], data, sizeof(data)) != sizeof(data) || memcmp(data, want, 32) ||
		    read(fds[0], &end, 1) != 0) {
			snprintf(why, len, "message %d: its pipe does not give its bytes, then EOF",
				 n);
			return -1;
		}
	} else if (k == OWN) {
		/* Moved for the child to see through its own fd. */
		if (lseek(fds[0], 0, SEEK_CUR) != OWN_POS ||
		    lseek(fds[0], OWN_MOVED, SEEK_SET) != OWN_MOVED) {
			snprintf(why, len, "message %d: the child's file is not at %d", n, OWN_POS);
			return -1;
		}
	} else if (k == EFD || k == EFD_REG) {
		v = 1;
		if (read(fds[0], &v, 8) != 8 || v != (uint64_t)(who * 10 + n) ||
		    write(fds[0], &v, 8) != 8 || read(fds[0], &v, 8) != 8 ||
		    v != (uint64_t)(who * 10 + n)) {
			snprintf(why, len, "message %d: its eventfd counts %llu", n,
				 (unsigned long long)v);
			return -1;
		}
	}
	for (int i = 0; i < files_of(k); i++) {
		off_t at = 1000 + who * 100 + n * 10 + i;

		if ((k == REG || (k == EFD_REG && i == 1)) &&
		    (lseek(regfd, at, SEEK_SET) != at || lseek(fds[i], 0, SEEK_CUR) != at ||
		     lseek(fds[i], at + 1, SEEK_SET) != at + 1 ||
		     lseek(regfd, 0, SEEK_CUR) != at + 1)) {
			snprintf(why, len, "message %d: its regular file does not share its "
				 "position with fd %d", n, regfd);
			return -1;
		}
	}
	for (int i = 0; i < files_of(k); i++)
		close(fds[i]);
	return 0;
}

/* One recvmsg of up to LEN bytes; its files are added to FDS[*NR]. */
static ssize_t recv_files(int s, char *buf, size_t len, int *fds, int *nr, int *flags)
{
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_FILES)];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t r = recvmsg(s, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	*flags = mh.msg_flags;
	for (struct cmsghdr *c = r >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c))
		for (size_t i = 0; c->cmsg_type == SCM_RIGHTS &&
				   i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
			if (*nr < MAX_FILES)
				fds[(*nr)++] = ((int *)CMSG_DATA(c))[i];
	return r;
}

/* Every message of WHO in the queue of S, in order, with its files.  A
 * stream socket: each message by as many reads as it takes, its files by
 * then at the latest. */
static int read_all(int s, int type, int who, const enum kind *ks, int nr_msgs, char *why,
		    size_t len)
{
	int fds[MAX_FILES], nr = 0, used = 0, flags;
	char buf[MSG_LEN * 2], want[MSG_LEN];

	for (int n = 0; n < nr_msgs; n++) {
		ssize_t got = 0, r;

		make_msg(want, who, n);
		do {
			r = recv_files(s, buf + got, type == SOCK_STREAM ? (size_t)(MSG_LEN - got) :
					  sizeof(buf), fds, &nr, &flags);
			got += r > 0 ? r : 0;
		} while (type == SOCK_STREAM && r > 0 && got < MSG_LEN);
		if (got != MSG_LEN || memcmp(buf, want, MSG_LEN) || (flags & MSG_CTRUNC)) {
			snprintf(why, len, "type %d, message %d from %d: %zd bytes%s (%s)", type, n,
				 who, got, flags & MSG_CTRUNC ? ", files cut" : "",
				 r < 0 ? strerror(errno) : "wrong data");
			return -1;
		}
		if (nr - used < files_of(ks[n]) ||
		    (type != SOCK_STREAM && nr - used != files_of(ks[n]))) {
			snprintf(why, len, "type %d, message %d from %d: %d files, %d expected",
				 type, n, who, nr - used, files_of(ks[n]));
			return -1;
		}
		if (check_files(who, n, ks[n], fds + used, why, len))
			return -1;
		used += files_of(ks[n]);
	}
	if (nr != used || recv(s, buf, 1, MSG_DONTWAIT) != -1) {
		snprintf(why, len, "type %d from %d: more in the queue than was sent", type, who);
		return -1;
	}
	return 0;
}

static const enum kind child_msgs[4] = { PIPE, PLAIN, EFD_REG, OWN };
static const enum kind bound_msgs[3] = { EFD, PLAIN, PIPE };
static const enum kind parent_msgs[2] = { EFD, PLAIN };

static void child(void)
{
	char why[200] = "ok", path[256], c;

	close(tp[0]);
	for (int t = 0; t < NR_TYPES; t++) {
		close(sp[t][0]);
		close(sp[t][1]);
	}
	test_path(path, sizeof(path), "scm-child-file");
	ownfd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (ownfd < 0 || ftruncate(ownfd, 8192) || lseek(ownfd, OWN_POS, SEEK_SET) != OWN_POS)
		_exit(2);
	for (int n = 0; n < 4; n++)
		if (send_one(tp[1], 10, n, child_msgs[n]))
			_exit(2);
	if (write(res_pipe[1], "c", 1) != 1 || read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	read_all(tp[1], SOCK_SEQPACKET, 11, parent_msgs, 2, why, sizeof(why));
	if (!strcmp(why, "ok") && lseek(ownfd, 0, SEEK_CUR) != OWN_MOVED)
		snprintf(why, sizeof(why), "its file, moved by the parent, is at %lld",
			 (long long)lseek(ownfd, 0, SEEK_CUR));
	if (write(res_pipe[1], why, sizeof(why)) != sizeof(why))
		_exit(3);
	_exit(0);
}

static void setup(void)
{
	char path[256];
	int fd;

	test_path(path, sizeof(path), "scm-file");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	/* Above the sockets: restore makes it before its fd's turn comes. */
	regfd = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	if (fd < 0 || regfd < 0 || ftruncate(regfd, 8192) || lseek(regfd, 77, SEEK_SET) != 77)
		fail("file %s: %s", path, strerror(errno));
	close(fd);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, tp) || pipe(go_pipe) || pipe(res_pipe))
		fail("socketpair/pipe: %s", strerror(errno));
	for (int t = 0; t < NR_TYPES; t++)
		if (socketpair(AF_UNIX, types[t], 0, sp[t]))
			fail("socketpair type %d: %s", types[t], strerror(errno));
}

/* A datagram socket bound to an abstract name, with datagrams from an
 * unbound socket, closed since. */
static void queue_bound(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len;
	int s;

	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "lmproc-scm-%d", getpid());
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
	bound = socket(AF_UNIX, SOCK_DGRAM, 0);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (bound < 0 || s < 0 || bind(bound, (struct sockaddr *)&a, len) ||
	    connect(s, (struct sockaddr *)&a, len))
		fail("bound socket: %s", strerror(errno));
	for (int n = 0; n < 3; n++)
		if (send_one(s, 12, n, bound_msgs[n]))
			fail("send to the bound socket: %s", strerror(errno));
	close(s);
}

static void queue_parent(void)
{
	char c;

	close(tp[1]);
	for (int t = 0; t < NR_TYPES; t++)
		for (int n = 0; n < NR_MSGS; n++)
			if (send_one(sp[t][0], t, n, msgs[n]))
				fail("send type %d message %d: %s", types[t], n, strerror(errno));
	if (read(res_pipe[0], &c, 1) != 1)
		fail("the child did not queue its messages");
	for (int n = 0; n < 2; n++)
		if (send_one(tp[0], 11, n, parent_msgs[n]))
			fail("send to the child: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	char why[200];
	pid_t pid;
	int st;

	test_init(argc, argv);
	seed = test_seed();
	setup();
	pid = fork();
	if (pid == 0)
		child();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	queue_parent();
	queue_bound();
	test_waitsig();

	for (int t = 0; t < NR_TYPES; t++)
		if (read_all(sp[t][1], types[t], t, msgs, NR_MSGS, why, sizeof(why)))
			fail("%s", why);
	if (read_all(tp[0], SOCK_SEQPACKET, 10, child_msgs, 4, why, sizeof(why)))
		fail("from the child: %s", why);
	if (read_all(bound, SOCK_DGRAM, 12, bound_msgs, 3, why, sizeof(why)))
		fail("bound socket: %s", why);
	if (write(go_pipe[1], "g", 1) != 1 || read(res_pipe[0], why, sizeof(why)) != sizeof(why))
		fail("child: no report: %s", strerror(errno));
	if (strcmp(why, "ok"))
		fail("child: %s", why);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("child ended with status 0x%x", st);
	pass();
}
