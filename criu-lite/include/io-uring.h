/* io_uring instances and the mappings of their rings (files/io-uring.c). */
#ifndef LMPROC_IO_URING_H
#define LMPROC_IO_URING_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

struct restore_plan;

/* PATH (a mapping's or an fd's) names an io_uring instance's file. */
bool io_uring_mapping(const char *path);
/* The lowest fd of PID holding the io_uring instance of inode ST, or -1. */
int io_uring_holder_fd(pid_t pid, const struct stat *st);
/* Restore: every io_uring mapping of P maps an io_uring fd of P, within
 * its rings. */
int io_uring_validate_vmas(const struct restore_plan *p);
/* Before a dump's freeze: loads the BPF reader of rings if ROOT's tree
 * maps one, so that the frozen window does not pay for it. */
void io_uring_prepare(pid_t root);

#endif
