#!/bin/bash
# A server moved between two "hosts" on this machine while its client
# streams, for tcp-hosts-cases.sh.  Usage:
#   tcp-hosts.sh LMPROC TOOLS DIR FAMILY MODE
# FAMILY: 4 or 6; MODE: stream (both ways, every queue full at the
# freeze) or stall (the client stopped reading: the server sees its
# window closed at the freeze, the client reads again after the restore);
# leave (dump -R) and fail (a dump failing after the sockets were read,
# LMPROC_FAULT) restore nothing: the server streams on, on host A, with
# no lock left in its namespace.
# The variants, each moved as stream is: dual (FAMILY 4: the server an
# AF_INET6 socket on [::], not V6ONLY, its client IPv4: a v4-mapped
# connection); pending (tcppending: a listener with two connections it
# has not accepted, the second holding bytes its client sent; once
# restored the server accepts both and each carries a checked stream
# both ways); close-wait and fin-wait2 (tcphalf: the client shut its
# side, or the server its own; the state the same in the restored
# container (ss), then the open direction finishes with every byte
# checked and the counts matched); many (tcpmany: 1,000 connections
# streaming both ways).
# migrate, migrate-fail, migrate-lost: the server moved by `lmproc
# migrate` (run in host A's namespaces) to `lmproc serve` (in host B's,
# listening on 198.18.0.2, host B's address on its br0, over the fabric;
# TLS-PSK), with --tcp-established --veth-pair eth0=vc0@br0: the pair is
# made on host B's br0 since serve restores in host B's namespaces.
# serve restores into a new pid namespace (inside host B's): there the
# server has its dumped pid, in host B another.  migrate: the server
# runs on host B, nothing of it nor any lock on host A, serve's
# directory empty; figures: migrate's frozen_ms and the client's gap.
# migrate-fail: serve's restore fails on purpose
# (LMPROC_FAULT=restore-in-restorer): migrate exits 1, the server
# streams on, on host A, no lock anywhere.  migrate-lost: the same with
# serve's child killed while its restore is held before the fork
# (LMPROC_FAULT=restore-stop-before-fork): the link lost before
# RESTORED.  migrate-back: as migrate, then the server moved back from
# host B (by a migrate in host B's namespaces, of its pid there) to a
# serve in host A's (on 198.18.0.1): it runs on host A, in that serve's
# new pid namespace, at the pid it always had, nothing of it left on
# host B; the client sees every byte through both moves.
# migrate-grace: as migrate, with --grace 200: the server runs
# 200 ms on host B, its connection out of repair mode but the lock still
# on, before the commit; the client sees every byte, no reset.
# migrate-grace-dies: --grace 10000, and the server's copy on host B,
# once it runs (detached), streams 300 ms into the lock and is killed by
# SIGSEGV: migrate exits 1, the server streams on at A, the client sees
# every byte, no reset (nothing the copy sent or its end reaches it).
# migrate-cut-round and migrate-cut-send: serve and migrate
# with --link-timeout 3; migrate stops itself (LMPROC_FAULT
# migrate-stop-in-round: round 2's ROUND sent; migrate-stop-in-send: the
# first final image sent, the tree frozen), host B's fabric link goes
# down (silence, no reset), migrate goes on: it must end within 20 s
# (the default bound, 30 s, would not), exit 1 and say aborted (the
# server streams on, on host A, untracked) or released (as
# migrate-fail); serve drops the migration.  migrate-cut-commit: serve's
# child stops between COMMIT and COMMITTED
# (LMPROC_FAULT=serve-stop-before-committed), host B drops the channel's
# packets (nft, port 7070), serve goes on: migrate must end within 20 s,
# the server left STOPPED on host A as migrate says; resolved as told
# (kill -9 at A), the server on B carries the stream to its end.
# migrate-killed-send: migrate stops itself in the final send
# (migrate-stop-in-send), the tree frozen, its connection in repair mode
# behind the lock; the server gets a SIGSTOP (taken once released) and
# migrate a SIGKILL: the kernel removes the lock, the connection's
# guardian takes it out of repair mode, and once the guardian is gone
# the server gets SIGCONT and streams on at A; the client sees every
# byte, no reset; nothing is left on host B.
# migrate-cut-restore: serve's child stops before its restore forks
# (LMPROC_FAULT=restore-stop-before-fork), host B's fabric link goes down
# with every byte acknowledged: keepalive must find it, migrate end
# within 20 s (not the 120 s a restore may take), released.
# HOSTS_LOCK=iptables dumps with --network-lock iptables (default: the
# nftables lock; migrate and serve are given it too).  HOSTS_NO_REPAIR=1
# leaves --tcp-established out of dump and restore (or migrate): the case
# must then fail (the dump is refused), which shows
# it tests TCP repair.
#
# Topology (contrib/hosts.sh makes it), every namespace made here and
# gone with its holder process:
#
#   client netns             fabric netns              host A (net+pid+mnt+ipc)
#   eth0 198.18.0.20 ---- fC [bridge fab] fA ---- upA [bridge br0] vc0 --- container
#                                         fB ---- upB [bridge br0]         eth0 198.18.0.10
#                                                 host B (net+pid+mnt+ipc)
#
# IPv6: fd00:18::20 (client) and fd00:18::10 (container), /64, no DAD.
# The container is a network namespace of its own inside host A (its
# veth end eth0, a fixed MAC); the server (tcpstream) runs in it and in
# host A's pid and mount namespaces, and is its only process by the
# dump.  lmproc dumps it from inside host A (nsenter) with
# --tcp-established, the tree is killed (its namespace and veth go with
# it) and lmproc restores it from inside host B with --veth-pair
# eth0=vc0@br0: same pid in host B's pid namespace, same MAC and
# addresses behind host B's uplink.  The fabric bridge learns the new
# port from the first frame the restored container sends (its ARP or
# neighbour solicitation for the client, or a retransmission).  The
# client never leaves its namespace and must see every byte, in order,
# with no error; its checksums (tcpstream) must match at the end.
# Checked too: the dump held unread data in both directions, and (stall)
# a send window below one MSS (zero, or the one unit of the client's
# window scale that SWS avoidance never fills); host A's tree is gone and host B's runs, with
# the dumped pid; no lmproc nft table or iptables chain is left on host
# A, host B or in the restored container.
# Exit 0 if all held; the reason on stderr otherwise.  Figures on stdout:
# the client's line (gap_ms is its longest wait between two reads) and
# dump_ms, restore_ms, locked_ms (dump start to restore end); pending,
# close-wait and fin-wait2, whose connections are idle at the freeze
# (the server waits for the file go), give resume_ms instead of a gap:
# from the go, made once restored, to the client's first byte
# (pending: one of the server's, close-wait: of the stream it still
# sends; fin-wait2: its end, after the 300 ms the client still writes).
LM=$1 TOOLS=$2 DIR=$3 FAMILY=$4 MODE=$5

if [ "$FAMILY" = 6 ]; then
	SRV=fd00:18::10
else
	SRV=198.18.0.10
fi
PORT=5000
NCONNS=1000	# many's
# The server's command line in the container; MODE's state (tcphalf).
STATE=
case "$MODE" in
dual) SERVER=(tcpstream server :: "$PORT") ;;
pending) SERVER=(tcppending qserver "$SRV" "$PORT" "$DIR/go" 2) ;;
close-wait | fin-wait2)
	STATE=${MODE//-/_}
	SERVER=(tcphalf server "$SRV" "$PORT" "$STATE" "$DIR")
	;;
many) SERVER=(tcpmany server "$SRV" "$PORT" "$NCONNS") ;;
*) SERVER=(tcpstream server "$SRV" "$PORT") ;;
esac
# shellcheck source=contrib/hosts.sh
. "$(dirname "$0")/../../contrib/hosts.sh"
fail() { echo "$*" >&2; exit 1; }
ms() { date +%s%3N; }

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local p

	for p in "${HOLDERS[@]}" ${SP:-} ${CP:-} ${SVP:-} ${SVA:-}; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' TERM INT

# tcp_field NAME: the value of NAME in the dumped connection.
tcp_field() {
	grep -o "\"$1\": [0-9]*" "$DIR/show.json" | head -1 | grep -o '[0-9]*$'
}

# migrate's restore (--pidns) wants the root to lead its session.
SETSID=()
[[ "$MODE" == migrate* ]] && SETSID=(setsid)

# The server in the container on host A (contrib/hosts.sh).
server_up() {
	container_up "$DIR/server.out" "${SETSID[@]}" "$TOOLS/${SERVER[0]}" "${SERVER[@]:1}"
}

# half_conns PID: the connections on PORT in ss's name of STATE in PID's
# network namespace.
half_conns() {
	local ss=close-wait

	[ "$STATE" = fin_wait2 ] && ss=fin-wait-2
	at "$1" ss -tanH state "$ss" "( sport = :$PORT )" | wc -l
}

# The client: CP its pid; it runs 1.5 s after the restore.
client_up() {
	local client=(tcpstream client "$SRV" "$PORT" 3000)

	# migrate's TLS handshake and rounds come before the freeze.
	[[ "$MODE" == migrate* ]] && client[4]=6000
	[ "$MODE" = migrate-back ] && client[4]=10000
	# migrate-cut-commit's move waits --link-timeout (3 s) before its checks.
	[ "$MODE" = migrate-cut-commit ] && client[4]=12000

	case "$MODE" in
	stall) client+=(stall) ;;
	pending) client=(tcppending qclient "$SRV" "$PORT" 2) ;;
	close-wait | fin-wait2) client=(tcphalf client "$SRV" "$PORT" "$STATE" "$DIR") ;;
	many) client=(tcpmany client "$SRV" "$PORT" 3000 "$NCONNS") ;;
	esac
	nsenter -t "$CL" -n "$TOOLS/${client[0]}" "${client[@]:1}" \
		>"$DIR/client.out" 2>&1 </dev/null &
	CP=$!
	case "$MODE" in
	stall)
		for _ in $(seq 1000); do
			grep -q stalled "$DIR/client.out" && return 0
			sleep 0.01
		done
		fail "the client's window never closed: $(head -c 200 "$DIR/client.out")"
		;;
	pending)
		wait_out "$DIR/client.out" pending
		# The second connection's bytes (PRE_LEN) in its receive queue.
		for _ in $(seq 1000); do
			at "$SHOST" ss -tnH "( sport = :$PORT )" |
				awk '$2 == 3000 { f = 1 } END { exit !f }' && return 0
			sleep 0.01
		done
		fail "the queued bytes never reached the server: $(at "$SHOST" ss -tnH | head -c 300)"
		;;
	close-wait | fin-wait2)
		wait_out "$DIR/server.out" ready
		[ "$(half_conns "$SHOST")" = 1 ] ||
			fail "the server's connection is not in $STATE: $(at "$SHOST" ss -tanH | head -c 300)"
		;;
	many)
		# Every connection accepted once the server closed its listener.
		for _ in $(seq 1000); do
			at "$SHOST" ss -ltnH "( sport = :$PORT )" | grep -q . || break
			sleep 0.01
		done
		at "$SHOST" ss -ltnH "( sport = :$PORT )" | grep -q . &&
			fail "the server did not accept $NCONNS connections: $(head -c 200 "$DIR/client.out")"
		sleep 0.4
		;;
	*)
		# Both queues fill within milliseconds; let it run a while.
		sleep 0.4
		;;
	esac
	return 0
}

# The dumped connection: unread data both ways, or a zero window; or
# the variant's own.
check_image() {
	local inq outq wnd mss

	"$LM" show -D "$DIR/img" >"$DIR/show.json" 2>"$DIR/show.err" ||
		fail "lmproc show: $(head -c 200 "$DIR/show.err")"
	case "$MODE" in
	pending | close-wait | fin-wait2 | many)
		check_variant_image
		return
		;;
	dual)
		# An IPv6 socket whose addresses are v4-mapped.
		if ! grep -q '"family": 10,' "$DIR/show.json" ||
			! grep -q '"src_addr": "00000000000000000000ffffc612000a"' "$DIR/show.json"; then
			fail "the connection is not a v4-mapped one of an IPv6 socket"
		fi
		;;
	esac
	inq=$(tcp_field inq_len) outq=$(tcp_field outq_len) wnd=$(tcp_field snd_wnd)
	mss=$(tcp_field mss)
	[ -n "$inq" ] || fail "no TCP connection in the images"
	echo "dumped inq $inq outq $outq snd_wnd $wnd"
	if [ "$inq" = 0 ] || [ "$outq" = 0 ]; then
		fail "the dump held inq $inq and outq $outq bytes: not both queues"
	fi
	if [ "$MODE" = stall ] && [ "$wnd" -ge "$mss" ]; then
		fail "the client's window was $wnd bytes at the freeze (MSS $mss): not closed"
	fi
}

# The images of pending (two connections queued, the second with the
# 3,000 bytes its client sent), close-wait and fin-wait2 (the state),
# many (as many connections as made).
check_variant_image() {
	local n want

	case "$MODE" in
	pending)
		n=$(grep -c '"local_port"' "$DIR/show.json")
		[ "$n" = 2 ] || fail "$n queued connections in the images, not 2"
		n=$(grep -o '"inq_len": [0-9]*' "$DIR/show.json" | grep -o '[0-9]*$' | tr '\n' ' ')
		[ "$n" = "0 3000 " ] || fail "the queued connections held $n bytes, not 0 and 3000"
		echo "dumped 2 queued connections"
		;;
	close-wait | fin-wait2)
		want=8
		[ "$STATE" = fin_wait2 ] && want=5
		n=$(grep -A40 '"tcp": {' "$DIR/show.json" | grep -o '"state": [0-9]*' | grep -o '[0-9]*$')
		[ "$n" = "$want" ] || fail "the dumped connection's state is '$n', not $want ($STATE)"
		echo "dumped state $STATE inq $(tcp_field inq_len) outq $(tcp_field outq_len)"
		;;
	many)
		n=$(grep -c '"inq_len"' "$DIR/show.json")
		[ "$n" = "$NCONNS" ] || fail "$n connections in the images, not $NCONNS"
		echo "dumped $n connections"
		;;
	esac
}

# The restored server: pid SPID in host B, in a namespace of its own;
# RHOST its pid here.
check_moved() {
	local cmd rns p

	RHOST=

	[ ! -e "/proc/$SHOST" ] || fail "the server (pid $SHOST) still runs on host A"
	cmd=$(nsenter -t "$HB" -p -m cat "/proc/$SPID/cmdline" 2>/dev/null | tr '\0' ' ')
	[[ "$cmd" == *"${SERVER[0]} ${SERVER[1]}"* ]] ||
		fail "no server at pid $SPID in host B (there: '$cmd')"
	# Detached, it is a child of host B's init now.
	# shellcheck disable=SC2013 # one line of pids
	for p in $(cat "/proc/$HB/task/$HB/children"); do
		[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)" = "$SPID" ] &&
			RHOST=$p
	done
	[ -n "$RHOST" ] || fail "the restored server is not in host B's pid namespace"
	rns=$(readlink "/proc/$RHOST/ns/net")
	[ "$rns" != "$(readlink "/proc/$HB/ns/net")" ] ||
		fail "the restored server is in host B's own network namespace"
	rules "$RHOST" | grep -q lmproc && fail "a lock is left in the restored container"
	return 0
}

# go: the idle variants' server (and tcphalf's client) go on; their
# end checked: both connections served (pending), the counts matched
# (close-wait, fin-wait2).  TGO: when.
go() {
	if [ -n "$STATE" ]; then
		[ "$(half_conns "$RHOST")" = 1 ] ||
			fail "the restored connection is not in $STATE: $(at "$RHOST" ss -tanH | head -c 300)"
	fi
	TGO=$(ms)
	touch "$DIR/go"
}

# The figure of an idle variant, and the server's end.
idle_end() {
	local first sr sw cr cw

	first=$(awk '/^first_at/ { print $2 }' "$DIR/client.out")
	if [ "$MODE" = pending ]; then
		grep -q "^ok 2" "$DIR/client.out" || fail "client: $(head -c 200 "$DIR/client.out")"
		wait_out "$DIR/server.out" "served 2"
	else
		wait_out "$DIR/server.out" "done"
		read -r _ sr _ sw < <(grep '^read [0-9]' "$DIR/server.out")
		read -r _ cr _ cw _ < <(grep '^read [0-9]' "$DIR/client.out")
		echo "server read $sr wrote $sw"
		if [ -z "$sr" ] || [ "$sr" != "$cw" ] || [ "$cr" != "$sw" ]; then
			fail "counts differ: server read $sr wrote $sw, client read $cr wrote $cw"
		fi
	fi
	[ -n "$first" ] && echo "resume_ms $((first - TGO))"
}

# The client's end: every byte, its count matched; no lock on either host.
finish() {
	local cst

	wait "$CP"
	cst=$?
	CP=
	grep -v '^first_at' "$DIR/client.out"
	[ "$cst" = 0 ] || fail "client: $(tr '\n' ' ' <"$DIR/client.out" | head -c 300)"
	[ -n "${TGO:-}" ] && idle_end
	[ "$(rules "$HA")" = "$RULES_A" ] ||
		fail "host A's firewall differs after: $(rules "$HA" | grep lmproc | head -c 200)"
	[ "$(rules "$HB")" = "$RULES_B" ] ||
		fail "host B's firewall differs after: $(rules "$HB" | grep lmproc | head -c 200)"
	exit 0
}

# serve in host B's namespaces, on 198.18.0.2:7070 (its br0; host A's
# br0 198.18.0.1), a fresh key in DIR/psk; its log in DIR/serve.err.
serve_up() {
	local fault=()

	[ "$MODE" = migrate-fail ] && fault=(LMPROC_FAULT=restore-in-restorer)
	[[ "$MODE" == migrate-cut-* ]] && LINK_TIMEOUT=(--link-timeout 3)
	[ "$MODE" = migrate-lost ] || [ "$MODE" = migrate-cut-restore ] &&
		fault=(LMPROC_FAULT=restore-stop-before-fork)
	[ "$MODE" = migrate-cut-commit ] && fault=(LMPROC_FAULT=serve-stop-before-committed)
	if ! at "$HA" ip addr add 198.18.0.1/24 dev br0 ||
		! at "$HB" ip addr add 198.18.0.2/24 dev br0; then
		fail "can't address the hosts' bridges"
	fi
	(umask 077 && printf 'lmproc:%s\n' \
		"$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$DIR/psk")
	mkdir -p "$DIR/srv"
	nsenter -t "$HB" -n -p -m env "${fault[@]}" "$LM" serve --listen 198.18.0.2:7070 \
		--tls-psk-file "$DIR/psk" -D "$DIR/srv" "${lock[@]}" "${LINK_TIMEOUT[@]}" </dev/null \
		>/dev/null 2>"$DIR/serve.err" &
	SVP=$!
	wait_out "$DIR/serve.err" "listening on"
}

# json_field NAME: NAME's value in migrate's summary.
json_field() {
	tail -n 1 "$DIR/migrate.json" | sed -n "s/.*\"$1\": \"\{0,1\}\([^,\"}]*\).*/\1/p"
}

# only_sleep PID [OTHER]: PID's children are its sleep and OTHER, nothing
# else (a host's init: nothing of lmproc's left there).
only_sleep() {
	local p

	# shellcheck disable=SC2013 # one line of pids
	for p in $(cat "/proc/$1/task/$1/children"); do
		[ "$p" = "${2:-}" ] && continue
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sleep ] && continue
		echo "$p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | head -c 100)"
	done
}

# below PID ANCESTOR: ANCESTOR is among PID's four nearest ancestors
# (other suites' hosts, run meanwhile, have processes at the same pids).
below() {
	local p=$1

	for _ in 1 2 3 4; do
		p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		[ -n "$p" ] && [ "$p" != 0 ] || return 1
		[ "$p" = "$2" ] && return 0
	done
	return 1
}

# The server moved by migrate: its pid in host B's (DEST) and in serve's
# new pid namespace (SPID, as dumped), under that namespace's init, a
# child of host B's init; in a network namespace of its own, no lock.
# RESULT: migrate's (default migrated); migrate-back's way back: TO FROM
# LOG, host A, host B and its serve's log.
check_migrated() {
	local dest p f pid rinit left result=${1:-migrated} to=${2:-$HB} from=${3:-$HA}
	local log=${4:-$DIR/serve.err}

	[ "$(json_field result)" = "$result" ] ||
		fail "migrate did not say $result: $(head -c 300 "$DIR/migrate.json" "$DIR/migrate.err")"
	dest=$(json_field dest_pid)
	wait_out "$log" "pid $dest runs here"
	RHOST=
	# Below host TO only: other suites' hosts have their own pid 6.
	for p in /proc/[0-9]*; do
		read -r -a f < <(awk '/^NSpid:/ { $1 = ""; print }' "$p/status" 2>/dev/null)
		[ "${#f[@]}" = 3 ] && [ "${f[1]}" = "$dest" ] && below "${f[0]}" "$to" &&
			RHOST=${f[0]}
	done
	[ -n "$RHOST" ] || fail "no process at pid $dest in host $(host_name "$to")"
	pid=$(awk '/^NSpid:/ { print $NF }' "/proc/$RHOST/status")
	[ "$pid" = "$SPID" ] || fail "the restored server has pid $pid in its namespace, not $SPID"
	[[ "$(tr '\0' ' ' <"/proc/$RHOST/cmdline")" == *"${SERVER[0]} ${SERVER[1]}"* ]] ||
		fail "pid $dest in host $(host_name "$to") is not the server"
	rinit=$(awk '/^PPid:/ { print $2 }' "/proc/$RHOST/status")
	# serve's child, its parent until then, may log before it exits.
	for _ in $(seq 500); do
		[ "$(awk '/^PPid:/ { print $2 }' "/proc/$rinit/status")" = "$to" ] && break
		sleep 0.01
	done
	[ "$(awk '/^PPid:/ { print $2 }' "/proc/$rinit/status")" = "$to" ] ||
		fail "the restored server's pid namespace init is not a child of host" \
			"$(host_name "$to")'s init"
	[ "$(readlink "/proc/$RHOST/ns/net")" != "$(readlink "/proc/$to/ns/net")" ] ||
		fail "the restored server is in host $(host_name "$to")'s own network namespace"
	rules "$RHOST" | grep -q lmproc && fail "a lock is left in the restored container"
	# Its clocks continue the dumped ones: a time namespace of its own.
	[ "$(readlink "/proc/$RHOST/ns/time")" != "$(readlink "/proc/$to/ns/time")" ] ||
		fail "the restored server is in host $(host_name "$to")'s time namespace"
	for _ in $(seq 500); do
		[ -z "$(only_sleep "$from")" ] && break
		sleep 0.01
	done
	left=$(only_sleep "$from")
	[ -z "$left" ] || fail "left on host $(host_name "$from"): $left"
	left=$(only_sleep "$to" "$rinit")
	[ -z "$left" ] || fail "left on host $(host_name "$to"): $left"
	at "$from" ip link show vc0 >/dev/null 2>&1 &&
		fail "vc0 is left on host $(host_name "$from")"
	at "$to" ip -o link show vc0 2>/dev/null | grep -q "master br0" ||
		fail "no vc0 on host $(host_name "$to")'s br0: $(at "$to" ip -o link show |
			cut -d: -f2 | tr '\n' ' ')"
	return 0
}

host_name() {
	if [ "$1" = "$HA" ]; then echo A; else echo B; fi
}

# migrate-back: the server, on host B since the first move, moved back
# by a migrate in host B's namespaces (the server's pid there, DEST) to a
# serve in host A's, on 198.18.0.1:7070 (host A's br0).
move_back() {
	local st t0 t1 dest left

	dest=$(json_field dest_pid)
	cp "$DIR/migrate.json" "$DIR/migrate-1.json"
	mkdir -p "$DIR/srv-a"
	nsenter -t "$HA" -n -p -m "$LM" serve --listen 198.18.0.1:7070 --tls-psk-file "$DIR/psk" \
		-D "$DIR/srv-a" "${lock[@]}" </dev/null >/dev/null 2>"$DIR/serve-a.err" &
	SVA=$!
	wait_out "$DIR/serve-a.err" "listening on"
	t0=$(ms)
	timeout 60 nsenter -t "$HB" -n -p -m "$LM" migrate -t "$dest" --to 198.18.0.1:7070 \
		--tls-psk-file "$DIR/psk" --tcp-established "${lock[@]}" --veth-pair eth0=vc0@br0 \
		--json -o "$DIR/migrate-back.log" >"$DIR/migrate.json" 2>"$DIR/migrate.err"
	st=$?
	t1=$(ms)
	[ "$st" = 124 ] && fail "migrate back did not end within 60 s"
	[ "$st" = 0 ] || fail "migrate back: $(head -c 300 "$DIR/migrate.err")"
	echo "back: frozen_ms $(json_field frozen_ms) migrate_ms $((t1 - t0)) rounds" \
		"$(json_field rounds)"
	check_migrated migrated "$HA" "$HB" "$DIR/serve-a.err"
	left=$(find "$DIR/srv-a" -mindepth 1 | head -n 3)
	[ -z "$left" ] || fail "serve on host A left $left under -D"
}

# The source's copy resumed after serve's restore failed (RESULT, default
# released: frozen, then released; aborted: never frozen for the final
# dump, and untracked: no VMA of the server registered with a
# userfaultfd).
check_resumed() {
	local left result=${1:-released}

	if [ "$result" = aborted ]; then
		for _ in $(seq 200); do
			grep -q '^VmFlags:.* uw' "/proc/$SHOST/smaps" || break
			sleep 0.01
		done
		grep -q '^VmFlags:.* uw' "/proc/$SHOST/smaps" &&
			fail "the server on host A is still tracked (VmFlags uw)"
	fi
	[ "$(json_field result)" = "$result" ] ||
		fail "migrate did not say $result: $(head -c 300 "$DIR/migrate.json" "$DIR/migrate.err")"
	[ -e "/proc/$SHOST" ] || fail "the server is gone from host A"
	grep -q "R\|S" "/proc/$SHOST/stat" || fail "the server on host A is not running"
	rules "$SHOST" | grep -q lmproc && fail "a lock is left in the container"
	wait_out "$DIR/serve.err" "refused\|killed by SIGKILL"
	left=$(only_sleep "$HB")
	[ -z "$left" ] || fail "left on host B: $left"
	at "$HB" ip link show vc0 >/dev/null 2>&1 && fail "the restore left vc0 on host B"
	at "$HA" ip -o link show vc0 2>/dev/null | grep -q "master br0" ||
		fail "vc0 is no longer on host A's br0"
	return 0
}

# migrate-cut-commit: COMMIT arrived, COMMITTED did not (the link cut):
# migrate exits 1 with the tree left stopped on host A (state T), says so
# and how to resolve it; serve's copy runs on host B; resolved as told
# (kill -9 at A once B says the tree runs there), the server on B carries
# the client's stream to its end.
check_left_stopped() {
	local st ns

	[ "$(json_field result)" = frozen ] ||
		fail "migrate did not say frozen: $(head -c 300 "$DIR/migrate.json" "$DIR/migrate.err")"
	grep -q "left STOPPED here, neither killed nor resumed.*kill -9 $SPID" "$DIR/migrate.err" ||
		fail "migrate did not say the tree is left stopped: $(head -c 300 "$DIR/migrate.err")"
	st=$(awk '{ print $3 }' "/proc/$SHOST/stat" 2>/dev/null)
	[ "$st" = T ] || fail "the server on host A is in state '${st:-gone}', not stopped (T)"
	wait_out "$DIR/serve.err" "pid $(json_field dest_pid) runs here"
	# nsenter stopped itself with the server: continued, it sees it die.
	ns=$(awk '/^PPid:/ { print $2 }' "/proc/$SHOST/status")
	kill -KILL "$SHOST"
	kill -CONT "$ns"
	wait "$SP" 2>/dev/null
	check_migrated frozen
}

# channel_cut: host B drops every packet of the migration's channel
# (port 7070) both ways: silence, no reset, and the client's path and
# the restored server's announcement unharmed (host B's link down would
# lose the announcement, and the client's stream would wait for the
# restored server's retransmission backoff).  Undone by channel_mend.
channel_cut() {
	at "$HB" nft -f - <<-'EOF' || fail "can't cut the channel on host B"
		table inet lmtest_cut {
			chain in { type filter hook input priority 0; tcp dport 7070 drop; }
			chain out { type filter hook output priority 0; tcp sport 7070 drop; }
		}
	EOF
}

channel_mend() {
	at "$HB" nft delete table inet lmtest_cut
}

# cut_link: migrate-lost's serve child, stopped before its restore
# forks, killed (the link lost before RESTORED); migrate-cut-restore's,
# left stopped there (CUT_CHILD) with host B's fabric link down: every
# byte sent is acknowledged, only keepalive finds the link dead;
# migrate-cut-commit's, stopped between COMMIT and COMMITTED, continued
# once the channel is cut (TCUT: when).
cut_link() {
	local sv c

	for _ in $(seq 1000); do
		sv=$(cat "/proc/$SVP/task/$SVP/children" 2>/dev/null)
		# shellcheck disable=SC2013 # one line of pids
		for c in $(cat "/proc/${sv%% *}/task/${sv%% *}/children" 2>/dev/null); do
			[ "$(awk '{ print $3 }' "/proc/$c/stat" 2>/dev/null)" = T ] || continue
			if [ "$MODE" = migrate-cut-commit ]; then
				channel_cut
				TCUT=$(ms)
				kill -CONT "$c"
			elif [ "$MODE" = migrate-cut-restore ]; then
				at "$HB" ip link set upB down || fail "can't set host B's upB down"
				TCUT=$(ms)
				CUT_CHILD=$c
			else
				kill -KILL "$c"
			fi
			return 0
		done
		sleep 0.01
	done
	fail "serve's child did not stop at its fault point"
}

# kids PID...: the children of each PID.
kids() {
	local p

	for p; do
		cat "/proc/$p/task/$p/children" 2>/dev/null
	done
}

# kill_copy MIGRATE: migrate-grace-dies's copy of the server (below serve, SVP
# its nsenter: serve, its child, the pid namespace's init, the copy),
# once it runs its grace (nothing traces it), streams 300 ms into the
# lock; then it dies of SIGSEGV.  MIGRATE: migrate's pid, whose end
# ends the wait.
kill_copy() {
	local c

	for _ in $(seq 2000); do
		kill -0 "$1" 2>/dev/null ||
			fail "migrate ended before the copy ran its grace: $(head -c 200 "$DIR/migrate.err")"
		# shellcheck disable=SC2046 # lists of pids
		for c in $(kids $(kids $(kids $(kids "$SVP")))); do
			grep -q '^TracerPid:[[:space:]]*0$' "/proc/$c/status" 2>/dev/null || continue
			[[ "$(tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null)" == *"${SERVER[0]} ${SERVER[1]}"* ]] ||
				continue
			sleep 0.3
			kill -SEGV "$c"
			return 0
		done
		sleep 0.01
	done
	fail "the server's copy never ran its grace on host B"
}

# stopped_lmproc PID: the lmproc under PID stopped by its own fault
# point (state T), in STOPPED_LM.
stopped_lmproc() {
	local c

	# shellcheck disable=SC2013 # one line of pids
	for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = lmproc ] &&
			[ "$(awk '{ print $3 }' "/proc/$c/stat" 2>/dev/null)" = T ]; then
			STOPPED_LM=$c
			return 0
		fi
		stopped_lmproc "$c" && return 0
	done
	return 1
}

# cut_fabric PID: once migrate (under PID) stopped at its fault point,
# host B's link to the fabric goes down (silence: no reset, no error),
# and migrate goes on; TCUT: when.
cut_fabric() {
	for _ in $(seq 1000); do
		stopped_lmproc "$1" && break
		sleep 0.01
	done
	[ -n "${STOPPED_LM:-}" ] || fail "migrate did not stop at its fault point"
	at "$HB" ip link set upB down || fail "can't set host B's upB down"
	TCUT=$(ms)
	# nsenter stopped itself with its child: continued, it continues it.
	kill -CONT "$(awk '/^PPid:/ { print $2 }' "/proc/$STOPPED_LM/status")" "$STOPPED_LM"
}

# kill_migrate PID: once migrate (under PID) stopped at its fault point,
# SIGSTOP to the server (held until its guardian has run), SIGKILL to
# migrate; SIGCONT to the server once every process of that migrate
# (its guardian and janitor are forks of it) is gone.
kill_migrate() {
	local parent server_nsenter

	for _ in $(seq 1000); do
		stopped_lmproc "$1" && break
		sleep 0.01
	done
	[ -n "${STOPPED_LM:-}" ] || fail "migrate did not stop at its fault point"
	parent=$(awk '/^PPid:/ { print $2 }' "/proc/$STOPPED_LM/status")
	server_nsenter=$(awk '/^PPid:/ { print $2 }' "/proc/$SHOST/status")
	kill -STOP "$SHOST"
	kill -KILL "$STOPPED_LM"
	# nsenter stopped itself with its child: continued, it reaps it.
	kill -CONT "$parent"
	for _ in $(seq 250); do
		pgrep -f -- "-o $DIR/migrate.log" >/dev/null || break
		sleep 0.02
	done
	pgrep -f -- "-o $DIR/migrate.log" >/dev/null && fail "the killed migrate left processes"
	# The server's nsenter stopped itself with the server too: left
	# stopped, it would never reap it, and host A's init would wait for
	# that forever once the host is taken down.
	kill -CONT "$SHOST" "$server_nsenter"
}

# migrate, migrate-fail, migrate-lost, migrate-grace*, migrate-back,
# migrate-cut-* and migrate-killed-send: the move, its checks, the
# client's end.
move() {
	local st t0 t1 left tcp=(--tcp-established) grace=() fault=() bound=60

	[ -n "${HOSTS_NO_REPAIR:-}" ] && tcp=()
	[ "$MODE" = migrate-grace ] && grace=(--grace 200)
	[ "$MODE" = migrate-grace-dies ] && grace=(--grace 10000)
	case "$MODE" in
	migrate-cut-round) fault=(LMPROC_FAULT=migrate-stop-in-round) ;;
	migrate-cut-send | migrate-killed-send) fault=(LMPROC_FAULT=migrate-stop-in-send) ;;
	esac
	# A cut link is found within --link-timeout (3 s), not the default 30.
	[ ${#fault[@]} = 1 ] || [[ "$MODE" == migrate-cut-* ]] && bound=20
	serve_up
	t0=$(ms)
	# A subshell, so that a migrate SIGKILLed goes unannounced.
	(timeout "$bound" nsenter -t "$HA" -n -p -m env "${fault[@]}" "$LM" migrate -t "$SPID" \
		--to 198.18.0.2:7070 --tls-psk-file "$DIR/psk" "${tcp[@]}" "${lock[@]}" \
		"${grace[@]}" --veth-pair eth0=vc0@br0 --json "${LINK_TIMEOUT[@]}" \
		-o "$DIR/migrate.log" >"$DIR/migrate.json" 2>"$DIR/migrate.err"
		exit $?) 2>/dev/null &
	st=$!
	case "$MODE" in
	migrate-lost | migrate-cut-commit | migrate-cut-restore) cut_link ;;
	esac
	if [ "$MODE" = migrate-killed-send ]; then
		kill_migrate "$st"
	elif [ ${#fault[@]} = 1 ]; then
		cut_fabric "$st"
	fi
	[ "$MODE" = migrate-grace-dies ] && kill_copy "$st"
	wait "$st"
	st=$?
	t1=$(ms)
	[ "$st" = 124 ] && fail "migrate did not end within $bound s"
	echo "frozen_ms $(json_field frozen_ms) migrate_ms $((t1 - t0)) rounds $(json_field rounds)"
	[ -n "${TCUT:-}" ] && echo "after_cut_ms $((t1 - TCUT))"
	if [ "$MODE" = migrate-cut-commit ]; then
		channel_mend
	elif [ -n "${TCUT:-}" ]; then
		at "$HB" ip link set upB up
	fi
	# What the restore held made goes with its process.
	[ -n "${CUT_CHILD:-}" ] && kill -KILL "$CUT_CHILD"
	if [ "$MODE" = migrate-cut-round ]; then
		[ "$st" != 0 ] || fail "migrate succeeded with the link cut"
		grep -q "failed during pre-copy: round 2: .* runs here as before, untracked" \
			"$DIR/migrate.err" ||
			fail "migrate did not fail in round 2: $(head -c 300 "$DIR/migrate.err")"
		check_resumed aborted
	elif [ "$MODE" = migrate-cut-send ]; then
		[ "$st" != 0 ] || fail "migrate succeeded with the link cut"
		grep -q "failed: .*; the tree is released and runs here as before" \
			"$DIR/migrate.err" ||
			fail "migrate did not release the tree: $(head -c 300 "$DIR/migrate.err")"
		check_resumed
	elif [ "$MODE" = migrate-killed-send ]; then
		[ "$st" = 137 ] || fail "migrate was not killed (status $st)"
		grep -q "R\|S" "/proc/$SHOST/stat" || fail "the server on host A is not running"
		rules "$SHOST" | grep -q lmproc && fail "a lock is left in the container"
		left=$(only_sleep "$HB")
		[ -z "$left" ] || fail "left on host B: $left"
	elif [ "$MODE" = migrate-cut-restore ]; then
		[ "$st" != 0 ] || fail "migrate succeeded with the link cut"
		grep -q "no answer from the destination after the images: .*released" \
			"$DIR/migrate.err" ||
			fail "migrate did not release the tree: $(head -c 300 "$DIR/migrate.err")"
		check_resumed
	elif [ "$MODE" = migrate-cut-commit ]; then
		check_left_stopped
	elif [ "$MODE" != migrate ] && [ "$MODE" != migrate-back ] &&
		[ "$MODE" != migrate-grace ]; then
		[ "$st" != 0 ] || fail "migrate succeeded with the restore failing or the link cut"
		check_resumed
		[ "$MODE" != migrate-grace-dies ] ||
			wait_out "$DIR/serve.err" "died within the grace period (killed by SIGSEGV)"
	else
		[ "$st" = 0 ] || fail "migrate: $(head -c 300 "$DIR/migrate.err")"
		wait "$SP" 2>/dev/null
		check_migrated
	fi
	left=$(find "$DIR/srv" -mindepth 1 | head -n 3)
	[ -z "$left" ] || fail "serve left $left under -D"
	[ "$MODE" = migrate-back ] && move_back
	finish
}

for c in nft nsenter iptables-save; do
	command -v "$c" >/dev/null || fail "$c missing"
done
topology || fail "can't make the topology"
RULES_A=$(rules "$HA") RULES_B=$(rules "$HB")
server_up
client_up
lock=()
LINK_TIMEOUT=()
[ -n "${HOSTS_LOCK:-}" ] && lock=(--network-lock "$HOSTS_LOCK")
[[ "$MODE" == migrate* ]] && move
args=(--tcp-established)
[ -n "${HOSTS_NO_REPAIR:-}" ] && args=()
fault=()
case "$MODE" in
leave) args+=(-R) ;;
fail) fault=(env LMPROC_FAULT=dump-before-inventory) ;;
esac
mkdir -p "$DIR/img"
t0=$(ms)
timeout 20 nsenter -t "$HA" -n -p -m "${fault[@]}" "$LM" dump -t "$SPID" -D "$DIR/img" \
	"${args[@]}" "${lock[@]}" -o "$DIR/dump.log" 2>"$DIR/dump.err"
st=$?
t1=$(ms)
[ "$st" = 124 ] && fail "the dump did not end within 20 s"
if [ "$MODE" = fail ]; then
	[ "$st" != 0 ] || fail "the dump with a fault injected succeeded"
else
	[ "$st" = 0 ] || fail "dump: $(head -c 300 "$DIR/dump.err")"
fi
if [ "$MODE" = leave ] || [ "$MODE" = fail ]; then
	echo "dump_ms $((t1 - t0))"
	[ -e "/proc/$SHOST" ] || fail "the server is gone after the dump ($MODE)"
	rules "$SHOST" | grep -q lmproc && fail "a lock is left in the container ($MODE)"
	finish
fi
wait "$SP" 2>/dev/null
t2=$(ms)
timeout 20 nsenter -t "$HB" -n -p -m "$LM" restore -D "$DIR/img" -d "${args[@]}" \
	--veth-pair eth0=vc0@br0 -o "$DIR/restore.log" 2>"$DIR/restore.err"
st=$?
[ "$st" = 124 ] && fail "the restore did not end within 20 s"
[ "$st" = 0 ] || fail "restore: $(head -c 300 "$DIR/restore.err")"
t3=$(ms)
[ "$MODE" = stall ] && kill -USR1 "$CP"
echo "dump_ms $((t1 - t0)) restore_ms $((t3 - t2)) locked_ms $((t3 - t0))"
check_image
check_moved
case "$MODE" in
pending | close-wait | fin-wait2) go ;;
esac
finish
