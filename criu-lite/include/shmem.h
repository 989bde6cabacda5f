/* Shared memory objects behind MAP_SHARED mappings: anonymous shared
 * memory, memfds, tmpfs (/dev/shm) files and SysV segments, one per inode
 * however many mappings (or, later, processes) use it.  Dump: shmem.c;
 * restore: restore-shmem.c (objects made in lmproc before the fork, the
 * restorer maps them). */
#ifndef LMPROC_SHMEM_H
#define LMPROC_SHMEM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "shmem.pb-c.h"

struct vma;
struct vm_area_list;

struct shmem_obj {
	uint32_t id; /* shmem_entry.id: index + 1 */
	ShmemKind kind;
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	uint32_t mode;
	char *path;	  /* tmpfs path or memfd name */
	bool may_write;	  /* some mapping of it has VM_MAYWRITE */
	bool deleted;	  /* a tmpfs file without a name */
	int task_fd;	  /* the task's fd of a memfd, -1: none */
	int32_t sysv_key;
	uint64_t start;	  /* a mapping of it, to open through map_files */
	uint64_t end;
};

/* Takes the MAP_SHARED mapping V of the file at PATH (ST from map_files)
 * if it is a shared memory object: 1 taken (v->shmem set), 0 not one,
 * -errno refused (logged, naming pid, address and object). */
int shmem_classify(pid_t pid, struct vm_area_list *vl, struct vma *v, const char *path,
		   const struct stat *st);
struct shmem_dump;

/* Opens shmem.img and shmem-pages.img for the whole tree; NULL on error
 * (logged). */
struct shmem_dump *shmem_dump_start(int dfd);
/* Writes the objects of PID's VMAs VL that no earlier process of the tree
 * mapped (the others get their ids): each object's pages once, holes and
 * zero pages left out.  The tree is frozen; nothing in it changes. */
int dump_shmem(struct shmem_dump *sd, pid_t pid, struct vm_area_list *vl);
/* Closes the images; SD may be NULL. */
int shmem_dump_end(struct shmem_dump *sd, bool failed);
void shmem_free(struct vm_area_list *vl);

#endif
