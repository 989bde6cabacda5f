# shellcheck shell=bash
# Cases of cgroup membership, for test/bad-input/cases.sh (sourced after
# it; uses its bad_case, target_up, refused, no_process, term_verdict and
# run.sh's static_available and cgroups_left).  The targets are the static
# cgroups test: a root and its child in cgroups of their own (v1 pids and
# freezer, v2), listed in DD/cgroups; the static cgroupns test: the same
# in a cgroup namespace of their own; and cgroupns_split, whose processes
# or threads are in different cgroup namespaces.

# cgroup_dumped [NAME]: the static test NAME (cgroups) dumped (killed);
# CG_DIRS its cgroups, removed once its processes are gone.
cgroup_dumped() {
	local name=${1:-cgroups}

	if ! static_available "$name"; then
		return 2
	fi
	target_up "$BUILD/static/$name" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	CG_DIRS=$(tac "$DD/cgroups")
	for d in $CG_DIRS; do
		if ! wait_until 2000 rmdir "$d" 2>/dev/null; then
			REASON="can't remove $d after the dump"
			return 1
		fi
	done
}

# cgroup_none_left: none of CG_DIRS exists.
cgroup_none_left() {
	local d

	for d in $CG_DIRS; do
		if [ -d "$d" ]; then
			REASON="$d is left behind"
			return 1
		fi
	done
}

# case_cgroup_removed: the dumped cgroups are gone: the restore is refused
# naming the pid, the hierarchy and the cgroup, and makes nothing.
case_cgroup_removed() {
	cgroup_dumped || return
	bad_lmproc restore -D "$RD/img" -d
	refused $? "$TPID" "/lmproc-cg-$TPID" hierarchy || return 1
	no_process "$TPID" && cgroup_none_left
}

# case_cgroup_manage: --manage-cgroups makes them again, with their
# pids.max (the test checks both), and the restored tree is in them; the
# test removes them when it ends.
case_cgroup_manage() {
	cgroup_dumped || return
	must_lm restore "restore -d" restore -D "$RD/img" -d --manage-cgroups || return 1
	same_state "$TPID" "$TSNAP" 3000 || return 1
	term_verdict || return 1
	wait_until 5000 not_alive "$TPID"
	cgroup_none_left
}

# case_cgroup_manage_fault [NAME]: a restore of the static test NAME
# (cgroups) that made them (and for cgroupns the namespace) and then
# failed removes them again and leaves no process; the images still
# restore.
case_cgroup_manage_fault() {
	cgroup_dumped "${1:-cgroups}" || return
	LMPROC_FAULT=restore-in-restorer bad_lmproc restore -D "$RD/img" -d --manage-cgroups
	ERRORS_ONLY=1 refused $? || { kill_ours "$TPID"; return 1; }
	no_process "$TPID" && cgroup_none_left || return 1
	if ! case_cgroup_manage_again; then
		REASON="restore after the failed one: $REASON"
		return 1
	fi
}

case_cgroup_manage_again() {
	must_lm restore "restore -d" restore -D "$RD/img" -d --manage-cgroups=soft || return 1
	same_state "$TPID" "$TSNAP" 3000 || return 1
	term_verdict || return 1
	wait_until 5000 not_alive "$TPID"
	cgroup_none_left
}

# case_cgroup_thread: a thread in a cgroup its process is not in: the dump
# is refused naming pid and tid; the target runs on and cleans up.
case_cgroup_thread() {
	local tid

	if ! static_available cgroups; then
		return 2
	fi
	target_up "$BUILD/bad-input/cgroup_thread" || return 1
	read -r tid <"$DD/thread.tid"
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "$tid" cgroup && target_intact || return 1
	! cgroups_left "$DD"
}

# case_cgroup_pidns: dump -R, restore --pidns: the copy and its
# namespace's init are in the original's cgroups (which still holds them),
# the copy passes; once the init is gone the original passes and removes
# them.
case_cgroup_pidns() {
	local host init p

	if ! static_available cgroups; then
		return 2
	fi
	target_up "$BUILD/static/cgroups" setsid || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump -R" dump -t "$TPID" -D "$RD/img" -R || return 1
	CG_DIRS=$(tac "$DD/cgroups")
	must_lm restore "restore --pidns" restore -D "$RD/img" --pidns -d || return 1
	host=$(sed -n 's/.*its root pid [0-9]* is pid \([0-9]*\) here.*/\1/p' "$RD/restore.log")
	init=$(ps -o ppid= -p "${host:-0}" | tr -d ' ')
	for p in $host $init; do
		if ! grep -qx "[0-9]*:pids:/lmproc-cg-$TPID" "/proc/$p/cgroup" ||
			! grep -qx "0::/lmproc-cg-$TPID" "/proc/$p/cgroup"; then
			REASON="pid $p (root $host, init $init) is not in the dumped cgroups:"
			REASON+=" $(tr '\n' ' ' <"/proc/$p/cgroup" 2>/dev/null | cut -c1-200)"
			[ -n "$init" ] && kill -KILL "$init"
			return 1
		fi
	done
	rm -f "$TOUT"
	kill -TERM "$host"
	if ! wait_until 30000 file_ready "$TOUT"; then
		REASON="the restored copy (pid $host here) gave no verdict within 30 s"
		kill -KILL "$init"
		return 1
	fi
	check_verdict || { REASON="restored copy: $REASON"; kill -KILL "$init"; return 1; }
	rm -f "$TOUT"
	wait_until 5000 not_alive "$init"
	finish_original "$TPID" || { REASON="the original: $REASON"; return 1; }
	cgroup_none_left
}

# case_cgroupns_split HOW: the cgroupns_split target (CGNS_SPLIT=HOW):
# processes or threads of one tree in different cgroup namespaces; the
# dump is refused naming the pid (and tid) and the namespace; the target
# runs on.
case_cgroupns_split() {
	local id

	target_up "$BUILD/bad-input/cgroupns_split" env CGNS_SPLIT="$1" || return 1
	read -r id <"$DD/split.id"
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$id" "cgroup namespace" || return 1
	if [ "$1" = thread ] && ! names "$TPID"; then
		REASON="the error does not name pid $TPID: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	target_intact
}

# case_cgroupns_removed: the cgroupns test's cgroups are gone: the restore
# is refused naming the pid, the namespace and its root, and makes
# nothing.
case_cgroupns_removed() {
	cgroup_dumped cgroupns || return
	bad_lmproc restore -D "$RD/img" -d
	refused $? "$TPID" "/lmproc-cg-$TPID" "cgroup namespace" || return 1
	no_process "$TPID" && cgroup_none_left
}

# flip_at FILE N BYTE WANT: flips bit 0 of byte BYTE of the N-th (from
# 1) "/lmproc-cg-TPID" in FILE, which must be the string of an ns_root
# (WANT ns_root: its key b2 09, field 150) or of a path (key 1a, field 3)
# before its length byte.
flip_at() {
	local file=$1 n=$2 byte=$3 want=$4 at key

	at=$(LC_ALL=C grep -obUa -- "/lmproc-cg-$TPID" "$file" | sed -n "${n}p" | cut -d: -f1)
	[ -n "$at" ] || { REASON="no occurrence $n of /lmproc-cg-$TPID in $file"; return 1; }
	key=$(od -An -tx1 -j $((at - 3)) -N2 "$file" | tr -d ' ')
	if { [ "$want" = ns_root ] && [ "$key" != b209 ]; } ||
		{ [ "$want" = path ] && [ "${key#??}" != 1a ]; }; then
		REASON="occurrence $n of /lmproc-cg-$TPID in $file is not a $want (key byte $key)"
		return 1
	fi
	"$BUILD/tools/imgmangle" bit "$file" $((at + byte)) 0 >/dev/null
}

# case_cgroupns_image HOW: cgroup.img of the cgroupns test with one
# ns_root damaged behind a valid checksum (HOW relative: the root's pids
# one made ".lmproc-cg-N"; split: the child's pids cgroup and ns_root
# both "/mmproc-cg-N", a namespace other than the root's): the restore is
# refused naming cgroup.img and the namespace, and makes nothing.
case_cgroupns_image() {
	local img

	cgroup_dumped cgroupns || return
	img=$RD/img/cgroup.img
	case "$1" in
	relative) flip_at "$img" 2 0 ns_root || return 1 ;;
	split) { flip_at "$img" 6 1 ns_root && flip_at "$img" 5 1 path; } || return 1 ;;
	esac
	"$BUILD/tools/imgmangle" reseal "$img" || return 1
	bad_lmproc restore -D "$RD/img" -d --manage-cgroups
	refused $? cgroup.img "cgroup namespace" || return 1
	no_process "$TPID" && cgroup_none_left
}

# case_cgroupns_manage: --manage-cgroups makes them again, the namespace
# is rooted there again (the test checks its cgroups, its namespace and a
# cgroup2 mounted inside) and they go when the test ends.
case_cgroupns_manage() {
	cgroup_dumped cgroupns || return
	must_lm restore "restore -d" restore -D "$RD/img" -d --manage-cgroups || return 1
	same_state "$TPID" "$TSNAP" 3000 || return 1
	term_verdict || return 1
	wait_until 5000 not_alive "$TPID"
	cgroup_none_left
}

# case_cgroupns_pidns: restore --pidns: the root makes the cgroup
# namespace inside the new pid namespace; the copy passes its checks.
# The namespace's init is in the root's cgroups until it ends: the copy
# can't remove them, the case does once the init is gone.
case_cgroupns_pidns() {
	local host init d

	if ! static_available cgroupns; then
		return 2
	fi
	target_up "$BUILD/static/cgroupns" setsid || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	CG_DIRS=$(tac "$DD/cgroups")
	must_lm restore "restore --pidns" restore -D "$RD/img" --pidns -d || return 1
	host=$(sed -n 's/.*its root pid [0-9]* is pid \([0-9]*\) here.*/\1/p' "$RD/restore.log")
	init=$(ps -o ppid= -p "${host:-0}" | tr -d ' ')
	if [ -z "$host" ] || [ -z "$init" ]; then
		REASON="no restored root or init in the restore's log"
		return 1
	fi
	kill -TERM "$host"
	if ! wait_until 30000 file_ready "$TOUT"; then
		REASON="the restored copy (pid $host here) gave no verdict within 30 s"
		kill -KILL "$init"
		return 1
	fi
	check_verdict || { REASON="restored copy: $REASON"; kill -KILL "$init"; return 1; }
	wait_until 5000 not_alive "$init"
	for d in $CG_DIRS; do
		if [ -d "$d" ] && ! wait_until 2000 rmdir "$d" 2>/dev/null; then
			REASON="can't remove $d once the init is gone"
			return 1
		fi
	done
}

# cgroup_case FUNC [ARG...]: runs case FUNC; if it fails, what it left (the
# target, the processes in its cgroups, the cgroups) goes, its REASON kept.
cgroup_case() {
	local st why

	"$@"
	st=$?
	[ "$st" = 1 ] || return "$st"
	why=$REASON
	kill_ours "$TPID"
	cgroups_left "$DD"
	REASON=$why
	return 1
}

run_cgroup_bad_input() {
	CASE_KIND=state bad_case cgroup-removed cgroup_case case_cgroup_removed
	CASE_KIND=state bad_case cgroup-manage cgroup_case case_cgroup_manage
	bad_case fault-cgroup-manage-restore-in-restorer cgroup_case case_cgroup_manage_fault
	bad_case cgroup-thread cgroup_case case_cgroup_thread
	CASE_KIND=state bad_case cgroup-pidns cgroup_case case_cgroup_pidns
	bad_case cgroupns-child case_cgroupns_split child
	bad_case cgroupns-nested case_cgroupns_split nested
	bad_case cgroupns-thread case_cgroupns_split thread
	bad_case cgroupns-removed cgroup_case case_cgroupns_removed
	bad_case fault-cgroupns-manage-restore-in-restorer cgroup_case case_cgroup_manage_fault \
		cgroupns
	bad_case cgroupns-image-relative cgroup_case case_cgroupns_image relative
	bad_case cgroupns-image-split cgroup_case case_cgroupns_image split
	CASE_KIND=state bad_case cgroupns-manage cgroup_case case_cgroupns_manage
	CASE_KIND=state bad_case cgroupns-pidns cgroup_case case_cgroupns_pidns
}
