# shellcheck shell=bash
# Cases of a dump cut short, for test/bad-input/cases.sh (sourced after
# it; uses its bad_case, target_up, target_intact, refused): lmproc
# signalled at points spread over a dump, a dump -R or a pre-dump; a
# process of the tree killed while it is frozen; a pre-dump killed with
# SIGKILL; lmproc SIGKILLed with the tree frozen, the parasite serving it
# or a task parked between injected calls.  Each trial's assertion holds whatever point the signal hits,
# and every wait is bounded.

# lm_bg ARGS...: lmproc in the background, LM_BG its pid, stdout and
# stderr in RD/bad.{out,err}.  A background job of a non-interactive shell
# starts with SIGINT ignored: give it back its default, as a terminal's
# Ctrl-C would find it (KERNEL.md, last lines).
lm_bg() {
	env --default-signal=INT "$LMPROC" "$@" >"$RD/bad.out" 2>"$RD/bad.err" &
	LM_BG=$!
}

# lm_bg_status MS: waits up to MS for LM_BG to end; LM_ST its status.
lm_bg_status() {
	if ! wait_until "$1" not_alive "$LM_BG"; then
		kill -KILL "$LM_BG" 2>/dev/null
		wait "$LM_BG" 2>/dev/null
		return 1
	fi
	# Quiet: bash would announce a job that a signal ended.
	wait "$LM_BG" 2>/dev/null
	LM_ST=$?
}

# sleep_ms MS
sleep_ms() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# released PID: not traced, not stopped, no parasite memfd mapped or held.
released() {
	local fd

	if ! grep -q '^TracerPid:[[:space:]]*0$' "/proc/$1/status" 2>/dev/null; then
		REASON="pid $1 is left traced or gone"
		return 1
	fi
	case "$(proc_state "$1")" in
	t|T) REASON="pid $1 is left stopped"; return 1 ;;
	esac
	if grep -q lmproc-parasite "/proc/$1/maps"; then
		REASON="pid $1 still maps the parasite's memfd"
		return 1
	fi
	for fd in /proc/"$1"/fd/*; do
		if [[ "$(readlink "$fd" 2>/dev/null)" == *lmproc-parasite* ]]; then
			REASON="pid $1 still holds the parasite's memfd at fd ${fd##*/}"
			return 1
		fi
	done
}

# signal_outcome MODE SIG: judges one signalled run.  It succeeded (the
# signal came after the dump was complete: the images are complete), or
# it said in one line that it was interrupted and released the target, or
# the signal ended lmproc before it began (no output at all).
signal_outcome() {
	local mode=$1 sig=$2

	case "$LM_ST" in
	0)
		if [ ! -e "$RD/img/inventory.img" ]; then
			REASON="$mode exited 0 after SIG$sig without inventory.img"
			return 1
		fi
		DONE_NR=$((DONE_NR + 1))
		;;
	1)
		# Warnings may come with it (a fresh pre-dump can't track what an
		# earlier round's keeper still tracks).
		one_line_error "$RD/bad.err" '^Error' || return 1
		if ! grep -q "interrupted by SIG$sig: the tree was released" "$RD/bad.err"; then
			REASON="$mode after SIG$sig: $(head -n 1 "$RD/bad.err" | cut -c1-160)"
			return 1
		fi
		if [ -e "$RD/img/inventory.img" ]; then
			REASON="interrupted $mode left inventory.img"
			return 1
		fi
		CUT_NR=$((CUT_NR + 1))
		;;
	$((128 + $(kill -l "$sig"))))
		if [ -s "$RD/bad.err" ] || [ -e "$RD/img/stats-dump.img" ]; then
			REASON="lmproc was killed by SIG$sig after it began: $(head -n 1 "$RD/bad.err")"
			return 1
		fi
		;;
	*)
		REASON="$mode after SIG$sig exited $LM_ST: $(head -n 1 "$RD/bad.err" | cut -c1-160)"
		return 1
		;;
	esac
}

# run_ms ARGS...: how long one lmproc ARGS takes here, now, in ms (the
# spread below must fall inside a run however fast this machine is).
run_ms() {
	local t0

	now_ms
	t0=$NOW_MS
	"$LMPROC" "$@" >/dev/null 2>&1
	now_ms
	echo $((NOW_MS - t0))
}

# case_signal_trials MODE N SPREAD_MS: N runs of MODE (dump, dump-R,
# pre-dump) of one counting target, each signalled (SIGINT, SIGTERM,
# SIGHUP in turn) at a point spread evenly over SPREAD_MS from its start,
# or over the time one run takes here if that is shorter.
# After each the target is released and unchanged; a dump that completed
# killed it and a new one is started.  At least one run must have been
# interrupted, or the spread missed the dump.
case_signal_trials() {
	local mode=$1 n=$2 spread=$3 i sig args took
	local sigs=(INT TERM HUP)

	case "$mode" in
	dump) args=(dump) ;;
	dump-R) args=(dump -R) ;;
	pre-dump) args=(pre-dump) ;;
	esac
	DONE_NR=0
	CUT_NR=0
	target_up || return 1
	mkdir -p "$RD/img"
	if [ "$mode" = dump ]; then
		took=$(run_ms dump -R -t "$TPID" -D "$RD/img")
	else
		took=$(run_ms "${args[@]}" -t "$TPID" -D "$RD/img")
	fi
	[ "$took" -lt "$spread" ] && spread=$took
	for ((i = 0; i < n; i++)); do
		sig=${sigs[i % 3]}
		rm -rf "$RD/img"
		mkdir -p "$RD/img"
		lm_bg "${args[@]}" -t "$TPID" -D "$RD/img"
		sleep_ms $((i * spread / n))
		kill -"$sig" "$LM_BG" 2>/dev/null
		if ! lm_bg_status 10000; then
			REASON="trial $i: $mode did not end within 10 s of SIG$sig"
			return 1
		fi
		signal_outcome "$mode" "$sig" || { REASON="trial $i: $REASON"; return 1; }
		if [ "$mode" = dump ] && [ "$LM_ST" = 0 ]; then
			reap_dumped "$TPID" || return 1
			target_up || return 1
			continue
		fi
		if ! released "$TPID" || ! same_state "$TPID" "$TSNAP" 1000; then
			REASON="trial $i ($mode, SIG$sig at $((i * spread / n)) ms, exit $LM_ST): $REASON"
			return 1
		fi
		if [ "$mode" = pre-dump ] && [ "$LM_ST" = 1 ] && ! wait_until 2000 untracked "$TPID"; then
			REASON="trial $i: the interrupted pre-dump left pid $TPID tracked"
			return 1
		fi
	done
	if [ "$CUT_NR" = 0 ]; then
		REASON="no run of $n was interrupted ($DONE_NR completed): the spread missed"
		return 1
	fi
	target_intact
}

# tree_up: the dying-child tree (bad-input/tree_dying), CHILD its child.
tree_up() {
	target_up "$BUILD/bad-input/tree_dying" || return 1
	read -r CHILD <"$DD/child.pid"
}

# tree_rest_intact: the root runs untraced and passes.
tree_rest_intact() {
	released "$TPID" && target_runs && finish_original "$TPID"
}

# case_member_dies: a child of the tree is killed while the parasite runs
# in it (LMPROC_FAULT=dump-member-dies) during a dump -R: lmproc returns
# at once naming it, and the root runs on untraced.
case_member_dies() {
	tree_up || return 1
	mkdir -p "$RD/img"
	LMPROC_FAULT=dump-member-dies timeout -k 2 10 "$LMPROC" dump -R -t "$TPID" -D "$RD/img" \
		>"$RD/bad.out" 2>"$RD/bad.err"
	ERRORS_ONLY=1 refused $? "$CHILD" "exited during the dump" "killed by signal 9" || return 1
	tree_rest_intact
}

# case_member_killed N SPREAD_MS: N dumps -R of a fresh tree whose child
# the test kills at a point spread over SPREAD_MS: each ends within 10 s,
# either done (the kill came before or after) or with an error naming the
# child (the step that met the death may name it first); the root runs
# on untraced.
case_member_killed() {
	local n=$1 spread=$2 i

	for ((i = 0; i < n; i++)); do
		tree_up || return 1
		rm -rf "$RD/img"
		mkdir -p "$RD/img"
		lm_bg dump -R -t "$TPID" -D "$RD/img"
		sleep_ms $((i * spread / n))
		kill -KILL "$CHILD"
		if ! lm_bg_status 10000; then
			REASON="trial $i: dump -R hangs 10 s after child $CHILD was killed"
			return 1
		fi
		if [ "$LM_ST" != 0 ] && ! grep -Eq "^Error: .*(^|[^0-9])$CHILD([^0-9]|\$)" \
			"$RD/bad.err"; then
			REASON="trial $i: exit $LM_ST, not naming child $CHILD: $(head -n 1 "$RD/bad.err")"
			return 1
		fi
		tree_rest_intact || { REASON="trial $i: $REASON"; return 1; }
	done
}

# lmproc_helpers: pids running this run's lmproc other than KEEPER.
lmproc_helpers() {
	local p

	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "${KEEPER:-}" ] && continue
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$LMPROC_REAL" ] && echo "${p#/proc/}"
	done
}

# case_pre_dump_killed N SPREAD_MS: a pre-dump whose stdout a reader
# reads through a pipe is killed (SIGKILL) at points spread over
# SPREAD_MS: the reader gets its EOF within 2 s, and no process of that
# run is left but the tracking keeper.
case_pre_dump_killed() {
	local n=$1 spread=$2 i st

	target_up || return 1
	for ((i = 0; i < n; i++)); do
		alive "$TPID" || target_up || return 1
		rm -rf "$RD/img" "$RD/out.fifo" "$RD/reader.st"
		mkdir -p "$RD/img"
		mkfifo "$RD/out.fifo"
		(timeout 5 cat "$RD/out.fifo" >/dev/null; echo $? >"$RD/reader.st") &
		"$LMPROC" pre-dump -t "$TPID" -D "$RD/img" >"$RD/out.fifo" 2>"$RD/bad.err" &
		LM_BG=$!
		# Its stdout is open once it runs lmproc (a shell killed while
		# opening the FIFO would leave the reader without a writer).
		wait_until 2000 eval '[ "$(readlink "/proc/$LM_BG/exe")" = "$LMPROC_REAL" ]'
		sleep_ms $((i * spread / n))
		kill -KILL "$LM_BG" 2>/dev/null
		wait "$LM_BG" 2>/dev/null
		if ! wait_until 2000 file_ready "$RD/reader.st"; then
			REASON="trial $i: lmproc's stdout gave no EOF within 2 s of its SIGKILL"
			DETAIL="$(for p in $(lmproc_helpers); do
				echo "$p: $(tr '\0' ' ' <"/proc/$p/cmdline") ppid $(awk '{print $4}' "/proc/$p/stat")"
			done)"
			wait_until 5000 file_ready "$RD/reader.st"
			return 1
		fi
		read -r st <"$RD/reader.st"
		[ "$st" = 0 ] || { REASON="trial $i: the reader exited $st"; return 1; }
		KEEPER=$(keeper_of "$TPID")
		if ! wait_until 2000 eval '[ -z "$(lmproc_helpers)" ]'; then
			REASON="trial $i: helpers of the killed pre-dump left: $(lmproc_helpers | xargs)"
			return 1
		fi
	done
}

# --- lmproc SIGKILLed while the tree is frozen ---------------------------

# left_as_before PID SNAP: PID runs untraced, not stopped, holds no fd of
# the parasite, and its state is SNAP's but for the parasite's mapping,
# which a parasite that cured the task itself can't unmap (it runs from
# it; docs/architecture.md, "lmproc killed").
left_as_before() {
	local pid=$1 snap=$2 fd

	if ! grep -q '^TracerPid:[[:space:]]*0$' "/proc/$pid/status" 2>/dev/null; then
		REASON="pid $pid is left traced or gone"
		return 1
	fi
	case "$(proc_state "$pid")" in
	t|T) REASON="pid $pid is left stopped"; return 1 ;;
	esac
	for fd in /proc/"$pid"/fd/*; do
		if [[ "$(readlink "$fd" 2>/dev/null)" == *lmproc-parasite* ]]; then
			REASON="pid $pid still holds the parasite's memfd at fd ${fd##*/}"
			return 1
		fi
	done
	same_state_but_parasite "$pid" "$snap" 1000
}

# same_state_but_parasite PID SNAP MS: same_state with the parasite's
# mappings left out of the comparison.
same_state_but_parasite() {
	local want

	want=$(grep -v lmproc-parasite <<<"$2")
	SNAPSHOT_FILTER=lmproc-parasite same_state "$1" "$want" "$3"
}

# kill_at_stop MODE POINT: lmproc MODE (dump, dump-R, pre-dump) of TPID
# with LMPROC_FAULT=POINT, where lmproc stops itself with the tree frozen;
# SIGKILLed once it is stopped there (5 s at most).
kill_at_stop() {
	local mode=$1 point=$2 args

	case "$mode" in
	dump) args=(dump) ;;
	dump-R) args=(dump -R) ;;
	pre-dump) args=(pre-dump) ;;
	esac
	rm -rf "$RD/img"
	mkdir -p "$RD/img"
	env LMPROC_FAULT="$point" "$LMPROC" "${args[@]}" -t "$TPID" -D "$RD/img" \
		>"$RD/bad.out" 2>"$RD/bad.err" &
	LM_BG=$!
	if ! wait_until 5000 is_stopped "$LM_BG"; then
		kill -KILL "$LM_BG" 2>/dev/null
		wait "$LM_BG" 2>/dev/null
		REASON="$mode did not stop at $point within 5 s: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	kill -KILL "$LM_BG"
	wait "$LM_BG" 2>/dev/null
	# Its tracees are let go as it exits: wait until they are.
	wait_until 2000 eval 'grep -q "^TracerPid:[[:space:]]*0$" "/proc/$TPID/status"'
	return 0
}

exists() {
	[ -e "$1" ]
}

# case_killed_frozen POINT MODE...: for each MODE, lmproc is SIGKILLed at
# POINT (the parasite serving it, or the task parked between injected
# syscalls) while the target (bad-input/blocked_syscalls) waits in read(),
# then again while it waits in nanosleep(): each time it is left exactly
# as before, untraced; both calls complete normally (no EINTR, no -512 or
# -516), its vector registers, signal mask and signal stack intact, and it
# passes.
case_killed_frozen() {
	local point=$1 mode

	shift
	target_up "$BUILD/bad-input/blocked_syscalls" || return 1
	for mode in "$@"; do
		kill_at_stop "$mode" "$point" || return 1
		left_as_before "$TPID" "$TSNAP" || { REASON="$mode in read(): $REASON"; return 1; }
	done
	printf g >"$DD/go.fifo"
	if ! wait_until 2000 exists "$DD/sleeping"; then
		REASON="pid $TPID did not get past its read() (state $(proc_state "$TPID"))"
		return 1
	fi
	TSNAP=$(stable_snapshot "$TPID") || { REASON="pid $TPID died after read()"; return 1; }
	for mode in "$@"; do
		kill_at_stop "$mode" "$point" || return 1
		left_as_before "$TPID" "$TSNAP" ||
			{ REASON="$mode in nanosleep(): $REASON"; return 1; }
	done
	if ! wait_until 5000 exists "$DD/slept"; then
		REASON="pid $TPID did not complete its nanosleep() (state $(proc_state "$TPID"))"
		verdict_anyway "$TPID"
		return 1
	fi
	finish_original "$TPID"
}

# case_killed_frozen_static PROG POINT MODE N: lmproc MODE of
# test/static/PROG SIGKILLed N times at POINT: the target is left as
# before each time and passes its own checks (fpu_regs: stopped in user
# mode with every vector register live; threads_sigpending: threads with
# their own masks and pending signals, injected into in batches).
case_killed_frozen_static() {
	local prog=$1 point=$2 mode=$3 n=$4 i

	target_up "$BUILD/static/$prog" || return 1
	for ((i = 0; i < n; i++)); do
		kill_at_stop "$mode" "$point" || return 1
		left_as_before "$TPID" "$TSNAP" || { REASON="trial $i: $REASON"; return 1; }
	done
	finish_original "$TPID"
}

run_interrupt_bad_input() {
	CASE_KIND=signal bad_case signal-dump-R case_signal_trials dump-R 16 40
	CASE_KIND=signal bad_case signal-dump case_signal_trials dump 12 40
	CASE_KIND=signal bad_case signal-pre-dump case_signal_trials pre-dump 12 120
	CASE_KIND=signal bad_case member-dies-in-parasite case_member_dies
	CASE_KIND=signal bad_case member-killed case_member_killed 8 60
	CASE_KIND=signal bad_case pre-dump-killed-stdout case_pre_dump_killed 10 120
	CASE_KIND=signal bad_case killed-in-parasite case_killed_frozen parasite-stop-in-daemon \
		dump-R dump dump-R
	CASE_KIND=signal bad_case killed-parked case_killed_frozen parasite-stop-parked \
		dump-R dump pre-dump
	CASE_KIND=signal bad_case killed-in-parasite-fpu case_killed_frozen_static fpu_regs \
		parasite-stop-in-daemon dump 3
	CASE_KIND=signal bad_case killed-parked-fpu case_killed_frozen_static fpu_regs \
		parasite-stop-parked pre-dump 3
	CASE_KIND=signal bad_case killed-in-parasite-threads case_killed_frozen_static \
		threads_sigpending parasite-stop-in-daemon dump-R 3
}
