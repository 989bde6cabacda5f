#!/bin/bash
# Run by tcp-cases.sh inside a network namespace of its own (unshare
# --net): a listener (tcppending server, the tree dumped) with two
# connections it has not accepted, a byte sent on the second.  A dump
# without --tcp-established or --skip-in-flight is refused in exactly one
# line naming pid, fd, the listener, the two connections and why, the
# server left running; a
# dump with it warns naming each connection's tuple, the clients get a
# reset, and the restored listener accepts and answers a new client.
# Usage: tcp-pending.sh LMPROC TOOLS DIR ADDR.  Exit 0 if all held; the
# reason on stderr otherwise.
LM=$1 TOOLS=$2 DIR=$3 ADDR=$4
fail() { echo "$*" >&2; exit 1; }
SP='' PP=''
# What the case started (the restored server has the dumped one's pid).
trap 'kill $SP $PP 2>/dev/null' EXIT

ip link set lo up && ip addr add 198.18.0.1/32 dev lo &&
	ip -6 addr add fd00::1/128 dev lo nodad || fail "can't set up lo"
name=$ADDR:5001
[ "${ADDR#*:}" = "$ADDR" ] || name="[$ADDR]:5001"
"$TOOLS/tcppending" server "$ADDR" 5001 "$DIR/go" >"$DIR/server.out" 2>&1 &
SP=$!
for _ in $(seq 250); do
	grep -q listening "$DIR/server.out" 2>/dev/null && break
	sleep 0.02
done
"$TOOLS/tcppending" pend "$ADDR" 5001 2 >"$DIR/pend.out" 2>&1 &
PP=$!
for _ in $(seq 250); do
	grep -q pending "$DIR/pend.out" 2>/dev/null && break
	sleep 0.02
done
grep -q pending "$DIR/pend.out" || fail "the clients did not connect: $(cat "$DIR/pend.out")"

"$LM" dump -t "$SP" -D "$DIR/img" -o "$DIR/dump1.log" 2>"$DIR/dump1.err" &&
	fail "a dump of a listener with connections waiting succeeded"
line="pid $SP fd 3 (TCP listener $name): 2 connections wait to be accepted: needs --tcp-established (--skip-in-flight leaves them out: their clients get a reset)"
n=$(grep -cF "TCP listener" "$DIR/dump1.err")
grep -qxF "Error: $line" "$DIR/dump1.err" || grep -qxF "$line" "$DIR/dump1.err" ||
	fail "refusal unclear: $(head -c 400 "$DIR/dump1.err")"
[ "$n" = 1 ] || fail "the refusal takes $n lines: $(head -c 400 "$DIR/dump1.err")"
kill -0 "$SP" 2>/dev/null || fail "the refused dump left the server dead"

"$LM" dump -t "$SP" -D "$DIR/img" --skip-in-flight -o "$DIR/dump2.log" 2>"$DIR/dump2.err" ||
	fail "dump --skip-in-flight failed: $(head -c 400 "$DIR/dump2.err")"
for port in $(awk '/^port/ { print $2 }' "$DIR/pend.out"); do
	peer=$ADDR:$port
	[ "$name" = "$ADDR:5001" ] || peer="[$ADDR]:$port"
	grep -qF "pid $SP fd 3 (TCP listener $name): the connection $name <- $peer waits to be accepted: left out of the images (--skip-in-flight), its client gets a reset once this listener is gone" \
		"$DIR/dump2.err" "$DIR/dump2.log" ||
		fail "no warning names $peer: $(head -c 400 "$DIR/dump2.err")"
done
wait "$SP" 2>/dev/null
wait "$PP" || fail "the waiting clients: $(cat "$DIR/pend.out")"
"$LM" restore -D "$DIR/img" -d -o "$DIR/restore.log" 2>"$DIR/restore.err" ||
	fail "restore failed: $(head -c 400 "$DIR/restore.err")"
touch "$DIR/go"
timeout 10 "$TOOLS/tcppending" conn "$ADDR" 5001 >"$DIR/conn.out" 2>&1 ||
	fail "the restored listener: $(cat "$DIR/conn.out")"
for _ in $(seq 250); do
	grep -q served "$DIR/server.out" && exit 0
	sleep 0.02
done
fail "the restored server did not say it served: $(cat "$DIR/server.out")"
