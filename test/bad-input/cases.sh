# shellcheck shell=bash
# Bad-input cases for test/run.sh (sourced, bash; uses test/lib/runlib.sh).
# Each case gives lmproc something it must refuse and checks that it exits
# 1 with exactly one error line on stderr naming the object (pid, path, fd,
# image), and that nothing was harmed: a dump target keeps running with the
# same maps, fds, masks and ids, keeps counting and passes its own checks; a
# failed restore leaves no process with the restored pid.  lmproc runs
# here as a user runs it: default verbosity, no log file.

# bad_lmproc ARGS...: lmproc with stdout/stderr in RD/bad.{out,err}.
bad_lmproc() {
	timeout -k 5 "$LM_TIMEOUT" "$LMPROC" "$@" >"$RD/bad.out" 2>"$RD/bad.err"
}

# names WORD: the error line names WORD (numbers match whole numbers only).
names() {
	if [[ "$1" =~ ^[0-9]+$ ]]; then
		grep -Eq "(^|[^0-9])$1([^0-9]|\$)" "$RD/bad.err"
	else
		grep -qF -- "$1" "$RD/bad.err"
	fi
}

# bad_dump ARGS...: `lmproc pre-dump ARGS`, then `lmproc dump ARGS` as
# bad_lmproc, whose status it returns.  A pre-dump refuses at once what
# the final dump would: unless both are refused with the same error line,
# PRE_DUMP_DIFF says how they differ (refused checks it).
bad_dump() {
	local pst perr st derr

	bad_lmproc pre-dump "$@"
	pst=$?
	perr=$(grep -m1 '^Error' "$RD/bad.err")
	bad_lmproc dump "$@"
	st=$?
	derr=$(grep -m1 '^Error' "$RD/bad.err")
	if [ "$pst" != "$st" ] || [ "$perr" != "$derr" ]; then
		PRE_DUMP_DIFF="pre-dump exited $pst (${perr:-no error}), dump $st (${derr:-no error})"
	fi
	return "$st"
}

# refused STATUS WORD...: the last bad_lmproc failed cleanly, naming every
# WORD.  With ERRORS_ONLY set, warnings may come with the one error line.
refused() {
	local st=$1 w

	shift
	if [ -n "${PRE_DUMP_DIFF:-}" ]; then
		REASON="$(echo "$PRE_DUMP_DIFF" | cut -c1-300)"
		PRE_DUMP_DIFF=""
		return 1
	fi
	case "$st" in
	0) REASON="lmproc succeeded" ;;
	1) ;;
	124) REASON="lmproc timed out after ${LM_TIMEOUT}s" ;;
	*) REASON="lmproc exited $st, expected 1"
	   [ "$st" -gt 128 ] && REASON+=" (killed by signal $((st - 128)))" ;;
	esac
	if [ "$st" != 1 ]; then
		DETAIL="$(head -n 4 "$RD/bad.err" | cut -c1-200)"
		return 1
	fi
	one_line_error "$RD/bad.err" ${ERRORS_ONLY:+'^Error'} || return 1
	for w; do
		if ! names "$w"; then
			REASON="the error does not name '$w': $(head -n 1 "$RD/bad.err")"
			return 1
		fi
	done
}

# target_up [BIN [WRAPPER...]]: a running target (the counting test by
# default) and its state TSNAP.
target_up() {
	start_test "${1:-$BUILD/static/counter}" "${@:2}" || return 1
	if ! TSNAP=$(stable_snapshot "$TPID"); then
		REASON="target $TPID died at start"
		return 1
	fi
}

# target_intact: the target is as it was, not stopped, still running, and
# passes its own checks after SIGTERM.
target_intact() {
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="target changed: $REASON"
		return 1
	fi
	target_runs || return 1
	if ! finish_original "$TPID"; then
		REASON="target after the refusal: $REASON"
		return 1
	fi
}

# target_runs: the target is not stopped and gets CPU time.
target_runs() {
	local st c0 c1

	st=$(proc_state "$TPID")
	case "$st" in
	t|T)
		REASON="target $TPID left stopped (state $st)"
		return 1
		;;
	esac
	c0=$(cpu_ticks "$TPID")
	sleep 0.3
	c1=$(cpu_ticks "$TPID")
	if [ "${c1:-0}" -le "${c0:-0}" ]; then
		st=$(proc_state "$TPID")
		REASON="target $TPID no longer runs (no CPU time in 300 ms, state $st)"
		return 1
	fi
}

# no_process PID: nothing runs with PID within 3 s (zombies included).
no_process() {
	if ! wait_until 3000 gone "$1"; then
		REASON="a process with pid $1 remains (state $(proc_state "$1"), $(tr '\0' ' ' \
			</proc/"$1"/cmdline 2>/dev/null | cut -c1-60))"
		kill_ours "$1"
		return 1
	fi
}

# bad_case NAME FUNC [ARG...]: runs one case, one result line labelled
# CASE_KIND (bad-input by default).  FUNC returns 0 (pass), 1 (fail, REASON
# set) or 2 (skip, REASON is the reason).  A case that BAD_CASES, when
# set, does not name is not run (status 3).
bad_case() {
	local name=$1 st

	shift
	if [ -n "${BAD_CASES:-}" ] && [[ " $BAD_CASES " != *" $name "* ]]; then
		return 3
	fi
	new_run "bad-$name"
	if ! time_left; then
		REASON="suite time limit (${SUITE_LIMIT}s) reached"
		say_fail "${CASE_KIND:-bad-input} $name"
		return
	fi
	TPID=""
	PRE_DUMP_DIFF=""
	"$@"
	st=$?
	case "$st" in
	0) say_pass "${CASE_KIND:-bad-input} $name" ;;
	2) say_skip "${CASE_KIND:-bad-input} $name" "$REASON" ;;
	*) say_fail "${CASE_KIND:-bad-input} $name" ;;
	esac
	[ -n "$TPID" ] && kill_ours "$TPID"
	return "$st"
}

# --- dump refusals -----------------------------------------------------------

case_no_such_pid() {
	local dead

	true &
	dead=$!
	wait "$dead"
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$dead" -D "$RD/img"
	refused $? "$dead"
}

case_pid_1() {
	mkdir -p "$RD/img"
	bad_lmproc dump -t 1 -D "$RD/img"
	refused $? 1 || return 1
	if [ "$(grep TracerPid /proc/1/status | tr -dc 0-9)" != 0 ]; then
		REASON="pid 1 is left traced"
		return 1
	fi
	case "$(proc_state 1)" in
	t|T) REASON="pid 1 is left stopped"; return 1 ;;
	esac
}

case_self() {
	mkdir -p "$RD/img"
	# shellcheck disable=SC2016 # $$ is the inner shell's, which becomes lmproc
	timeout -k 5 "$LM_TIMEOUT" sh -c 'echo $$ >"$2"; exec "$0" dump -t $$ -D "$1"' \
		"$LMPROC" "$RD/img" "$RD/self.pid" >"$RD/bad.out" 2>"$RD/bad.err"
	refused $? "$(cat "$RD/self.pid")"
}

case_traced() {
	local tracer st

	target_up || return 1
	"$BUILD/tools/tracer" "$TPID" 2>"$RD/tracer.err" &
	tracer=$!
	if ! wait_until 5000 grep -q "^TracerPid:[[:space:]]*$tracer\$" "/proc/$TPID/status"; then
		REASON="tools/tracer could not seize $TPID: $(cat "$RD/tracer.err")"
		kill -KILL "$tracer" 2>/dev/null
		wait "$tracer" 2>/dev/null
		return 1
	fi
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	st=$?
	kill -KILL "$tracer"
	wait "$tracer" 2>/dev/null
	refused "$st" "$TPID" && target_intact
}

# case_bad_dir DIR [SETUP]: a dump into DIR must be refused naming DIR.
case_bad_dir() {
	target_up || return 1
	bad_lmproc dump -t "$TPID" -D "$1"
	refused $? "$1" && target_intact
}

case_missing_dir() {
	case_bad_dir "$RD/no/such/dir"
}

case_dir_under_file() {
	: >"$RD/file"
	case_bad_dir "$RD/file/img"
}

case_readonly_dir() {
	local st

	mkdir -p "$RD/ro"
	if ! mount -t tmpfs -o ro,size=1m lmproc-ro "$RD/ro" 2>"$RD/mount.err"; then
		REASON="can't mount a read-only tmpfs: $(head -n 1 "$RD/mount.err")"
		return 2
	fi
	case_bad_dir "$RD/ro"
	st=$?
	umount "$RD/ro"
	return "$st"
}

case_unsupported_fd() {
	target_up "$BUILD/bad-input/unsupported_fd" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" 7 netlink "messages queued" && target_intact
}

# Memory lmproc cannot make again exactly is refused naming the pid, the
# range and what it is in words; the target runs on.
case_mem_droppable() {
	MEM_REFUSED=droppable target_up "$BUILD/bad-input/mem_refused" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "mapping 0x" "droppable (MAP_DROPPABLE)" "VmFlags dp" && target_intact
}

case_mem_memfd_private() {
	MEM_REFUSED=memfd target_up "$BUILD/bad-input/mem_refused" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "mapping 0x" "private mapping of the memfd" && target_intact
}

# An established TCP connection without --tcp-established: refused naming
# the fd, both ends and the flag.
case_tcp_established() {
	target_up "$BUILD/bad-input/tcp_established" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 8" "needs --tcp-established" && target_intact
}

# A socket option lmproc can't set again (SK_REFUSE: an eBPF filter, a
# TCP MD5 key): refused naming the fd and the option.
case_sk_opt_refused() {
	target_up "$BUILD/bad-input/sk_opt_refused" env SK_REFUSE="$1" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 8" "$2" && target_intact
}

# A packet socket with a ring (PACKET_RX_RING): refused naming the fd and
# the ring; mapped (map), the mapping of the socket is refused first.
case_sk_packet_ring() {
	local st

	target_up "$BUILD/bad-input/sk_packet_ring" ${1:+env RING_MAP=1} || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	st=$?
	if [ -n "${1:-}" ]; then
		refused "$st" "$TPID" "fd 8" "maps a socket" && target_intact
	else
		refused "$st" "$TPID" "fd 8" "a packet socket" "PACKET_RX_RING" && target_intact
	fi
}

# A packet socket with a frame queued: refused naming the fd and why; the
# frame stays.
case_sk_packet_queued() {
	target_up "$BUILD/bad-input/sk_packet_queued" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 8" "a packet socket" "frames queued" && target_intact
}

# A netlink socket's port id taken at restore (dump -R, restore --pidns
# next to the original): the restore fails naming the port id, leaves
# nothing, and the original runs on untouched.
case_netlink_port_taken() {
	local port

	target_up "$BUILD/bad-input/netlink_bound" setsid || return 1
	port=$((0x4c4d0000 | (TPID & 0xffff)))
	mkdir -p "$RD/img"
	must_lm dump "dump -R" dump -t "$TPID" -D "$RD/img" -R || return 1
	bad_lmproc restore -D "$RD/img" --pidns -d
	refused $? "fd 7" "port id $port" "taken" && target_intact
}

# A netlink socket with a dump request in progress, or ENOBUFS pending
# (NL_REFUSE $1): refused naming the fd, the protocol and why (WHY $2);
# the socket keeps its state.
case_netlink_busy() {
	target_up "$BUILD/bad-input/netlink_busy" env NL_REFUSE="$1" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 7" "NETLINK_ROUTE" "$2" && target_intact
}

# A NETLINK_NETFILTER socket bound to NFQUEUE queue 7 or NFLOG group 7
# (NF_KIND $1, WHAT $2), in the target's own network namespace: closing
# it ends the binding, which restore could not make again; refused naming
# the fd and the binding, which stays.
case_netlink_nfqueue() {
	target_up "$BUILD/bad-input/netlink_nfqueue" env NF_KIND="$1" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 7" "NETLINK_NETFILTER" "$2" && target_intact
}

# A socket made in a network namespace other than its process's (SK_KIND
# $1, WHAT $2): restore would make it in the process's; the dump refuses
# it naming the fd and the namespace, and the socket stays where it was.
case_sk_other_netns() {
	target_up "$BUILD/bad-input/sk_other_netns" env SK_KIND="$1" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 7" "$2" "another network namespace than its process" &&
		target_intact
}

# A child's unsupported fd refuses the dump of the whole tree, naming the
# child; the root and the child run on untouched.
case_tree_unsupported() {
	local child

	target_up "$BUILD/bad-input/tree_unsupported" || return 1
	read -r child <"$DD/child.pid" || { REASON="no child pid"; return 1; }
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$child" 7 netlink || return 1
	case "$(proc_state "$child")" in
	t|T) REASON="child $child left stopped"; return 1 ;;
	esac
	if grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$child/status"; then
		REASON="child $child left traced"
		return 1
	fi
	target_intact
}

# case_unix_ext_peer [OPTION]: unix sockets with peers outside the process
# (a stream one at fd 5, a datagram one at fd 6): refused naming fd 5 and
# its peer without --ext-unix-sk; a stream peer outside is refused even
# with it.
case_unix_ext_peer() {
	target_up "$BUILD/bad-input/unix_ext_peer" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img" "$@"
	refused $? "$TPID" "fd 5" "peer socket:[" outside && target_intact
}

# A unix socket bound to a relative name from a directory the target left:
# refused naming fd 5, as the name is not found from its cwd.
case_unix_relative_moved() {
	target_up "$BUILD/bad-input/unix_relative_moved" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 5" "relative path not found from its working directory or root" &&
		target_intact
}

# A listener with a connection it has not accepted yet whose client sent
# bytes: refused naming fd 5 and the client.
case_unix_pending() {
	target_up "$BUILD/bad-input/unix_pending" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 5" "not accepted" "sent bytes" && target_intact
}

# A file whose flock lives only in flight: refused, naming the queue.
case_unix_scm_locked() {
	target_up "$BUILD/bad-input/unix_scm_locked" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 6" "locked" && target_intact
}

# A unix socket in flight in a queue (SCM_RIGHTS), with a queue of its
# own: refused naming fd 6, whose queue carries it, and the socket.
case_unix_scm_socket() {
	target_up "$BUILD/bad-input/unix_scm_socket" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 6" "carries a socket" && target_intact
}

# A lease being broken (a break pending): refused naming fd 5, the lease
# and why.
case_lease() {
	target_up "$BUILD/bad-input/lease_fd" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 5" "lease being broken" "break is pending" && target_intact
}

# A pidfd of a child of the tree in flight in a unix socket's queue:
# refused, naming the pidfd.
case_pidfd_in_flight() {
	target_up "$BUILD/bad-input/pidfd_in_flight" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 6" "carries a pidfd" && target_intact
}

# A BPF map lmproc can't make the same again (BPF_MAP_REFUSE=$1): refused
# naming fd 5, the map and why ($2).
case_bpf_map_refused() {
	target_up "$BUILD/bad-input/bpf_map_refused" env BPF_MAP_REFUSE="$1" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 5" "BPF map" "$2" && target_intact
}

# A BPF map pinned in a BPF filesystem the test mounts: refused naming fd
# 5 and the pin.
case_bpf_map_pinned() {
	local st

	mkdir -p "$RD/bpffs" "$RD/img"
	mount -t bpf bpf "$RD/bpffs" || { REASON="can't mount a BPF filesystem"; return 1; }
	target_up "$BUILD/bad-input/bpf_map_refused" env BPF_MAP_REFUSE=pinned \
		BPF_PIN="$RD/bpffs/m" || { umount "$RD/bpffs"; return 1; }
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 5" "BPF map" "pinned at $RD/bpffs/m" && target_intact
	st=$?
	umount "$RD/bpffs"
	return "$st"
}

# A pidfd of a process outside the tree (the target's parent): refused
# naming fd 5, the pidfd and that process.
case_pidfd_outside() {
	target_up "$BUILD/bad-input/pidfd_outside" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 5" "a pidfd of pid $(awk '{print $4}' "/proc/$TPID/stat")" \
		"outside the tree" && target_intact
}

# A fanotify group of a permission class: refused naming fd 5.
case_fanotify_perm() {
	target_up "$BUILD/bad-input/fanotify_perm" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 5" fanotify && target_intact
}

# A datagram socket connected to a bound socket outside the process, with
# --ext-unix-sk: restored connected to that name, it reaches it again.
case_unix_ext_dgram() {
	unix_ext_dgram_steps
	local st=$?

	kill_leftovers
	return "$st"
}

unix_ext_dgram_steps() {
	LMPROC_EXT_DGRAM=1 target_up "$BUILD/bad-input/unix_ext_peer" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump --ext-unix-sk" dump -t "$TPID" -D "$RD/img" --ext-unix-sk || return 1
	reap_dumped "$TPID" || return 1
	if ! restored_passes "$RD/img"; then
		add_detail "lmproc restore log" "$RD/restore.log" 3
		return 1
	fi
}

# case_inet_netns: IP sockets in a network namespace the case creates
# (lo with 198.18.0.1 and fd00::1), lmproc run in it too: FREEBIND
# sockets bound to addresses the namespace lacks, and TCP sockets whose
# connection closed on both sides, whose ports TIME_WAIT still holds at
# the restore (see sk_inet_netns.c).
case_inet_netns() {
	local holder st

	unshare --net sleep 600 </dev/null >/dev/null 2>&1 &
	holder=$!
	inet_netns_steps "$holder"
	st=$?
	# First: kill_leftovers waits for every child.
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	kill_leftovers
	return "$st"
}

# netns_target_dumped H: H's network namespace (not ours) gets lo with
# 198.18.0.1 and fd00::1, LMPROC (the caller's) runs lmproc in it, and
# bad-input/sk_inet_netns, started there, is dumped into RD/img.
netns_target_dumped() {
	local h=$1 our

	our=$(readlink /proc/self/ns/net)
	if ! wait_until 2000 not_our_netns "$h" "$our"; then
		REASON="no network namespace of its own for pid $h"
		return 1
	fi
	if ! nsenter -t "$h" -n sh -c 'ip link set lo up && ip addr add 198.18.0.1/32 dev lo &&
		ip -6 addr add fd00::1/128 dev lo nodad' 2>"$RD/ip.err"; then
		REASON="can't set up lo: $(head -c 200 "$RD/ip.err")"
		return 1
	fi
	printf '#!/bin/sh\nexec nsenter -t %s -n %s "$@"\n' "$h" "$LMPROC_REAL" >"$LMPROC"
	chmod +x "$LMPROC"
	target_up "$BUILD/bad-input/sk_inet_netns" nsenter -t "$h" -n || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
}

inet_netns_steps() {
	local LMPROC=$RD/lmproc-netns

	netns_target_dumped "$1" || return 1
	if ! restored_passes "$RD/img"; then
		add_detail "lmproc restore log" "$RD/restore.log" 3
		return 1
	fi
}

not_our_netns() {
	local ns

	ns=$(readlink "/proc/$1/ns/net" 2>/dev/null) && [ "$ns" != "$2" ]
}

# What seccomp state a restore could not give back is refused before any
# call is injected, naming pid and thread; the target runs on: a filter
# that sends user notifications (its listener can't be made again) ...
case_seccomp_notify() {
	target_up "$BUILD/bad-input/seccomp_refused" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" seccomp "user notification" && target_intact
}

# ... and filters of a thread with neither no_new_privs nor CAP_SYS_ADMIN
# (the restored thread could not install them).
case_seccomp_nocap() {
	target_up "$BUILD/bad-input/seccomp_refused" env SECCOMP_CASE=nocap || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" seccomp no_new_privs CAP_SYS_ADMIN && target_intact
}

# Seccomp in the images and an lmproc without CAP_SYS_ADMIN, which it
# needs to install it (PTRACE_O_SUSPEND_SECCOMP): refused before anything
# is made, naming the pid.
case_seccomp_no_admin() {
	local st

	target_up "$BUILD/bad-input/seccomp_refused" env SECCOMP_CASE=noadmin || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID"
	timeout -k 5 "$LM_TIMEOUT" capsh --drop=cap_sys_admin -- -c \
		'exec "$0" restore -D "$1" -d' "$LMPROC" "$RD/img" >"$RD/bad.out" 2>"$RD/bad.err"
	st=$?
	refused "$st" "$TPID" seccomp "lacks CAP_SYS_ADMIN" || { kill_ours "$TPID"; return 1; }
	no_process "$TPID"
}

# case_seccomp_image FIELD MASK WHY: the main thread's seccomp FIELD
# xor'ed with MASK (its chain naming a filter core-PID.img does not hold,
# strict mode with filters): restore refuses the image, saying WHY,
# before anything is made.
case_seccomp_image() {
	target_up "$BUILD/static/seccomp_filters" || return 1
	mkdir -p "$RD/pristine"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/pristine" || return 1
	reap_dumped "$TPID"
	IMG_WHY=$3 case_image "$RD/pristine" "$TPID" "core-$TPID.img" xor "1.50.$1" "$2"
}

# A unix connection between siblings makes images whose restore is
# refused (naming the root, which would have to make it): the dump's
# self-check refuses them, with and without -R, and the tree runs on.
case_sk_siblings() {
	target_up "$BUILD/bad-input/sk_siblings" || return 1
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" listener "would not restore" || return 1
	bad_lmproc dump -t "$TPID" -D "$RD/img" -R
	refused $? "$TPID" listener "would not restore" || return 1
	target_intact
}

# case_self_check_fault: a dump writing a core image restore refuses
# (LMPROC_FAULT=dump-image-invalid) is refused by its self-check, naming
# the image, before the kill: the target runs on as it was, no
# inventory.img is left, and a dump after it restores.
case_self_check_fault() {
	target_up || return 1
	mkdir -p "$RD/img"
	LMPROC_FAULT=dump-image-invalid bad_lmproc dump -t "$TPID" -D "$RD/img"
	ERRORS_ONLY=1 refused $? "$TPID" "core-$TPID.img" "would not restore" || return 1
	if [ -e "$RD/img/inventory.img" ]; then
		REASON="the refused dump left inventory.img"
		return 1
	fi
	same_state "$TPID" "$TSNAP" 1000 && target_runs || return 1
	must_lm dump "dump after the refused one" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	restored_passes "$RD/img"
}

# case_sk_listener_closed: a connection whose listener nobody holds any
# more can't be made again; the dump is refused.
case_sk_listener_closed() {
	SK_SIBLINGS_CLOSED=1 target_up "$BUILD/bad-input/sk_siblings" || return 1
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img" -R
	refused $? "$TPID" "was it closed" || return 1
	target_intact
}

# case_dump_fault POINT: a dump failing at POINT leaves the target as it
# was; a dump -R after it succeeds and leaves it as it was too.
case_dump_fault() {
	target_up || return 1
	mkdir -p "$RD/img" "$RD/img2"
	LMPROC_FAULT=$1 bad_lmproc dump -t "$TPID" -D "$RD/img"
	ERRORS_ONLY=1 refused $? || return 1
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="target changed by the failed dump: $REASON"
		return 1
	fi
	must_lm dump2 "dump -R after the failed dump" dump -t "$TPID" -D "$RD/img2" -R || return 1
	target_intact
}

# An epoll whose registered file no fd number leads to any more.
case_epoll_stale() {
	target_up "$BUILD/bad-input/epoll_stale" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 5" "fd 6" epoll && target_intact
}

# case_pipes_fault POINT: a dump failing at POINT, after the pipes' bytes
# were copied, leaves every pipe of fd_pipe holding exactly its bytes (the
# test checks them itself).
case_pipes_fault() {
	target_up "$BUILD/static/fd_pipe" || return 1
	mkdir -p "$RD/img"
	LMPROC_FAULT=$1 bad_lmproc dump -t "$TPID" -D "$RD/img"
	ERRORS_ONLY=1 refused $? || return 1
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="target changed by the failed dump: $REASON"
		return 1
	fi
	finish_original "$TPID"
}

# --- restore refusals --------------------------------------------------------

# dumped_target: a counting target dumped (and killed) into RD/img.
dumped_target() {
	target_up || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID"
}

# restored_passes IMGDIR: a real restore -d from IMGDIR gives a task that
# passes.
# term_verdict: SIGTERM to the restored target, then its own verdict.
term_verdict() {
	kill -TERM "$TPID"
	if ! wait_until 30000 file_ready "$TOUT"; then
		REASON="restored pid $TPID gave no verdict"
		return 1
	fi
	check_verdict
}

restored_passes() {
	must_lm restore "restore -d" restore -D "$1" -d || return 1
	same_state "$TPID" "$TSNAP" 3000 || return 1
	term_verdict
}

# case_pipe_half: a pipe with its read end outside the tree (here closed)
# is restored as a new pipe, and the restore says so naming pid and fd.
case_pipe_half() {
	target_up "$BUILD/bad-input/pipe_half" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	restored_passes "$RD/img" || return 1
	if ! grep -q "pid $TPID fd 7: the read end of its pipe was outside" "$RD/restore.log"; then
		REASON="restore.log has no warning naming pid $TPID fd 7"
		return 1
	fi
}

# case_pipe_inherit: the same pipe, restored with --inherit-fd onto a pipe
# of lmproc's whose reader is a cat into a file: what the restored task
# writes arrives there.  No state check: an end opened through another fd
# has O_LARGEFILE, which only pipe() leaves out.
case_pipe_inherit() {
	local key w out=$RD/inherited.out

	PIPE_HALF_INHERIT=1 target_up "$BUILD/bad-input/pipe_half" || return 1
	key=$(readlink "/proc/$TPID/fd/7")
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	exec {w}> >(exec cat >"$out")
	lm "$RD" restore restore -D "$RD/img" -d --inherit-fd "fd[$w]:$key"
	local st=$?
	exec {w}>&-
	if [ "$st" != 0 ]; then
		lm_failed "$RD" restore "$st" "restore --inherit-fd"
		return 1
	fi
	term_verdict || return 1
	wait_until 5000 grep -q restored "$out" 2>/dev/null ||
		{ REASON="nothing arrived through the inherited pipe"; return 1; }
	if grep -q "outside the tree" "$RD/restore.log"; then
		REASON="the restore still warned about the inherited pipe"
		return 1
	fi
}

# case_unix_ext_stream: a process whose fd 1 is a unix stream socket to a
# peer outside the tree (unixpeer, as journald for a service) dumps with
# --ext-unix-sk; a restore without --inherit-fd is refused naming the
# option and leaves nothing; with a socket of lmproc's connected to a new
# peer (unixconn) at fd 9, what the restored task writes reaches it.
case_unix_ext_stream() {
	local name="lmproc-ext-stream-$$-$RANDOM" key st

	"$BUILD/tools/unixpeer" "$name" "$RD/peer1.out" &
	UNIX_EXT_STREAM_PEER=$name target_up "$BUILD/bad-input/unix_ext_stream" || return 1
	key=$(readlink "/proc/$TPID/fd/1")
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" --ext-unix-sk || return 1
	reap_dumped "$TPID" || return 1
	bad_lmproc restore -D "$RD/img" -d
	ERRORS_ONLY=1 refused $? "--inherit-fd" "$key" || return 1
	no_process "$TPID" || return 1
	"$BUILD/tools/unixpeer" "$name-2" "$RD/peer2.out" &
	timeout -k 5 "$LM_TIMEOUT" "$BUILD/tools/unixconn" "$name-2" 9 "$LMPROC" restore \
		-D "$RD/img" -d --inherit-fd "fd[9]:$key" -v4 -o "$RD/restore.log" \
		2>"$RD/restore.err"
	st=$?
	if [ "$st" != 0 ]; then
		lm_failed "$RD" restore "$st" "restore --inherit-fd socket"
		return 1
	fi
	term_verdict || return 1
	grep -q before "$RD/peer1.out" || { REASON="the first peer got nothing"; return 1; }
	wait_until 5000 grep -q after "$RD/peer2.out" 2>/dev/null ||
		{ REASON="nothing reached the peer of the inherited socket"; return 1; }
}

# case_unix_ext_accepted: a server whose fd 1 is a connection its
# listener (fd 5) accepted from a client outside the tree (unixpeer -c, as
# psql for a database) dumps with --ext-unix-sk; a restore without
# --inherit-fd is refused naming the option and leaves nothing; with a
# socket of lmproc's connected to a new peer at fd 9, what the restored
# server writes reaches that peer, and its listener is back.
case_unix_ext_accepted() {
	local name="lmproc-ext-accept-$$-$RANDOM" key st

	"$BUILD/tools/unixpeer" -c "$name" "$RD/peer1.out" &
	UNIX_EXT_STREAM_PEER=$name UNIX_EXT_STREAM_SERVE=1 \
		target_up "$BUILD/bad-input/unix_ext_stream" || return 1
	key=$(readlink "/proc/$TPID/fd/1")
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" --ext-unix-sk || return 1
	reap_dumped "$TPID" || return 1
	bad_lmproc restore -D "$RD/img" -d
	ERRORS_ONLY=1 refused $? "--inherit-fd" "$key" || return 1
	no_process "$TPID" || return 1
	"$BUILD/tools/unixpeer" "$name-2" "$RD/peer2.out" &
	timeout -k 5 "$LM_TIMEOUT" "$BUILD/tools/unixconn" "$name-2" 9 "$LMPROC" restore \
		-D "$RD/img" -d --inherit-fd "fd[9]:$key" -v4 -o "$RD/restore.log" \
		2>"$RD/restore.err"
	st=$?
	if [ "$st" != 0 ]; then
		lm_failed "$RD" restore "$st" "restore --inherit-fd socket"
		return 1
	fi
	if ! grep -q "@$name" "/proc/net/unix"; then
		REASON="the restored server's listener @$name is not back"
		return 1
	fi
	term_verdict || return 1
	grep -q before "$RD/peer1.out" || { REASON="the first client got nothing"; return 1; }
	wait_until 5000 grep -q after "$RD/peer2.out" 2>/dev/null ||
		{ REASON="nothing reached the peer of the inherited socket"; return 1; }
}

# case_mmap_deleted_upgrade: a file deleted while mapped whose name a new
# file took (a library an upgrade replaced): the restored mapping has the
# old contents; the test checks them itself (its maps line then names an
# unnamed file of the directory, which the state check would refuse).
case_mmap_deleted_upgrade() {
	MMAP_DELETED_UPGRADE=1 target_up "$BUILD/static/mmap_deleted" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	must_lm restore "restore -d" restore -D "$RD/img" -d || return 1
	term_verdict
}

# case_exe_deleted: a process whose executable was deleted (replaced by
# an upgrade) comes back with it, deleted, as its exe and text.
case_exe_deleted() {
	cp "$BUILD/static/counter" "$RD/counter-deleted" || return 1
	target_up "$RD/counter-deleted" || return 1
	rm -f "$RD/counter-deleted"
	if ! TSNAP=$(stable_snapshot "$TPID"); then
		REASON="target $TPID died"
		return 1
	fi
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	restored_passes "$RD/img"
}

# vma_iter_used LOG: the dump in LOG read the VMAs through the BPF
# iterator (skip, status 2, where this kernel or lmproc's caps have none).
vma_iter_used() {
	if grep -q "The VMAs' flags come from /proc/PID/smaps" "$1"; then
		REASON="no BPF VMA iterator here: $(grep -m1 "flags come from" "$1" | cut -c1-160)"
		return 2
	fi
}

# case_vma_iter_same: with LMPROC_VMAS=check each round reads the VMAs of
# mem_attrs (a mapping per VmFlags bit a process can set) through the BPF
# iterator and through smaps, and fails unless the lines are the same: a
# pre-dump (no tracker yet) and a dump after it (every mapping
# write-protected by the tracker's userfaultfd, "uw").
case_vma_iter_same() {
	local tag

	target_up "$BUILD/static/mem_attrs" || return 1
	mkdir -p "$RD/1" "$RD/2"
	LMPROC_VMAS=check must_lm pre-dump "pre-dump" pre-dump -t "$TPID" -D "$RD/1" || return 1
	vma_iter_used "$RD/pre-dump.log" || return
	LMPROC_VMAS=check must_lm dump "dump" dump -t "$TPID" -D "$RD/2" \
		--prev-images-dir ../1 || return 1
	for tag in pre-dump dump; do
		if ! grep -q "pid $TPID: the VMA iterator's VMAs are smaps' own" "$RD/$tag.log"; then
			REASON="$tag.log does not say the iterator's VMAs of pid $TPID are smaps' own"
			return 1
		fi
	done
	reap_dumped "$TPID" || return 1
	restored_passes "$RD/2"
}

# case_vma_iter_many: 3,000 mappings, which the iterator gives in several
# reads (each holds 682 records at most), are smaps' own too.
case_vma_iter_many() {
	target_up "$BUILD/bad-input/vma_many" || return 1
	mkdir -p "$RD/img"
	LMPROC_VMAS=check must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	vma_iter_used "$RD/dump.log" || return
	if ! grep -q "pid $TPID: the VMA iterator's VMAs are smaps' own" "$RD/dump.log"; then
		REASON="dump.log does not say the iterator's VMAs of pid $TPID are smaps' own"
		return 1
	fi
	reap_dumped "$TPID" || return 1
	restored_passes "$RD/img"
}

# case_vma_iter_unlearnt: a mapping with a vm_flags bit the calibration
# did not learn (LMPROC_FAULT=vma-iter-forget-lo forgets mlock's) makes
# the dump read smaps, saying so; the process comes back exactly.
case_vma_iter_unlearnt() {
	target_up "$BUILD/static/mem_attrs" || return 1
	mkdir -p "$RD/img"
	LMPROC_FAULT=vma-iter-forget-lo must_lm dump "dump" dump -t "$TPID" -D "$RD/img" ||
		return 1
	vma_iter_used "$RD/dump.log" || return
	if ! grep -q "pid $TPID: mapping 0x[0-9a-f]*-0x[0-9a-f]* has vm_flags bit [0-9]*, which the VMA iterator's calibration did not see: reading smaps" "$RD/dump.log"; then
		REASON="dump.log does not say that pid $TPID's locked mapping needs smaps"
		return 1
	fi
	reap_dumped "$TPID" || return 1
	restored_passes "$RD/img"
}

# case_vma_iter_no_bpf: an lmproc without CAP_BPF, CAP_PERFMON and
# CAP_SYS_ADMIN (capsh takes them from the bounding set) can't load the
# VMA iterator: the dump reads smaps, says why once, and the process comes
# back exactly.
case_vma_iter_no_bpf() {
	target_up "$BUILD/static/mem_attrs" || return 1
	mkdir -p "$RD/img"
	timeout -k 5 "$LM_TIMEOUT" capsh --drop=cap_bpf,cap_perfmon,cap_sys_admin -- -c \
		'exec "$0" dump -t "$1" -D "$2" -v4 -o "$3"' "$LMPROC" "$TPID" "$RD/img" \
		"$RD/dump.log" >"$RD/bad.out" 2>"$RD/bad.err" ||
		{ lm_failed "$RD" dump $? "dump without CAP_BPF"; return 1; }
	if [ "$(grep -c "The VMAs' flags come from /proc/PID/smaps: can't load" "$RD/dump.log")" != 1 ]; then
		REASON="dump.log does not say once that the VMAs come from smaps without the iterator"
		return 1
	fi
	reap_dumped "$TPID" || return 1
	restored_passes "$RD/img"
}

# case_timer_ids_by_trial: without PR_TIMER_CREATE_RESTORE_IDS (Linux
# 6.17) the restorer creates timers until the kernel hands out each id;
# forced here (LMPROC_FAULT=timer-ids-by-trial), the posix_timers test
# must come back with every timer as it was.
case_timer_ids_by_trial() {
	target_up "$BUILD/static/posix_timers" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	LMPROC_FAULT=timer-ids-by-trial restored_passes "$RD/img"
}

# case_restore_fault POINT: a restore failing at POINT leaves no process
# behind, and the images still restore afterwards.
case_restore_fault() {
	dumped_target || return 1
	LMPROC_FAULT=$1 bad_lmproc restore -D "$RD/img" -d
	ERRORS_ONLY=1 refused $? || { kill_ours "$TPID"; return 1; }
	no_process "$TPID" || return 1
	if ! restored_passes "$RD/img"; then
		REASON="restore after the failed one: $REASON"
		return 1
	fi
}

# The pid is taken (dump -R, original still running): the restore must say
# so, and the original must not notice.
case_pid_taken() {
	target_up || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump -R" dump -t "$TPID" -D "$RD/img" -R || return 1
	bad_lmproc restore -D "$RD/img" -d
	refused $? "$TPID" && target_intact
}

# --- damaged images ----------------------------------------------------------

# case_image PRISTINE PID FILE OP [ARG...]: a copy of the PRISTINE images
# with FILE damaged by OP (rm, or an imgmangle command) must be refused
# naming FILE, leaving no process with PID.  Field edits (tag, xor, max)
# are resealed (imgmangle reseal): they test the validation behind the
# checksums.
case_image() {
	local pristine=$1 pid=$2 file=$3 op=$4 st

	shift 4
	cp -a "$pristine" "$RD/img"
	if [ ! -e "$RD/img/$file" ]; then
		REASON="the dump wrote no $file"
		return 1
	fi
	if [ "$op" = rm ]; then
		rm "$RD/img/$file"
	elif ! "$BUILD/tools/imgmangle" "$op" "$RD/img/$file" "$@" >"$RD/mangle.out" 2>&1; then
		REASON="imgmangle $op $file $*: $(head -n 1 "$RD/mangle.out")"
		return 1
	fi
	case "$op" in
	tag|xor|max|huge) "$BUILD/tools/imgmangle" reseal "$RD/img/$file" || return 1 ;;
	esac
	bad_lmproc restore -D "$RD/img" -d
	st=$?
	refused "$st" "$file" ${IMG_WHY:+"$IMG_WHY"} || { kill_ours "$pid"; return 1; }
	no_process "$pid"
}

# case_creds_beyond PRISTINE PID CAP [XOR_PATH MASK]: images restored by an
# lmproc without capability CAP (capsh takes it from the bounding set, so
# lmproc's root has it nowhere), the core image's field XOR_PATH xor'ed
# with MASK first if given: the dumped credentials claim CAP, and the
# restore must be refused before anything is created, naming the pid and
# CAP, leaving no process with PID.
case_creds_beyond() {
	local pristine=$1 pid=$2 cap=$3 st

	cp -a "$pristine" "$RD/img"
	if [ $# -gt 3 ] && ! "$BUILD/tools/imgmangle" xor "$RD/img/core-$pid.img" "$4" "$5" \
		>"$RD/mangle.out" 2>&1; then
		REASON="imgmangle xor core-$pid.img $4 $5: $(head -n 1 "$RD/mangle.out")"
		return 1
	fi
	if [ $# -gt 3 ] && ! "$BUILD/tools/imgmangle" reseal "$RD/img/core-$pid.img"; then
		REASON="imgmangle reseal core-$pid.img failed"
		return 1
	fi
	timeout -k 5 "$LM_TIMEOUT" capsh --drop="$cap" -- -c \
		'exec "$0" restore -D "$1" -d' "$LMPROC" "$RD/img" >"$RD/bad.out" 2>"$RD/bad.err"
	st=$?
	refused "$st" "$pid" "$cap" || { kill_ours "$pid"; return 1; }
	no_process "$pid"
}

# pristine_restore IMGDIR PID SNAP OUT: restored_passes for a target
# dumped by an earlier case.
pristine_restore() {
	TPID=$2
	TSNAP=$3
	TOUT=$4
	restored_passes "$1"
}

run_image_cases() {
	local pristine pid snap out

	bad_case make-images dumped_target || return
	pristine=$RD/img
	pid=$TPID
	snap=$TSNAP
	out=$TOUT
	bad_case core-cut case_image "$pristine" "$pid" "core-$pid.img" cut
	bad_case mm-cut case_image "$pristine" "$pid" "mm-$pid.img" cut
	bad_case pagemap-cut case_image "$pristine" "$pid" "pagemap-$pid.img" cut
	bad_case pages-cut case_image "$pristine" "$pid" "pages-$pid.img" cut
	bad_case core-flip case_image "$pristine" "$pid" "core-$pid.img" tag
	bad_case mm-flip case_image "$pristine" "$pid" "mm-$pid.img" tag
	bad_case pagemap-flip case_image "$pristine" "$pid" "pagemap-$pid.img" tag
	bad_case core-huge-length case_image "$pristine" "$pid" "core-$pid.img" len
	bad_case files-cut case_image "$pristine" "$pid" files.img cut
	bad_case fdinfo-flip case_image "$pristine" "$pid" "fdinfo-$pid.img" tag
	bad_case inventory-missing case_image "$pristine" "$pid" inventory.img rm
	bad_case inventory-version case_image "$pristine" "$pid" inventory.img max 1
	bad_case mm-vma-unaligned case_image "$pristine" "$pid" "mm-$pid.img" xor '14#0.2' 1
	bad_case pagemap-too-many-pages case_image "$pristine" "$pid" "pagemap-$pid.img" max 2
	bad_case pstree-cut case_image "$pristine" "$pid" pstree.img cut
	bad_case pstree-other-root case_image "$pristine" "$pid" pstree.img max 1
	# Behind valid checksums (resealed) too: a uint32 given 2^40 + its
	# value is refused naming the field, not cut back to the value.
	IMG_WHY="out of range" bad_case fdinfo-huge-varint case_image "$pristine" "$pid" \
		"fdinfo-$pid.img" huge 0
	IMG_WHY="out of range" bad_case pstree-huge-varint case_image "$pristine" "$pid" \
		pstree.img huge 0
	# Checksums: one bit of the pages, a record-boundary truncation.
	IMG_WHY=checksum bad_case pages-bit case_image "$pristine" "$pid" "pages-$pid.img" bit 100 3
	IMG_WHY=trailer bad_case fdinfo-cut-at-record case_image "$pristine" "$pid" \
		"fdinfo-$pid.img" cutrec 1000001
	IMG_WHY=corrupt bad_case files-data-bit case_image "$pristine" "$pid" files-data.img \
		bit 0 0
	bad_case creds-cap-restorer-lacks case_creds_beyond "$pristine" "$pid" cap_net_raw
	# Thread creds (1.12), permitted set (11): CAP_SYS_RESOURCE (bit 24).
	bad_case creds-cap-added case_creds_beyond "$pristine" "$pid" cap_sys_resource \
		1.12.11 16777216
	# After all that, the pristine images still restore: the refusals
	# above were about the damage, not about the images.
	bad_case pristine-images-restore pristine_restore "$pristine" "$pid" "$snap" "$out"
}

# --- pre-dump chains ---------------------------------------------------------

# round DIR [PREV]: a pre-dump of TPID into RD/DIR (after round RD/PREV)
# that must succeed and leave the target as it was.
round() {
	mkdir -p "$RD/$1"
	must_lm "$1" "pre-dump into $1" pre-dump -t "$TPID" -D "$RD/$1" ${2:+--prev-images-dir "../$2"} || return 1
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="after pre-dump $1: $REASON"
		return 1
	fi
}

# final_round DIR PREV: the final dump of TPID into RD/DIR after RD/PREV.
final_round() {
	mkdir -p "$RD/$1"
	must_lm "$1" "final dump into $1" dump -t "$TPID" -D "$RD/$1" --prev-images-dir "../$2" || return 1
	reap_dumped "$TPID"
}

# case_prev_missing CMD: CMD (dump or pre-dump) after a round that does
# not exist.
case_prev_missing() {
	target_up || return 1
	mkdir -p "$RD/r2"
	bad_lmproc "$1" -t "$TPID" -D "$RD/r2" --prev-images-dir ../no-such-round
	refused $? no-such-round && target_intact
}

# The previous round is another process's.
case_prev_other_process() {
	local other

	target_up || return 1
	round r1 || return 1
	other=$TPID
	kill_ours "$other"
	# Its status is written before the next target's spawn starts.
	spawn_status test 5000 >/dev/null
	target_up || return 1
	mkdir -p "$RD/r2"
	bad_lmproc dump -t "$TPID" -D "$RD/r2" --prev-images-dir ../r1
	refused $? "$other" "$TPID" && target_intact
}

# The previous "round" is a full dump (-R), not a pre-dump.
case_prev_full_dump() {
	target_up || return 1
	mkdir -p "$RD/full" "$RD/r2"
	must_lm full "dump -R" dump -t "$TPID" -D "$RD/full" -R || return 1
	bad_lmproc dump -t "$TPID" -D "$RD/r2" --prev-images-dir ../full
	refused $? full && target_intact
}

# A chain begun anew (a first round while an earlier chain's keeper still
# tracks the process) takes the tracking over: its writes are tracked
# (no VMA refused by the old userfaultfd) and its next round is
# incremental.
case_pre_dump_anew() {
	target_up || return 1
	round a1 && round b1 || return 1
	if grep -q "can't track writes" "$RD/b1.err" "$RD/b1.log"; then
		REASON="the new chain's first round: $(cat "$RD/b1.err" "$RD/b1.log" |
			grep -m1 "can't track" | cut -c1-160)"
		return 1
	fi
	round b2 b1 || return 1
	if [ "$(stat_of "$RD/b2" incremental)" != true ]; then
		REASON="the new chain's second round was not incremental"
		return 1
	fi
	target_intact
}

# Round 1 of a chain of two lost its inventory: the final dump must not
# build on it.
case_prev_hole() {
	target_up || return 1
	round r1 && round r2 r1 || return 1
	rm "$RD/r1/inventory.img"
	mkdir -p "$RD/r3"
	bad_lmproc dump -t "$TPID" -D "$RD/r3" --prev-images-dir ../r2
	refused $? r1 && target_intact
}

# case_pre_dump_fault POINT ROUND: pre-dump round ROUND (1 or 2) fails at
# POINT: the writer keeps running exactly as before (after a failed first
# round, no longer tracked at all), and a chain continued from the last
# good round still restores every write.
case_pre_dump_fault() {
	local prev=""

	target_up "$BUILD/static/predump_writer" || return 1
	if [ "$2" = 2 ]; then
		round r1 || return 1
		prev=r1
	fi
	mkdir -p "$RD/bad"
	LMPROC_FAULT=$1 bad_lmproc pre-dump -t "$TPID" -D "$RD/bad" \
		${prev:+--prev-images-dir "../$prev"}
	ERRORS_ONLY=1 refused $? || return 1
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="target changed by the failed pre-dump: $REASON"
		return 1
	fi
	target_runs || return 1
	if [ -z "$prev" ] && ! wait_until 2000 untracked "$TPID"; then
		REASON="the failed first round left pid $TPID tracked"
		return 1
	fi
	round r2 ${prev:+"$prev"} && final_round r3 r2 || return 1
	if ! restored_passes "$RD/r3"; then
		REASON="restore after the failed round: $REASON"
		return 1
	fi
}

# The keeper holding the tracker dies between rounds: the next round warns
# and copies everything, the one after is incremental again, and the
# restore is exact.
case_keeper_lost() {
	local keeper st v

	target_up "$BUILD/static/predump_writer" || return 1
	round r1 && round r2 r1 || return 1
	if ! keeper=$(keeper_of "$TPID"); then
		REASON="no tracking keeper found for pid $TPID after two pre-dumps"
		return 1
	fi
	kill -KILL "$keeper"
	wait_until 2000 no_keeper "$TPID"
	mkdir -p "$RD/r3"
	bad_lmproc pre-dump -t "$TPID" -D "$RD/r3" --prev-images-dir ../r2
	st=$?
	if [ "$st" != 0 ]; then
		REASON="pre-dump after the keeper's death exited $st: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	if ! grep -q '^Warning.*'"$TPID" "$RD/bad.err"; then
		REASON="no warning naming pid $TPID that the tracking was lost"
		add_detail "stderr" "$RD/bad.err" 3
		return 1
	fi
	v=$(stat_of "$RD/r3" pages_skipped_parent)
	if [ "$v" != 0 ] || [ "$(stat_of "$RD/r3" incremental)" = true ]; then
		REASON="the round without a keeper took ${v:-?} pages from its parent"
		return 1
	fi
	same_state "$TPID" "$TSNAP" 1000 && target_runs || return 1
	final_round r4 r3 || return 1
	if [ "$(stat_of "$RD/r4" incremental)" != true ]; then
		REASON="the round after the keeper's death did not arm a new tracker"
		REASON+=" (the final dump was not incremental)"
		return 1
	fi
	restored_passes "$RD/r4"
}

# case_pre_dump_shm KIND: predump_writer's pages in shared memory (anon
# or sysv): each round copies the object, but only the pages that changed
# since the last round's copy (the others in_parent); the restore of the
# chain is exact.  shm_chain_lost: round 1's shared pages gone, the
# restore refuses naming them, nothing made.
case_pre_dump_shm() {
	local v w

	PREDUMP_SHM=$1 target_up "$BUILD/static/predump_writer" || return 1
	round r1 && round r2 r1 && final_round r3 r2 || return 1
	v=$(stat_of "$RD/r3" shmem_pages_in_parent)
	w=$(stat_of "$RD/r3" shmem_pages_written)
	# 65,536 pages, a few thousand rewritten between two rounds.
	if [ "${v:-0}" -lt 40000 ] || [ "${w:-99999}" -gt 20000 ]; then
		REASON="the final dump wrote ${w:-?} shared pages and left ${v:-?} in its parent"
		return 1
	fi
	if [ "$(stat_of "$RD/r2" shmem_pages_in_parent)" -lt 40000 ]; then
		REASON="round 2 left $(stat_of "$RD/r2" shmem_pages_in_parent) pages in round 1"
		return 1
	fi
	DETAIL="final dump: $w shared pages written, $v in parent"
	if [ "${2:-}" = lost ]; then
		mv "$RD/r1/shmem-pages.img" "$RD/r1/gone.img"
		bad_lmproc restore -D "$RD/r3" -d
		ERRORS_ONLY=1 refused $? "r1" "shmem-pages.img" || return 1
		mv "$RD/r1/gone.img" "$RD/r1/shmem-pages.img"
	fi
	restored_passes "$RD/r3"
}

# A final dump -R ends the tracking (the target keeps running untracked and
# unchanged), and its chain restores.
case_final_dump_leave_running() {
	target_up || return 1
	round r1 && round r2 r1 || return 1
	mkdir -p "$RD/r3"
	must_lm r3 "final dump -R" dump -t "$TPID" -D "$RD/r3" --prev-images-dir ../r2 -R || return 1
	if ! wait_until 2000 untracked "$TPID"; then
		REASON="pid $TPID is still tracked after the final dump -R"
		no_keeper "$TPID" || REASON+=" (its keeper runs)"
		return 1
	fi
	same_state "$TPID" "$TSNAP" 1000 && target_runs || return 1
	finish_original "$TPID" || return 1
	rm -f "$TOUT"
	restored_passes "$RD/r3"
}

# --- process state beyond a single test program ------------------------------

# A task in a process group whose leader has exited (the group lives on
# through another member): the restore must put it back in that group.
case_orphaned_pgrp() {
	orphaned_pgrp_steps
	local st=$?

	kill_leftovers
	return "$st"
}

orphaned_pgrp_steps() {
	target_up "$BUILD/static/counter" "$BUILD/tools/pgleader" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	if ! restored_passes "$RD/img"; then
		add_detail "lmproc restore log" "$RD/restore.log" 3
		return 1
	fi
}

# case_zombie_pgrp: zombies whose group leader is gone (zombie_pgrp.c),
# dumped and restored 10 times (at most 60 s): the restore's order put
# them back in their parent's group 4 runs in 10.
case_zombie_pgrp() {
	local k start=$SECONDS

	for k in $(seq 10); do
		if [ "$SECONDS" -gt "$((start + 60))" ]; then
			REASON="10 runs took more than 60 s (run $k)"
			return 1
		fi
		zombie_pgrp_run "$k" || { REASON="run $k: $REASON"; return 1; }
	done
}

zombie_pgrp_run() {
	target_up "$BUILD/static/zombie_pgrp" || return 1
	mkdir -p "$RD/img$1"
	must_lm "dump$1" "dump" dump -t "$TPID" -D "$RD/img$1" || return 1
	reap_dumped "$TPID" || return 1
	if ! restored_passes "$RD/img$1"; then
		add_detail "lmproc restore log" "$RD/restore.log" 3
		return 1
	fi
}

# case_timers_thread: timers_thread.c dumped and restored 10 times, every
# other time after two pre-dumps (at most 60 s): signal 32 of its
# SIGEV_THREAD timers killed it during the restore.
case_timers_thread() {
	local k start=$SECONDS

	for k in $(seq 10); do
		if [ "$SECONDS" -gt "$((start + 60))" ]; then
			REASON="10 runs took more than 60 s (run $k)"
			return 1
		fi
		timers_thread_run "$k" $((k % 2)) || { REASON="run $k: $REASON"; return 1; }
	done
}

timers_thread_run() {
	local img=$RD/img$1 prev=""

	target_up "$BUILD/bad-input/timers_thread" || return 1
	if [ "$2" = 1 ]; then
		mkdir -p "$img-1" "$img-2"
		must_lm "pre$1-1" "pre-dump 1" pre-dump -t "$TPID" -D "$img-1" || return 1
		must_lm "pre$1-2" "pre-dump 2" pre-dump -t "$TPID" -D "$img-2" \
			--prev-images-dir "../img$1-1" || return 1
		prev="../img$1-2"
	fi
	mkdir -p "$img"
	must_lm "dump$1" "dump" dump -t "$TPID" -D "$img" ${prev:+--prev-images-dir "$prev"} ||
		return 1
	reap_dumped "$TPID" || return 1
	must_lm "restore$1" "restore -d" restore -D "$img" -d || return 1
	term_verdict
}

# restore --pidns: the tree comes back in a new pid namespace while the
# dumped one still runs on the host with the same pids; both pass.  The
# tree leads its own session (setsid), which the namespace can show.
case_pidns() {
	pidns_steps "${1:-$BUILD/static/tree_basic}"
	local st=$?

	[ -n "${PIDNS_INIT:-}" ] && kill -KILL "$PIDNS_INIT" 2>/dev/null
	kill_leftovers
	return "$st"
}

pidns_steps() {
	local st host

	PIDNS_INIT=
	target_up "$1" setsid || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump -R" dump -t "$TPID" -D "$RD/img" -R || return 1
	must_lm restore "restore --pidns" restore -D "$RD/img" --pidns -d || return 1
	host=$(sed -n 's/.*its root pid [0-9]* is pid \([0-9]*\) here.*/\1/p' "$RD/restore.log")
	if [ -z "$host" ]; then
		REASON="restore --pidns did not say the root's pid on the host"
		return 1
	fi
	PIDNS_INIT=$(ps -o ppid= -p "$host" | tr -d ' ')
	rm -f "$TOUT"
	kill -TERM "$host"
	if ! wait_until 30000 file_ready "$TOUT"; then
		REASON="the restored copy (pid $host here) gave no verdict within 30 s"
		return 1
	fi
	check_verdict || { REASON="restored copy: $REASON"; return 1; }
	rm -f "$TOUT"
	if ! finish_original "$TPID"; then
		REASON="the original: $REASON"
		return 1
	fi
}

# inner_pids HOST: the pids HOST and its descendants have in their own pid
# namespace (the last of NSpid), sorted.
inner_pids() {
	local p kids

	awk '/^NSpid:/ { print $NF }' "/proc/$1/status" 2>/dev/null
	kids=$(cat /proc/"$1"/task/*/children 2>/dev/null)
	for p in $kids; do
		inner_pids "$p"
	done
}

# pidns_host TAG: the root's pid here, from lmproc TAG's log of a restore
# --pidns; its namespace's init in PIDNS_INITS.
pidns_host() {
	PHOST=$(sed -n 's/.*its root pid [0-9]* is pid \([0-9]*\) here.*/\1/p' "$RD/$1.log")
	if [ -z "$PHOST" ]; then
		REASON="$1 did not say the root's pid on the host"
		return 1
	fi
	PIDNS_INITS+=" $(ps -o ppid= -p "$PHOST" | tr -d ' ')"
}

# restore --pidns, then dump the restored tree by its pid here and restore
# that again: its images name the pids the tree sees (restore without
# --pidns is refused, naming the namespace), and the second copy sees the
# same pids as the first and passes its own checks (memory included).
case_pidns_again() {
	pidns_again_steps "${1:-$BUILD/static/tree_basic}"
	local st=$? p

	for p in ${PIDNS_INITS:-}; do
		[ "$p" != 1 ] && kill -KILL "$p" 2>/dev/null
	done
	kill_leftovers
	return "$st"
}

pidns_again_steps() {
	local first second

	PIDNS_INITS=
	target_up "$1" setsid || return 1
	mkdir -p "$RD/img" "$RD/img2"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	must_lm restore "restore --pidns" restore -D "$RD/img" --pidns -d || return 1
	pidns_host restore || return 1
	first=$(inner_pids "$PHOST" | sort -n | tr '\n' ' ')
	must_lm dump2 "the dump of the restored tree (pid $PHOST here)" \
		dump -t "$PHOST" -D "$RD/img2" || return 1
	reap_dumped "$PHOST" || return 1
	bad_lmproc restore -D "$RD/img2" -d
	refused $? "pid $TPID" "pid namespace" "--pidns" || return 1
	must_lm restore2 "the second restore --pidns" restore -D "$RD/img2" --pidns -d || return 1
	pidns_host restore2 || return 1
	second=$(inner_pids "$PHOST" | sort -n | tr '\n' ' ')
	if [ "$first" != "$second" ] || [ "$(inner_pids "$PHOST" | head -n 1)" != "$TPID" ]; then
		REASON="the tree sees pids '$second' after the second restore, '$first' after the \
first (root $TPID)"
		return 1
	fi
	# Its /proc is its namespace's: there its root is TPID and nothing else.
	if [ "$(awk '/^NSpid:/ { $1 = ""; print }' "/proc/$PHOST/root/proc/$TPID/status" |
		tr -d ' \t')" != "$TPID" ]; then
		REASON="the /proc of the copy restored twice does not show it as pid $TPID alone"
		return 1
	fi
	rm -f "$TOUT"
	kill -TERM "$PHOST"
	if ! wait_until 30000 file_ready "$TOUT"; then
		REASON="the copy restored twice (pid $PHOST here) gave no verdict within 30 s"
		return 1
	fi
	check_verdict || { REASON="the copy restored twice: $REASON"; return 1; }
}

# A tree restore --pidns made, dumped in part: its namespace's init alone
# (the init of a pid namespace other than lmproc's), or a child of its
# root (the namespace holds the root, no part of that tree): each refused
# in one line naming the pid; the tree runs on and passes.
case_pidns_again_refused() {
	pidns_refused_steps
	local st=$? p

	for p in ${PIDNS_INITS:-}; do
		[ "$p" != 1 ] && kill -KILL "$p" 2>/dev/null
	done
	kill_leftovers
	return "$st"
}

pidns_refused_steps() {
	local init child p

	PIDNS_INITS=
	target_up "$BUILD/static/tree_basic" setsid || return 1
	mkdir -p "$RD/img" "$RD/img2"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	must_lm restore "restore --pidns" restore -D "$RD/img" --pidns -d || return 1
	pidns_host restore || return 1
	init=${PIDNS_INITS# }
	bad_lmproc dump -t "$init" -D "$RD/img2"
	refused $? "pid $init" "init of its pid namespace" || return 1
	child=$(cat /proc/"$PHOST"/task/*/children | tr ' ' '\n' | while read -r p; do
		[ "$(awk '{ print $3 }' "/proc/$p/stat")" != Z ] && echo "$p"; done | head -n 1)
	bad_lmproc dump -t "$child" -D "$RD/img2"
	refused $? "pid $child" "holds pid $TPID there" "not part of the tree" || return 1
	rm -f "$TOUT"
	kill -TERM "$PHOST"
	if ! wait_until 30000 file_ready "$TOUT"; then
		REASON="the restored tree (pid $PHOST here) gave no verdict within 30 s"
		return 1
	fi
	check_verdict || { REASON="the restored tree after the refusals: $REASON"; return 1; }
}

# case_pidns_foreign [--mount-proc]: the counting test as pid 2 of a pid
# namespace unshare(1) made, under a shell as its init.  With a /proc of
# that namespace (--mount-proc): dumped with the pid it sees, restored
# --pidns at that pid, it passes.  With lmproc's /proc (no --mount-proc):
# refused in one line, naming the pid, and it runs on and passes.
case_pidns_foreign() {
	pidns_foreign_steps "$@"
	local st=$? p

	for p in ${PIDNS_INITS:-}; do
		[ "$p" != 1 ] && kill -KILL "$p" 2>/dev/null
	done
	kill_leftovers
	return "$st"
}

pidns_foreign_steps() {
	local sh host inner

	PIDNS_INITS=
	# shellcheck disable=SC2016 # the shell's own "$@"
	start_test "$BUILD/static/counter" unshare -pf "$@" --kill-child sh -c '"$@" & wait' sh ||
		return 1
	sh=$(cat "/proc/$SPAWNED/task/$SPAWNED/children")
	host=$(cat "/proc/${sh%% *}/task/${sh%% *}/children")
	host=${host%% *}
	inner=$(awk '/^NSpid:/ { print $NF }' "/proc/$host/status")
	if [ -z "$host" ] || [ "$inner" != "$TPID" ]; then
		REASON="no counting test at pid $TPID of the new namespace (here: '$host')"
		return 1
	fi
	track_pid "$host"
	mkdir -p "$RD/img"
	if [ $# = 0 ]; then
		bad_lmproc dump -t "$host" -D "$RD/img"
		refused $? "pid $host" "sees lmproc's /proc" || return 1
	else
		must_lm dump "dump" dump -t "$host" -D "$RD/img" || return 1
		reap_dumped "$host" || return 1
		must_lm restore "restore --pidns" restore -D "$RD/img" --pidns -d || return 1
		pidns_host restore || return 1
		if [ "$(inner_pids "$PHOST")" != "$TPID" ]; then
			REASON="the restored copy sees pid $(inner_pids "$PHOST"), not $TPID"
			return 1
		fi
		host=$PHOST
	fi
	rm -f "$TOUT"
	kill -TERM "$host"
	if ! wait_until 30000 file_ready "$TOUT"; then
		REASON="the counting test (pid $host here) gave no verdict within 30 s"
		return 1
	fi
	check_verdict
}

# --- the harness itself --------------------------------------------------------

# One inverted byte in the middle of the heap test's page data, its
# checksum resealed: the restore cannot notice, but the restored test
# must, or the suite could pass anything.
case_harness_sees_corruption() {
	local st v

	target_up "$BUILD/static/heap" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	"$BUILD/tools/imgmangle" flip "$RD/img/pages-$TPID.img" || return 1
	"$BUILD/tools/imgmangle" reseal "$RD/img/pages-$TPID.img" || return 1
	must_lm restore "restore -d" restore -D "$RD/img" -d || return 1
	kill -TERM "$TPID"
	wait_until 30000 file_ready "$TOUT"
	v=$(cat "$TOUT" 2>/dev/null)
	case "$v" in
	"FAIL: heap page"*) return 0 ;;
	PASS) REASON="the heap test passed with a corrupted page" ;;
	*) REASON="the heap test did not name the corrupted page: ${v:-no verdict}" ;;
	esac
	return 1
}

# writer_chain: the pre-dump writer through two pre-dumps and a final
# dump into RD/r1..r3; WDATA is the address of its data area.
writer_chain() {
	target_up "$BUILD/static/predump_writer" || return 1
	WDATA=$(sed -n 's/.*data at \(0x[0-9a-f]*\),.*/\1/p' "$TLOG")
	if [ -z "$WDATA" ]; then
		REASON="the writer's log does not say where its data is"
		return 1
	fi
	round r1 && sleep 0.3 && round r2 r1 && sleep 0.3 && final_round r3 r2
}

# writer_damaged CHAIN PATTERN: restore the damaged copy CHAIN/r3 of a
# writer chain; the writer must fail with a verdict matching PATTERN.
writer_damaged() {
	local st v

	must_lm restore "restore -d" restore -D "$1/r3" -d || return 1
	kill -TERM "$TPID"
	wait_until 30000 file_ready "$TOUT"
	wait_until 5000 not_alive "$TPID"
	v=$(cat "$TOUT" 2>/dev/null)
	rm -f "$TOUT"
	# shellcheck disable=SC2254 # $2 is a pattern
	case "$v" in
	$2) return 0 ;;
	PASS) REASON="the writer passed with a damaged page" ;;
	*) REASON="the writer did not name the damaged page ($2): ${v:-no verdict}" ;;
	esac
	return 1
}

# The writer's checks can fail: one byte of a page the final round holds
# (a write the chain would have lost), and one byte of a cold page in
# round 1 that the final round points to through round 2.
case_writer_sees_damage() {
	local v n off pg cold lo hi a

	writer_chain || return 1
	cp -a "$RD" "$RD.cold"
	# A written page past the hot set (the first 256 pages), which the
	# restored writer is unlikely to rewrite before it gets SIGTERM.
	lo=$((WDATA + 256 * 4096))
	hi=$((WDATA + (256 << 20)))
	pg=""
	while read -r v n off; do
		a=$((v > lo ? v : lo))
		if [ "$a" -lt $((v + n * 4096)) ] && [ "$a" -lt "$hi" ]; then
			pg=$(((a - WDATA) / 4096))
			off=$((off + a - v))
			break
		fi
	done < <(stored_runs "$RD/r3" "$TPID")
	if [ -z "$pg" ]; then
		REASON="the final round holds no written page of the writer's data"
		return 1
	fi
	"$BUILD/tools/imgmangle" flip "$RD/r3/pages-$TPID.img" $((off + 2048)) || return 1
	"$BUILD/tools/imgmangle" reseal "$RD/r3/pages-$TPID.img" || return 1
	writer_damaged "$RD" "FAIL: page $pg (*" || return 1

	cold=8000
	if page_offset "$RD/r3" "$TPID" $((WDATA + cold * 4096)) >/dev/null ||
	   ! off=$(page_offset "$RD/r1" "$TPID" $((WDATA + cold * 4096))); then
		REASON="cold page $cold is not in round 1 only"
		return 1
	fi
	"$BUILD/tools/imgmangle" flip "$RD.cold/r1/pages-$TPID.img" $((off + 100)) || return 1
	"$BUILD/tools/imgmangle" reseal "$RD.cold/r1/pages-$TPID.img" || return 1
	writer_damaged "$RD.cold" "FAIL: cold page $cold *"
}

# The adversary's checks can fail: one byte of a page of its `dirty`
# region that only the final round holds.
case_adversary_sees_damage() {
	local at a v n off st

	target_up "$BUILD/static/predump_adversary" || return 1
	at=$(sed -n 's/.*region dirty at \(0x[0-9a-f]*\),.*/\1/p' "$TLOG")
	if [ -z "$at" ]; then
		REASON="the adversary's log does not say where its dirty region is"
		return 1
	fi
	# shellcheck disable=SC2034 # the state pre_dump_chain (run.sh) keeps
	CKPT_SNAP=$TSNAP
	pre_dump_chain "$TPID" predump_adversary "" || return 1
	a=""
	while read -r v n off; do
		if [ "$v" -ge $((at)) ] && [ "$v" -lt $((at + 256 * 4096)) ]; then
			a=$(((v - at) / 4096))
			break
		fi
	done < <(stored_runs "$IMG" "$TPID")
	if [ -z "$a" ]; then
		REASON="the final round holds no page of the dirty region"
		return 1
	fi
	"$BUILD/tools/imgmangle" flip "$IMG/pages-$TPID.img" $((off + 8)) || return 1
	"$BUILD/tools/imgmangle" reseal "$IMG/pages-$TPID.img" || return 1
	must_lm restore "restore -d" restore -D "$IMG" -d || return 1
	kill -TERM "$TPID"
	wait_until 30000 file_ready "$TOUT"
	v=$(cat "$TOUT" 2>/dev/null)
	case "$v" in
	PASS) REASON="the adversary passed with a damaged page" ;;
	FAIL*) grep -q "dirty page $a (.*) after round 3 differs at byte 8:" "$TLOG" && return 0
	       REASON="the adversary did not name dirty page $a: $v" ;;
	*) REASON="no verdict from the adversary" ;;
	esac
	return 1
}

run_bad_input() {
	bad_case no-such-pid case_no_such_pid
	bad_case pid-1 case_pid_1
	bad_case lmproc-itself case_self
	bad_case already-traced case_traced
	bad_case missing-dir case_missing_dir
	bad_case dir-under-a-file case_dir_under_file
	bad_case read-only-dir case_readonly_dir
	bad_case unsupported-fd case_unsupported_fd
	bad_case mem-droppable case_mem_droppable
	bad_case mem-memfd-private case_mem_memfd_private
	bad_case tcp-established case_tcp_established
	bad_case socket-ebpf-filter case_sk_opt_refused bpf "eBPF socket filter"
	bad_case socket-tcp-md5 case_sk_opt_refused md5 TCP_MD5SIG
	bad_case tree-unsupported-fd case_tree_unsupported
	bad_case socket-packet-ring case_sk_packet_ring
	bad_case socket-packet-ring-mapped case_sk_packet_ring map
	bad_case socket-packet-queued case_sk_packet_queued
	bad_case netlink-port-taken case_netlink_port_taken
	bad_case netlink-dump-running case_netlink_busy dump "a dump request in progress"
	bad_case netlink-enobufs case_netlink_busy enobufs "an error pending"
	bad_case netlink-other-netns case_sk_other_netns netlink "a netlink socket"
	bad_case udp-other-netns case_sk_other_netns udp "an IPv4/IPv6 socket"
	bad_case netlink-nfqueue-bound case_netlink_nfqueue queue "netfilter queue 7"
	bad_case netlink-nflog-bound case_netlink_nfqueue log "netfilter log group 7"
	bad_case unix-siblings case_sk_siblings
	bad_case unix-listener-closed case_sk_listener_closed
	bad_case self-check-refuses-bad-image case_self_check_fault
	CASE_KIND=state bad_case pipe-read-end-outside case_pipe_half
	CASE_KIND=state bad_case pipe-inherit-fd case_pipe_inherit
	CASE_KIND=state bad_case unix-stream-outside-inherit-fd case_unix_ext_stream
	CASE_KIND=state bad_case unix-accepted-outside-inherit-fd case_unix_ext_accepted
	CASE_KIND=state bad_case mmap-deleted-name-taken case_mmap_deleted_upgrade
	CASE_KIND=state bad_case exe-deleted case_exe_deleted
	bad_case seccomp-notify case_seccomp_notify
	bad_case seccomp-nocap case_seccomp_nocap
	bad_case seccomp-no-admin case_seccomp_no_admin
	bad_case seccomp-image-index case_seccomp_image 2 4 "seccomp filter 4 of 3"
	bad_case seccomp-image-mode case_seccomp_image 1 3 "strict mode with 2 filters"
	bad_case epoll-stale-registration case_epoll_stale
	bad_case unix-peer-outside case_unix_ext_peer
	bad_case unix-listener-pending-connection case_unix_pending
	bad_case unix-relative-name-elsewhere case_unix_relative_moved
	bad_case unix-socket-in-flight case_unix_scm_socket
	bad_case unix-locked-file-in-flight case_unix_scm_locked
	bad_case file-lease-breaking case_lease
	bad_case pidfd-outside-tree case_pidfd_outside
	bad_case pidfd-in-flight case_pidfd_in_flight
	bad_case bpf-map-used-by-program case_bpf_map_refused prog "loaded BPF program"
	bad_case bpf-map-queue case_bpf_map_refused queue "of type queue"
	bad_case bpf-map-held-outside case_bpf_map_refused outside "outside the tree"
	bad_case bpf-map-pinned case_bpf_map_pinned
	bad_case fanotify-permission-class case_fanotify_perm
	bad_case fault-parasite-infect case_dump_fault parasite-infect
	bad_case fault-parasite-cmd case_dump_fault parasite-cmd
	bad_case fault-parasite-infect-pipes case_pipes_fault parasite-infect
	bad_case fault-restore-before-fork case_restore_fault restore-before-fork
	bad_case fault-restore-in-restorer case_restore_fault restore-in-restorer
	bad_case fault-restore-before-detach case_restore_fault restore-before-detach
	bad_case pid-taken case_pid_taken
	bad_case timer-ids-by-trial case_timer_ids_by_trial
	CASE_KIND=state bad_case vma-iter-same case_vma_iter_same
	CASE_KIND=state bad_case vma-iter-unlearnt case_vma_iter_unlearnt
	CASE_KIND=state bad_case vma-iter-many case_vma_iter_many
	CASE_KIND=state bad_case vma-iter-no-bpf case_vma_iter_no_bpf
	run_image_cases
	bad_case prev-missing-dump case_prev_missing dump
	bad_case prev-missing-pre-dump case_prev_missing pre-dump
	bad_case prev-other-process case_prev_other_process
	bad_case prev-full-dump case_prev_full_dump
	bad_case prev-chain-hole case_prev_hole
	bad_case pre-dump-anew case_pre_dump_anew
	bad_case fault-pre-dump-frozen case_pre_dump_fault pre-dump-frozen 2
	bad_case fault-pre-dump-running case_pre_dump_fault pre-dump-running 2
	bad_case fault-pre-dump-first-round case_pre_dump_fault pre-dump-running 1
	bad_case fault-pre-dump-first-round-frozen case_pre_dump_fault pre-dump-frozen 1
	CASE_KIND=state bad_case keeper-lost case_keeper_lost
	CASE_KIND=state bad_case pre-dump-shm-anon case_pre_dump_shm anon
	CASE_KIND=state bad_case pre-dump-shm-sysv case_pre_dump_shm sysv
	CASE_KIND=state bad_case pre-dump-shm-chain-lost case_pre_dump_shm anon lost
	CASE_KIND=state bad_case final-dump-leave-running case_final_dump_leave_running
	CASE_KIND=state bad_case process-group-leader-gone case_orphaned_pgrp
	CASE_KIND=state bad_case zombie-pgrp case_zombie_pgrp
	CASE_KIND=state bad_case timers-thread case_timers_thread
	CASE_KIND=state bad_case pidns case_pidns
	CASE_KIND=state bad_case pidns-proc-files case_pidns "$BUILD/static/proc_tree"
	CASE_KIND=state bad_case pidns-again case_pidns_again
	CASE_KIND=state bad_case pidns-again-heap case_pidns_again "$BUILD/static/heap"
	CASE_KIND=state bad_case pidns-again-proc-files case_pidns_again "$BUILD/static/proc_tree"
	CASE_KIND=state bad_case pidns-again-proc-self case_pidns_again "$BUILD/static/proc_self"
	CASE_KIND=state bad_case pidns-again-threads case_pidns_again "$BUILD/static/threads_churn"
	CASE_KIND=state bad_case pidns-again-thread-cpu-timers case_pidns_again \
		"$BUILD/static/posix_timers_thread_cpu"
	CASE_KIND=state bad_case pidns-again-child-cpu-timers case_pidns_again \
		"$BUILD/static/posix_timers_child_cpu"
	CASE_KIND=state bad_case pidns-pidfds case_pidns "$BUILD/static/fd_pidfd"
	CASE_KIND=state bad_case pidns-sysv-ipcns case_pidns "$BUILD/static/sysv_ipcns"
	CASE_KIND=state bad_case pidns-again-pidfds case_pidns_again "$BUILD/static/fd_pidfd"
	CASE_KIND=state bad_case pidns-again-peercred case_pidns_again \
		"$BUILD/static/sk_unix_peercred"
	CASE_KIND=state bad_case pidns-again-peercred-gone case_pidns_again \
		"$BUILD/static/sk_unix_peercred_gone"
	CASE_KIND=state bad_case pidns-again-refused case_pidns_again_refused
	CASE_KIND=state bad_case pidns-foreign case_pidns_foreign --mount-proc
	CASE_KIND=state bad_case pidns-foreign-host-proc case_pidns_foreign
	CASE_KIND=state bad_case unix-ext-dgram case_unix_ext_dgram
	CASE_KIND=state bad_case inet-netns case_inet_netns
	CASE_KIND=harness bad_case sees-corruption case_harness_sees_corruption
	CASE_KIND=harness bad_case writer-sees-damage case_writer_sees_damage
	CASE_KIND=harness bad_case adversary-sees-damage case_adversary_sees_damage
	run_thread_bad_input
	run_shmem_bad_input
	run_sysvipc_bad_input
	run_cgroup_bad_input
	run_netns_bad_input
	run_inet_dgram_bad_input
	run_ns_bad_input
	run_tty_bad_input
	run_refusal_bad_input
	run_file_valid_bad_input
	run_silent_bad_input
	run_tcp_bad_input
	run_tcp_pair_bad_input
	run_tcp_hosts_bad_input
	run_demo_bad_input
	run_imgdir_bad_input
	run_cpu_bad_input
	run_interrupt_bad_input
	run_fuzz_bad_input
	run_restore_safe_bad_input
	run_migrate_bad_input
	run_migrate_x509_bad_input
	run_cli_bad_input
	run_json_bad_input
	run_criu_opts_bad_input
}
