/* Owns where the data of each page to restore lives.  A dump after
 * pre-dumps lists some pages as in_parent: their data is in the previous
 * round's images, or, if that round lists them as in_parent too, further
 * back.  Every link is validated like any image: same pid, a pre-dump,
 * sizes that match, and every in_parent page really listed by the round
 * it points to. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "log.h"
#include "restore.h"

/* One round's pagemap: runs with the byte offset of their data. */
struct round_map {
	PagemapEntry **e;
	uint64_t *off;		/* for entries that are not in_parent */
	size_t nr;
	char name[64];		/* for errors: "<dir>/pagemap-PID.img" */
};

struct chain {
	struct restore_plan *p;
	struct round_map level[RESTORER_MAX_LEVELS];
};

static int add_src_run(struct restore_plan *p, uint64_t vaddr, uint64_t nr, uint32_t vma,
		       uint32_t level, uint64_t off)
{
	struct page_src_run *r;

	if (p->nr_runs && p->runs[p->nr_runs - 1].level == level &&
	    p->runs[p->nr_runs - 1].vma == vma &&
	    p->runs[p->nr_runs - 1].vaddr + p->runs[p->nr_runs - 1].nr_pages * PAGE_SIZE == vaddr &&
	    p->runs[p->nr_runs - 1].off + p->runs[p->nr_runs - 1].nr_pages * PAGE_SIZE == off) {
		p->runs[p->nr_runs - 1].nr_pages += nr;
		p->nr_pages += nr;
		return 0;
	}
	if (p->nr_runs == p->cap_runs) {
		size_t n = p->cap_runs ? p->cap_runs * 2 : 64;

		r = realloc(p->runs, n * sizeof(*r));
		if (!r)
			return -ENOMEM;
		p->runs = r;
		p->cap_runs = n;
	}
	p->runs[p->nr_runs++] = (struct page_src_run){
		.vaddr = vaddr, .nr_pages = nr, .off = off, .vma = vma, .level = level,
	};
	p->nr_pages += nr;
	p->vma_filled[vma] = true;
	return 0;
}

static int add_cow_run(struct restore_plan *p, uint64_t vaddr, uint64_t nr, uint32_t vma)
{
	if (p->nr_cow_runs == p->cap_cow_runs) {
		size_t n = p->cap_cow_runs ? p->cap_cow_runs * 2 : 16;
		struct cow_run *r = realloc(p->cow_runs, n * sizeof(*r));

		if (!r)
			return -ENOMEM;
		p->cow_runs = r;
		p->cap_cow_runs = n;
	}
	p->cow_runs[p->nr_cow_runs++] = (struct cow_run){ vaddr, nr, vma };
	return 0;
}

/* The pages image of a round is verified whole against its checksums
 * here, before anything is made from it. */
static int check_pages_size(int dfd, const char *dir, pid_t pid, uint64_t bytes)
{
	char name[64];
	uint64_t len;
	int ret;

	ret = img_raw_verify(dfd, IMG_PAGES, pid, dir, false, &len);
	if (ret)
		return ret;
	if (len != bytes) {
		snprintf(name, sizeof(name), image_descs[IMG_PAGES].name_fmt, pid);
		pr_err("Image %s%s holds %llu bytes of pages, but its pagemap lists %llu: corrupt\n",
		       dir, name, (unsigned long long)len, (unsigned long long)bytes);
		return -EINVAL;
	}
	return 0;
}

static bool in_task(const PagemapEntry *e)
{
	return e->has_in_parent_task && e->in_parent_task;
}

/* Reads and checks the framing-level facts of one round's pagemap:
 * aligned, ordered, non-empty runs; the pages image size.  Pages of the
 * parent process (in_parent_task) only in a dump, the one restored
 * (DUMP), never together with in_parent. */
static int load_round_map(int dfd, const char *dir, pid_t pid, struct round_map *m, bool dump)
{
	struct cr_img *img = img_open_read(dfd, IMG_PAGEMAP, pid, false);
	uint64_t prev_end = 0, data = 0;
	size_t cap = 0;
	PagemapEntry *r;
	int ret;

	if (!img)
		return -EINVAL;
	snprintf(m->name, sizeof(m->name), "%s%s", dir, img->path);
	while ((ret = img_read_msg(img, (ProtobufCMessage **)&r)) > 0) {
		uint64_t end = r->vaddr + ((uint64_t)r->nr_pages << PAGE_SHIFT);

		if (!PAGE_ALIGNED(r->vaddr) || !r->nr_pages || r->vaddr >= TASK_SIZE ||
		    end > TASK_SIZE || r->vaddr < prev_end) {
			ret = restore_plan_bad(m->name, "run 0x%llx of %u pages is misplaced",
					       (unsigned long long)r->vaddr, r->nr_pages);
			img_free_msg(&r->base);
			break;
		}
		if (in_task(r) && (!dump || (r->has_in_parent && r->in_parent))) {
			ret = restore_plan_bad(m->name, "run 0x%llx is the parent process's %s",
					       (unsigned long long)r->vaddr,
					       dump ? "and in a previous round" : "in a pre-dump");
			img_free_msg(&r->base);
			break;
		}
		if (m->nr == cap) {
			size_t n = cap ? cap * 2 : 64;
			PagemapEntry **e = realloc(m->e, n * sizeof(*e));
			uint64_t *o = e ? realloc(m->off, n * sizeof(*o)) : NULL;

			if (e)
				m->e = e;
			if (!o) {
				img_free_msg(&r->base);
				ret = -ENOMEM;
				break;
			}
			m->off = o;
			cap = n;
		}
		m->e[m->nr] = r;
		m->off[m->nr++] = data;
		if (!(r->has_in_parent && r->in_parent) && !in_task(r))
			data += (uint64_t)r->nr_pages * PAGE_SIZE;
		prev_end = end;
	}
	img_close(img);
	if (ret < 0)
		return ret;
	return check_pages_size(dfd, dir, pid, data);
}

/* Opens round LEVEL, the parent of round LEVEL - 1, if not yet open. */
static int open_level(struct chain *c, uint32_t level)
{
	struct restore_plan *p = c->p;
	InventoryEntry *inv, *child_inv;
	uint64_t want_id;
	char dir[80];
	int dfd, ret;

	if (level < p->nr_levels)
		return 0;
	if (level >= RESTORER_MAX_LEVELS) {
		pr_err("The chain of rounds behind the dump is longer than %d\n",
		       RESTORER_MAX_LEVELS);
		return -ELOOP;
	}
	ret = img_read_one(p->level_dfd[level - 1], IMG_INVENTORY, 0, (ProtobufCMessage **)&child_inv);
	if (ret)
		return ret;
	if (!child_inv->parent_dir) {
		img_free_msg(&child_inv->base);
		pr_err("%s points to pages of a previous round, but names none (no parent_dir)\n",
		       c->level[level - 1].name);
		return -EINVAL;
	}
	dfd = img_dir_open(p->level_dfd[level - 1], child_inv->parent_dir);
	if (dfd < 0) {
		errno = -dfd;
		pr_perror("Can't open the previous round's images %s", child_inv->parent_dir);
		img_free_msg(&child_inv->base);
		return dfd;
	}
	snprintf(dir, sizeof(dir), "%.70s/", child_inv->parent_dir);
	want_id = child_inv->has_parent_round_id ? child_inv->parent_round_id : 0;
	img_free_msg(&child_inv->base);
	p->level_dfd[level] = dfd;
	p->nr_levels = level + 1;
	ret = img_read_one(dfd, IMG_INVENTORY, 0, (ProtobufCMessage **)&inv);
	if (ret)
		return ret;
	if (inv->img_version != IMAGE_VERSION || strcmp(inv->kind, "pre-dump") ||
	    inv->root_pid != p->inv->root_pid)
		ret = restore_plan_bad(dir, "not a pre-dump of pid %u in this image version",
				       p->inv->root_pid);
	else if (!inv->has_round_id || inv->round_id != want_id)
		ret = restore_plan_bad(dir, "is round %016llx, but the round after it was made on "
				       "round %016llx: a skipped or foreign parent",
				       (unsigned long long)inv->round_id,
				       (unsigned long long)want_id);
	img_free_msg(&inv->base);
	if (!ret)
		ret = load_round_map(dfd, dir, p->pid, &c->level[level], false);
	return ret;
}

/* The round DIR names (relative to DFD) holds this process's pages: an
 * unreadable one counts as holding them, for open_level to report. */
static bool round_has_pid(int dfd, const char *dir, pid_t pid)
{
	int fd = openat(dfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool has;

	if (fd < 0)
		return true;
	has = img_exists(fd, IMG_PAGEMAP, pid);
	close(fd);
	return has;
}

/* The rounds behind the last one the pages reached are checked too (ids,
 * pagemaps, page checksums): a skipped or foreign round is refused
 * whatever pages it holds.  The walk stops at the first round without
 * this process (forked since). */
static int check_rest(struct chain *c)
{
	struct restore_plan *p = c->p;
	int ret = 0;

	while (!ret && p->nr_levels < RESTORER_MAX_LEVELS) {
		int dfd = p->level_dfd[p->nr_levels - 1];
		InventoryEntry *inv;
		bool more;

		ret = img_read_one(dfd, IMG_INVENTORY, 0, (ProtobufCMessage **)&inv);
		if (ret)
			return ret;
		more = inv->parent_dir && round_has_pid(dfd, inv->parent_dir, p->pid);
		img_free_msg(&inv->base);
		if (!more)
			return 0;
		ret = open_level(c, p->nr_levels);
	}
	return ret;
}

/* Index of the first entry of M that ends after ADDR. */
static size_t first_entry(const struct round_map *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const PagemapEntry *e = m->e[mid];

		if (e->vaddr + ((uint64_t)e->nr_pages << PAGE_SHIFT) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Finds the data of [a, b) in round LEVEL and further back. */
static int resolve(struct chain *c, uint32_t level, uint64_t a, uint64_t b, uint32_t vma)
{
	const struct round_map *m;
	int ret = open_level(c, level);

	if (ret)
		return ret;
	m = &c->level[level];
	for (size_t i = first_entry(m, a); i < m->nr && a < b; i++) {
		const PagemapEntry *e = m->e[i];
		uint64_t end = e->vaddr + ((uint64_t)e->nr_pages << PAGE_SHIFT);
		uint64_t to = min(b, end);

		if (e->vaddr > a)
			break;
		if (e->has_in_parent && e->in_parent)
			ret = resolve(c, level + 1, a, to, vma);
		else
			ret = add_src_run(c->p, a, (to - a) / PAGE_SIZE, vma, level,
					  m->off[i] + (a - e->vaddr));
		if (ret)
			return ret;
		a = to;
	}
	if (a < b)
		return restore_plan_bad(c->level[level - 1].name,
					"page 0x%llx is in a previous round, which lacks it",
					(unsigned long long)a);
	return 0;
}

static int place_run(struct chain *c, const PagemapEntry *r, uint64_t off, size_t *vma)
{
	struct restore_plan *p = c->p;
	uint64_t end = r->vaddr + ((uint64_t)r->nr_pages << PAGE_SHIFT);
	const VmaEntry *v;
	int idx = restore_vma_of(p->mm, r->vaddr, *vma);

	if (idx < 0 || end > p->mm->vmas[idx]->end)
		return restore_plan_bad(c->level[0].name, "run 0x%llx-0x%llx is not inside one vma",
					(unsigned long long)r->vaddr, (unsigned long long)end);
	v = p->mm->vmas[idx];
	if (v->kind != VMA_KIND__VMA_ANON_PRIVATE && v->kind != VMA_KIND__VMA_FILE_PRIVATE)
		return restore_plan_bad(c->level[0].name,
					"run 0x%llx lies in vma 0x%llx-0x%llx of kind %d, which has no dumped pages",
					(unsigned long long)r->vaddr, (unsigned long long)v->start,
					(unsigned long long)v->end, v->kind);
	*vma = idx;
	if (in_task(r))
		return add_cow_run(p, r->vaddr, r->nr_pages, idx);
	if (r->has_in_parent && r->in_parent)
		return resolve(c, 1, r->vaddr, end, idx);
	return add_src_run(p, r->vaddr, r->nr_pages, idx, 0, off);
}

static void free_round_map(struct round_map *m)
{
	for (size_t i = 0; i < m->nr; i++)
		img_free_msg(&m->e[i]->base);
	free(m->e);
	free(m->off);
	memset(m, 0, sizeof(*m));
}

int restore_read_pages(int dfd, struct restore_plan *p)
{
	struct chain *c = calloc(1, sizeof(*c));
	size_t vma = 0;
	int ret;

	if (!c)
		return -ENOMEM;
	c->p = p;
	p->level_dfd[0] = dfd;
	p->nr_levels = 1;
	ret = load_round_map(dfd, "", p->pid, &c->level[0], true);
	for (size_t i = 0; !ret && i < c->level[0].nr; i++)
		ret = place_run(c, c->level[0].e[i], c->level[0].off[i], &vma);
	if (!ret)
		ret = check_rest(c);
	for (uint32_t l = 0; l < RESTORER_MAX_LEVELS; l++)
		free_round_map(&c->level[l]);
	free(c);
	if (!ret && p->nr_levels > 1)
		pr_info("Pages of pid %d come from %u rounds\n", p->pid, p->nr_levels);
	return ret;
}

int restore_check_round(int dfd, const InventoryEntry *inv, pid_t pid)
{
	struct restore_plan p = { .pid = pid, .inv = inv };
	struct chain *c = calloc(1, sizeof(*c));
	bool filled = false;
	int ret;

	if (!c)
		return -ENOMEM;
	c->p = &p;
	p.vma_filled = &filled;
	p.level_dfd[0] = dfd;
	p.nr_levels = 1;
	ret = load_round_map(dfd, "", pid, &c->level[0], false);
	for (size_t i = 0; !ret && i < c->level[0].nr; i++) {
		const PagemapEntry *e = c->level[0].e[i];

		if (e->has_in_parent && e->in_parent)
			ret = resolve(c, 1, e->vaddr,
				      e->vaddr + ((uint64_t)e->nr_pages << PAGE_SHIFT), 0);
	}
	for (uint32_t l = 0; l < RESTORER_MAX_LEVELS; l++)
		free_round_map(&c->level[l]);
	free(c);
	restore_free_chain(&p);
	return ret;
}

void restore_free_chain(struct restore_plan *p)
{
	for (uint32_t l = 1; l < p->nr_levels; l++)
		close(p->level_dfd[l]);
	p->nr_levels = 0;
	free(p->runs);
	p->runs = NULL;
	p->nr_runs = p->cap_runs = 0;
	free(p->cow_runs);
	p->cow_runs = NULL;
	p->nr_cow_runs = p->cap_cow_runs = 0;
}
