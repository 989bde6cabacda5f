/* Restore of one process and its threads: the validated plan read from
 * the images, and the steps that turn it into a running task.
 *
 *   restore-images.c   read every image, validate every field
 *   restore-validate.c the images' whole validation, for restore and for
 *                      the dump's self-check
 *   restore-chain.c    where each page's data is: this dump or an earlier
 *                      round (pre-dump) it points to
 *   restore-check.c    check this machine (pid free, files unchanged, same
 *                      vDSO and xsave size)
 *   restore-mem.c      the restorer area: hole, blob, args for the blob
 *   files-plan.c       files.img and fdinfo as a whole: ids, fds, objects
 *   restore-shmem.c    shared memory objects: made and filled in lmproc
 *                      before the fork, mapped by the restorer
 *   restore-files.c    service fds (before the fork), the task's fds and
 *                      fs context (in the forked task)
 *   restore-task.c     clone3 with the pid, the task's libc-side setup
 *   restore-hold.c     a pidfd of every task, proven this restore's; the
 *                      kill of what it made, and of nothing else
 *   restore-finish.c   the tracer side: wait for the restorer, take over
 *                      every thread, registers, detach
 *   cmd-restore.c      the order of the steps, stats, the exit status
 *
 * Nothing is started before the whole plan is valid; after the fork every
 * failure kills and reaps the task. */
#ifndef LMPROC_RESTORE_H
#define LMPROC_RESTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "opts.h"
#include "restorer.h"
#include "words.h"

#include "core.pb-c.h"
#include "fdinfo.pb-c.h"
#include "fs.pb-c.h"
#include "inventory.pb-c.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pstree.pb-c.h"
#include "shmem.pb-c.h"

/* This kernel's [vvar], [vvar_vclock], [vdso] (index: enum special_vma). */
enum special_vma {
	SPECIAL_VVAR,
	SPECIAL_VVAR_VCLOCK,
	SPECIAL_VDSO,
	SPECIAL_NR,
};

struct special_layout {
	uint64_t start[SPECIAL_NR]; /* 0: absent */
	uint64_t end[SPECIAL_NR];
};

/* A run of pages to fill and where its data is: the pages image of round
 * LEVEL (0: this dump, 1: its previous round...) at byte offset OFF. */
struct page_src_run {
	uint64_t vaddr;
	uint64_t nr_pages;
	uint64_t off;
	uint32_t vma;
	uint32_t level;
};

/* A run of pages that are the parent process's (in_parent_task): the task
 * inherits them by fork (mem-cow.c). */
struct cow_run {
	uint64_t vaddr;
	uint64_t nr_pages;
	uint32_t vma;
};

/* An open file description of the dump (files.img) and how it is made
 * again (restore-files.c, fd-types.h). */
struct file_desc {
	FileEntry *fe;
	const struct fd_ops *ops;
	int first_fd;	   /* the lowest fd naming it, -1 if none does */
	/* Held by several processes of the tree: made once by the deepest
	 * process above all its holders (make_here there), inherited through
	 * fork at INHERIT_FD (restore-tree.c).  -1: this process's own. */
	int inherit_fd;
	bool make_here;
	uint32_t obj_next; /* next file of the same kernel object, or itself */
	uint32_t carrier;  /* the file of its object that carries the data */
	/* In flight in the queue of a unix socket this process holds
	 * (SCM_RIGHTS): needed when that queue is filled, so this process
	 * counts as a holder (sk-unix-scm.c). */
	bool in_flight_here;
	/* This process's restorer sets the file's owner, signal and O_ASYNC
	 * (fown.c) through this fd of it; -1: another process does, or none. */
	int fown_fd;
};

struct shmem_chain;

struct restore_plan {
	pid_t pid;
	const InventoryEntry *inv;  /* the tree's */
	const PstreeEntry *pstree;  /* the tree's entry of this process */
	const struct restore_tree *tree; /* the whole tree */
	CoreEntry *core;
	size_t nr_threads; /* the main thread and core->threads */
	MmEntry *mm;
	struct page_src_run *runs; /* in address order */
	size_t nr_runs;
	size_t cap_runs;
	uint64_t nr_pages;
	/* Images directories of the rounds; [0] is the dump's own (not
	 * owned here), the others are opened by restore-chain.c. */
	int level_dfd[RESTORER_MAX_LEVELS];
	uint32_t nr_levels;
	FdinfoEntry **fds; /* sorted by fd */
	size_t nr_fds;
	FileEntry **files;
	size_t nr_files;
	struct file_desc *fdesc; /* per files[i] */
	uint32_t *fd_desc;	 /* per fds[i]: its index in files */
	uint64_t files_data_size; /* of files-data.img */
	FsEntry *fs;
	ShmemEntry **shmem; /* shmem.img; entry i has id i + 1 */
	size_t nr_shmem;
	uint64_t *shmem_data_off; /* per entry: where its pages start in shmem-pages.img */
	struct shmem_chain *shmem_chain; /* the rounds behind, for pages in_parent */
	uint32_t *vma_madv;	      /* enum restorer_madv bits per vma */
	bool *vma_filled;	      /* pages of the vma come from the image */
	struct cow_run *cow_runs;     /* in address order */
	size_t nr_cow_runs;
	size_t cap_cow_runs;
	/* mem-cow.c, per vma: its slot in the tree's premap area (offset,
	 * or COW_NO_SLOT: the restorer maps it); whether it is the parent's
	 * slot, inherited; whether a child inherits it. */
	uint64_t *vma_slot;
	/* restore-stage.c, per vma: the staging mapping it takes (moved into
	 * its slot and finished in lmproc before the fork), or 0. */
	uint64_t *vma_stage;
	bool *vma_inherited;
	bool *vma_forked;
	struct special_layout here;   /* this kernel's vDSO block */
	struct special_layout dumped; /* the dumped one */
	int stop_sig;		      /* not among the queued signals */
	uint64_t mmap_min_addr;
};

/* How the task gets its dumped session and process group. */
enum task_session {
	TASK_INHERIT,	  /* lmproc's group is the dumped one (or must do) */
	TASK_NEW_SESSION, /* setsid(): it led its session */
	TASK_OWN_GROUP,	  /* setpgid(0, 0): it led its group */
	TASK_JOIN_GROUP,  /* setpgid(0, pgid): a group of lmproc's session */
};

struct restore_tree;

struct restore_ctx {
	struct lmproc_opts *opts;
	int dfd;
	struct restore_plan plan;

	/* The restorer area, mapped shared in lmproc and inherited by the
	 * task at the same address. */
	struct restorer_args *args;
	uint64_t area;
	uint64_t area_size;
	/* struct sock_fprog per core_entry seccomp filter, in the area. */
	uint64_t seccomp_progs;

	/* Service fds: open in lmproc before the fork, above every fd the
	 * task will have; closed by the restorer. */
	int pages_fds[RESTORER_MAX_LEVELS];
	int *mfile_fd;	/* per mm->files entry, -1 if unused */
	int files_data_fd; /* files-data.img, for the task's files */
	int *shmem_fd;	   /* per plan.shmem entry, -1 if mapped otherwise */
	int tty_fd;	   /* lmproc's terminal for the task's (--shell-job), -1 */
	/* --inherit-fd: each of lmproc's fds given, as a service fd, or -1. */
	int inherit_fd[MAX_INHERIT_FDS];
	bool *shmem_made;  /* the object (tmpfs file, SysV segment) is ours */
	bool *shmem_own;   /* made (or found) and filled for this process: the
			    * tree's later processes take it from here */
	int svc_fds[2]; /* lowest and highest service fd */

	enum task_session session;
	bool own_group;	   /* setpgid(0, 0) before forking its children */
	bool join_late;	   /* setpgid(0, pgid) once every task exists */
	bool group_helper; /* its group's leader is gone: a helper makes it */
	bool fork_early;   /* forked before its parent's setsid() */
	/* tty-ctty.c: it leads a session whose terminal is a pty of the tree,
	 * at its fd CTTY_FD (that pty's slave, or its master), with
	 * foreground group CTTY_FG (0: its own). */
	bool ctty;
	bool ctty_master;
	int ctty_fd;
	pid_t ctty_fg;
	struct restore_tree *tree;
	size_t idx;	   /* in tree->ctx */
	pid_t host_pid;	   /* its pid in lmproc's pid namespace (--pidns) */
	pid_t *host_tids;  /* per thread of the plan, in lmproc's namespace */
	pid_t lmproc_pid;
	int pidfd; /* restore-hold.c: held once proven this restore's, else -1 */
	pid_t pid; /* the task, once lmproc can reap it (its child or tracee) */
	/* In the task: the /proc of its tree (under --pidns the new pid
	 * namespace's), opened before its root changes. */
	int proc_root;
	uint64_t t_start_ns;
	uint64_t t_fork_ns;
	uint64_t t_detach_ns;
};

/* The tree being restored: pstree.img, one restore_ctx per live process
 * (zombies have none: ctx[i].plan.pid is 0). */
struct restore_tree {
	InventoryEntry *inv;
	PstreeEntry **entries;
	size_t nr;
	int *parent;	/* index of each entry's parent, -1 for the root */
	struct restore_ctx *ctx;
	int fd_base;	/* above every fd of every process (service fds go here) */
	/* Shared open file descriptions: inherited at [inherit_base, +nr). */
	int inherit_base;
	int nr_inherit;
	/* Shared with every task: they count themselves ready, or fail. */
	struct tree_sync *sync;
	struct sysvipc_restore *sysvipc; /* sysvipc.img (restore-sysvipc.c) */
	struct cgroup_restore *cgroups;	 /* cgroup.img (task/cgroup.c) */
	struct netns_restore *netns;	 /* netns.img (net/netns.c), or NULL */
	struct ns_restore *ns;		 /* ns.img (task/namespaces.c) */
	bool pidns;	/* --pidns: restored under an init of a new pid namespace */
	enum file_valid_mode file_valid; /* --file-validation */
	/* In the tree: forked from a process sharing lmproc's memory
	 * (restore-pidns.c), to which the kernel hands no rseq registration. */
	bool no_rseq;
	pid_t init_pid;
	int init_pidfd;	  /* the init's, from clone3 (else -1) */
	int lmproc_pidfd; /* lmproc's own, for the init to see it end (else -1) */
	/* --grace: lmproc's copies of the connections (-1: none), out of
	 * repair mode while the tree runs its grace (restore-grace.c). */
	int *conn_copies;
	size_t nr_conn_copies;
	/* mem-cow.c: private memory children inherit is filled here by its
	 * first owner before the fork, one slot per VMA; reserved in lmproc. */
	uint64_t premap_start;
	uint64_t premap_size;
};

struct tree_sync {
	volatile uint32_t ready;
	volatile uint32_t failed;
	/* --pidns (restore-pidns.c): the init's namespace has its /proc; the
	 * root is the init's child (ROOT_ADOPTED), or never will be. */
	volatile uint32_t init_ready;
	volatile uint32_t root_adopted;
};

#define ROOT_ADOPTED 1
#define ROOT_ABANDONED 2

/* restore-images.c */
int restore_read_tree(int dfd, struct restore_tree *t);
void restore_free_tree(struct restore_tree *t);
int restore_read_plan(int dfd, const struct restore_tree *t, size_t idx,
		      struct restore_plan *plan);
void restore_free_plan(struct restore_plan *plan);
/* Names the image in errors: "pagemap-PID.img" of round LEVEL. */
int restore_plan_bad(const char *img, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int restore_vma_of(const MmEntry *mm, uint64_t addr, size_t from);
/* Thread I of the plan: 0 is the main thread, then pstree.img's order. */
const ThreadCoreEntry *restore_thread_core(const struct restore_plan *p, size_t i);
/* restore-finish.c: system call NR made by thread TID (stopped, traced,
 * out of the restorer) from the blob's syscall instruction; *RES its
 * return value. */
int restore_inject_call(struct restore_ctx *ctx, pid_t tid, long nr, uint64_t a1, uint64_t a2,
			uint64_t a3, long *res);

/* restore-chain.c: reads pagemap-PID.img and, through in_parent entries,
 * the pagemaps of earlier rounds, into plan->runs. */
int restore_read_pages(int dfd, struct restore_plan *plan);
/* The pages of PID in the pre-dump round DFD (inventory INV) as a later
 * dump's restore reads them: pagemap, pages size, earlier rounds. */
int restore_check_round(int dfd, const InventoryEntry *inv, pid_t pid);
void restore_free_chain(struct restore_plan *plan);

/* restore-check.c */
int restore_check_machine(struct restore_plan *plan);
/* Its parts, for check -D: the vDSO, kernel and xsave size; the files
 * mapped and opened, cwd, root and the fd limit. */
int restore_check_layout(struct restore_plan *plan);
int restore_check_paths(const struct restore_plan *plan);
int restore_check_pid_free(pid_t pid);
/* The checks check -D and serve's preflight (migrate/preflight.c) share,
 * each on what it has: the dumped vDSO block, its code (NULL: not
 * recorded) or the kernel release it ran on, against this kernel's (HERE
 * gets it); a mapped file as the dump recorded it, or another inode M's
 * rule (--file-validation) accepts (WHO: "pid N maps P");
 * the xsave size; every pid free (PIDNS: none needs to be); what the
 * kernel must offer (TCP_REPAIR_WHO: what needs TCP repair, or NULL), the
 * count of what is missing.  WHY gets the line check -D prints. */
int restore_check_vdso(const struct special_layout *dumped, struct special_layout *here,
		       const ProtobufCBinaryData *code, const char *release);
int restore_check_mapped_file(pid_t pid, const MappedFileEntry *f, enum file_valid_mode m,
			      const char *who);
/* Where P maps its file I (PATH): "pid 12 maps /lib/x.so at 0x7f00-0x7f10". */
struct words restore_mapper_words(const struct restore_plan *p, size_t i, const char *path);

int restore_check_xsave(pid_t pid, size_t len);
int restore_check_pids(const pid_t *pids, size_t n, bool pidns, char *why, size_t len);
int restore_check_kernel(bool pidns, const char *tcp_repair_who, char *why, size_t len);
/* PID 0: lmproc itself. */
int read_special_layout(pid_t pid, struct special_layout *l);
const char *special_name(int idx);

/* restore-mem.c */
int restore_prepare_area(struct restore_ctx *ctx);
void restore_free_area(struct restore_ctx *ctx);

/* restore-shmem.c */
/* Reads and validates shmem.img (absent in older dumps: no objects) and
 * the VMAs that map its objects; needs the files read. */
int restore_read_shmem(int dfd, struct restore_plan *p);
void restore_free_shmem(struct restore_plan *p);
/* Object I for this process, if its VMAs map it: made and filled in
 * lmproc once for the tree (a later process gets a dup of the first's).
 * An fd for the restorer to map, RESTORE_SHMEM_NO_FD (not mapped here, a
 * SysV segment, or carried by a task's fd) or -errno (logged). */
#define RESTORE_SHMEM_NO_FD (-1000000)
int restore_make_shmem(struct restore_ctx *ctx, size_t i);
/* A failed restore removes the tmpfs files and, if SYSV (lmproc's thread
 * in their IPC namespace), the segments it created. */
void restore_undo_shmem(struct restore_ctx *ctx, bool sysv);
/* Once the tasks are back: segments that were marked for removal are
 * again (the tasks' attachments keep them). */
void restore_done_shmem(struct restore_ctx *ctx);

/* tty.c: the fd of lmproc's terminal (0, 1 or 2) if the task had its
 * shell's terminal, -1 if not, -errno (logged) without --shell-job or a
 * terminal. */
int restore_tty_fd(const struct restore_ctx *ctx);

/* restore-files.c */
/* fds the task's files may hold above the service fds for a moment
 * (task_files_park, fd-types.h). */
#define RESTORE_PARKED_FDS 4
/* Validates files.img and fdinfo-PID.img as read into P (fdesc, fd_desc). */
int restore_validate_files(struct restore_plan *p);
/* This machine has what the files need (paths, devices, limits). */
int restore_check_files(const struct restore_plan *p);
void restore_free_files(struct restore_plan *p);
int restore_open_service_fds(struct restore_ctx *ctx);
void restore_close_service_fds(struct restore_ctx *ctx);
/* In the task: errors are written into ERR (one line), not logged. */
int restore_task_files(struct restore_ctx *ctx, char *err, size_t len);
int restore_task_fs(struct restore_ctx *ctx, char *err, size_t len);
/* files-reg.c: once every process of the tree exists, the fds under
 * /proc/PID/ of one of them, opened in PROC_ROOT (the tree's /proc). */
int restore_task_proc_files(struct restore_ctx *ctx, int proc_root, char *err, size_t len);
/* pidfd.c: every pidfd names a process of the tree; once every process
 * of the tree exists, the task's pidfds of them. */
int restore_plan_pidfds(const struct restore_tree *t);
int restore_task_pidfds(struct restore_ctx *ctx, char *err, size_t len);

/* Drops, in a task that has forked its children, their fds. */
int restore_task_drop_inherited(struct restore_ctx *ctx, char *err, size_t len);

/* restore-tree.c */
bool restore_in_subtree(const struct restore_tree *t, size_t anc, size_t i);
/* PID is a process of T (a zombie too), as the images name it. */
bool restore_tree_has(const struct restore_tree *t, uint32_t pid);
int restore_tree_fd_base(const struct restore_tree *t);
int restore_plan_sessions(struct restore_tree *t);
/* Which process makes each shared file (the images alone decide)... */
int restore_plan_shared_objects(struct restore_tree *t);
/* ...then lmproc's fd limit raised for them: restore's step. */
int restore_plan_shared_files(struct restore_tree *t);

/* restore-validate.c: what restore checks of the images alone. */
/* Reads and validates every image of the dump in DFD into T and plans
 * the tree's sessions and terminals; T->ctx gets OPTS. */
int restore_plan_images(struct restore_tree *t, struct lmproc_opts *opts, int dfd);
/* The dump's self-check: the images in DFD as restore (with default
 * options) would read, validate and plan them, no check of this machine.
 * 0, or -errno with restore's first error (one line) in WHY; logs only
 * at -v4.  PRE_DUMP: the round a pre-dump wrote (its pages and the
 * rounds they point to). */
int restore_self_check(int dfd, bool pre_dump, char *why, size_t len);
/* A migration's dry run: pre-dump round DFD checked as a restore reads
 * it; PAGES: every page's sum too, else only the raw images' footers (as
 * the final restore checks a round serve staged, whose pages the staging
 * verified). */
int restore_dry_run_round(int dfd, bool pages, char *why, size_t len);
/* check -D: the dump in DFD as restore_self_check, every checksum read. */
int restore_check_dir(int dfd, char *why, size_t len);
/* Frees what restore_plan_images read into T. */
void restore_free_images(struct restore_tree *t);

/* file-locks.c: the locks of fdinfo-PID.img (IMG names it in errors);
 * POSIX locks are the restorer's to take. */
int restore_validate_locks(const struct restore_plan *p, const char *img);
size_t restore_nr_posix_locks(const struct restore_plan *p);
void restore_fill_posix_locks(const struct restore_plan *p, struct restorer_lock *out);

/* fown.c: which process sets each file's owner, signal and O_ASYNC
 * again (the images alone decide), and its restorer's part. */
int restore_plan_fowns(struct restore_tree *t);
size_t restore_nr_fowns(const struct restore_plan *p);
void restore_fill_fowns(const struct restore_plan *p, struct restorer_fown *out);

/* restore-task.c: forks the tree with the dumped pids (each process forks
 * its children) and seizes every live task; each sets itself up and
 * jumps into its restorer. */
int restore_fork_tree(struct restore_tree *t);
/* For restore-pidns.c: a task's life from its fork to the restorer. */
void restore_task_main(struct restore_ctx *ctx) __attribute__((noreturn));
void restore_task_fail(struct restore_ctx *ctx) __attribute__((noreturn));
/* PIDFD: a pidfd of the child goes there (NULL: none is made). */
pid_t restore_clone_with_pid(pid_t pid, int *pidfd);
/* PR_SET_PDEATHSIG(SIGKILL), then -1 if PARENT (as getppid() says it) is
 * already gone. */
int restore_die_with_parent(pid_t parent);
/* clone3 of PID failed with errno E: says why; -E. */
int restore_clone_error(pid_t pid, int e);
/* LMPROC_FAULT=restore-killed-at-fork: the child's and lmproc's sides. */
void restore_fault_late_child(void);
void restore_fault_killed_at_fork(void);

/* restore-pidns.c */
/* --pidns: the init, forked before the premap area is forkable, so that
 * it never holds the tree's memory. */
int restore_pidns_fork_init(struct restore_tree *t);
/* ... then the root, by lmproc's one fork of the premap area, into the
 * init's namespace, where the init adopts it (0, or -errno). */
int restore_pidns_fork_root(struct restore_tree *t);
/* In the root: waits until it is the init's child (-1: it never will). */
int restore_pidns_wait_adopted(const struct restore_tree *t);
/* --pidns: waits (5 s at most) until the init outlives lmproc. */
int restore_pidns_wait_init(const struct restore_tree *t);
/* --grace over: the init drops its parent-death signal (and lmproc
 * waits for it, as restore_pidns_wait_init). */
int restore_pidns_let_go(const struct restore_tree *t);
/* Once every task is ready: ctx->host_pid of each. */
int restore_map_host_pids(struct restore_tree *t);
/* Once the restorer made the threads: ctx->host_tids. */
int restore_map_host_tids(struct restore_ctx *ctx);

/* restore-hold.c: once every task is ready (host pids known), a pidfd of
 * each, proven this restore's, and the seize of each. */
int restore_hold_tree(struct restore_tree *t);
/* 0 if every process of the tree is alive (held, neither reaped nor a
 * zombie); else -ECHILD and WHY names the first one found dead. */
int restore_tree_intact(const struct restore_tree *t, char *why, size_t len);
/* Kills the tree through the pidfds held and reaps what lmproc can (any
 * failure before detach). */
void restore_kill_tree(struct restore_tree *t);
/* Closes every pidfd held. */
void restore_release_tree(struct restore_tree *t);
/* -EINTR, saying so once, if SIGINT, SIGTERM or SIGHUP came. */
int restore_check_interrupt(const struct restore_tree *t);

/* restore-finish.c: waits for the restorer, sets registers; then, once
 * every task is finished, the detach of each (the hand-over). */
int restore_finish_task(struct restore_ctx *ctx);
int restore_detach_task(struct restore_ctx *ctx);

/* restore-grace.c: serve's --grace (opts->grace_ms), after every task is
 * finished and before restore_hold: the connections out of repair mode
 * (the locks kept), every task detached, then the tree runs grace_ms.
 * A process of it that dies within, or is dead or stopped at the end,
 * fails it: the tree killed, one line (also in opts->grace_why). */
int restore_grace(struct restore_tree *t, const struct lmproc_opts *opts, int dfd);
/* lmproc's copies of the connections closed; FAILED: back into repair
 * mode first (before the locks go), so that nothing of them goes out. */
void restore_grace_drop(struct restore_tree *t, bool failed);

#endif
