/* Owns what is particular to raw IP sockets (SOCK_RAW, any protocol) and
 * ICMP "ping" sockets (SOCK_DGRAM with IPPROTO_ICMP or IPPROTO_ICMPV6),
 * which sk-inet.c dumps and restores like a UDP socket: their state comes
 * from the socket's namespace's /proc/PID/net/{raw,raw6,icmp,icmp6} (a
 * connected raw or ping socket has no peer getpeername() shows, since it
 * has no port), found by inode.  A raw socket's bound address has no port
 * (getsockname() shows its protocol there); a ping socket's port is its
 * ICMP id, given back by bind().  Their options (ICMP_FILTER,
 * ICMPV6_FILTER, IP_HDRINCL, IPV6_CHECKSUM...) are sk-opts.c's.  Refused:
 * a packet in either queue (nothing puts one back from outside). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sock_diag.h>

#include "common.h"
#include "log.h"
#include "sk-raw.h"

bool inet_raw_kind(int type, int proto)
{
	return type == SOCK_RAW ||
	       (type == SOCK_DGRAM && (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6));
}

/* One line of /proc/net/{raw,raw6,icmp,icmp6}. */
struct net_line {
	char rem[40];
	unsigned state, txq, rxq;
	unsigned long ino;
};

static bool parse_line(const char *s, struct net_line *l)
{
	char local[40];
	unsigned lport, rport;

	return sscanf(s,
		      " %*d: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %x:%x %*x:%*x %*x %*u %*d %lu",
		      local, &lport, l->rem, &rport, &l->state, &l->txq, &l->rxq, &l->ino) == 8;
}

/* The hex address of /proc/net (each 32-bit word in host order) into
 * BUF (4 or 16 bytes). */
static bool hex_addr(const char *hex, uint8_t *buf, size_t len)
{
	if (strlen(hex) != len * 2)
		return false;
	for (size_t i = 0; i < len / 4; i++) {
		char word[9];
		uint32_t v;

		memcpy(word, hex + i * 8, 8);
		word[8] = 0;
		v = strtoul(word, NULL, 16);
		memcpy(buf + i * 4, &v, 4);
	}
	return true;
}

/* The line of socket INO in PID's table for E's kind: 1 found, 0 not
 * listed (a ping socket never bound), -errno. */
static int find_line(pid_t pid, const InetSkEntry *e, unsigned long ino, struct net_line *l)
{
	char path[64], line[512];
	const char *table = e->type == SOCK_RAW ? "raw" : "icmp";
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/net/%s%s", pid, table,
		 e->family == AF_INET6 ? "6" : "");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!ret && fgets(line, sizeof(line), f))
		ret = parse_line(line, l) && l->ino == ino;
	fclose(f);
	return ret;
}

const char *inet_raw_name(const InetSkEntry *e, char *buf, size_t len)
{
	if (e->type == SOCK_RAW)
		snprintf(buf, len, "raw IPv%c socket of protocol %u",
			 e->family == AF_INET ? '4' : '6', e->protocol);
	else
		snprintf(buf, len, "ICMP%s ping socket", e->family == AF_INET ? "" : "v6");
	return buf;
}

int inet_raw_state(const struct files_dump *d, const struct fd_parms *p, int fd, const char *what,
		   InetSkEntry *e, uint8_t *dbuf)
{
	uint32_t mi[SK_MEMINFO_VARS] = { 0 };
	socklen_t mlen = sizeof(mi);
	struct net_line l;
	size_t alen = e->family == AF_INET ? 4 : 16;
	int ret = find_line(d->pid, e, p->st.st_ino, &l);

	if (ret < 0) {
		pr_err("pid %d fd %d (%s): can't read its state from /proc: %s\n", d->pid, p->fd,
		       what, strerror(-ret));
		return ret;
	}
	/* Not a recv(MSG_PEEK): it would take a pending error. */
	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &mlen)) {
		pr_perror("pid %d fd %d (%s): can't read its memory", d->pid, p->fd, what);
		return -errno;
	}
	if ((ret && (l.txq || l.rxq)) || mi[SK_MEMINFO_RMEM_ALLOC] || mi[SK_MEMINFO_WMEM_ALLOC]) {
		pr_err("pid %d fd %d (%s): packets queued: not supported\n", d->pid, p->fd, what);
		return -EOPNOTSUPP;
	}
	/* TCP_ESTABLISHED: connect() gave it a peer. */
	if (!ret || l.state != 1)
		return 0;
	if (!hex_addr(l.rem, dbuf, alen)) {
		pr_err("pid %d fd %d (%s): can't read its peer from /proc\n", d->pid, p->fd, what);
		return -EIO;
	}
	e->dst_addr.data = dbuf;
	e->dst_addr.len = alen;
	e->has_dst_addr = e->has_dst_port = true;
	e->dst_port = 0;
	return 0;
}

/* A raw socket is bound if its address is a specific one. */
void inet_raw_local(InetSkEntry *e)
{
	static const uint8_t zero[16];

	if (e->type == SOCK_RAW && e->has_src_addr &&
	    !memcmp(e->src_addr.data, zero, e->src_addr.len))
		e->has_src_addr = e->has_src_port = false;
}
