/* Unix sockets bound to a relative path: the task works in DIR/rel.d and
 * binds there by relative names.  After the restore every socket reads
 * back the same name and peer name, byte for byte, and the queues are
 * whole; a new client connecting by the relative name from the same cwd
 * still reaches the listener, and the socket files are where they were.
 *   L   stream listener "lsk" (mode 0640): client c (unbound) and the
 *       accepted a, "ask" queued to a, "answer" to c
 *   D   datagram socket "dsk": "one" queued from S, "two" from an unbound
 *       socket
 *   S   datagram socket "sub/snd" (in a subdirectory) */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sk-unix-state.h"
#include "test.h"

enum { L, C, A, D, S, NR };

static int fd[NR];
static struct sk_state st[NR];

static void put_to(int f, const char *to, const void *p, size_t len)
{
	struct sockaddr_un a;
	socklen_t alen = make_name(&a, to);

	if (sendto(f, p, len, 0, (struct sockaddr *)&a, alen) != (ssize_t)len)
		fail("sendto %s: %s", to, strerror(errno));
}

/* The next message (or stream bytes) is exactly WANT, from FROM if given. */
static void expect(int f, const char *want, const char *from, const char *what)
{
	struct pollfd pfd = {.fd = f, .events = POLLIN};
	struct sockaddr_un a = {};
	socklen_t alen = sizeof(a);
	char buf[64];
	ssize_t n;

	if (poll(&pfd, 1, 5000) != 1)
		fail("%s: nothing to read on fd %d", what, f);
	n = recvfrom(f, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&a, &alen);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		fail("%s: got %zd bytes, expected '%s': %s", what, n, want, strerror(errno));
	if (from && (alen != offsetof(struct sockaddr_un, sun_path) + strlen(from) + 1 ||
		     strcmp(a.sun_path, from)))
		fail("%s: from '%s' (%u bytes), expected '%s'", what, a.sun_path, alen, from);
}

static void check_file(const char *name, const struct stat *was)
{
	struct stat now;

	if (stat(name, &now) || !S_ISSOCK(now.st_mode) ||
	    (now.st_mode & 07777) != (was->st_mode & 07777))
		fail("%s: not a socket file of mode 0%o any more (%s)", name, was->st_mode & 07777,
		     strerror(errno));
}

/* A new client connecting by the relative name still gets through. */
static void check_new_client(void)
{
	struct pollfd pfd = {.fd = fd[L], .events = POLLIN};
	struct sockaddr_un a;
	socklen_t len = make_name(&a, "lsk");
	int c = socket(AF_UNIX, SOCK_STREAM, 0), acc;

	if (c < 0 || connect(c, (struct sockaddr *)&a, len))
		fail("a new client can't connect to 'lsk': %s", strerror(errno));
	if (poll(&pfd, 1, 5000) != 1)
		fail("the listener does not see the new client");
	acc = accept(fd[L], NULL, NULL);
	if (acc < 0)
		fail("accept of the new client: %s", strerror(errno));
	put(c, "ping", 4);
	expect(acc, "ping", NULL, "new client");
	put(acc, "pong", 4);
	expect(c, "pong", NULL, "new client's answer");
	close(c);
	close(acc);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	struct stat sl, sd, ss;
	char dir[4096];
	socklen_t len;
	int u;

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "rel.d");
	if (mkdir(dir, 0755) || chdir(dir) || mkdir("sub", 0755))
		fail("mkdir/chdir %s: %s", dir, strerror(errno));
	fd[L] = bound(SOCK_STREAM, "lsk");
	if (listen(fd[L], 5) || chmod("lsk", 0640))
		fail("listen: %s", strerror(errno));
	len = make_name(&a, "lsk");
	fd[C] = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd[C] < 0 || connect(fd[C], (struct sockaddr *)&a, len))
		fail("connect to lsk: %s", strerror(errno));
	fd[A] = accept(fd[L], NULL, NULL);
	if (fd[A] < 0)
		fail("accept: %s", strerror(errno));
	fd[D] = bound(SOCK_DGRAM, "dsk");
	fd[S] = bound(SOCK_DGRAM, "sub/snd");
	u = socket(AF_UNIX, SOCK_DGRAM, 0);
	put(fd[C], "ask", 3);
	put(fd[A], "answer", 6);
	put_to(fd[S], "dsk", "one", 3);
	put_to(u, "dsk", "two", 3);
	close(u);
	if (stat("lsk", &sl) || stat("dsk", &sd) || stat("sub/snd", &ss))
		fail("stat the socket files: %s", strerror(errno));
	for (int i = 0; i < NR; i++)
		sk_state_save(&st[i], fd[i]);

	test_waitsig();

	for (int i = 0; i < NR; i++)
		sk_state_check(i, fd[i], &st[i]);
	check_file("lsk", &sl);
	check_file("dsk", &sd);
	check_file("sub/snd", &ss);
	expect(fd[A], "ask", NULL, "a's bytes");
	expect(fd[C], "answer", NULL, "c's bytes");
	expect(fd[D], "one", "sub/snd", "dsk's first");
	expect(fd[D], "two", NULL, "dsk's second");
	put_to(fd[S], "dsk", "three", 5);
	expect(fd[D], "three", "sub/snd", "dsk after the restore");
	check_new_client();
	pass();
}
