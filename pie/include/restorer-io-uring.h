/* The restorer's mappings of io_uring rings (pie/restorer-io-uring.c).
 * Freestanding, like the rest of the restorer. */
#ifndef LMPROC_RESTORER_IO_URING_H
#define LMPROC_RESTORER_IO_URING_H

#include "restorer.h"

/* Maps V (a ring of an io_uring instance, from its fd) at V->start, which
 * the kernel only maps where it chooses; 0 or a negative errno. */
long rst_io_uring_map(const struct restorer_vma *v);

#endif
