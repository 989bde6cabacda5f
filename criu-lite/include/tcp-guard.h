/* The guardian of a dump's connections in repair mode (net/tcp-guard.c). */
#ifndef LMPROC_TCP_GUARD_H
#define LMPROC_TCP_GUARD_H

struct tcp_guard;

/* A child of lmproc that holds a copy of every socket lmproc puts in
 * repair mode and, if lmproc dies (its end of their socket pair closes)
 * before releasing it, takes each out of repair mode.  NULL (logged as a
 * warning) if it can't be started: the dump goes on without it. */
struct tcp_guard *tcp_guard_start(void);
/* FD is about to enter repair mode: the guardian holds a copy first. */
int tcp_guard_add(struct tcp_guard *g, int fd);
/* lmproc itself decides about repair mode from now on (the connections
 * leave it, or stay in it for a killed or held tree): the guardian ends
 * without touching them.  Accepts NULL. */
void tcp_guard_release(struct tcp_guard *g);

#endif
