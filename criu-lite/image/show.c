/* lmproc show: decodes image files to JSON on stdout, like CRIU's crit.
 * Owns the JSON rendering of any protobuf-c message, driven only by its
 * descriptor; reading and validating the framing is image.c's job.  Must
 * not interpret what the messages mean: it prints, it does not judge.
 *
 * JSON conventions (docs/images.md):
 *   - an image is {"magic": "0x…", "type": MESSAGE, "entries": [...]}; the
 *     raw pages image is {"type": "pages", "size": BYTES, "nr_pages": N};
 *   - a directory is one object keyed by file name, in the order inventory,
 *     pstree, then each pid in increasing order, then the shared images;
 *   - required and repeated fields are always present (repeated as arrays),
 *     optional fields only when set;
 *   - enums by name, bytes as a lower-case hex string, integers as numbers,
 *     except 64-bit unsigned addresses (see is_address_field) as "0x…".
 * Output is built in memory and written only when every image decoded, so
 * a corrupt image never leaves half a JSON document on stdout. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "image.h"
#include "json.h"
#include "log.h"
#include "opts.h"

struct json_out {
	FILE *f;
	int indent;
};

static void json_newline(struct json_out *out)
{
	fputc('\n', out->f);
	for (int i = 0; i < out->indent; i++)
		fputs("  ", out->f);
}

static void json_string(struct json_out *out, const char *str)
{
	json_str(out->f, str);
}

static void json_key(struct json_out *out, const char *key, bool first)
{
	if (!first)
		fputc(',', out->f);
	json_newline(out);
	json_string(out, key);
	fputs(": ", out->f);
}

/* The one rule for addresses: a 64-bit unsigned field is an address when
 * its name is one of the names below, starts with "start_" or "end_", or
 * ends with "_start", "_end", "_base" or "_pointer".  Everything else,
 * masks and sizes included, stays a plain number. */
static bool is_address_field(const ProtobufCFieldDescriptor *fd)
{
	static const char *const names[] = {
		"start", "end", "vaddr", "ip", "sp", "handler", "restorer", "brk",
	};
	static const char *const suffixes[] = { "_start", "_end", "_base", "_pointer" };
	size_t len = strlen(fd->name);

	if (fd->type != PROTOBUF_C_TYPE_UINT64 && fd->type != PROTOBUF_C_TYPE_FIXED64)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(fd->name, names[i]))
			return true;
	if (!strncmp(fd->name, "start_", 6) || !strncmp(fd->name, "end_", 4))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		size_t sl = strlen(suffixes[i]);

		if (len > sl && !strcmp(fd->name + len - sl, suffixes[i]))
			return true;
	}
	return false;
}

static void json_message(struct json_out *out, const ProtobufCMessage *msg);

static void json_bytes(struct json_out *out, const ProtobufCBinaryData *bd)
{
	fputc('"', out->f);
	for (size_t i = 0; i < bd->len; i++)
		fprintf(out->f, "%02x", bd->data[i]);
	fputc('"', out->f);
}

static void json_enum(struct json_out *out, const ProtobufCFieldDescriptor *fd, int value)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(fd->descriptor, value);

	/* A value this build does not know (a newer writer) stays a number. */
	if (ev)
		json_string(out, ev->name);
	else
		fprintf(out->f, "%d", value);
}

/* Prints one value of field FD stored at P (an element of a repeated
 * field or the field itself). */
static void json_value(struct json_out *out, const ProtobufCFieldDescriptor *fd, const void *p)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(out->f, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(out->f, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(out->f, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (is_address_field(fd))
			fprintf(out->f, "\"0x%" PRIx64 "\"", *(const uint64_t *)p);
		else
			fprintf(out->f, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		fprintf(out->f, "%.9g", *(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		fprintf(out->f, "%.17g", *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)p ? "true" : "false", out->f);
		break;
	case PROTOBUF_C_TYPE_ENUM:
		json_enum(out, fd, *(const int *)p);
		break;
	case PROTOBUF_C_TYPE_STRING:
		json_string(out, *(char *const *)p ? *(char *const *)p : "");
		break;
	case PROTOBUF_C_TYPE_BYTES:
		json_bytes(out, p);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		json_message(out, *(ProtobufCMessage *const *)p);
		break;
	}
}

static size_t field_elem_size(const ProtobufCFieldDescriptor *fd)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 4;
	}
}

static void json_repeated(struct json_out *out, const ProtobufCFieldDescriptor *fd,
			  const char *base)
{
	size_t n = *(const size_t *)(base + fd->quantifier_offset);
	const char *arr = *(char *const *)(base + fd->offset);
	size_t esz = field_elem_size(fd);
	bool nested = fd->type == PROTOBUF_C_TYPE_MESSAGE;

	fputc('[', out->f);
	out->indent++;
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(nested ? "," : ", ", out->f);
		if (nested)
			json_newline(out);
		json_value(out, fd, arr + i * esz);
	}
	out->indent--;
	if (nested && n)
		json_newline(out);
	fputc(']', out->f);
}

/* Whether an optional (or oneof) field holds a value. */
static bool field_present(const ProtobufCFieldDescriptor *fd, const char *base)
{
	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + fd->quantifier_offset) == fd->id;
	if (fd->label == PROTOBUF_C_LABEL_REQUIRED || fd->label == PROTOBUF_C_LABEL_NONE)
		return true;
	switch (fd->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
	case PROTOBUF_C_TYPE_STRING:
		return *(void *const *)(base + fd->offset) != NULL;
	default:
		return *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
	}
}

static void json_message(struct json_out *out, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	const char *base = (const char *)msg;
	bool first = true;

	fputc('{', out->f);
	out->indent++;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &desc->fields[i];

		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			json_key(out, fd->name, first);
			json_repeated(out, fd, base);
		} else if (field_present(fd, base)) {
			json_key(out, fd->name, first);
			json_value(out, fd, base + fd->offset);
		} else {
			continue;
		}
		first = false;
	}
	/* Fields of a newer schema: counted so nothing passes unseen. */
	if (msg->n_unknown_fields) {
		json_key(out, "_unknown_fields", first);
		fprintf(out->f, "%u", msg->n_unknown_fields);
		first = false;
	}
	out->indent--;
	if (!first)
		json_newline(out);
	fputc('}', out->f);
}

/* Raw images: pages-PID.img (whole pages), files-data.img and
 * shmem-pages.img, verified against their checksums. */
static int show_raw(struct json_out *out, int dfd, int type, int pid)
{
	bool pages = type == IMG_PAGES || type == IMG_SHMEM_PAGES;
	char name[64];
	uint64_t len;
	int ret;

	ret = img_raw_verify(dfd, type, pid, "", false, &len);
	if (ret)
		return ret;
	if (pages && len % PAGE_SIZE) {
		snprintf(name, sizeof(name), image_descs[type].name_fmt, pid);
		pr_err("Image %s is corrupt: size %llu is not a multiple of the page size\n", name,
		       (unsigned long long)len);
		return -EINVAL;
	}
	fputs("{", out->f);
	out->indent++;
	json_key(out, "type", true);
	json_string(out, pages ? "pages" : "data");
	json_key(out, "size", false);
	fprintf(out->f, "%llu", (unsigned long long)len);
	if (pages) {
		json_key(out, "nr_pages", false);
		fprintf(out->f, "%llu", (unsigned long long)(len / PAGE_SIZE));
	}
	out->indent--;
	json_newline(out);
	fputc('}', out->f);
	return 0;
}

static int show_image(struct json_out *out, int dfd, int type, int pid)
{
	ProtobufCMessage *msg;
	struct cr_img *img;
	int ret, n = 0;

	if (!image_descs[type].magic)
		return show_raw(out, dfd, type, pid);
	img = img_open_read(dfd, type, pid, false);
	if (!img)
		return -errno ? -errno : -EINVAL;
	fputc('{', out->f);
	out->indent++;
	json_key(out, "magic", true);
	fprintf(out->f, "\"0x%08" PRIx32 "\"", image_descs[type].magic);
	json_key(out, "type", false);
	json_string(out, image_descs[type].pb->name);
	json_key(out, "entries", false);
	fputc('[', out->f);
	out->indent++;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		if (n++)
			fputc(',', out->f);
		json_newline(out);
		json_message(out, msg);
		img_free_msg(msg);
	}
	out->indent--;
	if (n)
		json_newline(out);
	fputc(']', out->f);
	out->indent--;
	json_newline(out);
	fputc('}', out->f);
	img_close(img);
	return ret;
}

struct dir_image {
	char name[64];
	int type;
	int pid;
};

/* Stable order: inventory, pstree, then per pid (increasing) each of its
 * images in image_type order, then the images shared by all processes. */
static int image_rank(const struct dir_image *di)
{
	if (di->type == IMG_INVENTORY)
		return 0;
	if (di->type == IMG_PSTREE)
		return 1;
	if (strstr(image_descs[di->type].name_fmt, "%d"))
		return 2;
	return 3;
}

static int dir_image_cmp(const void *a, const void *b)
{
	const struct dir_image *x = a, *y = b;
	int rx = image_rank(x), ry = image_rank(y);

	if (rx != ry)
		return rx - ry;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->type - y->type;
}

/* Collects the image files of directory DFD into a sorted array. */
static int list_images(int dfd, const char *path, struct dir_image **out, size_t *nr)
{
	struct dir_image *arr = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	d = fdopendir(dup(dfd));
	if (!d) {
		pr_perror("Can't read directory %s", path);
		return -errno;
	}
	while ((de = readdir(d))) {
		int pid, type = img_type_by_name(de->d_name, &pid);

		if (type < 0 || strlen(de->d_name) >= sizeof(arr->name)) {
			if (de->d_name[0] != '.')
				pr_info("%s/%s is not an image, skipped\n", path, de->d_name);
			continue;
		}
		if (n == cap) {
			struct dir_image *tmp;

			cap = cap ? cap * 2 : 16;
			tmp = realloc(arr, cap * sizeof(*arr));
			if (!tmp) {
				free(arr);
				closedir(d);
				return -ENOMEM;
			}
			arr = tmp;
		}
		strcpy(arr[n].name, de->d_name);
		arr[n].type = type;
		arr[n].pid = pid;
		n++;
	}
	closedir(d);
	if (arr)
		qsort(arr, n, sizeof(*arr), dir_image_cmp);
	*out = arr;
	*nr = n;
	return 0;
}

static int show_dir(struct json_out *out, int dfd, const char *path)
{
	cleanup_free struct dir_image *imgs = NULL;
	size_t nr = 0;
	int ret;

	ret = list_images(dfd, path, &imgs, &nr);
	if (ret)
		return ret;
	if (!nr) {
		pr_err("No images in %s\n", path);
		return -ENOENT;
	}
	fputc('{', out->f);
	out->indent++;
	for (size_t i = 0; i < nr; i++) {
		json_key(out, imgs[i].name, i == 0);
		ret = show_image(out, dfd, imgs[i].type, imgs[i].pid);
		if (ret < 0)
			return ret;
	}
	out->indent--;
	json_newline(out);
	fputc('}', out->f);
	return 0;
}

static int show_file(struct json_out *out, const char *path)
{
	cleanup_free char *dcopy = strdup(path);
	cleanup_free char *bcopy = strdup(path);
	cleanup_close int dfd = -1;
	const char *name;
	int type, pid;

	if (!dcopy || !bcopy)
		return -ENOMEM;
	name = basename(bcopy);
	type = img_type_by_name(name, &pid);
	if (type < 0) {
		pr_err("%s: not an image name lmproc knows (e.g. core-PID.img)\n", path);
		return -EINVAL;
	}
	dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		pr_perror("Can't open the directory of %s", path);
		return -errno;
	}
	return show_image(out, dfd, type, pid);
}

static int show_path(struct json_out *out, const char *path)
{
	cleanup_close int dfd = -1;
	struct stat st;

	if (stat(path, &st)) {
		pr_perror("Can't open %s", path);
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return show_file(out, path);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		pr_perror("Can't open directory %s", path);
		return -errno;
	}
	return show_dir(out, dfd, path);
}

int cmd_show(struct lmproc_opts *opts)
{
	const char *path = opts->argc ? opts->argv[0] : opts->images_dir;
	struct json_out out = { .indent = 0 };
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int ret;

	if (opts->argc > 1 || (opts->argc && opts->images_dir)) {
		pr_err("show takes one DIR or IMAGE\n");
		return -EINVAL;
	}
	out.f = open_memstream(&buf, &len);
	if (!out.f) {
		pr_perror("Can't allocate the output buffer");
		return -ENOMEM;
	}
	ret = show_path(&out, path);
	fputc('\n', out.f);
	if (fclose(out.f)) {
		pr_perror("Can't build the output of show");
		return -ENOMEM;
	}
	if (ret < 0)
		return ret;
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout)) {
		pr_perror("Can't write to stdout");
		return -EIO;
	}
	return 0;
}
