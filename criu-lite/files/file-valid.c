/* Owns --file-validation: what dump records of a file the tree maps or
 * holds open read-only besides its inode, size and mtime (an XXH3-128
 * hash of its content, its ELF build-id), and the rule restore applies
 * when the file at the path is another inode (another host, NFS with
 * another st_dev) or the same one touched: the same size and hash (hash,
 * the default), or CRIU's weaker rules: the same size and build-id
 * (buildid), the same size (filesize).  A file is read at most once per
 * (dev, ino, size, mtime, ctime) in a process: a dump reads them before
 * it freezes the tree, migrate's PREFLIGHT before anything is frozen, so
 * that the frozen dump finds them here. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "common.h"
#include "file-valid.h"
#include "log.h"
#include "words.h"

#define READ_CHUNK (1 << 20)
/* The program headers and notes read for a build-id: a little ELF. */
#define MAX_PHNUM 256
#define MAX_NOTES (64 << 10)

struct sums_seen {
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns, ctime_ns;
	bool hashed, id_read;
	bool logged; /* accepted as another inode: said once */
	struct file_sums s;
};

static struct sums_seen *seen;
static size_t nr_seen;

static const char *const mode_names[] = {
	[FILE_VALID_HASH] = "hash",
	[FILE_VALID_BUILDID] = "buildid",
	[FILE_VALID_FILESIZE] = "filesize",
};

int file_valid_parse(const char *s, enum file_valid_mode *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++)
		if (!strcmp(s, mode_names[i])) {
			*m = i;
			return 0;
		}
	return -EINVAL;
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* ST's entry, made if new; NULL: out of memory. */
static struct sums_seen *seen_of(const struct stat *st)
{
	struct sums_seen *n;

	for (size_t i = 0; i < nr_seen; i++) {
		n = &seen[i];
		if (n->dev == st->st_dev && n->ino == st->st_ino && n->size == st->st_size &&
		    n->mtime_ns == ts_ns(&st->st_mtim) && n->ctime_ns == ts_ns(&st->st_ctim))
			return n;
	}
	n = realloc(seen, (nr_seen + 1) * sizeof(*n));
	if (!n)
		return NULL;
	seen = n;
	n = &seen[nr_seen++];
	*n = (struct sums_seen){ .dev = st->st_dev, .ino = st->st_ino, .size = st->st_size,
				 .mtime_ns = ts_ns(&st->st_mtim), .ctime_ns = ts_ns(&st->st_ctim) };
	return n;
}

/* Read, not mapped: a file truncated meanwhile gives a short read, not
 * a SIGBUS. */
static int hash_file(int fd, const struct stat *st, uint8_t out[FILE_VALID_HASH_LEN],
		     const char *what)
{
	cleanup_free uint8_t *buf = malloc(READ_CHUNK);
	XXH3_state_t *x = XXH3_createState();
	uint64_t t0 = now_us();
	XXH128_canonical_t c;
	off_t off = 0;
	ssize_t n = 0;
	int err;

	if (!buf || !x) {
		XXH3_freeState(x);
		return -ENOMEM;
	}
	XXH3_128bits_reset(x);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	/* The size of the fstat: what grew since is not hashed. */
	while (off < st->st_size &&
	       (n = pread(fd, buf, st->st_size - off < READ_CHUNK ? st->st_size - off : READ_CHUNK,
			  off)) > 0) {
		XXH3_128bits_update(x, buf, n);
		off += n;
	}
	err = n < 0 ? errno : EIO;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(x));
	XXH3_freeState(x);
	if (off != st->st_size) {
		pr_err("%s: can't read it whole for its content hash (%lld of %lld bytes): %s\n",
		       what, (long long)off, (long long)st->st_size,
		       n < 0 ? strerror(err) : "it was truncated meanwhile");
		return -err;
	}
	memcpy(out, c.digest, FILE_VALID_HASH_LEN);
	pr_debug("%s: its content hash, %lld bytes, took %llu us\n", what, (long long)off,
		 (unsigned long long)(now_us() - t0));
	return 0;
}

/* The NT_GNU_BUILD_ID descriptor among the notes in BUF. */
static void find_build_id(const uint8_t *buf, size_t len, struct file_sums *s)
{
	size_t off = 0;

	while (off + sizeof(Elf64_Nhdr) <= len) {
		Elf64_Nhdr n;
		size_t name, desc;

		memcpy(&n, buf + off, sizeof(n));
		name = (n.n_namesz + 3) & ~3ul;
		desc = (n.n_descsz + 3) & ~3ul;
		off += sizeof(n);
		if (name > len - off || desc > len - off - name)
			return;
		if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 &&
		    !memcmp(buf + off, "GNU", 4) && n.n_descsz &&
		    n.n_descsz <= FILE_VALID_MAX_BUILD_ID) {
			memcpy(s->build_id, buf + off + name, n.n_descsz);
			s->build_id_len = n.n_descsz;
			return;
		}
		off += name + desc;
	}
}

/* A 64-bit ELF file's build-id, from its PT_NOTE segments; none is no
 * error (not ELF, no note): CRIU's rule then falls back to the size. */
static void read_build_id(int fd, const struct stat *st, struct file_sums *s)
{
	Elf64_Phdr ph[MAX_PHNUM];
	Elf64_Ehdr eh;
	size_t nr;

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
		return;
	nr = eh.e_phnum < MAX_PHNUM ? eh.e_phnum : MAX_PHNUM;
	if (pread(fd, ph, nr * sizeof(*ph), eh.e_phoff) != (ssize_t)(nr * sizeof(*ph)))
		return;
	for (size_t i = 0; i < nr && !s->build_id_len; i++) {
		cleanup_free uint8_t *notes = NULL;

		if (ph[i].p_type != PT_NOTE || !ph[i].p_filesz || ph[i].p_filesz > MAX_NOTES ||
		    ph[i].p_offset > (uint64_t)st->st_size)
			continue;
		notes = malloc(ph[i].p_filesz);
		if (notes && pread(fd, notes, ph[i].p_filesz, ph[i].p_offset) ==
				     (ssize_t)ph[i].p_filesz)
			find_build_id(notes, ph[i].p_filesz, s);
	}
}

int file_valid_sums(int fd, const struct stat *st, enum file_valid_mode m, struct file_sums *s,
		    const char *what)
{
	struct sums_seen *n = seen_of(st);
	int ret;

	if (!n)
		return -ENOMEM;
	if (m == FILE_VALID_HASH && !n->hashed) {
		ret = hash_file(fd, st, n->s.hash, what);
		if (ret)
			return ret;
		n->s.hash_len = FILE_VALID_HASH_LEN;
		n->hashed = true;
	}
	if (m != FILE_VALID_FILESIZE && !n->id_read) {
		read_build_id(fd, st, &n->s);
		n->id_read = true;
	}
	*s = n->s;
	if (m != FILE_VALID_HASH)
		s->hash_len = 0;
	if (m == FILE_VALID_FILESIZE)
		s->build_id_len = 0;
	return 0;
}

struct file_dumped file_dumped_mapped(const MappedFileEntry *f)
{
	return (struct file_dumped){
		.path = f->path, .dev = f->dev, .ino = f->ino, .size = f->size,
		.mtime_ns = f->mtime_ns,
		.hash = f->has_content_hash ? &f->content_hash : NULL,
		.build_id = f->has_build_id ? &f->build_id : NULL,
	};
}

const char *file_valid_sums_bad(const ProtobufCBinaryData *hash,
				const ProtobufCBinaryData *build_id)
{
	if (hash && hash->len != FILE_VALID_HASH_LEN)
		return "a content hash that is not 16 bytes";
	if (build_id && (!build_id->len || build_id->len > FILE_VALID_MAX_BUILD_ID))
		return "a build-id of 0 or over 64 bytes";
	return NULL;
}

const char *mapped_sums_bad(const MappedFileEntry *f)
{
	if (f->ghost && (f->has_content_hash || f->has_build_id))
		return "a deleted file's contents with a content hash or build-id";
	return file_valid_sums_bad(f->has_content_hash ? &f->content_hash : NULL,
				   f->has_build_id ? &f->build_id : NULL);
}

/* Why the file differs by MODE's rule, or NULL: it is the dumped one. */
static const char *differs(const struct file_dumped *d, const struct file_sums *now,
			   enum file_valid_mode m)
{
	switch (m) {
	case FILE_VALID_HASH:
		if (!d->hash)
			return "content unknown: the dump recorded no content hash (dumped with "
			       "--file-validation buildid or filesize, or by an older lmproc); "
			       "--file-validation buildid or filesize would accept it by CRIU's "
			       "weaker rules";
		return memcmp(now->hash, d->hash->data, FILE_VALID_HASH_LEN) ?
			       "content: its XXH3-128 hash is not the dumped one" :
			       NULL;
	case FILE_VALID_BUILDID:
		if (!d->build_id)
			return NULL;
		if (!now->build_id_len)
			return "content: it has no ELF build-id, the dumped one had";
		return now->build_id_len != d->build_id->len ||
				       memcmp(now->build_id, d->build_id->data, d->build_id->len) ?
			       "content: its ELF build-id is not the dumped one" :
			       NULL;
	case FILE_VALID_FILESIZE:
		return NULL;
	}
	return NULL;
}

/* "2001-02-03 04:05:06.000000000 UTC" */
static struct words mtime_words(int64_t ns)
{
	time_t sec = ns / 1000000000;
	struct words w = { "" };
	struct tm tm;

	if (ns < 0 || !gmtime_r(&sec, &tm)) {
		snprintf(w.s, sizeof(w.s), "%lld ns", (long long)ns);
		return w;
	}
	strftime(w.s, sizeof(w.s), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(w.s + strlen(w.s), sizeof(w.s) - strlen(w.s), ".%09lld UTC",
		 (long long)(ns % 1000000000));
	return w;
}

/* Which of inode, size and mtime changed, dumped and now, as "; ..."
 * words in WHAT; none: it is the dumped file as it was. */
static size_t identity_diff(const struct file_dumped *d, const struct stat *st, char *what,
			    size_t len)
{
	int64_t mtime = ts_ns(&st->st_mtim);
	size_t n = 0;

	what[0] = '\0';
	if (st->st_dev != d->dev || st->st_ino != d->ino)
		n += snprintf(what + n, len - n,
			      "; inode %llu on device %u:%u, now inode %llu on %u:%u (another file)",
			      (unsigned long long)d->ino, major(d->dev), minor(d->dev),
			      (unsigned long long)st->st_ino, major(st->st_dev), minor(st->st_dev));
	if ((uint64_t)st->st_size != d->size && n < len)
		n += snprintf(what + n, len - n, "; size %llu, now %lld",
			      (unsigned long long)d->size, (long long)st->st_size);
	if (mtime != d->mtime_ns && n < len)
		n += snprintf(what + n, len - n, "; mtime %s, now %s",
			      mtime_words(d->mtime_ns).s, mtime_words(mtime).s);
	return n;
}

static int not_regular(const struct stat *st, const char *who)
{
	if (S_ISREG(st->st_mode))
		return 0;
	pr_err("%s: the file changed since the dump; it is now %s\n", who,
	       file_kind_words(st->st_mode, NULL).s);
	return -ESTALE;
}

/* The file open as FD (ST), not the dumped inode or not of its mtime
 * (WHAT says how), by MODE's rule. */
static int by_rule(const struct file_dumped *d, int fd, const struct stat *st,
		   enum file_valid_mode m, const char *who, const char *what)
{
	struct file_sums now = {};
	struct sums_seen *n;
	const char *why;
	int ret;

	if ((uint64_t)st->st_size != d->size) {
		pr_err("%s: the file at %s differs from the dumped one (size)%s\n", who, d->path,
		       what);
		return -ESTALE;
	}
	ret = file_valid_sums(fd, st, m, &now, who);
	if (ret)
		return ret;
	why = differs(d, &now, m);
	if (why) {
		pr_err("%s: the file at %s differs from the dumped one (%s)%s\n", who, d->path,
		       why, what);
		return -ESTALE;
	}
	n = seen_of(st);
	if (n && !n->logged)
		pr_info("%s: the file at %s is accepted as the dumped one by --file-validation "
			"%s%s%s\n", who, d->path, mode_names[m],
			m == FILE_VALID_BUILDID && !d->build_id ? " (no build-id: by size)" : "",
			what);
	if (n)
		n->logged = true;
	return 0;
}

int file_valid_fd(const struct file_dumped *d, int fd, enum file_valid_mode m, const char *who)
{
	char what[512];
	struct stat st;

	if (fstat(fd, &st)) {
		pr_perror("%s: can't stat the file", who);
		return -errno;
	}
	if (not_regular(&st, who))
		return -ESTALE;
	/* The same inode, size and mtime: as dumped, at no cost. */
	if (!identity_diff(d, &st, what, sizeof(what)))
		return 0;
	return by_rule(d, fd, &st, m, who, what);
}

int file_valid_path(const struct file_dumped *d, bool nofollow, enum file_valid_mode m,
		    const char *who)
{
	char what[512];
	struct stat st;
	int fd, ret;

	if (nofollow ? lstat(d->path, &st) : stat(d->path, &st)) {
		pr_perror("%s: can't find the file", who);
		return -errno;
	}
	if (not_regular(&st, who))
		return -ESTALE;
	if (!identity_diff(d, &st, what, sizeof(what)))
		return 0;
	fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
				   (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0) {
		pr_perror("%s: can't open the file to compare it with the dumped one", who);
		return -errno;
	}
	ret = file_valid_fd(d, fd, m, who);
	close(fd);
	return ret;
}
