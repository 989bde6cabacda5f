/* The announcement of a restored network namespace's addresses
 * (net/announce.c): gratuitous ARP and unsolicited neighbour
 * advertisements, as a migrated VM's. */
#ifndef LMPROC_ANNOUNCE_H
#define LMPROC_ANNOUNCE_H

struct restore_tree;

/* T restored into a network namespace of its own (else nothing), the
 * lock gone, its tasks still stopped: announces, from inside, each
 * address of each up Ethernet link.  Failures are warnings. */
void restore_announce(const struct restore_tree *t);

#endif
