/* Image files: a 4-byte magic, then protobuf messages each preceded by its
 * 4-byte length.  pages-*.img is raw page data.  Readers get validated
 * lengths; field validation is the caller's job, right after reading. */
#ifndef LMPROC_IMAGE_H
#define LMPROC_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/* Bumped whenever the meaning of any image changes. */
#define IMAGE_VERSION 7

/* No single message may be larger: a corrupt length must not make us
 * allocate gigabytes. */
#define IMAGE_MAX_MSG (64U << 20)

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
};

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
/* Exactly one message must be there. */
int img_read_one(int dfd, int type, int pid, ProtobufCMessage **msg);
int img_write_one(int dfd, int type, int pid, const ProtobufCMessage *msg);
void img_free_msg(ProtobufCMessage *msg);

/* Identifies an image file by its name (for lmproc show). -1 if unknown. */
int img_type_by_name(const char *name, int *pid);

#endif
