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

#include "inventory.pb-c.h"
#include "shmem.pb-c.h"

/* Larger objects are refused as corrupt (64 TiB). */
#define SHMEM_MAX_SIZE (1ULL << 46)

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

/* Opens shmem.img and shmem-pages.img for the whole tree, and the rounds
 * behind PARENT_DIR (relative to DFD) if not NULL; NULL on error
 * (logged).  PRE_DUMP: the pages are copied by shmem_dump_copy(). */
struct shmem_dump *shmem_dump_start(int dfd, const char *parent_dir, pid_t root_pid,
				    bool pre_dump);
/* Writes the objects of PID's VMAs VL that no earlier process of the tree
 * mapped (the others get their ids): each object's pages once, holes and
 * zero pages left out, those the previous round has as they are listed
 * in_parent.  The tree is frozen; nothing in it changes.  In a pre-dump
 * only opens each object (through map_files, while it is mapped). */
int dump_shmem(struct shmem_dump *sd, pid_t pid, struct vm_area_list *vl);
/* A pre-dump, the tree running again: copies the objects dump_shmem()
 * opened. */
int shmem_dump_copy(struct shmem_dump *sd);
/* Pages written, and pages left in_parent, so far; SD may be NULL. */
void shmem_dump_pages(const struct shmem_dump *sd, uint64_t *written, uint64_t *in_parent);
/* Closes the images; SD may be NULL. */
int shmem_dump_end(struct shmem_dump *sd, bool failed);
void shmem_free(struct vm_area_list *vl);

/* shmem-chain.c: the previous rounds' copies of the objects. */
struct shmem_chain;
/* Where a page's data lies: NR_PAGES from OFF in FD are the object's
 * from the page asked for on. */
struct shmem_src {
	int fd;
	uint64_t off;
	uint64_t nr_pages;
};

/* E's runs in order and inside its size; *DATA_PAGES grows by the pages
 * it has data for here, OFF (if not NULL) gets each run's data offset. */
int shmem_check_runs(const ShmemEntry *e, uint64_t *data_pages, uint64_t *off);
/* The rounds behind a dump in DFD whose previous round is PARENT_DIR
 * (relative to DFD); INV, the dump's inventory if written, names the
 * round id the previous one must have.  Each round is validated when
 * first reached. */
int shmem_chain_open(int dfd, const char *parent_dir, const InventoryEntry *inv,
		     uint32_t root_pid, struct shmem_chain **out);
/* Where the copy of byte OFF (page aligned) of object DEV:INO lies in the
 * rounds: 0, 1 if no round has it, or a round's error (-errno, logged). */
int shmem_chain_find(struct shmem_chain *c, uint64_t dev, uint64_t ino, uint64_t off,
		     struct shmem_src *src);
/* Every page E lists in_parent is in a previous round; NAME prefixes
 * errors. */
int shmem_chain_check(struct shmem_chain *c, const ShmemEntry *e, const char *name);
void shmem_chain_close(struct shmem_chain *c);
/* Pre-dump round DFD of the tree of ROOT_PID: its objects, their data and
 * every page it lists in_parent, through the rounds behind it. */
int shmem_round_check(int dfd, uint32_t root_pid);

#endif
