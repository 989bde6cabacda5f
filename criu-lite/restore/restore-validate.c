/* Owns the validation of a whole set of images, everything a restore
 * checks that depends on the images alone: every image read and checked
 * (restore-images.c, restore-chain.c, each fd type's validate through
 * files-plan.c, sysvipc.img, cgroup.img), then the tree's sessions, terminals and
 * shared files planned.  A restore starts with it; a dump runs it on its
 * own images before it kills or releases the tree (restore_self_check),
 * so that images restore would refuse are a refused dump while the tree
 * still runs.  The checks of this machine (pids free, files unchanged,
 * vDSO, CPU: restore-check.c) and of restore's options (--inherit-fd,
 * --shell-job) are not here.  Starts nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "namespaces.h"
#include "netns.h"
#include "image.h"
#include "log.h"
#include "mem-cow.h"
#include "restore.h"
#include "shmem.h"
#include "sysvipc.h"
#include "tty.h"

static int read_plans(struct restore_tree *t, struct lmproc_opts *opts, int dfd)
{
	int ret = restore_read_tree(dfd, t);

	if (ret)
		return ret;
	t->pidns = opts->pidns;
	t->file_valid = opts->file_valid;
	t->ctx = calloc(t->nr, sizeof(*t->ctx));
	if (!t->ctx)
		return -ENOMEM;
	for (size_t i = 0; i < t->nr; i++) {
		struct restore_ctx *c = &t->ctx[i];

		c->opts = opts;
		c->dfd = dfd;
		c->tree = t;
		c->idx = i;
		c->svc_fds[0] = c->svc_fds[1] = c->files_data_fd = c->tty_fd = -1;
		c->pidfd = -1;
		for (uint32_t l = 0; l < RESTORER_MAX_LEVELS; l++)
			c->pages_fds[l] = -1;
		for (int k = 0; k < MAX_INHERIT_FDS; k++)
			c->inherit_fd[k] = -1;
	}
	for (size_t i = 0; i < t->nr; i++) {
		if (t->entries[i]->has_exit_status)
			continue;
		ret = restore_read_plan(dfd, t, i, &t->ctx[i].plan);
		if (ret)
			return ret;
	}
	return 0;
}

int restore_plan_images(struct restore_tree *t, struct lmproc_opts *opts, int dfd)
{
	int ret = read_plans(t, opts, dfd);

	if (!ret)
		ret = restore_plan_pidfds(t);
	if (!ret)
		ret = restore_plan_cow(t);
	if (!ret)
		ret = restore_read_cgroups(dfd, t);
	if (!ret)
		ret = restore_read_netns(dfd, t);
	if (!ret)
		ret = restore_read_ns(dfd, t);
	if (!ret)
		ret = restore_plan_sessions(t);
	if (!ret)
		ret = restore_plan_ctty(t);
	if (!ret)
		ret = restore_plan_fowns(t);
	return ret;
}

void restore_free_images(struct restore_tree *t)
{
	for (size_t i = 0; t->ctx && i < t->nr; i++)
		if (t->ctx[i].plan.pid)
			restore_free_plan(&t->ctx[i].plan);
	free(t->ctx);
	restore_free_sysvipc(t);
	restore_free_netns(t);
	restore_free_ns(t);
	restore_free_tree(t);
}

static int check_dump(int dfd)
{
	struct lmproc_opts opts = {};
	struct restore_tree t = {};
	int ret = restore_plan_images(&t, &opts, dfd);

	if (!ret)
		ret = restore_plan_shared_objects(&t);
	if (!ret)
		ret = restore_read_sysvipc(dfd, &t);
	restore_free_images(&t);
	return ret;
}

/* A process that exited during a pre-dump left its images out. */
static bool has_pages(int dfd, pid_t pid)
{
	char name[64];

	snprintf(name, sizeof(name), image_descs[IMG_PAGEMAP].name_fmt, pid);
	return !faccessat(dfd, name, F_OK, 0);
}

/* A pre-dump round: its inventory, and each process's pages as the
 * restore of a later dump reads them. */
static int check_round(int dfd)
{
	InventoryEntry *inv;
	struct cr_img *img;
	PstreeEntry *e;
	int ret;

	ret = img_read_one(dfd, IMG_INVENTORY, 0, (ProtobufCMessage **)&inv);
	if (ret)
		return ret;
	if (inv->img_version != IMAGE_VERSION || strcmp(inv->kind, "pre-dump")) {
		img_free_msg(&inv->base);
		return restore_plan_bad("inventory.img", "not a pre-dump of this image version");
	}
	img = img_open_read(dfd, IMG_PSTREE, 0, false);
	if (!img) {
		img_free_msg(&inv->base);
		return -EINVAL;
	}
	while ((ret = img_read_msg(img, (ProtobufCMessage **)&e)) > 0) {
		if (!e->has_exit_status && has_pages(dfd, e->pid))
			ret = restore_check_round(dfd, inv, e->pid);
		img_free_msg(&e->base);
		if (ret)
			break;
	}
	img_close(img);
	if (ret >= 0)
		ret = shmem_round_check(dfd, inv->root_pid);
	img_free_msg(&inv->base);
	return ret < 0 ? ret : 0;
}

static int check(int dfd, bool pre_dump, bool footers, char *why, size_t len)
{
	int ret;

	log_capture_start(why, len);
	img_raw_verify_footer_only(footers);
	ret = pre_dump ? check_round(dfd) : check_dump(dfd);
	img_raw_verify_footer_only(false);
	log_capture_end();
	if (ret && !why[0])
		snprintf(why, len, "%s", strerror(-ret));
	return ret;
}

int restore_self_check(int dfd, bool pre_dump, char *why, size_t len)
{
	return check(dfd, pre_dump, true, why, len);
}

int restore_dry_run_round(int dfd, bool pages, char *why, size_t len)
{
	return check(dfd, true, !pages, why, len);
}

int restore_check_dir(int dfd, char *why, size_t len)
{
	return check(dfd, false, false, why, len);
}
