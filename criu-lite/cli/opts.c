/* Owns the parsing of option values shared by the command line (main.c)
 * and the migration protocol's HELLO (migrate/proto.c), which carries the
 * source's --veth-pair to the destination's restore. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "opts.h"

static bool veth_name_ok(const char *s)
{
	return *s && strlen(s) < VETH_NAME_LEN && !strpbrk(s, "/ =@");
}

/* "IN=OUT" or "IN=OUT@BRIDGE" */
int opts_parse_veth(const char *s, struct lmproc_opts *opts)
{
	struct veth_pair *v = &opts->veth[opts->nr_veth];
	const char *eq = strchr(s, '='), *at = eq ? strchr(eq, '@') : NULL;
	size_t in_len = eq ? (size_t)(eq - s) : 0;
	size_t out_len = eq ? (at ? (size_t)(at - eq - 1) : strlen(eq + 1)) : 0;

	if (opts->nr_veth == MAX_VETH_PAIRS || !in_len || in_len >= VETH_NAME_LEN ||
	    !out_len || out_len >= VETH_NAME_LEN)
		return -1;
	memcpy(v->in, s, in_len);
	memcpy(v->out, eq + 1, out_len);
	if (at)
		snprintf(v->bridge, sizeof(v->bridge), "%s", at + 1);
	if (!veth_name_ok(v->in) || !veth_name_ok(v->out) || (at && !veth_name_ok(at + 1)))
		return -1;
	opts->nr_veth++;
	return 0;
}
