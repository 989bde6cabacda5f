/* Memory attributes beyond protection and backing (mm-attrs.c): what each
 * VmFlags mnemonic of smaps becomes at a restore, mlockall()'s future
 * flags and the THP switch of the mm. */
#ifndef LMPROC_MM_ATTRS_H
#define LMPROC_MM_ATTRS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mm.pb-c.h"

struct vm_area_list;
struct parasite_misc;
struct restore_plan;
struct restorer_args;
struct restorer_vma;

/* What the flags must agree with. */
struct vma_shape {
	VmaKind kind;
	uint32_t prot;
	uint32_t flags;	    /* MAP_* */
	int file_rw;	    /* a shared file mapping: its file is opened O_RDWR (1) or not (0); -1 */
};

/* Decodes the VmFlags words of one VMA (each of LINES holds one mnemonic
 * or several, space separated) into restorer bits (enum restorer_madv,
 * enum restorer_vma_attr).  -EOPNOTSUPP if one is not restorable, with
 * WHY ("is memory-mapped I/O (VmFlags io)") for the caller's line. */
int vma_attrs_decode(char *const *lines, size_t n, const struct vma_shape *s, uint32_t *bits,
		     char *why, size_t len);

/* Dump: mlockall()'s MCL_FUTURE/MCL_ONFAULT (the flags a fresh mapping,
 * the parasite's at PROBE, got from the mm) and the parasite's
 * PR_GET_THP_DISABLE; refuses PR_SET_MEMORY_MERGE. */
int mm_attrs_collect(pid_t pid, uint64_t probe, const struct parasite_misc *m,
		     struct vm_area_list *vl);
void mm_attrs_fill(MmEntry *mm, const struct vm_area_list *vl);

/* Restore: validates mm-PID.img's fields, and translates them. */
int mm_attrs_check(const char *img, const MmEntry *mm);
void mm_attrs_fill_args(const MmEntry *mm, struct restorer_args *a);
/* How VMA I is mapped: writable first if the kernel must account it,
 * filled through /proc/self/mem if it must not. */
void mm_attrs_map_vma(const struct restore_plan *p, size_t i, struct restorer_vma *rv);

#endif
