/* AIO rings (io_setup(2)) of a process's address space: criu-lite/mem/aio.c
 * (the restorer's side is pie/restorer-aio.c). */
#ifndef LMPROC_AIO_H
#define LMPROC_AIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "mem.h"
#include "mm.pb-c.h"

struct parasite_ctl;
struct restorer_args;

/* The mapping named PATH, whose file is ST, is an AIO ring. */
bool aio_ring_mapping(const char *path, const struct stat *st);
/* Refuses (logged, naming the pid and the ring) a ring V whose VmFlags
 * or protection are not what io_setup() gave it. */
int aio_check_vma(pid_t pid, const struct vma *v);
/* Refuses (logged) a ring mapping of VL that is no AIO context of PID:
 * a child forked after io_setup() inherits the mapping, not the
 * context.  Asks the task by an injected io_getevents(). */
int aio_check_contexts(struct parasite_ctl *ctl, pid_t pid, const struct vm_area_list *vl);
/* The ring's bytes into E->aio_ring (malloc'ed), checked: its header as
 * the kernel writes it.  The tree is frozen. */
int aio_dump_ring(pid_t pid, const struct vma *v, VmaEntry *e);

/* Restore: a VMA_AIO entry of IMG is a sane ring. */
int aio_check_entry(const char *img, const VmaEntry *v);
/* The bytes the restorer area needs for MM's rings. */
size_t aio_area_size(const MmEntry *mm);
/* The rings into the area at AREA (the task's address of BUF). */
void aio_fill_args(const MmEntry *mm, uint64_t area, void *buf, struct restorer_args *a);

#endif
