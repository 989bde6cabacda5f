# shellcheck shell=bash disable=SC2034 # REASON: bad_case reports it
# CRIU's options a user types, for test/bad-input/cases.sh: dump and
# restore --leave-stopped (the tree stopped, as by SIGSTOP, until a
# SIGCONT), restore --pidfile (the root's pid in a file made there, never
# one that exists), --display-stats (CRIU's lines, the stats images'
# figures), and the names CRIU has for what lmproc does anyway
# (--restore-detached, --file-locks, --track-mem...); --timeout, the
# time a thread may take to stop; a relative -o or
# --pidfile in the work directory (-W, else -D), as CRIU puts them.

# all_stopped PID: every thread of PID is in a stop (state T).
all_stopped() {
	local t st

	for t in /proc/"$1"/task/*; do
		read -r st <"$t/stat" 2>/dev/null || return 1
		st=${st##*) }
		[ "${st%% *}" = T ] || return 1
	done
}

# dump --leave-stopped: the target is left stopped, not killed; a SIGCONT
# lets it run on exactly as it was.
case_leave_stopped_dump() {
	target_up || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump --leave-stopped" dump --leave-stopped -t "$TPID" -D "$RD/img" ||
		return 1
	if ! wait_until 2000 all_stopped "$TPID"; then
		REASON="pid $TPID is not stopped after dump --leave-stopped (state $(proc_state "$TPID"))"
		return 1
	fi
	sleep 0.3
	if ! all_stopped "$TPID"; then
		REASON="pid $TPID ran again by itself (state $(proc_state "$TPID"))"
		return 1
	fi
	kill -CONT "$TPID"
	target_intact
}

# restore --restore-detached --leave-stopped --pidfile: the file has the
# root's pid, the root is stopped until a SIGCONT, then runs as dumped.
case_leave_stopped_restore() {
	local pid

	dumped_target || return 1
	must_lm restore "restore --leave-stopped" restore --restore-detached --leave-stopped \
		--pidfile "$RD/root.pid" -D "$RD/img" || return 1
	pid=$(cat "$RD/root.pid" 2>/dev/null)
	if [ "$pid" != "$TPID" ]; then
		REASON="the pid file has '$pid', expected $TPID"
		kill_ours "$TPID"
		return 1
	fi
	if ! wait_until 2000 all_stopped "$TPID"; then
		REASON="restored pid $TPID is not stopped (state $(proc_state "$TPID"))"
		kill_ours "$TPID"
		return 1
	fi
	kill -CONT "$TPID"
	same_state "$TPID" "$TSNAP" 3000 || return 1
	term_verdict
}

# restore --pidfile FILE where FILE exists: refused naming it, FILE kept
# as it was, no process left.
case_pidfile_exists() {
	dumped_target || return 1
	echo mine >"$RD/root.pid"
	bad_lmproc restore -d --pidfile "$RD/root.pid" -D "$RD/img"
	refused $? "$RD/root.pid" || { kill_ours "$TPID"; return 1; }
	if [ "$(cat "$RD/root.pid")" != mine ]; then
		REASON="the existing pid file was changed"
		return 1
	fi
	no_process "$TPID"
}

# stat_line FILE NAME US: FILE has "NAME: US us" (CRIU's line).
stat_line() {
	if ! grep -qxF "$2: $3 us" "$1"; then
		REASON="--display-stats has no line '$2: $3 us': $(head -n 3 "$1" | tr '\n' '|')"
		return 1
	fi
}

# shown_us IMAGE FIELD: FIELD of the stats IMAGE as lmproc show decodes it.
shown_us() {
	"$LMPROC" show "$1" | python3 -c 'import json, sys
print(json.load(sys.stdin)["entries"][0][sys.argv[1]])' "$2"
}

# dump -R and restore --display-stats: CRIU's title line, then lines
# whose figures are those of the stats images; with --file-locks and
# --track-mem accepted as CRIU's command lines give them.
case_display_stats() {
	local us

	target_up || return 1
	mkdir -p "$RD/img"
	if ! bad_lmproc dump -R --file-locks --track-mem --display-stats -t "$TPID" -D "$RD/img"; then
		REASON="dump -R --display-stats failed: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	if [ "$(head -n 1 "$RD/bad.out")" != "Displaying dump stats:" ]; then
		REASON="dump --display-stats begins with '$(head -n 1 "$RD/bad.out")'"
		return 1
	fi
	us=$(shown_us "$RD/img/stats-dump.img" frozen_time_us) || return 1
	stat_line "$RD/bad.out" "Frozen time" "$us" || return 1
	us=$(shown_us "$RD/img/stats-dump.img" freezing_time_us) || return 1
	stat_line "$RD/bad.out" "Freezing time" "$us" || return 1
	target_intact || return 1
	dumped_target || return 1
	if ! bad_lmproc restore -d --display-stats -D "$RD/img"; then
		REASON="restore --display-stats failed: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	us=$(shown_us "$RD/img/stats-restore.img" restore_time_us) || return 1
	stat_line "$RD/bad.out" "Restore time" "$us" || { kill_ours "$TPID"; return 1; }
	same_state "$TPID" "$TSNAP" 3000 || return 1
	term_verdict
}

# -o dump.log goes into -D, -W DIR takes it there instead, a relative
# --pidfile goes into -D: never into the current directory.
case_work_dir() {
	target_up || return 1
	mkdir -p "$RD/img" "$RD/img2" "$RD/wd" "$RD/cwd"
	if ! (cd "$RD/cwd" && "$LMPROC" dump -R -t "$TPID" -D "$RD/img" -v4 -o dump.log \
		2>"$RD/bad.err"); then
		REASON="dump -R -o dump.log failed: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	if ! (cd "$RD/cwd" && "$LMPROC" pre-dump -t "$TPID" -D ../img2 -W "$RD/wd" -v4 \
		-o pre.log 2>"$RD/bad.err"); then
		REASON="pre-dump -W -o pre.log failed: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	if ! grep -q . "$RD/img/dump.log" || ! grep -q . "$RD/wd/pre.log"; then
		REASON="no log in -D ($(ls "$RD/img" | grep -c log)) or in -W ($(ls "$RD/wd" | xargs))"
		return 1
	fi
	target_intact || return 1
	dumped_target || return 1
	if ! (cd "$RD/cwd" && "$LMPROC" restore -d --pidfile root.pid -D "$RD/img" \
		2>"$RD/bad.err"); then
		REASON="restore --pidfile root.pid failed: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	if [ "$(cat "$RD/img/root.pid" 2>/dev/null)" != "$TPID" ] || [ -n "$(ls -A "$RD/cwd")" ]; then
		REASON="the pid file is not -D's root.pid with $TPID (cwd has: $(ls -A "$RD/cwd" | xargs))"
		kill_ours "$TPID"
		return 1
	fi
	same_state "$TPID" "$TSNAP" 3000 || return 1
	term_verdict
}

# freezer_of PID: FREEZE_DIR, the cgroup directory PID's freezer is (v1
# freezer, else cgroup v2), and FREEZE_ROOT the hierarchy's mount.
freezer_of() {
	local line

	FREEZE_ROOT=$(awk '$3 == "cgroup" && $4 ~ /(^|,)freezer(,|$)/ { print $2; exit }' /proc/mounts)
	if [ -n "$FREEZE_ROOT" ]; then
		line=$(grep -m1 '^[0-9]*:\([^:]*,\)\?freezer\(,[^:]*\)\?:' "/proc/$1/cgroup")
	else
		FREEZE_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
		line=$(grep -m1 '^0::' "/proc/$1/cgroup")
	fi
	[ -n "$FREEZE_ROOT" ] && [ -n "$line" ] || return 1
	FREEZE_DIR=$FREEZE_ROOT${line#*:*:}
}

# freeze_in CG ON: CG frozen (ON 1) or thawed (0), v1 or v2.
freeze_in() {
	if [ -e "$1/freezer.state" ]; then
		echo "$( [ "$2" = 1 ] && echo FROZEN || echo THAWED)" >"$1/freezer.state"
	else
		echo "$2" >"$1/cgroup.freeze"
	fi
}

# dump -R --timeout 1 of a target a cgroup freezer holds (it can't reach
# the stop lmproc asks for): one error line naming the thread and 1000
# ms, well before the default 10 s; thawed and back in its cgroup, the
# target runs on as it was.
case_freeze_timeout() {
	local cg st

	target_up || return 1
	if ! freezer_of "$TPID"; then
		REASON="no cgroup v1 freezer nor cgroup v2 mounted"
		return 2
	fi
	cg=$FREEZE_ROOT/lmproc-freeze-$TPID
	mkdir "$cg" && echo "$TPID" >"$cg/cgroup.procs" && freeze_in "$cg" 1 || {
		REASON="can't freeze the target in $cg"
		rmdir "$cg" 2>/dev/null
		return 1
	}
	mkdir -p "$RD/img"
	timeout -k 1 8 "$LMPROC" dump -R --timeout 1 -t "$TPID" -D "$RD/img" \
		>"$RD/bad.out" 2>"$RD/bad.err"
	st=$?
	freeze_in "$cg" 0
	echo "$TPID" >"$FREEZE_DIR/cgroup.procs"
	wait_until 2000 rmdir "$cg" 2>/dev/null
	refused "$st" "Thread $TPID" "1000 ms" || return 1
	target_intact
}

# The options that exclude each other, or belong to other commands, and
# words left over after the options: a usage error (exit 2), nothing
# done.
case_criu_opts_usage() {
	local args

	while IFS= read -r args; do
		# shellcheck disable=SC2086 # ARGS are words
		"$LMPROC" $args -D "$RD/none" >"$RD/bad.out" 2>"$RD/bad.err"
		if [ $? != 2 ] || ! grep -q "Try 'lmproc --help'" "$RD/bad.err"; then
			REASON="lmproc $args: not a usage error: $(head -n 1 "$RD/bad.err")"
			return 1
		fi
	done <<-EOF
		dump -t 1 -R --leave-stopped
		pre-dump -t 1 --leave-stopped
		dump -t 1 --pidfile $RD/p
		restore --json --display-stats
		check --display-stats
		check -W $RD/p
		dump -t 1 soft
		restore --timeout 3
		dump -t 1 --timeout 0
		dump -t 1 --ghost-limit 5Q
		restore extra
	EOF
	# CRIU's users write "--manage-cgroups soft": the mode, not a word
	# left over (the restore then fails on the missing directory).
	"$LMPROC" restore --manage-cgroups soft -D "$RD/none" >"$RD/bad.out" 2>"$RD/bad.err"
	if [ $? != 1 ] || ! grep -q "images directory" "$RD/bad.err"; then
		REASON="restore --manage-cgroups soft: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	if [ -e "$RD/p" ] || [ -e "$RD/none" ]; then
		REASON="a usage error made a file"
		return 1
	fi
}

run_criu_opts_bad_input() {
	bad_case leave-stopped-dump case_leave_stopped_dump
	bad_case leave-stopped-restore case_leave_stopped_restore
	bad_case pidfile-exists case_pidfile_exists
	bad_case display-stats case_display_stats
	bad_case criu-opts-usage case_criu_opts_usage
	bad_case work-dir case_work_dir
	bad_case freeze-timeout case_freeze_timeout
}
