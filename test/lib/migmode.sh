# shellcheck shell=bash disable=SC2034 # MIG_NOTE, DETAIL: test/run.sh reads them
# The migrate mode of test/run.sh's static tests (sourced by it): each
# test is started on host A and moved by `lmproc migrate` to `lmproc
# serve` on host B, contrib/hosts.sh's two "hosts" (each its own network,
# pid, mount and SysV IPC namespaces, a bridge, 198.18.0.1 and 198.18.0.2).  One
# topology and one serve (TLS, a pre-shared key) for the whole mode, made
# at its first run and ended after the static tests (mig_hosts_down).
#
# A run: the test under nsenter into host A's namespaces, leading its own
# session (serve restores into a new pid namespace, which wants the root
# to lead its session); once ready its state is read; `lmproc migrate -t
# PID --to 198.18.0.2:7070 --tls-psk-file ... --json` run in host A's
# namespaces must say migrated, the source must be gone, serve must say
# the copy runs there (its pid in host B's pid namespace, which is
# migrate's dest_pid), the copy's state must be the source's, and after
# SIGTERM (SIGCONT first for a test that stops itself) the copy must
# write PASS.  The copy runs in serve's new pid namespace inside host
# B's: it is found here by its pid at host B's level (NSpid) among host
# B's descendants, and signalled by its pid here.
#
# The state compared (procstate, as the other modes) is read here, in the
# runner's namespaces, with what differs by design across the move left
# out or made relative: the process group and session as "self" when they
# are the task's own pid (pids here differ; the test leads its session
# and group on both sides); the time namespace and its offsets (serve
# restores into a new time namespace whose clocks continue the source's);
# the network namespace is "host's" when it is the host's the task runs
# on (host A's before, host B's after: a test sharing its host's network
# namespace must share the new host's).  The mount namespace is a new one
# on B (the pid namespace's init makes it for its /proc) and shows "own"
# on both sides, as A's is not the runner's either.
#
# MIG_EXPECT lists the tests migrate must refuse, with why: the run then
# asserts that refusal (exit 1, its reason matching, the source running
# on with its state unchanged and passing its own checks).

# NAME ERE-matched-in-migrate's-reason | why the test can't move (" | "
# ends the ERE).  The hosts share one kernel and one filesystem, which
# two machines do not: what a file's kernel object holds for the source,
# frozen while its copy is restored, is there for the copy too.
MIG_EXPECT="
fd_async_pipe the FIFO .* holds [0-9]+ bytes already | the source's FIFO, one pipe for both hosts, still holds the bytes the copy would queue again
fd_fifo the FIFO .* holds [0-9]+ bytes already | the source's FIFO, one pipe for both hosts, still holds the bytes the copy would queue again
fd_file_attrs the FIFO .* holds [0-9]+ bytes already | the source's FIFO, one pipe for both hosts, still holds the bytes the copy would queue again
file_locks can't take a write flock lock | the frozen source still holds its flock on the file both hosts share
tree_fds (the FIFO .* holds [0-9]+ bytes already|can't take a write flock lock) | the source's FIFO and flock, on files both hosts share, still hold its bytes and lock
"

# NAME why it can't run in this mode here at all (skipped, the reason
# said): what two machines never share blocks the move itself.
MIG_NOT_HERE="
file_lease the frozen source's write lease is on the file both hosts share: the copy's open would wait out the lease-break time (45 s), breaking it, and from host B's pid namespace /proc/locks hides it
"

# mig_not_here NAME: why NAME can't run in this mode here (REASON), or
# false.
mig_not_here() {
	local n rest

	while read -r n rest; do
		[ "$n" = "$1" ] && REASON=$rest && return 0
	done <<<"$MIG_NOT_HERE"
	return 1
}

MIG_DIR=""	# psk, serve's -D (srv) and log (serve.err), hosts' pids
MIG_HOLDER=""	# the process that holds the hosts and serve
MIG_DOWN=""	# why the hosts could not be made: each run then fails with it
MIG_HA=""	# host A's init (its pid here), to nsenter
MIG_HB=""	# host B's
MIG_NOTE=""	# a refusal run's line: what migrate said

# mig_expect NAME: the ERE migrate's refusal of NAME must match, " | " and
# why; nothing if NAME must move.
mig_expect() {
	local n rest

	while read -r n rest; do
		[ "$n" = "$1" ] && echo "$rest" && return 0
	done <<<"$MIG_EXPECT"
}

# mig_hosts_up: the hosts and serve, once; a background subshell holds
# them (contrib/hosts.sh's holders, killed with it).
mig_hosts_up() {
	local p

	[ -n "$MIG_HA" ] && return 0
	if [ -n "$MIG_DOWN" ]; then
		REASON=$MIG_DOWN
		return 1
	fi
	MIG_DIR=$IMG_ROOT/migrate-hosts
	mkdir -p "$MIG_DIR"
	(
		# shellcheck source=contrib/hosts.sh
		. "$ROOT/contrib/hosts.sh"
		fail() {
			echo "$*" >"$MIG_DIR/down"
			exit 1
		}
		trap 'kill -KILL "${HOLDERS[@]}" $! 2>/dev/null; wait' EXIT
		trap 'exit 0' TERM INT
		topology || fail "can't make the hosts' namespaces and links"
		# Tests bind and connect to 127.0.0.1 in their host's network.
		at "$HA" ip link set lo up && at "$HB" ip link set lo up ||
			fail "can't set the hosts' loopback up"
		serve_on_b "$LMPROC" "$MIG_DIR"
		echo "$HA $HB" >"$MIG_DIR/hosts.new" && mv "$MIG_DIR/hosts.new" "$MIG_DIR/hosts"
		while :; do
			sleep 600 &
			wait $!
		done
	) </dev/null >/dev/null 2>"$MIG_DIR/hosts.err" &
	MIG_HOLDER=$!
	wait_until 20000 mig_hosts_settled
	if [ ! -s "$MIG_DIR/hosts" ]; then
		MIG_DOWN="the hosts and serve for the migrate mode: $(cat "$MIG_DIR/down" \
			2>/dev/null || echo "not up within 20 s") $(head -c 200 "$MIG_DIR/hosts.err")"
		REASON=$MIG_DOWN
		mig_hosts_down
		return 1
	fi
	read -r MIG_HA MIG_HB <"$MIG_DIR/hosts"
	for p in "$MIG_HA" "$MIG_HB"; do
		[ -e "/proc/$p/ns/net" ] && continue
		MIG_DOWN="host init $p of the migrate mode is gone"
		REASON=$MIG_DOWN
		return 1
	done
}

# mig_hosts_settled: the hosts are up, or will not be.
mig_hosts_settled() {
	[ -s "$MIG_DIR/hosts" ] || [ -e "$MIG_DIR/down" ] || ! alive "$MIG_HOLDER"
}

# mig_hosts_down: the hosts, serve and whatever runs on them gone.
mig_hosts_down() {
	[ -n "$MIG_HOLDER" ] || return 0
	kill -TERM "$MIG_HOLDER" 2>/dev/null
	if ! wait_until 10000 not_alive "$MIG_HOLDER"; then
		kill -KILL "$MIG_HOLDER" 2>/dev/null
	fi
	wait "$MIG_HOLDER" 2>/dev/null
	MIG_HOLDER="" MIG_HA="" MIG_HB=""
}

# mig_start_time STAT: the start time (field 22) in STAT, the text of a
# /proc/PID/stat.
mig_start_time() {
	local f

	[ -n "$1" ] || return 1
	read -r -a f <<<"${1##*) }"
	echo "${f[19]}"
}

# mig_pid_on HOST PID: the pid here of the process that host HOST (its
# init's pid here) knows as PID: NSpid has PID at the host's level (its
# second), and the start time is the one the host's /proc gives PID (a
# process of the other host, or one in between, may have PID there).
mig_pid_on() {
	local p t s

	t=$(mig_start_time "$(nsenter -t "$1" -p -m cat "/proc/$2/stat" 2>/dev/null)") || return 1
	for p in $(awk -v want="$2" '/^NSpid:/ && NF >= 3 && $3 == want {
			split(FILENAME, a, "/"); print a[3] }' /proc/[0-9]*/status 2>/dev/null); do
		s=""
		read -r s 2>/dev/null <"/proc/$p/stat"
		[ "$(mig_start_time "$s")" = "$t" ] && echo "$p" && return 0
	done
	return 1
}

# mig_start BIN: the test on host A, leading its session, a child of host
# A's init (setsid -f: nsenter, as a shell, would stop itself when the
# test stops, and reap nothing until continued); TPID its pid here,
# MIG_APID on host A, TOUT and TLOG as start_test's.  Its exit status is
# its init's business: the verdict file says how it ended.
mig_start() {
	local bin=$1

	TOUT=$RD/out
	TLOG=$RD/test.log
	rm -f "$RD/pid" "$TOUT"
	if ! spawn test "$TLOG" "$TLOG" nsenter -t "$MIG_HA" -n -p -m -i setsid -f "$bin" \
		--pidfile "$RD/pid" --outfile "$TOUT" --log "$TLOG" --dir "$DD"; then
		REASON="could not start $bin on host A"
		return 1
	fi
	if ! wait_until 10000 file_ready "$RD/pid"; then
		REASON="$(basename "$bin") did not get ready on host A in 10 s"
		add_detail "test log" "$TLOG" 4
		return 1
	fi
	read -r MIG_APID <"$RD/pid"
	if ! TPID=$(mig_pid_on "$MIG_HA" "$MIG_APID"); then
		REASON="no process of host A's has the test's pid $MIG_APID there"
		return 1
	fi
	track_pid "$TPID"
}

# mig_snapshot HOST PID: PID's state as the mode compares it (header;
# across_hosts), PID running on HOST (the host's init's pid here).
mig_snapshot() {
	SNAPSHOT_HOST=$1 stable_snapshot "$2"
}

# mig_json FIELD: FIELD of migrate's summary (its last line).
mig_json() {
	tail -n 1 "$RD/migrate.json" 2>/dev/null |
		sed -n "s/.*\"$1\": \"\{0,1\}\(\([^\"\\\\,}]\|\\\\.\)*\).*/\1/p"
}

# mig_migrate: lmproc migrate of the test on host A to serve on host B;
# its status.  Serve's lines of this run go to RD/serve.log.
mig_migrate() {
	local at st

	at=$(wc -l <"$MIG_DIR/serve.err")
	timeout -k 5 "$LM_TIMEOUT" nsenter -t "$MIG_HA" -n -p -m -i "$LMPROC" migrate -t "$MIG_APID" \
		--to 198.18.0.2:7070 --tls-psk-file "$MIG_DIR/psk" --json -v4 \
		-o "$RD/migrate.log" >"$RD/migrate.json" 2>"$RD/migrate.err"
	st=$?
	# serve logs a migration's end after migrate's (COMMITTED first).
	wait_until 5000 mig_serve_done "$at"
	tail -n "+$((at + 1))" "$MIG_DIR/serve.err" >"$RD/serve.log"
	return "$st"
}

mig_serve_done() {
	tail -n "+$(($1 + 1))" "$MIG_DIR/serve.err" | grep -q 'migration [0-9]* from '
}

# mig_refusal EXPECT ST SNAP: migrate (its status ST) refused the test as
# EXPECT says ("ERE | why"): exit 1, not migrated, its reason matching ERE; the
# source unchanged, running on and passing its own checks.
mig_refusal() {
	local want=${1%% | *} why=${1#* | } st=$2 snap=$3 reason

	reason=$(mig_json reason)
	[ -n "$reason" ] || reason=$(grep -m1 . "$RD/migrate.err")
	if [ "$st" = 0 ] || [ "$(mig_json result)" = migrated ]; then
		REASON="migrated, but expected refused ($why)"
		# The copy goes with the run (run_static kills TPID).
		TPID=$(mig_pid_on "$MIG_HB" "$(mig_json dest_pid)") && track_pid "$TPID"
		return 1
	fi
	if [ "$st" != 1 ] || ! grep -qE -- "$want" <<<"$reason"; then
		REASON="migrate exited $st, expected 1 refusing with '$want' ($why): $reason"
		add_detail "lmproc migrate log" "$RD/migrate.log" 6
		return 1
	fi
	if grep -q 'runs here' "$RD/serve.log"; then
		REASON="migrate refused but serve says a copy runs: $(grep 'runs here' "$RD/serve.log")"
		return 1
	fi
	if ! SNAPSHOT_HOST=$MIG_HA same_state "$TPID" "$snap" 3000; then
		REASON="after the refusal: $REASON"
		return 1
	fi
	mig_verdict "the source after the refusal" || return 1
	MIG_NOTE="refused as expected ($why): $(cut -c1-200 <<<"$reason")"
}

# mig_moved SNAP: the source is gone, serve runs the copy, whose state is
# SNAP; TPID becomes the copy's pid here.
mig_moved() {
	local snap=$1 dest copy

	if [ "$(mig_json result)" != migrated ]; then
		REASON="migrate said '$(mig_json result)': $(mig_json reason | cut -c1-300)"
		add_detail "lmproc migrate log" "$RD/migrate.log" 8
		add_detail "serve's log" "$RD/serve.log" 4
		return 1
	fi
	reap_dumped "$TPID" || return 1
	dest=$(mig_json dest_pid)
	if ! grep -q "migration [0-9]* from .*: pid $dest runs here" "$RD/serve.log"; then
		REASON="serve does not say pid $dest runs on host B"
		add_detail "serve's log" "$RD/serve.log" 4
		return 1
	fi
	if ! copy=$(mig_pid_on "$MIG_HB" "$dest"); then
		REASON="no process of host B's has pid $dest there"
		return 1
	fi
	TPID=$copy
	track_pid "$TPID"
	if ! SNAPSHOT_HOST=$MIG_HB same_state "$TPID" "$snap" 3000; then
		REASON="the copy on host B (pid $dest there): $REASON"
		verdict_anyway "$TPID"
		return 1
	fi
}

# mig_steps NAME: one test in the migrate mode (header).
mig_steps() {
	local name=$1 snap expect st

	MIG_NOTE=""
	TPID=""
	mig_hosts_up || return 1
	expect=$(mig_expect "$name")
	mig_start "$BUILD/static/$name" || return 1
	if [ -n "$STOPPED" ] && ! wait_until 5000 is_stopped "$TPID"; then
		REASON="pid $TPID did not stop itself within 5 s"
		return 1
	fi
	if ! snap=$(mig_snapshot "$MIG_HA" "$TPID"); then
		REASON="pid $TPID vanished before its state was read"
		add_detail "test log" "$TLOG" 4
		return 1
	fi
	mig_migrate
	st=$?
	if [ -n "$expect" ]; then
		mig_refusal "$expect" "$st" "$snap"
		return
	fi
	if [ "$st" = 124 ]; then
		REASON="migrate timed out after ${LM_TIMEOUT}s"
		add_detail "lmproc migrate log" "$RD/migrate.log" 8
		return 1
	fi
	mig_moved "$snap" || return 1
	mig_verdict "the copy on host B"
}

# mig_verdict WHO: SIGTERM to TPID (WHO, for REASON), which must write
# PASS and end.
mig_verdict() {
	local k

	end_test "$TPID"
	if ! wait_until 30000 file_ready "$TOUT"; then
		REASON="$1 (pid $TPID) gave no verdict within 30 s of SIGTERM"
		alive "$TPID" || REASON="$1 (pid $TPID) died without a verdict"
		k=$(dmesg_for "$TPID")
		[ -n "$k" ] && DETAIL="kernel: $k"
		add_detail "test log" "$TLOG" 4
		return 1
	fi
	if ! wait_until 5000 not_alive "$TPID"; then
		REASON="$1 (pid $TPID) still runs 5 s after its verdict"
		return 1
	fi
	check_verdict || { REASON="$1: $REASON"; return 1; }
}
