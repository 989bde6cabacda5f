# shellcheck shell=bash
# Namespaces of a tree other than network, pid and cgroup, for
# test/bad-input/cases.sh (sourced after it).  The target (ns_target.c)
# makes them itself before it says it is ready (NS_MODE): a UTS, IPC or
# time namespace is restored as it was (names, sysctls, offsets), the
# state snapshot (procstate: which namespaces are its own, offsets,
# names) the same;
# restore --timens makes its clocks continue from the dump; a mount or
# user namespace, or a time namespace made for children only, is refused
# naming the pid and the namespace, the target running on; so is an IPC
# namespace holding a SysV segment a process outside the tree attaches, an
# unattached one where kernel.shm_rmid_forced is set, a SysV message
# larger than kernel.msgmax, or a POSIX message queue.  An IPC namespace holding an unattached segment
# is restored with it.

# case_ns_restored MODE: dumped, restored (-d), the same state, its own
# checks passed.
case_ns_restored() {
	NS_MODE=$1 target_up "$BUILD/bad-input/ns_target" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	restored_passes "$RD/img"
}

# case_ns_timens: restored with --timens 1 s after the dump: the target
# checks its clocks stood still meanwhile; it now has a time namespace of
# its own (the snapshot says so; nothing else differs).
case_ns_timens() {
	NS_MODE=timens target_up "$BUILD/bad-input/ns_target" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	sleep 1
	must_lm restore "restore --timens" restore -D "$RD/img" -d --timens || return 1
	TSNAP=$(echo "$TSNAP" | sed -e 's/^ns time lmproc.s$/ns time own/' \
		-e "s/^ns time_for_children lmproc.s$/ns time_for_children own/" \
		-e '/^timens_offsets /d')
	if ! same_state_except_offsets; then
		return 1
	fi
	term_verdict
}

# case_ns_timens_timers: timerfds (monotonic, boottime, realtime) and
# POSIX timers restored with --timens: each has lost no more time than
# its process's clocks show passed (the clocks are read at the dump after
# the timers: read before them, every timer came back short by the time
# in between).
case_ns_timens_timers() {
	target_up "$BUILD/static/$1" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	must_lm restore "restore --timens" restore -D "$RD/img" -d --timens || return 1
	term_verdict
}

# same_state_except_offsets: the snapshot as TSNAP (offsets aside: they
# are what --timens chose).
same_state_except_offsets() {
	local now

	now=$(snapshot "$TPID" | sed '/^timens_offsets /d')
	[ "$now" = "$TSNAP" ] && return 0
	diff <(echo "$TSNAP") <(echo "$now") | grep '^[<>]' >"$RD/state.diff"
	REASON="state of pid $TPID differs ($(wc -l <"$RD/state.diff") lines)"
	DETAIL+="${DETAIL:+$'\n'}$(head -n 12 "$RD/state.diff" | cut -c1-200)"
	return 1
}

# case_ns_refused MODE WORDS: dump and pre-dump refused naming the pid and
# WORDS; the target runs on as before.
case_ns_refused() {
	NS_MODE=$1 target_up "$BUILD/bad-input/ns_target" || return 1
	mkdir -p "$RD/img"
	bad_lmproc pre-dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "$2" || return 1
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "$2" && target_intact
}

# case_ns_other_boot: images whose boot id is not this boot's: restore
# refused naming both ids and --timens, nothing left; with --timens the
# target is restored and passes.
case_ns_other_boot() {
	local here fake=00000000-0000-4000-8000-000000000000

	dumped_target || return 1
	read -r here </proc/sys/kernel/random/boot_id
	LC_ALL=C sed -i "s/$here/$fake/" "$RD/img/ns.img" &&
		"$BUILD/tools/imgmangle" reseal "$RD/img/ns.img" || return 1
	bad_lmproc restore -D "$RD/img" -d
	refused $? "another boot" "$fake" "--timens" || return 1
	no_process "$TPID" || return 1
	must_lm restore "restore --timens" restore -D "$RD/img" -d --timens || return 1
	term_verdict
}

run_ns_bad_input() {
	CASE_KIND=state bad_case ns-uts case_ns_restored uts
	CASE_KIND=state bad_case ns-time case_ns_restored time
	CASE_KIND=state bad_case ns-timens case_ns_timens
	CASE_KIND=state bad_case ns-timens-timerfd case_ns_timens_timers fd_timerfd
	CASE_KIND=state bad_case ns-timens-posix-timers case_ns_timens_timers posix_timers
	bad_case ns-other-boot case_ns_other_boot
	CASE_KIND=state bad_case ns-ipc case_ns_restored ipc
	CASE_KIND=state bad_case ns-ipc-shm case_ns_restored ipc-shm
	bad_case ns-ipc-shm-out case_ns_refused ipc-shm-out \
		"of its IPC namespace is attached 1 times, 0 of them by the tree"
	bad_case ns-ipc-shm-forced case_ns_refused ipc-shm-forced \
		"segment 77 (key 0x4c4e5348)" "kernel.shm_rmid_forced is set"
	bad_case ns-ipc-msg-big case_ns_refused ipc-msg-big \
		"message 0 of its SysV message queue 0 is larger than kernel.msgmax"
	bad_case ns-ipc-mq case_ns_refused ipc-mq \
		"its IPC namespace (not lmproc's) holds 1 POSIX message queues"
	bad_case ns-mnt case_ns_refused mnt "a mount namespace other than lmproc's"
	bad_case ns-user case_ns_refused user "a user namespace other than lmproc's"
	bad_case ns-time-children case_ns_refused time-children \
		"made a time namespace its children would enter"
}
