/* Connections a unix listener has not accepted yet, from clients in a
 * child: the root listens on DIR/pt (stream) and forks a child, whose
 * clients c1 (fd 8, bound to an abstract name) and c2 (fd 7, bound to
 * another) connect in that order and wait.  After the restore the root's
 * accept() returns c1's connection, then c2's (their names as peer
 * names), and bytes pass both ways between each client and the socket
 * accepted for it. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define LFD 5
static const int cfd[2] = {8, 7};

static socklen_t make_name(struct sockaddr_un *a, const char *name, bool abstract)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (!abstract) {
		snprintf(a->sun_path, sizeof(a->sun_path), "%s", name);
		return offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
	}
	snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "%s", name);
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static bool got(int f, const char *want)
{
	struct pollfd pfd = {.fd = f, .events = POLLIN};
	char buf[16];

	return poll(&pfd, 1, 5000) == 1 &&
	       recv(f, buf, sizeof(buf), MSG_DONTWAIT) == (ssize_t)strlen(want) &&
	       !memcmp(buf, want, strlen(want));
}

/* Connects c1 and c2 to L, says so, blocks across the checkpoint, then
 * answers what comes on each: exit status 0 if all went well. */
static void child(const struct sockaddr_un *l, socklen_t l_len, struct sockaddr_un *names,
		  const socklen_t *lens, int ready, int go)
{
	char c;

	close(LFD);
	for (int i = 0; i < 2; i++) {
		int f = socket(AF_UNIX, SOCK_STREAM, 0);

		if (f < 0 || dup2(f, cfd[i]) != cfd[i] ||
		    bind(cfd[i], (struct sockaddr *)&names[i], lens[i]) ||
		    connect(cfd[i], (const struct sockaddr *)l, l_len))
			_exit(2);
		close(f);
	}
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
		_exit(3);
	for (int i = 0; i < 2; i++)
		if (!got(cfd[i], "hi") || send(cfd[i], "ho", 2, 0) != 2)
			_exit(4 + i);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_un l, names[2], a;
	socklen_t l_len, lens[2], len;
	char path[4096], name[64], c;
	int f, ready[2], go[2], status;
	pid_t pid;

	test_init(argc, argv);
	test_path(path, sizeof(path), "pt");
	if (strlen(path) >= sizeof(l.sun_path))
		fail("%s is too long for a socket name", path);
	l_len = make_name(&l, path, false);
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "lmproc-test-pendtree-%d-c%d", getpid(), i + 1);
		lens[i] = make_name(&names[i], name, true);
	}
	f = socket(AF_UNIX, SOCK_STREAM, 0);
	if (f < 0 || dup2(f, LFD) != LFD || bind(LFD, (struct sockaddr *)&l, l_len) ||
	    listen(LFD, 4))
		fail("listener: %s", strerror(errno));
	close(f);
	if (pipe(ready) || pipe(go))
		fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (!pid)
		child(&l, l_len, names, lens, ready[1], go[0]);
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1)
		fail("the child's clients did not connect");
	close(ready[0]);

	test_waitsig();

	if (write(go[1], "g", 1) != 1)
		fail("wake the child: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		int acc;

		len = sizeof(a);
		acc = accept(LFD, (struct sockaddr *)&a, &len);
		if (acc < 0)
			fail("accept %d: %s", i + 1, strerror(errno));
		if (len != lens[i] || memcmp(&a, &names[i], len))
			fail("accept %d gave another client's connection", i + 1);
		if (send(acc, "hi", 2, 0) != 2 || !got(acc, "ho"))
			fail("no answer from client %d: %s", i + 1, strerror(errno));
		close(acc);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child failed (status 0x%x)", status);
	pass();
}
