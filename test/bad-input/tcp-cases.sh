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

run_tcp_bad_input() {
	CASE_KIND=state bad_case tcp-established-v4 tcp_case 198.18.0.1 restore
	CASE_KIND=state bad_case tcp-established-v6 tcp_case fd00::1 restore
	CASE_KIND=state bad_case tcp-leave-running tcp_case 198.18.0.1 leave
	CASE_KIND=state bad_case tcp-dump-fails tcp_case fd00::1 fail
	CASE_KIND=state bad_case tcp-dump-killed-locked tcp_case 198.18.0.1 killed
	CASE_KIND=state bad_case tcp-iptables-lock tcp_case 198.18.0.1 iptables
	CASE_KIND=state bad_case tcp-1000-established tcp_case 198.18.0.1 restore 1000
	bad_case tcp-needs-flag tcp_case 198.18.0.1 refuse
	bad_case tcp-restore-needs-flag tcp_case 198.18.0.1 restore-refused
}
