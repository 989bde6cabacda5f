/* Owns where the pages of a shared memory object lie across the rounds of
 * an iterative dump.  Every round copies each object; a page byte for
 * byte the same as the previous round's copy is listed in_parent instead
 * of written (the dump compares them: shared memory is written through
 * mappings of other processes and through fds, which no tracker sees).
 * Both sides read the rounds through here: the dump to compare a page
 * with the previous round's copy, the restore to find the data of a page
 * in_parent.  Every round is validated as restore validates any image:
 * its inventory (a pre-dump of the same tree, the round id its successor
 * recorded), its runs and its data's checksums. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "log.h"
#include "shmem.h"

#define SHMEM_MAX_LEVELS 64
#define PAGE_UP(x) (((x) + PAGE_SIZE - 1) & PAGE_MASK)

struct shmem_level {
	int dfd;
	int data; /* shmem-pages.img, -1 if it has no pages */
	ShmemEntry **e;
	size_t nr;
	uint64_t **off;	  /* per entry and run: where its data starts */
	char *parent_dir; /* from its inventory; NULL: the first round */
	uint64_t parent_id;
	char name[96]; /* for errors: "DIR/" */
};

struct shmem_chain {
	int dfd; /* the dump's own directory, not owned */
	uint32_t root_pid;
	struct shmem_level lv[SHMEM_MAX_LEVELS];
	size_t nr;
	const char *parent_dir; /* the dump's previous round */
	bool check_id;
	uint64_t parent_id;
	int broken; /* a round that failed to load: every later lookup fails */
};

static int bad(const char *name, const char *what, uint32_t id)
{
	pr_err("Shared memory of the previous round %sshmem.img: object %u: %s\n", name, id, what);
	return -EINVAL;
}

int shmem_check_runs(const ShmemEntry *e, uint64_t *data_pages, uint64_t *off)
{
	uint64_t prev_end = 0, limit = PAGE_UP(e->size);

	for (size_t i = 0; i < e->n_runs; i++) {
		const ShmemRun *r = e->runs[i];

		if (!PAGE_ALIGNED(r->off) || !r->nr_pages || r->off < prev_end || r->off >= limit ||
		    r->nr_pages > (limit - r->off) / PAGE_SIZE)
			return -EINVAL;
		prev_end = r->off + (uint64_t)r->nr_pages * PAGE_SIZE;
		if (off)
			off[i] = *data_pages * PAGE_SIZE;
		if (!(r->has_in_parent && r->in_parent))
			*data_pages += r->nr_pages;
	}
	return 0;
}

static int load_entries(struct shmem_level *lv, uint64_t *pages)
{
	int ret = img_read_all(lv->dfd, IMG_SHMEM, 0, true, (ProtobufCMessage ***)&lv->e, &lv->nr);

	if (ret)
		return ret;
	lv->off = calloc(lv->nr + 1, sizeof(*lv->off));
	if (!lv->off)
		return -ENOMEM;
	for (size_t i = 0; i < lv->nr; i++) {
		const ShmemEntry *e = lv->e[i];

		if (!e->size || e->size > SHMEM_MAX_SIZE)
			return bad(lv->name, "a size out of range", e->id);
		lv->off[i] = calloc(e->n_runs + 1, sizeof(**lv->off));
		if (!lv->off[i])
			return -ENOMEM;
		if (shmem_check_runs(e, pages, lv->off[i]))
			return bad(lv->name, "runs out of order or past its size", e->id);
	}
	return 0;
}

/* Round DFD (named NAME) as level L: a pre-dump of the same tree, the
 * round its successor names (WANT_ID, if CHECK), its pages verified. */
static int load_level(struct shmem_chain *c, size_t l, int dfd, const char *name, bool check,
		      uint64_t want_id)
{
	struct shmem_level *lv = &c->lv[l];
	uint64_t pages = 0, len;
	InventoryEntry *inv;
	int ret;

	lv->dfd = dfd;
	lv->data = -1;
	c->nr = l + 1;
	snprintf(lv->name, sizeof(lv->name), "%.90s/", name);
	ret = img_read_one(dfd, IMG_INVENTORY, 0, (ProtobufCMessage **)&inv);
	if (ret)
		return ret;
	if (inv->img_version != IMAGE_VERSION || strcmp(inv->kind, "pre-dump") ||
	    inv->root_pid != c->root_pid ||
	    (check && (!inv->has_round_id || inv->round_id != want_id))) {
		pr_err("%s is not the pre-dump of pid %u, of this image version, that the next "
		       "round names\n", lv->name, c->root_pid);
		ret = -EINVAL;
	} else if (inv->parent_dir) {
		lv->parent_dir = strdup(inv->parent_dir);
		lv->parent_id = inv->has_parent_round_id ? inv->parent_round_id : 0;
		ret = lv->parent_dir ? 0 : -ENOMEM;
	}
	img_free_msg(&inv->base);
	if (!ret)
		ret = load_entries(lv, &pages);
	if (!ret)
		ret = img_raw_verify(dfd, IMG_SHMEM_PAGES, 0, lv->name, !pages, &len);
	if (!ret && len != pages * PAGE_SIZE) {
		pr_err("%sshmem-pages.img holds %llu bytes, its shmem.img lists %llu pages\n",
		       lv->name, (unsigned long long)len, (unsigned long long)pages);
		ret = -EINVAL;
	}
	if (!ret && pages) {
		lv->data = img_open_file(dfd, image_descs[IMG_SHMEM_PAGES].name_fmt, false);
		ret = lv->data < 0 ? lv->data : 0;
	}
	return ret;
}

/* Level L, the round before level L - 1 (level 0: the dump's previous
 * round); 1: there is none. */
static int open_level(struct shmem_chain *c, size_t l)
{
	const struct shmem_level *child = l ? &c->lv[l - 1] : NULL;
	const char *dir = child ? child->parent_dir : c->parent_dir;
	int dfd;

	if (!dir)
		return 1;
	if (l >= SHMEM_MAX_LEVELS) {
		pr_err("The chain of rounds behind the dump is longer than %d\n", SHMEM_MAX_LEVELS);
		return -ELOOP;
	}
	dfd = img_dir_open(child ? child->dfd : c->dfd, dir);
	if (dfd < 0) {
		pr_err("Can't open the previous round %s: %s\n", dir, strerror(-dfd));
		return dfd;
	}
	return load_level(c, l, dfd, dir, child || c->check_id,
			  child ? child->parent_id : c->parent_id);
}

int shmem_chain_open(int dfd, const char *parent_dir, const InventoryEntry *inv, uint32_t root_pid,
		     struct shmem_chain **out)
{
	struct shmem_chain *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->dfd = dfd;
	c->root_pid = root_pid;
	c->parent_dir = parent_dir;
	c->check_id = inv && inv->has_parent_round_id;
	c->parent_id = c->check_id ? inv->parent_round_id : 0;
	ret = open_level(c, 0);
	if (ret) {
		shmem_chain_close(c);
		return ret > 0 ? -EINVAL : ret;
	}
	*out = c;
	return 0;
}

static const ShmemEntry *find_entry(const struct shmem_level *lv, uint64_t dev, uint64_t ino,
				    size_t *idx)
{
	for (size_t i = 0; i < lv->nr; i++) {
		if (lv->e[i]->dev == dev && lv->e[i]->ino == ino) {
			*idx = i;
			return lv->e[i];
		}
	}
	return NULL;
}

/* The run of E holding byte OFF, or -1. */
static ssize_t find_run(const ShmemEntry *e, uint64_t off)
{
	size_t lo = 0, hi = e->n_runs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const ShmemRun *r = e->runs[mid];

		if (off < r->off)
			hi = mid;
		else if (off >= r->off + (uint64_t)r->nr_pages * PAGE_SIZE)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

int shmem_chain_find(struct shmem_chain *c, uint64_t dev, uint64_t ino, uint64_t off,
		     struct shmem_src *src)
{
	for (size_t l = 0;; l++) {
		const struct shmem_level *lv;
		const ShmemEntry *e;
		const ShmemRun *r;
		size_t i;
		ssize_t k;

		if (c->broken)
			return c->broken;
		if (l >= c->nr) {
			int ret = open_level(c, l);

			if (ret < 0)
				c->broken = ret;
			if (ret)
				return ret;
		}
		lv = &c->lv[l];
		e = find_entry(lv, dev, ino, &i);
		k = e ? find_run(e, off) : -1;
		if (k < 0)
			return 1;
		r = e->runs[k];
		if (r->has_in_parent && r->in_parent)
			continue;
		src->fd = lv->data;
		src->off = lv->off[i][k] + (off - r->off);
		src->nr_pages = r->nr_pages - (off - r->off) / PAGE_SIZE;
		return 0;
	}
}

int shmem_chain_check(struct shmem_chain *c, const ShmemEntry *e, const char *name)
{
	for (size_t k = 0; k < e->n_runs; k++) {
		const ShmemRun *r = e->runs[k];
		uint64_t off = r->off, end = r->off + (uint64_t)r->nr_pages * PAGE_SIZE;

		if (!(r->has_in_parent && r->in_parent))
			continue;
		while (off < end) {
			struct shmem_src src;
			int ret = shmem_chain_find(c, e->dev, e->ino, off, &src);

			if (ret > 0)
				pr_err("%sshmem.img: object %u lists page 0x%llx in the previous "
				       "round, which does not have it\n",
				       name, e->id, (unsigned long long)off);
			if (ret)
				return ret > 0 ? -EINVAL : ret;
			off += src.nr_pages * PAGE_SIZE;
		}
	}
	return 0;
}

int shmem_round_check(int dfd, uint32_t root_pid)
{
	struct shmem_chain *c = NULL;
	int ret = shmem_chain_open(dfd, ".", NULL, root_pid, &c);

	if (ret)
		return ret;
	/* Level 0 is the round itself: its pages in_parent are looked up
	 * from level 1 on. */
	for (size_t i = 0; !ret && i < c->lv[0].nr; i++)
		ret = shmem_chain_check(c, c->lv[0].e[i], "");
	shmem_chain_close(c);
	return ret;
}

void shmem_chain_close(struct shmem_chain *c)
{
	if (!c)
		return;
	for (size_t l = 0; l < c->nr; l++) {
		struct shmem_level *lv = &c->lv[l];

		for (size_t i = 0; lv->off && i < lv->nr; i++)
			free(lv->off[i]);
		for (size_t i = 0; i < lv->nr; i++)
			img_free_msg(&lv->e[i]->base);
		free(lv->e);
		free(lv->off);
		free(lv->parent_dir);
		if (lv->data >= 0)
			close(lv->data);
		if (lv->dfd >= 0)
			close(lv->dfd);
	}
	free(c);
}
