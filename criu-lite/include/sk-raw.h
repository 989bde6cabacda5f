/* Raw IP sockets and ICMP ping sockets (net/sk-raw.c): what sk-inet.c
 * needs beyond a UDP socket's to dump them. */
#ifndef LMPROC_SK_RAW_H
#define LMPROC_SK_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fd-types.h"
#include "fdinfo.pb-c.h"

/* A raw socket (any protocol) or a ping socket. */
bool inet_raw_kind(int type, int proto);
/* "raw IPv4 socket of protocol 1", "ICMPv6 ping socket": BUF. */
const char *inet_raw_name(const InetSkEntry *e, char *buf, size_t len);
/* Refuses (-EOPNOTSUPP, one line naming pid, fd and WHAT) a raw or ping
 * socket with packets queued; sets E's peer (DBUF holds its bytes) if it
 * is connected. */
int inet_raw_state(const struct files_dump *d, const struct fd_parms *p, int fd, const char *what,
		   InetSkEntry *e, uint8_t *dbuf);
/* A raw socket's local address (its port 0) as bind() takes it: none at
 * all if it is the unspecified one. */
void inet_raw_local(InetSkEntry *e);

#endif
