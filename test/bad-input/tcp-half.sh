#!/bin/bash
# Run by tcp-cases.sh inside a network namespace of its own (unshare
# --net): lo up with 198.18.0.1 and fd00::1, a tcphalf server (the tree
# dumped) whose connection with its client (the runner's, never dumped)
# is in STATE at the dump.  Usage:
#   tcp-half.sh LMPROC TOOLS DIR ADDR STATE MODE
# STATE: fin_wait1, fin_wait2, close_wait, last_ack, closing, shut_rd
# (established, read side shut down), syn_recv (a TCP Fast Open
# connection accepted before the handshake ends), fin_wait1_sent and last_ack_sent
# (the server's FIN sent and not acknowledged: what the client sends is
# dropped by a rule of the test's from before that FIN until the go; it
# lets through what the restore injects, as a lossy network would),
# or syn_sent (a connect whose SYNs
# an nftables rule of the test drops).  MODE: restore (dump
# --tcp-established, kill, restore), iptables (the same with
# --network-lock iptables), remote (the same, the client in a second
# namespace behind a veth), leave (dump -R), fail (a dump
# failing after the sockets were read), needs-flag (a dump without
# --tcp-established refused naming the state), refuse (syn_sent: the dump
# refused naming the connection), badstate (the dumped state made
# LISTEN in files.img, resealed: the restore refused, the client then
# sees a reset).  Exit 0 if the state was the same
# after the restore (ss), the connection then finished with every word
# read in order on both sides and the counts matching, and the ruleset
# is as before; the reason on stderr otherwise.
LM=$1 TOOLS=$2 DIR=$3 ADDR=$4 ST=$5 MODE=$6
fail() { echo "$*" >&2; exit 1; }
# ADDR:PORT as lmproc names it, as a regular expression.
name() { case "$ADDR" in *:*) echo "\\[$ADDR\\]:$1" ;; *) echo "$ADDR:$1" ;; esac; }
# The connections in ss's state $1 that ss's filter $2 selects.
count() { ss -tanH state "$1" "( $2 )" | wc -l; }
wait_line() {
	for _ in $(seq 500); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		grep -q "^error" "$1" 2>/dev/null && fail "$(basename "$1"): $(grep ^error "$1")"
		sleep 0.02
	done
	fail "no \"$2\" in $(basename "$1"): $(head -c 300 "$1")"
}

ip link set lo up || fail "can't set up lo"
CLIENT=()
if [ "$MODE" = remote ]; then
	# The client in a namespace of its own behind a veth: the peer's
	# address is not one of the server's namespace.
	unshare --net sleep 120 &
	BP=$!
	trap 'kill $BP' EXIT
	sleep 0.1
	CLIENT=(nsenter -t "$BP" -n)
	ip link add va type veth peer name vb netns "$BP" &&
		ip addr add 198.18.0.1/24 dev va && ip -6 addr add fd00::1/64 dev va nodad &&
		ip link set va up &&
		"${CLIENT[@]}" ip addr add 198.18.0.2/24 dev vb &&
		"${CLIENT[@]}" ip -6 addr add fd00::2/64 dev vb nodad &&
		"${CLIENT[@]}" ip link set vb up && "${CLIENT[@]}" ip link set lo up ||
		fail "can't set up the client's namespace"
else
	ip addr add 198.18.0.1/32 dev lo && ip -6 addr add fd00::1/128 dev lo nodad ||
		fail "can't set up lo"
fi

if [ "$ST" = syn_recv ]; then
	sysctl -qw net.ipv4.tcp_fastopen=0x603 &&
		nft add table inet tcphalf &&
		nft add chain inet tcphalf out '{ type filter hook output priority 0; }' &&
		nft add rule inet tcphalf out tcp dport 5000 tcp flags \& syn == 0 drop ||
		fail "can't set up TCP Fast Open and drop the ACKs"
	"$TOOLS/tcphalf" tfo-server "$ADDR" 5000 >"$DIR/syn.out" 2>&1 &
	P=$!
	wait_line "$DIR/syn.out" listening
	"$TOOLS/tcphalf" tfo-client "$ADDR" 5000 >"$DIR/client.out" 2>&1 &
	CP=$!
	wait_line "$DIR/syn.out" "ready syn_recv"
	"$LM" dump -t "$P" -D "$DIR/img" --tcp-established -o "$DIR/dump.log" \
		2>"$DIR/dump.err" && fail "dump of a SYN_RECV connection succeeded"
	grep -q "^Error: pid $P fd [0-9]* (TCP connection $(name 5000) -> $(name '[0-9]*')): SYN_RECV, a connection being opened" \
		"$DIR/dump.err" || fail "refusal unclear: $(head -c 300 "$DIR/dump.err")"
	[ "$(grep -c . "$DIR/dump.err")" = 1 ] || fail "more than one line: $(head -c 300 "$DIR/dump.err")"
	kill -0 "$P" || fail "the process is gone after the refused dump"
	kill "$P" "$CP"
	exit 0
fi
if [ "$ST" = syn_sent ]; then
	nft add table inet tcphalf &&
		nft add chain inet tcphalf out '{ type filter hook output priority 0; }' &&
		nft add rule inet tcphalf out tcp dport 9 drop || fail "can't drop the SYNs"
	"$TOOLS/tcphalf" syn "$ADDR" 9 >"$DIR/syn.out" 2>&1 &
	P=$!
	wait_line "$DIR/syn.out" ready
	[ "$(count syn-sent "dport = :9")" = 1 ] || fail "no connection in SYN_SENT"
	"$LM" dump -t "$P" -D "$DIR/img" --tcp-established -o "$DIR/dump.log" \
		2>"$DIR/dump.err" && fail "dump of a SYN_SENT connection succeeded"
	grep -q "^Error: pid $P fd 3 (TCP connection $(name '[0-9]*') -> $(name 9)): SYN_SENT, a connection being opened" \
		"$DIR/dump.err" || fail "refusal unclear: $(head -c 300 "$DIR/dump.err")"
	[ "$(grep -c . "$DIR/dump.err")" = 1 ] || fail "more than one line: $(head -c 300 "$DIR/dump.err")"
	kill -0 "$P" || fail "the process is gone after the refused dump"
	[ "$(count syn-sent "dport = :9")" = 1 ] || fail "the connection left SYN_SENT after the refused dump"
	kill "$P"
	exit 0
fi

# TCP_STATE: the kernel's number of the state.
case "$ST" in
fin_wait1*) TCP_STATE=4 ;;
fin_wait2) TCP_STATE=5 ;;
close_wait) TCP_STATE=8 ;;
last_ack*) TCP_STATE=9 ;;
closing) TCP_STATE=11 ;;
*) TCP_STATE=1 ;;
esac
case "$ST" in
shut_rd) SS=established ;;
*) SS=$(echo "${ST%_sent}" | sed 's/fin_wait/fin-wait-/; s/_/-/') ;;
esac
nft list ruleset >"$DIR/rules.before" 2>&1 || fail "nft list ruleset failed"
"$TOOLS/tcphalf" server "$ADDR" 5000 "$ST" "$DIR" >"$DIR/server.out" 2>&1 &
SP=$!
wait_line "$DIR/server.out" listening
"${CLIENT[@]}" "$TOOLS/tcphalf" client "$ADDR" 5000 "$ST" "$DIR" >"$DIR/client.out" 2>&1 &
CP=$!
if [ "$ST" != "${ST%_sent}" ]; then
	wait_line "$DIR/server.out" hold
	nft add table inet tcphalf &&
		nft add chain inet tcphalf out '{ type filter hook output priority 0; }' &&
		nft add rule inet tcphalf out meta mark != 0xc114 tcp dport 5000 drop &&
		nft add chain inet tcphalf in '{ type filter hook input priority 0; }' &&
		nft add rule inet tcphalf in meta mark != 0xc114 tcp dport 5000 drop ||
		fail "can't drop the client's packets"
	touch "$DIR/held"
fi
wait_line "$DIR/server.out" ready
[ "$(count "$SS" "sport = :5000")" = 1 ] || fail "the server's connection is not in $SS: $(ss -tanH)"
args=(--tcp-established)
[ "$MODE" = needs-flag ] && args=()
[ "$MODE" = leave ] && args+=(-R)
[ "$MODE" = iptables ] && args+=(--network-lock iptables)
t0=$(date +%s%3N)
if [ "$MODE" = needs-flag ]; then
	"$LM" dump -t "$SP" -D "$DIR/img" -o "$DIR/dump.log" 2>"$DIR/dump.err" &&
		fail "dump without --tcp-established succeeded"
	grep -q "^Error: pid $SP fd [0-9]* (TCP connection $(name 5000) -> .*): $(echo "${ST%_sent}" | tr a-z A-Z): needs --tcp-established" \
		"$DIR/dump.err" || fail "refusal unclear: $(head -c 300 "$DIR/dump.err")"
elif [ "$MODE" = fail ]; then
	LMPROC_FAULT=dump-before-inventory "$LM" dump -t "$SP" -D "$DIR/img" "${args[@]}" \
		-o "$DIR/dump.log" 2>"$DIR/dump.err" && fail "dump with the fault injected succeeded"
else
	"$LM" dump -t "$SP" -D "$DIR/img" "${args[@]}" -o "$DIR/dump.log" 2>"$DIR/dump.err" ||
		fail "dump failed: $(head -c 300 "$DIR/dump.err")"
fi
if [ "$MODE" = badstate ]; then
	wait "$SP" 2>/dev/null
	# The record of the connection; its inet_sk (15), tcp (22), state (19).
	rec=$("$LM" show "$DIR/img/files.img" | grep -o '"type": "FD_[A-Z_]*"' |
		grep -n FD_INET_SK | head -n 1 | cut -d: -f1)
	rec=$((rec - 1))
	"$TOOLS/imgmangle" xor "$DIR/img/files.img" "$rec:15.22.19" $((TCP_STATE ^ 10)) >/dev/null &&
		"$TOOLS/imgmangle" reseal "$DIR/img/files.img" || fail "can't change the state"
	"$LM" restore -D "$DIR/img" --tcp-established -d -o "$DIR/restore.log" \
		2>"$DIR/restore.err" && fail "restore of a LISTEN connection succeeded"
	grep -q "TCP connection file id [0-9]*: a TCP state out of range" "$DIR/restore.err" ||
		fail "refusal unclear: $(head -c 300 "$DIR/restore.err")"
	kill "$CP"
	exit 0
fi
t1=$(date +%s%3N) t2=$t1 t3=$t1
if [ "$MODE" = restore ] || [ "$MODE" = iptables ] || [ "$MODE" = remote ]; then
	wait "$SP" 2>/dev/null
	t2=$(date +%s%3N)
	"$LM" restore -D "$DIR/img" --tcp-established -d -o "$DIR/restore.log" \
		2>"$DIR/restore.err" || fail "restore failed: $(head -c 300 "$DIR/restore.err")"
	t3=$(date +%s%3N)
fi
[ "$(count "$SS" "sport = :5000")" = 1 ] || fail "after the $MODE, the server's connection is not in $SS: $(ss -tanH)"
if [ "$ST" != "${ST%_sent}" ]; then
	nft delete table inet tcphalf || fail "can't remove the test's rule"
fi
touch "$DIR/go"
wait "$CP" || fail "client: $(head -c 300 "$DIR/client.out")"
wait_line "$DIR/server.out" done
read -r _ sr _ sw < <(grep '^read [0-9]' "$DIR/server.out")
read -r _ cr _ cw _ eof < <(grep '^read [0-9]' "$DIR/client.out")
echo "$ST $MODE: server read $sr wrote $sw, client read $cr wrote $cw, EOF $eof ms after the go"
echo "dump_ms $((t1 - t0)) restore_ms $((t3 - t2))"
[ "$sr" = "$cw" ] && [ "$cr" = "$sw" ] ||
	fail "counts differ: server read $sr wrote $sw, client read $cr wrote $cw"
if [ "$MODE" = iptables ]; then
	iptables -S | grep -q lmproc && fail "an iptables chain of lmproc's is left"
	ip6tables -S | grep -q lmproc && fail "an ip6tables chain of lmproc's is left"
	# iptables-nft leaves its (empty) tables behind.
	exit 0
fi
nft list ruleset >"$DIR/rules.after" 2>&1
cmp -s "$DIR/rules.before" "$DIR/rules.after" ||
	fail "ruleset differs after: $(head -c 300 "$DIR/rules.after")"
exit 0
