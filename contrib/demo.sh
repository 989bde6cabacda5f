#!/bin/bash
# "make demo": a live migration between two "hosts" made on this machine
# (contrib/hosts.sh draws them: network, pid, mount and IPC namespaces of
# their own, joined by a bridge of their own, only 198.18.0.0/15
# addresses; nothing touches this machine's network).  The sample
# server (build/contrib/sample-server) runs in a container on host A; its
# client (sample-client), in a namespace of its own, sends it a request
# every 5 ms and checks every answer.  lmproc serve on host B and lmproc
# migrate on host A move the server to host B with its TCP connection
# while the client goes on; the demo then shows where the server runs,
# the client's count going on and its longest wait next to the time
# migrate kept the server frozen.  Everything it made (namespaces, links,
# processes, its work directory: in DEMO_TMP, /dev/shm by default) is
# removed at the end, on Ctrl-C and on any failure.  Needs root; takes
# about 5 seconds.  Exit 0 if the server moved and the client got every
# answer right.  LMPROC: the lmproc to run (./lmproc by default).
set -u

cd "$(dirname "$0")/.." || exit 1
LM=${LMPROC:-$PWD/lmproc}
SERVER=$PWD/build/contrib/sample-server
CLIENT=$PWD/build/contrib/sample-client
SRV=198.18.0.10
PORT=5000
WARMUP=300	# answers before the move
AFTER=200	# answers more once the server runs on host B
MP="" CP="" SP="" SVP="" DIR="" RHOST="" CMD="" IN_A=""

fail() {
	echo "demo: $*" >&2
	exit 1
}

# shellcheck source=contrib/hosts.sh
. contrib/hosts.sh

# Whatever the demo reached: migrate is told to give up (it releases the
# server and removes its files), then every holder is killed, which
# takes its namespaces along with every process and link in them.
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local p

	trap '' INT TERM
	[ -n "$MP" ] && stop "$MP" INT 100
	[ -n "$CP" ] && stop "$CP" TERM 10
	for p in ${SVP:-} ${SP:-} "${HOLDERS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in ${SVP:-} ${SP:-} "${HOLDERS[@]}"; do
		wait "$p" 2>/dev/null
	done
	[ -n "$DIR" ] && rm -rf "$DIR"
}

# client_line [AT]: the client's last count before the time AT
# (HH:MM:SS.mmm), or its last one.
client_line() {
	grep ' answers ' "$DIR/client.out" | awk -v at="${1:-99}" '$1 < at' | tail -n 1
}

# gap_during FROM TO: the client's longest wait (its "gap N ms A to B"
# line) that overlaps FROM..TO; empty if none.
gap_during() {
	awk -v from="$1" -v to="$2" '$1 == "gap" && $4 <= to && $6 >= from && $2 > g { g = $2; l = $0 }
		END { if (g) print l }' "$DIR/client.out"
}

now() { date +%H:%M:%S.%3N; }

# ports PID: the links on the bridge br0 of PID's network namespace.
ports() {
	at "$1" ip -br link show master br0 | awk '{ sub(/@.*/, "", $1); printf "%s%s", s, $1; s = " " }'
}

# kids PID: PID's children.
kids() {
	cat "/proc/$1/task/$1/children" 2>/dev/null
}

# in_a: the names of host A's processes, as its own /proc shows them
# (but for this shell's).
in_a() {
	# shellcheck disable=SC2016 # expanded by that shell
	nsenter -t "$HA" -p -m sh -c 'for p in /proc/[0-9]*; do
			[ "${p#/proc/}" = $$ ] || { read -r c <"$p/comm" && echo "$c"; }
		done' 2>/dev/null | sort | uniq -c | awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }'
}

# moved DEST: the server, restored by serve at pid DEST of host B, in
# the pid namespace serve made under host B's init: RHOST its pid here,
# CMD its command line, IN_A host A's processes.  It must be the sample
# server, in a network namespace of its own on host B's br0 with no lock
# left in it, and host A must run nothing but its init (a shell and its
# sleep), its br0 only its uplink.
moved() {
	local c p

	wait_out "$DIR/serve.err" "pid $1 runs here"
	RHOST=
	# shellcheck disable=SC2013 # lines of pids
	for c in $(kids "$HB"); do
		for p in $(kids "$c"); do
			[ "$(awk '/^NSpid:/ { print $3 }' "/proc/$p/status")" = "$1" ] && RHOST=$p
		done
	done
	[ -n "$RHOST" ] || fail "no pid $1 on host B"
	CMD=$(tr '\0' ' ' <"/proc/$RHOST/cmdline")
	CMD=${CMD% }
	[ "$CMD" = "$SERVER $SRV $PORT" ] || fail "pid $1 on host B is not the server: $CMD"
	[ "$(readlink "/proc/$RHOST/ns/net")" != "$(readlink "/proc/$HB/ns/net")" ] ||
		fail "the server is in host B's own network namespace"
	[ "$(ports "$HB")" = "upB vc0" ] || fail "host B's br0 holds $(ports "$HB"), not upB vc0"
	# The source's container namespace goes once its last process is
	# reaped, its link with it: a moment after migrate's exit.
	for _ in $(seq 500); do
		[ "$(ports "$HA")" = upA ] && break
		sleep 0.01
	done
	[ "$(ports "$HA")" = upA ] || fail "host A's br0 holds $(ports "$HA"), not upA alone"
	! rules "$RHOST" | grep -q lmproc || fail "lmproc's lock is left in the server's namespace"
	for _ in $(seq 500); do
		IN_A=$(in_a)
		[ "$IN_A" = "bash x1, sleep x1" ] && break
		sleep 0.01
	done
	[ "$IN_A" = "bash x1, sleep x1" ] || fail "left on host A: $IN_A"
}

[ "$(id -u)" = 0 ] || fail "run me as root (namespaces, ptrace)"
if [ ! -x "$LM" ] || [ ! -x "$SERVER" ] || [ ! -x "$CLIENT" ]; then
	fail "run 'make demo' (builds lmproc and the sample)"
fi
for c in ip ss nsenter unshare setsid nft timeout; do
	command -v "$c" >/dev/null || fail "$c is missing: run 'make deps'"
done
trap cleanup EXIT
trap 'echo "demo: interrupted, cleaning up" >&2; exit 130' INT TERM
DIR=$(mktemp -d "${DEMO_TMP:-/dev/shm}/lmproc-demo.XXXXXX" 2>/dev/null) ||
	DIR=$(mktemp -d /tmp/lmproc-demo.XXXXXX) || fail "can't make a work directory"

echo "== 1. Two hosts on this machine, A and B (each its own network, pid and mount"
echo "   namespaces and a bridge br0), a client namespace, a fabric bridge between them"
topology || fail "can't make the hosts' namespaces and links"

echo "== 2. Host A runs the sample server in a container ($SRV port $PORT)"
container_up "$DIR/server.out" setsid "$SERVER" "$SRV" "$PORT"
echo "   pid $SPID on host A, its network namespace's link vc0 on host A's br0: $(ports "$HA")"

echo "== 3. The client (198.18.0.20) sends a request every 5 ms and checks every answer"
nsenter -t "$CL" -n "$CLIENT" "$SRV" "$PORT" 5 >"$DIR/client.out" 2>&1 </dev/null &
CP=$!
wait_answers "$DIR/client.out" "$WARMUP" ||
	fail "the client did not get $WARMUP answers: $(tail -n 2 "$DIR/client.out")"
echo "   client: $(client_line)"

echo "== 4. The move, over TLS with a pre-shared key (a fresh one in the file psk):"
echo "   host B: lmproc serve --listen 198.18.0.2:7070 --tls-psk-file psk -D srv"
echo "   host A: lmproc migrate -t $SPID --to 198.18.0.2:7070 --tls-psk-file psk \\"
echo "                          --tcp-established --veth-pair eth0=vc0@br0"
serve_on_b "$LM" "$DIR"
t0=$(now)
timeout 60 nsenter -t "$HA" -n -p -m "$LM" migrate -t "$SPID" --to 198.18.0.2:7070 \
	--tls-psk-file "$DIR/psk" --tcp-established --veth-pair eth0=vc0@br0 \
	-o "$DIR/migrate.log" >"$DIR/migrate.out" 2>"$DIR/migrate.err" &
MP=$!
wait "$MP"
st=$?
MP=""
t1=$(now)
sed 's/^/   /' "$DIR/migrate.out"
[ "$st" = 0 ] || fail "migrate failed ($st): $(tail -n 3 "$DIR/migrate.err")"
read -r dest frozen < <(sed -n 's/.*(pid \([0-9]*\) there): frozen \([0-9.]*\) ms.*/\1 \2/p' \
	"$DIR/migrate.out")
[ -n "$dest" ] || fail "migrate did not say where the server went"
# The source's copy is gone: its nsenter and subshell end with it.
wait "$SP" 2>/dev/null
SP=""

echo "== 5. The server runs on host B now"
moved "$dest"
echo "   pid $dest on host B ($SPID in its own pid namespace there, as on A): $CMD"
echo "   its connection: $(at "$RHOST" ss -tnH state established | awk '{ print $3, "<->", $4 }')"
echo "   host B's br0: $(ports "$HB"); host A's br0: $(ports "$HA"), host A's processes: $IN_A"

echo "== 6. The client never stopped"
echo "   before the move: $(client_line "$t0")"
gap=$(gap_during "$t0" "$t1")
echo "   during the move: ${gap:-no gap of 20 ms or more}"
n=$(answers "$DIR/client.out")
wait_answers "$DIR/client.out" $((n + AFTER)) ||
	fail "the client got no $AFTER answers from host B: $(tail -n 2 "$DIR/client.out")"
echo "   after the move:  $(client_line)"
stop "$CP" TERM 50
st=$?
CP=""
echo "   $(tail -n 1 "$DIR/client.out")"
[ "$st" = 0 ] || fail "the client failed: $(tail -n 1 "$DIR/client.out")"
n=$(sed -n 's/^done: \([0-9]*\) requests.*/\1/p' "$DIR/client.out")
gap=$(echo "$gap" | cut -s -d' ' -f2)
echo "== The sample server moved from host A to host B with its TCP connection while"
echo "   its client went on: frozen $frozen ms by lmproc, the client's longest wait"
echo "   ${gap:-under 20} ms; all $n answers right and in order."

cleanup
trap - EXIT
echo "== 7. Stopped: every namespace, link, process and file the demo made is gone"
