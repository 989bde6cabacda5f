/* The progress line of a dump, pre-dump or restore on a terminal:
 * processes done of the tree, MiB copied and the rate, rewritten in
 * place on stderr.  Off unless the command line asked for it. */
#ifndef LMPROC_PROGRESS_H
#define LMPROC_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

/* WHAT ("dump", "restore"...) starts: shown only if ON, stderr is a
 * terminal and the command runs longer than a second. */
void progress_start(bool on, const char *what);
/* DONE of TOTAL processes are through, NR_PAGES more copied with them. */
void progress_procs(unsigned int done, unsigned int total, uint64_t nr_pages);
/* NR_PAGES more copied; cheap enough for every batch of pages. */
void progress_pages(uint64_t nr_pages);
/* Clears the line if one is shown; the next update draws it again. */
void progress_clear(void);
/* The command is over: the line goes for good. */
void progress_end(void);

#endif
