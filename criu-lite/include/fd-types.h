/* The kinds of open file lmproc knows, one source file each (files-reg.c,
 * pipes.c, eventfd.c, ...), behind one small table of operations; and the
 * contexts the dispatchers hand them: files.c on dump, restore-files.c and
 * restore-images.c on restore.  A type never walks the fd table itself:
 * dump gets one open file description at a time, restore creates one and
 * hands back an fd. */
#ifndef LMPROC_FD_TYPES_H
#define LMPROC_FD_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "image.h"
#include "restore.h"

#include "fdinfo.pb-c.h"

/* fdinfo shows the kernel's O_LARGEFILE, which glibc defines as 0 on x86-64. */
#define KERNEL_O_LARGEFILE 0100000
/* The kernel's __O_TMPFILE bit alone: glibc's __O_TMPFILE is O_TMPFILE,
 * which includes O_DIRECTORY (include/uapi/asm-generic/fcntl.h). */
#define KERNEL_O_TMPFILE_BIT 020000000

/* One fd of the dumped task as /proc shows it. */
struct fd_parms {
	int fd;
	struct stat st;
	char *link;	 /* readlink of /proc/PID/fd/FD */
	char *info;	 /* /proc/PID/fdinfo/FD */
	uint32_t flags;	 /* open flags, without O_CLOEXEC (and O_ASYNC: async) */
	bool async;	 /* O_ASYNC (fown.c), left in flags if ops->own_async */
	uint32_t fd_flags; /* FD_CLOEXEC */
	uint64_t pos;
	const struct fd_ops *ops;
	uint64_t share_key; /* fd_ops.share_key, or 0 */
	uint32_t id;	 /* its file_entry; 0 until assigned */
	uint32_t rep;	 /* index of the first fd sharing its description */
	FileLockEntry **locks; /* from fdinfo's "lock:" lines (file-locks.c) */
	size_t n_locks;
};

struct unix_diag_table;
struct bpf_outside;

/* The dump of the tree's files: per process (pid...) and for the whole
 * dump (images, objects and descriptions seen). */
struct files_dump {
	pid_t pid;
	int pidfd;
	int proc_fd;	 /* /proc/PID/fd */
	int proc_fdinfo; /* /proc/PID/fdinfo */
	struct cr_img *files;
	struct cr_img *data; /* files-data.img */
	uint64_t data_off;   /* bytes written to it so far */
	struct fd_parms *fds;
	int nr_fds;
	/* Kernel objects met so far (files_obj_id). */
	void *objs_seen;
	uint32_t nr_objs;
	/* FILES_SCRATCH_SIZE bytes for the types' copies (files_scratch). */
	char *scratch;
	/* A pipe lmproc tees other pipes' contents into. */
	int tee_pipe[2];
	unsigned int tee_size;
	struct unix_diag_table *unix_diag;
	/* bpf-map.c: the BPF maps processes outside the tree hold, read
	 * with the first map of the dump. */
	struct bpf_outside *bpf_outside;
	/* Across the processes of the tree: ids given so far, and the
	 * descriptions dumped, to find one shared by several processes. */
	uint32_t next_id;
	void *descs_seen;
	bool shell_job; /* --shell-job: a terminal not the process's is lmproc's to give */
	bool ext_unix_sk; /* --ext-unix-sk */
	bool tcp_established; /* --tcp-established */
	bool skip_in_flight; /* --skip-in-flight */
	/* --file-validation: the sums a file opened read-only gets
	 * (files-reg.c); a pre-dump, which writes no files.img, none. */
	enum file_valid_mode file_valid;
	/* The connections put in repair mode (sk-tcp.c), kept past the
	 * files; NULL in a pre-dump, which only checks. */
	struct tcp_dump *tcp;
	/* Every live process of the tree: a socket's peer may be another's. */
	const pid_t *tree_pids;
	size_t nr_tree_pids;
	/* Files in flight in unix sockets' queues (SCM_RIGHTS): lmproc's
	 * peeked copies, open until the end of the dump, since descs_seen
	 * names them by fd (sk-unix-scm.c). */
	struct scm_kept *in_flight;
	size_t nr_in_flight;
};

/* The files of the task being restored, while the task sets them up. */
struct task_files {
	const struct restore_plan *plan;
	int data_fd;	/* files-data.img */
	int park_base;	/* above every fd the task will have */
	int *file_fd;	/* per plan->files[i]: the task's fd holding it, or -1 */
	int tty_fd;	/* lmproc's terminal (--shell-job), or -1 */
	const struct lmproc_opts *opts;
	const int *inherit_fd;	/* --inherit-fd: lmproc's fds given, here */
	char *err;
	size_t len;
};

struct fd_ops {
	FdType type;
	const char *name;

	/* Dump: does this type take fd P? */
	bool (*match)(struct files_dump *d, const struct fd_parms *p);
	/* Dump, optional: a value from /proc that fds sharing one open file
	 * description share (eventfd-id...), so that kcmp has fewer to
	 * compare.  Must not change while the task is frozen. */
	uint64_t (*share_key)(const struct fd_parms *p);
	/* O_ASYNC stays among the flags the type sees: its files have no
	 * fasync method, so F_SETFL could not set it again; the type gives it
	 * back through open() (files by path) or refuses it (memfds).  Other
	 * types never see it: fown.c sets it with fcntl(). */
	bool own_async;
	/* Dump: fill the type's message of FE and write FE (files_write()). */
	int (*dump)(struct files_dump *d, struct fd_parms *p, FileEntry *fe);

	/* Restore, the images alone: the type's message of FE, whose data
	 * must lie within DATA_SIZE bytes of files-data.img. */
	int (*validate)(const FileEntry *fe, uint64_t data_size);
	/* The kernel object several open file descriptions share (a pipe, a
	 * memfd, a socket pair): equal keys, one object.  0: none. */
	uint64_t (*obj_key)(const FileEntry *fe);
	/* FE carries the object's data (one entry per object must). */
	bool (*obj_carrier)(const FileEntry *fe);
	/* Restore, all files validated: checks across files (an epoll's
	 * targets are fds of the process, a pair's peer is in the dump). */
	int (*validate_plan)(const struct restore_plan *p, uint32_t desc);
	/* Restore, this machine, before the fork. */
	int (*check)(const struct restore_plan *p, uint32_t desc);

	/* In the task: create plan->files[DESC] (and whatever else its
	 * object brings) and install it with task_files_install(). */
	int (*open)(struct task_files *tf, uint32_t desc);
	/* In the task, once every fd is in place (epoll registrations). */
	int (*post)(struct task_files *tf, uint32_t desc);
	/* post() runs in every process holding the description, not only
	 * where it is made (each registers an epoll's targets of its own). */
	bool post_in_holders;
	/* In the task, after every post (a socket shut down could not have
	 * sent another's queue in its post). */
	int (*finish)(struct task_files *tf, uint32_t desc);
};

extern const struct fd_ops reg_fd_ops;
extern const struct fd_ops tty_fd_ops;
extern const struct fd_ops pipe_fd_ops;
extern const struct fd_ops eventfd_fd_ops;
extern const struct fd_ops eventpoll_fd_ops;
extern const struct fd_ops inet_sk_fd_ops;
extern const struct fd_ops timerfd_fd_ops;
extern const struct fd_ops signalfd_fd_ops;
extern const struct fd_ops memfd_fd_ops;
extern const struct fd_ops unix_sk_fd_ops;
extern const struct fd_ops inotify_fd_ops;
extern const struct fd_ops fifo_fd_ops;
extern const struct fd_ops fanotify_fd_ops;
extern const struct fd_ops netlink_sk_fd_ops;
extern const struct fd_ops packet_sk_fd_ops;
extern const struct fd_ops pidfd_fd_ops;
extern const struct fd_ops bpf_map_fd_ops;
extern const struct fd_ops io_uring_fd_ops;

/* pipes.c, shared with fifo.c: a pipe's size and buffered bytes. */
/* Copies the pipe of P's buffer (tee: nothing leaves it) into PD. */
int pipe_dump_data(struct files_dump *d, const struct fd_parms *p, PipeDataEntry *pd);
int pipe_data_validate(uint32_t pipe_id, const PipeDataEntry *pd, uint64_t data_size);
/* In the task: gives the pipe of WFD (any end that can write) PD's size
 * and bytes; leaves WFD non-blocking. */
int pipe_fill(struct task_files *tf, uint32_t desc, int wfd, const PipeDataEntry *pd);
struct restore_tree;
void pipe_warn_outside(const struct restore_tree *t, uint32_t desc);
struct lmproc_opts;
int pipe_inherited(const struct lmproc_opts *o, const PipeEntry *pe);
int pipe_check_inherit(const struct restore_tree *t);

/* sk-unix.c: the sock_diag view of the unix sockets, built by the first
 * socket of a dump. */
void unix_diag_free(struct unix_diag_table *t);
/* bpf-map.c: frees D->bpf_outside. */
void bpf_map_dump_end(struct files_dump *d);
/* sk-unix-scm.c: closes the copies of the files in flight. */
void unix_scm_dump_end(struct files_dump *d);

/* files.c: the ops of TYPE, NULL if unknown. */
const struct fd_ops *fd_ops_of(FdType type);

/* files.c, for the dump side of the types. */
int files_write(struct files_dump *d, FileEntry *fe);
/* One buffer for the whole dump (a fresh megabyte per file costs page
 * faults), NULL if out of memory. */
#define FILES_SCRATCH_SIZE (1 << 20)
char *files_scratch(struct files_dump *d);
/* The NR fds FDS of lmproc itself (copies of files in flight) dumped as
 * the fds of a process of their own: IDS[i] gets the file id of FDS[i]'s
 * open file description, the one a process of the tree holding it too
 * gets.  Called from a type's dump(): D's process is left as it was. */
int files_dump_own(struct files_dump *d, const int *fds, int nr, uint32_t *ids);
/* A copy of the task's fd P in lmproc (pidfd_getfd), or -errno (logged). */
int files_steal(struct files_dump *d, const struct fd_parms *p);
/* Refuses P, which is WHAT ("an eventfd"), for its open flags beyond
 * SUPPORTED, naming them in words; -EOPNOTSUPP. */
int files_refuse_flags(const struct files_dump *d, const struct fd_parms *p, const char *what,
		       uint32_t supported);
/* A number unique in the dump for the kernel object of TYPE with inode
 * ST (st_dev, st_ino); *FIRST is set the first time it is asked for.  0:
 * out of memory. */
uint32_t files_obj_id(struct files_dump *d, FdType type, const struct stat *st, bool *first);
/* The value after "KEY" in fdinfo text INFO, or NULL. */
const char *fdinfo_field(const char *info, const char *key);
/* A hash of the fdinfo text from line KEY on (0 if it has none). */
uint64_t fdinfo_hash_from(const char *info, const char *key);

/* fown.c: P's owner, signal and O_ASYNC for signal-driven I/O into FO;
 * 1 if any is not a fresh file's, 0 if none, -errno (an owner outside the
 * tree refused). */
int fown_dump(struct files_dump *d, const struct fd_parms *p, FownEntry *fo);

/* fhandle.c */
/* *PATH (malloc'ed) and *ST of the file whose handle fdinfo line L shows
 * ("fhandle-bytes:... f_handle:..."), inode INO of device SDEV (kernel
 * encoding).  -EINVAL: no usable handle; -ENOENT: no path leads to it. */
int fhandle_path(unsigned int sdev, unsigned long ino, const char *l, char **path,
		 struct stat *st);
/* *PATH (malloc'ed): the mount point of mount MNT_ID in PID's mountinfo,
 * or with MNT_ID -1 of the first mount of device SDEV.  -ENOENT if none. */
int mount_point_of(pid_t pid, int mnt_id, unsigned int sdev, char **path);

/* files-data.c: files-data.img. */
/* Appends LEN bytes from BUF; *OFF gets where they start. */
int files_data_write(struct files_dump *d, const void *buf, size_t len, uint64_t *off);
/* Saves the data extents of file FD (SIZE bytes) into C (extents
 * allocated; free with files_contents_free). */
int files_data_save_contents(struct files_dump *d, int fd, uint64_t size, FileContents *c,
			     const char *what);
void files_contents_free(FileContents *c);
/* Checks C against files-data.img of DATA_SIZE bytes. */
int files_contents_validate(const char *what, const FileContents *c, uint64_t data_size);
/* In the task: writes C's extents from files-data.img into FD. */
int task_contents_fill(struct task_files *tf, int fd, const FileContents *c, const char *what);
/* Owner and times of an inode restore makes again or writes to, from ST. */
void files_inode_attrs(InodeAttrsEntry *a, const struct stat *st);
int files_inode_attrs_validate(const char *what, const InodeAttrsEntry *a);
/* Once FD's file is filled: with OWNER its uid and gid, then PERM (if not
 * -1; after the chown, which clears set-id bits), then A's times (last:
 * each of the others moves only ctime). */
int task_inode_attrs_set_path(struct task_files *tf, const char *path, const InodeAttrsEntry *a,
			      int perm);
int task_inode_attrs_set(struct task_files *tf, int fd, const InodeAttrsEntry *a, bool owner,
			 int perm, const char *what);

/* file-locks.c */
/* The locks and the lease fdinfo shows for P (P->locks); leases being
 * broken and mandatory locks are refused. */
int fd_locks_collect(struct files_dump *d, struct fd_parms *p);
void fd_locks_free(struct fd_parms *p);
/* In the task, every fd in place: the flock and OFD locks. */
int task_take_locks(struct task_files *tf);

/* restore-files.c, in the task. */
/* Puts TMP where plan->files[DESC] belongs: its lowest fd number in this
 * process, then file_fd[DESC] (closed, file_fd -1, if no fd of this
 * process holds it).  TMP is consumed.  0 or -errno (ERR set). */
int task_files_install(struct task_files *tf, uint32_t desc, int tmp);
/* Temporary fd FD of DESC's object sits where a file of the object other
 * than OWNER (the one it is for) is still to be installed. */
bool task_files_in_the_way(const struct task_files *tf, uint32_t desc, int fd, uint32_t owner);
/* Moves FD above every fd the task will have (closing FD), so that
 * installing one end of an object cannot overwrite another's temporary
 * fd.  The new fd, or -errno (ERR set). */
int task_files_park(struct task_files *tf, int fd);
/* The fd of the first fd_entry naming DESC, for messages. */
int task_files_err(struct task_files *tf, uint32_t desc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The task's fd of another open file description of DESC's kernel object
 * (fd_ops.obj_key), -1 if none is there yet. */
int task_object_fd(const struct task_files *tf, uint32_t desc);
/* Reopens the object behind task fd FD with FLAGS (via /proc/self/fd). */
int task_reopen(int fd, uint32_t flags);

#endif
