# shellcheck shell=bash
# Cases of a tree whose root owns a network namespace, for
# test/bad-input/cases.sh (sourced after it).  Everything lives in a "host"
# network namespace the case creates (lmproc runs there too): a bridge
# lmbrPID with 198.18.7.1/24 and fd00:7::1/64, and the target
# (netns_root.c), which unshares a namespace of its own; the case moves a
# veth end into it as eth0 (198.18.7.2/24, fd00:7::2/64, a default route
# through the bridge, MTU 1400, a MAC of its own, two sysctls).  Killing
# the host namespace's holder removes bridge, veths and addresses.

NS_ADDR=198.18.7.2
NS_MAC=02:00:c6:12:07:02

# ns_host CMD...: CMD in the case's host namespace.
ns_host() {
	nsenter -t "$NS_HOLDER" -n "$@"
}

# ns_config [EXTRA]: sets up the target's namespace once it exists (run in
# the background while target_up waits); EXTRA=bridge adds a bridge.
ns_config() {
	local pid n=$$

	wait_until 5000 file_ready "$DD/netns.pid" || return 1
	read -r pid <"$DD/netns.pid"
	ns_host ip link add "lmvd$n" type veth peer name "lmvi$n" &&
		ns_host ip link set "lmvi$n" netns "$pid" &&
		ns_host ip link set "lmvd$n" master "lmbr$n" up &&
		nsenter -t "$pid" -n sh -c "
			ip link set lo up &&
			ip link set lmvi$n name eth0 address $NS_MAC mtu 1400 up &&
			ip addr add $NS_ADDR/24 dev eth0 &&
			ip -6 addr add fd00:7::2/64 dev eth0 nodad &&
			ip route add default via 198.18.7.1 &&
			ip -6 route add default via fd00:7::1 &&
			ip route add 198.19.0.0/16 via 198.18.7.1 metric 7 &&
			sysctl -qw net.ipv4.ip_forward=1 &&
			sysctl -qw net.ipv4.ip_local_port_range='20000 30000'" || return 1
	if [ "${1:-}" = bridge ]; then
		nsenter -t "$pid" -n ip link add "lmbi$n" type bridge || return 1
	fi
	echo "$NS_ADDR" >"$DD/netns.go.tmp" && mv "$DD/netns.go.tmp" "$DD/netns.go"
}

# ns_view PID: links (name, MTU, MAC, up), addresses, routes, sysctls of
# PID's network namespace, as ip and /proc/PID/net show them.
ns_view() {
	# shellcheck disable=SC2016 # the inner shell expands them
	nsenter -t "$1" -n sh -c '
		ip -o link show | sed "s/@[^:]*:/:/" |
			awk "{ for (i = 1; i <= NF; i++) if (\$i == \"mtu\") m = \$(i + 1);
			       print \$2, m, \$3, \$(NF - 2) }"
		ip -o addr show | awk "{ print \$2, \$3, \$4 }"
		ip route show table main; ip -6 route show table main
		sysctl -n net.ipv4.ip_forward net.ipv4.ip_local_port_range' 2>&1
	sort "/proc/$1/net/route" 2>&1 | awk '{ print $1, $2, $3, $8 }'
}

# ns_answers: a connection from the bridge side to the target's listener
# gets its byte answered ("x" -> "y") within 5 s.
ns_answers() {
	local got

	got=$(ns_host timeout 5 bash -c \
		"exec 3<>/dev/tcp/$NS_ADDR/7777 && printf x >&3 && head -c1 <&3" 2>&1)
	if [ "$got" != y ]; then
		REASON="the listener on $NS_ADDR:7777 answered '$got', not y"
		return 1
	fi
}

# ns_misled: the host's neighbour entries of the target's addresses name a
# MAC no one has, stale (nothing probes them while no traffic goes there).
ns_misled() {
	local a

	for a in "$NS_ADDR" fd00:7::2; do
		if ! ns_host ip neigh replace "$a" lladdr 02:00:00:00:00:99 dev "lmbr$$" \
			nud stale 2>"$RD/ip.err"; then
			REASON="can't set the host's neighbour entry of $a: $(head -c 200 "$RD/ip.err")"
			return 1
		fi
	done
}

# ns_learned ADDR: the host's neighbour entry of ADDR names the target's MAC.
ns_learned() {
	ns_host ip neigh show "$1" dev "lmbr$$" | grep -q "lladdr $NS_MAC"
}

# ns_announced: the restored target announced both its addresses (a
# gratuitous ARP, an unsolicited neighbour advertisement): the host's
# entries, misled before the restore, name its MAC again (within 2 s).
ns_announced() {
	local a

	for a in "$NS_ADDR" fd00:7::2; do
		wait_until 2000 ns_learned "$a" && continue
		REASON="the host's neighbour entry of $a after the restore: $(ns_host ip neigh \
			show "$a" dev "lmbr$$" | head -c 200) (no announcement of $NS_MAC)"
		return 1
	done
}

# ns_target [EXTRA]: the host namespace, its bridge, the target set up.
ns_target() {
	local our n=$$ cfg

	our=$(readlink /proc/self/ns/net)
	if ! wait_until 2000 not_our_netns "$NS_HOLDER" "$our"; then
		REASON="no network namespace of its own for pid $NS_HOLDER"
		return 1
	fi
	# A MAC of its own and a port that stays (a veth whose peer is up): a
	# bridge taking its ports' MAC, or losing its carrier with its last
	# port, flushes its neighbour entries.
	if ! ns_host sh -c "ip link set lo up &&
		ip link add lmbr$n address 02:00:c6:12:07:01 type bridge &&
		ip addr add 198.18.7.1/24 dev lmbr$n &&
		ip -6 addr add fd00:7::1/64 dev lmbr$n nodad && ip link set lmbr$n up &&
		ip link add lmbk$n type veth peer name lmbq$n && ip link set lmbq$n up &&
		ip link set lmbk$n master lmbr$n up" \
		2>"$RD/ip.err"; then
		REASON="can't make the bridge: $(head -c 200 "$RD/ip.err")"
		return 1
	fi
	printf '#!/bin/sh\nexec nsenter -t %s -n %s "$@"\n' "$NS_HOLDER" "$LMPROC_REAL" \
		>"$RD/lmproc-netns"
	chmod +x "$RD/lmproc-netns"
	rm -f "$DD/netns.pid" "$DD/netns.go"
	ns_config "${1:-}" >"$RD/config.err" 2>&1 &
	cfg=$!
	target_up "$BUILD/bad-input/netns_root" nsenter -t "$NS_HOLDER" -n || {
		wait "$cfg"
		add_detail "configuration" "$RD/config.err" 5
		return 1
	}
	if ! wait "$cfg"; then
		REASON="can't set up the target's namespace: $(head -c 200 "$RD/config.err")"
		return 1
	fi
}

# no_veth NAME: no link NAME in the host namespace.
no_veth() {
	if ns_host ip link show "$1" >/dev/null 2>&1; then
		REASON="link $1 is left behind"
		return 1
	fi
}

# case_netns_veth: dumped with its namespace; restores refused without
# --veth-pair, with a bridge that does not exist and with an address's
# prefix length out of range in netns.img; a restore failing late removes
# its veth; then restored plugged into the bridge: it announces its
# addresses (the host's neighbour entries, misled before, learn its MAC),
# the listener answers and the namespace looks as before.
case_netns_veth() {
	local n=$$ before after diffs LMPROC=$RD/lmproc-netns

	ns_target || return 1
	ns_answers || return 1
	before=$(ns_view "$TPID")
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	if [ ! -s "$RD/img/netns.img" ]; then
		REASON="no netns.img in the dump"
		return 1
	fi
	bad_lmproc restore -D "$RD/img" -d
	refused $? eth0 --veth-pair || return 1
	no_process "$TPID" || return 1
	bad_lmproc restore -D "$RD/img" -d --veth-pair "eth0=veth$n@nobr$n"
	refused $? "nobr$n" bridge || return 1
	no_process "$TPID" && no_veth "veth$n" || return 1
	cp -r "$RD/img" "$RD/bad-img"
	"$BUILD/tools/imgmangle" xor "$RD/bad-img/netns.img" 2#0.4 64 >/dev/null &&
		"$BUILD/tools/imgmangle" reseal "$RD/bad-img/netns.img" >/dev/null || return 1
	bad_lmproc restore -D "$RD/bad-img" -d --veth-pair "eth0=veth$n@lmbr$n"
	refused $? netns.img "prefix length 88" || return 1
	no_process "$TPID" && no_veth "veth$n" || return 1
	LMPROC_FAULT=restore-in-restorer bad_lmproc restore -D "$RD/img" -d \
		--veth-pair "eth0=veth$n@lmbr$n"
	ERRORS_ONLY=1 refused $? || return 1
	no_process "$TPID" && no_veth "veth$n" || return 1
	ns_misled || return 1
	must_lm restore "restore -d" restore -D "$RD/img" -d --veth-pair "eth0=veth$n@lmbr$n" ||
		return 1
	ns_announced && ns_answers || return 1
	after=$(ns_view "$TPID")
	if [ "$before" != "$after" ]; then
		diffs=$(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | tr '\n' ' ')
		# shellcheck disable=SC2034 # bad_case reports it
		REASON="the namespace differs: ${diffs:0:300}"
		return 1
	fi
	term_verdict
}

# case_netns_bridge: a bridge in the namespace: the dump is refused
# naming it and its kind; the target runs on and passes.
case_netns_bridge() {
	# shellcheck disable=SC2034 # the lmproc bad_dump runs
	local LMPROC=$RD/lmproc-netns

	ns_target bridge || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "lmbi$$" bridge || return 1
	same_state "$TPID" "$TSNAP" 1000 || return 1
	ns_answers || return 1
	finish_original "$TPID"
}

# ns_dropped PORT: a connection from the host to the target's PORT (no
# listener there) is dropped, not refused: no answer within 1 s, where a
# port with no rule answers a reset at once.
ns_dropped() {
	ns_host timeout 1 bash -c "exec 3<>/dev/tcp/$NS_ADDR/$1" 2>/dev/null
	[ $? = 124 ] && return 0
	REASON="a connection to $NS_ADDR:$1 was answered: no rule dropped it"
	return 1
}

# case_netns_nft: nftables rules in the target's namespace (a table with
# a named set and a counter rule dropping port 7780) come back with it:
# the same ruleset (stateless view), and they still drop; a table of
# iptables-legacy there is refused naming it, the target running on.
case_netns_nft() {
	local LMPROC=$RD/lmproc-netns before after n=$$

	ns_target || return 1
	if ! nsenter -t "$TPID" -n nft -f - 2>"$RD/nft.err" <<-'EOF'
		table inet lmt {
			set blocked { type inet_service; elements = { 7780 } }
			chain in { type filter hook input priority 0; policy accept;
				tcp dport @blocked counter drop; }
		}
	EOF
	then
		REASON="can't load the test's ruleset: $(head -c 200 "$RD/nft.err")"
		return 1
	fi
	ns_dropped 7780 && ns_answers || return 1
	before=$(nsenter -t "$TPID" -n nft -s list ruleset)
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	must_lm restore "restore -d" restore -D "$RD/img" -d --veth-pair "eth0=veth$n@lmbr$n" ||
		return 1
	after=$(nsenter -t "$TPID" -n nft -s list ruleset)
	if [ "$before" != "$after" ]; then
		REASON="the ruleset differs: $(diff <(echo "$before") <(echo "$after") |
			grep '^[<>]' | tr '\n' ' ' | head -c 300)"
		return 1
	fi
	ns_dropped 7780 && ns_answers || return 1
	term_verdict
}

# case_netns_sysctls: sysctls of the target's namespace set away from a
# new namespace's (the namespace's own, every link's, the loopback's and
# the veth's) come back with it, each as it was.
case_netns_sysctls() {
	local LMPROC=$RD/lmproc-netns n=$$ before after
	local names="net.core.somaxconn net.ipv4.tcp_keepalive_time net.unix.max_dgram_qlen
		net.ipv4.conf.all.rp_filter net.ipv4.conf.eth0.arp_ignore net.ipv6.conf.eth0.hop_limit
		net.ipv4.neigh.eth0.gc_stale_time net.ipv6.conf.lo.disable_ipv6 net.ipv4.tcp_fastopen"

	ns_target || return 1
	if ! nsenter -t "$TPID" -n sysctl -qw net.core.somaxconn=777 net.ipv4.tcp_keepalive_time=1234 \
		net.unix.max_dgram_qlen=77 net.ipv4.conf.all.rp_filter=2 \
		net.ipv4.conf.eth0.arp_ignore=1 net.ipv6.conf.eth0.hop_limit=33 \
		net.ipv4.neigh.eth0.gc_stale_time=99 net.ipv6.conf.lo.disable_ipv6=1 \
		net.ipv4.tcp_fastopen=3 2>"$RD/sysctl.err"; then
		REASON="can't set the sysctls: $(head -c 200 "$RD/sysctl.err")"
		return 1
	fi
	# shellcheck disable=SC2086 # one word per name
	before=$(nsenter -t "$TPID" -n sysctl $names 2>&1)
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	must_lm restore "restore -d" restore -D "$RD/img" -d --veth-pair "eth0=veth$n@lmbr$n" ||
		return 1
	# shellcheck disable=SC2086
	after=$(nsenter -t "$TPID" -n sysctl $names 2>&1)
	if [ "$before" != "$after" ]; then
		REASON="the sysctls differ: $(diff <(echo "$before") <(echo "$after") |
			grep '^[<>]' | tr '\n' ' ' | head -c 300)"
		return 1
	fi
	ns_answers || return 1
	term_verdict
}

# ns_refused "CMD" WORD...: CMD (a shell command) run in the target's
# namespace, the dump is refused with WORDs in its line and the target
# runs on exactly.
ns_refused() {
	# shellcheck disable=SC2034 # the lmproc bad_dump runs
	local LMPROC=$RD/lmproc-netns cmd=$1

	shift
	ns_target || return 1
	if ! nsenter -t "$TPID" -n sh -c "$cmd" 2>"$RD/cmd.err"; then
		REASON="can't run '$cmd': $(head -c 200 "$RD/cmd.err")"
		return 1
	fi
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$@" || return 1
	same_state "$TPID" "$TSNAP" 1000 || return 1
	ns_answers || return 1
	finish_original "$TPID"
}

# What the restore would not make again, refused: a table of
# iptables-legacy (x_tables), a policy routing rule, a route in another
# table than main.
case_netns_iptables_legacy() {
	ns_refused "iptables-legacy -w -A INPUT -p tcp --dport 7781 -j DROP" \
		iptables-legacy ip_tables_names filter
}

case_netns_rule() {
	ns_refused "ip rule add from 198.18.7.0/24 lookup 100 priority 100" \
		"routing rule" "priority 100" "table 100"
}

case_netns_route_table() {
	ns_refused "ip route add 198.19.5.0/24 via 198.18.7.1 table 100" "198.19.5.0/24" \
		"table 100"
}

# netns_case FUNC: FUNC with a host namespace of its own, removed after.
netns_case() {
	local st

	unshare --net sleep 600 </dev/null >/dev/null 2>&1 &
	NS_HOLDER=$!
	"$1"
	st=$?
	[ -n "$TPID" ] && kill_ours "$TPID"
	kill "$NS_HOLDER" 2>/dev/null
	wait "$NS_HOLDER" 2>/dev/null
	kill_leftovers
	return "$st"
}

run_netns_bad_input() {
	CASE_KIND=state bad_case netns-veth netns_case case_netns_veth
	bad_case netns-bridge netns_case case_netns_bridge
	CASE_KIND=state bad_case netns-nft netns_case case_netns_nft
	CASE_KIND=state bad_case netns-sysctls netns_case case_netns_sysctls
	bad_case netns-iptables-legacy netns_case case_netns_iptables_legacy
	bad_case netns-rule netns_case case_netns_rule
	bad_case netns-route-table netns_case case_netns_route_table
}
