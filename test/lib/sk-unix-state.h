/* What the unix socket name tests share: an address from a name, a bound
 * socket, a send that must go whole, and a socket's observable state
 * (its name, its peer's, the bytes queued) saved before the checkpoint
 * and compared after.  Header-only: the tests are single files. */
#ifndef LMPROC_SK_UNIX_STATE_H
#define LMPROC_SK_UNIX_STATE_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "test.h"

struct sk_state {
	struct sockaddr_un name, peer;
	socklen_t name_len, peer_len;
	int inq;
};

static inline socklen_t make_name(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
}

static inline void sk_state_save(struct sk_state *s, int f)
{
	memset(s, 0, sizeof(*s));
	s->name_len = s->peer_len = sizeof(s->name);
	if (getsockname(f, (struct sockaddr *)&s->name, &s->name_len))
		fail("getsockname fd %d: %s", f, strerror(errno));
	if (getpeername(f, (struct sockaddr *)&s->peer, &s->peer_len))
		s->peer_len = 0;
	if (ioctl(f, FIONREAD, &s->inq))
		s->inq = -1;
}

/* Socket I (fd F) reads back as WAS. */
static inline void sk_state_check(int i, int f, const struct sk_state *was)
{
	struct sk_state n;

	sk_state_save(&n, f);
	if (n.name_len != was->name_len || memcmp(&n.name, &was->name, n.name_len))
		fail("socket %d (fd %d): name '%s' (%u bytes), was '%s' (%u)", i, f,
		     n.name.sun_path, n.name_len, was->name.sun_path, was->name_len);
	if (n.peer_len != was->peer_len || memcmp(&n.peer, &was->peer, n.peer_len))
		fail("socket %d (fd %d): peer '%s' (%u bytes), was '%s' (%u)", i, f,
		     n.peer.sun_path, n.peer_len, was->peer.sun_path, was->peer_len);
	if (n.inq != was->inq)
		fail("socket %d (fd %d): %d bytes queued, were %d", i, f, n.inq, was->inq);
}

static inline int bound(int type, const char *name)
{
	struct sockaddr_un a;
	socklen_t len = make_name(&a, name);
	int f = socket(AF_UNIX, type, 0);

	if (f < 0 || bind(f, (struct sockaddr *)&a, len))
		fail("bind %s: %s", name, strerror(errno));
	return f;
}

static inline void put(int f, const void *p, size_t len)
{
	if (send(f, p, len, 0) != (ssize_t)len)
		fail("send %zu bytes on fd %d: %s", len, f, strerror(errno));
}

#endif
