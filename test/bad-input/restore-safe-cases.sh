# shellcheck shell=bash
# Restore safety cases, for test/bad-input/cases.sh (sourced after it;
# uses its bad_case, refused, term_verdict): a restore touches only what
# it made, and leaves nothing of it behind when it fails, is killed
# (SIGKILL) or is interrupted (SIGINT, SIGTERM, SIGHUP), unless it had
# handed the whole tree over already.  Every case restores tree_basic (a
# root, a child, a grandchild and a zombie) and is bounded in time.

# image_pids DIR: every pid of DIR/pstree.img, zombies included.
image_pids() {
	"$LMPROC" show "$1/pstree.img" 2>/dev/null | sed -n 's/^ *"pid": \([0-9]*\).*/\1/p'
}

# tree_dumped: tree_basic dumped (and killed) into RD/img; TREE_PIDS are
# the pids of its images.
tree_dumped() {
	local p

	# Its own session: what a tree restored --pidns can show.
	target_up "$BUILD/static/tree_basic" setsid || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	TREE_PIDS=$(image_pids "$RD/img")
	if [ "$(echo "$TREE_PIDS" | wc -w)" != 4 ]; then
		REASON="pstree.img of tree_basic does not list 4 pids: $TREE_PIDS"
		return 1
	fi
	for p in $TREE_PIDS; do
		if ! wait_until 5000 gone "$p"; then
			REASON="pid $p still there after the dump (state $(proc_state "$p"))"
			return 1
		fi
	done
}

# foreign_ns_children: the runner's children in another pid namespace:
# the init of a namespace a killed `restore --pidns` left (the runner is
# the subreaper its orphans go to).
foreign_ns_children() {
	local our c

	our=$(readlink /proc/self/ns/pid)
	for c in $(cat /proc/$$/task/*/children 2>/dev/null); do
		[ -e "/proc/$c" ] && [ "$(readlink "/proc/$c/ns/pid" 2>/dev/null)" != "$our" ] &&
			echo "$c"
	done
}

# tree_left [--pidns]: what of the restored tree runs: with --pidns the
# namespace's init, else the processes of the images' pids that run one
# of the suite's binaries (another program may have taken a freed pid).
tree_left() {
	local p

	if [ -n "${1:-}" ]; then
		foreign_ns_children
		return
	fi
	for p in $TREE_PIDS; do
		is_ours "$p" && echo "$p"
	done
}

nothing_left() {
	[ -z "$(tree_left "${1:-}")" ]
}

# whole_or_nothing WHEN [--pidns] [DONE]: after a killed or interrupted
# restore, within 3 s either nothing of the tree is left, or the whole
# tree was handed over: untraced, it passes its own check (SIGTERM to the
# root, or to the namespace's init, which forwards it), and is then gone.
# DONE: restore said it handed the tree over (exit 0).
whole_or_nothing() {
	local when=$1 pidns=${2:-} left p v

	[ -z "${3:-}" ] && wait_until 3000 nothing_left "$pidns" && return 0
	left=$(tree_left "$pidns")
	for p in $left; do
		if ! grep -q '^TracerPid:[[:space:]]*0$' "/proc/$p/status" 2>/dev/null; then
			REASON="$when: pid $p is left traced (half-made tree: $(echo $left))"
			return 1
		fi
	done
	if [ -n "$pidns" ]; then
		# shellcheck disable=SC2086 # one pid per word
		kill -TERM $left
	else
		kill -TERM "$TPID" 2>/dev/null
	fi
	if ! wait_until 5000 file_ready "$TOUT"; then
		REASON="$when: a half-made tree is left (pids $(echo $left)): no verdict after SIGTERM"
		for p in $left; do
			DETAIL+="${DETAIL:+$'\n'}pid $p: state $(proc_state "$p"), $(grep -E '^(PPid|NSpid)' "/proc/$p/status" 2>/dev/null | tr -s '\t\n' '  ')"
		done
		return 1
	fi
	v=$(cat "$TOUT")
	rm -f "$TOUT"
	if [ "$v" != PASS ]; then
		REASON="$when: the handed-over tree says: $v"
		return 1
	fi
	if ! wait_until 5000 nothing_left "$pidns"; then
		REASON="$when: the tree is still there after its verdict: $(tree_left "$pidns")"
		return 1
	fi
}

# Two restores of one image at once: B stops after its checks
# (restore-stop-before-fork), A restores the tree, then B goes on and
# finds the pids taken.  B must fail cleanly, naming the root's pid, and
# A's tree must be untouched and pass.
case_concurrent_restores() {
	local b st p live=""

	tree_dumped || return 1
	spawn b /dev/null "$RD/b.err" env LMPROC_FAULT=restore-stop-before-fork \
		"$LMPROC" restore -D "$RD/img" -d || return 1
	b=$SPAWNED
	if ! wait_until 10000 is_stopped "$b"; then
		REASON="restore B did not stop before its fork (state $(proc_state "$b"))"
		add_detail "restore B" "$RD/b.err"
		kill_ours "$b"
		return 1
	fi
	if ! must_lm restore "restore A" restore -D "$RD/img" -d; then
		kill_ours "$b"
		return 1
	fi
	for p in $TREE_PIDS; do
		alive "$p" && live+=" $p"
	done
	kill -CONT "$b"
	if ! st=$(spawn_status b 30000); then
		REASON="restore B did not end within 30 s"
		kill_ours "$b"
		return 1
	fi
	cp "$RD/b.err" "$RD/bad.err"
	if ! ERRORS_ONLY=1 refused "$st" "$TPID"; then
		REASON="restore B: $REASON"
		return 1
	fi
	# What B would wrongly kill has time to die.
	sleep 0.3
	for p in $live; do
		if ! alive "$p"; then
			REASON="pid $p of restore A's tree died when restore B failed"
			return 1
		fi
	done
	term_verdict
}

# case_restore_killed [--pidns]: restore -d killed (SIGKILL) at several
# points of its first milliseconds: each time, nothing it made is left,
# unless it had handed the whole tree over.  First at the worst point
# (restore-killed-at-fork): right after it forked the root (or the
# namespace's init), before that one has set its parent-death signal.
case_restore_killed() {
	local ms secs st done

	tree_dumped || return 1
	st=$( (
		LMPROC_FAULT=restore-killed-at-fork "$LMPROC" restore -D "$RD/img" -d ${1:-} \
			</dev/null >/dev/null 2>>"$RD/killed.err"
		echo $?
	) 2>/dev/null)
	if [ "$st" != 137 ]; then
		REASON="restore with restore-killed-at-fork exited $st, expected 137 (SIGKILL)"
		return 1
	fi
	if ! wait_until 3000 nothing_left "${1:-}"; then
		REASON="killed right after its first fork, restore left $(tree_left "${1:-}")"
		return 1
	fi
	for ms in 0 0.5 1 1.5 2 3 5 10 20 40; do
		secs=$(ms_to_s "$ms")
		# A subshell: bash would announce the kill on the suite's stderr.
		st=$( (
			"$LMPROC" restore -D "$RD/img" -d ${1:-} </dev/null >/dev/null \
				2>>"$RD/killed.err" &
			l=$!
			[ "$ms" = 0 ] || sleep "$secs"
			kill -KILL "$l"
			wait "$l"
			echo $?
		) 2>/dev/null)
		echo "delay $ms ms: exit $st" >>"$RD/killed.log"
		done=""
		[ "$st" = 0 ] && done=1
		whole_or_nothing "SIGKILL after $ms ms" "${1:-}" $done || return 1
	done
}

# ms_to_s MS: milliseconds (maybe with a fraction) as seconds for sleep.
ms_to_s() {
	awk -v ms="$1" 'BEGIN { printf "%.4f", ms / 1000 }'
}

# caught PID SIG: PID runs lmproc (not the shell forked to start it, with
# the runner's traps) and has a handler for SIG (SigCgt).
caught() {
	local line mask

	[ "/proc/$1/exe" -ef "$LMPROC" ] || return 1
	while read -r line; do
		case "$line" in
		SigCgt:*) mask=${line#SigCgt:}
			  (( 16#${mask//[[:space:]]/} >> ($2 - 1) & 1 )) && return 0
			  return 1 ;;
		esac
	done <"/proc/$1/status" 2>/dev/null
	return 1
}

# interrupt_run SIG NR MS [--pidns]: restore -d gets SIG (number NR) MS
# ms after it has a handler for it; prints its exit status, "done N" if
# it ended (status N) before one was seen, "no handler" if it ran 5 s
# without one (then it is killed).  MS "stop": at the point
# restore-stop-before-fork stops it (all images read, nothing forked),
# then SIGCONT.  A subshell: the runner's SIGINT trap must not see it.
interrupt_run() (
	local l end fault="" secs

	[ "$3" = stop ] && fault=restore-stop-before-fork
	secs=$(ms_to_s "$3")
	# A background job of this shell starts with SIGINT ignored.
	env --default-signal=INT ${fault:+LMPROC_FAULT=$fault} "$LMPROC" restore -D "$RD/img" \
		-d ${4:-} </dev/null >/dev/null 2>"$RD/int.err" &
	l=$!
	now_ms
	end=$((NOW_MS + 5000))
	until caught "$l" "$2"; do
		now_ms
		if ! alive "$l"; then
			wait "$l"
			echo "done $?"
			exit
		fi
		if [ "$NOW_MS" -ge "$end" ]; then
			kill -KILL "$l"
			wait "$l"
			echo "no handler"
			exit
		fi
	done
	if [ "$3" = stop ]; then
		wait_until 5000 is_stopped "$l"
		kill -"$1" "$l"
		kill -CONT "$l"
	else
		[ "$3" = 0 ] || sleep "$secs"
		kill -"$1" "$l"
	fi
	wait "$l"
	echo $?
) 2>/dev/null

# case_restore_interrupted SIG [--pidns]: SIG to restore -d at several
# points of its run (once it has its handlers): it either ends the restore
# with exit 1, one error line saying it was interrupted, and nothing it
# made left, or had already handed the whole tree over.  The first point
# is fixed (restore-stop-before-fork), so the interruption happens.
case_restore_interrupted() {
	local sig=$1 nr ms st done

	nr=$(kill -l "$sig")
	tree_dumped || return 1
	for ms in stop 0 0.5 1 1.5 2 3 4 7 10 20; do
		st=$(interrupt_run "$sig" "$nr" "$ms" "${2:-}")
		echo "SIG$sig after $ms ms: exit $st" >>"$RD/int.log"
		case "$st" in
		"no handler")
			REASON="restore -d had no handler for SIG$sig within 5 s"
			return 1
			;;
		0|"done 0") [ "$ms" != stop ] || st="0 (not interrupted at the stop point)" ;;
		1)
			cp "$RD/int.err" "$RD/bad.err"
			if ! ERRORS_ONLY=1 refused 1 "SIG$sig" "interrupted"; then
				REASON="SIG$sig after $ms ms: $REASON"
				return 1
			fi
			;;
		esac
		case "$st" in
		0|"done 0"|1) ;;
		*)
			REASON="SIG$sig at $ms: restore exited ${st#done }"
			[ "${st#done }" -gt 128 ] 2>/dev/null &&
				REASON+=" (killed by signal $((${st#done } - 128)))"
			DETAIL=$(head -n 3 "$RD/int.err")
			return 1
			;;
		esac
		done=""
		[ "${st#done }" = 0 ] && done=1
		whole_or_nothing "SIG$sig at $ms (exit $st)" "${2:-}" $done || return 1
	done
}

# The cases' own pid namespaces and trees go whatever the outcome.
restore_safe_case() {
	local st p

	"$@"
	st=$?
	for p in $(foreign_ns_children); do
		kill_ours "$p"
	done
	kill_leftovers
	return "$st"
}

run_restore_safe_bad_input() {
	CASE_KIND=state bad_case concurrent-restores restore_safe_case case_concurrent_restores
	CASE_KIND=state bad_case restore-killed restore_safe_case case_restore_killed
	CASE_KIND=state bad_case restore-pidns-killed restore_safe_case case_restore_killed --pidns
	CASE_KIND=state bad_case restore-sigint restore_safe_case case_restore_interrupted INT
	CASE_KIND=state bad_case restore-sigterm restore_safe_case case_restore_interrupted TERM
	CASE_KIND=state bad_case restore-sighup restore_safe_case case_restore_interrupted HUP
	CASE_KIND=state bad_case restore-pidns-sigterm restore_safe_case \
		case_restore_interrupted TERM --pidns
}
