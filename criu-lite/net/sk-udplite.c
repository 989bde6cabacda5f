/* Owns a UDP-Lite socket's own state: its checksum coverage, what it
 * sends (UDPLITE_SEND_CSCOV) and what it requires of what it receives
 * (UDPLITE_RECV_CSCOV); all else of it is a UDP socket's (sk-inet.c,
 * sk-udp-queue.c, sk-opts.c, the protocol their parameter).  Each option
 * set, even to 0, also sets a flag getsockopt() does not show: set to 0,
 * the socket sends a coverage field of 0 (the whole datagram) instead of
 * its length, and drops every datagram of partial coverage it receives,
 * which one never set accepts.  A value read as 0 is therefore asked of
 * the BPF iterator (task/kstate-iter.c), and a kernel that refuses the
 * iterator refuses the socket; a value other than 0 was set. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kstate-iter.h"
#include "log.h"
#include "sk-opts.h"
#include "sk-udp.h"
#include "uapi-compat.h"

/* The kernel makes a coverage other than 0 at least 8 (the header) and
 * at most 65535. */
#define CSCOV_MIN 8u
#define CSCOV_MAX 65535u

/* Whether each coverage option was set, for a socket reading 0. */
static int read_flags(const struct files_dump *d, const struct fd_parms *p, const char *what,
		      uint32_t *flags)
{
	struct kstate_file_rec r;
	int ret = kstate_file(d->pid, p->fd, &r);

	if (ret) {
		pr_err("pid %d fd %d (%s): can't read whether its checksum coverage was set to 0 "
		       "(BPF iterator): %s\n", d->pid, p->fd, what, strerror(-ret));
		return ret;
	}
	if (!(r.udp_flags & KSTATE_UDP_SEEN)) {
		pr_err("pid %d fd %d (%s): the BPF iterator does not see a UDP-Lite socket there: "
		       "its checksum coverage can't be read\n", d->pid, p->fd, what);
		return -EIO;
	}
	*flags = r.udp_flags;
	return 0;
}

int udplite_dump(const struct files_dump *d, const struct fd_parms *p, int fd, const char *what,
		 InetSkEntry *e)
{
	int send = sock_int(fd, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV);
	int recv = sock_int(fd, IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV);
	uint32_t flags = 0;
	int ret;

	if (send < 0 || recv < 0) {
		pr_perror("pid %d fd %d (%s): can't read its checksum coverage", d->pid, p->fd,
			  what);
		return -errno;
	}
	if (!send || !recv) {
		ret = read_flags(d, p, what, &flags);
		if (ret)
			return ret;
	}
	e->has_udplite_send_cscov = send || (flags & KSTATE_UDPLITE_SEND_CC);
	e->udplite_send_cscov = send;
	e->has_udplite_recv_cscov = recv || (flags & KSTATE_UDPLITE_RECV_CC);
	e->udplite_recv_cscov = recv;
	return 0;
}

static bool cscov_ok(bool has, uint32_t v)
{
	return !has || !v || (v >= CSCOV_MIN && v <= CSCOV_MAX);
}

const char *udplite_bad(const InetSkEntry *e)
{
	bool lite = e->type == SOCK_DGRAM && e->protocol == IPPROTO_UDPLITE;

	if (!lite && (e->has_udplite_send_cscov || e->has_udplite_recv_cscov))
		return "a checksum coverage on a socket other than UDP-Lite";
	if (!cscov_ok(e->has_udplite_send_cscov, e->udplite_send_cscov) ||
	    !cscov_ok(e->has_udplite_recv_cscov, e->udplite_recv_cscov))
		return "a checksum coverage out of range (0, or 8 to 65535)";
	return NULL;
}

int udplite_check(pid_t pid, int fd, const char *what, const InetSkEntry *e)
{
	int s;

	if (e->type != SOCK_DGRAM || e->protocol != IPPROTO_UDPLITE)
		return 0;
	s = socket(e->family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE);
	if (s < 0) {
		pr_perror("pid %d fd %d (%s): this kernel makes no UDP-Lite socket", pid, fd, what);
		return -errno;
	}
	close(s);
	return 0;
}

static int set_cscov(int fd, bool has, int name, uint32_t v)
{
	int val = v;

	if (!has)
		return 0;
	return setsockopt(fd, IPPROTO_UDPLITE, name, &val, sizeof(val)) ? -errno : 0;
}

int udplite_restore(int fd, const InetSkEntry *e, const char **which)
{
	int ret = set_cscov(fd, e->has_udplite_send_cscov, UDPLITE_SEND_CSCOV,
			    e->udplite_send_cscov);

	if (ret) {
		*which = "UDPLITE_SEND_CSCOV";
		return ret;
	}
	*which = "UDPLITE_RECV_CSCOV";
	return set_cscov(fd, e->has_udplite_recv_cscov, UDPLITE_RECV_CSCOV,
			 e->udplite_recv_cscov);
}
