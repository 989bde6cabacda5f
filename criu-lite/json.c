/* Owns the JSON escaping every command's --json output and lmproc show
 * share, and the flat rendering of a stats message's scalar fields (as
 * JSON, and as --display-stats' lines). */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "json.h"

/* Length of the valid UTF-8 sequence at S (at most LEFT bytes), 0 if the
 * bytes there are not one: those are escaped byte by byte so the output
 * stays valid JSON whatever a path holds. */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void json_str(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t left = strlen(str);

	fputc('"', f);
	while (left) {
		size_t n = utf8_seq_len(s, left);

		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s < 0x20 || n == 0)
			fprintf(f, "\\u%04x", *s);
		else
			fwrite(s, 1, n, f);
		if (!n)
			n = 1;
		s += n;
		left -= n;
	}
	fputc('"', f);
}

static void pb_scalar_value(FILE *f, const ProtobufCFieldDescriptor *fd, const void *p)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		fprintf(f, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(f, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(f, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(f, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)p ? "true" : "false", f);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		fprintf(f, "%.3f", *(const double *)p);
		break;
	default:
		fputs("null", f);
		break;
	}
}

/* FD of M is an integer, bool or double that is set. */
static bool pb_scalar_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
	const char *base = (const char *)m;

	if (fd->label == PROTOBUF_C_LABEL_REPEATED || fd->type == PROTOBUF_C_TYPE_STRING ||
	    fd->type == PROTOBUF_C_TYPE_BYTES || fd->type == PROTOBUF_C_TYPE_MESSAGE)
		return false;
	return fd->label != PROTOBUF_C_LABEL_OPTIONAL || !fd->quantifier_offset ||
	       *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
}

void json_pb_scalars(FILE *f, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	bool first = true;

	for (unsigned int i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];

		if (!pb_scalar_set(m, fd))
			continue;
		fprintf(f, "%s\"%s\": ", first ? "" : ", ", fd->name);
		pb_scalar_value(f, fd, (const char *)m + fd->offset);
		first = false;
	}
}

/* "Frozen time: 8213 us" for frozen_time_us: CRIU's --display-stats
 * lines, so that the figures of both tools read alike. */
void stats_display(FILE *f, const char *what, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	fprintf(f, "Displaying %s stats:\n", what);
	for (unsigned int i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		size_t len = strlen(fd->name);
		bool us = len > 3 && !strcmp(fd->name + len - 3, "_us");

		if (!pb_scalar_set(m, fd))
			continue;
		if (us)
			len -= 3;
		for (size_t k = 0; k < len; k++)
			fputc(fd->name[k] == '_' ? ' ' : k ? fd->name[k] : toupper(fd->name[k]), f);
		fputs(": ", f);
		pb_scalar_value(f, fd, (const char *)m + fd->offset);
		fputs(us ? " us\n" : "\n", f);
	}
	fflush(f);
}
