#!/bin/bash
# Run by tcp-cases.sh inside a network namespace of its own (unshare
# --net): lo up with 198.18.0.1 and fd00::1, a tcpmany server (the
# tree dumped) and its client (the runner's, never dumped) streaming
# both ways, the server dumped mid-stream.  Usage:
#   tcp-netns.sh LMPROC TOOLS DIR ADDR MODE [N]
# MODE: restore (dump, kill, restore), leave (dump -R), fail (a dump
# failing after the sockets were read), refuse (no --tcp-established),
# iptables (restore with --network-lock iptables), restore-refused (a
# restore without --tcp-established: refused, its lock released),
# resume-fails (a restore failing at the hand-over, after the lock went:
# the tree killed, the lock removed once), killed (lmproc SIGKILLed once
# the lock is taken: the kernel removes the lock with lmproc's netlink
# socket, the server runs on), killed-repair (the server stopped with
# SIGSTOP, lmproc SIGKILLed once the first connection is in repair mode:
# its guardian takes it out before the server gets SIGCONT, the stream
# goes on within the client's time; a stopped server, because a running
# one resumes the instant lmproc dies and may meet its socket still in
# repair mode, docs/architecture.md).  Exit 0 if the client
# saw every byte, in order, with no error, the dump/restore did what MODE
# expects, and the ruleset is as before; the reason on stderr otherwise.
# N: that many connections between the server and the client (1).
# Figures on stdout: the client's line and the lmproc times.
LM=$1 TOOLS=$2 DIR=$3 ADDR=$4 MODE=$5 NR=${6:-1}
fail() { echo "$*" >&2; exit 1; }
ms() { date +%s%3N; }

ip link set lo up && ip addr add 198.18.0.1/32 dev lo &&
	ip -6 addr add fd00::1/128 dev lo nodad || fail "can't set up lo"
nft list ruleset >"$DIR/rules.before" 2>&1 || fail "nft list ruleset failed"
"$TOOLS/tcpmany" server "$ADDR" 5000 "$NR" >"$DIR/server.out" 2>&1 &
SP=$!
for _ in $(seq 100); do
	grep -q listening "$DIR/server.out" && break
	sleep 0.02
done
"$TOOLS/tcpmany" client "$ADDR" 5000 3000 "$NR" >"$DIR/client.out" 2>&1 &
CP=$!
# Every connection established (both ends) before the dump, up to 10 s:
# a loaded machine may not have run every connect yet.
for _ in $(seq 500); do
	[ "$(ss -Htn state established '( sport = :5000 or dport = :5000 )' | wc -l)" -ge 		$((2 * NR)) ] && break
	sleep 0.02
done
# Both queues fill within milliseconds; leave the stream running a while.
sleep 0.4
args=(--tcp-established)
case "$MODE" in
refuse) args=() ;;
leave) args+=(-R) ;;
iptables) args+=(--network-lock iptables) ;;
esac
t0=$(ms)
if [ "$MODE" = killed ] || [ "$MODE" = killed-repair ]; then
	fault=dump-killed-locked
	if [ "$MODE" = killed-repair ]; then
		fault=dump-killed-repair
		kill -STOP "$SP"
	fi
	# A subshell, so that the shell's "Killed" goes nowhere.
	(LMPROC_FAULT=$fault "$LM" dump -t "$SP" -D "$DIR/img" "${args[@]}" \
		-o "$DIR/dump.log" 2>"$DIR/dump.err"; exit $?) 2>/dev/null
elif [ "$MODE" = fail ]; then
	LMPROC_FAULT=dump-before-inventory "$LM" dump -t "$SP" -D "$DIR/img" "${args[@]}" \
		-o "$DIR/dump.log" 2>"$DIR/dump.err"
else
	"$LM" dump -t "$SP" -D "$DIR/img" "${args[@]}" -o "$DIR/dump.log" 2>"$DIR/dump.err"
fi
st=$?
t1=$(ms)
case "$MODE" in
refuse)
	[ "$st" != 0 ] || fail "dump without --tcp-established succeeded"
	grep -q "pid $SP fd [0-9]* (TCP connection $ADDR:5000 -> .*): established: needs --tcp-established" \
		"$DIR/dump.err" || fail "refusal does not name the connection: $(head -c 300 "$DIR/dump.err")"
	;;
fail)
	[ "$st" != 0 ] || fail "dump with the fault injected succeeded"
	;;
killed | killed-repair)
	[ "$st" = 137 ] || fail "dump not killed at the fault point (status $st)"
	nft list ruleset >"$DIR/rules.killed" 2>&1
	cmp -s "$DIR/rules.before" "$DIR/rules.killed" ||
		fail "a killed dump left its lock: $(head -c 300 "$DIR/rules.killed")"
	;;
*)
	[ "$st" = 0 ] || fail "dump failed: $(head -c 300 "$DIR/dump.err")"
	;;
esac
if [ "$MODE" = restore-refused ]; then
	wait "$SP" 2>/dev/null
	"$LM" restore -D "$DIR/img" -d -o "$DIR/restore.log" 2>"$DIR/restore.err" &&
		fail "restore without --tcp-established succeeded"
	grep -q "fd 4 (IP socket): an established TCP connection: restore needs --tcp-established" \
		"$DIR/restore.err" || fail "restore refusal unclear: $(head -c 300 "$DIR/restore.err")"
	kill "$CP"
	wait "$CP" 2>/dev/null
	nft list ruleset >"$DIR/rules.after" 2>&1
	cmp -s "$DIR/rules.before" "$DIR/rules.after" ||
		fail "ruleset differs after the failed restore: $(head -c 300 "$DIR/rules.after")"
	exit 0
fi
if [ "$MODE" = resume-fails ]; then
	wait "$SP" 2>/dev/null
	LMPROC_FAULT=restore-tcp-resume "$LM" restore -D "$DIR/img" --tcp-established -d \
		-o "$DIR/restore.log" 2>"$DIR/restore.err" &&
		fail "restore with a fault injected at the hand-over succeeded"
	grep -q "fault injected" "$DIR/restore.err" ||
		fail "restore failed elsewhere: $(head -c 300 "$DIR/restore.err")"
	kill -0 "$SP" 2>/dev/null && fail "pid $SP is left after the failed restore"
	grep -q "network lock.*still there" "$DIR/restore.log" "$DIR/restore.err" &&
		fail "the lock was removed twice: $(grep -h "still there" "$DIR/restore.err")"
	kill "$CP"
	wait "$CP" 2>/dev/null
	nft list ruleset >"$DIR/rules.after" 2>&1
	cmp -s "$DIR/rules.before" "$DIR/rules.after" ||
		fail "ruleset differs after the failed restore: $(head -c 300 "$DIR/rules.after")"
	exit 0
fi
if [ "$MODE" = restore ] || [ "$MODE" = iptables ]; then
	wait "$SP" 2>/dev/null
	nft list ruleset >"$DIR/rules.locked" 2>&1
	if [ "$MODE" = restore ] && cmp -s "$DIR/rules.before" "$DIR/rules.locked"; then
		fail "no lock rule while the connection was dumped"
	fi
	t2=$(ms)
	"$LM" restore -D "$DIR/img" --tcp-established -d -o "$DIR/restore.log" \
		2>"$DIR/restore.err" || fail "restore failed: $(head -c 300 "$DIR/restore.err")"
	t3=$(ms)
	echo "dump_ms $((t1 - t0)) restore_ms $((t3 - t2)) locked_ms $((t3 - t0))"
else
	echo "dump_ms $((t1 - t0))"
fi
# A connection left in repair mode would stall the client: bounded.
if [ "$MODE" = killed-repair ]; then
	# The guardian (a fork of the killed lmproc, same command line) is
	# done once it is gone.
	for _ in $(seq 250); do
		pgrep -f -- "-D $DIR/img" >/dev/null || break
		sleep 0.02
	done
	pgrep -f -- "-D $DIR/img" >/dev/null && fail "the killed dump's guardian is still there"
	kill -CONT "$SP"
	for _ in $(seq 500); do
		kill -0 "$CP" 2>/dev/null || break
		sleep 0.02
	done
	kill -0 "$CP" 2>/dev/null && kill "$CP" && fail "the client stalled: $(cat "$DIR/client.out")"
fi
wait "$CP"
cst=$?
cat "$DIR/client.out"
[ "$cst" = 0 ] || fail "client: $(head -c 300 "$DIR/client.out")"
if [ "$MODE" = iptables ]; then
	iptables -S | grep -q lmproc && fail "an iptables chain of lmproc's is left"
	ip6tables -S | grep -q lmproc && fail "an ip6tables chain of lmproc's is left"
	exit 0
fi
nft list ruleset >"$DIR/rules.after" 2>&1
cmp -s "$DIR/rules.before" "$DIR/rules.after" ||
	fail "ruleset differs after: $(head -c 300 "$DIR/rules.after")"
exit 0
