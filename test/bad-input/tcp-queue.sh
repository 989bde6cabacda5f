#!/bin/bash
# Run by tcp-cases.sh inside a network namespace of its own (unshare
# --net): a listener (tcppending qserver, the tree dumped) with two
# connections it has not accepted, the second carrying bytes its client
# sent; dumped with --tcp-established.  MODE restore: killed, restored;
# dual: the same with the server on [::] and IPv4 clients (v4-mapped);
# iptables: the same with --network-lock iptables; leave: dump -R; fail:
# a dump failing after the sockets were read; otherboot: images whose
# boot id is another's, refused at restore naming the connection, the
# lock released; half: the second client shut its side, refused naming
# it with both connections still queued; veth: as restore with the
# clients in a namespace of their own behind a veth (198.18.5.2 ->
# 198.18.5.1), not on the loopback.  Then
# the server accepts both, in order, and each carries a checked stream
# both ways; the ruleset is as before.  Usage: tcp-queue.sh LMPROC TOOLS
# DIR ADDR MODE.  Exit 0 if all held; the reason on stderr otherwise.
LM=$1 TOOLS=$2 DIR=$3 ADDR=$4 MODE=$5
fail() { echo "$*" >&2; exit 1; }
ms() { date +%s%3N; }
SP='' CP=''
trap 'kill $SP $CP 2>/dev/null' EXIT

ip link set lo up && ip addr add 198.18.0.1/32 dev lo &&
	ip -6 addr add fd00::1/128 dev lo nodad || fail "can't set up lo"
nft list ruleset >"$DIR/rules.before" 2>&1 || fail "nft list ruleset failed"
SADDR=$ADDR
[ "$MODE" = dual ] && SADDR=::
CLIENT=()
if [ "$MODE" = veth ]; then
	unshare --net sleep 60 &
	NP=$!
	trap 'kill $SP $CP $NP 2>/dev/null' EXIT
	sleep 0.1
	ip link add lmq0 type veth peer name lmq1 && ip link set lmq1 netns "$NP" &&
		ip addr add 198.18.5.1/24 dev lmq0 && ip link set lmq0 up &&
		nsenter -t "$NP" -n sh -c 'ip link set lo up && ip addr add 198.18.5.2/24 dev lmq1 &&
			ip link set lmq1 up' || fail "can't set up the veth"
	CLIENT=(nsenter -t "$NP" -n)
	ADDR=198.18.5.1 SADDR=198.18.5.1
fi
"$TOOLS/tcppending" qserver "$SADDR" 5002 "$DIR/go" 2 >"$DIR/server.out" 2>&1 &
SP=$!
for _ in $(seq 250); do
	grep -q listening "$DIR/server.out" 2>/dev/null && break
	sleep 0.02
done
half=
[ "$MODE" = half ] && half=half
"${CLIENT[@]}" "$TOOLS/tcppending" qclient "$ADDR" 5002 2 $half >"$DIR/client.out" 2>&1 &
CP=$!
for _ in $(seq 250); do
	grep -q pending "$DIR/client.out" 2>/dev/null && break
	sleep 0.02
done
grep -q pending "$DIR/client.out" || fail "the clients did not connect: $(cat "$DIR/client.out")"
# The bytes of the second connection reach its queue.
sleep 0.1
args=(--tcp-established)
[ "$MODE" = leave ] && args+=(-R)
[ "$MODE" = iptables ] && args+=(--network-lock iptables)
if [ "$MODE" = half ]; then
	"$LM" dump -t "$SP" -D "$DIR/img" "${args[@]}" -o "$DIR/dump.log" 2>"$DIR/dump.err" &&
		fail "a dump of a half-closed queued connection succeeded"
	grep -q "pid $SP fd 3 (TCP listener): the connection .*:5002 <- .* waiting to be accepted: its client closed its side: not supported" \
		"$DIR/dump.err" || fail "refusal unclear: $(head -c 400 "$DIR/dump.err")"
	q=$(ss -Hltn "sport = :5002" | awk '{ print $2 }')
	[ "$q" = 2 ] || fail "the listener's queue holds ${q:-nothing}, not 2, after the refusal"
	nft list ruleset >"$DIR/rules.after" 2>&1
	cmp -s "$DIR/rules.before" "$DIR/rules.after" || fail "a rule is left after the refusal"
	exit 0
fi
if [ "$MODE" = fail ]; then
	LMPROC_FAULT=dump-before-inventory "$LM" dump -t "$SP" -D "$DIR/img" "${args[@]}" \
		-o "$DIR/dump.log" 2>"$DIR/dump.err" && fail "dump with the fault injected succeeded"
	# Failing there, after the queue was taken, not refused before.
	grep -q "fault injected at dump-before-inventory" "$DIR/dump.log" ||
		fail "the dump did not reach the fault: $(head -c 300 "$DIR/dump.err")"
else
	t0=$(ms)
	"$LM" dump -t "$SP" -D "$DIR/img" "${args[@]}" -o "$DIR/dump.log" 2>"$DIR/dump.err" ||
		fail "dump failed: $(head -c 400 "$DIR/dump.err")"
	echo "dump_ms $(($(ms) - t0))"
fi
if [ "$MODE" = otherboot ]; then
	wait "$SP" 2>/dev/null
	SP=
	boot=$(cat /proc/sys/kernel/random/boot_id)
	other=$(echo "$boot" | tr 0-9a-f 1-9a-f0)
	sed -i "s/$boot/$other/g" "$DIR/img/files.img" &&
		"$TOOLS/imgmangle" reseal "$DIR/img/files.img" || fail "can't change the boot id"
	"$LM" restore -D "$DIR/img" --tcp-established -d -o "$DIR/restore.log" \
		2>"$DIR/restore.err" && fail "a restore on another boot succeeded"
	grep -q "fd 3 (IP socket): the connection $ADDR:5002 <- $ADDR:[0-9]* waiting to be accepted used TCP timestamps and was dumped on another boot: its timestamps can't continue" \
		"$DIR/restore.err" || fail "refusal unclear: $(head -c 400 "$DIR/restore.err")"
	nft list ruleset >"$DIR/rules.after" 2>&1
	cmp -s "$DIR/rules.before" "$DIR/rules.after" ||
		fail "ruleset differs after the refused restore: $(head -c 300 "$DIR/rules.after")"
	exit 0
fi
if [ "$MODE" = restore ] || [ "$MODE" = dual ] || [ "$MODE" = iptables ] ||
	[ "$MODE" = veth ]; then
	wait "$SP" 2>/dev/null
	t0=$(ms)
	"$LM" restore -D "$DIR/img" --tcp-established -d -o "$DIR/restore.log" \
		2>"$DIR/restore.err" || fail "restore failed: $(head -c 400 "$DIR/restore.err")"
	echo "restore_ms $(($(ms) - t0))"
fi
touch "$DIR/go"
wait "$CP" || fail "client: $(head -c 300 "$DIR/client.out")"
CP=
for _ in $(seq 250); do
	grep -q "served 2" "$DIR/server.out" && break
	sleep 0.02
done
grep -q "served 2" "$DIR/server.out" || fail "server: $(head -c 300 "$DIR/server.out")"
if [ "$MODE" = iptables ]; then
	iptables -S | grep -q lmproc && fail "an iptables chain of lmproc's is left"
	ip6tables -S | grep -q lmproc && fail "an ip6tables chain of lmproc's is left"
	exit 0
fi
nft list ruleset >"$DIR/rules.after" 2>&1
cmp -s "$DIR/rules.before" "$DIR/rules.after" ||
	fail "ruleset differs after: $(head -c 300 "$DIR/rules.after")"
exit 0
