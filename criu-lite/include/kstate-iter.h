/* task/kstate-iter.c: what only the kernel's own structures show of a
 * task's files and AIO contexts, read by the BPF iterators of
 * bpf/kstate.bpf.c. */
#ifndef LMPROC_KSTATE_ITER_H
#define LMPROC_KSTATE_ITER_H

#include <linux/types.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../bpf/kstate.h"

/* Before the freeze: loads the iterators if the tree under ROOT maps an
 * AIO ring or its network namespace holds a UDP-Lite socket (whose dumps
 * ask them), so that the load is not frozen time. */
void kstate_prepare(pid_t root);
/* The record of process PID's fd FD into *R: 0, -ENOENT if it has no such
 * fd, or -errno (the iterator can't be loaded: say so and refuse). */
int kstate_file(pid_t pid, int fd, struct kstate_file_rec *r);
/* The AIO context behind the ring process PID maps at ADDR into *R: 0,
 * -ENOENT if there is none, or -errno. */
int kstate_aio(pid_t pid, uint64_t addr, struct kstate_aio_rec *r);

#endif
