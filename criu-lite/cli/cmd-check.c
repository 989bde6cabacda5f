/* lmproc check [--feature NAME] [--json]: prints what kerndat_probe()
 * found, one aligned line per feature (name, yes/no, value or reason), or
 * one JSON object with the same as fields.  Owns only the presentation;
 * every probe lives in kerndat.c.
 * Exit: 0 when all that dump and restore need is there (or NAME is),
 * 1 otherwise. */
#include <errno.h>
#include <stdio.h>

#include "common.h"
#include "json.h"
#include "kerndat.h"
#include "log.h"
#include "opts.h"

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

int cmd_check(struct lmproc_opts *opts)
{
	uint64_t start = now_us();
	struct kerndat kd;

	if (opts->argc) {
		pr_err("check: unexpected argument '%s' (options go before the command)\n",
		       opts->argv[0]);
		return -EINVAL;
	}
	kerndat_probe(&kd);
	pr_info("Probes took %llu us\n", (unsigned long long)(now_us() - start));
	if (opts->feature)
		return check_one(&kd, opts->feature, opts->json_report);
	return check_all(&kd, opts->json_report);
}
