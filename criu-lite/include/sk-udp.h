/* A UDP socket's receive queue (net/sk-udp-queue.c): read at dump and
 * put back at once, queued again at restore. */
#ifndef LMPROC_SK_UDP_H
#define LMPROC_SK_UDP_H

#include <stdint.h>
#include <sys/socket.h>

#include "fd-types.h"
#include "fdinfo.pb-c.h"

/* The datagrams of one socket's entry (udp_queue_dump fills it). */
struct udp_queue {
	size_t n;
	UdpDgramEntry **ptrs;
	UdpDgramEntry *ents;
};

/* The receive queue of UDP socket FD (lmproc's copy of pid D->pid's
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

#endif
