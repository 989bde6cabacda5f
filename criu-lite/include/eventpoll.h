/* What the tree's restore plan asks of epolls (eventpoll.c). */
#ifndef LMPROC_EVENTPOLL_H
#define LMPROC_EVENTPOLL_H

#include <stdbool.h>
#include <stdint.h>

#include "restore.h"

/* Each registration of the epoll DESC is made by a process holding it;
 * SHARED: several processes hold it. */
int eventpoll_check_registrars(const struct restore_tree *t, uint32_t desc, bool shared);

#endif
