# shellcheck shell=bash
# Two "hosts" on this machine, for the demo (contrib/demo.sh) and the
# tests that move a server between them (test/bad-input/tcp-hosts.sh):
# sourced by both.  Every namespace is made here, held by a background
# process listed in HOLDERS, and goes with it; only 198.18.0.0/15 and
# fd00::/8 addresses, on links between these namespaces: nothing touches
# the machine's own network namespace.
#
#   client netns             fabric netns              host A (net+pid+mnt+ipc)
#   eth0 198.18.0.20 ---- fC [bridge fab] fA ---- upA [bridge br0] vc0 --- container
#                                         fB ---- upB [bridge br0]         eth0 198.18.0.10
#                                                 host B (net+pid+mnt+ipc)
#
# IPv6: fd00:18::20 (client) and fd00:18::10 (container), /64, no DAD.
# The container is a network namespace of its own inside host A (its
# veth end eth0, a fixed MAC); the server runs in it and in host A's pid
# and mount namespaces, and is its only process.  Restored on host B
# with --veth-pair eth0=vc0@br0 it keeps its MAC and addresses behind
# host B's uplink; the fabric bridge learns the new port from the first
# frame the restored container sends.
#
# The caller defines fail MESSAGE (exits); topology sets HA, HB, CL, CT,
# FAB (the holders' pids, to nsenter), container_up SP, SHOST, SPID,
# serve_on_b SVP; the caller sets CP, the sample client's pid, for
# wait_answers.  The caller kills HOLDERS (and SP, SVP) when it ends.

HOLDERS=()	# background processes whose death removes a namespace

# holder NAME ARGS...: a process that holds new namespaces (unshare
# ARGS); $NAME is set to the pid to nsenter.  A network namespace's
# holder is a sleep; a host's is the init of its pid namespace (a shell
# that only reaps: the restored tree is reparented to it), and killing
# it takes the whole host along.
holder() {
	local var=$1 p init

	shift
	if [[ " $* " == *" --pid "* ]]; then
		unshare "$@" bash -c 'while :; do sleep 600 & wait $!; done' \
			</dev/null >/dev/null 2>&1 &
	else
		unshare "$@" sleep 600 </dev/null >/dev/null 2>&1 &
	fi
	p=$!
	HOLDERS+=("$p")
	init=$p
	if [[ " $* " == *" --pid "* ]]; then
		for _ in $(seq 1000); do
			init=$(cat "/proc/$p/task/$p/children" 2>/dev/null)
			init=${init%% *}
			[ -n "$init" ] && break
			sleep 0.01
		done
		[ -n "$init" ] || fail "no init in the namespaces of $var"
		HOLDERS+=("$init")
	fi
	printf -v "$var" %s "$init"
}

# stop PID SIG TENTHS: SIG to PID (a child), then up to TENTHS tenths of
# a second for it to end; SIGKILL after.  Its exit status.
stop() {
	local n=$3

	kill "-$2" "$1" 2>/dev/null
	while kill -0 "$1" 2>/dev/null && [ "$n" -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# at PID CMD...: CMD in PID's network namespace.
at() {
	local p=$1

	shift
	nsenter -t "$p" -n "$@"
}

# veth_up NS_A NAME_A NS_B NAME_B: a veth between two namespaces.
veth_up() {
	at "$1" ip link add "$2" type veth peer name "$4" netns "/proc/$3/ns/net" &&
		at "$1" ip link set "$2" up && at "$3" ip link set "$4" up
}

# bridge_up NS NAME PORT...: a bridge without STP or multicast snooping.
bridge_up() {
	local ns=$1 br=$2 port

	shift 2
	at "$ns" ip link add "$br" type bridge stp_state 0 mcast_snooping 0 &&
		at "$ns" ip link set "$br" up || return 1
	for port; do
		at "$ns" ip link set "$port" master "$br" || return 1
	done
}

# rules NS: the firewall of NS as nft and iptables show it.
rules() {
	at "$1" nft list ruleset 2>&1
	at "$1" iptables-save 2>/dev/null | grep -v '^#'
	at "$1" ip6tables-save 2>/dev/null | grep -v '^#'
}

# topology: the namespaces and links drawn above (the hosts' bridges
# without addresses yet); 1 if one could not be made.  Each host has SysV
# IPC of its own, as two machines do: serve restores in host B's, and a
# tree moved from host A's finds none of its objects left there.  Each host's br0
# has a MAC of its own: one taken from its ports would change as vc0
# comes and goes, and the other host would send the migration's channel
# to the old one until its neighbour entry expires.
topology() {
	holder FAB --net
	holder CL --net
	holder HA --net --pid --mount --ipc --fork --kill-child --mount-proc
	holder HB --net --pid --mount --ipc --fork --kill-child --mount-proc
	holder CT --net
	veth_up "$CL" eth0 "$FAB" fC && veth_up "$HA" upA "$FAB" fA &&
		veth_up "$HB" upB "$FAB" fB && bridge_up "$FAB" fab fA fB fC &&
		bridge_up "$HA" br0 upA && bridge_up "$HB" br0 upB &&
		at "$HA" ip link set br0 address 02:00:c6:12:00:01 &&
		at "$HB" ip link set br0 address 02:00:c6:12:00:02 &&
		at "$HA" ip link add vc0 type veth peer name eth0 netns "/proc/$CT/ns/net" &&
		at "$HA" ip link set vc0 master br0 up || return 1
	at "$CL" sh -c 'ip link set lo up && ip addr add 198.18.0.20/24 dev eth0 &&
		ip -6 addr add fd00:18::20/64 dev eth0 nodad' || return 1
	at "$CT" sh -c 'ip link set lo up &&
		ip link set eth0 address 02:00:c6:12:00:0a up &&
		ip addr add 198.18.0.10/24 dev eth0 &&
		ip -6 addr add fd00:18::10/64 dev eth0 nodad'
}

# wait_out FILE WORD: up to 10 s for WORD in FILE (a tool's "error"
# line ends it at once).
wait_out() {
	for _ in $(seq 1000); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		grep -q "^error" "$1" 2>/dev/null && break
		sleep 0.01
	done
	fail "no \"$2\" in $(basename "$1"): $(head -c 200 "$1")"
}

# container_up OUT CMD...: the server CMD in the container's network
# namespace and host A's pid and mount namespaces, its output in OUT,
# where it says "listening" once it does; SP its nsenter, SHOST its pid
# here, SPID in host A: 100, which host B's lmproc (pid 3 there) does
# not take.  (For migrate, CMD starts with setsid: its restore, --pidns,
# wants the root to lead its session.)
container_up() {
	local out=$1

	shift
	nsenter -t "$HA" -p -m sh -c 'echo 99 >/proc/sys/kernel/ns_last_pid' ||
		fail "can't set host A's next pid"
	# Only its standard fds: what the runner holds is no part of the tree.
	# The subshell outlives it quietly (no "Killed" when the dump kills it).
	(
		for f in /proc/self/fd/*; do
			f=${f##*/}
			[ "$f" -gt 2 ] && eval "exec $f>&-"
		done
		nsenter -t "$HA" -p -m --net="/proc/$CT/ns/net" "$@" >"$out" 2>&1 </dev/null
		exit 0
	) 2>/dev/null &
	SP=$!
	for _ in $(seq 1000); do
		grep -q listening "$out" 2>/dev/null && break
		sleep 0.01
	done
	grep -q listening "$out" || fail "server: $(head -c 200 "$out")"
	SHOST=$(cat "/proc/$SP/task/$SP/children")	# nsenter
	SHOST=$(cat "/proc/${SHOST%% *}/task/${SHOST%% *}/children")
	SHOST=${SHOST%% *}
	SPID=$(awk '/^NSpid:/ { print $NF }' "/proc/$SHOST/status")
	[ -n "$SPID" ] || fail "no pid of the server in host A"
	# The server alone holds the container's namespace from now on.
	kill -KILL "$CT"
	wait "$CT" 2>/dev/null
}

# answers FILE: the count of answers in the last line of sample-client's
# output FILE.
answers() {
	grep ' answers ' "$1" | tail -n 1 | sed -n 's/.* answers \([0-9]*\) .*/\1/p'
}

# wait_answers FILE N: up to 10 s for the client (CP, its output FILE) to
# count N answers; 1 if it ends first.
wait_answers() {
	local n

	for _ in $(seq 100); do
		n=$(answers "$1")
		[ -n "$n" ] && [ "$n" -ge "$2" ] && return 0
		kill -0 "$CP" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# serve_on_b LMPROC DIR: lmproc serve in host B's namespaces (IPC too), on its br0
# (198.18.0.2; host A's 198.18.0.1), with a fresh pre-shared key
# (DIR/psk), images under DIR/srv; its log DIR/serve.err; SVP its nsenter.
serve_on_b() {
	if ! at "$HA" ip addr add 198.18.0.1/24 dev br0 ||
		! at "$HB" ip addr add 198.18.0.2/24 dev br0; then
		fail "can't address the hosts' bridges"
	fi
	(umask 077 && echo "lmproc:$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" >"$2/psk")
	mkdir "$2/srv"
	nsenter -t "$HB" -n -p -m -i "$1" serve --listen 198.18.0.2:7070 --tls-psk-file "$2/psk" \
		-D "$2/srv" </dev/null >/dev/null 2>"$2/serve.err" &
	# shellcheck disable=SC2034 # the caller's, to kill
	SVP=$!
	wait_out "$2/serve.err" "listening on"
}
