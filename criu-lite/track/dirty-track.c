/* Owns the choice of dirty-tracking backend and the range sets they
 * report.  Knows nothing of how a backend finds written pages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirty-track.h"
#include "kerndat.h"
#include "log.h"

int range_set_add(struct range_set *s, uint64_t start, uint64_t end)
{
	if (start >= end)
		return 0;
	if (s->nr && s->r[s->nr - 1].end >= start) {
		if (s->r[s->nr - 1].start > start) {
			pr_err("Internal: range 0x%lx added out of order\n", (unsigned long)start);
			return -EINVAL;
		}
		if (end > s->r[s->nr - 1].end)
			s->r[s->nr - 1].end = end;
		return 0;
	}
	if (s->nr == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct addr_range *r = realloc(s->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		s->r = r;
		s->cap = cap;
	}
	s->r[s->nr].start = start;
	s->r[s->nr].end = end;
	s->nr++;
	return 0;
}

void range_set_free(struct range_set *s)
{
	free(s->r);
	memset(s, 0, sizeof(*s));
}

static const struct {
	const char *name;
	enum track_backend backend;
} backend_names[] = {
	{ "auto", TRACK_AUTO },
	{ "soft-dirty", TRACK_SOFT_DIRTY },
	{ "pagemap-scan", TRACK_PAGEMAP_SCAN },
	{ "ebpf", TRACK_EBPF },
};

const char *track_backend_name(enum track_backend b)
{
	for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++)
		if (backend_names[i].backend == b)
			return backend_names[i].name;
	return "unknown";
}

int track_backend_by_name(const char *name, enum track_backend *out)
{
	for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++) {
		if (!strcmp(backend_names[i].name, name)) {
			*out = backend_names[i].backend;
			return 0;
		}
	}
	return -EINVAL;
}

const struct dirty_tracker_ops *track_backend_ops(enum track_backend b)
{
	switch (b) {
	case TRACK_SOFT_DIRTY:
		return &soft_dirty_tracker_ops;
	case TRACK_PAGEMAP_SCAN:
		return &pagemap_scan_tracker_ops;
	case TRACK_EBPF:
		return &ebpf_tracker_ops;
	default:
		return NULL;
	}
}

/* Probed once per run: the probe forks and maps (~20 ms), and a dump
 * picks a backend for each process of the tree while it is frozen. */
static struct kerndat track_kd;
static bool track_kd_probed;

void track_probe_kernel(void)
{
	if (!track_kd_probed)
		kerndat_probe(&track_kd);
	track_kd_probed = true;
}

/* The probe that rules backend B out here, or NULL if it works. */
static const struct kd_result *backend_missing(enum track_backend b)
{
	const struct kerndat *kd = &track_kd;
	const struct kd_result *r;

	switch (b) {
	case TRACK_SOFT_DIRTY:
		r = &kd->feat[KD_SOFT_DIRTY];
		break;
	case TRACK_PAGEMAP_SCAN:
		r = kd->feat[KD_PAGEMAP_SCAN].ok ? &kd->feat[KD_UFFD_REMOTE] : &kd->feat[KD_PAGEMAP_SCAN];
		break;
	default:
		/* eBPF rides on the write protection of pagemap-scan. */
		if (!kd->feat[KD_PF_TRACEPOINT].ok)
			r = &kd->feat[KD_PF_TRACEPOINT];
		else if (!kd->feat[KD_PAGEMAP_SCAN].ok)
			r = &kd->feat[KD_PAGEMAP_SCAN];
		else
			r = &kd->feat[KD_UFFD_REMOTE];
		break;
	}
	return r->ok ? NULL : r;
}

const char *track_backend_unavailable(enum track_backend b)
{
	const struct kd_result *r;

	track_probe_kernel();
	r = backend_missing(b);
	return r ? r->why : NULL;
}

int track_pick_backend(enum track_backend want, enum track_backend *out)
{
	const struct kerndat *kd = &track_kd;
	const struct kd_result *r;

	track_probe_kernel();
	switch (want) {
	case TRACK_AUTO:
		if (kd->tracker == KD_TRACKER_PAGEMAP_SCAN) {
			*out = TRACK_PAGEMAP_SCAN;
			return 0;
		}
		if (kd->tracker == KD_TRACKER_SOFT_DIRTY) {
			*out = TRACK_SOFT_DIRTY;
			return 0;
		}
		pr_err("No dirty-page tracker works on this kernel: soft-dirty: %s; pagemap-scan: %s\n",
		       kd->feat[KD_SOFT_DIRTY].why, kd->feat[KD_UFFD_WP_ASYNC].why);
		return -EOPNOTSUPP;
	case TRACK_SOFT_DIRTY:
	case TRACK_PAGEMAP_SCAN:
	case TRACK_EBPF:
		r = backend_missing(want);
		break;
	default:
		return -EINVAL;
	}
	if (r) {
		pr_err("Dirty tracker %s is unavailable here: %s\n", track_backend_name(want),
		       r->why);
		return -EOPNOTSUPP;
	}
	*out = want;
	return 0;
}
