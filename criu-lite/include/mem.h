/* The target's address space as dump sees it: VMAs, mm fields, and which
 * pages must be saved. */
#ifndef LMPROC_MEM_H
#define LMPROC_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "file-valid.h"
#include "mm.pb-c.h"

struct vma {
	uint64_t start;
	uint64_t end;
	uint64_t pgoff;		/* bytes */
	uint32_t prot;
	uint32_t flags;		/* MAP_* */
	VmaKind kind;
	int file;		/* index into vm_area_list.files, or -1 */
	int shmem;		/* index into vm_area_list.shm, or -1 */
	int io_uring_fd;	/* VMA_IO_URING: the fd holding the instance */
	char name[32];		/* [heap], [stack], [vdso], ... */
	char vm_flags[128];	/* VmFlags line of smaps */
};

struct mapped_file {
	char *path;
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	int64_t mtime_ns;
	uint32_t open_flags;
	char link[128];		/* /proc/PID/map_files/... or exe: the file itself */
	struct file_sums sums;	/* --file-validation's (file-valid.h) */
	/* Deleted while mapped: its contents are saved (mem-ghost.c). */
	bool deleted;
	uint32_t perm;
	uint64_t map_start, map_end;	/* a mapping of it, to open it by */
	FileContents *ghost;
	InodeAttrsEntry *ghost_attrs;	/* its owner and times, with ghost */
};

struct vm_area_list {
	struct vma *vmas;
	size_t nr;
	struct mapped_file *files;
	size_t nr_files;
	int exe_file;		/* index into files */
	struct shmem_obj *shm;	/* shared memory objects (shmem.h) */
	size_t nr_shm;
	uint32_t thp_disable;	/* prctl(PR_GET_THP_DISABLE) (mm-attrs.c) */
	uint32_t mlockall_flags; /* MCL_FUTURE [| MCL_ONFAULT] */
};

/* Reads /proc/PID/smaps, or its lines from vma-iter.h, (and map_files) of
 * a stopped task.  Refuses
 * mappings lmproc cannot restore yet, naming address and kind. */
int collect_vmas(pid_t pid, struct vm_area_list *vl);
void free_vmas(struct vm_area_list *vl);

/* The sums MODE records of each mapped file that is not deleted, read
 * through the mapping (the path may name another file by now). */
int mem_file_sums(pid_t pid, struct vm_area_list *vl, enum file_valid_mode m);

/* Before the freeze: the same sums of the files PID maps now, so that
 * the frozen dump's mem_file_sums() finds those unchanged since
 * (file-valid.c) and reads nothing; what fails is left to it. */
void mem_file_sums_warm(pid_t pid, enum file_valid_mode m);

/* mem-ghost.c: files deleted while mapped. */
struct files_dump;
int mem_save_ghosts(struct files_dump *d, pid_t pid, struct vm_area_list *vl);
int mem_ghost_validate(const MappedFileEntry *f, uint64_t data_size);
int mem_ghost_check(pid_t pid, const MappedFileEntry *f);
int mem_ghost_make(const MappedFileEntry *f, int data_fd);

/* FLAG is one of the VmFlags mnemonics smaps gave V ("mw", "gd"...). */
bool vma_has_flag(const struct vma *v, const char *flag);

/* Should pages of this VMA be dumped at all, and may all-zero pages be
 * left out (they come back as zero-fill)? */
bool vma_has_dumpable_pages(const struct vma *v);
bool vma_zero_pages_skippable(const struct vma *v);

/* Fills and writes mm-PID.img; BRK is the task's current brk. */
int dump_mm(int dfd, pid_t pid, const struct vm_area_list *vl, uint64_t brk);

#endif
