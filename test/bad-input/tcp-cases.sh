# Established TCP connections (--tcp-established) and the network lock:
# each case runs tcp-netns.sh in a network namespace of its own, which
# goes with it (unshare --net): a server dumped mid-stream, its client
# outside the tree checking every byte; the ruleset as before at the end.

tcp_case() {
	local addr=$1 mode=$2 nr=${3:-1}

	if ! command -v nft >/dev/null || ! command -v unshare >/dev/null; then
		REASON="nft or unshare missing"
		return 2
	fi
	mkdir -p "$RD/img"
	timeout 30 unshare --net "$ROOT/test/bad-input/tcp-netns.sh" "$LMPROC_REAL" \
		"$BUILD/tools" "$RD" "$addr" "$mode" "$nr" >"$RD/tcp.out" 2>"$RD/tcp.err"
	if [ $? != 0 ]; then
		# Without the shell's notice of the dumped server's end.
		REASON="$(grep -v ' Killed ' "$RD/tcp.err" | head -c 300)"
		add_detail "lmproc dump log" "$RD/dump.log" 3
		add_detail "lmproc restore log" "$RD/restore.log" 3
		return 1
	fi
	tr '\n' ' ' <"$RD/tcp.out" >>"$DATA_ROOT/tcp-figures" 2>/dev/null
	echo "($mode $addr, $nr connections)" >>"$DATA_ROOT/tcp-figures" 2>/dev/null
	return 0
}

# A connection half closed or closing at the dump (tcp-half.sh): STATE
# the same after the restore, then finished with every byte checked.
tcp_half_case() {
	local addr=$1 state=$2 mode=$3

	if ! command -v nft >/dev/null || ! command -v unshare >/dev/null; then
		REASON="nft or unshare missing"
		return 2
	fi
	mkdir -p "$RD/img"
	timeout 60 unshare --net "$ROOT/test/bad-input/tcp-half.sh" "$LMPROC_REAL" \
		"$BUILD/tools" "$RD" "$addr" "$state" "$mode" >"$RD/tcp.out" 2>"$RD/tcp.err"
	if [ $? != 0 ]; then
		REASON="$(grep -v Killed "$RD/tcp.err" | head -c 300)"
		add_detail "lmproc dump log" "$RD/dump.log" 3
		add_detail "lmproc restore log" "$RD/restore.log" 3
		return 1
	fi
	tr '\n' ' ' <"$RD/tcp.out" >>"$DATA_ROOT/tcp-figures" 2>/dev/null
	echo "($mode $addr)" >>"$DATA_ROOT/tcp-figures" 2>/dev/null
	return 0
}

# tcp_pending_case ADDR: a listener with connections not accepted yet
# (tcp-pending.sh): refused in one line, dumped with --skip-in-flight.
tcp_pending_case() {
	if ! command -v unshare >/dev/null; then
		REASON="unshare missing"
		return 2
	fi
	mkdir -p "$RD/img"
	timeout 60 unshare --net "$ROOT/test/bad-input/tcp-pending.sh" "$LMPROC_REAL" \
		"$BUILD/tools" "$RD" "$1" >"$RD/pending.out" 2>"$RD/pending.err"
	if [ $? != 0 ]; then
		REASON="$(grep -v Killed "$RD/pending.err" | head -c 300)"
		add_detail "lmproc dump log" "$RD/dump2.log" 3
		add_detail "lmproc restore log" "$RD/restore.log" 3
		return 1
	fi
	return 0
}

# tcp_queue_case ADDR MODE: a listener whose two connections wait to be
# accepted, dumped with --tcp-established (tcp-queue.sh): MODE restore,
# veth (the clients behind a veth), dual (v4-mapped), iptables (that
# lock), leave (-R) or fail (a dump failing): both accepted afterwards,
# each carrying checked bytes both ways, no rule left; otherboot: a
# restore refused naming one; half: a dump refused naming the one its
# client half closed.
tcp_queue_case() {
	if ! command -v nft >/dev/null || ! command -v unshare >/dev/null; then
		REASON="nft or unshare missing"
		return 2
	fi
	mkdir -p "$RD/img"
	timeout 60 unshare --net "$ROOT/test/bad-input/tcp-queue.sh" "$LMPROC_REAL" \
		"$BUILD/tools" "$RD" "$1" "$2" >"$RD/queue.out" 2>"$RD/queue.err"
	if [ $? != 0 ]; then
		REASON="$(grep -v Killed "$RD/queue.err" | head -c 300)"
		add_detail "lmproc dump log" "$RD/dump.log" 3
		add_detail "lmproc restore log" "$RD/restore.log" 3
		return 1
	fi
	tr '\n' ' ' <"$RD/queue.out" >>"$DATA_ROOT/tcp-figures" 2>/dev/null
	echo "(queue $2 $1)" >>"$DATA_ROOT/tcp-figures" 2>/dev/null
	return 0
}

run_tcp_half_bad_input() {
	local st

	for st in fin_wait1 fin_wait2 close_wait last_ack closing shut_rd fin_wait1_sent \
		last_ack_sent; do
		CASE_KIND=state bad_case "tcp-${st//_/-}-v4" tcp_half_case 198.18.0.1 "$st" restore
		CASE_KIND=state bad_case "tcp-${st//_/-}-v6" tcp_half_case fd00::1 "$st" restore
	done
	CASE_KIND=state bad_case tcp-last-ack-mapped tcp_half_case ::ffff:198.18.0.1 last_ack restore
	CASE_KIND=state bad_case tcp-fin-wait2-mapped tcp_half_case ::ffff:198.18.0.1 fin_wait2 restore
	CASE_KIND=state bad_case tcp-close-wait-remote tcp_half_case 198.18.0.1 close_wait remote
	CASE_KIND=state bad_case tcp-fin-wait2-remote tcp_half_case fd00::1 fin_wait2 remote
	CASE_KIND=state bad_case tcp-last-ack-remote tcp_half_case fd00::1 last_ack remote
	CASE_KIND=state bad_case tcp-closing-remote tcp_half_case 198.18.0.1 closing remote
	CASE_KIND=state bad_case tcp-fin-wait1-sent-remote tcp_half_case fd00::1 fin_wait1_sent \
		remote
	CASE_KIND=state bad_case tcp-last-ack-iptables tcp_half_case 198.18.0.1 last_ack iptables
	CASE_KIND=state bad_case tcp-fin-wait2-leave tcp_half_case fd00::1 fin_wait2 leave
	CASE_KIND=state bad_case tcp-closing-leave tcp_half_case 198.18.0.1 closing leave
	CASE_KIND=state bad_case tcp-close-wait-dump-fails tcp_half_case 198.18.0.1 close_wait fail
	CASE_KIND=state bad_case tcp-fin-wait1-dump-fails tcp_half_case fd00::1 fin_wait1 fail
	bad_case tcp-state-bad tcp_half_case 198.18.0.1 last_ack badstate
	bad_case tcp-close-wait-needs-flag tcp_half_case fd00::1 close_wait needs-flag
	bad_case tcp-syn-sent-v4 tcp_half_case 198.18.0.1 syn_sent refuse
	bad_case tcp-syn-sent-v6 tcp_half_case fd00::1 syn_sent refuse
	bad_case tcp-syn-recv-v4 tcp_half_case 198.18.0.1 syn_recv refuse
	bad_case tcp-syn-recv-v6 tcp_half_case fd00::1 syn_recv refuse
}

run_tcp_bad_input() {
	CASE_KIND=state bad_case tcp-established-v4 tcp_case 198.18.0.1 restore
	CASE_KIND=state bad_case tcp-established-v6 tcp_case fd00::1 restore
	CASE_KIND=state bad_case tcp-leave-running tcp_case 198.18.0.1 leave
	CASE_KIND=state bad_case tcp-dump-fails tcp_case fd00::1 fail
	CASE_KIND=state bad_case tcp-dump-killed-locked tcp_case 198.18.0.1 killed
	CASE_KIND=state bad_case tcp-dump-killed-repair tcp_case 198.18.0.1 killed-repair
	CASE_KIND=state bad_case tcp-iptables-lock tcp_case 198.18.0.1 iptables
	CASE_KIND=state bad_case tcp-1000-established tcp_case 198.18.0.1 restore 1000
	bad_case tcp-needs-flag tcp_case 198.18.0.1 refuse
	bad_case tcp-restore-needs-flag tcp_case 198.18.0.1 restore-refused
	bad_case tcp-resume-fails tcp_case 198.18.0.1 resume-fails
	run_tcp_half_bad_input
	CASE_KIND=state bad_case tcp-skip-in-flight-v4 tcp_pending_case 198.18.0.1
	CASE_KIND=state bad_case tcp-skip-in-flight-v6 tcp_pending_case fd00::1
	CASE_KIND=state bad_case tcp-queue-v4 tcp_queue_case 198.18.0.1 restore
	CASE_KIND=state bad_case tcp-queue-v6 tcp_queue_case fd00::1 restore
	CASE_KIND=state bad_case tcp-queue-veth tcp_queue_case 198.18.5.1 veth
	CASE_KIND=state bad_case tcp-queue-dual-stack tcp_queue_case 198.18.0.1 dual
	CASE_KIND=state bad_case tcp-queue-iptables-lock tcp_queue_case fd00::1 iptables
	CASE_KIND=state bad_case tcp-queue-leave-running tcp_queue_case 198.18.0.1 leave
	CASE_KIND=state bad_case tcp-queue-dump-fails tcp_queue_case fd00::1 fail
	bad_case tcp-queue-other-boot tcp_queue_case 198.18.0.1 otherboot
	bad_case tcp-queue-half-closed tcp_queue_case fd00::1 half
}
