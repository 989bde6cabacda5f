/* Owns the link between dump rounds: the parent's images as the base, the
 * tracker's state as the proof that nothing written since was missed.
 * When the proof is missing (keeper gone, token mismatch) the round copies
 * everything: never a silent loss (docs/dirty-tracking.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common.h"
#include "image.h"
#include "log.h"
#include "track-keeper.h"
#include "track-round.h"

#include "inventory.pb-c.h"
#include "pagemap.pb-c.h"
#include "pstree.h"

/* Deep enough for any sane migration, small enough to stop a loop. */
#define MAX_CHAIN 64

static int open_parent(int dfd, const char *rel)
{
	int pfd = img_dir_open(dfd, rel);

	if (pfd < 0) {
		errno = -pfd;
		pr_perror("Can't open the previous images directory %s", rel);
	}
	return pfd;
}

/* Checks one link of the chain; returns its inventory. */
static int check_link(int pfd, const char *name, pid_t pid, InventoryEntry **out)
{
	InventoryEntry *inv;
	int ret;

	if (faccessat(pfd, "inventory.img", F_OK, AT_SYMLINK_NOFOLLOW)) {
		pr_err("%s holds no complete pre-dump (no inventory.img)\n", name);
		return -ENOENT;
	}
	ret = img_read_one(pfd, IMG_INVENTORY, 0, (ProtobufCMessage **)&inv);
	if (ret)
		return ret;
	if (inv->img_version != IMAGE_VERSION) {
		pr_err("%s has image version %u, this lmproc reads %u\n", name, inv->img_version,
		       IMAGE_VERSION);
		ret = -EINVAL;
	} else if (strcmp(inv->kind, "pre-dump")) {
		pr_err("%s is a %s, not a pre-dump; only pre-dumps can be a previous round\n",
		       name, inv->kind);
		ret = -EINVAL;
	} else if ((pid_t)inv->root_pid != pid) {
		pr_err("%s holds images of pid %u, not of pid %d\n", name, inv->root_pid, pid);
		ret = -EINVAL;
	}
	if (ret) {
		img_free_msg(&inv->base);
		return ret;
	}
	*out = inv;
	return 0;
}

/* Every link back to the first round must be there: restore will need
 * all of them. */
static int check_chain(int pfd, const char *name, pid_t pid, InventoryEntry **first)
{
	InventoryEntry *inv;
	int fd = dup(pfd), depth, ret;
	char path[PATH_MAX];

	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s", name);
	for (depth = 0; depth < MAX_CHAIN; depth++) {
		ret = check_link(fd, path, pid, &inv);
		if (ret)
			break;
		if (depth == 0)
			*first = inv;
		if (!inv->parent_dir) {
			if (depth)
				img_free_msg(&inv->base);
			break;
		}
		int next = img_dir_open(fd, inv->parent_dir);
		size_t len = strlen(path);

		snprintf(path + len, sizeof(path) - len, "/%s", inv->parent_dir);
		if (next < 0) {
			pr_err("The chain of rounds behind %s has a hole: %s: %s\n", name, path,
			       strerror(-next));
			ret = -ENOENT;
		}
		if (depth)
			img_free_msg(&inv->base);
		close(fd);
		fd = next;
		if (ret)
			return ret;
	}
	if (fd >= 0)
		close(fd);
	if (!ret && depth == MAX_CHAIN) {
		pr_err("The chain of rounds behind %s is longer than %d\n", name, MAX_CHAIN);
		ret = -ELOOP;
	}
	if (ret && depth)
		img_free_msg(&(*first)->base);
	return ret;
}

static int load_parent_pages(int pfd, pid_t pid, struct range_set *set)
{
	struct cr_img *img = img_open_read(pfd, IMG_PAGEMAP, pid, false);
	PagemapEntry *pe;
	int ret;

	if (!img)
		return -EINVAL;
	while ((ret = img_read_msg(img, (ProtobufCMessage **)&pe)) > 0) {
		uint64_t end = pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SIZE;

		if (!PAGE_ALIGNED(pe->vaddr) || !pe->nr_pages || end > TASK_SIZE ||
		    (set->nr && set->r[set->nr - 1].end > pe->vaddr)) {
			pr_err("Previous round's %s is invalid at 0x%lx\n", img->path,
			       (unsigned long)pe->vaddr);
			ret = -EINVAL;
		} else {
			ret = range_set_add(set, pe->vaddr, end);
		}
		img_free_msg(&pe->base);
		if (ret)
			break;
	}
	img_close(img);
	return ret;
}

/* Reads the parent round; with --track auto the chain keeps the backend
 * it was started with. */
static int load_parent(struct track_round *r, int dfd, enum track_backend want)
{
	InventoryEntry *inv = NULL;
	int pfd, ret;

	pfd = open_parent(dfd, r->parent_dir);
	if (pfd < 0)
		return pfd;
	ret = check_chain(pfd, r->parent_dir, pstree_vpid(r->root_pid), &inv);
	if (ret)
		goto out;
	r->parent_round_id = inv->round_id;
	if (want == TRACK_AUTO && inv->track_backend)
		track_backend_by_name(inv->track_backend, &want);
	ret = track_pick_backend(want, &r->backend);
	if (!ret) {
		r->parent_token = inv->has_track_token ? inv->track_token : 0;
		if (!inv->track_backend ||
		    strcmp(inv->track_backend, track_backend_name(r->backend)))
			r->parent_token = 0;
	}
	if (!ret && !img_exists(pfd, IMG_MM, pstree_vpid(r->pid))) {
		/* Forked since that round: this one copies all of it. */
		pr_debug("pid %d is not in %s: a full round\n", r->pid, r->parent_dir);
		r->parent_dir = NULL;
		img_free_msg(&inv->base);
		goto out;
	}
	if (!ret) {
		ret = img_read_one(pfd, IMG_MM, pstree_vpid(r->pid),
				   (ProtobufCMessage **)&r->parent_mm);
	}
	img_free_msg(&inv->base);
	if (!ret)
		ret = load_parent_pages(pfd, pstree_vpid(r->pid), &r->parent_pages);
out:
	close(pfd);
	return ret;
}

int track_round_prepare(struct track_round *r, const struct lmproc_opts *opts, pid_t pid,
			int dfd, bool pre_dump)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->pid = pid;
	r->root_pid = opts->pid;
	r->pre_dump = pre_dump;
	r->parent_dir = opts->prev_images_dir;
	r->keeper_owner = opts->keeper_owner;
	for (int i = 0; i < TRACK_MAX_FDS; i++)
		r->tracker.fds[i] = -1;
	if (getrandom(&r->token, sizeof(r->token), 0) != sizeof(r->token))
		r->token = now_ns() ^ ((uint64_t)getpid() << 32);
	if (r->parent_dir) {
		ret = load_parent(r, dfd, opts->track);
		if (ret)
			return ret;
	} else if (pre_dump) {
		ret = track_pick_backend(opts->track, &r->backend);
		if (ret)
			return ret;
	}
	return 0;
}

static const MappedFileEntry *vma_file(const MmEntry *mm, const VmaEntry *v)
{
	return v->has_file && v->file < mm->n_files ? mm->files[v->file] : NULL;
}

/* A VMA whose placement, protection or backing changed since the parent
 * round is copied whole (docs/dirty-tracking.md). */
static bool vma_unchanged(const struct track_round *r, const struct vma *v,
			  const struct vm_area_list *vl)
{
	const MmEntry *mm = r->parent_mm;

	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *p = mm->vmas[i];
		const MappedFileEntry *pf;
		const struct mapped_file *f;

		if (p->start != v->start || p->end != v->end)
			continue;
		if ((VmaKind)p->kind != v->kind || p->prot != v->prot || p->flags != v->flags)
			return false;
		if (v->file < 0)
			return !p->has_file;
		pf = vma_file(mm, p);
		f = &vl->files[v->file];
		return pf && p->pgoff == v->pgoff && pf->dev == f->dev && pf->ino == f->ino &&
		       !strcmp(pf->path, f->path);
	}
	return false;
}

/* Takes the tracker back from the keeper if it still belongs to the
 * parent round; otherwise the round copies everything. */
static int reclaim_tracker(struct track_round *r)
{
	struct keeper_state ks;
	int ret = keeper_fetch(r->pid, r->token, &ks);

	if (ret == -ENOENT) {
		pr_warn("pid %d: no dirty tracking survives from %s (keeper gone); this round copies all memory\n",
			r->pid, r->parent_dir);
		return 0;
	}
	if (ret)
		return ret;
	if (!r->parent_token || ks.token != r->parent_token ||
	    strcmp(ks.backend, track_backend_name(r->backend))) {
		pr_warn("pid %d: dirty tracking continued past %s (another round since?); this round copies all memory\n",
			r->pid, r->parent_dir);
		for (int i = 0; i < ks.nr_fds; i++)
			close(ks.fds[i]);
		keeper_stop(r->pid);
		return 0;
	}
	memcpy(r->tracker.fds, ks.fds, sizeof(int) * ks.nr_fds);
	r->tracker.nr_fds = ks.nr_fds;
	if (r->tracker.ops->resume) {
		ret = r->tracker.ops->resume(&r->tracker);
		if (ret)
			return ret;
	}
	r->have_tracker = true;
	r->incremental = true;
	return 0;
}

static int collect_incremental(struct track_round *r, struct parasite_ctl *ctl,
			       const struct vm_area_list *vl)
{
	const struct dirty_tracker_ops *ops = r->tracker.ops;
	struct vm_area_list changed = *vl;
	int ret = 0;

	changed.vmas = calloc(vl->nr + 1, sizeof(*changed.vmas));
	if (!changed.vmas)
		return -ENOMEM;
	changed.nr = 0;
	for (size_t i = 0; i < vl->nr && !ret; i++) {
		const struct vma *v = &vl->vmas[i];

		if (!vma_has_dumpable_pages(v))
			continue;
		if (!ops->trackable(v) || !vma_unchanged(r, v, vl)) {
			r->whole[i] = true;
			if (ops->trackable(v))
				changed.vmas[changed.nr++] = *v;
			continue;
		}
		ret = ops->collect(&r->tracker, v, &r->dirty);
		if (ret == -EPERM) {
			r->whole[i] = true;
			ret = 0;
		}
	}
	if (!ret && changed.nr)
		ret = ops->extend(&r->tracker, ctl, &changed);
	if (!ret && ops->finish)
		ret = ops->finish(&r->tracker);
	free(changed.vmas);
	return ret;
}

int track_round_collect(struct track_round *r, struct parasite_ctl *ctl,
			const struct vm_area_list *vl)
{
	uint64_t t = now_us();
	int ret;

	r->whole = calloc(vl->nr + 1, sizeof(*r->whole));
	if (!r->whole)
		return -ENOMEM;
	for (size_t i = 0; i < vl->nr; i++)
		r->whole[i] = true;
	r->plan.whole = r->whole;
	r->plan.dirty = &r->dirty;
	r->plan.parent = &r->parent_pages;
	r->plan.running = r->pre_dump;
	if (!r->pre_dump && !r->parent_dir)
		return 0;
	r->tracker.ops = track_backend_ops(r->backend);
	r->tracker.pid = r->pid;
	r->tracker.last_round = !r->pre_dump;
	if (!r->tracker.ops) {
		pr_err("Dirty tracker %s is not built into this lmproc\n",
		       track_backend_name(r->backend));
		return -EOPNOTSUPP;
	}
	if (r->parent_dir) {
		ret = reclaim_tracker(r);
		if (ret)
			return ret;
	}
	if (r->incremental) {
		for (size_t i = 0; i < vl->nr; i++)
			r->whole[i] = false;
		ret = collect_incremental(r, ctl, vl);
	} else if (r->pre_dump) {
		/* A final dump without the chain's state needs no tracking.
		 * A chain begun anew supersedes the tracking of an earlier
		 * one, whose userfaultfd still holds the VMAs: a second
		 * registration would get EBUSY. */
		ret = keeper_stop(r->pid);
		if (!ret)
			ret = r->tracker.ops->arm(&r->tracker, ctl, vl);
		r->have_tracker = !ret;
		r->rearmed = !ret;
	} else {
		ret = 0;
	}
	r->collect_us = now_us() - t;
	pr_debug("pid %d: tracker %s: %s round, %lu dirty pages in %lu us\n", r->pid,
		 track_backend_name(r->backend), r->incremental ? "incremental" : "full",
		 (unsigned long)r->tracker.pages_dirty, (unsigned long)r->collect_us);
	return ret;
}

int track_round_commit(struct track_round *r)
{
	struct keeper_state ks = { .token = r->token, .owner = r->keeper_owner };

	if (!r->pre_dump) {
		if (r->parent_dir)
			keeper_stop(r->pid);
		return 0;
	}
	if (!r->rearmed)
		return 0;	/* the keeper took this round's token at fetch */
	snprintf(ks.backend, sizeof(ks.backend), "%s", track_backend_name(r->backend));
	memcpy(ks.fds, r->tracker.fds, sizeof(int) * r->tracker.nr_fds);
	ks.nr_fds = r->tracker.nr_fds;
	return keeper_start(r->pid, &ks);
}

void track_round_abort(struct track_round *r)
{
	if (r->pre_dump || r->parent_dir)
		keeper_stop(r->pid);
}

void track_round_free(struct track_round *r)
{
	if (r->tracker.ops && r->tracker.ops->release)
		r->tracker.ops->release(&r->tracker);
	for (int i = 0; i < r->tracker.nr_fds; i++)
		if (r->tracker.fds[i] >= 0)
			close(r->tracker.fds[i]);
	r->tracker.nr_fds = 0;
	if (r->parent_mm)
		img_free_msg(&r->parent_mm->base);
	range_set_free(&r->parent_pages);
	range_set_free(&r->dirty);
	free(r->whole);
	memset(r, 0, sizeof(*r));
}
