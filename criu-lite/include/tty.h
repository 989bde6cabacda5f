/* Terminals (tty.c) and the ptys of the tree that are a session's
 * controlling terminal (tty-ctty.c). */
#ifndef LMPROC_TTY_H
#define LMPROC_TTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fdinfo.pb-c.h"

#define PTMX_MAJOR 5
#define PTMX_MINOR 2
#define PTS_MAJOR_FIRST 136
#define PTS_MAJOR_LAST 143
#define PTMX_PATH "/dev/ptmx"

struct files_dump;
struct restore_ctx;
struct restore_tree;

/* tty.c */
/* PID holds the master (MASTER) or a slave of pty INDEX in its fd table. */
bool tty_pid_holds(pid_t pid, uint32_t index, bool master);
/* The st_rdev of /dev/pts/INDEX. */
dev_t tty_pts_rdev(uint32_t index);

/* tty-ctty.c */
/* Dump, through MASTER (lmproc's copy) of pty INDEX: the session whose
 * terminal its slave is and the foreground group into PS, checked against
 * the tree; 0 if it is nobody's. */
int tty_dump_ctty(struct files_dump *d, int master, uint32_t index, PtyStateEntry *ps);
/* Restore, every plan read and the sessions planned: which leader gives
 * its session which pty as its terminal (ctx->ctty...). */
int restore_plan_ctty(struct restore_tree *t);
/* In the task, after its setsid(): its terminal back. */
int restore_task_ctty(struct restore_ctx *ctx, char *err, size_t len);
/* After it: the /dev/tty fds this process makes, opened for real. */
int restore_task_dev_tty(struct restore_ctx *ctx, char *err, size_t len);
/* In the task, once every task exists: the foreground group back. */
int restore_task_fg(struct restore_ctx *ctx, char *err, size_t len);

#endif
