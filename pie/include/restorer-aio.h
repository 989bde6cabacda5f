/* The restorer's AIO rings (pie/restorer-aio.c).  Freestanding, like the
 * rest of the restorer. */
#ifndef LMPROC_RESTORER_AIO_H
#define LMPROC_RESTORER_AIO_H

#include "restorer.h"

/* Makes every ring of A again at its address, with its head, tail and
 * events; 0 or a negative errno, with the failed ring's index in
 * *INDEX. */
long rst_aio_rings(struct restorer_args *a, uint64_t *index);

#endif
