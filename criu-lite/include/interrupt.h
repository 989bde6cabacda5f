/* SIGINT, SIGTERM and SIGHUP during a command that must end cleanly: the
 * handler only records the signal, the command checks interrupted() at
 * its steps and waits (blocking calls return EINTR) and undoes what it
 * made. */
#ifndef LMPROC_INTERRUPT_H
#define LMPROC_INTERRUPT_H

#include <stdbool.h>

/* Catches the three, except one the caller ignores (nohup, a background
 * job of a shell): that one stays ignored. */
int interrupt_catch(void);
/* The signal caught so far, 0 if none. */
int interrupted(void);
/* Puts back the dispositions interrupt_catch() found. */
void interrupt_release(void);

#endif
