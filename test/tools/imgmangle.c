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
 *                                   (the result must encode to the same length)
 *   imgmangle max FILE PATH         set every value bit of a varint field: the
 *                                   largest value of the same encoded length
 *
 * PATH names a field in the first record: field numbers separated by dots,
 * each optionally with #N to take its N-th occurrence (from 0), descending
 * into length-delimited fields: "1" or "14#2.2" (end of the third vma). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static size_t first_record(size_t *end)
{
	uint32_t len;

	if (size < 8)
		die("%s", "image too short");
	memcpy(&len, buf + 4, 4);
	if (len > size - 8)
		die("%s", "first record is truncated");
	*end = 8 + len;
	return 8;
}

static void op_tag(void)
{
	size_t pos = 4, best = 0, bestd = SIZE_MAX, mid = size / 2;

	while (pos + 4 <= size) {
		uint32_t len;
		size_t p, end;
		struct field f;

		memcpy(&len, buf + pos, 4);
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

/* Finds the varint field PATH in the first record and rewrites it with
 * EDIT(old value, arg), keeping its encoded length. */
static void op_edit(const char *path, uint64_t (*edit)(uint64_t, size_t, uint64_t), uint64_t arg)
{
	uint64_t value;
	size_t end, pos = first_record(&end);
	const char *p = path;
	struct field f;

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

int main(int argc, char **argv)
{
	if (argc < 3)
		die("%s", "usage: imgmangle cut|tag|len|flip|xor|max FILE [PATH [MASK] | OFFSET]");
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
	} else {
		die("bad command '%s'", argv[1]);
	}
	save(argv[2]);
	return 0;
}
