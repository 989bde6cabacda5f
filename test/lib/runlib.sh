# shellcheck shell=bash
# Helpers for test/run.sh (sourced, bash): results, processes, snapshots
# of a task's kernel-visible state, and lmproc invocations.  It owns no
# policy: which tests run in which mode is test/run.sh's business.

NPASS=0
NFAIL=0
NSKIP=0
REASON=""		# why the current step failed (one line)
DETAIL=""		# more lines for the failure report
TRACKED_PIDS=()		# every test process started, killed at the end if alive

# --- results -----------------------------------------------------------------

say_pass() {
	echo "PASS $*"
	NPASS=$((NPASS + 1))
}

# say_fail WHAT: prints REASON and DETAIL for WHAT.
say_fail() {
	echo "FAIL $1: ${REASON:-unknown reason}"
	if [ -n "$DETAIL" ]; then
		printf '%s\n' "$DETAIL" | sed 's/^/    | /'
	fi
	NFAIL=$((NFAIL + 1))
}

say_skip() {
	echo "SKIP $1: $2"
	NSKIP=$((NSKIP + 1))
}

# add_detail TITLE FILE [LINES]: appends the tail of FILE to DETAIL.
add_detail() {
	local lines=${3:-6}

	[ -s "$2" ] || return 0
	DETAIL+="${DETAIL:+$'\n'}$1:"$'\n'"$(tail -n "$lines" "$2" | cut -c1-200)"
}

# --- processes ---------------------------------------------------------------

# alive PID: the process exists and is not a zombie.
alive() {
	local st

	st=$(proc_state "$1") || return 1
	[ "$st" != Z ] && [ "$st" != X ]
}

# is_stopped PID: PID is in a group stop (state T).
is_stopped() {
	[ "$(proc_state "$1")" = T ]
}

proc_state() {
	local stat

	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	echo "${stat%% *}"
}

# cpu_ticks PID: utime + stime.
cpu_ticks() {
	local stat f

	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	read -r -a f <<<"$stat"
	echo $((f[11] + f[12]))
}

# now_ms: NOW_MS becomes the wall clock in milliseconds, without a fork.
# Polls are timed by the clock, not by counting their sleeps: on a loaded
# machine each round of a poll takes several times its sleep.
now_ms() {
	local us=${EPOCHREALTIME//[!0-9]/}

	NOW_MS=$((us / 1000))
}

# wait_until MS CMD...: polls CMD every 20 ms for up to MS milliseconds.
wait_until() {
	local end

	now_ms
	end=$((NOW_MS + $1))
	shift
	until "$@"; do
		now_ms
		[ "$NOW_MS" -ge "$end" ] && return 1
		sleep 0.02
	done
}

not_alive() {
	! alive "$1"
}

file_ready() {
	[ -s "$1" ]
}

track_pid() {
	TRACKED_PIDS+=("$1")
}

# spawn NAME OUT ERR CMD...: runs CMD in the background with stdin
# /dev/null, stdout appended to OUT and stderr to ERR, as the child of a
# subshell that records its pid in RD/NAME.pid (also SPAWNED) and its exit
# status in RD/NAME.status.  Unlike a plain "CMD &", a task killed by a
# signal (as a dump kills it) is not announced by bash on our stderr.
spawn() {
	local name=$1 out=$2 err=$3

	shift 3
	rm -f "$RD/$name.pid" "$RD/$name.status"
	(
		"$@" </dev/null >>"$out" 2>>"$err" &
		echo $! >"$RD/$name.pid"
		wait $!
		echo $? >"$RD/$name.status"
	) 2>/dev/null &
	wait_until 5000 file_ready "$RD/$name.pid" || return 1
	read -r SPAWNED <"$RD/$name.pid"
	track_pid "$SPAWNED"
}

# spawn_status NAME MS: waits up to MS for what spawn NAME started to end;
# prints its exit status.
spawn_status() {
	wait_until "$2" file_ready "$RD/$1.status" || return 1
	cat "$RD/$1.status"
}

# is_ours PID: PID runs one of the suite's own binaries (guards against
# killing an unrelated process that reused a pid).
is_ours() {
	local exe

	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	case "$exe" in
	"$ROOT"/build/*|"$LMPROC_REAL") return 0 ;;
	esac
	return 1
}

# kill_ours PID: SIGKILLs PID if it is alive and ours, and waits for it.
kill_ours() {
	alive "$1" && is_ours "$1" || return 0
	kill -KILL "$1" 2>/dev/null
	wait_until 2000 not_alive "$1"
}

# kill_leftovers: every process we started, and every child of ours that
# runs one of our binaries (restored tasks are reparented to us).
kill_leftovers() {
	local pid

	for pid in "${TRACKED_PIDS[@]}"; do
		kill_ours "$pid"
	done
	for pid in $(cat /proc/$$/task/*/children 2>/dev/null); do
		kill_ours "$pid"
	done
	wait 2>/dev/null
}

# gone PID: no process at all with PID, not even a zombie.
gone() {
	[ ! -e "/proc/$1" ]
}

# keeper_socket PID: the inode of the socket "/run/lmproc/track-PID-..."
# on which the dirty-tracking keeper of PID listens (none: fails).
keeper_socket() {
	local inode

	inode=$(awk -v name="/run/lmproc/track-$1-" 'index($8, name) == 1 { print $7; exit }' \
		/proc/net/unix)
	[ -n "$inode" ] && echo "$inode"
}

# keeper_of PID: the pid of the keeper daemon holding PID's tracker: the
# process running our lmproc whose fds include the keeper's socket.
keeper_of() {
	local inode p fd

	inode=$(keeper_socket "$1") || return 1
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$LMPROC_REAL" ] || continue
		for fd in "$p"/fd/*; do
			if [ "$(readlink "$fd" 2>/dev/null)" = "socket:[$inode]" ]; then
				echo "${p#/proc/}"
				return 0
			fi
		done
	done
	return 1
}

no_keeper() {
	! keeper_socket "$1" >/dev/null
}

# untracked PID: nothing tracks PID's writes any more: no keeper, and no
# VMA registered with a userfaultfd (VmFlags "uw").
untracked() {
	no_keeper "$1" && ! grep -q '^VmFlags:.* uw' "/proc/$1/smaps"
}

# --- state snapshots ---------------------------------------------------------

# snapshot PID: the kernel-visible state of a task that a checkpoint must
# preserve exactly (build/test/tools/procstate), without the lines that
# match SNAPSHOT_FILTER if it is set; with SNAPSHOT_HOST (the init of the
# host PID runs on, test/lib/migmode.sh) as across_hosts shows it.
snapshot() {
	if [ -n "${SNAPSHOT_HOST:-}" ]; then
		"$ROOT/build/test/tools/procstate" "$1" 2>/dev/null | across_hosts "$1"
		return "${PIPESTATUS[0]}"
	fi
	if [ -n "${SNAPSHOT_FILTER:-}" ]; then
		"$ROOT/build/test/tools/procstate" "$1" 2>/dev/null | grep -v -- "$SNAPSHOT_FILTER"
		return "${PIPESTATUS[0]}"
	fi
	"$ROOT/build/test/tools/procstate" "$1" 2>/dev/null
}

# across_hosts PID: a snapshot of PID (stdin) with what a move between
# hosts changes by design left out or made relative: its process group and
# session "self" when they are PID, no time namespace nor its offsets
# (migrate restores into a new one), its network namespace "host's" when
# it is that of SNAPSHOT_HOST.
across_hosts() {
	local net=own

	[ "/proc/$1/ns/net" -ef "/proc/$SNAPSHOT_HOST/ns/net" ] && net="host's"
	sed -e "/^ids /s/ pgrp=$1 / pgrp=self /" -e "/^ids /s/ session=$1 / session=self /" \
		-e '/^ns time/d' -e '/^timens_offsets /d' -e "s/^ns net own\$/ns net $net/"
}

# stable_snapshot PID: a snapshot once two in a row agree (a test that has
# just written its pid file may still be entering its wait).
stable_snapshot() {
	local a b

	a=$(snapshot "$1") || return 1
	for _ in $(seq 40); do
		sleep 0.02
		b=$(snapshot "$1") || return 1
		[ "$a" = "$b" ] && break
		a=$b
	done
	echo "$a"
}

# same_state PID EXPECTED MS: polls until PID's snapshot equals EXPECTED;
# on failure sets REASON and DETAIL to the difference.
same_state() {
	local pid=$1 want=$2 end now

	now_ms
	end=$((NOW_MS + $3))
	while :; do
		now=$(snapshot "$pid")
		[ "$now" = "$want" ] && return 0
		now_ms
		[ "$NOW_MS" -ge "$end" ] && break
		sleep 0.05
	done
	if ! alive "$pid"; then
		REASON="pid $pid is not running"
		return 1
	fi
	diff <(echo "$want") <(echo "$now") | grep '^[<>]' >"$RD/state.diff"
	REASON="state of pid $pid differs ($(wc -l <"$RD/state.diff") lines; < before, > now)"
	DETAIL+="${DETAIL:+$'\n'}$(head -n 12 "$RD/state.diff" | cut -c1-200)"
	# A [stack] that grew (seen once, predump_adversary): where the
	# restorers' areas were, to tell a restore's write from the test's.
	if grep -q '\[stack\]' "$RD/state.diff"; then
		DETAIL+=$'\n'"$(grep -h 'Restorer area at' "$RD"/*.log 2>/dev/null | head -n 4 |
			cut -c1-200)"
	fi
	return 1
}

# --- lmproc ------------------------------------------------------------------

# lm DIR TAG ARGS...: runs "lmproc ARGS" with full logging into DIR/TAG.log
# and stderr in DIR/TAG.err; returns lmproc's status.
lm() {
	local dir=$1 tag=$2

	shift 2
	timeout -k 5 "$LM_TIMEOUT" "$LMPROC" "$@" -v4 -o "$dir/$tag.log" 2>"$dir/$tag.err"
}

# lm_failed DIR TAG STATUS WHAT: REASON and DETAIL for a failed lmproc run.
lm_failed() {
	local first

	first=$(grep -m1 . "$1/$2.err" | cut -c1-200)
	REASON="$4 exited $3${first:+: $first}"
	[ "$3" = 124 ] && REASON="$4 timed out after ${LM_TIMEOUT}s"
	add_detail "lmproc $2 log" "$1/$2.log" 8
}

# must_lm TAG WHAT ARGS...: lmproc ARGS (logged under TAG) must succeed;
# else REASON says WHAT failed.
must_lm() {
	local tag=$1 what=$2 st

	shift 2
	lm "$RD" "$tag" "$@"
	st=$?
	[ "$st" = 0 ] && return 0
	lm_failed "$RD" "$tag" "$st" "$what"
	return 1
}

# stat_of DIR FIELD: FIELD of DIR/stats-dump.img as lmproc show prints it.
stat_of() {
	"$LMPROC" show "$1/stats-dump.img" 2>/dev/null |
		sed -n "s/^ *\"$2\": *\"\{0,1\}\([^,\"]*\).*/\1/p" | head -n 1
}

# The stages of a dump's frozen window in stats-dump.img.
FROZEN_STAGES="rounds vmas tracker files threads parasite pagemap_scan page_copy page_write
core shmem mm tree images self_check release other"

# stages_check DIR WHAT: DIR/stats-dump.img accounts for its whole frozen
# window: every stage is there, and the stages (other_time_us included)
# add up to frozen_time_us exactly.  Sets REASON when not.
stages_check() {
	local dir=$1 what=$2 json frozen st v sum=0

	json=$("$LMPROC" show "$dir/stats-dump.img" 2>&1)
	frozen=$(sed -n 's/^ *"frozen_time_us": *\([0-9]*\).*/\1/p' <<<"$json")
	if [ -z "$frozen" ]; then
		REASON="$what: no frozen_time_us in stats-dump.img: $(head -c 200 <<<"$json")"
		return 1
	fi
	for st in $FROZEN_STAGES; do
		v=$(sed -n "s/^ *\"${st}_time_us\": *\([0-9]*\).*/\1/p" <<<"$json")
		if [ -z "$v" ]; then
			REASON="$what: stats-dump.img has no ${st}_time_us"
			return 1
		fi
		sum=$((sum + v))
	done
	if [ "$sum" != "$frozen" ]; then
		REASON="$what: the frozen stages add up to $sum us, frozen_time_us is $frozen"
		return 1
	fi
}

# stored_runs DIR PID: the runs of pages whose data DIR/pages-PID.img
# holds, one "START NR_PAGES OFFSET" line each (decimal), from lmproc show.
stored_runs() {
	local off=0 v="" n=0 ip=0 line

	while read -r line; do
		case "$line" in
		'"vaddr": "0x'*)
			v=${line#*\"0x}
			v=$((16#${v%%\"*}))
			n=0
			ip=0
			;;
		'"nr_pages": '*)
			n=${line#*: }
			n=${n%,}
			;;
		'"in_parent": true'*)
			ip=1
			;;
		'}'*)
			[ -n "$v" ] && [ "$ip" = 0 ] && echo "$v $n $off" && off=$((off + n * 4096))
			v=""
			;;
		esac
	done < <("$LMPROC" show "$1/pagemap-$2.img" 2>/dev/null)
}

# page_offset DIR PID ADDR: where the data of the page at ADDR is in
# DIR/pages-PID.img; fails if DIR does not hold it.
page_offset() {
	local addr=$(($3)) v n off

	while read -r v n off; do
		if [ "$addr" -ge "$v" ] && [ "$addr" -lt $((v + n * 4096)) ]; then
			echo $((off + addr - v))
			return 0
		fi
	done < <(stored_runs "$1" "$2")
	return 1
}

# one_line_error FILE [PATTERN]: FILE holds exactly one non-empty line
# (one line matching PATTERN, if given).
one_line_error() {
	local n

	n=$(grep -c "${2:-.}" "$1")
	if [ "$n" != 1 ]; then
		REASON="expected one ${2:+'$2' }line on stderr, got $n"
		DETAIL+="${DETAIL:+$'\n'}$(head -n 5 "$1" | cut -c1-200)"
		return 1
	fi
}
