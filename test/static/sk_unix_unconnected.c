/* Unix stream and seqpacket sockets that were never connected (a socket
 * never connected has no receive queue to peek): unnamed, bound to a path
 * or an abstract name without listening, and one with its options set.
 * After the restore each has its type, name, options and flags back, is
 * still unconnected, and still works: the bound ones listen and the
 * unnamed ones connect to them. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"

enum { ST_UNNAMED, ST_BOUND, SEQ_UNNAMED, SEQ_BOUND, ST_OPTS, NR };

struct sk {
	int type;
	int fd;
	struct sockaddr_un name;
	socklen_t name_len;
	int rcvbuf, sndbuf, passcred, peek_off, fl;
};

static struct sk sk[NR];

static int opt(int fd, int o)
{
	socklen_t len = sizeof(int);
	int v;

	if (getsockopt(fd, SOL_SOCKET, o, &v, &len))
		fail("getsockopt %d on fd %d: %s", o, fd, strerror(errno));
	return v;
}

static void read_state(struct sk *s, int fd)
{
	s->name_len = sizeof(s->name);
	if (getsockname(fd, (struct sockaddr *)&s->name, &s->name_len))
		fail("getsockname fd %d: %s", fd, strerror(errno));
	s->type = opt(fd, SO_TYPE);
	s->rcvbuf = opt(fd, SO_RCVBUF);
	s->sndbuf = opt(fd, SO_SNDBUF);
	s->passcred = opt(fd, SO_PASSCRED);
	s->peek_off = opt(fd, SO_PEEK_OFF);
	s->fl = fcntl(fd, F_GETFL);
}

static void make(int i, int type, const char *path, const char *abstract)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len = 0;

	sk[i].fd = socket(AF_UNIX, type, 0);
	if (sk[i].fd < 0)
		fail("socket: %s", strerror(errno));
	if (path) {
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
	} else if (abstract) {
		snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s-%d", abstract, getpid());
		len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
	}
	if (len && bind(sk[i].fd, (struct sockaddr *)&a, len))
		fail("bind socket %d: %s", i, strerror(errno));
}

static void set_opts(int fd)
{
	int rcv = 65536, snd = 32768, one = 1, off = 7;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)) ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) ||
	    fcntl(fd, F_SETFL, O_NONBLOCK))
		fail("set options: %s", strerror(errno));
}

static void check(int i)
{
	struct sk now;

	read_state(&now, sk[i].fd);
	if (now.type != sk[i].type || now.name_len != sk[i].name_len ||
	    memcmp(&now.name, &sk[i].name, now.name_len))
		fail("socket %d: type %d, name %u bytes; was type %d, %u bytes", i, now.type,
		     now.name_len, sk[i].type, sk[i].name_len);
	if (now.rcvbuf != sk[i].rcvbuf || now.sndbuf != sk[i].sndbuf ||
	    now.passcred != sk[i].passcred || now.peek_off != sk[i].peek_off ||
	    now.fl != sk[i].fl)
		fail("socket %d: rcvbuf %d sndbuf %d passcred %d peek_off %d flags 0%o; were "
		     "%d %d %d %d 0%o", i, now.rcvbuf, now.sndbuf, now.passcred, now.peek_off,
		     now.fl, sk[i].rcvbuf, sk[i].sndbuf, sk[i].passcred, sk[i].peek_off,
		     sk[i].fl);
	if (getpeername(sk[i].fd, (struct sockaddr *)&now.name, &now.name_len) == 0 ||
	    errno != ENOTCONN)
		fail("socket %d is connected after the restore", i);
}

/* Listener L takes a connection from client C and a message over it. */
static void works(int l, int c)
{
	char buf[8];
	int a;

	if (listen(sk[l].fd, 1))
		fail("listen on socket %d: %s", l, strerror(errno));
	if (connect(sk[c].fd, (struct sockaddr *)&sk[l].name, sk[l].name_len))
		fail("connect socket %d to %d: %s", c, l, strerror(errno));
	a = accept(sk[l].fd, NULL, NULL);
	if (a < 0)
		fail("accept on socket %d: %s", l, strerror(errno));
	if (write(sk[c].fd, "ping", 4) != 4 || read(a, buf, sizeof(buf)) != 4 ||
	    memcmp(buf, "ping", 4))
		fail("socket %d to %d: the message did not come through", c, l);
	close(a);
}

int main(int argc, char **argv)
{
	char path[4096];

	test_init(argc, argv);
	test_path(path, sizeof(path), "st");
	if (strlen(path) >= sizeof(sk[0].name.sun_path))
		fail("%s is too long for a socket name", path);
	make(ST_UNNAMED, SOCK_STREAM, NULL, NULL);
	make(ST_BOUND, SOCK_STREAM, path, NULL);
	make(SEQ_UNNAMED, SOCK_SEQPACKET, NULL, NULL);
	make(SEQ_BOUND, SOCK_SEQPACKET, NULL, "lmproc-unconnected-seq");
	make(ST_OPTS, SOCK_STREAM, NULL, NULL);
	set_opts(sk[ST_OPTS].fd);
	for (int i = 0; i < NR; i++)
		read_state(&sk[i], sk[i].fd);

	test_waitsig();

	for (int i = 0; i < NR; i++)
		check(i);
	works(ST_BOUND, ST_UNNAMED);
	works(SEQ_BOUND, SEQ_UNNAMED);
	pass();
}
