# shellcheck shell=bash disable=SC2034 # REASON: bad_case reports it
# A server moved between two hosts while its client streams: each case
# runs tcp-hosts.sh (whose header draws the topology: a fabric bridge,
# hosts A and B each with network, pid and mount namespaces of their own
# and a bridge, a client namespace; the server in a container namespace
# dumped on A with --tcp-established, restored on B with --veth-pair).
# Every namespace is the script's and goes with it, bounded by timeout.
# Figures (the client's longest gap, dump, restore and lock times) go to
# tcp-figures like tcp-cases.sh's.

tcp_hosts_case() {
	local family=$1 mode=$2 lock=${3:-}

	if ! command -v nft >/dev/null || ! command -v nsenter >/dev/null; then
		REASON="nft or nsenter missing"
		return 2
	fi
	if ! HOSTS_LOCK=$lock timeout -k 5 60 "$ROOT/test/bad-input/tcp-hosts.sh" \
		"$LMPROC_REAL" "$BUILD/tools" "$RD" "$family" "$mode" >"$RD/hosts.out" \
		2>"$RD/hosts.err"; then
		REASON="$(head -c 300 "$RD/hosts.err")"
		add_detail "lmproc dump log" "$RD/dump.log" 3
		add_detail "lmproc restore log" "$RD/restore.log" 3
		add_detail "lmproc migrate log" "$RD/migrate.log" 3
		[ -e "$RD/migrate-back.log" ] && add_detail "lmproc migrate back log" \
			"$RD/migrate-back.log" 3
		add_detail "lmproc serve log" "$RD/serve.err" 5
		return 1
	fi
	tr '\n' ' ' <"$RD/hosts.out" >>"$DATA_ROOT/tcp-figures" 2>/dev/null
	echo "(hosts $mode v$family${lock:+ $lock})" >>"$DATA_ROOT/tcp-figures" 2>/dev/null
	return 0
}

run_tcp_hosts_bad_input() {
	CASE_KIND=state bad_case tcp-hosts-v4 tcp_hosts_case 4 stream
	CASE_KIND=state bad_case tcp-hosts-v6 tcp_hosts_case 6 stream
	CASE_KIND=state bad_case tcp-hosts-zero-window tcp_hosts_case 4 stall
	CASE_KIND=state bad_case tcp-hosts-zero-window-v6 tcp_hosts_case 6 stall
	CASE_KIND=state bad_case tcp-hosts-iptables tcp_hosts_case 4 stream iptables
	CASE_KIND=state bad_case tcp-hosts-leave-running tcp_hosts_case 4 leave
	CASE_KIND=state bad_case tcp-hosts-dump-fails tcp_hosts_case 6 fail
	CASE_KIND=state bad_case tcp-hosts-dual-stack tcp_hosts_case 4 dual
	CASE_KIND=state bad_case tcp-hosts-pending tcp_hosts_case 4 pending
	CASE_KIND=state bad_case tcp-hosts-close-wait tcp_hosts_case 4 close-wait
	CASE_KIND=state bad_case tcp-hosts-fin-wait2 tcp_hosts_case 6 fin-wait2
	CASE_KIND=state bad_case tcp-hosts-1000 tcp_hosts_case 4 many
	CASE_KIND=state bad_case tcp-hosts-migrate tcp_hosts_case 4 migrate
	CASE_KIND=state bad_case tcp-hosts-migrate-v6 tcp_hosts_case 6 migrate
	CASE_KIND=state bad_case tcp-hosts-migrate-iptables tcp_hosts_case 4 migrate iptables
	CASE_KIND=state bad_case tcp-hosts-migrate-fails tcp_hosts_case 4 migrate-fail
	CASE_KIND=state bad_case tcp-hosts-migrate-link-lost tcp_hosts_case 6 migrate-lost
	CASE_KIND=state bad_case tcp-hosts-migrate-back tcp_hosts_case 4 migrate-back
	CASE_KIND=state bad_case tcp-hosts-migrate-grace tcp_hosts_case 4 migrate-grace
	CASE_KIND=state bad_case tcp-hosts-migrate-grace-dies tcp_hosts_case 4 migrate-grace-dies
	CASE_KIND=state bad_case tcp-hosts-migrate-cut-round tcp_hosts_case 4 migrate-cut-round
	CASE_KIND=state bad_case tcp-hosts-migrate-cut-send tcp_hosts_case 6 migrate-cut-send
	CASE_KIND=state bad_case tcp-hosts-migrate-killed-send tcp_hosts_case 4 migrate-killed-send
	CASE_KIND=state bad_case tcp-hosts-migrate-cut-commit tcp_hosts_case 4 migrate-cut-commit
	CASE_KIND=state bad_case tcp-hosts-migrate-cut-restore tcp_hosts_case 6 migrate-cut-restore
}
