/* Bound unix sockets whose socket file is gone: removed after bind (as a
 * tmp cleaner or a daemon's own cleanup does), or replaced by another
 * file.  After the restore each socket reads back the same name and peer
 * name, byte for byte, its queue and connections work, and the directory
 * is as it was: the removed name still absent, the replacing file the
 * same file (inode, mode, contents), nothing left over.
 *   L   stream listener DIR/gone.d/gl, file removed: client c (unbound)
 *       and the accepted a, "ask" queued to a, "answer" to c
 *   R   datagram socket DIR/gone.d/gr, file replaced by a regular file:
 *       "one" queued from an unbound socket, "two" from k
 *   K   datagram socket connected to gr by name (before the removal) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

enum { L, C, A, R, K, NR };

static int fd[NR];
static struct sk_state st[NR];
static char dir[4096], gl[4096], gr[4096];

static void expect(int f, const char *want, const char *what)
{
	struct pollfd pfd = {.fd = f, .events = POLLIN};
	char buf[64];
	ssize_t n;

	if (poll(&pfd, 1, 5000) != 1)
		fail("%s: nothing to read on fd %d", what, f);
	n = recv(f, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		fail("%s: got %zd bytes, expected '%s': %s", what, n, want, strerror(errno));
}

/* The directory holds exactly gr, the same file with the same bytes. */
static void check_dir(const struct stat *was)
{
	struct stat now;
	struct dirent *de;
	char buf[32];
	DIR *d;
	ssize_t n;

	if (!lstat(gl, &now) || errno != ENOENT)
		fail("%s is there again (%s)", gl, strerror(errno));
	if (lstat(gr, &now) || now.st_ino != was->st_ino || now.st_mode != was->st_mode)
		fail("%s is not the file that replaced the socket's any more", gr);
	n = test_read_file(gr, buf, sizeof(buf));
	if (n != 11 || memcmp(buf, "replacement", 11))
		fail("%s has other contents (%zd bytes)", gr, n);
	d = opendir(dir);
	if (!d)
		fail("opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "gr"))
			fail("%s/%s is left over", dir, de->d_name);
	closedir(d);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	struct stat sr;
	socklen_t len;
	int u, f;

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "gone.d");
	test_path(gl, sizeof(gl), "gone.d/gl");
	test_path(gr, sizeof(gr), "gone.d/gr");
	if (strlen(gl) >= sizeof(a.sun_path))
		fail("%s is too long for a socket name", gl);
	if (mkdir(dir, 0755))
		fail("mkdir %s: %s", dir, strerror(errno));
	fd[L] = bound(SOCK_STREAM, gl);
	if (listen(fd[L], 5))
		fail("listen: %s", strerror(errno));
	len = make_name(&a, gl);
	fd[C] = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd[C] < 0 || connect(fd[C], (struct sockaddr *)&a, len))
		fail("connect to %s: %s", gl, strerror(errno));
	fd[A] = accept(fd[L], NULL, NULL);
	if (fd[A] < 0)
		fail("accept: %s", strerror(errno));
	fd[R] = bound(SOCK_DGRAM, gr);
	len = make_name(&a, gr);
	fd[K] = socket(AF_UNIX, SOCK_DGRAM, 0);
	u = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd[K] < 0 || u < 0 || connect(fd[K], (struct sockaddr *)&a, len) ||
	    sendto(u, "one", 3, 0, (struct sockaddr *)&a, len) != 3)
		fail("connect/send to %s: %s", gr, strerror(errno));
	close(u);
	put(fd[K], "two", 3);
	put(fd[C], "ask", 3);
	put(fd[A], "answer", 6);
	if (unlink(gl) || unlink(gr))
		fail("unlink the socket files: %s", strerror(errno));
	f = open(gr, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (f < 0 || write(f, "replacement", 11) != 11 || fstat(f, &sr))
		fail("replace %s: %s", gr, strerror(errno));
	close(f);
	for (int i = 0; i < NR; i++)
		sk_state_save(&st[i], fd[i]);

	test_waitsig();

	for (int i = 0; i < NR; i++)
		sk_state_check(i, fd[i], &st[i]);
	check_dir(&sr);
	if (poll(&(struct pollfd){.fd = fd[L], .events = POLLIN}, 1, 0))
		fail("the listener has a connection waiting");
	expect(fd[A], "ask", "a's bytes");
	expect(fd[C], "answer", "c's bytes");
	expect(fd[R], "one", "gr's first");
	expect(fd[R], "two", "gr's second");
	put(fd[K], "three", 5);
	expect(fd[R], "three", "gr after the restore");
	put(fd[C], "more", 4);
	expect(fd[A], "more", "a after the restore");
	pass();
}
