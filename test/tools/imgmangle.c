/* imgmangle: damages an lmproc image in ways a validating reader must
 * notice, for the bad-input tests.  Images are a 4-byte magic followed by
 * records of a native-endian u32 length and a protobuf message.
 *
 *   imgmangle cut FILE              truncate FILE to half its size
 *   imgmangle tag FILE              give the top-level field nearest the
 *                                   middle of FILE an invalid wire type (7)
 *   imgmangle len FILE              make the first record claim 2 GiB
 *   imgmangle flip FILE [OFFSET]    invert the byte in the middle of FILE, or at
 *                                   OFFSET (for raw page data, which nothing can
 *                                   validate)
 *   imgmangle xor FILE PATH MASK    xor a varint field with MASK in place
 *                                   (the result must encode to the same length),
 *                                   or a fixed32/fixed64 one
 *   imgmangle max FILE PATH         set every value bit of a varint field: the
 *                                   largest value of the same encoded length
 *   imgmangle cutat FILE OFFSET     truncate FILE to OFFSET bytes
 *   imgmangle cutrec FILE K         truncate at a record boundary: the K-th
 *                                   (mod their number) of the boundaries before
 *                                   each record and the trailer (raw images:
 *                                   page boundaries and the end of the data)
 *   imgmangle bit FILE OFFSET BIT   flip one bit
 *   imgmangle huge FILE K           rewrite the K-th (mod their number) top-level
 *                                   varint field of any record as a 10-byte varint
 *                                   with bit 40 flipped: a value whose low 32 bits
 *                                   are the old one; the record grows
 *   imgmangle reseal FILE           recompute FILE's trailer (framed) or chunk
 *                                   checksums (raw): damage behind a valid checksum
 *
 * Framed images end with a trailer (u32 0xffffffff, u32 record count, u64
 * xxh3 of all bytes before it); raw ones with xxh3 sums of each 4 MiB chunk
 * and a 32-byte footer (docs/images.md).  *
 * PATH names a field in the first record (in record K, from 0, with a
 * "K:" prefix): field numbers separated by dots,
 * each optionally with #N to take its N-th occurrence (from 0), descending
 * into length-delimited fields: "1" or "14#2.2" (end of the third vma). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define TRAILER_MARK 0xffffffffu
#define CHUNK (4u << 20)
#define RAW_MAGIC 0x4c4d53554d524157ULL

static unsigned char *buf;
static size_t size;

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "imgmangle: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static void load(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st))
		die("can't open %s", path);
	size = st.st_size;
	buf = malloc(size + 1);
	if (!buf || read(fd, buf, size) != (ssize_t)size)
		die("can't read %s", path);
	close(fd);
}

static void save(const char *path)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (fd < 0 || write(fd, buf, size) != (ssize_t)size || close(fd))
		die("can't write %s", path);
}

/* Reads a varint at *pos (bounded by end); returns its length or 0. */
static size_t varint(size_t pos, size_t end, uint64_t *v)
{
	size_t n = 0;

	*v = 0;
	while (pos + n < end && n < 10) {
		*v |= (uint64_t)(buf[pos + n] & 0x7f) << (7 * n);
		if (!(buf[pos + n++] & 0x80))
			return n;
	}
	return 0;
}

struct field {
	size_t tag_pos;		/* offset of the tag */
	size_t val_pos;		/* offset of the value (after a length prefix) */
	size_t val_len;		/* bytes of the value */
	unsigned int num, wire;
};

/* Steps over the field at *pos; 0 at the end or on garbage. */
static int next_field(size_t *pos, size_t end, struct field *f)
{
	uint64_t tag, len;
	size_t n;

	if (*pos >= end || !(n = varint(*pos, end, &tag)))
		return 0;
	f->tag_pos = *pos;
	f->num = tag >> 3;
	f->wire = tag & 7;
	f->val_pos = *pos + n;
	switch (f->wire) {
	case 0:
		if (!(f->val_len = varint(f->val_pos, end, &len)))
			return 0;
		break;
	case 1:
		f->val_len = 8;
		break;
	case 5:
		f->val_len = 4;
		break;
	case 2:
		if (!(n = varint(f->val_pos, end, &len)) || len > end - f->val_pos - n)
			return 0;
		f->val_pos += n;
		f->val_len = len;
		break;
	default:
		return 0;
	}
	*pos = f->val_pos + f->val_len;
	return *pos <= end;
}

/* The K-th record (from 0): its start, *END its end. */
static size_t nth_record(unsigned k, size_t *end)
{
	size_t pos = 4;
	uint32_t len;

	for (;;) {
		if (pos + 4 > size)
			die("%s", "no such record");
		memcpy(&len, buf + pos, 4);
		if (len == TRAILER_MARK || len > size - pos - 4)
			die("%s", "no such record, or it is truncated");
		if (!k--)
			break;
		pos += 4 + len;
	}
	*end = pos + 4 + len;
	return pos + 4;
}

static void op_tag(void)
{
	size_t pos = 4, best = 0, bestd = SIZE_MAX, mid = size / 2;

	while (pos + 4 <= size) {
		uint32_t len;
		size_t p, end;
		struct field f;

		memcpy(&len, buf + pos, 4);
		if (len == TRAILER_MARK)
			break;
		p = pos + 4;
		end = p + len;
		if (end > size)
			die("%s", "truncated record");
		while (next_field(&p, end, &f)) {
			size_t d = f.tag_pos > mid ? f.tag_pos - mid : mid - f.tag_pos;

			if (d < bestd) {
				bestd = d;
				best = f.tag_pos;
			}
		}
		pos = end;
	}
	if (bestd == SIZE_MAX)
		die("%s", "no field found");
	buf[best] |= 7;
	printf("field tag at offset %zu now has wire type 7\n", best);
}

/* A fixed32 or fixed64 field (little-endian), edited in place. */
static void edit_fixed(const struct field *f, uint64_t (*edit)(uint64_t, size_t, uint64_t),
		       uint64_t arg)
{
	uint64_t value = 0;

	memcpy(&value, buf + f->val_pos, f->val_len);
	value = edit(value, 10, arg);
	memcpy(buf + f->val_pos, &value, f->val_len);
}

/* Finds the varint field PATH in the first record and rewrites it with
 * EDIT(old value, arg), keeping its encoded length. */
static void op_edit(const char *path, uint64_t (*edit)(uint64_t, size_t, uint64_t), uint64_t arg)
{
	uint64_t value;
	const char *p = path;
	unsigned rec = strchr(p, ':') ? strtoul(p, (char **)&p, 10) : 0;
	size_t end, pos = nth_record(rec, &end);
	struct field f;

	if (*p == ':')
		p++;
	for (;;) {
		unsigned int num = strtoul(p, (char **)&p, 10), nth = 0, seen = 0;
		int found = 0;

		if (*p == '#')
			nth = strtoul(p + 1, (char **)&p, 10);
		while (next_field(&pos, end, &f))
			if (f.num == num && seen++ == nth) {
				found = 1;
				break;
			}
		if (!found)
			die("no field %s", path);
		if (*p != '.')
			break;
		p++;
		if (f.wire != 2)
			die("field before '%s' is not length-delimited", p);
		pos = f.val_pos;
		end = f.val_pos + f.val_len;
	}
	if (f.wire == 1 || f.wire == 5) {
		edit_fixed(&f, edit, arg);
		printf("field %s rewritten at offset %zu\n", path, f.val_pos);
		return;
	}
	if (f.wire != 0)
		die("field %s is not a varint", path);
	varint(f.val_pos, f.val_pos + f.val_len, &value);
	value = edit(value, f.val_len, arg);
	for (size_t i = 0; i < f.val_len; i++) {
		buf[f.val_pos + i] = (value & 0x7f) | (i + 1 < f.val_len ? 0x80 : 0);
		value >>= 7;
	}
	if (value)
		die("value does not fit the varint of field %s", path);
	printf("field %s rewritten at offset %zu\n", path, f.val_pos);
}

static uint64_t edit_xor(uint64_t old, size_t len, uint64_t mask)
{
	(void)len;
	return old ^ mask;
}

static uint64_t edit_max(uint64_t old, size_t len, uint64_t unused)
{
	(void)old;
	(void)unused;
	return len >= 10 ? UINT64_MAX : (1ULL << (7 * len)) - 1;
}

static bool is_raw(uint64_t *data_len)
{
	uint64_t magic;

	if (size < 32)
		return false;
	memcpy(&magic, buf + size - 8, 8);
	memcpy(data_len, buf + size - 32, 8);
	return magic == RAW_MAGIC && *data_len <= size;
}

/* Offsets where a record (or the trailer) starts; returns how many. */
static size_t boundaries(size_t *at, size_t max)
{
	size_t pos = 4, n = 0;

	while (pos + 4 <= size && n < max) {
		uint32_t len;

		at[n++] = pos;
		memcpy(&len, buf + pos, 4);
		if (len == TRAILER_MARK || len > size - pos - 4)
			break;
		pos += 4 + len;
	}
	return n;
}

static void op_cutrec(uint64_t k)
{
	static size_t at[1 << 16];
	uint64_t data_len;
	size_t n;

	if (is_raw(&data_len)) {
		size = (k % (data_len / 4096 + 1)) * 4096;
		return;
	}
	n = boundaries(at, 1 << 16);
	if (!n)
		die("%s", "no record");
	size = at[k % n];
}

static void op_huge(uint64_t k)
{
	size_t pos = 4, nth = 0, total = 0, rec = 0;
	struct field f, pick = {};
	uint64_t v;

	for (int pass = 0; pass < 2; pass++) {
		for (pos = 4; pos + 4 <= size;) {
			uint32_t len;
			size_t p = pos + 4, end;

			memcpy(&len, buf + pos, 4);
			if (len == TRAILER_MARK || len > size - pos - 4)
				break;
			end = p + len;
			while (next_field(&p, end, &f)) {
				if (f.wire != 0)
					continue;
				if (pass == 0) {
					total++;
				} else if (nth++ == k % total) {
					pick = f;
					rec = pos;
				}
			}
			pos = end;
		}
		if (!total)
			die("%s", "no varint field");
	}
	varint(pick.val_pos, pick.val_pos + pick.val_len, &v);
	/* Flipped, not set: a 64-bit random id may have it already. */
	v ^= 1ULL << 40;
	{
		unsigned char enc[10];
		size_t grow = 10 - pick.val_len;
		uint32_t len;

		for (int i = 0; i < 10; i++) {
			enc[i] = (v & 0x7f) | (i < 9 ? 0x80 : 0);
			v >>= 7;
		}
		buf = realloc(buf, size + grow);
		if (!buf)
			die("%s", "out of memory");
		memmove(buf + pick.val_pos + 10, buf + pick.val_pos + pick.val_len,
			size - pick.val_pos - pick.val_len);
		memcpy(buf + pick.val_pos, enc, 10);
		size += grow;
		memcpy(&len, buf + rec, 4);
		len += grow;
		memcpy(buf + rec, &len, 4);
	}
	printf("field %u at offset %zu is now a 10-byte varint\n", pick.num, pick.val_pos);
}

static void reseal_raw(uint64_t data_len)
{
	uint32_t nr = (data_len + CHUNK - 1) / CHUNK;
	size_t need = data_len + nr * 8 + 32;
	XXH3_state_t *st = XXH3_createState();
	unsigned char *foot;
	uint64_t sum;

	buf = realloc(buf, need);
	if (!buf || !st)
		die("%s", "out of memory");
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t off = (uint64_t)i * CHUNK;
		uint64_t h = XXH3_64bits(buf + off, data_len - off < CHUNK ? data_len - off : CHUNK);

		memcpy(buf + data_len + i * 8, &h, 8);
	}
	foot = buf + data_len + nr * 8;
	memcpy(foot, &data_len, 8);
	*(uint32_t *)(foot + 8) = CHUNK;
	memcpy(foot + 12, &nr, 4);
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, buf + data_len, nr * 8 + 16);
	sum = XXH3_64bits_digest(st);
	memcpy(foot + 16, &sum, 8);
	sum = RAW_MAGIC;
	memcpy(foot + 24, &sum, 8);
	size = need;
	XXH3_freeState(st);
}

static void op_reseal(void)
{
	static size_t at[1 << 16];
	uint64_t data_len, sum;
	uint32_t mark = TRAILER_MARK, count;
	size_t n, end;

	if (is_raw(&data_len)) {
		reseal_raw(data_len);
		return;
	}
	n = boundaries(at, 1 << 16);
	if (!n)
		die("%s", "no record");
	end = at[n - 1];
	count = n - 1;
	if (end + 4 <= size) {
		uint32_t len;

		memcpy(&len, buf + end, 4);
		if (len != TRAILER_MARK) {
			end += 4 + len;
			count++;
		}
	}
	sum = XXH3_64bits(buf, end);
	buf = realloc(buf, end + 16);
	if (!buf)
		die("%s", "out of memory");
	memcpy(buf + end, &mark, 4);
	memcpy(buf + end + 4, &count, 4);
	memcpy(buf + end + 8, &sum, 8);
	size = end + 16;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		die("%s", "usage: imgmangle cut|tag|len|flip|xor|max|cutat|cutrec|bit|huge|reseal FILE [ARG...]");
	load(argv[2]);
	if (!strcmp(argv[1], "cut")) {
		size /= 2;
	} else if (!strcmp(argv[1], "tag")) {
		op_tag();
	} else if (!strcmp(argv[1], "flip") && argc <= 4) {
		size_t at = argc == 4 ? strtoull(argv[3], NULL, 0) : size / 2;

		if (at >= size)
			die("%s has no byte at that offset", argv[2]);
		buf[at] ^= 0xff;
	} else if (!strcmp(argv[1], "len")) {
		uint32_t huge = 0x80000000u;

		if (size < 8)
			die("%s", "image too short");
		memcpy(buf + 4, &huge, 4);
	} else if (!strcmp(argv[1], "xor") && argc == 5) {
		op_edit(argv[3], edit_xor, strtoull(argv[4], NULL, 0));
	} else if (!strcmp(argv[1], "max") && argc == 4) {
		op_edit(argv[3], edit_max, 0);
	} else if (!strcmp(argv[1], "cutat") && argc == 4) {
		size_t at = strtoull(argv[3], NULL, 0);

		if (at < size)
			size = at;
	} else if (!strcmp(argv[1], "cutrec") && argc == 4) {
		op_cutrec(strtoull(argv[3], NULL, 0));
	} else if (!strcmp(argv[1], "bit") && argc == 5) {
		size_t at = strtoull(argv[3], NULL, 0);

		if (at >= size)
			die("%s has no byte at that offset", argv[2]);
		buf[at] ^= 1u << (strtoul(argv[4], NULL, 0) & 7);
	} else if (!strcmp(argv[1], "huge") && argc == 4) {
		op_huge(strtoull(argv[3], NULL, 0));
	} else if (!strcmp(argv[1], "reseal") && argc == 3) {
		op_reseal();
	} else {
		die("bad command '%s'", argv[1]);
	}
	save(argv[2]);
	return 0;
}
