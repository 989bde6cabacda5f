# shellcheck shell=bash
# Live migration (lmproc serve, lmproc migrate; docs/migration.md), for
# test/bad-input/cases.sh (sourced after it).  Everything on 127.0.0.1:
# serve takes a free port and restores each migration into a new pid
# namespace, so the tree's pids are free while the source still holds
# them frozen.  Each case checks that the application runs in exactly one
# place with its own checks passing: moved (migrate-moves), refused before
# anything is frozen (migrate-wrong-key), resumed at the source when the
# destination's restore fails (migrate-restore-fails), serve unharmed by
# garbage, oversized and truncated messages (migrate-bad-frames), and left
# stopped, neither killed nor resumed, when COMMITTED never comes
# (migrate-commit-lost); the destination's checks before anything is
# frozen: a tree it can't take refused naming every failed check, never
# frozen (migrate-preflight-refused), malformed PREFLIGHTs one line each
# (migrate-preflight-bad), the checks in --json (migrate-preflight-ok);
# pre-copy rounds before the final dump while the
# application runs and writes (migrate-precopy), none with --max-rounds 0
# (migrate-precopy-off), and a round the destination fails to store: the
# application runs on, untracked (migrate-precopy-fails); the frozen
# time's parts (migrate-frozen-parts, -text); migrate SIGKILLed mid-round
# or in the final send, serve SIGKILLed with its child mid-round: the
# application runs on, untracked and exact, nothing left on either side
# (migrate-killed-round, -killed-send, migrate-serve-killed-round), and
# not throttled (migrate-auto-converge-killed).

# mig_psk NAME: a fresh 32-byte key in RD/NAME, mode 600.
mig_psk() {
	(umask 077 && printf 'lmproc:%s\n' \
		"$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$RD/$1")
}

# serve_port [N]: SPORT[N], the port serve N (none: the first) said it
# listens on in RD/serve[N].err.
serve_port() {
	local port

	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$RD/serve${1:-}.err")
	printf -v "SPORT${1:-}" '%s' "$port"
	[ -n "$port" ]
}

# serve_start N FAULT ARGS...: serve N (empty: the first) with images
# under RD/srvN, its stderr in RD/serveN.err, LMPROC_FAULT=FAULT; its pid
# in SPID[N], its port in SPORT[N].
serve_start() {
	local n=$1 fault=$2

	shift 2
	mkdir -p "$RD/srv$n"
	: >"$RD/serve$n.err"
	spawn "serve$n" "$RD/serve$n.out" "$RD/serve$n.err" env "LMPROC_FAULT=$fault" \
		"$LMPROC_REAL" serve -D "$RD/srv$n" --listen 127.0.0.1:0 "$@" || return 1
	printf -v "SPID$n" '%s' "$SPAWNED"
	if ! wait_until 5000 serve_port "$n"; then
		REASON="serve${n:+ $n} did not say where it listens: $(head -c 200 "$RD/serve$n.err")"
		return 1
	fi
}

# serve_up [ARGS...]: the first serve, LMPROC_FAULT=SERVE_FAULT; ARGS
# default to the key RD/psk.
serve_up() {
	local args=("$@")

	[ $# = 0 ] && args=(--tls-psk-file "$RD/psk")
	serve_start "" "${SERVE_FAULT:-}" "${args[@]}"
}

# serve_lines PATTERN: how many lines of serve's log match PATTERN.
serve_lines() {
	grep -c -- "$1" "$RD/serve.err"
}

serve_has() {
	[ "$(serve_lines "$2")" -ge "$1" ]
}

# serve_says N PATTERN: within 5 s serve's log has N lines matching PATTERN.
serve_says() {
	wait_until 5000 serve_has "$1" "$2"
	if [ "$(serve_lines "$2")" != "$1" ]; then
		REASON="serve logged $(serve_lines "$2") lines matching '$2', not $1: $(tail -n 2 \
			"$RD/serve.err" | cut -c1-200 | tr '\n' ' ')"
		add_detail "serve's log" "$RD/serve.err" 20
		return 1
	fi
}

# mig ARGS...: lmproc migrate -t TPID --to serve ARGS, --json; stdout in
# RD/bad.out, stderr in RD/bad.err (as bad_lmproc).
mig() {
	bad_lmproc migrate -t "$TPID" --to "127.0.0.1:$SPORT" --json "$@"
}

json_field() {
	sed -n "s/.*\"$1\": \"\{0,1\}\([^,\"}]*\).*/\1/p" "$RD/bad.out"
}

# moved_passes: the last mig moved TPID: the source's copy is gone, serve
# says so once, and the copy there (DEST) passes the test's own checks.
moved_passes() {
	local n=$1

	if [ "$(json_field result)" != migrated ]; then
		REASON="migrate did not say migrated: $(head -c 300 "$RD/bad.out" "$RD/bad.err")"
		return 1
	fi
	DEST=$(json_field dest_pid)
	reap_dumped "$TPID" || return 1
	serve_says 1 "migration $n from .*: pid $DEST runs here" || return 1
	dest_passes
}

# dest_passes: the copy DEST passes its checks after SIGTERM; its pid
# namespace's init goes with it.
dest_passes() {
	DEST_INIT=$(ps -o ppid= -p "$DEST" | tr -d ' ')
	rm -f "$TOUT"
	kill -TERM "$DEST"
	if ! wait_until 30000 file_ready "$TOUT"; then
		REASON="the migrated copy (pid $DEST) gave no verdict within 30 s"
		return 1
	fi
	check_verdict || { REASON="the migrated copy: $REASON"; return 1; }
}

# mig_case FUNC: runs FUNC with a key in RD/psk; then ends serve and
# whatever a migration left.
mig_case() {
	local st

	DEST_INIT=''
	SERVE_FAULT=${SERVE_FAULT:-}
	mig_psk psk
	"$@"
	st=$?
	[ -n "${DEST_INIT:-}" ] && [ "$DEST_INIT" != 1 ] && kill -KILL "$DEST_INIT" 2>/dev/null
	[ -n "${SPID:-}" ] && kill -TERM "$SPID" 2>/dev/null
	kill_leftovers
	SPID=
	if [ "$st" = 0 ] && [ -n "$(ls -A "$RD/srv" 2>/dev/null)" ]; then
		REASON="serve left $(ls -A "$RD/srv" | head -n 3 | tr '\n' ' ') under -D"
		st=1
	fi
	return "$st"
}

# (1) the counting test (or BIN under WRAPPER: a tree leading its own
# session, as --pidns wants; mmap_rwx: a staged rwx VMA, a JIT's code
# cache, keeps its exec bit) moved to serve and passing its checks there.
case_migrate_moves() {
	target_up "$@" || return 1
	serve_up || return 1
	if ! mig --tls-psk-file "$RD/psk"; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	moved_passes 1
}

# (2) a wrong key and a plaintext peer: refused before anything is frozen,
# one line each in serve's log; the target runs on untouched, and serve
# then takes the good one.
case_migrate_wrong_key() {
	target_up || return 1
	serve_up || return 1
	mig_psk wrong
	mig --tls-psk-file "$RD/wrong"
	refused $? "pid $TPID" "refused before anything was frozen" "TLS handshake" || return 1
	serve_says 1 "connection 1 from .* refused: TLS handshake failed" || return 1
	mig --insecure
	refused $? "pid $TPID" "refused before anything was frozen" || return 1
	serve_says 1 "connection 2 from .* refused: TLS handshake failed" || return 1
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="target changed: $REASON"
		return 1
	fi
	target_runs || return 1
	mig --tls-psk-file "$RD/psk" || { REASON="the good migration failed after the bad"; return 1; }
	moved_passes 3
}

# (3) the destination's restore fails (in the restorer): ERROR with the
# restore's own first error (the source's user sees why, not only an
# errno), the source releases its tree as dump -R would; it runs on and
# passes.
case_migrate_restore_fails() {
	target_up || return 1
	SERVE_FAULT=restore-in-restorer serve_up || return 1
	mig --tls-psk-file "$RD/psk"
	ERRORS_ONLY=1 refused $? "pid $TPID" "could not restore" "released" \
		"restorer failed at a fault injected" || return 1
	[ "$(json_field result)" = released ] || { REASON="result not 'released'"; return 1; }
	serve_says 1 "migration 1 from .* refused: the restore failed" || return 1
	target_intact
}

# (3c) the hand-over after the commit fails at the destination: the
# source's copy is gone, so the destination's runs anyway and passes.
case_migrate_after_commit() {
	target_up || return 1
	SERVE_FAULT=restore-after-commit serve_up || return 1
	if ! mig --tls-psk-file "$RD/psk"; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	serve_says 1 "the tree runs here anyway" || return 1
	moved_passes 1
}

# copy_of PID: the process below PID (three generations at most) whose
# pid in its own namespace is TPID: the restored copy.
copy_of() {
	local gen=$1 next p

	for _ in 1 2 3; do
		next=$(for p in $gen; do cat /proc/"$p"/task/*/children 2>/dev/null; done)
		for p in $next; do
			[ "$(awk '/^NSpid:/ { print $NF }' /proc/"$p"/status 2>/dev/null)" = "$TPID" ] &&
				[ "$p" != "$TPID" ] && echo "$p" && return 0
		done
		gen=$next
	done
	return 1
}

# not_running PID: PID is gone or a zombie.
not_running() {
	local st

	st=$(proc_state "$1")
	[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# (3d) the destination's copy killed between RESTORED and COMMIT (serve's
# child stopped once COMMIT arrived, LMPROC_FAULT=serve-stop-before-
# committed, while the test kills the copy's root): serve answers ERROR,
# not COMMITTED; the source resumes its tree, which runs on and passes.
case_migrate_dies_before_commit() {
	local root

	mig_to_stop serve-stop-before-committed "serve's child never stopped after COMMIT" ||
		return 1
	root=$(copy_of "$STOPPED_CHILD")
	if [ -z "$root" ]; then
		kill -CONT "$STOPPED_CHILD"
		wait "$MIG_PID"
		REASON="no restored copy under serve's child $STOPPED_CHILD"
		return 1
	fi
	kill -KILL "$root"
	wait_until 5000 not_running "$root"
	kill -CONT "$STOPPED_CHILD"
	wait "$MIG_PID"
	ERRORS_ONLY=1 refused $? "pid $TPID" "the destination's copy is gone" \
		"died after RESTORED: not committed" "released" || return 1
	[ "$(json_field result)" = released ] || { REASON="result not 'released'"; return 1; }
	serve_says 1 "migration 1 from .* refused: the restored tree's pid $TPID .*died after \
RESTORED" || return 1
	target_intact
}

# byte N: the byte N as printf's \xHH escape.
byte() {
	printf '\\x%02x' "$(($1 & 255))"
}

# (3b) the dump itself refuses (a netlink socket with an answer queued):
# its one line, ABORT to serve, which logs it; the target runs on
# untouched.
case_migrate_dump_refused() {
	target_up "$BUILD/bad-input/unsupported_fd" || return 1
	serve_up || return 1
	mig --tls-psk-file "$RD/psk"
	refused $? "$TPID" 7 netlink || return 1
	serve_says 1 "migration 1 from .* refused: the source aborted: the dump failed" || return 1
	target_intact
}

mig_version() {
	sed -n 's/^#define MIG_VERSION \([0-9]*\).*/\1/p' "$ROOT/criu-lite/include/migrate.h"
}

# frame TYPE LEN: a header (LE magic "LMMG", the version, TYPE, LEN, 0).
frame() {
	local t=$1 l=$2 esc

	esc="LMMG$(byte "$(mig_version)")\\x00$(byte "$t")\\x00"
	esc+="$(byte "$l")$(byte $((l >> 8)))$(byte $((l >> 16)))$(byte $((l >> 24)))"
	esc+="\\x00\\x00\\x00\\x00"
	printf '%b' "$esc"
}

# send_raw CMD...: CMD's output to serve, then the connection closed.
send_raw() {
	"$@" >"$RD/raw.bin"
	timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && cat "$2" >&3 && sleep 0.2' _ \
		"$SPORT" "$RD/raw.bin" 2>/dev/null
}

# hello_only: a HELLO, no PREFLIGHT after it.
hello_only() {
	local v hello

	v=$(sed -n 's/^#define IMAGE_VERSION \([0-9]*\).*/\1/p' "$ROOT/criu-lite/include/image.h")
	hello="lmproc-migrate $(mig_version) images $v tcp 0"$'\n'
	frame 1 ${#hello}
	printf '%s' "$hello"
}

hello_frames() {
	hello_only
	preflight_frames
}

# preflight_frames: the smallest PREFLIGHT serve takes (images/preflight.proto):
# one process, pid 1 (tasks, field 100: 0xa2 0x06; its pid, field 100: 0xa0 0x06).
preflight_frames() {
	frame 13 6
	printf '\xa2\x06\x03\xa0\x06\x01'
}

bad_name_frames() {
	hello_frames
	frame 2 16
	printf '\x04\x00\x00\x00\x00\x00\x00\x00../x.img'
}

# (4) garbage, a length over the bound, a message cut short and a FILE
# named out of the directory, on a plaintext serve (the framing is the
# same under TLS): one line each, nothing written, and serve then takes a
# real migration.
case_migrate_bad_frames() {
	target_up || return 1
	serve_up --insecure || return 1
	send_raw printf 'GET / HTTP/1.0\r\n\r\n'
	serve_says 1 "connection 1 from .* refused: not a migration message" || return 1
	send_raw frame 1 4294967295
	serve_says 1 "connection 2 from .* refused: HELLO of 4294967295 bytes, more than its bound" ||
		return 1
	send_raw eval 'frame 1 100; printf 0123456789'
	serve_says 1 "connection 3 from .* refused: HELLO cut after its header" || return 1
	send_raw bad_name_frames
	serve_says 1 "migration 4 from .* refused: a FILE named '../x.img', not an image name" ||
		return 1
	if [ "$(grep -vc 'listening on' "$RD/serve.err")" != 4 ]; then
		REASON="serve logged more than one line per bad peer: $(tail -n 3 "$RD/serve.err" |
			cut -c1-150 | tr '\n' ' ')"
		return 1
	fi
	idle_peers || return 1
	mig --insecure || { REASON="migrate after the bad peers failed: $(head -n 1 "$RD/bad.err")"
		return 1; }
	moved_passes 14
}

# (4b) pre-copy rounds out of order, and a DRY_RUN before any round, on a
# plaintext serve: one line each,
# nothing left under -D (mig_case), and serve then takes a real migration
# with its rounds.
case_migrate_bad_rounds() {
	target_up || return 1
	serve_up --insecure || return 1
	send_raw eval 'hello_frames; frame 10 1; printf 2'
	serve_says 1 "migration 1 from .* refused: ROUND '2' where round 1 .* was due" ||
		return 1
	send_raw eval 'hello_frames; frame 10 1; printf 1; frame 4 0'
	serve_says 1 "migration 2 from .* refused: DUMP_DONE inside round 1" || return 1
	send_raw eval 'hello_frames; frame 11 0'
	serve_says 1 "migration 3 from .* refused: ROUND_DONE outside a round" || return 1
	send_raw eval 'hello_frames; frame 12 0'
	serve_says 1 "migration 4 from .* refused: DRY_RUN inside round 0, before any round" ||
		return 1
	mig --insecure || { REASON="migrate after the bad rounds failed: $(head -n 1 "$RD/bad.err")"
		return 1; }
	if [ "$(json_field rounds)" -lt 2 ] 2>/dev/null; then
		REASON="the migration after the bad rounds made $(json_field rounds) rounds, not 2+"
		return 1
	fi
	moved_passes 5
}

# (4c) PREFLIGHT (docs/migration.md) malformed, oversized, missing, or
# naming what serve must not take, on a plaintext serve: one line each,
# nothing left under -D, and serve then takes a real migration.  The
# bytes are images/preflight.proto's by hand: a task (field 100, 0xa2
# 0x06) whose pid (field 100, 0xa0 0x06) is 0, or whose mapped file
# (field 101, 0xaa 0x06) has the relative path "x".
case_migrate_preflight_bad() {
	local file='\x0a\x01x\x10\x00\x18\x00\x20\x00\x28\x00\x30\x00'

	target_up || return 1
	serve_up --insecure || return 1
	send_raw eval 'hello_only; frame 13 4; printf "\xff\xff\xff\xff"'
	serve_says 1 "migration 1 from .* refused: a PREFLIGHT of 4 bytes that does not parse" ||
		return 1
	send_raw eval 'hello_only; frame 13 1048577'
	serve_says 1 "migration 2 from .* refused: PREFLIGHT of 1048577 bytes, more than its \
bound of 1048576" || return 1
	send_raw eval 'hello_only; frame 13 0'
	serve_says 1 "migration 3 from .* refused: a PREFLIGHT with no process" || return 1
	send_raw eval 'hello_only; frame 13 6; printf "\xa2\x06\x03\xa0\x06\x00"'
	serve_says 1 "migration 4 from .* refused: a PREFLIGHT with a process whose pid is out \
of range" || return 1
	send_raw eval "hello_only; frame 13 22; printf '\\xa2\\x06\\x13\\xa0\\x06\\x01\\xaa\\x06\\x0d$file'"
	serve_says 1 "migration 5 from .* refused: a PREFLIGHT with a mapped file whose path is \
not absolute" || return 1
	send_raw eval 'hello_only; frame 10 1; printf 1'
	serve_says 1 "migration 6 from .* refused: ROUND where PREFLIGHT was due" || return 1
	if [ "$(grep -vc 'listening on' "$RD/serve.err")" != 6 ]; then
		REASON="serve logged more than one line per bad peer: $(tail -n 3 "$RD/serve.err" |
			cut -c1-150 | tr '\n' ' ')"
		return 1
	fi
	mig --insecure || { REASON="migrate after the bad peers failed: $(head -n 1 "$RD/bad.err")"
		return 1; }
	moved_passes 7
}

# serve_hiding DIR ARGS...: the first serve, in a mount namespace of its
# own where a tmpfs hides DIR: what the source has there is missing on
# this "host".
serve_hiding() {
	local dir=$1

	shift
	mkdir -p "$RD/srv"
	: >"$RD/serve.err"
	spawn serve "$RD/serve.out" "$RD/serve.err" unshare -m --propagation private \
		sh -c 'mount -t tmpfs lmproc-hide "$1" && shift && exec "$@"' sh "$dir" \
		"$LMPROC_REAL" serve -D "$RD/srv" --listen 127.0.0.1:0 "$@" || return 1
	SPID=$SPAWNED
	if ! wait_until 5000 serve_port; then
		REASON="serve did not say where it listens: $(head -c 200 "$RD/serve.err")"
		return 1
	fi
}

# never_frozen: the last mig was refused before any round or freeze.
never_frozen() {
	if [ "$(json_field result)" != refused ] || [ "$(json_field rounds)" != 0 ] ||
		[ "$(json_field frozen_ms)" != 0.000 ]; then
		REASON="migrate's summary is not a refusal before any round and freeze: $(head -c \
			300 "$RD/bad.out")"
		return 1
	fi
}

# ctxt_switches PID: how often PID's threads were scheduled out: the
# target's own view of being stopped (a tracer's interrupt wakes a thread
# from its sleep and stops it).
ctxt_switches() {
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n }'
}

# (4d) the destination can't restore the tree, found before anything is
# frozen: sk_inet's program is missing there (serve's mount namespace
# hides build/test/static) and its addresses on 127.0.0.1 are taken (the
# source, on the same host, holds them).  migrate refuses in one line
# naming both failed checks, the tree never frozen (no pre-copy round,
# frozen 0; sleeping, it was never even woken), and runs on as it was.
case_migrate_preflight_refused() {
	local switches st

	target_up "$BUILD/static/sk_inet" || return 1
	serve_hiding "$BUILD/static" --tls-psk-file "$RD/psk" || return 1
	switches=$(ctxt_switches "$TPID")
	mig --tls-psk-file "$RD/psk"
	st=$?
	# sk_inet sleeps in sigsuspend: not once woken, so never stopped.
	if [ "$(ctxt_switches "$TPID")" != "$switches" ]; then
		REASON="the target was woken (stopped?): $switches context switches before, \
$(ctxt_switches "$TPID") after"
		return 1
	fi
	ERRORS_ONLY=1 refused $st "pid $TPID" "refused before anything was frozen" \
		"this host can't restore the tree: files: pid $TPID maps $BUILD/static/sk_inet" \
		"can't find the file" "; ports: pid $TPID fd " "socket 127.0.0.1:" \
		"Address already in use" || return 1
	never_frozen || return 1
	if ! grep -qF "\"reason\": \"it refused: this host can't restore the tree: files: pid \
$TPID maps $BUILD/static/sk_inet" "$RD/bad.out"; then
		REASON="migrate --json's reason does not name the failed checks: $(head -c 300 \
			"$RD/bad.out")"
		return 1
	fi
	serve_says 1 "migration 1 from .* refused: this host can't restore the tree: files: " ||
		return 1
	# sk_inet sleeps: as it was, not stopped, and its checks pass.
	same_state "$TPID" "$TSNAP" 1000 || { REASON="target changed: $REASON"; return 1; }
	finish_original "$TPID" || { REASON="target after the refusal: $REASON"; return 1; }
}

# (4e) a tree the destination can take: --json has serve's five checks,
# every one ok, and the migration goes on as ever.
case_migrate_preflight_ok() {
	local c

	target_up || return 1
	serve_up || return 1
	mig --tls-psk-file "$RD/psk" || { REASON="migrate failed: $(head -n 2 "$RD/bad.err" |
		cut -c1-300)"; return 1; }
	for c in kernel layout files ports pids; do
		if ! grep -q "\"preflight\": \[.*{\"name\": \"$c\", \"ok\": true, \"detail\": \"[^\"]" \
			"$RD/bad.out"; then
			REASON="migrate --json has no passed preflight check '$c': $(grep -o \
				'"preflight": [^]]*' "$RD/bad.out" | cut -c1-300)"
			return 1
		fi
	done
	moved_passes 1
}

# idle_peers: 8 connections that send nothing (5 to 12) fill serve; the
# 13th is refused at once; once they close, each is one line.
idle_peers() {
	local fds=() fd i

	for i in 1 2 3 4 5 6 7 8; do
		exec {fd}<>"/dev/tcp/127.0.0.1/$SPORT" || return 1
		fds+=("$fd")
	done
	# Accepted one by one: the last idle one has its child first.
	sleep 0.3
	send_raw printf 'LMMG'
	serve_says 1 "connection 13 refused: 8 connections are being served already" || return 1
	for fd in "${fds[@]}"; do
		exec {fd}>&-
	done
	serve_says 8 "connection [0-9]* from .* refused: the connection was closed" || return 1
	if ! wait_until 5000 serve_idle; then
		REASON="serve's children for the idle peers did not end"
		return 1
	fi
}

serve_idle() {
	[ -z "$(cat /proc/"$SPID"/task/*/children 2>/dev/null)" ]
}

# (5) the link cut after COMMIT (serve closes without COMMITTED): the
# source's tree is left stopped, not killed, and migrate says how to
# resolve it; the copy runs at the destination; the test resolves it as
# told (kill -9 at the source) and the copy passes.
case_migrate_commit_lost() {
	local st

	target_up || return 1
	SERVE_FAULT=serve-no-committed serve_up || return 1
	mig --tls-psk-file "$RD/psk"
	ERRORS_ONLY=1 refused $? "pid $TPID" "left STOPPED here, neither killed nor resumed" \
		"kill -9 $TPID" "kill -CONT $TPID" || return 1
	[ "$(json_field result)" = frozen ] || { REASON="result not 'frozen'"; return 1; }
	DEST=$(json_field dest_pid)
	serve_says 1 "migration 1 from .*: pid $DEST runs here .*closed before COMMITTED" || return 1
	sleep 0.3
	st=$(proc_state "$TPID")
	if [ "$st" != T ]; then
		REASON="the source's tree is in state '${st:-gone}', not stopped (T)"
		return 1
	fi
	kill -KILL "$TPID"
	reap_dumped "$TPID" || return 1
	dest_passes
}

# stopped_child: serve's child for the connection, stopped (T) by
# LMPROC_FAULT=restore-stop-before-fork right before its restore forks.
stopped_child() {
	local c

	for c in $(cat /proc/"$SPID"/task/*/children 2>/dev/null); do
		[ "$(proc_state "$c")" = T ] && STOPPED_CHILD=$c && return 0
	done
	return 1
}

# mig_to_stop FAULT WHY: the target up, serve with LMPROC_FAULT=FAULT,
# migrate started (its pid in MIG_PID), until serve's child has stopped
# itself (STOPPED_CHILD); else migrate ended and REASON=WHY.
mig_to_stop() {
	target_up || return 1
	SERVE_FAULT=$1 serve_up || return 1
	mig --tls-psk-file "$RD/psk" &
	MIG_PID=$!
	wait_until 30000 stopped_child && return 0
	kill -TERM "$MIG_PID" 2>/dev/null
	wait "$MIG_PID"
	REASON=$2
	return 1
}

# mig_held HOW: migrate while serve's restore is held before its fork;
# HOW ends it: "link" kills serve's child (the link is lost before
# RESTORED), "signal" sends SIGTERM to migrate.  Either way the source's
# tree is released as dump -R would, runs on and passes.
case_migrate_held() {
	local st

	mig_to_stop restore-stop-before-fork "serve's restore did not stop before its fork" ||
		return 1
	if [ "$1" = link ]; then
		kill -KILL "$STOPPED_CHILD"
	else
		kill -TERM "$(cat /proc/"$MIG_PID"/task/*/children | tr ' ' '\n' | head -n 1)"
	fi
	wait "$MIG_PID"
	st=$?
	kill -KILL "$STOPPED_CHILD"
	if [ "$1" = link ]; then
		ERRORS_ONLY=1 refused "$st" "pid $TPID" "the connection was closed" "released" ||
			return 1
	else
		ERRORS_ONLY=1 refused "$st" "pid $TPID" "interrupted by SIGTERM" "released" ||
			return 1
	fi
	[ "$(json_field result)" = released ] || { REASON="result not 'released'"; return 1; }
	target_intact
}

# rounds_check MIN MAX: the last mig's --json output (RD/bad.out): one
# object per round as it happened, then the summary with as many rounds
# in its history, MIN to MAX of them, and with rounds, the final dump
# sending less than round 1.
rounds_check() {
	local out

	if ! out=$(python3 - "$RD/bad.out" "$1" "$2" 2>&1 <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rounds, s = objs[:-1], objs[-1]
lo, hi = int(sys.argv[2]), int(sys.argv[3])
hist = s.get("history")
if s.get("rounds") is None or hist is None:
    sys.exit("no rounds or history in the summary")
if not lo <= s["rounds"] <= hi:
    sys.exit(f"{s['rounds']} rounds, expected {lo} to {hi}")
if rounds != hist or len(hist) != s["rounds"]:
    sys.exit(f"{len(rounds)} round objects printed, {len(hist)} in the history")
if [r["round"] for r in hist] != list(range(1, len(hist) + 1)):
    sys.exit("rounds out of order")
# Rounds after the first: the eBPF tracker's dirty rate and the write
# faults that the tracking cost the tree.
for r in hist[1:]:
    if r.get("ebpf_dirty_mib_s") is None or not r.get("write_faults", 0) > 0 \
            or r.get("track_cost_pct") is None:
        sys.exit(f"round {r['round']}: no eBPF dirty rate, write faults or tracking cost: {r}")
if hist and not s["final_bytes"] < hist[0]["bytes"]:
    sys.exit(f"the final dump sent {s['final_bytes']} bytes, round 1 {hist[0]['bytes']}")
pred = s.get("predicted_frozen_ms")
if hist:
    # The fixed cost has the destination's dry run and the round trips in
    # it, and the prediction is within a sane factor of what was frozen.
    # The fork that hands the staged round down costs > 0 for any page.
    for f in ("dry_run_ms", "rtt_ms", "nonmem_ms", "fork_ms"):
        if not s.get(f, 0) > 0:
            sys.exit(f"the summary's {f} is {s.get(f)}, not > 0")
    if abs(s["fixed_ms"] - s["nonmem_ms"] - s["dry_run_ms"] - s["fork_ms"]
           - 2 * s["rtt_ms"]) > 0.2:
        sys.exit(f"fixed_ms {s['fixed_ms']} is not the sum of its parts")
    if pred is None or not s["frozen_ms"] / 50 < pred < s["frozen_ms"] * 50:
        sys.exit(f"predicted {pred} ms, frozen {s['frozen_ms']} ms")
print(" ".join(str(r["bytes"]) for r in hist), s["final_bytes"], s["frozen_ms"],
      "predicted", pred, "fixed", s.get("fixed_ms"), "dry run", s.get("dry_run_ms"),
      "fork", s.get("fork_ms"), "rtt", s.get("rtt_ms"))
PY
	); then
		REASON="migrate --json: $out"
		add_detail "migrate's output" "$RD/bad.out" 12
		return 1
	fi
	DETAIL="bytes per round, final, frozen ms: $out"
}

# (6) pre-copy: predump_writer (256 MiB, rewritten at 16 MiB/s) moved
# while it writes: at least two rounds, the final dump smaller than round
# 1, and every page exact at the destination (its own check).
case_migrate_precopy() {
	target_up "$BUILD/static/predump_writer" || return 1
	serve_up || return 1
	if ! mig --tls-psk-file "$RD/psk" --max-rounds 8 --max-downtime 300; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	rounds_check 2 8 || return 1
	moved_passes 1
}

# (6a) the tracking costs the writer too much (LMPROC_FAULT makes the
# planner take a fault for 100 us): after round 2 the planner waits
# before the next round, as long as brings the cost within 10%, and the
# whole migration took at least the rounds and the waits; pages exact.
case_migrate_spaced_rounds() {
	local out

	target_up "$BUILD/static/predump_writer" || return 1
	serve_up || return 1
	if ! LMPROC_FAULT=migrate-slow-wp-fault mig --tls-psk-file "$RD/psk" --max-rounds 3 \
		--max-downtime 1 --max-time 20; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	if ! out=$(python3 - "$RD/bad.out" 2>&1 <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
s = objs[-1]
hist = s["history"]
waits = [r for r in hist if r["wait_ms"] > 0]
if len(hist) < 3 or not waits:
    sys.exit(f"{len(hist)} rounds, {len(waits)} of them waited")
for r in waits:
    if not r["track_cost_pct"] > 10:
        sys.exit(f"round {r['round']} waited at a tracking cost of {r['track_cost_pct']}%")
need = sum(r["ms"] + r["wait_ms"] for r in hist)
if s["total_ms"] < need:
    sys.exit(f"total {s['total_ms']} ms, less than the rounds and waits ({need} ms)")
print(" ".join(f"{r['round']}:{r['track_cost_pct']}%/{r['wait_ms']}ms" for r in hist))
PY
	); then
		REASON="migrate --json: $out"
		add_detail "migrate's output" "$RD/bad.out" 12
		return 1
	fi
	DETAIL="round:cost/wait $out"
	moved_passes 1
}

# (6c) pre-copy of shared memory: predump_writer's 256 MiB in a shared
# anonymous mapping, rewritten at 16 MiB/s: rounds copy it, the final dump
# only what changed since (compared with the last round's copy: no
# tracker sees shared memory), every page exact at the destination.
# Before, the final dump carried all 256 MiB.  (A SysV segment can't move
# on one host: the source's still holds its id; pre-dump-shm-sysv covers
# its rounds.)
case_migrate_precopy_shm() {
	local out

	PREDUMP_SHM=$1 target_up "$BUILD/static/predump_writer" || return 1
	serve_up || return 1
	if ! mig --tls-psk-file "$RD/psk" --max-rounds 8 --max-downtime 300; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	if ! out=$(python3 - "$RD/bad.out" 2>&1 <<'PY'
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
if s["rounds"] < 2:
    sys.exit(f"{s['rounds']} rounds")
if not s["final_bytes"] < 64 << 20:
    sys.exit(f"the final dump sent {s['final_bytes']} bytes of the 256 MiB")
print(s["rounds"], "rounds, final", s["final_bytes"], "bytes, frozen", s["frozen_ms"], "ms")
PY
	); then
		REASON="migrate --json: $out"
		add_detail "migrate's output" "$RD/bad.out" 12
		return 1
	fi
	DETAIL=$out
	moved_passes 1
}

# (6b) --max-rounds 0: no round, everything in the final dump, as before.
case_migrate_precopy_off() {
	target_up "$BUILD/static/predump_writer" || return 1
	serve_up || return 1
	if ! mig --tls-psk-file "$RD/psk" --max-rounds 0; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	rounds_check 0 0 || return 1
	moved_passes 1
}

# (6c) the destination fails to store round 1: migrate exits 1 naming
# the reason; the writer runs on as before, untracked (no keeper, no
# write-protected VMA), and serve kept nothing.
case_migrate_precopy_fails() {
	target_up "$BUILD/static/predump_writer" || return 1
	SERVE_FAULT=serve-round-fails serve_up || return 1
	mig --tls-psk-file "$RD/psk"
	ERRORS_ONLY=1 refused $? "pid $TPID" "during pre-copy" "round 1 could not be stored" \
		"untracked" || return 1
	[ "$(json_field result)" = aborted ] || { REASON="result not 'aborted'"; return 1; }
	serve_says 1 "migration 1 from .* refused: round 1 could not be stored" || return 1
	if ! wait_until 2000 untracked "$TPID"; then
		REASON="the failed pre-copy left pid $TPID tracked"
		no_keeper "$TPID" || REASON+=" (its keeper runs)"
		return 1
	fi
	target_intact
}

# (6d) serve's process killed in the middle of round 2 (stopped there by
# LMPROC_FAULT=serve-stop-in-round): migrate exits 1, the link lost; the
# writer runs on as before, untracked.
case_migrate_precopy_link() {
	local lm st

	target_up "$BUILD/static/predump_writer" || return 1
	SERVE_FAULT=serve-stop-in-round serve_up || return 1
	mig --tls-psk-file "$RD/psk" --max-downtime 0 &
	lm=$!
	if ! wait_until 30000 stopped_child; then
		REASON="serve did not stop in round 2"
		kill -KILL "$lm"
		return 1
	fi
	kill -KILL "$STOPPED_CHILD"
	wait "$lm"
	st=$?
	ERRORS_ONLY=1 refused "$st" "pid $TPID" "during pre-copy" "round 2: " "connection" \
		"untracked" || return 1
	[ "$(json_field result)" = aborted ] || { REASON="result not 'aborted'"; return 1; }
	if ! wait_until 2000 untracked "$TPID"; then
		REASON="the failed pre-copy left pid $TPID tracked"
		no_keeper "$TPID" || REASON+=" (its keeper runs)"
		return 1
	fi
	target_intact || return 1
	# serve reaps its children once a second, then removes 256 MiB.
	serve_says 1 "connection 1: its process was killed by SIGKILL" || return 1
	if ! wait_until 5000 srv_empty; then
		REASON="serve left $(ls -A "$RD/srv" | head -n 3 | tr '\n' ' ') under -D"
		return 1
	fi
}

# converge_check: the JSON history has throttle steps (throttle_pct
# raised in a round) and, after the first, a round that copied fewer
# pages than the round that raised it, or that measured a lower dirty
# rate (a loaded machine can stretch a throttled round so that it copies
# as much: the rate is what the throttle lowers).
converge_check() {
	local out

	if ! out=$(python3 - "$RD/bad.out" 2>&1 <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hist = objs[-1]["history"]
steps = [i for i, r in enumerate(hist) if r["throttle_pct"] > (hist[i - 1]["throttle_pct"] if i else 0)]
if not steps:
    sys.exit("no throttle step: " + " ".join(f"{r['dirty_bytes']}/{r['throttle_pct']}" for r in hist))
first = steps[0]
def rate(r):
    return r["dirty_mib_s"] if r["dirty_mib_s"] is not None else float("inf")
if not any(r["dirty_bytes"] < hist[first]["dirty_bytes"] or rate(r) < rate(hist[first])
           for r in hist[first + 1:]):
    sys.exit(f"no round after the step in round {first + 1} copied less or dirtied slower")
print(" ".join(f"{r['dirty_bytes'] >> 20}MiB@{r['throttle_pct']}%" for r in hist), objs[-1]["stop"])
PY
	); then
		REASON="migrate --auto-converge: $out"
		add_detail "migrate's output" "$RD/bad.out" 20
		return 1
	fi
	DETAIL="dirty MiB per round @ throttle: $out"
}

# no_throttle_cgroup: no lmproc-throttle-* cgroup left in any hierarchy
# (only these two cases make one, and never at once).
no_throttle_cgroup() {
	local left

	left=$(find /sys/fs/cgroup -maxdepth 3 -type d -name 'lmproc-throttle-*' 2>/dev/null)
	[ -z "$left" ] || { REASON="the throttle cgroup $left was left"; return 1; }
}

# (6e) --auto-converge: predump_writer writing flat out (bound by its
# CPU) does not converge; migrate throttles it through a cgroup of its
# own, the rounds then shrink, every page is exact at the destination,
# and the cgroup is gone.
case_migrate_auto_converge() {
	PREDUMP_WRITE_RATE=100000000 target_up "$BUILD/static/predump_writer" || return 1
	serve_up || return 1
	# Each round moves about 220 MiB until the throttle bites (~1 s each).
	LM_TIMEOUT=120 mig --tls-psk-file "$RD/psk" --max-rounds 8 --max-downtime 20 \
		--auto-converge || { REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1; }
	converge_check || return 1
	no_throttle_cgroup || return 1
	moved_passes 1
}

# cpu_limit PID: the quota of PID's cpu cgroup (v1 cpu.cfs_quota_us, or
# v2 cpu.max), "none" where there is none to read.
cpu_limit() {
	local p

	p=$(sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}cpu\(,[^:]*\)\{0,1\}:\(.*\)/\3/p' /proc/"$1"/cgroup)
	if [ -n "$p" ]; then
		cat "/sys/fs/cgroup/cpu$p/cpu.cfs_quota_us" 2>/dev/null || echo none
		return
	fi
	p=$(sed -n 's/^0::\(.*\)/\1/p' /proc/"$1"/cgroup)
	cat "/sys/fs/cgroup/unified$p/cpu.max" 2>/dev/null || echo none
}

throttled() {
	grep -q lmproc-throttle- /proc/"$TPID"/cgroup
}

# (6f) SIGINT to migrate once the tree is throttled, in the middle of the
# rounds: migrate exits 1; the writer runs on untracked, in exactly the
# cgroups it was in, its cpu cgroup's quota as it was, and the throttle
# cgroup is gone.
case_migrate_auto_converge_int() {
	local lm st cg quota

	PREDUMP_WRITE_RATE=100000000 target_up "$BUILD/static/predump_writer" || return 1
	cg=$(cat /proc/"$TPID"/cgroup)
	quota=$(cpu_limit "$TPID")
	serve_up || return 1
	env --default-signal=INT "$LMPROC_REAL" migrate -t "$TPID" --to "127.0.0.1:$SPORT" --json \
		--tls-psk-file "$RD/psk" --max-rounds 32 --max-downtime 0 --auto-converge \
		>"$RD/bad.out" 2>"$RD/bad.err" &
	lm=$!
	if ! wait_until 60000 throttled; then
		REASON="the tree was never throttled: $(head -c 300 "$RD/bad.out")"
		kill -KILL "$lm"
		return 1
	fi
	kill -INT "$lm"
	wait "$lm"
	st=$?
	[ "$st" = 1 ] || { REASON="migrate exited $st after SIGINT, not 1"; return 1; }
	[ "$(json_field result)" = aborted ] || { REASON="result not 'aborted'"; return 1; }
	if [ "$(cat /proc/"$TPID"/cgroup)" != "$cg" ]; then
		REASON="the writer's cgroups changed: $(tr '\n' ' ' </proc/"$TPID"/cgroup)"
		return 1
	fi
	if [ "$(cpu_limit "$TPID")" != "$quota" ]; then
		REASON="the writer's cpu quota is $(cpu_limit "$TPID"), not $quota as before"
		return 1
	fi
	no_throttle_cgroup || return 1
	if ! wait_until 2000 untracked "$TPID"; then
		REASON="the interrupted pre-copy left pid $TPID tracked"
		return 1
	fi
	target_intact
}

# mem_sum PID: sha256 of the whole MiBs of every private anonymous
# writable mapping of PID of 1 MiB or more: the heap test's 64 MiB block,
# without the tail the main thread's TLS may be merged into (the kernel
# writes rseq's cpu fields there as the process moves between CPUs).
mem_sum() {
	python3 - "$1" <<'PY'
import hashlib, re, sys
pid, h = sys.argv[1], hashlib.sha256()
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb") as mem:
    for line in maps:
        f = line.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if f[1] != "rw-p" or len(f) > 5 or hi - lo < 1 << 20:
            continue
        mem.seek(lo)
        h.update(f[0].encode() + mem.read((hi - lo) & ~((1 << 20) - 1)))
print(h.hexdigest())
PY
}

# serve2_up: a second serve (RD/srv2, RD/serve2.err, SPID2, SPORT2),
# LMPROC_FAULT=SERVE2_FAULT.
serve2_up() {
	serve_start 2 "${SERVE2_FAULT:-}" --tls-psk-file "$RD/psk"
}

serve2_has() {
	grep -q -- "$1" "$RD/serve2.err"
}

# moved_to N LOG: the last mig moved TPID, now gone, to DEST, which the
# serve logging into LOG says runs there, migration N; its memory still
# sums to SUM0.
moved_to() {
	local sum

	if [ "$(json_field result)" != migrated ]; then
		REASON="migrate of pid $TPID did not say migrated: $(head -c 300 "$RD/bad.out" \
			"$RD/bad.err")"
		return 1
	fi
	DEST=$(json_field dest_pid)
	reap_dumped "$TPID" || return 1
	if ! wait_until 5000 grep -q -- "migration $1 from .*: pid $DEST runs here" "$2"; then
		REASON="$(basename "$2") does not say pid $DEST runs there: $(tail -n 2 "$2" |
			cut -c1-200 | tr '\n' ' ')"
		return 1
	fi
	sum=$(mem_sum "$DEST") || { REASON="can't sum the memory of pid $DEST"; return 1; }
	if [ "$sum" != "$SUM0" ]; then
		REASON="the memory of pid $DEST (moved from pid $TPID to $(basename "$2" .err)) \
sums to $sum, not $SUM0"
		return 1
	fi
}

# (9) there and back: the heap test (its own session, as --pidns wants)
# moved to serve 1, then the copy there (by its pid here) to serve 2: the
# same memory at each step (checksum), the first copy and its pid
# namespace's init gone, the last passing its own checks.
migrate_back_steps() {
	local init1

	target_up "$BUILD/static/heap" setsid || return 1
	serve_up || return 1
	serve2_up || return 1
	SUM0=$(mem_sum "$TPID") || { REASON="can't sum the memory of pid $TPID"; return 1; }
	mig --tls-psk-file "$RD/psk" || { REASON="the first migration failed: $(head -n 2 \
		"$RD/bad.err" | cut -c1-300)"; return 1; }
	moved_to 1 "$RD/serve.err" || return 1
	init1=$(ps -o ppid= -p "$DEST" | tr -d ' ')
	DEST_INIT=$init1
	TPID=$DEST
	SPORT=$SPORT2
	mig --tls-psk-file "$RD/psk" || { REASON="the migration back failed: $(head -n 2 \
		"$RD/bad.err" | cut -c1-300)"; return 1; }
	moved_to 1 "$RD/serve2.err" || return 1
	if ! wait_until 5000 gone "$init1"; then
		REASON="the init of the first copy's pid namespace (pid $init1) is still there"
		return 1
	fi
	dest_passes
}

# (9b) the same, serve 2's restore failing (in the restorer): the copy
# at serve 1 is released as dump -R would, with the same memory, and
# passes its own checks.
migrate_back_fails_steps() {
	target_up "$BUILD/static/heap" setsid || return 1
	serve_up || return 1
	SERVE2_FAULT=restore-in-restorer serve2_up || return 1
	SUM0=$(mem_sum "$TPID") || { REASON="can't sum the memory of pid $TPID"; return 1; }
	mig --tls-psk-file "$RD/psk" || { REASON="the first migration failed: $(head -n 2 \
		"$RD/bad.err" | cut -c1-300)"; return 1; }
	moved_to 1 "$RD/serve.err" || return 1
	DEST_INIT=$(ps -o ppid= -p "$DEST" | tr -d ' ')
	TPID=$DEST
	SPORT=$SPORT2
	mig --tls-psk-file "$RD/psk"
	ERRORS_ONLY=1 refused $? "pid $TPID" "could not restore" "released" || return 1
	[ "$(json_field result)" = released ] || { REASON="result not 'released'"; return 1; }
	if [ "$(mem_sum "$TPID")" != "$SUM0" ]; then
		REASON="the copy at serve 1 (pid $TPID) resumed with other memory"
		return 1
	fi
	dest_passes
}

# case_migrate_back [fails]
case_migrate_back() {
	local st

	SPID2=
	if [ "${1:-}" = fails ]; then
		migrate_back_fails_steps
	else
		migrate_back_steps
	fi
	st=$?
	[ -n "${SPID2:-}" ] && kill -TERM "$SPID2" 2>/dev/null
	if [ "$st" = 0 ] && [ -n "$(ls -A "$RD/srv2" 2>/dev/null)" ]; then
		REASON="serve 2 left $(ls -A "$RD/srv2" | head -n 3 | tr '\n' ' ') under -D"
		st=1
	fi
	return "$st"
}

# (7) --grace 300: a healthy target (bad-input/grace_target, 16 MiB
# written in a known order) runs 300 ms at the destination, its network
# locked, before the commit: migrated, frozen at least that long (the
# source stays frozen through the grace), and every word exact there.
case_migrate_grace() {
	local frozen

	target_up "$BUILD/bad-input/grace_target" || return 1
	serve_up || return 1
	if ! mig --tls-psk-file "$RD/psk" --grace 300; then
		REASON="migrate --grace 300 failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	frozen=$(json_field frozen_ms)
	if ! awk -v f="$frozen" 'BEGIN { exit !(f >= 300) }'; then
		REASON="frozen ${frozen:-?} ms with --grace 300: the source did not wait for the grace"
		return 1
	fi
	serve_says 1 "migration 1 from .*: pid [0-9]* runs here (.*, a grace of 300 ms," || return 1
	moved_passes 1
}

# in_copy PROC: /proc/PID PROC runs TBIN (default bad-input/grace_target)
# in a pid namespace other than ours: a process of the restored copy.
in_copy() {
	[ "$(readlink "$1/exe" 2>/dev/null)" = "${TBIN:-$BUILD/bad-input/grace_target}" ] &&
		[ "$(readlink "$1/ns/pid" 2>/dev/null)" != "$(readlink /proc/self/ns/pid)" ]
}

# no_copy_left: no process of the restored copy is left.
no_copy_left() {
	local p

	for p in /proc/[0-9]*; do
		in_copy "$p" || continue
		REASON="a process of the copy is left: pid ${p#/proc/} ($(proc_state "${p#/proc/}"))"
		return 1
	done
}

# (7b) the restored copy aborts as soon as it runs in serve's pid
# namespace (GRACE_DIE_IF_MOVED): within the grace, so serve kills and
# reaps the copy (its namespace goes with its init) and says why; migrate
# exits 1, 'released'; the target runs on at the source, intact, and
# nothing of the copy is left.
case_migrate_grace_dies() {
	TBIN=''
	GRACE_DIE_IF_MOVED=1 target_up "$BUILD/bad-input/grace_target" || return 1
	serve_up || return 1
	mig --tls-psk-file "$RD/psk" --grace 20000
	ERRORS_ONLY=1 refused $? "pid $TPID" "died within the grace period" "killed by SIGABRT" \
		"released" || return 1
	[ "$(json_field result)" = released ] || { REASON="result not 'released'"; return 1; }
	serve_says 1 "migration 1 from .* refused: the restored tree's pid $TPID died within the \
grace period (killed by SIGABRT)" || return 1
	if ! wait_until 5000 serve_idle; then
		REASON="serve's child for the migration did not end"
		return 1
	fi
	no_copy_left || return 1
	target_intact
}

# (7c) bad --grace values: one line each, nothing frozen; and a HELLO
# whose grace is out of bounds: serve refuses it in one line.
case_migrate_grace_bad() {
	local v

	target_up || return 1
	serve_up --insecure || return 1
	for v in -1 60001 abc 1.5 ''; do
		bad_lmproc migrate -t "$TPID" --to "127.0.0.1:$SPORT" --insecure --grace "$v"
		if [ $? != 2 ]; then
			REASON="migrate --grace '$v' was not refused as a usage error"
			return 1
		fi
		one_line_error "$RD/bad.err" '^lmproc: ' || return 1
		names "bad --grace $v (milliseconds, 0 to 60000)" || {
			REASON="--grace '$v': $(head -n 1 "$RD/bad.err")"; return 1; }
	done
	send_raw eval 'hello_frames_with "grace 60001"'
	serve_says 1 "connection 1 from .* refused: a HELLO with a grace of '60001' ms, not 1 to \
60000" || return 1
	send_raw eval 'hello_frames_with "grace 0"'
	serve_says 1 "connection 2 from .* refused: a HELLO with a grace of '0' ms" || return 1
	target_intact
}

# detached PROC: nothing traces /proc/PID PROC (the restore let it go).
detached() {
	grep -q '^TracerPid:[[:space:]]*0$' "$1/status" 2>/dev/null
}

# copy_running: COPY, the restored copy of the target's root (its dumped
# pid TPID in its namespace), runs its grace: the restorer set its image,
# and the restore detached it.
copy_running() {
	local p

	for p in /proc/[0-9]*; do
		in_copy "$p" || continue
		detached "$p" || continue
		[ "$(awk '/^NSpid:/ { print $NF }' "$p/status")" = "$TPID" ] || continue
		COPY=${p#/proc/}
		return 0
	done
	return 1
}

# copy_or_end: the copy runs its grace, or migrate (MIG_PID) has ended.
copy_or_end() {
	copy_running || ! kill -0 "$MIG_PID" 2>/dev/null
}

# child_running: CHILD, a living child of the copy's root, detached too
# (a signal to a traced one would be the restore's to swallow).
child_running() {
	local c

	for c in $(cat /proc/"$COPY"/task/*/children 2>/dev/null); do
		[ "$(proc_state "$c")" != Z ] || continue
		detached "/proc/$c" || continue
		CHILD=$c
		CHILD_NS=$(awk '/^NSpid:/ { print $NF }' "/proc/$c/status")
		return 0
	done
	return 1
}

# (7d) during a grace of MS, HOW: "kill" kills serve's child with SIGKILL
# (its copy goes with the pid namespace's init, which keeps its
# parent-death signal through the grace), "term" sends SIGTERM to
# migrate (its ABORT ends the grace at once), "stop" stops the copy (a
# stopped tree is not alive: serve kills it at the grace's end),
# "child" kills a child of a tree's copy (static/tree_basic) with
# SIGSEGV.  Each way migrate exits 1, 'released', the target runs on at
# the source, intact, and nothing of the copy is left within 5 s (the
# grace, 20 s, still running).
case_migrate_grace_during() {
	local lm st child

	if [ "$1" = child ]; then
		TBIN=$BUILD/static/tree_basic
		target_up "$TBIN" setsid || return 1
	else
		TBIN=''
		target_up "$BUILD/bad-input/grace_target" || return 1
	fi
	serve_up || return 1
	mig --tls-psk-file "$RD/psk" --grace "$2" &
	lm=$!
	MIG_PID=$lm
	if ! wait_until 20000 copy_or_end || ! copy_running; then
		REASON="the restored copy never ran its grace: $(head -n 1 "$RD/bad.err" | cut -c1-200)"
		kill -KILL "$lm" 2>/dev/null
		return 1
	fi
	case "$1" in
	kill)
		child=$(cat /proc/"$SPID"/task/*/children)
		kill -KILL "$child"
		;;
	term) kill -TERM "$(cat /proc/"$lm"/task/*/children | tr ' ' '\n' | head -n 1)" ;;
	stop) kill -STOP "$COPY" ;;
	child)
		if ! wait_until 5000 child_running; then
			REASON="no child of the copy ran its grace"
			kill -KILL "$lm" 2>/dev/null
			return 1
		fi
		kill -SEGV "$CHILD"
		;;
	esac
	wait "$lm"
	st=$?
	if [ "$1" = kill ]; then
		ERRORS_ONLY=1 refused "$st" "pid $TPID" "the connection was closed" "released" ||
			return 1
		serve_says 1 "connection 1: its process was killed by SIGKILL" || return 1
	elif [ "$1" = child ]; then
		ERRORS_ONLY=1 refused "$st" "pid $TPID" "pid $CHILD_NS died within the grace period" \
			"killed by SIGSEGV" "released" || return 1
		serve_says 1 "migration 1 from .* refused: the restored tree's pid $CHILD_NS died" ||
			return 1
	elif [ "$1" = term ]; then
		ERRORS_ONLY=1 refused "$st" "pid $TPID" "interrupted by SIGTERM" "released" || return 1
		serve_says 1 "migration 1 from .* refused: the source ended the migration during the \
grace period" || return 1
	else
		ERRORS_ONLY=1 refused "$st" "pid $TPID" "was stopped at the end of the grace period" \
			"released" || return 1
		serve_says 1 "migration 1 from .* refused: the restored tree's pid $TPID was stopped" ||
			return 1
	fi
	[ "$(json_field result)" = released ] || { REASON="result not 'released'"; return 1; }
	wait_until 5000 no_copy_left || return 1
	[ "$1" != child ] && { target_intact; return; }
	# tree_basic's root sleeps: as it was, and its checks pass.
	same_state "$TPID" "$TSNAP" 1000 || { REASON="target changed: $REASON"; return 1; }
	finish_original "$TPID" || { REASON="target after the grace: $REASON"; return 1; }
}

# hello_frames_with LINE: a HELLO with LINE after its first.
hello_frames_with() {
	local v hello

	v=$(sed -n 's/^#define IMAGE_VERSION \([0-9]*\).*/\1/p' "$ROOT/criu-lite/include/image.h")
	hello="lmproc-migrate $(mig_version) images $v tcp 0"$'\n'"$1"$'\n'
	frame 1 ${#hello}
	printf '%s' "$hello"
}

# frozen_check: the last mig's summary has the frozen time's parts, each
# >= 0, adding up to frozen_ms (within the rounding of six values), the
# destination's restore among them (> 0: serve timed it).
frozen_check() {
	local out

	if ! out=$(python3 - "$RD/bad.out" 2>&1 <<'PY'
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
keys = ("freeze_ms", "dump_ms", "send_ms", "restore_ms", "commit_ms")
f = s.get("frozen")
if not isinstance(f, dict) or sorted(f) != sorted(keys):
    sys.exit(f"the summary's frozen is {f!r}, not an object of {', '.join(keys)}")
bad = [k for k in keys if not isinstance(f[k], (int, float)) or f[k] < 0]
if bad:
    sys.exit(f"negative or not a number: {bad} in {f}")
if abs(sum(f.values()) - s["frozen_ms"]) > 0.01:
    sys.exit(f"the parts add up to {sum(f.values()):.3f}, frozen_ms is {s['frozen_ms']}")
for k in ("freeze_ms", "dump_ms", "restore_ms"):
    if not f[k] > 0:
        sys.exit(f"{k} is {f[k]}, not > 0: {f}")
print(s["frozen_ms"], " ".join(f"{k} {f[k]}" for k in keys))
PY
	); then
		REASON="migrate --json: $out"
		add_detail "migrate's output" "$RD/bad.out" 4
		return 1
	fi
	DETAIL="frozen ms and its parts: $out"
}

# (7) the frozen time's breakdown: in --json an object of five parts that
# add up to frozen_ms, the restore timed by serve; the same in a text line.
case_migrate_frozen_parts() {
	target_up || return 1
	serve_up || return 1
	if ! mig --tls-psk-file "$RD/psk" --max-rounds 2; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	frozen_check || return 1
	moved_passes 1
}

# (7b) the same breakdown as text: one line after the summary.
case_migrate_frozen_text() {
	local n='[0-9.]*'

	target_up || return 1
	serve_up || return 1
	if ! bad_lmproc migrate -t "$TPID" --to "127.0.0.1:$SPORT" --tls-psk-file "$RD/psk"; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	if ! grep -q "^frozen $n ms: freeze $n, final dump $n, transfer $n, restore $n (the \
destination's), commit $n\$" "$RD/bad.out"; then
		REASON="no breakdown line of the frozen time: $(head -c 300 "$RD/bad.out")"
		return 1
	fi
	DEST=$(sed -n 's/.*(pid \([0-9]*\) there).*/\1/p' "$RD/bad.out")
	reap_dumped "$TPID" || return 1
	dest_passes
}

# stopped_lmproc PID: the lmproc under PID (a shell, timeout) stopped by
# its own fault point (state T), in STOPPED_LM.
stopped_lmproc() {
	local c

	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		if [ "$(cat /proc/"$c"/comm 2>/dev/null)" = lmproc ] &&
			[ "$(proc_state "$c")" = T ]; then
			STOPPED_LM=$c
			return 0
		fi
		stopped_lmproc "$c" && return 0
	done
	return 1
}

# (8) migrate SIGKILLed in the middle of round 2 (stopped there by
# LMPROC_FAULT=migrate-stop-in-round, the tree running and tracked since
# round 1): the writer runs on, untracked (no keeper, no VMA registered
# for write-protection), not stopped, every page exact; migrate's
# private directory of rounds is gone, no throttle cgroup; serve drops
# the migration and keeps nothing.
case_migrate_killed_round() {
	local lm dir

	target_up "$BUILD/static/predump_writer" || return 1
	serve_up || return 1
	{ LMPROC_FAULT=migrate-stop-in-round mig --tls-psk-file "$RD/psk" --max-downtime 0; } \
		2>/dev/null &
	lm=$!
	if ! wait_until 30000 stopped_lmproc "$lm"; then
		REASON="migrate did not stop in round 2: $(head -c 300 "$RD/bad.out" "$RD/bad.err")"
		return 1
	fi
	dir=$(readlink /proc/"$STOPPED_LM"/fd/* | grep -m1 -o '^/dev/shm/lmproc-migrate\.[^/]*')
	kill -KILL "$STOPPED_LM"
	wait "$lm"
	if ! wait_until 5000 untracked "$TPID"; then
		REASON="pid $TPID is still tracked after migrate was killed"
		no_keeper "$TPID" || REASON+=" (its keeper runs)"
		return 1
	fi
	if [ -z "$dir" ] || ! wait_until 5000 gone_dir "$dir"; then
		REASON="migrate's directory of rounds '$dir' is left"
		return 1
	fi
	no_throttle_cgroup || return 1
	target_intact || return 1
	serve_says 1 "migration 1 from .* refused: .*the connection was closed" || return 1
	if ! wait_until 5000 srv_empty; then
		REASON="serve left $(ls -A "$RD/srv" | head -n 3 | tr '\n' ' ') under -D"
		return 1
	fi
}

# (8d) migrate SIGKILLed inside round 1's freeze, the writer parked
# between two injected calls (LMPROC_FAULT=parasite-stop-parked): as in
# (8), and the writer is exactly as before, its own signal mask, not
# stopped, not traced.
case_migrate_killed_frozen_round() {
	local dir

	target_up "$BUILD/static/predump_writer" || return 1
	serve_up || return 1
	mig_killed_at parasite-stop-parked "in round 1's freeze" --max-downtime 0 || return 1
	dir=$KILLED_DIR
	if [ -n "$dir" ] && ! wait_until 5000 gone_dir "$dir"; then
		REASON="migrate's directory of rounds '$dir' is left"
		return 1
	fi
	released "$TPID" || return 1
	target_intact || return 1
	if ! wait_until 5000 srv_empty; then
		REASON="serve left $(ls -A "$RD/srv" | head -n 3 | tr '\n' ' ') under -D"
		return 1
	fi
}

# (8b) serve killed with its connection's child (SIGKILL to both) in the
# middle of round 2 (LMPROC_FAULT=serve-stop-in-round): migrate exits 1,
# aborted; the writer runs on, untracked, every page exact; the next
# serve on the same -D removes what the killed one left.
case_migrate_serve_killed_round() {
	local lm st

	target_up "$BUILD/static/predump_writer" || return 1
	SERVE_FAULT=serve-stop-in-round serve_up || return 1
	mig --tls-psk-file "$RD/psk" --max-downtime 0 &
	lm=$!
	if ! wait_until 30000 stopped_child; then
		REASON="serve did not stop in round 2: $(tail -c 300 "$RD/bad.out" "$RD/bad.err" \
			"$RD/serve.err" | tr '\n' ' ')"
		kill -KILL "$lm"
		return 1
	fi
	kill -KILL "$SPID" "$STOPPED_CHILD"
	wait "$lm"
	st=$?
	ERRORS_ONLY=1 refused "$st" "pid $TPID" "during pre-copy" "round 2: " "untracked" ||
		return 1
	[ "$(json_field result)" = aborted ] || { REASON="result not 'aborted'"; return 1; }
	if ! wait_until 2000 untracked "$TPID"; then
		REASON="the failed pre-copy left pid $TPID tracked"
		return 1
	fi
	target_intact || return 1
	serve_up || return 1
	serve_says 1 "removed .*/mig-[0-9]*-1: serve [0-9]* was killed with its migration 1" ||
		return 1
	if ! srv_empty; then
		REASON="the next serve left $(ls -A "$RD/srv" | head -n 3 | tr '\n' ' ') under -D"
		return 1
	fi
}

# (9) --link-timeout takes 1 to 3600 seconds, nothing else, on both
# commands: exit 2 and one line naming it.
case_migrate_link_timeout_bad() {
	local v cmd

	for v in 0 3601 -1 3s ''; do
		for cmd in "migrate -t $$ --to 127.0.0.1:1" "serve -D $RD"; do
			# shellcheck disable=SC2086 # the command's words
			bad_lmproc $cmd --insecure --link-timeout "$v"
			if [ $? != 2 ] || ! grep -q "^lmproc: bad --link-timeout $v (1 to 3600 seconds)" \
				"$RD/bad.err"; then
				REASON="lmproc $cmd --link-timeout '$v' was not refused: $(head -c 200 \
					"$RD/bad.err")"
				return 1
			fi
		done
	done
}

# (8c) migrate SIGKILLed in the final dump's send, the tree frozen
# (LMPROC_FAULT=migrate-stop-in-send): the tree runs on here (its
# tracer gone), untracked, not stopped, every page exact; migrate's
# directory gone; serve drops the migration and keeps nothing.  (With
# --tcp-established the kernel removes the lock and the connections'
# guardian takes them out of repair mode: case tcp-dump-killed-repair.)
case_migrate_killed_send() {
	local dir

	target_up "$BUILD/static/predump_writer" || return 1
	serve_up || return 1
	mig_killed_at migrate-stop-in-send "in the final send" || return 1
	dir=$KILLED_DIR
	if [ -z "$dir" ] || ! wait_until 5000 gone_dir "$dir"; then
		REASON="migrate's directory of images '$dir' is left"
		return 1
	fi
	target_intact || return 1
	serve_says 1 "migration 1 from .* refused: .*the connection was closed" || return 1
	if ! wait_until 5000 srv_empty; then
		REASON="serve left $(ls -A "$RD/srv" | head -n 3 | tr '\n' ' ') under -D"
		return 1
	fi
}

# (6f') The source frees the pages of every round serve has stored: with
# migrate stopped in the final send, round 1's pages images in its
# directory keep their size (their footers are checked up to the final
# dump) but hold less than a tenth of it in memory.
case_migrate_sent_pages_freed() {
	local lm dir f size blocks n=0

	target_up "$BUILD/static/predump_writer" || return 1
	serve_up || return 1
	{ LMPROC_FAULT=migrate-stop-in-send mig --tls-psk-file "$RD/psk"; } 2>/dev/null &
	lm=$!
	if ! wait_until 30000 stopped_lmproc "$lm"; then
		REASON="migrate did not stop in the final send: $(head -c 300 "$RD/bad.err")"
		return 1
	fi
	dir=$(readlink /proc/"$STOPPED_LM"/fd/* | grep -m1 -o '^/dev/shm/lmproc-migrate\.[^/]*')
	for f in "$dir"/pre-1/pages-*.img; do
		[ -f "$f" ] || continue
		size=$(stat -c %s "$f")
		blocks=$(($(stat -c %b "$f") * $(stat -c %B "$f")))
		n=$((n + 1))
		if [ "$size" -lt 65536 ] || [ "$blocks" -gt $((size / 10)) ]; then
			REASON="$f: $size bytes, $blocks of them in memory after serve stored it"
			break
		fi
	done
	[ -z "$REASON" ] && [ "$n" = 0 ] && REASON="no pages image in '$dir/pre-1'"
	kill -KILL "$STOPPED_LM"
	wait "$lm"
	[ -z "$REASON" ] || return 1
	wait_until 5000 untracked "$TPID" || REASON="pid $TPID is still tracked"
	[ -z "$REASON" ] || return 1
	target_intact
}

gone_dir() {
	[ ! -e "$1" ]
}

# mig_killed_at FAULT WHERE [ARG...]: migrate (with ARGs) stopped by
# LMPROC_FAULT=FAULT (WHERE says where, for the failure), then SIGKILLed:
# the tree is untracked within 5 s; KILLED_DIR its directory of rounds.
mig_killed_at() {
	local fault=$1 where=$2 lm

	shift 2
	{ LMPROC_FAULT=$fault mig --tls-psk-file "$RD/psk" "$@"; } 2>/dev/null &
	lm=$!
	if ! wait_until 30000 stopped_lmproc "$lm"; then
		REASON="migrate did not stop $where: $(head -c 300 "$RD/bad.err")"
		return 1
	fi
	KILLED_DIR=$(readlink /proc/"$STOPPED_LM"/fd/* |
		grep -m1 -o '^/dev/shm/lmproc-migrate\.[^/]*')
	kill -KILL "$STOPPED_LM"
	wait "$lm"
	if ! wait_until 5000 untracked "$TPID"; then
		REASON="pid $TPID is still tracked after migrate was killed"
		return 1
	fi
}

# lm_stopped PID: lmproc PID stopped itself (state T) or has ended.
lm_stopped() {
	[ "$(proc_state "$1")" = T ] || ! kill -0 "$1" 2>/dev/null
}

# same_cgroups CG: TPID's /proc/PID/cgroup is CG.
same_cgroups() {
	[ "$(cat /proc/"$TPID"/cgroup)" = "$1" ]
}

# (6g) SIGKILL to migrate once the tree is throttled, between two
# rounds' freezes (LMPROC_FAULT=migrate-stop-throttled stops migrate as
# it sends the first throttled round, the tree running): the tree goes back to exactly the
# cgroups it was in, its quota as it was, the throttle cgroup removed (by
# migrate's cleaner child), untracked, exact.
case_migrate_auto_converge_killed() {
	local lm cg quota

	PREDUMP_WRITE_RATE=100000000 target_up "$BUILD/static/predump_writer" || return 1
	cg=$(cat /proc/"$TPID"/cgroup)
	quota=$(cpu_limit "$TPID")
	serve_up || return 1
	LMPROC_FAULT=migrate-stop-throttled "$LMPROC_REAL" migrate -t "$TPID" \
		--to "127.0.0.1:$SPORT" --json --tls-psk-file "$RD/psk" --max-rounds 32 \
		--max-downtime 0 --auto-converge >"$RD/bad.out" 2>"$RD/bad.err" &
	lm=$!
	if ! wait_until 60000 lm_stopped "$lm" || ! throttled; then
		REASON="migrate did not stop in a throttled round: $(head -c 300 "$RD/bad.out")"
		kill -KILL "$lm"
		return 1
	fi
	kill -KILL "$lm"
	wait "$lm" 2>/dev/null
	if ! wait_until 5000 same_cgroups "$cg"; then
		REASON="the writer's cgroups changed: $(tr '\n' ' ' </proc/"$TPID"/cgroup)"
		return 1
	fi
	if [ "$(cpu_limit "$TPID")" != "$quota" ]; then
		REASON="the writer's cpu quota is $(cpu_limit "$TPID"), not $quota as before"
		return 1
	fi
	wait_until 5000 no_throttle_cgroup || return 1
	if ! wait_until 5000 untracked "$TPID"; then
		REASON="the killed pre-copy left pid $TPID tracked"
		return 1
	fi
	target_intact
}

srv_empty() {
	[ -z "$(ls -A "$RD/srv" 2>/dev/null)" ]
}

# staging_used MIN_MIB: serve's log says the restore of migration 1 moved
# at least MIN_MIB MiB of staged VMAs into place (a restore that fell back
# to filling every page says 0, today's serve nothing).
staging_used() {
	local mib

	# Logged once lmproc has dropped its copy, after the hand-over.
	wait_until 5000 grep -q "migration 1: .* moved from round" "$RD/serve.err"
	mib=$(sed -n "s/.*migration 1: [0-9]* vmas (\([0-9]*\) MiB) moved from round [0-9]*'s staging.*/\1/p" \
		"$RD/serve.err" | head -n 1)
	if [ -z "$mib" ] || [ "$mib" -lt "$1" ]; then
		REASON="the restore moved ${mib:-no} MiB from the staging, not at least $1 MiB"
		add_detail "serve's log" "$RD/serve.err" 12
		return 1
	fi
	DETAIL+="; $(grep -o "[0-9]* vmas ([0-9]* MiB) moved.*" "$RD/serve.err" | head -n 1)"
}

# not_shared PID [ADDR]: no page of PID's anonymous mappings (or of its
# VMA at ADDR) is shared with another process: serve's child and the
# namespace's init dropped the staging they handed down by fork (else
# each first write of the tree copies its page).
not_shared() {
	local kb

	kb=$(awk -v at="${2:+${2#0x}}" '/^[0-9a-f]+-[0-9a-f]+ / {
			anon = at != "" ? $1 ~ "^0*" at "-" : (NF < 6 || $6 ~ /^\[(heap|stack)\]$/) }
		anon && /^Shared_(Clean|Dirty):/ { s += $2 } END { print s + 0 }' \
		"/proc/$1/smaps")
	if [ "$kb" != 0 ]; then
		REASON="$kb kB of pid $1's anonymous memory${2:+ at ${2}} is shared with another process"
		return 1
	fi
}

# maps_of SNAPSHOT: the VMA lines of a procstate snapshot (neighbouring
# anonymous VMAs of the same protection and flags as one, VmFlags too).
maps_of() {
	grep -E '^[0-9a-f]+-[0-9a-f]+ ' <<<"$1"
}

# (6h) staging: predump_writer (256 MiB rewritten at 16 MiB/s) moved with
# pre-copy: the restore moves its 256 MiB from serve's staging of the
# last round instead of filling them (serve's log), every page is exact
# at the destination, none of them is shared with serve's process or
# the namespace's init, and its maps and VmFlags are the source's.
case_migrate_staging() {
	local before after

	target_up "$BUILD/static/predump_writer" || return 1
	before=$(maps_of "$TSNAP")
	serve_up || return 1
	if ! mig --tls-psk-file "$RD/psk" --max-rounds 8 --max-downtime 300; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	rounds_check 2 8 || return 1
	staging_used 256 || return 1
	not_shared "$(json_field dest_pid)" || return 1
	after=$(maps_of "$(snapshot "$(json_field dest_pid)")")
	if [ "$before" != "$after" ]; then
		REASON="the migrated copy's maps differ from the source's"
		DETAIL=$(diff <(echo "$before") <(echo "$after") | head -n 8 | tr '\n' ' ')
		return 1
	fi
	moved_passes 1
}

# (6h2) the staged memory goes to the tree by one fork: lmproc's of the
# root into the pid namespace of an init forked before the memory was
# forkable (restore-pidns.c).  serve's log says the init maps none of
# it, and the init's resident memory at the end is a small process's.
case_migrate_staging_one_fork() {
	local init rss

	target_up "$BUILD/static/predump_writer" || return 1
	serve_up || return 1
	if ! mig --tls-psk-file "$RD/psk" --max-rounds 8 --max-downtime 300; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	staging_used 256 || return 1
	serve_says 1 "migration 1: .* moved from round .*; handed to the tree by one fork, the pid namespace's init maps none of it$" || return 1
	init=$(awk '/^PPid:/ { print $2 }' "/proc/$(json_field dest_pid)/status")
	rss=$(awk '/^Rss:/ { print $2 }' "/proc/$init/smaps_rollup")
	if [ -z "$rss" ] || [ "$rss" -ge 65536 ]; then
		REASON="the init (pid $init) of the migrated tree has ${rss:-no} kB resident"
		return 1
	fi
	not_shared "$(json_field dest_pid)" || return 1
	moved_passes 1
}

# (6i) a stale staging: serve keeps round 1's (LMPROC_FAULT=
# serve-stage-stale) where the final dump's parent is a later round: the
# restore takes none of it, fills every page itself, and every page of
# predump_writer (rewritten since round 1) is exact.
case_migrate_staging_stale() {
	target_up "$BUILD/static/predump_writer" || return 1
	SERVE_FAULT=serve-stage-stale serve_up || return 1
	if ! mig --tls-psk-file "$RD/psk" --max-rounds 8 --max-downtime 300; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	rounds_check 2 8 || return 1
	moved_passes 1 || return 1
	serve_says 1 "migration 1: 0 vmas (0 MiB) moved from round 1's staging"
}

# (6j) staging while the layout changes: stage_churn rewrites and drops
# pages, grows, shrinks, replaces and moves VMAs and forks short-lived
# children every 40 ms, through at least two rounds: its 16 MiB whose
# bounds never change come from the staging, and every page of every
# region (and of a child alive at the freeze) is exact at the destination.
case_migrate_staging_churn() {
	local stable

	target_up "$BUILD/bad-input/stage_churn" || return 1
	stable=$(sed -n 's/.*stable at \(0x[0-9a-f]*\),.*/\1/p' "$TLOG")
	[ -n "$stable" ] || { REASON="stage_churn's log does not say where stable is"; return 1; }
	serve_up || return 1
	if ! mig --tls-psk-file "$RD/psk" --max-rounds 6 --max-downtime 1; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	rounds_check 2 6 || return 1
	staging_used 16 || return 1
	not_shared "$(json_field dest_pid)" "$stable" || return 1
	moved_passes 1
}

# (6k) a child of the tree exits in round 1's pre-dump once its pages
# are copied (LMPROC_FAULT=pre-dump-child-exits, the pre-dump then drops
# its images): what of them was streamed is voided at the destination,
# which counts the images and bytes migrate says it sent; the root,
# moved, passes.
case_migrate_child_exits() {
	local child files bytes

	target_up "$BUILD/bad-input/tree_dying" || return 1
	read -r child <"$DD/child.pid" || { REASON="no child pid"; return 1; }
	serve_up || return 1
	if ! LMPROC_FAULT=pre-dump-child-exits mig --tls-psk-file "$RD/psk" --max-rounds 2; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	if [ -n "$(proc_state "$child")" ] && [ "$(proc_state "$child")" != Z ]; then
		REASON="the child $child still runs: the fault did not kill it"
		return 1
	fi
	files=$(json_field files)
	bytes=$(json_field image_bytes)
	serve_says 1 "migration 1 from .*: pid [0-9]* runs here ($files images, $bytes bytes," ||
		return 1
	moved_passes 1
}

run_migrate_bad_input() {
	CASE_KIND=migrate bad_case migrate-moves mig_case case_migrate_moves
	CASE_KIND=migrate bad_case migrate-moves-tree mig_case case_migrate_moves \
		"$BUILD/static/tree_basic" setsid
	CASE_KIND=migrate bad_case migrate-moves-rwx mig_case case_migrate_moves \
		"$BUILD/static/mmap_rwx"
	CASE_KIND=migrate bad_case migrate-wrong-key mig_case case_migrate_wrong_key
	CASE_KIND=migrate bad_case migrate-restore-fails mig_case case_migrate_restore_fails
	CASE_KIND=migrate bad_case migrate-dump-refused mig_case case_migrate_dump_refused
	CASE_KIND=migrate bad_case migrate-after-commit mig_case case_migrate_after_commit
	CASE_KIND=migrate bad_case migrate-dies-before-commit mig_case \
		case_migrate_dies_before_commit
	CASE_KIND=migrate bad_case migrate-bad-frames mig_case case_migrate_bad_frames
	CASE_KIND=migrate bad_case migrate-commit-lost mig_case case_migrate_commit_lost
	CASE_KIND=migrate bad_case migrate-link-lost mig_case case_migrate_held link
	CASE_KIND=migrate bad_case migrate-interrupted mig_case case_migrate_held signal
	CASE_KIND=migrate bad_case migrate-precopy mig_case case_migrate_precopy
	CASE_KIND=migrate bad_case migrate-spaced-rounds mig_case case_migrate_spaced_rounds
	CASE_KIND=migrate bad_case migrate-precopy-off mig_case case_migrate_precopy_off
	CASE_KIND=migrate bad_case migrate-precopy-shm mig_case case_migrate_precopy_shm anon
	CASE_KIND=migrate bad_case migrate-precopy-fails mig_case case_migrate_precopy_fails
	CASE_KIND=migrate bad_case migrate-bad-rounds mig_case case_migrate_bad_rounds
	CASE_KIND=migrate bad_case migrate-preflight-bad mig_case case_migrate_preflight_bad
	CASE_KIND=migrate bad_case migrate-preflight-refused mig_case \
		case_migrate_preflight_refused
	CASE_KIND=migrate bad_case migrate-preflight-ok mig_case case_migrate_preflight_ok
	CASE_KIND=migrate bad_case migrate-precopy-link mig_case case_migrate_precopy_link
	CASE_KIND=migrate bad_case migrate-auto-converge mig_case case_migrate_auto_converge
	CASE_KIND=migrate bad_case migrate-auto-converge-int mig_case \
		case_migrate_auto_converge_int
	CASE_KIND=migrate bad_case migrate-back mig_case case_migrate_back
	CASE_KIND=migrate bad_case migrate-back-fails mig_case case_migrate_back fails
	CASE_KIND=migrate bad_case migrate-grace mig_case case_migrate_grace
	CASE_KIND=migrate bad_case migrate-grace-dies mig_case case_migrate_grace_dies
	CASE_KIND=migrate bad_case migrate-grace-bad mig_case case_migrate_grace_bad
	CASE_KIND=migrate bad_case migrate-grace-killed mig_case case_migrate_grace_during kill \
		20000
	CASE_KIND=migrate bad_case migrate-grace-interrupted mig_case case_migrate_grace_during \
		term 20000
	CASE_KIND=migrate bad_case migrate-grace-stopped mig_case case_migrate_grace_during stop \
		5000
	CASE_KIND=migrate bad_case migrate-grace-child-dies mig_case case_migrate_grace_during \
		child 20000
	CASE_KIND=migrate bad_case migrate-staging mig_case case_migrate_staging
	CASE_KIND=migrate bad_case migrate-staging-one-fork mig_case case_migrate_staging_one_fork
	CASE_KIND=migrate bad_case migrate-staging-stale mig_case case_migrate_staging_stale
	CASE_KIND=migrate bad_case migrate-staging-churn mig_case case_migrate_staging_churn
	CASE_KIND=migrate bad_case migrate-child-exits mig_case case_migrate_child_exits
	CASE_KIND=migrate bad_case migrate-frozen-parts mig_case case_migrate_frozen_parts
	CASE_KIND=migrate bad_case migrate-frozen-text mig_case case_migrate_frozen_text
	CASE_KIND=migrate bad_case migrate-killed-round mig_case case_migrate_killed_round
	CASE_KIND=migrate bad_case migrate-killed-frozen-round mig_case \
		case_migrate_killed_frozen_round
	CASE_KIND=migrate bad_case migrate-link-timeout-bad mig_case case_migrate_link_timeout_bad
	CASE_KIND=migrate bad_case migrate-serve-killed-round mig_case \
		case_migrate_serve_killed_round
	CASE_KIND=migrate bad_case migrate-killed-send mig_case case_migrate_killed_send
	CASE_KIND=migrate bad_case migrate-sent-pages-freed mig_case case_migrate_sent_pages_freed
	CASE_KIND=migrate bad_case migrate-auto-converge-killed mig_case \
		case_migrate_auto_converge_killed
}
