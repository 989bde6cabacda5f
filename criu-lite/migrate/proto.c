/* The migration protocol's framing and messages: a 16-byte header (magic,
 * version, type, length, a reserved zero) before every message, each
 * length checked against its type's bound before anything is allocated;
 * image names checked before they name a file; HELLO's contents. */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "log.h"
#include "migrate.h"

static const char *const type_names[MIG_TYPE_NR] = {
    [MIG_HELLO] = "HELLO",	   [MIG_FILE] = "FILE",		[MIG_DATA] = "DATA",
    [MIG_DUMP_DONE] = "DUMP_DONE", [MIG_RESTORED] = "RESTORED", [MIG_COMMIT] = "COMMIT",
    [MIG_COMMITTED] = "COMMITTED", [MIG_ABORT] = "ABORT",	[MIG_ERROR] = "ERROR",
    [MIG_ROUND] = "ROUND",	   [MIG_ROUND_DONE] = "ROUND_DONE", [MIG_DRY_RUN] = "DRY_RUN",
    [MIG_PREFLIGHT] = "PREFLIGHT",
};

const char *mig_type_name(enum mig_type type)
{
	return type > 0 && type < MIG_TYPE_NR ? type_names[type] : "unknown";
}

static uint32_t max_len(enum mig_type type)
{
	switch (type) {
	case MIG_DATA:
		return MIG_MAX_CHUNK;
	case MIG_FILE:
		return 8 + MIG_MAX_NAME;
	case MIG_ROUND:
		return 16;
	case MIG_DRY_RUN:
		return 64;
	case MIG_PREFLIGHT:
		return MIG_MAX_PREFLIGHT;
	case MIG_DUMP_DONE:
	case MIG_ROUND_DONE:
	case MIG_COMMIT:
	case MIG_COMMITTED:
		return 0;
	default:
		return MIG_MAX_SMALL;
	}
}

int mig_send(struct mig_chan *c, enum mig_type type, const void *data, uint32_t len)
{
	uint32_t hdr[4] = {htole32(MIG_MAGIC), htole32(MIG_VERSION | (uint32_t)type << 16),
			   htole32(len), 0};
	int ret;

	if (len > max_len(type))
		return -EMSGSIZE;
	ret = mig_chan_write(c, hdr, sizeof(hdr));
	if (!ret && len)
		ret = mig_chan_write(c, data, len);
	return ret;
}

int mig_send_text(struct mig_chan *c, enum mig_type type, const char *text)
{
	size_t len = strnlen(text, MIG_MAX_SMALL - 1);

	return mig_send(c, type, text, len);
}

static const char *io_why(int err)
{
	switch (err) {
	case -ECONNRESET:
		return "the connection was closed";
	case -ETIMEDOUT:
		return "the peer sent nothing in time";
	default:
		return strerror(-err);
	}
}

/* Reads one message.  On failure WHY says what was wrong with it. */
int mig_recv(struct mig_chan *c, struct mig_msg *m, char *why, size_t why_len)
{
	uint32_t hdr[4], magic, ver, type;
	int ret;

	memset(m, 0, sizeof(*m));
	ret = mig_chan_read(c, hdr, sizeof(hdr));
	if (ret && c->alert) {
		/* TLS 1.3: a server that refuses the client's certificate
		 * says so after the client's handshake has ended. */
		snprintf(why, why_len, "the peer ended TLS with an alert: %s", c->alert);
		return ret;
	}
	if (ret) {
		snprintf(why, why_len, "%s", io_why(ret));
		return ret;
	}
	magic = le32toh(hdr[0]);
	ver = le32toh(hdr[1]) & 0xffff;
	type = le32toh(hdr[1]) >> 16;
	m->len = le32toh(hdr[2]);
	if (magic != MIG_MAGIC) {
		snprintf(why, why_len, "not a migration message (magic %#x)", magic);
		return -EPROTO;
	}
	if (hdr[3]) {
		snprintf(why, why_len, "a header whose reserved word is not zero");
		return -EPROTO;
	}
	if (ver != MIG_VERSION) {
		snprintf(why, why_len, "protocol version %u, this lmproc speaks %u", ver,
			 MIG_VERSION);
		return -EPROTO;
	}
	if (!type || type >= MIG_TYPE_NR) {
		snprintf(why, why_len, "unknown message type %u", type);
		return -EPROTO;
	}
	m->type = type;
	if (m->len > max_len(type)) {
		snprintf(why, why_len, "%s of %u bytes, more than its bound of %u",
			 mig_type_name(type), m->len, max_len(type));
		return -EMSGSIZE;
	}
	m->data = malloc(m->len + 1);
	if (!m->data) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	m->data[m->len] = 0;
	ret = m->len ? mig_chan_read(c, m->data, m->len) : 0;
	if (ret) {
		snprintf(why, why_len, "%s cut after its header: %s", mig_type_name(type),
			 io_why(ret));
		mig_msg_free(m);
	}
	return ret;
}

void mig_msg_free(struct mig_msg *m)
{
	free(m->data);
	m->data = NULL;
}

/* Only the names a dump writes: letters, digits, '-', '_', '.', ending in
 * ".img"; never a path, never hidden, never "..". */
bool mig_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= MIG_MAX_NAME || name[0] == '.' || strstr(name, ".."))
		return false;
	if (len < 5 || strcmp(name + len - 4, ".img"))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("-_.", name[i]))
			return false;
	return true;
}

/* A peer's text goes into one log line: nothing that could break it. */
void mig_printable(char *s)
{
	for (; *s; s++)
		if (!isprint((unsigned char)*s))
			*s = '?';
}

/* "lmproc-migrate 1 images V tcp 0|1", then "veth IN=OUT[@BRIDGE]" lines
 * and, with --grace, "grace MS": what the destination's restore needs to
 * know of the source's options; and the source's "cpu WORDS" (cpu.c),
 * which serve checks before any round.  A serve older than the grace or
 * the cpu line refuses it ("a HELLO line that does not parse"), never
 * ignores it. */
int mig_hello_make(char *buf, size_t len, const struct lmproc_opts *opts)
{
	size_t off = snprintf(buf, len, "lmproc-migrate %u images %u tcp %d\n", MIG_VERSION,
			      IMAGE_VERSION, opts ? opts->tcp_established : 0);
	int n;

	if (opts && off < len) {
		off += snprintf(buf + off, len - off, "cpu ");
		n = off < len ? cpu_line_make(buf + off, len - off) : -E2BIG;
		if (n < 0)
			return n;
		off += n;
		if (off < len)
			off += snprintf(buf + off, len - off, "\n");
	}

	for (int i = 0; opts && i < opts->nr_veth && off < len; i++) {
		const struct veth_pair *v = &opts->veth[i];

		off += snprintf(buf + off, len - off, "veth %s=%s%s%s\n", v->in, v->out,
				v->bridge[0] ? "@" : "", v->bridge);
	}
	if (opts && opts->grace_ms && off < len)
		off += snprintf(buf + off, len - off, "grace %d\n", opts->grace_ms);
	return off < len ? (int)off : -E2BIG;
}

/* "MS": 1 to MIG_MAX_GRACE_MS, digits only. */
static int parse_grace(const char *s, int *ms)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > MIG_MAX_GRACE_MS)
		return -1;
	*ms = v;
	return 0;
}

int mig_hello_parse(const struct mig_msg *m, struct lmproc_opts *opts, struct mig_peer_cpu *cpu,
		    char *why, size_t why_len)
{
	unsigned int ver, img;
	int tcp, n = 0;
	char *line, *save = NULL;

	if (m->type != MIG_HELLO) {
		snprintf(why, why_len, "%s where HELLO was expected", mig_type_name(m->type));
		return -EPROTO;
	}
	if (sscanf(m->data, "lmproc-migrate %u images %u tcp %d\n%n", &ver, &img, &tcp, &n) != 3 ||
	    !n) {
		snprintf(why, why_len, "a HELLO that does not parse");
		return -EPROTO;
	}
	if (ver != MIG_VERSION || img != IMAGE_VERSION) {
		snprintf(why, why_len,
			 "protocol %u with images format %u, this lmproc has protocol %u and "
			 "images format %u",
			 ver, img, MIG_VERSION, IMAGE_VERSION);
		return -EPROTO;
	}
	if (!opts)
		return 0;
	opts->tcp_established = tcp == 1;
	for (line = strtok_r(m->data + n, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "grace ", 6)) {
			if (parse_grace(line + 6, &opts->grace_ms)) {
				snprintf(why, why_len, "a HELLO with a grace of '%.32s' ms, not 1 to %d",
					 line + 6, MIG_MAX_GRACE_MS);
				return -EPROTO;
			}
			continue;
		}
		if (cpu && !cpu->seen && !strncmp(line, "cpu ", 4)) {
			char what[128];

			if (cpu_line_parse(line + 4, &cpu->cpu, what, sizeof(what))) {
				snprintf(why, why_len, "a HELLO with %s", what);
				return -EPROTO;
			}
			cpu->seen = true;
			continue;
		}
		if (strncmp(line, "veth ", 5) || opts_parse_veth(line + 5, opts)) {
			snprintf(why, why_len, "a HELLO line that does not parse");
			return -EPROTO;
		}
	}
	return 0;
}
