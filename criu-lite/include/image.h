/* Image files: a 4-byte magic, then protobuf messages each preceded by its
 * 4-byte length, then a trailer with the record count and an xxh3 of all
 * that.  Raw images (pages, files data, shmem pages) end with chunk
 * checksums instead.  Readers get checked lengths, checksums and integer
 * ranges; field validation is the caller's job, right after reading. */
#ifndef LMPROC_IMAGE_H
#define LMPROC_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <protobuf-c/protobuf-c.h>

/* Bumped whenever the meaning of any image changes. */
#define IMAGE_VERSION 11

/* No single message may be larger: a corrupt length must not make us
 * allocate gigabytes. */
#define IMAGE_MAX_MSG (64U << 20)

/* Where a length would be, this marks a framed image's trailer: u32
 * record count, u64 XXH3_64bits of every byte before the mark. */
#define IMG_TRAILER_MARK 0xffffffffU
/* Raw images are checksummed in chunks of this many bytes, so that
 * restore can verify them with several threads. */
#define IMG_SUM_CHUNK (4U << 20)
#define IMG_RAW_MAGIC 0x4c4d53554d524157ULL /* "WARMUSML" */

/* A raw image's last 32 bytes, after its chunk sums. */
struct raw_footer {
	uint64_t data_len;
	uint32_t chunk_size;
	uint32_t nr_chunks;
	uint64_t sum;		/* of the chunk sums and the 16 bytes above */
	uint64_t magic;
};

enum image_type {
	IMG_INVENTORY,
	IMG_PSTREE,
	IMG_CORE,
	IMG_MM,
	IMG_PAGEMAP,
	IMG_PAGES,
	IMG_FDINFO,
	IMG_FILES,
	IMG_FS,
	IMG_FILES_DATA,
	IMG_SHMEM,
	IMG_SHMEM_PAGES,
	IMG_SYSVIPC,
	IMG_CGROUP,
	IMG_NETNS,
	IMG_NS,
	IMG_STATS_DUMP,
	IMG_STATS_RESTORE,
	IMG_MAX,
};

struct image_desc {
	const char *name_fmt;	/* file name; %d is the pid where present */
	uint32_t magic;		/* 0 for raw images */
	const ProtobufCMessageDescriptor *pb;
};

extern const struct image_desc image_descs[IMG_MAX];

struct img_sum;

struct cr_img {
	int fd;
	int type;
	bool write;
	uint64_t off;		/* bytes consumed/produced so far */
	char path[64];		/* file name inside the images dir, for errors */
	char *wbuf;
	size_t wlen;
	/* Read-ahead: images of many small messages (pagemaps, fdinfo)
	 * would cost two read() calls a message. */
	char *rbuf;
	size_t rpos;
	size_t rlen;
	struct img_sum *sum;	/* the checksum of what went through */
	uint32_t nr_records;
	bool ended;		/* a reader met the verified trailer */
};

/* The one rule for every file of an images directory (docs/images.md):
 * img_create_file() removes a regular file of that name and creates a new
 * one, O_EXCL | O_NOFOLLOW, mode 0600; anything else there (symlink,
 * FIFO, directory...) is refused.  img_open_file() opens only a regular
 * file, without following a symlink or waiting on a FIFO.  Both return an
 * fd or a negative errno, the reason logged naming the image and the
 * directory (not for a missing OPTIONAL image: -ENOENT). */
int img_create_file(int dfd, const char *name);
int img_open_file(int dfd, const char *name, bool optional);
/* fstatat() of an image, refusing what is not a regular file. */
int img_stat_file(int dfd, const char *name, struct stat *st);
/* Opens images directory PATH (relative to AT) and warns, once, when
 * others can write to it.  -errno, not logged: the caller says which
 * directory it was. */
int img_dir_open(int at, const char *path);
/* Refuses a directory where any image name is taken by something that is
 * not a regular file: a dump checks this before it touches any process. */
int img_dir_check(int dfd);

/* Opens image TYPE (of PID, where the name has one) in directory DFD.
 * For reading, a missing image is an error unless OPTIONAL is set, in
 * which case NULL is returned with errno = ENOENT. */
struct cr_img *img_open_read(int dfd, int type, int pid, bool optional);
struct cr_img *img_open_write(int dfd, int type, int pid);
/* The image of TYPE (and PID) is in DFD. */
bool img_exists(int dfd, int type, int pid);
/* Flushes and closes; returns 0 or -errno (a failed flush loses data). */
int img_close(struct cr_img *img);
void img_discard(struct cr_img *img);

int img_write_msg(struct cr_img *img, const ProtobufCMessage *msg);
/* 1 with *msg set (free with img_free_msg), 0 at a clean end of file,
 * negative errno on a truncated or corrupt image (already logged). */
int img_read_msg(struct cr_img *img, ProtobufCMessage **msg);
/* The next thing must be the trailer: 0 when it matches, negative errno
 * (logged) on another message, a mismatch or a missing trailer. */
int img_read_end(struct cr_img *img);
/* Appends every message of image TYPE (and PID) to *MSGS, of *NR (0 and
 * NULL at first); the caller frees them, even on failure.  OPTIONAL: a
 * missing image gives none. */
int img_read_all(int dfd, int type, int pid, bool optional, ProtobufCMessage ***msgs, size_t *nr);
/* Exactly one message must be there. */
int img_read_one(int dfd, int type, int pid, ProtobufCMessage **msg);
int img_write_one(int dfd, int type, int pid, const ProtobufCMessage *msg);
void img_free_msg(ProtobufCMessage *msg);

/* Raw images: writes LEN bytes of BUF into IMG and adds them to its
 * checksum. */
int img_write_raw(struct cr_img *img, const void *buf, size_t len);
/* Adds LEN bytes the caller wrote into IMG->fd itself to its checksum:
 * from BUF, or read back from the image at its current end (BUF NULL:
 * data spliced in). */
int img_raw_sum(struct cr_img *img, const void *buf, size_t len);
/* Verifies raw image TYPE (of PID) in DFD against its chunk checksums
 * before any of it is used; *DATA_LEN gets the length of its data.  DIR
 * prefixes the name in errors.  OPTIONAL: a missing image is 0 bytes. */
int img_raw_verify(int dfd, int type, int pid, const char *dir, bool optional,
		   uint64_t *data_len);
/* From now on img_raw_verify() checks only the footers (ON), or the data
 * too (the default): for a dump's self-check of what it just wrote. */
void img_raw_verify_footer_only(bool on);
/* The raw image open at FD was verified whole by this process and will
 * not change: img_raw_verify() checks only its footer from now on.
 * Forget: every image is verified whole again. */
int img_raw_mark_verified(int fd);
/* Frees the data of raw image NAME in DFD (a hole punched over it), its
 * size, sums and footer kept: for an image sent and no longer read whole
 * (a footer-only check still passes; a read of its data gets zeros). */
int img_raw_drop_data(int dfd, const char *name);
void img_raw_forget_verified(void);

/* Identifies an image file by its name (for lmproc show). -1 if unknown. */
int img_type_by_name(const char *name, int *pid);

#endif
