/* Owns pipes: each end's flags, the pipe's size (F_GETPIPE_SZ) and the
 * bytes buffered in it.  Dump copies the buffer with tee(2) from a read
 * end of lmproc's own (opened through /proc), which leaves the pipe's
 * contents exactly as they were whatever happens next, and keeps packet
 * mode's boundaries (O_DIRECT writes); restore makes the pipe, sets its
 * size, writes the bytes back (each packet on its own) and installs every
 * end the process had.  FIFOs (named pipes) are fifo.c's, which shares the
 * buffer's dump and refill. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common.h"
#include "fd-types.h"
#include "log.h"
#include "words.h"

#define PIPE_FLAGS (O_ACCMODE | O_NONBLOCK | O_DIRECT | KERNEL_O_LARGEFILE)
#define PIPE_MAX_SIZE (1U << 31)

static bool pipe_match(struct files_dump *d, const struct fd_parms *p)
{
	(void)d;
	return S_ISFIFO(p->st.st_mode) && !(p->flags & O_PATH) && !strncmp(p->link, "pipe:[", 6);
}

/* A pipe of lmproc's at least SIZE bytes large, empty, twice that where
 * pipe-max-size allows: room for a marker after the buffers of a full
 * pipe (tee_copy). */
static int tee_pipe(struct files_dump *d, unsigned int size)
{
	if (d->tee_pipe[0] < 0 && pipe2(d->tee_pipe, O_CLOEXEC | O_NONBLOCK)) {
		pr_perror("Can't create a pipe");
		return -errno;
	}
	if (d->tee_size > size)
		return 0;
	if (size < PIPE_MAX_SIZE && fcntl(d->tee_pipe[1], F_SETPIPE_SZ, 2 * size) >= 0) {
		d->tee_size = 2 * size;
		return 0;
	}
	if (d->tee_size >= size)
		return 0;
	if (fcntl(d->tee_pipe[1], F_SETPIPE_SZ, size) < 0) {
		pr_perror("Can't make lmproc's pipe %u bytes large", size);
		return -errno;
	}
	d->tee_size = size;
	return 0;
}

/* A packet is at most a page: a larger write makes several. */
#define PIPE_PACKET_MAX 4096

/* lmproc's copy of the N bytes in RFD's pipe, and if MARKED isn't NULL a
 * plain byte after them where there is room (*MARKED says). */
static int tee_copy(struct files_dump *d, const struct fd_parms *p, int rfd, int n, bool *marked)
{
	ssize_t got = tee(rfd, d->tee_pipe[1], n, SPLICE_F_NONBLOCK);

	if (got != n) {
		pr_err("Can't copy the %d bytes in pid %d fd %d's pipe: tee gave %zd (%s)\n", n,
		       d->pid, p->fd, got, got < 0 ? strerror(errno) : "short");
		return got < 0 ? -errno : -EIO;
	}
	if (marked)
		*marked = write(d->tee_pipe[1], "", 1) == 1;
	return 0;
}

/* The bytes queued in lmproc's copy, or -errno. */
static int copy_queued(struct files_dump *d)
{
	int q;

	return ioctl(d->tee_pipe[0], FIONREAD, &q) ? -errno : q;
}

/* Reads the copy's TOTAL bytes into BUF, the length of each read into
 * *READS.  tee keeps the buffers' packet marks (O_DIRECT writes,
 * PIPE_BUF_FLAG_PACKET), and a read ends with the first packet it takes:
 * every read but the last ends with a packet. */
static int read_copy(struct files_dump *d, char *buf, int total, uint32_t **reads, size_t *nr)
{
	size_t cap = 0;
	int done = 0;

	*reads = NULL;
	*nr = 0;
	while (done < total) {
		ssize_t got = read(d->tee_pipe[0], buf + done, total - done);

		if (got <= 0)
			return got ? -errno : -EIO;
		if (*nr == cap) {
			uint32_t *more = realloc(*reads, (cap = cap ? 2 * cap : 16) * sizeof(**reads));

			if (!more)
				return -ENOMEM;
			*reads = more;
		}
		(*reads)[(*nr)++] = got;
		done += got;
	}
	return 0;
}

/* Bytes one 1-byte read of the copy takes: a packet's whole length, 1 for
 * plain bytes.  -errno. */
static int take_one(struct files_dump *d, char *buf)
{
	int before = copy_queued(d), after;

	if (before <= 0 || read(d->tee_pipe[0], buf, 1) != 1)
		return before < 0 ? before : -EIO;
	after = copy_queued(d);
	return after < 0 ? after : before - after;
}

static int refuse_packets(struct files_dump *d, const struct fd_parms *p, const char *why)
{
	pr_err("pid %d fd %d: a pipe holding packets (O_DIRECT writes): %s: not supported\n",
	       d->pid, p->fd, why);
	return -EOPNOTSUPP;
}

/* The packets of the pipe, READS as read_copy() gave them for its N bytes
 * (and the marker if MARKED): a second copy read a byte at a time tells
 * each read's packet from plain bytes before it (a 1-byte read takes a
 * whole packet).  Restore writes the packets one by one, then the plain
 * rest; plain bytes before a packet (written before O_DIRECT was set, or
 * by another end) it could not separate again (a packet written after a
 * plain buffer with room joins it) and are refused.  The last read with
 * no marker (the copy had no room) ends in a packet or not: taken as plain
 * unless the pipe shows packets or the end is in packet mode. */
static int find_packets(struct files_dump *d, const struct fd_parms *p, int rfd, int n,
			bool marked, const uint32_t *reads, size_t nr, PipeDataEntry *pd)
{
	size_t k = marked ? nr - 1 : nr;
	char *buf = files_scratch(d);
	int ret, left;

	if (!buf)
		return -ENOMEM;
	if (!marked && k == 1 && !(p->flags & O_DIRECT))
		return 0;
	ret = tee_copy(d, p, rfd, n, NULL);
	pd->packet_lens = ret ? NULL : calloc(k, sizeof(*pd->packet_lens));
	if (!ret && !pd->packet_lens)
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < k; i++) {
		bool unsure = !marked && i + 1 == k;
		int took = take_one(d, buf);

		if (took < 0)
			ret = took;
		else if (took == (int)reads[i] && (!unsure || took > 1))
			pd->packet_lens[pd->n_packet_lens++] = took;
		else if (!unsure)
			ret = refuse_packets(d, p, "plain bytes before a packet, which restore "
					     "could not keep apart (a packet joins a plain "
					     "buffer with room)");
		else if (pd->n_packet_lens || (p->flags & O_DIRECT))
			ret = refuse_packets(d, p, "the pipe is full, whether its last bytes are "
					     "a packet does not show");
		else
			break;
	}
	while ((left = copy_queued(d)) > 0)
		if (read(d->tee_pipe[0], buf, min(left, FILES_SCRATCH_SIZE)) <= 0)
			break;
	if (ret < 0 && ret != -EOPNOTSUPP)
		pr_err("Can't tell the packets in pid %d fd %d's pipe: %s\n", d->pid, p->fd,
		       strerror(-ret));
	return ret;
}

/* Copies the bytes in the pipe of RFD without taking them out. */
static int copy_contents(struct files_dump *d, const struct fd_parms *p, int rfd,
			 PipeDataEntry *pd)
{
	cleanup_free char *own = NULL;
	cleanup_free uint32_t *reads = NULL;
	bool marked = false;
	size_t nr;
	char *buf;
	int queued, ret;

	if (ioctl(rfd, FIONREAD, &queued)) {
		pr_perror("Can't see how much pid %d fd %d's pipe holds", d->pid, p->fd);
		return -errno;
	}
	if (!queued)
		return 0;
	ret = tee_pipe(d, pd->size);
	if (ret)
		return ret;
	buf = queued < FILES_SCRATCH_SIZE ? files_scratch(d) : (own = malloc(queued + 1));
	if (!buf)
		return -ENOMEM;
	ret = tee_copy(d, p, rfd, queued, &marked);
	if (!ret)
		ret = read_copy(d, buf, queued + marked, &reads, &nr);
	if (ret) {
		pr_err("Can't read back pid %d fd %d's pipe contents: %s\n", d->pid, p->fd,
		       strerror(-ret));
		return ret;
	}
	pd->data_len = queued;
	ret = files_data_write(d, buf, queued, &pd->data_off);
	if (!ret && (nr > 1 || !marked))
		ret = find_packets(d, p, rfd, queued, marked, reads, nr, pd);
	return ret;
}

int pipe_dump_data(struct files_dump *d, const struct fd_parms *p, PipeDataEntry *pd)
{
	char path[64];
	int rfd, size, ret;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", d->pid, p->fd);
	rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd < 0) {
		pr_perror("Can't open pid %d fd %d's pipe for reading", d->pid, p->fd);
		return -errno;
	}
	size = fcntl(rfd, F_GETPIPE_SZ);
	if (size < 0) {
		pr_perror("Can't get the size of pid %d fd %d's pipe", d->pid, p->fd);
		close(rfd);
		return -errno;
	}
	pd->size = size;
	pd->data_off = d->data_off;
	ret = copy_contents(d, p, rfd, pd);
	close(rfd);
	if (ret) {
		free(pd->packet_lens);
		pd->packet_lens = NULL;
		pd->n_packet_lens = 0;
	}
	return ret;
}

static int pipe_dump(struct files_dump *d, struct fd_parms *p, FileEntry *fe)
{
	PipeEntry pe = PIPE_ENTRY__INIT;
	PipeDataEntry pd = PIPE_DATA_ENTRY__INIT;
	bool first;
	int ret;

	if (p->flags & ~PIPE_FLAGS)
		return files_refuse_flags(d, p, "a pipe end", PIPE_FLAGS);
	pe.pipe_id = files_obj_id(d, FD_TYPE__FD_PIPE, &p->st, &first);
	if (!pe.pipe_id)
		return -ENOMEM;
	pe.flags = p->flags;
	pe.has_ino = true;
	pe.ino = p->st.st_ino;
	if (first) {
		ret = pipe_dump_data(d, p, &pd);
		if (ret)
			return ret;
		pe.data = &pd;
	}
	fe->pipe = &pe;
	ret = files_write(d, fe);
	free(pd.packet_lens);
	return ret;
}

static int pipe_validate(const FileEntry *f, uint64_t data_size)
{
	const PipeEntry *pe = f->pipe;

	if (!pe || !pe->pipe_id)
		return restore_plan_bad("files.img", "file id %u has no pipe entry", f->id);
	if ((pe->flags & ~PIPE_FLAGS) || (pe->flags & O_ACCMODE) == O_ACCMODE)
		return restore_plan_bad("files.img", "pipe file id %u has flags %s", f->id,
					open_flags_words(pe->flags).s);
	return pe->data ? pipe_data_validate(pe->pipe_id, pe->data, data_size) : 0;
}

int pipe_data_validate(uint32_t pipe_id, const PipeDataEntry *pd, uint64_t data_size)
{
	uint64_t sum = 0;

	if (pd->size < 4096 || pd->size > PIPE_MAX_SIZE || (pd->size & (pd->size - 1)) ||
	    pd->data_len > pd->size)
		return restore_plan_bad("files.img", "pipe %u of %u bytes holds %u", pipe_id,
					pd->size, pd->data_len);
	if (pd->n_packet_lens > pd->size / PIPE_PACKET_MAX)
		return restore_plan_bad("files.img", "pipe %u of %u bytes holds %zu packets",
					pipe_id, pd->size, pd->n_packet_lens);
	for (size_t i = 0; i < pd->n_packet_lens; i++) {
		if (!pd->packet_lens[i] || pd->packet_lens[i] > PIPE_PACKET_MAX)
			return restore_plan_bad("files.img", "pipe %u: packet %zu of %u bytes",
						pipe_id, i, pd->packet_lens[i]);
		sum += pd->packet_lens[i];
	}
	if (sum > pd->data_len)
		return restore_plan_bad("files.img", "pipe %u holding %u bytes: its packets "
					"claim %llu", pipe_id, pd->data_len,
					(unsigned long long)sum);
	if (pd->data_off > data_size || pd->data_len > data_size - pd->data_off)
		return restore_plan_bad("files.img", "pipe %u: %u bytes at %llu, files-data.img "
					"has %llu", pipe_id, pd->data_len,
					(unsigned long long)pd->data_off,
					(unsigned long long)data_size);
	return 0;
}

static uint64_t pipe_obj_key(const FileEntry *f)
{
	return f->pipe->pipe_id;
}

static bool pipe_obj_carrier(const FileEntry *f)
{
	return f->pipe->data;
}

/* A pipe with ends of one direction only in the tree had its other end
 * outside (a shell's "prog | consumer") or closed: restored, it is a new
 * pipe nobody outside holds.  Not refused, as a pipe whose reader is gone
 * is legal, but said, since the consumer will not see what comes next. */
void pipe_warn_outside(const struct restore_tree *t, uint32_t desc)
{
	const struct restore_plan *p0 = &t->ctx[0].plan;
	unsigned int dirs = 0;
	uint32_t m = desc;

	do {
		dirs |= 1U << (p0->fdesc[m].fe->pipe->flags & O_ACCMODE);
		m = p0->fdesc[m].obj_next;
	} while (m != desc);
	if ((dirs != 1U << O_RDONLY && dirs != 1U << O_WRONLY) ||
	    pipe_inherited(t->ctx[0].opts, p0->fdesc[desc].fe->pipe) >= 0)
		return;
	for (size_t i = 0; i < t->nr; i++) {
		const struct restore_plan *p = &t->ctx[i].plan;

		m = desc;
		do {
			if (p->pid && p->fdesc[m].first_fd >= 0) {
				pr_warn("pid %d fd %d: the %s end of its pipe was outside the tree "
					"(or closed); restored as a new pipe, %s (--inherit-fd "
					"fd[N]:pipe:[%llu] gives it lmproc's fd N)\n", p->pid,
					p->fdesc[m].first_fd,
					dirs == 1U << O_RDONLY ? "write" : "read",
					dirs == 1U << O_RDONLY ?
					"reads see end of file once it is empty" :
					"writes fail (EPIPE) once nobody reads",
					(unsigned long long)p0->fdesc[m].fe->pipe->ino);
				return;
			}
			m = p0->fdesc[m].obj_next;
		} while (m != desc);
	}
}

/* The --inherit-fd given for PE's pipe, or -1. */
int pipe_inherited(const struct lmproc_opts *o, const PipeEntry *pe)
{
	char key[48];

	if (!o || !pe->has_ino)
		return -1;
	snprintf(key, sizeof(key), "pipe:[%llu]", (unsigned long long)pe->ino);
	for (int k = 0; k < o->nr_inherit; k++)
		if (!strcmp(o->inherit[k].key, key))
			return k;
	return -1;
}

/* Each --inherit-fd names a pipe of the dump whose ends in the tree all
 * go one way, and lmproc's fd is a pipe end going that way too. */
static int check_inherit_one(const struct restore_tree *t, int k)
{
	const struct restore_plan *p0 = &t->ctx[0].plan;
	const struct inherit_fd *in = &t->ctx[0].opts->inherit[k];
	int fl = fcntl(in->fd, F_GETFL), acc = -1;
	struct stat st;

	for (uint32_t i = 0; i < p0->nr_files; i++) {
		const FileEntry *f = p0->files[i];

		if (f->type != FD_TYPE__FD_PIPE || pipe_inherited(t->ctx[0].opts, f->pipe) != k)
			continue;
		if (acc >= 0 && acc != (int)(f->pipe->flags & O_ACCMODE)) {
			pr_err("--inherit-fd fd[%d]:%s: both ends of that pipe are in the tree\n",
			       in->fd, in->key);
			return -EINVAL;
		}
		acc = f->pipe->flags & O_ACCMODE;
	}
	if (acc < 0) {
		pr_err("--inherit-fd fd[%d]:%s: the dump has no such pipe\n", in->fd, in->key);
		return -ENOENT;
	}
	if (fl < 0 || fstat(in->fd, &st) || !S_ISFIFO(st.st_mode) || (fl & O_ACCMODE) != acc) {
		pr_err("--inherit-fd fd[%d]:%s: lmproc's fd %d is not the %s end of a pipe\n",
		       in->fd, in->key, in->fd, acc == O_RDONLY ? "read" : "write");
		return -EBADF;
	}
	return 0;
}

int pipe_check_inherit(const struct restore_tree *t)
{
	for (int k = 0; k < t->ctx[0].opts->nr_inherit; k++) {
		int ret = strncmp(t->ctx[0].opts->inherit[k].key, "pipe:", 5) ? 0 :
			  check_inherit_one(t, k);

		if (ret)
			return ret;
	}
	return 0;
}

/* LEN bytes of BUF as one write, in packet mode or not. */
static int put_back(struct task_files *tf, uint32_t desc, int wfd, const char *buf, uint32_t len,
		    bool packet)
{
	ssize_t n;

	if (fcntl(wfd, F_SETFL, O_NONBLOCK | (packet ? O_DIRECT : 0)))
		return task_files_err(tf, desc, "can't make the pipe non-blocking%s: %s",
				      packet ? ", in packet mode" : "", strerror(errno));
	n = write(wfd, buf, len);
	if (n != (ssize_t)len)
		return task_files_err(tf, desc, "can't put %u bytes back into the pipe: %s", len,
				      n < 0 ? strerror(errno) : "it is full");
	return 0;
}

/* Each packet as a write of its own in packet mode (a buffer of its own,
 * as a packet never joins the one before), then the plain rest at once. */
static int fill_packets(struct task_files *tf, uint32_t desc, int wfd, const PipeDataEntry *pd,
			const char *buf)
{
	uint32_t at = 0;
	int ret;

	for (size_t i = 0; i < pd->n_packet_lens; i++) {
		ret = put_back(tf, desc, wfd, buf + at, pd->packet_lens[i], true);
		if (ret)
			return ret;
		at += pd->packet_lens[i];
	}
	if (at == pd->data_len)
		return fcntl(wfd, F_SETFL, O_NONBLOCK) ? task_files_err(tf, desc,
			"can't make the pipe non-blocking: %s", strerror(errno)) : 0;
	return put_back(tf, desc, wfd, buf + at, pd->data_len - at, false);
}

/* write(), not splice(): a splice from the image brings page cache pages
 * that the bytes may straddle, more buffers than the pipe has room for;
 * written, they pack into as few pages as they came from at most.  The
 * write end is non-blocking meanwhile: a pipe that cannot take them fails
 * the restore instead of hanging it. */
int pipe_fill(struct task_files *tf, uint32_t desc, int wfd, const PipeDataEntry *pd)
{
	cleanup_free char *buf = NULL;
	int size = fcntl(wfd, F_GETPIPE_SZ);
	ssize_t n;

	if (size != (int)pd->size && fcntl(wfd, F_SETPIPE_SZ, pd->size) < 0)
		return task_files_err(tf, desc, "can't make the pipe %u bytes large: %s (see "
				      "/proc/sys/fs/pipe-max-size)", pd->size, strerror(errno));
	if (!pd->data_len)
		return 0;
	buf = malloc(pd->data_len);
	if (!buf)
		return task_files_err(tf, desc, "no memory for %u bytes", pd->data_len);
	n = pread(tf->data_fd, buf, pd->data_len, pd->data_off);
	if (n != (ssize_t)pd->data_len)
		return task_files_err(tf, desc, "can't read %u bytes of files-data.img: %s",
				      pd->data_len, n < 0 ? strerror(errno) : "it is short");
	return fill_packets(tf, desc, wfd, pd, buf);
}

/* The member of DESC's ring that gets pipe2() end E (the first one of its
 * direction), or UINT32_MAX. */
static uint32_t receiver(const struct task_files *tf, uint32_t desc, int e)
{
	uint32_t m = desc;

	do {
		uint32_t acc = tf->plan->fdesc[m].fe->pipe->flags & O_ACCMODE;

		if (acc == (e ? O_WRONLY : O_RDONLY))
			return m;
		m = tf->plan->fdesc[m].obj_next;
	} while (m != desc);
	return UINT32_MAX;
}

/* Every end the process has: the pipe2() ends to the first end of each
 * direction, opens of /proc/self/fd to the others (as they were made). */
static int install_ends(struct task_files *tf, uint32_t desc, int ends[2], const uint32_t rcv[2])
{
	uint32_t m = desc;

	do {
		const PipeEntry *pe = tf->plan->fdesc[m].fe->pipe;
		int e = m == rcv[1], fd, ret;

		if (m == rcv[0] || m == rcv[1]) {
			fd = ends[e];
			ends[e] = -1;
		} else {
			fd = task_reopen(ends[0] >= 0	? ends[0] :
					 ends[1] >= 0	? ends[1] :
							  task_object_fd(tf, m),
					 pe->flags & ~O_DIRECT);
			if (fd < 0)
				return task_files_err(tf, m, "can't open an end of the pipe: %s",
						      strerror(errno));
		}
		/* O_DIRECT, packet mode, is not taken by open(). */
		if (((pe->flags & (O_NONBLOCK | O_DIRECT)) || m == rcv[1]) &&
		    fcntl(fd, F_SETFL, pe->flags & (O_NONBLOCK | O_DIRECT))) {
			close(fd);
			return task_files_err(tf, m, "can't set flags %s: %s", open_flags_words(pe->flags).s,
					      strerror(errno));
		}
		ret = task_files_install(tf, m, fd);
		if (ret)
			return ret;
		m = tf->plan->fdesc[m].obj_next;
	} while (m != desc);
	return 0;
}

/* The whole pipe at once: every end the process has is installed now.  An
 * end sitting where another end belongs is parked first. */
/* A pipe given with --inherit-fd: its ends in the tree all go the way of
 * lmproc's fd (pipe_check_inherit), each opened again through it with
 * its dumped flags; what was buffered is the outside pipe's business. */
static int open_inherited(struct task_files *tf, uint32_t desc, int k)
{
	uint32_t m = desc;
	int ret = 0;

	do {
		const struct file_desc *d = &tf->plan->fdesc[m];
		int tmp;

		if (tf->file_fd[m] < 0 && (d->first_fd >= 0 || d->make_here)) {
			tmp = task_reopen(tf->inherit_fd[k], d->fe->pipe->flags & ~O_DIRECT);
			if (tmp >= 0 && (d->fe->pipe->flags & O_DIRECT) &&
			    fcntl(tmp, F_SETFL, d->fe->pipe->flags & (O_NONBLOCK | O_DIRECT))) {
				close(tmp);
				tmp = -1;
			}
			if (tmp < 0)
				return task_files_err(tf, m, "can't take lmproc's fd for %s: %s",
						      tf->opts->inherit[k].key, strerror(errno));
			ret = task_files_install(tf, m, tmp);
			if (ret)
				return ret;
		}
		m = d->obj_next;
	} while (m != desc);
	return ret;
}

static int pipe_open(struct task_files *tf, uint32_t desc)
{
	const PipeEntry *c = tf->plan->fdesc[tf->plan->fdesc[desc].carrier].fe->pipe;
	uint32_t rcv[2] = { receiver(tf, desc, 0), receiver(tf, desc, 1) };
	int ends[2], ret = 0, k = pipe_inherited(tf->opts, c);

	if (k >= 0)
		return open_inherited(tf, desc, k);
	if (pipe2(ends, O_CLOEXEC))
		return task_files_err(tf, desc, "can't create a pipe: %s", strerror(errno));
	for (int e = 0; e < 2 && !ret; e++) {
		if (!task_files_in_the_way(tf, desc, ends[e], rcv[e]))
			continue;
		ends[e] = task_files_park(tf, ends[e]);
		if (ends[e] < 0)
			ret = -EMFILE;
	}
	if (!ret)
		ret = pipe_fill(tf, desc, ends[1], c->data);
	if (!ret)
		ret = install_ends(tf, desc, ends, rcv);
	for (int e = 0; e < 2; e++)
		if (ends[e] >= 0)
			close(ends[e]);
	return ret;
}

const struct fd_ops pipe_fd_ops = {
	.type = FD_TYPE__FD_PIPE,
	.name = "pipe",
	.match = pipe_match,
	.dump = pipe_dump,
	.validate = pipe_validate,
	.obj_key = pipe_obj_key,
	.obj_carrier = pipe_obj_carrier,
	.open = pipe_open,
};
