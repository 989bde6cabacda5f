/* Owns the checking of raw images (pages, files-data.img,
 * shmem-pages.img) against the chunk checksums their footers carry,
 * whole, before anything is made from them.  (Hashing a restore's pages
 * in background threads while it made the tree, held before the
 * hand-over, was measured here: 256 MiB restored in 117 ms either way,
 * 82 ms unchecked; the fill and the hash share the two CPUs.) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common.h"
#include "image.h"
#include "log.h"

/* Chunks of one raw image, checked by a few threads at once from a
 * mapping of it: xxh3 runs at ~9 GB/s a core here, and mapping the page
 * cache in bulk (MADV_POPULATE_READ) costs a third of what read() into a
 * buffer does (256 MiB: 42 ms against 140 ms). */
struct raw_verify {
	const char *map;
	uint64_t data_len;
	uint64_t *chunks;
	uint32_t nr_chunks;
	uint32_t next;		/* the next chunk to take */
	uint32_t bad;		/* the first chunk that mismatched */
	int err;
	char *name;		/* for errors */
};

#define VERIFY_THREADS 4

/* The images whose chunks a pass checks, and its threads. */
struct verify_set {
	struct raw_verify **jobs;
	size_t nr;
	pthread_t th[VERIFY_THREADS];
	int nr_threads;
};

static int verify_chunk(struct raw_verify *v, uint32_t i)
{
	uint64_t off = (uint64_t)i * IMG_SUM_CHUNK;
	uint64_t len = min(v->data_len - off, (uint64_t)IMG_SUM_CHUNK);

	/* Fails (EFAULT) rather than faults if the file shrank under us. */
	if (madvise((void *)(v->map + off), len, MADV_POPULATE_READ) && errno != EINVAL)
		return -errno;
	return XXH3_64bits(v->map + off, len) == v->chunks[i] ? 0 : 1;
}

/* Keeps the lowest mismatching chunk, for the error. */
static void note_bad_chunk(struct raw_verify *v, uint32_t i)
{
	uint32_t cur = __atomic_load_n(&v->bad, __ATOMIC_RELAXED);

	while (i < cur && !__atomic_compare_exchange_n(&v->bad, &cur, i, false, __ATOMIC_RELAXED,
						      __ATOMIC_RELAXED))
		;
}

static void *verify_main(void *arg)
{
	struct verify_set *s = arg;
	uint32_t i;

	for (size_t j = 0; j < s->nr; j++) {
		struct raw_verify *v = s->jobs[j];

		while ((i = __atomic_fetch_add(&v->next, 1, __ATOMIC_RELAXED)) < v->nr_chunks) {
			int ret = verify_chunk(v, i);

			if (ret < 0)
				__atomic_store_n(&v->err, ret, __ATOMIC_RELAXED);
			else if (ret)
				note_bad_chunk(v, i);
		}
	}
	return NULL;
}

/* Threads besides the caller, one a CPU (up to VERIFY_THREADS and MAX
 * in all), with every signal blocked: lmproc's own handling
 * (interrupt.c) and its SIGCHLD stay with the main thread. */
static void start_threads(struct verify_set *s, int max)
{
	int cpus = sysconf(_SC_NPROCESSORS_ONLN);
	sigset_t all, old;

	max = min(max, min(cpus, VERIFY_THREADS)) - 1;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	while (s->nr_threads < max && !pthread_create(&s->th[s->nr_threads], NULL, verify_main, s))
		s->nr_threads++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Helps the threads to the end, then joins them. */
static void finish_threads(struct verify_set *s)
{
	verify_main(s);
	for (int i = 0; i < s->nr_threads; i++)
		pthread_join(s->th[i], NULL);
	s->nr_threads = 0;
}

static int verify_result(const struct raw_verify *v)
{
	if (v->err) {
		pr_err("Can't read image %s: %s\n", v->name, strerror(-v->err));
		return v->err;
	}
	if (v->bad != UINT32_MAX) {
		pr_err("Image %s is corrupt: checksum mismatch in bytes %llu-%llu\n", v->name,
		       (unsigned long long)v->bad * IMG_SUM_CHUNK,
		       (unsigned long long)min(v->data_len, ((uint64_t)v->bad + 1) * IMG_SUM_CHUNK));
		return -EINVAL;
	}
	return 0;
}

static void verify_free(struct raw_verify *v)
{
	if (!v)
		return;
	if (v->map)
		munmap((void *)v->map, v->data_len);
	free(v->chunks);
	free(v->name);
	free(v);
}

/* The footer and chunk sums at the end of a raw image of SIZE bytes. */
static int read_raw_footer(int fd, uint64_t size, const char *name, struct raw_footer *f,
			   uint64_t **chunks)
{
	uint64_t sums, sum;
	XXH3_state_t *st;

	if (size < sizeof(*f) || pread(fd, f, sizeof(*f), size - sizeof(*f)) != sizeof(*f) ||
	    f->magic != IMG_RAW_MAGIC) {
		pr_err("Image %s is truncated or corrupt: no checksum footer\n", name);
		return -EINVAL;
	}
	sums = (uint64_t)f->nr_chunks * sizeof(uint64_t);
	if (f->chunk_size != IMG_SUM_CHUNK ||
	    f->nr_chunks != (f->data_len + IMG_SUM_CHUNK - 1) / IMG_SUM_CHUNK ||
	    size != f->data_len + sums + sizeof(*f)) {
		pr_err("Image %s is truncated or corrupt: %llu bytes, its footer says %llu of "
		       "data in %u chunks of %u\n", name, (unsigned long long)size,
		       (unsigned long long)f->data_len, f->nr_chunks, f->chunk_size);
		return -EINVAL;
	}
	*chunks = malloc(sums ?: 1);
	st = XXH3_createState();
	if (!*chunks || !st) {
		XXH3_freeState(st);
		return -ENOMEM;
	}
	if (sums && pread(fd, *chunks, sums, f->data_len) != (ssize_t)sums) {
		XXH3_freeState(st);
		pr_err("Can't read the checksums of image %s\n", name);
		return -EIO;
	}
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, *chunks, sums);
	XXH3_64bits_update(st, f, offsetof(struct raw_footer, sum));
	sum = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	if (sum != f->sum) {
		pr_err("Image %s is corrupt: checksum mismatch in its footer\n", name);
		return -EINVAL;
	}
	return 0;
}

/* Set while a dump checks the images it has just written: the data's
 * sums are its own, computed as it wrote them, and hashing every page of
 * every round again would lengthen the frozen window by a pass over all
 * of them; the footer, its sum and the lengths are still checked. */
static bool raw_footer_only;

void img_raw_verify_footer_only(bool on)
{
	raw_footer_only = on;
}

/* Raw images this process has verified whole and holds unchanged since
 * (serve's pre-copy rounds, in its private directory, checked as they
 * are staged): the final restore checks only their footers, or the
 * frozen window would hash every round of the chain again. */
struct verified_file {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

static struct verified_file *verified;
static size_t nr_verified;

static bool same_file(const struct verified_file *v, const struct stat *st)
{
	return v->dev == st->st_dev && v->ino == st->st_ino && v->size == st->st_size &&
	       v->mtime.tv_sec == st->st_mtim.tv_sec && v->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       v->ctime.tv_sec == st->st_ctim.tv_sec && v->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static bool was_verified(const struct stat *st)
{
	for (size_t i = 0; i < nr_verified; i++)
		if (same_file(&verified[i], st))
			return true;
	return false;
}

int img_raw_mark_verified(int fd)
{
	struct verified_file *n;
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (was_verified(&st))
		return 0;
	n = realloc(verified, (nr_verified + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	verified = n;
	verified[nr_verified++] = (struct verified_file){ st.st_dev, st.st_ino, st.st_size,
							  st.st_mtim, st.st_ctim };
	return 0;
}

void img_raw_forget_verified(void)
{
	free(verified);
	verified = NULL;
	nr_verified = 0;
}

/* The checks of the image open at FD, its footer read; *V gets them,
 * its data mapped (none: no data, or footers only). */
static int verify_prepare(int fd, const char *name, uint64_t *data_len, struct raw_verify **out)
{
	struct raw_verify *v = calloc(1, sizeof(*v));
	struct raw_footer f;
	struct stat st;
	int ret;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	v->name = strdup(name);
	v->bad = UINT32_MAX;
	if (!v->name) {
		ret = -ENOMEM;
		goto err;
	}
	if (fstat(fd, &st)) {
		pr_perror("Can't stat image %s", name);
		ret = -errno;
		goto err;
	}
	ret = read_raw_footer(fd, st.st_size, name, &f, &v->chunks);
	if (ret)
		goto err;
	*data_len = f.data_len;
	if (raw_footer_only || !f.data_len || was_verified(&st)) {
		verify_free(v);
		return 0;
	}
	v->data_len = f.data_len;
	v->nr_chunks = f.nr_chunks;
	v->map = mmap(NULL, f.data_len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (v->map == MAP_FAILED) {
		v->map = NULL;
		pr_perror("Can't map image %s", name);
		ret = -errno;
		goto err;
	}
	*out = v;
	return 0;
err:
	verify_free(v);
	return ret;
}

int img_raw_verify(int dfd, int type, int pid, const char *dir, bool optional,
		   uint64_t *data_len)
{
	struct verify_set one = {};
	struct raw_verify *v;
	char path[64], name[PATH_MAX];
	int fd, ret;

	snprintf(path, sizeof(path), image_descs[type].name_fmt, pid);
	snprintf(name, sizeof(name), "%s%s", dir, path);
	*data_len = 0;
	fd = img_open_file(dfd, path, optional);
	if (fd == -ENOENT && optional)
		return 0;
	if (fd < 0)
		return fd;
	ret = verify_prepare(fd, name, data_len, &v);
	close(fd);
	if (ret || !v)
		return ret;
	one = (struct verify_set){ .jobs = &v, .nr = 1 };
	start_threads(&one, (int)min(v->nr_chunks, (uint32_t)VERIFY_THREADS));
	finish_threads(&one);
	ret = verify_result(v);
	verify_free(v);
	if (ret)
		*data_len = 0;
	return ret;
}

int img_raw_drop_data(int dfd, const char *name)
{
	struct raw_footer f;
	uint64_t *chunks = NULL;
	struct stat st;
	int fd, ret;

	fd = openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ret = fstat(fd, &st) ? -errno : read_raw_footer(fd, st.st_size, name, &f, &chunks);
	free(chunks);
	if (!ret && f.data_len >= PAGE_SIZE &&
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      f.data_len & ~(uint64_t)(PAGE_SIZE - 1)))
		ret = -errno;
	close(fd);
	return ret;
}
