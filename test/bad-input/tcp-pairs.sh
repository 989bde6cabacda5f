#!/bin/bash
# Run by tcp-pair-cases.sh inside a network namespace of its own (unshare
# --net): lo up with 198.18.0.1 and fd00::1, a tcpstream stream dumped
# with --tcp-established and restored, or refused.  Usage:
#   tcp-pairs.sh LMPROC TOOLS DIR MODE ADDR
# MODE:
#   pair, self  both ends in the tree (a child process, a thread), over
#               ADDR (a v4-mapped ADDR: both ends dual-stack); restored,
#               the stream checked both ways by the tree itself
#   pair-leave, pair-fail
#               both ends in the tree, dump -R or a dump failing after the
#               sockets were read: the tree streams on
#   dual        an AF_INET6 server on [::] and its IPv4 client outside
#               the tree; the lock must match IPv4 packets (nft "ip
#               saddr"; with ADDR "ipt", iptables rules, not ip6tables)
#   cc          the server's congestion control (the namespace's default,
#               reno) kept through a restore whose default is the host's
#               (bbr, cubic...); then,
#               from a dump -R, images naming an algorithm this host lacks
#               refused, the source streaming on
#   inuse       a restore next to the source (dump -R): refused naming the
#               connection already on this host, the source streaming on
#   noaddr      a restore where ADDR no longer exists: refused naming it
#   noaddr-listener
#               the same for a listener (no connection)
# Every mode ends with the ruleset as before it began.  Exit 0 if all held;
# the reason on stderr otherwise.
LM=$1 TOOLS=$2 DIR=$3 MODE=$4 ADDR=$5
# ADDR as lmproc names it with a port: [fd00::1]:5000
NAME=$ADDR
[[ "$ADDR" == *:* ]] && NAME="[$ADDR]"
IPT=
fail() { echo "$*" >&2; exit 1; }

if ! ip link set lo up || ! ip addr add 198.18.0.1/32 dev lo ||
	! ip -6 addr add fd00::1/128 dev lo nodad; then
	fail "can't set up lo"
fi
nft list ruleset >"$DIR/rules.before" 2>&1 || fail "nft list ruleset failed"

# wait_for FILE WORD: up to 10 s for WORD in FILE.
wait_for() {
	for _ in $(seq 500); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.02
	done
	return 1
}

# established: up to 10 s for both ends of the pair on port 5000 to be
# established (a loaded machine may not have run the child's connect
# yet, and a connection being opened is refused).
established() {
	for _ in $(seq 500); do
		[ "$(ss -Htn state established '( sport = :5000 or dport = :5000 )' |
			wc -l)" -ge 2 ] && return 0
		sleep 0.02
	done
	fail "the pair's connection was not established within 10 s"
}

# rules_as_before WHEN: no lmproc rule left (iptables-nft leaves its
# empty filter tables: compared only without it).
rules_as_before() {
	nft list ruleset >"$DIR/rules.after" 2>&1
	[ -n "$IPT" ] || cmp -s "$DIR/rules.before" "$DIR/rules.after" ||
		fail "ruleset differs $1: $(head -c 300 "$DIR/rules.after")"
	if iptables -S 2>/dev/null | grep -q lmproc || ip6tables -S 2>/dev/null | grep -q lmproc; then
		fail "an iptables chain of lmproc's is left $1"
	fi
}

dump() {
	"$LM" dump -t "$SP" -D "$DIR/img" --tcp-established "$@" -o "$DIR/dump.log" \
		2>"$DIR/dump.err" || fail "dump failed: $(head -c 300 "$DIR/dump.err")"
}

# restore: RESTORE_ARGS added.
RESTORE_ARGS=()
restore() {
	"$LM" restore -D "$DIR/img" --tcp-established -d "${RESTORE_ARGS[@]}" \
		-o "$DIR/restore.log" 2>"$DIR/restore.err"
}

# server [SADDR]: a tcpstream server (the tree) and its client outside.
server() {
	rm -f "$DIR/server.out" "$DIR/client.out"
	"$TOOLS/tcpstream" server "${1:-$ADDR}" 5000 >"$DIR/server.out" 2>&1 &
	SP=$!
	wait_for "$DIR/server.out" listening || fail "the server does not listen"
	"$TOOLS/tcpstream" client "$ADDR" 5000 3000 >"$DIR/client.out" 2>&1 &
	CP=$!
	established
	sleep 0.4
}

client_ok() {
	wait "$CP" || fail "client (status $?): $(head -c 300 "$DIR/client.out")"
}

# refused_restore WORD...: the restore fails with one error line naming
# every WORD.
refused_restore() {
	restore && fail "restore succeeded"
	[ "$(grep -c . "$DIR/restore.err")" = 1 ] ||
		fail "not one error line: $(head -c 400 "$DIR/restore.err")"
	for w; do
		grep -qF -- "$w" "$DIR/restore.err" ||
			fail "the error does not name '$w': $(head -c 300 "$DIR/restore.err")"
	done
}

case "$MODE" in
pair | self)
	"$TOOLS/tcpstream" "$MODE" "$ADDR" 5000 1500 >"$DIR/server.out" 2>&1 &
	SP=$!
	established
	sleep 0.4
	grep -q "pair" "$DIR/server.out" && fail "the stream ended before the dump"
	dump
	wait "$SP" 2>/dev/null
	nft list ruleset >"$DIR/rules.locked" 2>&1
	cmp -s "$DIR/rules.before" "$DIR/rules.locked" && fail "no lock rule while dumped"
	restore || fail "restore failed: $(head -c 300 "$DIR/restore.err")"
	wait_for "$DIR/server.out" "pair " || fail "the restored pair did not finish"
	grep -q "pair ok" "$DIR/server.out" || fail "pair: $(head -c 300 "$DIR/server.out")"
	;;
pair-leave | pair-fail)
	"$TOOLS/tcpstream" pair "$ADDR" 5000 1500 >"$DIR/server.out" 2>&1 &
	SP=$!
	established
	sleep 0.4
	if [ "$MODE" = pair-leave ]; then
		dump -R
	else
		LMPROC_FAULT=dump-before-inventory "$LM" dump -t "$SP" -D "$DIR/img" \
			--tcp-established -o "$DIR/dump.log" 2>"$DIR/dump.err" &&
			fail "dump with the fault injected succeeded"
	fi
	wait "$SP" || fail "pair after the dump: $(head -c 300 "$DIR/server.out")"
	grep -q "pair ok" "$DIR/server.out" || fail "pair: $(head -c 300 "$DIR/server.out")"
	;;
dual)
	lock=()
	[ "$ADDR" = ipt ] && lock=(--network-lock iptables) IPT=1
	ADDR=198.18.0.1
	server ::
	dump "${lock[@]}"
	wait "$SP" 2>/dev/null
	if [ ${#lock[@]} = 0 ]; then
		# The IPv4 set (c4) holds the connection, "A . P . B . Q" (the
		# IPv6 one would say ::ffff:198.18.0.1).
		nft list ruleset | grep -q "[ {]198\.18\.0\.1 \. [0-9]* \. 198\.18\.0\.1 \. " ||
			fail "the lock does not match IPv4 packets: $(nft list ruleset | head -c 300)"
	else
		[ "$(iptables -S | grep -c 'lmproc.*DROP')" = 2 ] ||
			fail "no iptables rules: $(iptables -S | head -c 300)"
		ip6tables -S | grep -q "DROP" && fail "ip6tables rules for an IPv4 connection"
	fi
	restore || fail "restore failed: $(head -c 300 "$DIR/restore.err")"
	client_ok
	;;
cc)
	ADDR=198.18.0.1
	other=$(sysctl -n net.ipv4.tcp_congestion_control)
	[ "$other" != reno ] || fail "the host's default congestion control is reno"
	sysctl -qw net.ipv4.tcp_congestion_control=reno || fail "no reno"
	server
	dump
	wait "$SP" 2>/dev/null
	sysctl -qw net.ipv4.tcp_congestion_control="$other" || fail "can't set $other back"
	restore || fail "restore failed: $(head -c 300 "$DIR/restore.err")"
	ss -tni state established "( sport = :5000 )" >"$DIR/ss.out"
	grep -qw reno "$DIR/ss.out" || fail "the restored connection lost reno: $(cat "$DIR/ss.out")"
	client_ok
	rules_as_before "after the restore"
	rm -rf "$DIR/img" && mkdir "$DIR/img"
	sysctl -qw net.ipv4.tcp_congestion_control=reno
	server
	dump -R
	[ "$(grep -ac reno "$DIR/img/files.img")" = 1 ] || fail "reno is not in files.img once"
	if ! perl -0777 -pi -e 's/reno/renx/' "$DIR/img/files.img" ||
		! "$TOOLS/imgmangle" reseal "$DIR/img/files.img"; then
		fail "can't mangle files.img"
	fi
	refused_restore "pid $SP fd 4 (TCP socket $ADDR:5000): option TCP_CONGESTION: \"renx\" is not available on this host"
	client_ok
	;;
inuse)
	server
	dump -R
	# A pid namespace of its own: the source's pids are taken.
	RESTORE_ARGS=(--pidns)
	refused_restore "fd 4 (IP socket): TCP connection $ADDR:5000 -> $ADDR:" \
		"this connection exists on this host already"
	client_ok
	;;
noaddr)
	server
	dump
	wait "$SP" 2>/dev/null
	ip addr del "$ADDR/32" dev lo 2>/dev/null || ip -6 addr del "$ADDR/128" dev lo ||
		fail "can't remove $ADDR"
	refused_restore "fd 4 (IP socket): TCP connection $NAME:5000 -> $NAME:" \
		"can't bind its address: not an address of this host" "--veth-pair"
	kill -0 "$SP" 2>/dev/null && fail "pid $SP runs after the failed restore"
	kill "$CP"
	wait "$CP" 2>/dev/null
	;;
noaddr-listener)
	"$TOOLS/tcpstream" server "$ADDR" 5000 >"$DIR/server.out" 2>&1 &
	SP=$!
	wait_for "$DIR/server.out" listening || fail "the server does not listen"
	dump
	wait "$SP" 2>/dev/null
	ip addr del "$ADDR/32" dev lo 2>/dev/null || ip -6 addr del "$ADDR/128" dev lo ||
		fail "can't remove $ADDR"
	refused_restore "fd 3 (IP socket): can't bind $NAME:5000 again: not an address of this host" \
		"--veth-pair"
	kill -0 "$SP" 2>/dev/null && fail "pid $SP runs after the failed restore"
	;;
*)
	fail "unknown mode $MODE"
	;;
esac
rules_as_before "at the end"
exit 0
