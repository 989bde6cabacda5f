/* Owns the validation of files.img and fdinfo-PID.img as a whole: file
 * ids, fd numbers, which files make one kernel object (both ends of a
 * pipe...), and each type's own checks (fd_ops.validate, validate_plan),
 * building plan->fdesc and plan->fd_desc.  Also runs the types' checks of
 * this machine before the fork.  Reads images already decoded; starts
 * nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fd-types.h"
#include "io-uring.h"
#include "log.h"
#include "restore.h"
#include "sk-unix.h"

#define bad restore_plan_bad

static int cmp_file_id(const void *a, const void *b, void *arg)
{
	const struct restore_plan *p = arg;
	uint32_t x = p->files[*(const uint32_t *)a]->id, y = p->files[*(const uint32_t *)b]->id;

	return x < y ? -1 : x > y;
}

/* Index of the file with id ID in BY_ID (files sorted by id), or -1. */
static int64_t file_by_id(const struct restore_plan *p, const uint32_t *by_id, uint32_t id)
{
	size_t lo = 0, hi = p->nr_files;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint32_t m = p->files[by_id[mid]]->id;

		if (m == id)
			return by_id[mid];
		if (m < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int fd_cmp(const void *a, const void *b)
{
	const FdinfoEntry *x = *(FdinfoEntry *const *)a, *y = *(FdinfoEntry *const *)b;

	return x->fd < y->fd ? -1 : x->fd > y->fd;
}

static int check_fds(const char *img, struct restore_plan *p, const uint32_t *by_id)
{
	qsort(p->fds, p->nr_fds, sizeof(*p->fds), fd_cmp);
	for (size_t i = 0; i < p->nr_fds; i++) {
		const FdinfoEntry *e = p->fds[i];
		struct file_desc *d;
		int64_t f;

		if (e->fd > INT32_MAX)
			return bad(img, "fd %u", e->fd);
		if (i && p->fds[i - 1]->fd == e->fd)
			return bad(img, "fd %u appears twice", e->fd);
		if (e->fd_flags & ~FD_CLOEXEC)
			return bad(img, "fd %u has fd flags 0x%x", e->fd, e->fd_flags);
		f = file_by_id(p, by_id, e->id);
		if (f < 0)
			return bad(img, "fd %u names file id %u, which files.img lacks", e->fd,
				   e->id);
		d = &p->fdesc[f];
		if (e->type != d->fe->type)
			return bad(img, "fd %u has type %d, its file id %u type %d", e->fd, e->type,
				   e->id, d->fe->type);
		p->fd_desc[i] = f;
		if (d->first_fd < 0)
			d->first_fd = e->fd;
	}
	return 0;
}

struct obj_ref {
	FdType type;
	uint64_t key;
	uint32_t desc;
};

static int cmp_obj(const void *a, const void *b)
{
	const struct obj_ref *x = a, *y = b;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->desc < y->desc ? -1 : x->desc > y->desc;
}

/* Links the files of each object into a ring (obj_next) and finds the
 * one that carries its data. */
static int link_object(struct restore_plan *p, const struct obj_ref *r, size_t n)
{
	int64_t carrier = -1;

	for (size_t i = 0; i < n; i++) {
		struct file_desc *d = &p->fdesc[r[i].desc];

		d->obj_next = r[(i + 1) % n].desc;
		if (!d->ops->obj_carrier(d->fe))
			continue;
		if (carrier >= 0)
			return bad("files.img", "files %u and %u both carry %s %llu",
				   p->files[carrier]->id, d->fe->id, d->ops->name,
				   (unsigned long long)r[i].key);
		carrier = r[i].desc;
	}
	if (carrier < 0)
		return bad("files.img", "no file carries %s %llu (file id %u)",
			   p->fdesc[r[0].desc].ops->name, (unsigned long long)r[0].key,
			   p->files[r[0].desc]->id);
	for (size_t i = 0; i < n; i++)
		p->fdesc[r[i].desc].carrier = carrier;
	return 0;
}

static int link_objects(struct restore_plan *p)
{
	cleanup_free struct obj_ref *refs = calloc(p->nr_files + 1, sizeof(*refs));
	size_t n = 0;
	int ret;

	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < p->nr_files; i++) {
		const struct file_desc *d = &p->fdesc[i];
		uint64_t key = d->ops->obj_key ? d->ops->obj_key(d->fe) : 0;

		if (key)
			refs[n++] = (struct obj_ref){ d->fe->type, key, i };
	}
	qsort(refs, n, sizeof(*refs), cmp_obj);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && refs[j].type == refs[i].type && refs[j].key == refs[i].key;
		     j++)
			;
		ret = link_object(p, refs + i, j - i);
		if (ret)
			return ret;
	}
	return 0;
}

static int build_descs(struct restore_plan *p, uint32_t *by_id)
{
	for (size_t i = 0; i < p->nr_files; i++) {
		struct file_desc *d = &p->fdesc[i];
		int ret;

		d->fe = p->files[i];
		d->ops = fd_ops_of(d->fe->type);
		d->first_fd = -1;
		d->inherit_fd = -1;
		d->fown_fd = -1;
		d->obj_next = d->carrier = i;
		ret = d->ops->validate(d->fe, p->files_data_size);
		if (ret)
			return ret;
		by_id[i] = i;
	}
	qsort_r(by_id, p->nr_files, sizeof(*by_id), cmp_file_id, p);
	for (size_t i = 1; i < p->nr_files; i++)
		if (p->files[by_id[i]]->id == p->files[by_id[i - 1]]->id)
			return bad("files.img", "file id %u appears twice", p->files[by_id[i]]->id);
	return 0;
}

int restore_validate_files(struct restore_plan *p)
{
	cleanup_free uint32_t *by_id = calloc(p->nr_files + 1, sizeof(*by_id));
	char img[64];
	int ret;

	snprintf(img, sizeof(img), image_descs[IMG_FDINFO].name_fmt, p->pid);
	p->fdesc = calloc(p->nr_files + 1, sizeof(*p->fdesc));
	p->fd_desc = calloc(p->nr_fds + 1, sizeof(*p->fd_desc));
	if (!by_id || !p->fdesc || !p->fd_desc)
		return -ENOMEM;
	ret = build_descs(p, by_id);
	if (!ret)
		ret = check_fds(img, p, by_id);
	if (!ret)
		ret = link_objects(p);
	if (!ret)
		ret = unix_scm_plan(p);
	/* files.img holds the whole tree's files: this process's only here. */
	for (size_t i = 0; i < p->nr_files && !ret; i++)
		if (p->fdesc[i].first_fd >= 0 && p->fdesc[i].ops->validate_plan)
			ret = p->fdesc[i].ops->validate_plan(p, i);
	ret = ret ?: io_uring_validate_vmas(p);
	return ret ?: restore_validate_locks(p, img);
}

int restore_check_files(const struct restore_plan *p)
{
	for (size_t i = 0; i < p->nr_files; i++) {
		const struct file_desc *d = &p->fdesc[i];
		int ret;

		if (!d->ops->check || (d->first_fd < 0 && !d->make_here && !d->in_flight_here))
			continue;
		ret = d->ops->check(p, i);
		if (ret)
			return ret;
	}
	return 0;
}

void restore_free_files(struct restore_plan *p)
{
	free(p->fdesc);
	free(p->fd_desc);
	p->fdesc = NULL;
	p->fd_desc = NULL;
}
