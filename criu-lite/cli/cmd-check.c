/* lmproc check [--feature NAME] [--json]: prints what kerndat_probe()
 * found, one aligned line per feature (name, yes/no, value or reason), or
 * one JSON object with the same as fields.
 * lmproc check -D DIR [--json]: can this host restore the images in DIR?
 * One line (or JSON element) per check, "ok" or "FAIL" and the reason, each made by restore's own
 * code (the images' validation, the CPU, this machine's checks) without
 * restoring anything.  Owns only the order and the presentation; every
 * probe lives in kerndat.c, every check in restore/, net/ and cpu.c.
 * Exit: 0 when all that dump and restore need is there (or NAME is, or
 * DIR can be restored), 1 otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "common.h"
#include "cpu.h"
#include "image.h"
#include "json.h"
#include "kerndat.h"
#include "log.h"
#include "namespaces.h"
#include "netns.h"
#include "opts.h"
#include "restore.h"
#include "sk-tcp.h"

static void print_feature(const struct kerndat *kd, enum kd_feature f)
{
	printf("%-23s %-3s  %s%s\n", kerndat_feature_name(f), kd->feat[f].ok ? "yes" : "no",
	       kd->feat[f].why, !kd->feat[f].ok && kerndat_required(f) ? " [required]" : "");
}

static void feature_json(const struct kerndat *kd, enum kd_feature f, bool first)
{
	printf("%s{\"name\": \"%s\", \"ok\": %s, \"required\": %s, \"detail\": ", first ? "" : ", ",
	       kerndat_feature_name(f), kd->feat[f].ok ? "true" : "false",
	       kerndat_required(f) ? "true" : "false");
	json_str(stdout, kd->feat[f].why);
	printf("}");
}

/* --json: {"command": "check", "result": "ok"|"missing"|"failed",
 * "missing": N, "features": [...]}; FEATURE, if not negative, alone. */
static void check_json(const struct kerndat *kd, int feature, int missing)
{
	printf("{\"command\": \"check\", \"result\": \"%s\", \"missing\": %d, \"features\": [",
	       missing ? "missing" : "ok", missing);
	for (int f = 0; f < KD_NR_FEATURES; f++)
		if (feature < 0 || f == feature)
			feature_json(kd, f, feature >= 0 || !f);
	printf("]}\n");
	fflush(stdout);
}

static int check_one(const struct kerndat *kd, const char *name, bool json)
{
	int f = kerndat_feature_by_name(name);

	if (f < 0) {
		pr_err("Unknown feature '%s' ('lmproc check' lists them all)\n", name);
		if (json) {
			printf("{\"command\": \"check\", \"result\": \"failed\", \"reason\": ");
			json_str(stdout, log_first_error());
			printf("}\n");
		}
		return -EINVAL;
	}
	if (json)
		check_json(kd, f, !kd->feat[f].ok);
	else
		print_feature(kd, f);
	return kd->feat[f].ok ? 0 : 1;
}

static int check_all(const struct kerndat *kd, bool json)
{
	int missing = 0;

	for (int f = 0; f < KD_NR_FEATURES; f++) {
		if (!json)
			print_feature(kd, f);
		if (kerndat_required(f) && !kd->feat[f].ok)
			missing++;
	}
	if (json) {
		check_json(kd, -1, missing);
		return missing ? 1 : 0;
	}
	if (missing) {
		printf("%d feature%s that dump and restore need %s missing\n", missing,
		       missing > 1 ? "s" : "", missing > 1 ? "are" : "is");
		return 1;
	}
	printf("Everything dump and restore need is there\n");
	return 0;
}

/* check -D --json: the checks go as elements of "checks". */
static bool dir_json;
static int dir_checks;

/* One line of check -D: the check's name, ok or FAIL, what it found. */
static int report(const char *name, int ret, const char *what)
{
	if (!dir_json) {
		printf("%-10s %-4s  %s\n", name, ret ? "FAIL" : "ok", what);
		return ret ? 1 : 0;
	}
	printf("%s{\"name\": \"%s\", \"ok\": %s, \"detail\": ", dir_checks++ ? ", " : "", name,
	       ret ? "false" : "true");
	json_str(stdout, what);
	printf("}");
	return ret ? 1 : 0;
}

static int check_cpu(int dfd, const struct lmproc_opts *opts)
{
	InventoryEntry *inv;
	char why[512] = "";
	int ret;

	log_capture_start(why, sizeof(why));
	ret = img_read_one(dfd, IMG_INVENTORY, 0, (ProtobufCMessage **)&inv);
	if (!ret) {
		ret = cpu_check(inv->cpu, inv->root_pid, opts->cpu_cap, why, sizeof(why));
		img_free_msg(&inv->base);
	}
	log_capture_end();
	return report("cpu", ret, why);
}

/* The one of T's connections restored by TCP repair, if any: "pid N". */
static bool tcp_repair_needed(const struct restore_tree *t, char *who, size_t len)
{
	for (size_t i = 0; i < t->nr; i++)
		if (t->ctx[i].plan.pid && inet_has_connections(&t->ctx[i].plan)) {
			snprintf(who, len, "TCP repair of the connections of pid %d",
				 t->ctx[i].plan.pid);
			return true;
		}
	return false;
}

/* What dump and restore cannot work without, and what these images or
 * OPTS need: CAP_NET_ADMIN for TCP repair, CAP_SYS_ADMIN for --pidns.
 * The rest of what a restore of them uses is each later check's. */
static int check_kernel(const struct restore_tree *t, const struct lmproc_opts *opts)
{
	char why[512], who[64];
	int missing;

	missing = restore_check_kernel(opts->pidns,
				       tcp_repair_needed(t, who, sizeof(who)) ? who : NULL, why,
				       sizeof(why));
	return report("kernel", missing, why);
}

/* CHECK on every live process of T, captured into WHY. */
static int each_plan(struct restore_tree *t, int (*check)(struct restore_plan *p), char *why,
		     size_t len)
{
	int ret = 0;

	log_capture_start(why, len);
	for (size_t i = 0; i < t->nr && !ret; i++)
		if (t->ctx[i].plan.pid)
			ret = check(&t->ctx[i].plan);
	log_capture_end();
	return ret;
}

static int paths(struct restore_plan *p)
{
	return restore_check_paths(p);
}

static int ports(struct restore_plan *p)
{
	return inet_check_ports(p);
}

static int pids_free(const struct restore_tree *t, const struct lmproc_opts *opts)
{
	cleanup_free pid_t *pids = calloc(t->nr + 1, sizeof(*pids));
	char why[512];
	int ret;

	if (!pids)
		return report("pids", -ENOMEM, "out of memory");
	for (size_t i = 0; i < t->nr; i++)
		pids[i] = t->entries[i]->pid;
	ret = restore_check_pids(pids, t->nr, opts->pidns, why, sizeof(why));
	return report("pids", ret, why);
}

static int namespaces(const struct restore_tree *t, const struct lmproc_opts *opts)
{
	char why[512] = "";
	int ret;

	log_capture_start(why, sizeof(why));
	ret = restore_check_cgroups((struct restore_tree *)t);
	if (!ret)
		ret = restore_check_netns(t, opts);
	if (!ret)
		ret = restore_check_ns(t, opts);
	log_capture_end();
	return report("namespaces", ret, ret ? why : "the tree's cgroups and namespaces can be had");
}

/* The checks of this machine against the images' tree, read again (the
 * raw images' data was verified whole by the images line: their footers
 * now). */
static int check_host(int dfd, struct lmproc_opts *opts)
{
	struct restore_tree t = {};
	char why[512] = "";
	int failed = 0, ret;

	log_capture_start(why, sizeof(why));
	img_raw_verify_footer_only(true);
	ret = restore_plan_images(&t, opts, dfd);
	img_raw_verify_footer_only(false);
	log_capture_end();
	if (ret) {
		restore_free_images(&t);
		return report("images", ret, why);
	}
	failed += check_kernel(&t, opts);
	ret = each_plan(&t, restore_check_layout, why, sizeof(why));
	failed += report("layout", ret, ret ? why : "vDSO and xsave area as dumped");
	ret = each_plan(&t, paths, why, sizeof(why));
	failed += report("files", ret, ret ? why : "every file mapped or opened is there as dumped "
			 "(another inode by --file-validation), cwd and root too; the fds fit "
			 "RLIMIT_NOFILE");
	if (t.netns) {
		failed += report("ports", 0, "the tree's own network namespace: its addresses are "
				 "its own");
	} else {
		ret = each_plan(&t, ports, why, sizeof(why));
		failed += report("ports", ret, ret ? why : "every address an IP socket is bound "
				 "to can be bound here");
	}
	failed += pids_free(&t, opts);
	failed += namespaces(&t, opts);
	restore_free_images(&t);
	return failed;
}

static int check_dir(struct lmproc_opts *opts)
{
	int dfd = img_dir_open(AT_FDCWD, opts->images_dir), failed, ret;
	char why[512] = "";

	dir_json = opts->json_report;
	if (dfd < 0) {
		errno = -dfd;
		pr_perror("Can't open images directory %s", opts->images_dir);
		if (dir_json) {
			printf("{\"command\": \"check\", \"result\": \"failed\", \"reason\": ");
			json_str(stdout, log_first_error());
			printf("}\n");
		}
		return dfd;
	}
	if (dir_json) {
		printf("{\"command\": \"check\", \"images_dir\": ");
		json_str(stdout, opts->images_dir);
		printf(", \"checks\": [");
	}
	ret = restore_check_dir(dfd, why, sizeof(why));
	failed = report("images", ret, ret ? why : "every image valid, checksums verified");
	if (!failed) {
		failed += check_cpu(dfd, opts);
		failed += check_host(dfd, opts);
	}
	close(dfd);
	if (dir_json)
		printf("], \"result\": \"%s\"}\n", failed ? "refused" : "ok");
	else
		printf("%s\n", failed ? "This host can't restore these images"
				      : "This host can restore these images");
	return failed ? 1 : 0;
}

int cmd_check(struct lmproc_opts *opts)
{
	uint64_t start = now_us();
	struct kerndat kd;

	if (opts->argc) {
		pr_err("check: unexpected argument '%s' (options go before the command)\n",
		       opts->argv[0]);
		return -EINVAL;
	}
	if (opts->images_dir)
		return check_dir(opts);
	kerndat_probe(&kd);
	pr_info("Probes took %llu us\n", (unsigned long long)(now_us() - start));
	if (opts->feature)
		return check_one(&kd, opts->feature, opts->json_report);
	return check_all(&kd, opts->json_report);
}
