/* unixconn NAME FD CMD [ARG...]: connects a unix stream socket to the
 * abstract name NAME, puts it at FD and runs CMD (lmproc restore with
 * --inherit-fd fd[FD]:socket:[...]). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len;
	int s, fd;

	if (argc < 4) {
		fprintf(stderr, "usage: unixconn NAME FD CMD [ARG...]\n");
		return 2;
	}
	fd = atoi(argv[2]);
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s", argv[1]);
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(argv[1]);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	for (int i = 0; s >= 0 && connect(s, (struct sockaddr *)&a, len) && i < 500; i++)
		usleep(10000);
	if (s < 0 || dup2(s, fd) != fd) {
		fprintf(stderr, "unixconn: %s\n", strerror(errno));
		return 1;
	}
	if (s != fd)
		close(s);
	execvp(argv[3], argv + 3);
	fprintf(stderr, "unixconn: %s: %s\n", argv[3], strerror(errno));
	return 127;
}
