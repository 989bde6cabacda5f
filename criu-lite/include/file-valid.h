/* How restore knows a mapped file is the dumped one when it is another
 * inode (another host, NFS with another st_dev): by its content hash
 * (lmproc's default), or by CRIU's weaker --file-validation rules. */
#ifndef LMPROC_FILE_VALID_H
#define LMPROC_FILE_VALID_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "mm.pb-c.h"

enum file_valid_mode {
	FILE_VALID_HASH,     /* same size and XXH3-128 of the whole file */
	FILE_VALID_BUILDID,  /* CRIU's default: same size and ELF build-id */
	FILE_VALID_FILESIZE, /* CRIU's: same size only */
};

#define FILE_VALID_HASH_LEN 16
/* The build-ids toolchains make are 16 or 20 bytes; CRIU allows 512. */
#define FILE_VALID_MAX_BUILD_ID 64

/* What dump records of a file: absent fields have len 0. */
struct file_sums {
	uint8_t hash[FILE_VALID_HASH_LEN];
	size_t hash_len;
	uint8_t build_id[FILE_VALID_MAX_BUILD_ID];
	size_t build_id_len;
};

int file_valid_parse(const char *s, enum file_valid_mode *m);

/* The sums MODE asks for of the file open as FD (ST: its fstat), each
 * computed once per (dev, ino, size, mtime, ctime) in this process. */
int file_valid_sums(int fd, const struct stat *st, enum file_valid_mode m, struct file_sums *s,
		    const char *what);

/* A file as the dump recorded it (a mapped file's entry, an opened
 * file's): its identity, and its sums (NULL: not recorded). */
struct file_dumped {
	const char *path;
	uint64_t dev, ino, size;
	int64_t mtime_ns;
	const ProtobufCBinaryData *hash;
	const ProtobufCBinaryData *build_id;
};

struct file_dumped file_dumped_mapped(const MappedFileEntry *f);
/* A mapped file's sums: file_valid_sums_bad()'s, none with contents. */
const char *mapped_sums_bad(const MappedFileEntry *f);

/* An image's or a peer's sums: the lengths lmproc writes, else a reason. */
const char *file_valid_sums_bad(const ProtobufCBinaryData *hash,
				const ProtobufCBinaryData *build_id);

/* Whether the regular file open as FD is the dumped D: the same inode,
 * size and mtime (free), else MODE's rule (said once at info level when
 * it accepts); 0, or -ESTALE logged as an error naming WHO, the path and
 * what differs. */
int file_valid_fd(const struct file_dumped *d, int fd, enum file_valid_mode m, const char *who);
/* The same, of the file at D's path (NOFOLLOW: not through a symlink):
 * opened only when it is not the same inode, size and mtime. */
int file_valid_path(const struct file_dumped *d, bool nofollow, enum file_valid_mode m,
		    const char *who);

#endif
