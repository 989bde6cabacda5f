# shellcheck shell=bash
# TCP connections with both ends in the tree, dual-stack sockets, the
# congestion control, and restores refused for want of what the
# connection needs on this host: each case runs tcp-pairs.sh in a network
# namespace of its own (unshare --net), which goes with it.

tcp_pair_case() {
	if ! command -v nft >/dev/null || ! command -v unshare >/dev/null; then
		REASON="nft or unshare missing"
		return 2
	fi
	mkdir -p "$RD/img"
	if ! timeout 60 unshare --net "$ROOT/test/bad-input/tcp-pairs.sh" "$LMPROC_REAL" \
		"$BUILD/tools" "$RD" "$@" >"$RD/tcp.out" 2>"$RD/tcp.err"; then
		# shellcheck disable=SC2034 # bad_case reports it
		REASON="$(grep -v ' Killed ' "$RD/tcp.err" | head -c 300)"
		add_detail "lmproc dump log" "$RD/dump.log" 3
		add_detail "lmproc restore log" "$RD/restore.log" 3
		return 1
	fi
	return 0
}

run_tcp_pair_bad_input() {
	CASE_KIND=state bad_case tcp-pair-v4 tcp_pair_case pair 198.18.0.1
	CASE_KIND=state bad_case tcp-pair-v6 tcp_pair_case pair fd00::1
	CASE_KIND=state bad_case tcp-pair-mapped tcp_pair_case pair ::ffff:198.18.0.1
	CASE_KIND=state bad_case tcp-pair-thread tcp_pair_case self 198.18.0.1
	CASE_KIND=state bad_case tcp-pair-leave-running tcp_pair_case pair-leave 198.18.0.1
	CASE_KIND=state bad_case tcp-pair-dump-fails tcp_pair_case pair-fail fd00::1
	CASE_KIND=state bad_case tcp-dual-stack tcp_pair_case dual nft
	CASE_KIND=state bad_case tcp-dual-stack-iptables tcp_pair_case dual ipt
	CASE_KIND=state bad_case tcp-congestion tcp_pair_case cc 198.18.0.1
	bad_case tcp-addr-in-use tcp_pair_case inuse 198.18.0.1
	bad_case tcp-addr-missing tcp_pair_case noaddr 198.18.0.1
	bad_case tcp-addr-missing-v6 tcp_pair_case noaddr fd00::1
	bad_case tcp-listener-addr-missing tcp_pair_case noaddr-listener 198.18.0.1
}
