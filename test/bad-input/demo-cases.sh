# shellcheck shell=bash disable=SC2034 # REASON: bad_case reports it
# "make demo"'s script (contrib/demo.sh), run as a user runs it, for
# test/bad-input/cases.sh: the sample server moved from host A to host B
# while its client checks every answer (demo-migrates), the demo
# interrupted by SIGINT once migrate runs (demo-interrupted), and the
# move failing (demo-migrate-fails); and bench/migrate.sh, which moves
# the same server while its client measures its gap (bench-migrate).
# Every process the demo (or the bench) starts inherits a marker in its
# environment (the restored server too: its environment is its memory);
# once the demo has ended none may be left, nor anything in the
# directory it was given for its files (DEMO_TMP).
# Figures (migrate's frozen time, the client's longest wait) go to
# tcp-figures.

# demo_left: the processes that still carry DEMO_MARK, and the files
# left in RD/tmp.
demo_left() {
	grep -l -a -F "$DEMO_MARK" /proc/[0-9]*/environ 2>/dev/null | head -n 3 | tr '\n' ' '
	find "$RD/tmp" -mindepth 1 -maxdepth 1 | head -n 3 | tr '\n' ' '
}

demo_gone() {
	[ -z "$(demo_left)" ]
}

# demo_needs: 2 (skipped) without what the demo and the bench need.
demo_needs() {
	local c

	for c in nft nsenter unshare setsid ip; do
		if ! command -v "$c" >/dev/null; then
			REASON="$c missing"
			return 2
		fi
	done
}

# demo_mark: a fresh DEMO_MARK, and RD/tmp for the files.
demo_mark() {
	DEMO_MARK=lmproc-demo-case-$$-$RANDOM
	mkdir -p "$RD/tmp"
}

# demo_start [NAME=VALUE...]: contrib/demo.sh in the background, with
# those variables, and SIGINT as a user's (a background job of this
# shell would ignore it); DEMO_PID.  Returns 2 (skipped) without what
# the demo needs.
demo_start() {
	demo_needs || return
	demo_mark
	env --default-signal=INT LMPROC_DEMO_MARK="$DEMO_MARK" DEMO_TMP="$RD/tmp" \
		LMPROC="$LMPROC_REAL" "$@" bash "$ROOT/contrib/demo.sh" >"$RD/demo.out" 2>"$RD/demo.err" &
	DEMO_PID=$!
}

# demo_end SECONDS: waits that long at most for the demo; DEMO_ST its
# status.  Then everything it made must go within 5 s (processes killed
# by the demo may still be exiting).
demo_end() {
	local n=$(($1 * 10))

	while kill -0 "$DEMO_PID" 2>/dev/null && [ "$n" -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	if kill -0 "$DEMO_PID" 2>/dev/null; then
		kill -KILL "$DEMO_PID"
		REASON="the demo did not end within $1 s"
	fi
	wait "$DEMO_PID"
	DEMO_ST=$?
	add_detail "demo's output" "$RD/demo.out" 12
	add_detail "demo's errors" "$RD/demo.err" 5
	[ -z "$REASON" ] || return 1
	wait_until 5000 demo_gone && return 0
	REASON="left after the demo: $(demo_left)"
	return 1
}

# The demo moves the server: it says so, the client's every answer was
# right (as many answers as requests, more than the demo waited for
# before the move), its count went on by the 200 the demo waits for
# after the move, the server ran on host B, nothing is left.
case_demo_migrates() {
	local req ans before after dest frozen gap

	demo_start || return
	demo_end 120 || return 1
	if [ "$DEMO_ST" != 0 ]; then
		REASON="the demo failed ($DEMO_ST): $(tail -n 1 "$RD/demo.err")"
		return 1
	fi
	read -r req ans < <(sed -n \
		's/^ *done: \([0-9]*\) requests, \([0-9]*\) answers, every one right and in order;.*/\1 \2/p' \
		"$RD/demo.out")
	if [ -z "$req" ] || [ "$req" != "$ans" ] || [ "$ans" -le 300 ]; then
		REASON="the client did not get every answer right: $(grep -m1 'done:\|error' "$RD/demo.out")"
		return 1
	fi
	# Answers from host B: 200 more after the move than before it.
	before=$(sed -n 's/^ *before the move: .* answers \([0-9]*\) .*/\1/p' "$RD/demo.out")
	after=$(sed -n 's/^ *after the move: .* answers \([0-9]*\) .*/\1/p' "$RD/demo.out")
	if [ -z "$before" ] || [ -z "$after" ] || [ "$after" -lt $((before + 200)) ] ||
		[ "$ans" -lt "$after" ]; then
		REASON="the client's count did not go on: $before before the move, $after after, $ans at the end"
		return 1
	fi
	dest=$(sed -n 's/.* migrated to 198\.18\.0\.2:7070 (pid \([0-9]*\) there).*/\1/p' "$RD/demo.out")
	if [ -z "$dest" ] || ! grep -q "^   pid $dest on host B " "$RD/demo.out"; then
		REASON="the demo did not show the server on host B"
		return 1
	fi
	if grep -qi error "$RD/demo.out" "$RD/demo.err"; then
		REASON="an error in the demo's output: $(grep -hi -m1 error "$RD/demo.out" "$RD/demo.err")"
		return 1
	fi
	frozen=$(sed -n 's/.*(pid [0-9]* there): frozen \([0-9.]*\) ms.*/\1/p' "$RD/demo.out")
	gap=$(sed -n 's/^ *during the move: gap \([0-9]*\) ms.*/\1/p' "$RD/demo.out")
	echo "demo frozen_ms $frozen client_gap_ms ${gap:-<20} answers $ans" \
		>>"$DATA_ROOT/tcp-figures" 2>/dev/null
	return 0
}

# migrate_started: the demo has started migrate (its output file made).
migrate_started() {
	compgen -G "$RD/tmp/lmproc-demo.*/migrate.err" >/dev/null
}

# demo_at_migrate: migrate started, or the demo ended before.
demo_at_migrate() {
	migrate_started || ! kill -0 "$DEMO_PID" 2>/dev/null
}

# SIGINT once the demo has started migrate: it says it was interrupted,
# fails, and leaves nothing (migrate, told to give up, releases the
# server or has moved it; either way every host goes).
case_demo_interrupted() {
	demo_start || return
	wait_until 60000 demo_at_migrate
	if ! migrate_started; then
		REASON="the demo never started migrate: $(tail -n 1 "$RD/demo.err")"
		kill -KILL "$DEMO_PID"
		wait "$DEMO_PID"
		return 1
	fi
	kill -INT "$DEMO_PID"
	demo_end 30 || return 1
	if [ "$DEMO_ST" = 0 ] || ! grep -q interrupted "$RD/demo.err"; then
		REASON="the demo went on after SIGINT (status $DEMO_ST): $(tail -n 1 "$RD/demo.out")"
		return 1
	fi
	return 0
}

# The move fails (serve's restore, LMPROC_FAULT=restore-in-restorer,
# which the demo's environment passes on): the demo says so, exits
# non-zero, and leaves nothing.
case_demo_migrate_fails() {
	demo_start LMPROC_FAULT=restore-in-restorer || return
	demo_end 120 || return 1
	if [ "$DEMO_ST" = 0 ] || ! grep -q "^demo: migrate failed" "$RD/demo.err"; then
		REASON="the demo did not say migrate failed (status $DEMO_ST): $(tail -n 1 "$RD/demo.err")"
		return 1
	fi
	return 0
}

# bench/migrate.sh (make bench's migration table) in its smallest run:
# one row, 16 MiB at 16 MiB/s, a baseline of 1 s.  It succeeds; its row
# in migrate.txt has the client's longest gap, the writer's rate
# untracked and during pre-copy, the slowdown and the cost per write
# filled with figures (their values are not asserted: 2 CPUs shared);
# every process it started (they carry the marker, the migrated server
# too) and everything in its work directory is gone once it exits.
case_bench_migrate() {
	local st row

	demo_needs || return
	demo_mark
	env LMPROC_DEMO_MARK="$DEMO_MARK" MIGBENCH_SIZES=16 MIGBENCH_RATES=16 \
		MIGBENCH_BASELINE=1 MIGBENCH_BUDGET=60 MIGBENCH_LINK_MIB=64 \
		timeout -k 10 120 bash "$ROOT/bench/migrate.sh" "$LMPROC_REAL" \
		"$ROOT/build/contrib/sample-server" "$ROOT/build/contrib/sample-client" \
		"$ROOT/build/bench/linkbw" "$RD/tmp" "$RD/out" >"$RD/bench.out" 2>"$RD/bench.err"
	st=$?
	add_detail "bench's output" "$RD/bench.out" 14
	add_detail "bench's errors" "$RD/bench.err" 5
	if [ "$st" != 0 ]; then
		REASON="bench/migrate.sh failed ($st): $(grep -m1 'failed\|skipped' "$RD/bench.out")"
		return 1
	fi
	row=$(awk '$1 == 16 && $2 == 16' "$RD/out/migrate.txt" 2>/dev/null)
	# ws rate rounds MiB total frozen gap gap/fr rtx link_x base pre slow% wr_us stop
	if ! awk '{ exit !(NF >= 15 && $7 ~ /^[0-9]+$/ && $8 ~ /^[0-9.]+$/ &&
			$11 ~ /^[0-9.]+$/ && $12 ~ /^[0-9.]+$/ && $13 ~ /^-?[0-9.]+$/ &&
			$14 ~ /^[0-9.]+\/[0-9.]+$/) }' <<<"$row"; then
		REASON="the table's row lacks the client's gap or the writer's slowdown: '${row:-none}'"
		return 1
	fi
	wait_until 5000 demo_gone && return 0
	REASON="left after the bench: $(demo_left)"
	return 1
}

run_demo_bad_input() {
	CASE_KIND=state bad_case demo-migrates case_demo_migrates
	CASE_KIND=state bad_case demo-interrupted case_demo_interrupted
	CASE_KIND=state bad_case demo-migrate-fails case_demo_migrate_fails
	CASE_KIND=state bad_case bench-migrate case_bench_migrate
}
