/* A UDP or UDP-Lite socket's receive queue (net/sk-udp-queue.c): read
 * at dump and put back at once, queued again at restore; a UDP-Lite
 * socket's checksum coverage (net/sk-udplite.c). */
#ifndef LMPROC_SK_UDP_H
#define LMPROC_SK_UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fd-types.h"
#include "fdinfo.pb-c.h"

/* A UDP or UDP-Lite socket: what the UDP code owns, the protocol its
 * parameter. */
static inline bool udp_kind(uint32_t type, uint32_t proto)
{
	return type == SOCK_DGRAM && (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE);
}

/* The datagrams of one socket's entry (udp_queue_dump fills it). */
struct udp_queue {
	size_t n;
	UdpDgramEntry **ptrs;
	UdpDgramEntry *ents;
};

/* The receive queue of UDP or UDP-Lite socket FD (lmproc's copy of pid D->pid's
 * fd P->fd, bound to LOCAL, WHAT naming it), whose options E already
 * holds: refused (-EOPNOTSUPP, one line) when something queued can't
 * come back exactly; read into Q and E->dgrams and put back into the
 * socket at once, so that the tree has it whatever happens to the dump.
 * Q is freed with udp_queue_free whatever it returns. */
int udp_queue_dump(const struct files_dump *d, const struct fd_parms *p, int fd,
		   const struct sockaddr_storage *local, const char *what, InetSkEntry *e,
		   struct udp_queue *q);
void udp_queue_free(struct udp_queue *q);

/* E's datagrams are well formed: NULL or why not (a static string). */
const char *udp_queue_bad(const InetSkEntry *e);

/* Queues E's datagrams again on FD (bound, in the task's network
 * namespace), from their senders, in order: 0 or -errno, the reason said
 * through task_files_err. */
int udp_queue_restore(struct task_files *tf, uint32_t desc, int fd, const InetSkEntry *e);

/* UDP-Lite socket FD's checksum coverage into E (whether each option
 * was set read through the BPF iterator when it reads 0): 0, or -errno
 * with one line naming pid D->pid, fd P->fd and WHAT. */
int udplite_dump(const struct files_dump *d, const struct fd_parms *p, int fd, const char *what,
		 InetSkEntry *e);
/* E's coverage fields are a UDP-Lite socket's, in range: NULL or why
 * not (a static string). */
const char *udplite_bad(const InetSkEntry *e);
/* This host makes UDP-Lite sockets of E's family (a kernel may lack
 * them): 0, or -errno with one line naming PID, FD and WHAT. */
int udplite_check(pid_t pid, int fd, const char *what, const InetSkEntry *e);
/* Sets E's coverage on FD (before bind()): 0, or -errno and *WHICH
 * names the option. */
int udplite_restore(int fd, const InetSkEntry *e, const char **which);

#endif
