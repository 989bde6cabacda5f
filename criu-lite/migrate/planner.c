/* migrate's pre-copy planner: from each round's measurements (the bytes
 * it sent and how long the destination took to store them: the link's
 * throughput; the eBPF tracker's dirty rate, or the pages it copied over
 * the time since the previous round's freeze) predicts the final step's
 * downtime, decides whether to freeze for the final dump now or run
 * another round, and how long to wait before it so that the tracking's
 * write-protect faults cost the tree little.  docs/migration.md
 * "Pre-copy" says why each figure is what it is. */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "log.h"
#include "migrate.h"

#define MIB (1024.0 * 1024.0)
/* Tracking may take this share of the tree's time (the budget). */
#define TRACK_BUDGET_PCT 10.0
/* The longest pause between two rounds, whatever the tracking costs. */
#define MAX_WAIT_US (10 * 1000000ull)

/* The rate the prediction uses: the eBPF tracker's, over the last
 * second before the freeze (how fast the next round's set grows now),
 * else the round's average. */
static double rate_mib_s(const struct mig_round *r)
{
	return r->ebpf_mib_s >= 0 ? r->ebpf_mib_s : r->dirty_mib_s;
}

/* The link as the best round saw it: a small round's send time is mostly
 * the round trip, not the link. */
static double link_mib_s(const struct mig_plan *plan)
{
	double best = 0;

	for (unsigned int i = 0; i < plan->nr; i++)
		best = max(best, plan->hist[i].mib_s);
	return best;
}

/* The copy of a MiB of pages, from the round's own (a round of a few
 * pages times mostly its overheads: at least 1 MiB). */
static void note_copy(struct mig_plan *plan, const struct mig_round *r)
{
	double mib = r->dirty_bytes / 1048576.0, ms;

	if (mib < 1 || !r->copy_us)
		return;
	ms = r->copy_us / 1000.0 / mib;
	if (!plan->copy_ms_per_mib || ms < plan->copy_ms_per_mib)
		plan->copy_ms_per_mib = ms;
}

/* Pages dirtied since the last freeze, copied out of the tree, sent over
 * the link and filled in at the destination, plus the fixed cost: what
 * the final step would take if it froze now. */
static double predict_ms(struct mig_plan *plan, const struct mig_round *r)
{
	double since_s = (now_us() - r->t_start) / 1e6, link = link_mib_s(plan);

	plan->fixed_us = plan->nonmem_us + plan->dry_run_us + plan->fork_us + 2 * plan->rtt_us;
	note_copy(plan, r);
	if (rate_mib_s(r) < 0 || link <= 0)
		return -1;
	return rate_mib_s(r) * since_s * (1000.0 / link + 2 * plan->copy_ms_per_mib) +
	       plan->fixed_us / 1000.0;
}

double mig_plan_predicted(const struct mig_plan *plan)
{
	return plan->nr ? plan->hist[plan->nr - 1].predicted_ms : -1;
}

void mig_plan_json(const struct mig_plan *plan, char *buf, size_t len)
{
	char pred[32] = "null";

	if (mig_plan_predicted(plan) >= 0)
		snprintf(pred, sizeof(pred), "%.1f", mig_plan_predicted(plan));
	snprintf(buf, len,
		 ", \"predicted_frozen_ms\": %s, \"fixed_ms\": %.1f, \"nonmem_ms\": %.1f, "
		 "\"dry_run_ms\": %.3f, \"fork_ms\": %.3f, \"rtt_ms\": %.3f",
		 pred, plan->fixed_us / 1000.0, plan->nonmem_us / 1000.0, plan->dry_run_us / 1000.0,
		 plan->fork_us / 1000.0, plan->rtt_us / 1000.0);
}

/* A figure, or null when it is not known (< 0). */
static const char *json_num(char *buf, size_t len, double v)
{
	if (v < 0)
		return "null";
	snprintf(buf, len, "%.1f", v);
	return buf;
}

void mig_round_json(const struct mig_round *r, char *buf, size_t len)
{
	char dirty[32], ebpf[32], pred[32], cost[32];

	snprintf(buf, len,
		 "{\"round\": %u, \"bytes\": %llu, \"dirty_bytes\": %llu, \"ms\": %.1f, "
		 "\"send_ms\": %.1f, \"mib_s\": %.1f, \"dirty_mib_s\": %s, "
		 "\"ebpf_dirty_mib_s\": %s, \"predicted_ms\": %s, \"throttle_pct\": %d, "
		 "\"write_faults\": %llu, \"track_cost_pct\": %s, \"wait_ms\": %.1f}",
		 r->k, (unsigned long long)r->bytes, (unsigned long long)r->dirty_bytes,
		 r->us / 1000.0, r->send_us / 1000.0, r->mib_s,
		 json_num(dirty, sizeof(dirty), r->dirty_mib_s),
		 json_num(ebpf, sizeof(ebpf), r->ebpf_mib_s),
		 json_num(pred, sizeof(pred), r->predicted_ms), r->throttle_pct,
		 (unsigned long long)r->wp_faults, json_num(cost, sizeof(cost), r->track_pct),
		 r->wait_us / 1000.0);
}

static void print_round(const struct mig_plan *plan, const struct mig_round *r)
{
	char buf[512];

	if (plan->opts->json) {
		mig_round_json(r, buf, sizeof(buf));
		printf("%s\n", buf);
	} else if (r->dirty_mib_s < 0) {
		printf("round %u: %.1f MiB sent, %.1f MiB/s, dirty rate not yet known\n", r->k,
		       r->bytes / MIB, r->mib_s);
	} else if (r->ebpf_mib_s >= 0) {
		printf("round %u: %.1f MiB sent, %.1f MiB/s, dirty %.1f MiB/s (eBPF tracker; "
		       "%.1f on average since the last round), predicted downtime %.1f ms\n",
		       r->k, r->bytes / MIB, r->mib_s, r->ebpf_mib_s, r->dirty_mib_s,
		       r->predicted_ms);
	} else {
		printf("round %u: %.1f MiB sent, %.1f MiB/s, dirty %.1f MiB/s, predicted "
		       "downtime %.1f ms\n",
		       r->k, r->bytes / MIB, r->mib_s, r->dirty_mib_s, r->predicted_ms);
	}
	if (r->wait_us && !plan->opts->json)
		printf("round %u: tracking took %.0f%% of the tree's time (%llu write-protect "
		       "faults of %.1f us): round %u waits %.0f ms\n",
		       r->k, r->track_pct, (unsigned long long)r->wp_faults, plan->wp_fault_us,
		       r->k + 1, r->wait_us / 1000.0);
	fflush(stdout);
}

/* Why the final dump freezes now, or NULL for another round. */
static const char *stop_reason(const struct mig_plan *plan, const struct mig_round *r)
{
	const struct lmproc_opts *o = plan->opts;
	const struct mig_round *prev = r->k > 1 ? &plan->hist[r->k - 2] : NULL;

	if (r->predicted_ms >= 0 && r->predicted_ms < o->max_downtime_ms)
		return "converged";
	/* Memory is done (its part of the downtime below a ms): the fixed
	 * cost alone is above --max-downtime, and no round can change it. */
	if (r->predicted_ms >= 0 && r->predicted_ms - plan->fixed_us / 1000.0 < 1.0)
		return "fixed cost";
	if (prev && r->dirty_bytes >= prev->dirty_bytes)
		return "not converging";
	if (r->k >= (unsigned int)o->max_rounds)
		return "max rounds";
	if (o->max_time_s && now_us() - plan->t_start >= o->max_time_s * 1000000ull)
		return "max time";
	return NULL;
}

/* --auto-converge's steps: how much of one CPU the quota takes away (as
 * QEMU, up to 99%: a writer bound by its CPU here dirties a page in ~3 us,
 * 90% throttled it still outruns the link). */
static const int throttle_steps[] = {50, 75, 90, 95, 99};

/* Rounds that stop converging (a dirty rate above the link's, or a
 * round that copied more than 3/4 of the last's pages: pre-copy then
 * never gets far below the working set): with --auto-converge the next
 * throttle step and another round, while steps and rounds remain. */
static bool throttle_more(struct mig_plan *plan, struct mig_round *r)
{
	const struct mig_round *prev = r->k > 1 ? r - 1 : NULL;
	double link = link_mib_s(plan);
	int next = 0;

	if (!plan->opts->auto_converge || !plan->throttle ||
	    r->k >= (unsigned int)plan->opts->max_rounds)
		return false;
	if (plan->stop && strcmp(plan->stop, "not converging"))
		return false;
	if (!plan->stop && !(r->dirty_mib_s >= 0 && r->dirty_mib_s > link) &&
	    !(prev && r->dirty_bytes * 4 > prev->dirty_bytes * 3))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(throttle_steps) && !next; i++)
		if (throttle_steps[i] > plan->throttle_pct)
			next = throttle_steps[i];
	if (!next || plan->throttle(plan->throttle_arg, next))
		return false;
	plan->throttle_pct = next;
	r->throttle_pct = next;
	return true;
}

/* What the tracking cost the tree since the last round (every page it
 * wrote took one write-protect fault), and the pause before the next
 * round that brings it within TRACK_BUDGET_PCT: the same faults spread
 * over a longer time (a writer of new pages faults as often whatever the
 * spacing: its cost is at most its own share and asks for no pause). */
static void track_cost(struct mig_plan *plan, struct mig_round *r, const struct mig_round *prev)
{
	uint64_t interval, target, elapsed, now = now_us(), left = MAX_WAIT_US;
	double fault_us = plan->wp_fault_us;

	r->track_pct = -1;
	if (!prev || fault_us <= 0 || r->t_start <= prev->t_start)
		return;
	interval = r->t_start - prev->t_start;
	r->track_pct = r->wp_faults * fault_us / interval * 100.0;
	if (plan->stop || r->track_pct <= TRACK_BUDGET_PCT)
		return;
	target = r->wp_faults * fault_us * 100.0 / TRACK_BUDGET_PCT;
	elapsed = now - r->t_start;
	if (plan->opts->max_time_s) {
		uint64_t end = plan->t_start + plan->opts->max_time_s * 1000000ull;

		left = min(left, end > now ? end - now : 0);
	}
	if (target > elapsed)
		r->wait_us = min(target - elapsed, left);
}

bool mig_plan_round(struct mig_plan *plan, const struct mig_round *in)
{
	struct mig_round *r = &plan->hist[plan->nr++];
	const struct mig_round *prev = plan->nr > 1 ? r - 1 : NULL;
	bool throttled;

	*r = *in;
	r->mib_s = r->send_us ? r->bytes / MIB / (r->send_us / 1e6) : 0;
	r->dirty_mib_s = -1;
	if (prev && r->t_start > prev->t_start)
		r->dirty_mib_s = r->dirty_bytes / MIB / ((r->t_start - prev->t_start) / 1e6);
	r->predicted_ms = predict_ms(plan, r);
	r->throttle_pct = plan->throttle_pct;
	plan->stop = stop_reason(plan, r);
	throttled = throttle_more(plan, r);
	if (throttled)
		plan->stop = NULL;
	track_cost(plan, r, prev);
	print_round(plan, r);
	if (throttled && !plan->opts->json)
		printf("round %u: not converging (dirty %.1f MiB/s, link %.1f MiB/s): the tree "
		       "throttled to %d%% of one CPU\n",
		       r->k, r->dirty_mib_s, link_mib_s(plan), 100 - r->throttle_pct);
	if (plan->stop && !strcmp(plan->stop, "fixed cost") && !plan->opts->json)
		printf("round %u: memory converged, but the final step's fixed cost (%.1f ms) is "
		       "above --max-downtime (%d ms): freezing for the final dump\n",
		       r->k, plan->fixed_us / 1000.0, plan->opts->max_downtime_ms);
	if (plan->stop && !strcmp(plan->stop, "not converging") && !plan->opts->json)
		printf("round %u dirtied %.1f MiB, as much as round %u's %.1f MiB: not "
		       "converging, freezing for the final dump\n",
		       r->k, r->dirty_bytes / MIB, prev->k, prev->dirty_bytes / MIB);
	return plan->stop != NULL;
}
