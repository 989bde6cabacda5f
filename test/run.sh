#!/bin/bash
# The regression suite behind "make check" (make builds everything first;
# this script builds nothing).  It runs every program in test/static/ in
# five checkpoint modes, the bad-input cases (test/bad-input/cases.sh) and
# the unit tests, prints one line per run, and ends with exactly one line
# "N passed, N failed" (", N skipped" only if something was skipped, with a
# named reason).  Exits non-zero if anything failed.
#
# Modes of a static test (see test/lib/test.h for the test protocol):
#   plain          dump (the task is killed), restore
#   leave-running  dump -R; the original must be unchanged, keep running and
#                  pass; then restore from those images
#   two-dumps      dump -R into one directory, dump into another (with
#                  --page-path splice for every other test), restore from
#                  the second
#   pre-dump       pre-dump into 1, pre-dump into 2 (--prev-images-dir ../1),
#                  dump into 3 (--prev-images-dir ../2), restore from 3.
#                  After each pre-dump the task must run with its state
#                  unchanged; every round after the first must be
#                  incremental; no tracking keeper outlives the final dump.
#                  Some tests take more rounds, a pause or a signal between
#                  rounds, or run once per tracker backend, skipped where
#                  lmproc check finds it missing (predump_knobs).
#   migrate        live migration across two network-namespace hosts
#                  (contrib/hosts.sh, made once for the mode with one
#                  `lmproc serve` on host B, TLS PSK): the test started on
#                  host A, `lmproc migrate --json` there moves it to host B,
#                  where the copy (in serve's new pid and time namespaces)
#                  must have the source's state and pass.  A test that
#                  can't move (MIG_EXPECT, test/lib/migmode.sh, one reason
#                  each) must be refused in its named way, the source
#                  running on unchanged and passing; one that can't run
#                  here at all (MIG_NOT_HERE) is skipped, its reason said.
#                  Pids, the time
#                  namespace and the network namespace's identity are
#                  compared as migmode.sh's header says.
# Every other run restores with -d (then SIGTERM and poll the verdict), the
# others without (lmproc waits and must exit with the test's status, 0).
# Before the checkpoint and after each dump -R and restore, the task's
# kernel-visible state (maps, fds, offsets, signal masks, ids, mm fields...)
# must be exactly what it was.
#
# Environment: TESTS="counter heap", MODES="plain two-dumps" and
# BAD_CASES="keeper-lost pid-1" narrow the run (MODES=none runs the
# programs with no checkpoint at all: a baseline; the damaged-image cases
# need make-images);
# STATIC=0, BAD=0 and UNIT=0 leave out those parts; KEEP=1 keeps the work
# directories.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build/test

# Run as a child subreaper, so tasks restored with -d (whose lmproc exits)
# are reparented to us: reaped at once, and found if left over.
if [ -z "${LMPROC_SUITE_REAPER:-}" ]; then
	if [ ! -x "$BUILD/tools/subreaper" ]; then
		echo "test/run.sh: no $BUILD/tools/subreaper: run 'make test-progs'" >&2
		exit 1
	fi
	export LMPROC_SUITE_REAPER=1
	exec "$BUILD/tools/subreaper" bash "$0" "$@"
fi

cd "$ROOT" || exit 1
LMPROC=${LMPROC:-$ROOT/lmproc}
LM_TIMEOUT=30		# seconds for one lmproc command
SUITE_LIMIT=${SUITE_LIMIT:-1500}	# seconds: stop starting runs after this (a clean run here: ~15 min)
# shellcheck source=test/lib/runlib.sh
. "$ROOT/test/lib/runlib.sh"
# shellcheck source=test/lib/migmode.sh
. "$ROOT/test/lib/migmode.sh"
# shellcheck source=test/bad-input/cases.sh
. "$ROOT/test/bad-input/cases.sh"
# shellcheck source=test/bad-input/thread-cases.sh
. "$ROOT/test/bad-input/thread-cases.sh"
# shellcheck source=test/bad-input/shmem-cases.sh
. "$ROOT/test/bad-input/shmem-cases.sh"
# shellcheck source=test/bad-input/sysvipc-cases.sh
. "$ROOT/test/bad-input/sysvipc-cases.sh"
# shellcheck source=test/bad-input/tty-cases.sh
. "$ROOT/test/bad-input/tty-cases.sh"
# shellcheck source=test/bad-input/refusal-cases.sh
. "$ROOT/test/bad-input/refusal-cases.sh"
# shellcheck source=test/bad-input/file-valid-cases.sh
. "$ROOT/test/bad-input/file-valid-cases.sh"
# shellcheck source=test/bad-input/silent-cases.sh
. "$ROOT/test/bad-input/silent-cases.sh"
# shellcheck source=test/bad-input/tcp-cases.sh
. "$ROOT/test/bad-input/tcp-cases.sh"
# shellcheck source=test/bad-input/tcp-pair-cases.sh
. "$ROOT/test/bad-input/tcp-pair-cases.sh"
# shellcheck source=test/bad-input/tcp-hosts-cases.sh
. "$ROOT/test/bad-input/tcp-hosts-cases.sh"
# shellcheck source=test/bad-input/demo-cases.sh
. "$ROOT/test/bad-input/demo-cases.sh"
# shellcheck source=test/bad-input/imgdir-cases.sh
. "$ROOT/test/bad-input/imgdir-cases.sh"
# shellcheck source=test/bad-input/cpu-cases.sh
. "$ROOT/test/bad-input/cpu-cases.sh"
# shellcheck source=test/bad-input/interrupt-cases.sh
. "$ROOT/test/bad-input/interrupt-cases.sh"
# shellcheck source=test/bad-input/fuzz-cases.sh
. "$ROOT/test/bad-input/fuzz-cases.sh"
# shellcheck source=test/bad-input/restore-safe-cases.sh
. "$ROOT/test/bad-input/restore-safe-cases.sh"
# shellcheck source=test/bad-input/cgroup-cases.sh
. "$ROOT/test/bad-input/cgroup-cases.sh"
# shellcheck source=test/bad-input/netns-cases.sh
. "$ROOT/test/bad-input/netns-cases.sh"
# shellcheck source=test/bad-input/inet-dgram-cases.sh
. "$ROOT/test/bad-input/inet-dgram-cases.sh"
# shellcheck source=test/bad-input/ns-cases.sh
. "$ROOT/test/bad-input/ns-cases.sh"
# shellcheck source=test/bad-input/migrate-cases.sh
. "$ROOT/test/bad-input/migrate-cases.sh"
# shellcheck source=test/bad-input/migrate-x509-cases.sh
. "$ROOT/test/bad-input/migrate-x509-cases.sh"
# shellcheck source=test/bad-input/cli-cases.sh
. "$ROOT/test/bad-input/cli-cases.sh"
# shellcheck source=test/bad-input/json-cases.sh
. "$ROOT/test/bad-input/json-cases.sh"
# shellcheck source=test/bad-input/criu-opts-cases.sh
. "$ROOT/test/bad-input/criu-opts-cases.sh"

ALL_MODES="plain leave-running two-dumps pre-dump migrate"
MODES=${MODES:-$ALL_MODES}
TESTS=${TESTS:-$(cd "$BUILD/static" 2>/dev/null && ls)}
RUN_NR=0
STOPPED=""	# set per run by stop_knobs
RESTORE_FOLLOWS=""	# set per run by restore_knobs

# Work directories of runs that died without cleaning up (a killed run,
# an interrupted session) would fill tmpfs, which is memory: each holds
# its runner's pid and pid namespace, and those whose runner is gone are
# removed.  A runner in another pid namespace can't be seen from here.
remove_stale_dirs() {
	local d owner ns our_ns

	our_ns=$(readlink /proc/self/ns/pid)
	for d in /dev/shm/lmproc-test.* /tmp/lmproc-test.* /var/tmp/lmproc-data.*; do
		[ -d "$d" ] || continue
		owner= ns=
		read -r owner ns 2>/dev/null <"$d/.runner"
		if [ -n "$owner" ] && [ "$ns" = "$our_ns" ] && kill -0 "$owner" 2>/dev/null; then
			continue
		fi
		# Without a .runner file (an older runner), or a runner in
		# another pid namespace: once idle for an hour.
		if [ "${ns:-}" != "$our_ns" ] && [ -z "$(find "$d" -maxdepth 0 -mmin +60)" ]; then
			continue
		fi
		rm -rf "$d"
	done
}

setup_dirs() {
	remove_stale_dirs
	IMG_ROOT=$(mktemp -d /dev/shm/lmproc-test.XXXXXX 2>/dev/null) ||
		IMG_ROOT=$(mktemp -d /tmp/lmproc-test.XXXXXX) || exit 1
	# Test data on a disk file system: file mappings of ext4 page cache.
	DATA_ROOT=$(mktemp -d /var/tmp/lmproc-data.XXXXXX) || exit 1
	echo "$$ $(readlink /proc/self/ns/pid)" > "$IMG_ROOT/.runner"
	echo "$$ $(readlink /proc/self/ns/pid)" > "$DATA_ROOT/.runner"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	# One binary for the whole run, even if someone rebuilds meanwhile.
	if [ -x "$LMPROC" ]; then
		cp "$LMPROC" "$DATA_ROOT/lmproc" || exit 1
		LMPROC=$DATA_ROOT/lmproc
	fi
	LMPROC_REAL=$LMPROC
}

cleanup() {
	mig_hosts_down
	kill_leftovers
	if [ "${KEEP:-0}" = 1 ]; then
		echo "work directories kept: $IMG_ROOT $DATA_ROOT" >&2
	else
		rm -rf "$IMG_ROOT" "$DATA_ROOT"
	fi
}

# new_run NAME: fresh directories for one run: RD (images, pid and verdict
# files, logs; on tmpfs) and DD (the test's scratch files; on disk).
new_run() {
	RUN_NR=$((RUN_NR + 1))
	RD=$IMG_ROOT/$RUN_NR-$1
	DD=$DATA_ROOT/$RUN_NR-$1
	mkdir -p "$RD" "$DD"
	REASON=""
	DETAIL=""
}

time_left() {
	[ "$SECONDS" -lt "$SUITE_LIMIT" ]
}

# start_test BIN [WRAPPER...]: starts a test program (through WRAPPER, a
# command that runs its arguments, if given); sets TPID, TOUT (its verdict
# file) and TLOG (its log) and waits for its pid file.  Without a wrapper
# the test's exit status lands in RD/test.status once it ends (see spawn).
start_test() {
	local bin=$1 pid

	shift
	TOUT=$RD/out
	TLOG=$RD/test.log
	rm -f "$RD/pid" "$TOUT"
	if ! spawn test "$TLOG" "$TLOG" "$@" "$bin" --pidfile "$RD/pid" --outfile "$TOUT" \
		--log "$TLOG" --dir "$DD"; then
		REASON="could not start $bin"
		return 1
	fi
	TPID=$SPAWNED
	if ! wait_until 10000 file_ready "$RD/pid"; then
		REASON="$(basename "$bin") did not get ready in 10 s"
		add_detail "test log" "$TLOG"
		return 1
	fi
	read -r pid <"$RD/pid"
	if [ $# = 0 ] && [ "$pid" != "$TPID" ]; then
		REASON="pid file says $pid, started $TPID"
		return 1
	fi
	TPID=$pid
	track_pid "$TPID"
}

# reap_dumped PID: after a killing dump the task must die, and its pid be
# free again for the restore.
reap_dumped() {
	if ! wait_until 5000 gone "$1"; then
		REASON="pid $1 still there after a dump without -R (state $(proc_state "$1"))"
		return 1
	fi
}

# check_verdict: the verdict file says PASS; else REASON says why not.
check_verdict() {
	local v

	v=$(cat "$TOUT" 2>/dev/null)
	case "$v" in
	PASS) return 0 ;;
	FAIL*) REASON="test says: ${v#FAIL: }" ;;
	"") REASON="no verdict from the test" ;;
	*) REASON="unexpected verdict '$v'" ;;
	esac
	add_detail "test log" "$TLOG" 4
	return 1
}

# dmesg_for PID: the kernel's line about a crash of PID, if any.
dmesg_for() {
	dmesg 2>/dev/null | grep -E "\[$1\]: (segfault|general protection|trap)" | tail -n 1
}

# stop_knobs NAME: STOPPED=1 for a test that stops itself (SIGSTOP) once
# ready (stopped, stopped_*): its snapshot is taken once it is stopped, it must still be stopped
# after every dump and the restore (the snapshot says so), and it gets
# SIGCONT before SIGTERM.
stop_knobs() {
	STOPPED=""
	case "$1" in
	# The tests that stop themselves (stopped_tstp stops a child).
	stopped | stopped_sigstop) STOPPED=1 ;;
	esac
}

# restore_knobs NAME: RESTORE_FOLLOWS=1 for a test that removes what it
# made when it ends (the cgroups and cgroupns tests): the original of a dump -R finds
# DD/restore-follows and keeps it for the restore (only such a test gets
# the file: others may watch DD).
restore_knobs() {
	RESTORE_FOLLOWS=""
	case "$1" in
	cgroups | cgroupns) RESTORE_FOLLOWS=1 ;;
	esac
}

# end_test PID: the checkpoint is done: SIGTERM, after SIGCONT for a
# STOPPED test.
end_test() {
	[ -n "$STOPPED" ] && kill -CONT "$1"
	kill -TERM "$1"
}

# finish_original PID: SIGTERM a test started by start_test; it must exit 0
# with a PASS verdict.
finish_original() {
	local pid=$1 st

	end_test "$pid"
	if ! st=$(spawn_status test 30000); then
		REASON="pid $pid did not finish within 30 s of SIGTERM"
		return 1
	fi
	check_verdict || return 1
	if [ "$st" != 0 ]; then
		REASON="pid $pid passed but exited with status $st"
		return 1
	fi
}

# verdict_anyway PID: the state check failed but PID runs: SIGTERM it and
# add what the test itself says to DETAIL.
verdict_anyway() {
	alive "$1" || return 0
	end_test "$1"
	wait_until 10000 file_ready "$TOUT"
	DETAIL+="${DETAIL:+$'\n'}the test's own verdict: $(cat "$TOUT" 2>/dev/null || echo none)"
}

# restore_detached PID IMGDIR SNAP: lmproc restore -d, state check,
# SIGTERM, verdict.
restore_detached() {
	local pid=$1 img=$2 snap=$3 st k

	lm "$RD" restore restore -D "$img" -d
	st=$?
	if [ "$st" != 0 ]; then
		lm_failed "$RD" restore "$st" "restore -d"
		return 1
	fi
	if ! alive "$pid"; then
		REASON="restore -d succeeded but pid $pid is not running"
		k=$(dmesg_for "$pid")
		[ -n "$k" ] && DETAIL="kernel: $k"
		add_detail "test log" "$TLOG" 4
		return 1
	fi
	if ! same_state "$pid" "$snap" 3000; then
		verdict_anyway "$pid"
		return 1
	fi
	end_test "$pid"
	if ! wait_until 30000 file_ready "$TOUT"; then
		REASON="restored pid $pid gave no verdict within 30 s of SIGTERM"
		alive "$pid" || REASON="restored pid $pid died without a verdict"
		k=$(dmesg_for "$pid")
		[ -n "$k" ] && DETAIL="kernel: $k"
		add_detail "test log" "$TLOG" 4
		return 1
	fi
	wait_until 5000 not_alive "$pid"
	check_verdict
}

# restore_attached PID IMGDIR SNAP: lmproc restore in the background; it
# must wait for the restored task and exit with its status.
restore_attached() {
	local pid=$1 img=$2 snap=$3 lpid st k

	spawn restore /dev/null "$RD/restore.err" \
		"$LMPROC" restore -D "$img" -v4 -o "$RD/restore.log" || return 1
	lpid=$SPAWNED
	if ! same_state "$pid" "$snap" 10000; then
		if st=$(spawn_status restore 0); then
			lm_failed "$RD" restore "$st" "restore"
			k=$(dmesg_for "$pid")
			[ -n "$k" ] && DETAIL+="${DETAIL:+$'\n'}kernel: $k"
		fi
		verdict_anyway "$pid"
		kill_ours "$pid"
		kill_ours "$lpid"
		return 1
	fi
	end_test "$pid"
	if ! st=$(spawn_status restore 30000); then
		REASON="lmproc restore did not exit within 30 s of SIGTERM to pid $pid"
		add_detail "test log" "$TLOG" 4
		kill_ours "$pid"
		kill_ours "$lpid"
		return 1
	fi
	check_verdict || return 1
	if [ "$st" != 0 ]; then
		REASON="test passed but lmproc restore exited with $st"
		add_detail "lmproc restore log" "$RD/restore.log" 4
		return 1
	fi
}

# predump_knobs NAME: how the pre-dump mode treats test NAME: PD_ROUNDS
# pre-dumps before the final dump, PD_PAUSE seconds between rounds,
# PD_MIN_DIRTY pages every round after the first must find written,
# PD_SIGNAL: after each pre-dump the test gets SIGUSR1, changes its memory
# and writes the number of rounds it has seen into DD/round; PD_TRACKS: the
# tracker backends (--track) it runs with, once each ("" is the default).
predump_knobs() {
	PD_ROUNDS=2
	PD_PAUSE=0
	PD_MIN_DIRTY=0
	PD_SIGNAL=""
	PD_TRACKS=""
	case "$1" in
	predump_writer)
		PD_ROUNDS=3
		PD_PAUSE=0.4
		PD_MIN_DIRTY=500
		PD_TRACKS="pagemap-scan ebpf soft-dirty"
		;;
	predump_adversary)
		PD_ROUNDS=3
		PD_SIGNAL=1
		PD_TRACKS="pagemap-scan ebpf"
		;;
	esac
}

# track_available BACKEND: lmproc check finds what BACKEND needs here;
# else REASON is the first missing feature's line.
track_available() {
	local f features

	case "$1" in
	pagemap-scan) features="pagemap_scan uffd_wp_async uffd_remote" ;;
	ebpf) features="pagemap_scan uffd_wp_async uffd_remote bpf pf_tracepoint" ;;
	soft-dirty) features="soft_dirty" ;;
	*) features="" ;;
	esac
	for f in $features; do
		if ! "$LMPROC" check --feature "$f" >"$RD/check.out" 2>&1; then
			REASON="lmproc check: $(head -n 1 "$RD/check.out" | tr -s ' ')"
			return 1
		fi
	done
}

# track_refused_cleanly BACKEND: a backend this kernel lacks must not be
# skipped but refused: one error line naming it, exit 1, target running.
track_refused_cleanly() {
	local pid err n rc

	sleep 60 </dev/null >/dev/null 2>&1 &
	pid=$!
	err="$RD/refuse.err"
	mkdir -p "$RD/refuse"
	"$LMPROC" pre-dump -t "$pid" -D "$RD/refuse" --track "$1" 2>"$err" >/dev/null
	rc=$?
	n=$(grep -c '^Error' "$err")
	if [ "$rc" != 1 ] || [ "$n" != 1 ] || ! grep -q "$1.*unavailable" "$err" ||
		! kill -0 "$pid" 2>/dev/null; then
		REASON="pre-dump --track $1: exit $rc, $n error lines: $(head -c 300 "$err")"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# round_checks DIR WHAT NR: the stats of round NR (from 1) in DIR: every
# round after the first is incremental and finds PD_MIN_DIRTY pages.
round_checks() {
	local dir=$1 what=$2 nr=$3 inc dirty

	stages_check "$dir" "$what" || return 1
	[ "$nr" -gt 1 ] || return 0
	inc=$(stat_of "$dir" incremental)
	if [ "$inc" != true ]; then
		REASON="$what was not incremental (incremental: ${inc:-missing})"
		grep '^Warning' "$dir.log" >"$dir.warnings"
		add_detail "lmproc warnings" "$dir.warnings" 3
		return 1
	fi
	dirty=$(stat_of "$dir" pages_dirty)
	if [ "${dirty:-0}" -lt "$PD_MIN_DIRTY" ]; then
		REASON="$what found ${dirty:-no} written pages"
		REASON+=", the test writes at least $PD_MIN_DIRTY"
		return 1
	fi
}

# round_signal PID NR: SIGUSR1 to a PD_SIGNAL test after round NR; waits
# until it says it has changed its memory for that round, then takes the
# new state as the one to keep (CKPT_SNAP).
round_signal() {
	local pid=$1 nr=$2 seen

	kill -USR1 "$pid"
	if ! wait_until 10000 grep -qsx "$nr" "$DD/round"; then
		read -r seen 2>/dev/null <"$DD/round"
		REASON="the test did not finish its changes after round $nr within 10 s"
		REASON+=" (it says ${seen:-nothing})"
		add_detail "test log" "$TLOG" 4
		return 1
	fi
	if ! CKPT_SNAP=$(stable_snapshot "$pid"); then
		REASON="pid $pid vanished after its changes of round $nr"
		add_detail "test log" "$TLOG" 4
		return 1
	fi
}

# pre_dump_chain PID NAME TRACK: the pre-dump mode's rounds (predump_knobs
# NAME) with tracker TRACK (if set) and the final dump; IMG is the last
# round.  The final dump is run as a user runs it after pre-dumps: with no
# --track, it continues the chain's tracker.
pre_dump_chain() {
	local pid=$1 name=$2 track=$3 k st prev dir

	predump_knobs "$name"
	for k in $(seq "$PD_ROUNDS"); do
		dir=$RD/img$k
		mkdir -p "$dir"
		prev=""
		[ "$k" -gt 1 ] && prev="../img$((k - 1))"
		lm "$RD" "img$k" pre-dump -t "$pid" -D "$dir" ${prev:+--prev-images-dir "$prev"} \
			${track:+--track "$track"}
		st=$?
		[ "$st" = 0 ] || { lm_failed "$RD" "img$k" "$st" "pre-dump $k"; return 1; }
		case "$(proc_state "$pid")" in
		t) REASON="pid $pid left traced after pre-dump $k"; return 1 ;;
		T) [ -z "$STOPPED" ] && { REASON="pid $pid left stopped after pre-dump $k"; return 1; } ;;
		esac
		if ! same_state "$pid" "$CKPT_SNAP" 1000; then
			REASON="after pre-dump $k: $REASON"
			return 1
		fi
		round_checks "$dir" "pre-dump $k" "$k" || return 1
		if [ -n "$PD_SIGNAL" ]; then
			round_signal "$pid" "$k" || return 1
		fi
		sleep "$PD_PAUSE"
	done
	IMG=$RD/img$((PD_ROUNDS + 1))
	mkdir -p "$IMG"
	lm "$RD" "img$((PD_ROUNDS + 1))" dump -t "$pid" -D "$IMG" \
		--prev-images-dir "../img$PD_ROUNDS"
	st=$?
	[ "$st" = 0 ] || { lm_failed "$RD" "img$((PD_ROUNDS + 1))" "$st" "final dump"; return 1; }
	round_checks "$IMG" "the final dump" "$((PD_ROUNDS + 1))" || return 1
	reap_dumped "$pid" || return 1
	if ! wait_until 2000 no_keeper "$pid"; then
		REASON="the tracking keeper of pid $pid outlived the final dump"
		return 1
	fi
}

# checkpoint MODE PID SNAP SPLICE NAME TRACK: the dumps of MODE; sets IMG
# to the directory to restore from and CKPT_SNAP to the state the restored
# task must have (SNAP, unless the test changed its state between rounds).
checkpoint() {
	local mode=$1 pid=$2 snap=$3 splice=$4 st

	CKPT_SNAP=$snap
	case "$mode" in
	plain)
		IMG=$RD/img
		mkdir -p "$IMG"
		lm "$RD" dump dump -t "$pid" -D "$IMG"
		st=$?
		[ "$st" = 0 ] || { lm_failed "$RD" dump "$st" "dump"; return 1; }
		reap_dumped "$pid"
		stages_check "$IMG" "dump" || return 1
		;;
	leave-running)
		IMG=$RD/img
		mkdir -p "$IMG"
		lm "$RD" dump dump -t "$pid" -D "$IMG" -R
		st=$?
		[ "$st" = 0 ] || { lm_failed "$RD" dump "$st" "dump -R"; return 1; }
		stages_check "$IMG" "dump -R" || return 1
		if ! same_state "$pid" "$snap" 1000; then
			REASON="after dump -R: $REASON"
			return 1
		fi
		[ -n "$RESTORE_FOLLOWS" ] && touch "$DD/restore-follows"
		if ! finish_original "$pid"; then
			REASON="original after dump -R: $REASON"
			return 1
		fi
		rm -f "$DD/restore-follows"
		rm -f "$TOUT"
		;;
	two-dumps)
		mkdir -p "$RD/img1" "$RD/img2"
		IMG=$RD/img2
		lm "$RD" dump1 dump -t "$pid" -D "$RD/img1" -R
		st=$?
		[ "$st" = 0 ] || { lm_failed "$RD" dump1 "$st" "first dump -R"; return 1; }
		if ! same_state "$pid" "$snap" 1000; then
			REASON="after the first dump -R: $REASON"
			return 1
		fi
		lm "$RD" dump2 dump -t "$pid" -D "$IMG" ${splice:+--page-path splice}
		st=$?
		[ "$st" = 0 ] || { lm_failed "$RD" dump2 "$st" "second dump"; return 1; }
		reap_dumped "$pid"
		stages_check "$IMG" "second dump" || return 1
		;;
	pre-dump)
		pre_dump_chain "$pid" "$5" "$6" || return 1
		;;
	none)
		IMG=""
		;;
	esac
}

# static_steps NAME MODE DETACH SPLICE TRACK: start, snapshot, checkpoint,
# restore and verdict of one run.
static_steps() {
	local name=$1 mode=$2 detach=$3 splice=$4 track=$5 snap

	start_test "$BUILD/static/$name" || return 1
	if [ -n "$STOPPED" ] && ! wait_until 5000 is_stopped "$TPID"; then
		REASON="pid $TPID did not stop itself within 5 s"
		return 1
	fi
	if ! snap=$(stable_snapshot "$TPID"); then
		REASON="pid $TPID vanished before its state was read"
		add_detail "test log" "$TLOG" 4
		return 1
	fi
	checkpoint "$mode" "$TPID" "$snap" "$splice" "$name" "$track" || return 1
	if [ "$mode" = none ]; then
		finish_original "$TPID"
	elif [ -n "$detach" ]; then
		restore_detached "$TPID" "$IMG" "$CKPT_SNAP"
	else
		restore_attached "$TPID" "$IMG" "$CKPT_SNAP"
	fi
}

# static_available NAME: what test NAME needs is here; else REASON says
# what is missing.
static_available() {
	case "$1" in
	cgroups | cgroupns)
		if ! grep -q ' /sys/fs/cgroup/pids [^-]* - cgroup ' /proc/self/mountinfo ||
			! grep -q ' /sys/fs/cgroup/freezer [^-]* - cgroup ' /proc/self/mountinfo; then
			REASON="no cgroup v1 pids and freezer hierarchies at /sys/fs/cgroup"
			return 1
		fi
		if ! grep -q ' /sys/fs/cgroup/unified [^-]* - cgroup2 ' /proc/self/mountinfo; then
			REASON="no cgroup v2 mount at /sys/fs/cgroup/unified"
			return 1
		fi
		;;
	esac
}

# cgroups_left DIR [MODE]: the cgroups a test listed in DIR/cgroups that
# are still there are removed, with what runs in them (only the test's
# processes can: the names are its own); a leak if there were any.  In
# mode migrate the copy's pid namespace init shares its root's cgroups by
# design (a restart of serve's cgroup must not kill it), so the test's
# own removal found them busy: an empty one, once that init is gone with
# the root, is removed and said (MIG_NOTE), not a leak.
cgroups_left() {
	local d p left="" busy=""

	[ -f "$1/cgroups" ] || return 1
	for d in $(tac "$1/cgroups"); do
		case "$d" in
		/sys/fs/cgroup/*/lmproc-cg-*) ;;
		*) continue ;;
		esac
		[ -d "$d" ] || continue
		if [ "${2:-}" = migrate ] && wait_until 2000 rmdir "$d" 2>/dev/null; then
			busy+=" ${d##*/}"
			continue
		fi
		left+=" $d"
		for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		wait_until 2000 rmdir "$d" 2>/dev/null
	done
	[ -n "$busy" ] && MIG_NOTE+="${MIG_NOTE:+; }removed after the copy's init left them:$busy"
	[ -n "$left" ] && REASON="cgroups left behind:$left"
}

# run_static NAME MODE DETACH SPLICE [TRACK]: one test in one mode, one
# line.
run_static() {
	local name=$1 mode=$2 detach=$3 splice=$4 track=${5:-} label passed=0 steps

	label="$name $mode"
	[ -n "$splice" ] && label+=" splice"
	[ -n "$track" ] && label+=" $track"
	if [ "$mode" != none ] && [ "$mode" != migrate ]; then
		[ -n "$detach" ] && label+=" restore-d" || label+=" restore"
	fi
	new_run "$name-$mode${track:+-$track}"
	stop_knobs "$name"
	restore_knobs "$name"
	if ! time_left; then
		REASON="suite time limit (${SUITE_LIMIT}s) reached"
		say_fail "$label"
		return
	fi
	if [ -n "$track" ] && ! track_available "$track"; then
		label+=" (unavailable here: refused cleanly?)"
		if track_refused_cleanly "$track"; then
			say_pass "$label"
		else
			say_fail "$label"
		fi
		return
	fi
	if ! static_available "$name" || { [ "$mode" = migrate ] && mig_not_here "$name"; }; then
		say_skip "$label" "$REASON"
		return
	fi
	MIG_NOTE=""
	if [ "$mode" = migrate ]; then
		steps=(mig_steps "$name")
	else
		steps=(static_steps "$name" "$mode" "$detach" "$splice" "$track")
	fi
	if "${steps[@]}"; then
		kill_ours "$TPID"
		if cgroups_left "$DD" "$mode"; then
			say_fail "$label"
		else
			say_pass "$label${MIG_NOTE:+: $MIG_NOTE}"
			passed=1
		fi
	else
		say_fail "$label"
		kill_ours "$TPID"
		cgroups_left "$DD" 2>/dev/null
	fi
	# A passed run's images (hundreds of MiB for the pre-dump writers)
	# are memory on tmpfs: only a failed run's are kept to look at.
	if [ "$passed" = 1 ] && [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$RD" "$DD"
	fi
}

run_static_tests() {
	local t=0 m name mode detach splice track

	for name in $TESTS; do
		if [ ! -x "$BUILD/static/$name" ]; then
			REASON="no such test program $BUILD/static/$name"
			say_fail "$name"
			continue
		fi
		m=0
		for mode in $MODES; do
			# Alternate -d per (test, mode), so every test sees both.
			detach=""
			[ $(((t + m) % 2)) = 0 ] && detach=1
			splice=""
			[ "$mode" = two-dumps ] && [ $((t % 2)) = 1 ] && splice=1
			predump_knobs "$name"
			if [ "$mode" != pre-dump ] || [ -z "$PD_TRACKS" ]; then
				run_static "$name" "$mode" "$detach" "$splice"
				m=$((m + 1))
				continue
			fi
			for track in $PD_TRACKS; do
				detach=""
				[ $(((t + m) % 2)) = 0 ] && detach=1
				run_static "$name" "$mode" "$detach" "" "$track"
				m=$((m + 1))
			done
		done
		t=$((t + 1))
	done
	mig_hosts_down
}

run_unit_tests() {
	local list bin out st

	list=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory \
		-C "$ROOT" print-unit-tests 2>/dev/null)
	for bin in $list; do
		case "$bin" in
		/*) ;;
		*) bin=$ROOT/$bin ;;
		esac
		new_run "unit-$(basename "$bin")"
		out=$RD/unit.out
		timeout -k 5 120 "$bin" >"$out" 2>&1 </dev/null
		st=$?
		if [ "$st" = 0 ]; then
			say_pass "unit $(basename "$bin")"
		else
			REASON="${bin#"$ROOT"/} exited $st"
			add_detail "output" "$out" 10
			say_fail "unit $(basename "$bin")"
		fi
	done
}

main() {
	local start=$SECONDS summary

	if [ "$(id -u)" != 0 ]; then
		echo "test/run.sh: the suite needs root (it dumps and restores processes)" >&2
		exit 1
	fi
	if [ ! -x "$LMPROC" ] && { [ "$MODES" != none ] || [ "${BAD:-1}" = 1 ]; }; then
		echo "test/run.sh: $LMPROC is missing: run 'make' first" >&2
		exit 1
	fi
	setup_dirs
	[ "${STATIC:-1}" = 1 ] && run_static_tests
	[ "${BAD:-1}" = 1 ] && run_bad_input
	[ "${UNIT:-1}" = 1 ] && run_unit_tests
	kill_leftovers
	echo "suite time: $((SECONDS - start)) s"
	summary="$NPASS passed, $NFAIL failed"
	[ "$NSKIP" != 0 ] && summary+=", $NSKIP skipped"
	echo "$summary"
	[ "$NFAIL" = 0 ]
}

main "$@"
exit $?
