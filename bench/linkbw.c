/* linkbw: the two bandwidths bench/migrate.sh sets migration times
 * against, measured in the same run: a plain TCP transfer of MIB MiB (no
 * TLS: what the link itself carries) and memcpy of MIB MiB between two
 * buffers (what a copy into a tmpfs page store costs at best).  The
 * transfer goes over 127.0.0.1, or, given two network namespaces (files
 * such as /proc/PID/ns/net) and an address of the first, from the second
 * to that address: across the link between two "hosts".  Prints
 * "tcp_mib_s X" and "memcpy_mib_s Y".  Exits 1 if a socket call fails;
 * the child is killed and reaped on every path.
 *
 * usage: linkbw MIB [RECV_NETNS SEND_NETNS ADDR] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1UL << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Where the transfer goes: ADDR (loopback by default), received in the
 * network namespace RECV_NS and sent from SEND_NS (NULL: this one). */
struct path {
	const char *recv_ns, *send_ns;
	struct in_addr addr;
};

/* enter_ns NS: into the network namespace file NS (NULL: stay). */
static int enter_ns(const char *ns)
{
	int fd, ret;

	if (!ns)
		return 0;
	fd = open(ns, O_RDONLY | O_CLOEXEC);
	ret = fd < 0 ? -1 : setns(fd, CLONE_NEWNET);
	if (ret)
		fprintf(stderr, "linkbw: can't enter %s: %s\n", ns, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The sender: connects to the path's address, PORT, and writes MIB MiB. */
static void sender(const struct path *p, unsigned short port, size_t mib, char *buf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd;

	sa.sin_addr = p->addr;
	if (enter_ns(p->send_ns))
		_exit(1);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		_exit(1);
	for (size_t i = 0; i < mib; i++)
		if (write_all(fd, buf, CHUNK))
			_exit(1);
	_exit(0);
}

static int listen_any(const struct path *p, unsigned short *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd;

	if (enter_ns(p->recv_ns))
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr = p->addr;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		perror("linkbw: listen");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Reads everything the sender writes; its MiB/s, or -1. */
static double tcp_mib_s(const struct path *p, size_t mib, char *buf)
{
	unsigned long long got = 0;
	unsigned short port;
	int lfd, fd, status;
	double t0, t1;
	ssize_t n;
	pid_t pid;

	lfd = listen_any(p, &port);
	if (lfd < 0)
		return -1;
	pid = fork();
	if (pid == 0)
		sender(p, port, mib, buf);
	if (pid < 0) {
		close(lfd);
		return -1;
	}
	alarm(60);
	fd = accept(lfd, NULL, NULL);
	close(lfd);
	t0 = now_s();
	while (fd >= 0 && (n = read(fd, buf, CHUNK)) > 0)
		got += n;
	t1 = now_s();
	alarm(0);
	if (fd >= 0)
		close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (got != mib * CHUNK) {
		fprintf(stderr, "linkbw: received %llu of %zu MiB\n", got >> 20, mib);
		return -1;
	}
	return mib / (t1 - t0);
}

static double memcpy_mib_s(size_t mib)
{
	size_t len = mib * CHUNK;
	char *a = malloc(len), *b = malloc(len);
	double t0, t1;

	if (!a || !b) {
		free(a);
		free(b);
		return -1;
	}
	/* Fault both in first: the copy alone is timed. */
	memset(a, 1, len);
	memset(b, 2, len);
	t0 = now_s();
	memcpy(b, a, len);
	t1 = now_s();
	if (b[len - 1] != 1)
		t1 = t0;
	free(a);
	free(b);
	return t1 > t0 ? mib / (t1 - t0) : -1;
}

int main(int argc, char **argv)
{
	size_t mib = argc == 2 || argc == 5 ? strtoul(argv[1], NULL, 10) : 0;
	struct path p = { .addr.s_addr = htonl(INADDR_LOOPBACK) };
	char *buf = malloc(CHUNK);
	double tcp, mem;

	if (argc == 5) {
		p.recv_ns = argv[2];
		p.send_ns = argv[3];
		if (inet_pton(AF_INET, argv[4], &p.addr) != 1)
			mib = 0;
	}
	if (!mib || !buf) {
		fprintf(stderr, "usage: linkbw MIB [RECV_NETNS SEND_NETNS ADDR]\n");
		return 2;
	}
	memset(buf, 0x5a, CHUNK);
	tcp = tcp_mib_s(&p, mib, buf);
	mem = memcpy_mib_s(mib);
	free(buf);
	if (tcp < 0 || mem < 0)
		return 1;
	printf("tcp_mib_s %.0f\nmemcpy_mib_s %.0f\n", tcp, mem);
	return 0;
}
