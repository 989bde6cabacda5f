/* Reads and writes the framed image files.  Owns framing, length checks,
 * record counts, checksums (trailers, chunk sums of raw images) and the
 * range of every varint against its field's type; files are created and
 * opened by image-dir.c's rule.  Knows nothing about what the messages
 * mean. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common.h"
#include "image.h"
#include "log.h"
#include "uapi-compat.h"

#include "cgroup.pb-c.h"
#include "core.pb-c.h"
#include "fdinfo.pb-c.h"
#include "fs.pb-c.h"
#include "inventory.pb-c.h"
#include "mm.pb-c.h"
#include "netns.pb-c.h"
#include "ns.pb-c.h"
#include "pagemap.pb-c.h"
#include "pstree.pb-c.h"
#include "shmem.pb-c.h"
#include "stats.pb-c.h"
#include "sysvipc.pb-c.h"

#define WBUF_SIZE (64 << 10)

/* Magics are arbitrary but distinct, so a file renamed by mistake is
 * caught before any message is decoded. */
const struct image_desc image_descs[IMG_MAX] = {
	[IMG_INVENTORY] = { "inventory.img", 0x4c4d0001, &inventory_entry__descriptor },
	[IMG_PSTREE] = { "pstree.img", 0x4c4d0002, &pstree_entry__descriptor },
	[IMG_CORE] = { "core-%d.img", 0x4c4d0003, &core_entry__descriptor },
	[IMG_MM] = { "mm-%d.img", 0x4c4d0004, &mm_entry__descriptor },
	[IMG_PAGEMAP] = { "pagemap-%d.img", 0x4c4d0005, &pagemap_entry__descriptor },
	[IMG_PAGES] = { "pages-%d.img", 0, NULL },
	[IMG_FDINFO] = { "fdinfo-%d.img", 0x4c4d0007, &fdinfo_entry__descriptor },
	[IMG_FILES] = { "files.img", 0x4c4d0008, &file_entry__descriptor },
	[IMG_FS] = { "fs-%d.img", 0x4c4d0009, &fs_entry__descriptor },
	[IMG_FILES_DATA] = { "files-data.img", 0, NULL },
	[IMG_SHMEM] = { "shmem.img", 0x4c4d000c, &shmem_entry__descriptor },
	[IMG_SHMEM_PAGES] = { "shmem-pages.img", 0, NULL },
	[IMG_SYSVIPC] = { "sysvipc.img", 0x4c4d000d, &sysvipc_entry__descriptor },
	[IMG_CGROUP] = { "cgroup.img", 0x4c4d000e, &cgroup_entry__descriptor },
	[IMG_NETNS] = { "netns.img", 0x4c4d000f, &netns_entry__descriptor },
	[IMG_NS] = { "ns.img", 0x4c4d0010, &ns_entry__descriptor },
	[IMG_STATS_DUMP] = { "stats-dump.img", 0x4c4d000a, &dump_stats_entry__descriptor },
	[IMG_STATS_RESTORE] = { "stats-restore.img", 0x4c4d000b,
				&restore_stats_entry__descriptor },
};

static void img_name(char *buf, size_t len, int type, int pid)
{
	snprintf(buf, len, image_descs[type].name_fmt, pid);
}

/* The running checksum of an image: one stream for a framed image, one
 * per IMG_SUM_CHUNK bytes for a raw one. */
struct img_sum {
	XXH3_state_t *st;
	uint64_t len;
	bool raw;
	uint64_t *chunks;
	size_t nr_chunks;
	size_t cap;
};

static struct img_sum *sum_new(bool raw)
{
	struct img_sum *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->raw = raw;
	s->st = XXH3_createState();
	if (!s->st) {
		free(s);
		return NULL;
	}
	XXH3_64bits_reset(s->st);
	return s;
}

static void sum_free(struct img_sum *s)
{
	if (!s)
		return;
	XXH3_freeState(s->st);
	free(s->chunks);
	free(s);
}

static int sum_push_chunk(struct img_sum *s)
{
	if (s->nr_chunks == s->cap) {
		size_t n = s->cap ? s->cap * 2 : 16;
		uint64_t *c = realloc(s->chunks, n * sizeof(*c));

		if (!c)
			return -ENOMEM;
		s->chunks = c;
		s->cap = n;
	}
	s->chunks[s->nr_chunks++] = XXH3_64bits_digest(s->st);
	XXH3_64bits_reset(s->st);
	return 0;
}

static int sum_add(struct img_sum *s, const void *buf, size_t len)
{
	if (!s->raw) {
		XXH3_64bits_update(s->st, buf, len);
		s->len += len;
		return 0;
	}
	while (len) {
		size_t n = min(len, IMG_SUM_CHUNK - s->len % IMG_SUM_CHUNK);

		XXH3_64bits_update(s->st, buf, n);
		s->len += n;
		buf = (const char *)buf + n;
		len -= n;
		if (!(s->len % IMG_SUM_CHUNK) && sum_push_chunk(s))
			return -ENOMEM;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len, const char *path)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("Can't write image %s", path);
			return -errno;
		}
		buf = (const char *)buf + n;
		len -= n;
	}
	return 0;
}

#define RBUF_SIZE (64 << 10)

static int read_full(struct cr_img *img, void *buf, size_t len, const char *what)
{
	size_t done = 0;

	while (done < len) {
		size_t want = len - done;
		ssize_t n;

		if (img->rpos < img->rlen) {
			n = min(want, img->rlen - img->rpos);
			memcpy((char *)buf + done, img->rbuf + img->rpos, n);
			img->rpos += n;
			done += n;
			img->off += n;
			continue;
		}
		if (img->rbuf && want < RBUF_SIZE) {
			n = read(img->fd, img->rbuf, RBUF_SIZE);
			if (n > 0) {
				img->rpos = 0;
				img->rlen = n;
				continue;
			}
		} else {
			n = read(img->fd, (char *)buf + done, want);
		}

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("Can't read %s of image %s at offset %llu", what, img->path,
				  (unsigned long long)img->off);
			return -errno;
		}
		if (n == 0)
			break;
		done += n;
		img->off += n;
	}
	return done;
}

struct cr_img *img_open_read(int dfd, int type, int pid, bool optional)
{
	struct cr_img *img = calloc(1, sizeof(*img));
	uint32_t magic;
	int ret;

	if (!img)
		return NULL;
	img->type = type;
	img_name(img->path, sizeof(img->path), type, pid);
	img->fd = img_open_file(dfd, img->path, optional);
	if (img->fd < 0) {
		errno = -img->fd;
		free(img);
		return NULL;
	}
	if (!image_descs[type].magic)
		return img;
	img->rbuf = malloc(RBUF_SIZE);
	img->sum = sum_new(false);
	if (!img->rbuf || !img->sum) {
		img_discard(img);
		errno = ENOMEM;
		return NULL;
	}
	ret = read_full(img, &magic, sizeof(magic), "magic");
	if (ret != sizeof(magic) || magic != image_descs[type].magic) {
		if (ret >= 0)
			pr_err("Image %s is not a %s image (bad or missing magic)\n", img->path,
			       image_descs[type].pb->short_name);
		img_discard(img);
		errno = EINVAL;
		return NULL;
	}
	sum_add(img->sum, &magic, sizeof(magic));
	return img;
}

struct cr_img *img_open_write(int dfd, int type, int pid)
{
	struct cr_img *img = calloc(1, sizeof(*img));

	if (!img)
		return NULL;
	img->type = type;
	img->write = true;
	img_name(img->path, sizeof(img->path), type, pid);
	img->fd = img_create_file(dfd, img->path);
	if (img->fd < 0) {
		free(img);
		return NULL;
	}
	img->sum = sum_new(!image_descs[type].magic);
	if (!img->sum) {
		img_discard(img);
		return NULL;
	}
	if (!image_descs[type].magic)
		return img;
	img->wbuf = malloc(WBUF_SIZE);
	if (!img->wbuf) {
		img_discard(img);
		return NULL;
	}
	memcpy(img->wbuf, &image_descs[type].magic, sizeof(uint32_t));
	img->wlen = sizeof(uint32_t);
	sum_add(img->sum, img->wbuf, img->wlen);
	return img;
}

static int img_flush(struct cr_img *img)
{
	size_t done = 0;

	while (done < img->wlen) {
		ssize_t n = write(img->fd, img->wbuf + done, img->wlen - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("Can't write image %s", img->path);
			return -errno;
		}
		done += n;
	}
	img->off += img->wlen;
	img->wlen = 0;
	return 0;
}

/* Closes an image of a dump that has failed: what is still buffered is
 * dropped, not written (a full disk must not report itself for every
 * image the failure leaves open). */
void img_discard(struct cr_img *img)
{
	if (!img)
		return;
	close(img->fd);
	sum_free(img->sum);
	free(img->wbuf);
	free(img->rbuf);
	free(img);
}

static int img_append(struct cr_img *img, const void *data, size_t len);

/* The trailer of a framed image: what a reader must meet at the end. */
static int write_trailer(struct cr_img *img)
{
	uint32_t head[2] = { IMG_TRAILER_MARK, img->nr_records };
	uint64_t sum = XXH3_64bits_digest(img->sum->st);

	return img_append(img, head, sizeof(head)) ?: img_append(img, &sum, sizeof(sum));
}

/* The chunk sums of a raw image and its footer, after the data. */
static int write_raw_footer(struct cr_img *img)
{
	struct img_sum *s = img->sum;
	struct raw_footer f = { .data_len = s->len, .chunk_size = IMG_SUM_CHUNK,
				.magic = IMG_RAW_MAGIC };
	int ret = 0;

	if (s->len % IMG_SUM_CHUNK)
		ret = sum_push_chunk(s);
	if (ret)
		return ret;
	f.nr_chunks = s->nr_chunks;
	XXH3_64bits_reset(s->st);
	XXH3_64bits_update(s->st, s->chunks, s->nr_chunks * sizeof(uint64_t));
	XXH3_64bits_update(s->st, &f, offsetof(struct raw_footer, sum));
	f.sum = XXH3_64bits_digest(s->st);
	ret = write_all(img->fd, s->chunks, s->nr_chunks * sizeof(uint64_t), img->path);
	return ret ?: write_all(img->fd, &f, sizeof(f), img->path);
}

int img_close(struct cr_img *img)
{
	int ret = 0;

	if (!img)
		return 0;
	if (img->write && img->wbuf)
		ret = write_trailer(img) ?: img_flush(img);
	else if (img->write)
		ret = write_raw_footer(img);
	if (close(img->fd) && !ret && img->write) {
		pr_perror("Can't close image %s", img->path);
		ret = -errno;
	}
	sum_free(img->sum);
	free(img->wbuf);
	free(img->rbuf);
	free(img);
	return ret;
}

static int img_append(struct cr_img *img, const void *data, size_t len)
{
	int ret;

	sum_add(img->sum, data, len);
	if (img->wlen + len > WBUF_SIZE) {
		ret = img_flush(img);
		if (ret)
			return ret;
	}
	if (len > WBUF_SIZE) {
		/* Large messages bypass the buffer. */
		while (len) {
			ssize_t n = write(img->fd, data, len);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				pr_perror("Can't write image %s", img->path);
				return -errno;
			}
			data = (const char *)data + n;
			len -= n;
			img->off += n;
		}
		return 0;
	}
	memcpy(img->wbuf + img->wlen, data, len);
	img->wlen += len;
	return 0;
}

int img_write_msg(struct cr_img *img, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	cleanup_free uint8_t *buf = NULL;
	uint32_t len32 = len;
	int ret;

	if (msg->descriptor != image_descs[img->type].pb) {
		pr_err("Internal: %s written into image %s\n", msg->descriptor->name, img->path);
		return -EINVAL;
	}
	if (len > IMAGE_MAX_MSG) {
		pr_err("Message %s of %zu bytes is too large for image %s\n",
		       msg->descriptor->short_name, len, img->path);
		return -EFBIG;
	}
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(msg, buf);
	ret = img_append(img, &len32, sizeof(len32));
	if (!ret)
		ret = img_append(img, buf, len);
	if (!ret)
		img->nr_records++;
	return ret;
}

/* Reads up to 10 bytes of a varint at *P (before END); false if it is
 * cut or longer. */
static bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 10 && *p < end; i++) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* protobuf-c keeps the low 32 bits of a varint given to a 32-bit field:
 * a value that does not fit must be refused, not cut. */
static bool varint_fits(ProtobufCType type, uint64_t v)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_ENUM:
		return (int64_t)v >= INT32_MIN && (int64_t)v <= INT32_MAX;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_SINT32:
		return v <= UINT32_MAX;
	case PROTOBUF_C_TYPE_BOOL:
		return v <= 1;
	default:
		return true;
	}
}

static bool is_varint_type(ProtobufCType type)
{
	return type == PROTOBUF_C_TYPE_INT32 || type == PROTOBUF_C_TYPE_ENUM ||
	       type == PROTOBUF_C_TYPE_UINT32 || type == PROTOBUF_C_TYPE_SINT32 ||
	       type == PROTOBUF_C_TYPE_BOOL || type == PROTOBUF_C_TYPE_INT64 ||
	       type == PROTOBUF_C_TYPE_UINT64 || type == PROTOBUF_C_TYPE_SINT64;
}

struct wire_walk {
	const struct cr_img *img;
	const uint8_t *base;
	uint64_t msg_off;	/* the message's offset in the image */
};

static int wire_out_of_range(const struct wire_walk *w, const ProtobufCMessageDescriptor *d,
			     const ProtobufCFieldDescriptor *f, const uint8_t *at, uint64_t v)
{
	pr_err("Image %s is invalid: field %s.%s holds %llu (varint at offset %llu), out of "
	       "range for its type\n", w->img->path, d->short_name, f->name,
	       (unsigned long long)v,
	       (unsigned long long)(w->msg_off + (uint64_t)(at - w->base)));
	return -ERANGE;
}

static int wire_check_packed(const struct wire_walk *w, const ProtobufCMessageDescriptor *d,
			     const ProtobufCFieldDescriptor *f, const uint8_t *p,
			     const uint8_t *end)
{
	while (p < end) {
		const uint8_t *at = p;
		uint64_t v;

		if (!wire_varint(&p, end, &v))
			return 0;
		if (!varint_fits(f->type, v))
			return wire_out_of_range(w, d, f, at, v);
	}
	return 0;
}

/* Walks the wire encoding of a message of D in [P, END) and refuses a
 * varint out of its field's range.  Malformed encodings are left to
 * protobuf-c's decoder, which refuses them. */
static int wire_check(const struct wire_walk *w, const ProtobufCMessageDescriptor *d,
		      const uint8_t *p, const uint8_t *end, int depth)
{
	if (depth > 32)
		return 0;
	while (p < end) {
		const ProtobufCFieldDescriptor *f;
		const uint8_t *at;
		uint64_t key, v;
		int ret = 0;

		if (!wire_varint(&p, end, &key) || key >> 32)
			return 0;
		f = protobuf_c_message_descriptor_get_field(d, key >> 3);
		at = p;
		switch (key & 7) {
		case 0:
			if (!wire_varint(&p, end, &v))
				return 0;
			if (f && !varint_fits(f->type, v))
				return wire_out_of_range(w, d, f, at, v);
			break;
		case 1:
			p += 8;
			break;
		case 5:
			p += 4;
			break;
		case 2:
			if (!wire_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return 0;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE)
				ret = wire_check(w, f->descriptor, p, p + v, depth + 1);
			else if (f && f->label == PROTOBUF_C_LABEL_REPEATED && is_varint_type(f->type))
				ret = wire_check_packed(w, d, f, p, p + v);
			if (ret)
				return ret;
			p += v;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

/* The trailer after the last record: the count and checksum must match
 * what was read, and nothing may follow. */
static int read_trailer(struct cr_img *img, uint64_t start)
{
	uint64_t sum = XXH3_64bits_digest(img->sum->st), want;
	uint32_t count;
	char extra;
	int ret;

	ret = read_full(img, &count, sizeof(count), "trailer");
	if (ret == sizeof(count))
		ret = read_full(img, &want, sizeof(want), "trailer");
	if (ret < 0)
		return ret;
	if (ret != sizeof(want)) {
		pr_err("Image %s is truncated at offset %llu (partial trailer)\n", img->path,
		       (unsigned long long)start);
		return -EINVAL;
	}
	if (count != img->nr_records) {
		pr_err("Image %s is corrupt: %u records read, its trailer counts %u\n", img->path,
		       img->nr_records, count);
		return -EINVAL;
	}
	if (sum != want) {
		pr_err("Image %s is corrupt: checksum mismatch (xxh3 %016llx, trailer says %016llx)\n",
		       img->path, (unsigned long long)sum, (unsigned long long)want);
		return -EINVAL;
	}
	ret = read_full(img, &extra, 1, "end");
	if (ret < 0)
		return ret;
	if (ret) {
		pr_err("Image %s has bytes after its trailer at offset %llu\n", img->path,
		       (unsigned long long)img->off - 1);
		return -EINVAL;
	}
	img->ended = true;
	return 0;
}

static int read_length(struct cr_img *img, uint32_t *len)
{
	uint64_t start = img->off;
	int ret = read_full(img, len, sizeof(*len), "length");

	if (ret < 0)
		return ret;
	if (ret == 0) {
		pr_err("Image %s is truncated at offset %llu: no trailer after %u records\n",
		       img->path, (unsigned long long)start, img->nr_records);
		return -EINVAL;
	}
	if (ret != sizeof(*len)) {
		pr_err("Image %s is truncated at offset %llu (partial length)\n", img->path,
		       (unsigned long long)start);
		return -EINVAL;
	}
	if (*len == IMG_TRAILER_MARK)
		return read_trailer(img, start);
	if (*len > IMAGE_MAX_MSG) {
		pr_err("Image %s is corrupt: message of %u bytes at offset %llu\n", img->path,
		       *len, (unsigned long long)start);
		return -EINVAL;
	}
	return 1;
}

int img_read_msg(struct cr_img *img, ProtobufCMessage **msg)
{
	const ProtobufCMessageDescriptor *d = image_descs[img->type].pb;
	cleanup_free uint8_t *buf = NULL;
	uint64_t start = img->off;
	struct wire_walk w = { .img = img };
	uint32_t len;
	int ret;

	if (img->ended)
		return 0;
	ret = read_length(img, &len);
	if (ret <= 0)
		return ret;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	ret = read_full(img, buf, len, "message");
	if (ret < 0)
		return ret;
	if ((uint32_t)ret != len) {
		pr_err("Image %s is truncated at offset %llu (%d of %u bytes)\n", img->path,
		       (unsigned long long)start, ret, len);
		return -EINVAL;
	}
	sum_add(img->sum, &len, sizeof(len));
	sum_add(img->sum, buf, len);
	img->nr_records++;
	w.base = buf;
	w.msg_off = start + sizeof(len);
	ret = wire_check(&w, d, buf, buf + len, 0);
	if (ret)
		return ret;
	*msg = protobuf_c_message_unpack(d, NULL, len, buf);
	if (!*msg) {
		pr_err("Image %s is corrupt: can't decode %s at offset %llu\n", img->path,
		       d->short_name, (unsigned long long)start);
		return -EINVAL;
	}
	return 1;
}

int img_read_end(struct cr_img *img)
{
	ProtobufCMessage *extra;
	int ret = img_read_msg(img, &extra);

	if (ret > 0) {
		img_free_msg(extra);
		pr_err("Image %s holds more than one message\n", img->path);
		return -EINVAL;
	}
	return ret;
}

int img_read_all(int dfd, int type, int pid, bool optional, ProtobufCMessage ***msgs, size_t *nr)
{
	struct cr_img *img = img_open_read(dfd, type, pid, optional);
	ProtobufCMessage *m;
	size_t cap = *nr;
	int ret;

	if (!img)
		return optional && errno == ENOENT ? 0 : -EINVAL;
	while ((ret = img_read_msg(img, &m)) > 0) {
		if (*nr == cap) {
			ProtobufCMessage **n = realloc(*msgs, (cap = cap ? cap * 2 : 16) * sizeof(*n));

			if (!n) {
				img_free_msg(m);
				ret = -ENOMEM;
				break;
			}
			*msgs = n;
		}
		(*msgs)[(*nr)++] = m;
	}
	img_close(img);
	return ret < 0 ? ret : 0;
}

int img_read_one(int dfd, int type, int pid, ProtobufCMessage **msg)
{
	struct cr_img *img = img_open_read(dfd, type, pid, false);
	int ret;

	if (!img)
		return -EINVAL;
	ret = img_read_msg(img, msg);
	if (ret == 0) {
		pr_err("Image %s is empty\n", img->path);
		ret = -EINVAL;
	} else if (ret > 0) {
		ret = img_read_end(img);
		if (ret < 0) {
			img_free_msg(*msg);
			*msg = NULL;
		}
	}
	img_close(img);
	return ret < 0 ? ret : 0;
}

int img_write_one(int dfd, int type, int pid, const ProtobufCMessage *msg)
{
	struct cr_img *img = img_open_write(dfd, type, pid);
	int ret;

	if (!img)
		return -EIO;
	ret = img_write_msg(img, msg);
	if (ret) {
		img_close(img);
		return ret;
	}
	return img_close(img);
}

void img_free_msg(ProtobufCMessage *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

int img_type_by_name(const char *name, int *pid)
{
	for (int t = 0; t < IMG_MAX; t++) {
		const char *fmt = image_descs[t].name_fmt;
		const char *pct = strstr(fmt, "%d");
		char tail[32];
		int n = 0;

		*pid = 0;
		if (!pct) {
			if (!strcmp(name, fmt))
				return t;
			continue;
		}
		if (strncmp(name, fmt, pct - fmt))
			continue;
		snprintf(tail, sizeof(tail), "%%d%s%%n", pct + 2);
		if (sscanf(name + (pct - fmt), tail, pid, &n) == 1 &&
		    name[(pct - fmt) + n] == '\0')
			return t;
	}
	return -1;
}

bool img_exists(int dfd, int type, int pid)
{
	char name[64];

	snprintf(name, sizeof(name), image_descs[type].name_fmt, pid);
	return !faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW);
}

int img_write_raw(struct cr_img *img, const void *buf, size_t len)
{
	int ret = write_all(img->fd, buf, len, img->path);

	return ret ?: sum_add(img->sum, buf, len);
}

#define READBACK_SIZE (256 << 10)

int img_raw_sum(struct cr_img *img, const void *buf, size_t len)
{
	cleanup_free char *back = NULL;
	cleanup_close int rfd = -1;
	uint64_t off = img->sum->len;
	char self[64];

	if (buf)
		return sum_add(img->sum, buf, len);
	back = malloc(READBACK_SIZE);
	if (!back)
		return -ENOMEM;
	/* The image is open for writing only: read it through a reopen. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", img->fd);
	rfd = open(self, O_RDONLY | O_CLOEXEC);
	if (rfd < 0) {
		pr_perror("Can't reopen image %s to sum it", img->path);
		return -errno;
	}
	while (len) {
		ssize_t n = pread(rfd, back, min(len, (size_t)READBACK_SIZE), off);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			pr_perror("Can't read back image %s at offset %llu", img->path,
				  (unsigned long long)off);
			return n < 0 ? -errno : -EIO;
		}
		if (sum_add(img->sum, back, n))
			return -ENOMEM;
		off += n;
		len -= n;
	}
	return 0;
}

