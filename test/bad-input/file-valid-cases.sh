# shellcheck shell=bash disable=SC2034,SC2153 # SPID, DEST_INIT: mig_case's; TPID: target_up's
# --file-validation cases, for test/bad-input/cases.sh (sourced after it;
# uses its bad_case, refused, term_verdict): the file a dumped process maps
# (or holds open read-only) is replaced before the restore by another inode at the same path (as on
# another host, or NFS with another st_dev): an identical copy is accepted
# by its content hash, a copy with one byte changed (same size, same mtime)
# is refused naming the path, and CRIU's weaker filesize rule accepts it;
# migrate to a serve that sees such a copy at the path: the same.

# mapped_copy_dumped: mmap_private dumped (and killed) into RD/img; MAPF
# is the file it maps, ORIG a copy of it as dumped.
mapped_copy_dumped() {
	target_up "$BUILD/static/mmap_private" || return 1
	MAPF=$DD/mmap_private.dat
	ORIG=$RD/mmap_private.orig
	cp -p "$MAPF" "$ORIG" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID"
}

# replace_mapped [OFFSET]: MAPF is a new inode with ORIG's content (OFFSET:
# that byte changed) and its mtime.
replace_mapped() {
	local ino

	ino=$(stat -c %i "$MAPF")
	cp "$ORIG" "$MAPF.new" || return 1
	if [ -n "${1:-}" ]; then
		printf 'X' | dd of="$MAPF.new" bs=1 seek="$1" conv=notrunc status=none || return 1
	fi
	touch -r "$ORIG" "$MAPF.new" && mv -f "$MAPF.new" "$MAPF" || return 1
	if [ "$(stat -c %i "$MAPF")" = "$ino" ] || [ "$(stat -c %s.%Y "$MAPF")" != \
	     "$(stat -c %s.%Y "$ORIG")" ]; then
		REASON="$MAPF is not a new inode of the same size and mtime"
		return 1
	fi
}

# An identical copy: restored, the process passes its own checks (its
# mapped pages and the file's size, mtime and content); the restore says
# once, at info level, that it took the copy by its content.
case_mapped_copy_same() {
	local n

	mapped_copy_dumped && replace_mapped || return 1
	must_lm restore "restore -d" restore -D "$RD/img" -d || return 1
	n=$(grep -c "the file at $MAPF is accepted as the dumped one by --file-validation hash" \
		"$RD/restore.log")
	if [ "$n" != 1 ]; then
		REASON="restore.log says $n times (not once) that $MAPF was accepted by its hash"
		return 1
	fi
	term_verdict
}

# One byte changed, same size and mtime: refused naming the pid, the
# path and that the content differs (check -D says so too); with
# --file-validation filesize (CRIU's rule) the same restore goes ahead.
case_mapped_copy_byte() {
	local st

	mapped_copy_dumped && replace_mapped 5000 || return 1
	bad_lmproc restore -D "$RD/img" -d
	st=$?
	refused "$st" "pid $TPID" "the file at $MAPF differs from the dumped one" content \
		"another file" && no_word size || return 1
	no_process "$TPID" || return 1
	bad_lmproc check -D "$RD/img"
	if ! grep -q "^files *FAIL .*$MAPF differs from the dumped one (content" "$RD/bad.out"; then
		REASON="check -D does not fail its files line naming $MAPF: $(grep -m1 '^files' \
			"$RD/bad.out")"
		return 1
	fi
	must_lm restore-fs "restore --file-validation filesize" restore -D "$RD/img" -d \
		--file-validation filesize || return 1
	if ! grep -q "the file at $MAPF is accepted as the dumped one by --file-validation filesize" \
		"$RD/restore-fs.log"; then
		REASON="restore-fs.log does not say $MAPF was accepted by its size"
		return 1
	fi
	kill_ours "$TPID"
}

# fd_file_dumped: fd_ro_file (its ro.dat open read-only at fd 5) dumped
# (and killed) into RD/img; MAPF is that file, ORIG a copy of it.
fd_file_dumped() {
	target_up "$BUILD/bad-input/fd_ro_file" || return 1
	MAPF=$DD/ro.dat
	ORIG=$RD/ro.orig
	cp -p "$MAPF" "$ORIG" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID"
}

# The file a process holds open read-only replaced by an identical copy:
# restored at its offset, the process reads the same content; said once.
case_fd_copy_same() {
	local n

	fd_file_dumped && replace_mapped || return 1
	must_lm restore "restore -d" restore -D "$RD/img" -d || return 1
	n=$(grep -c "pid $TPID fd 5: the file at $MAPF is accepted as the dumped one by \
--file-validation hash" "$RD/restore.log")
	if [ "$n" != 1 ]; then
		REASON="restore.log says $n times (not once) that fd 5's $MAPF was accepted"
		return 1
	fi
	term_verdict
}

# One byte of it changed (same size and mtime): refused naming pid, fd and
# path (before, restore took it silently); filesize takes it.
case_fd_copy_byte() {
	fd_file_dumped && replace_mapped 30000 || return 1
	bad_lmproc restore -D "$RD/img" -d
	refused $? "pid $TPID fd 5: the file at $MAPF differs from the dumped one (content" \
		"another file" && no_word size && no_process "$TPID" || return 1
	must_lm restore-fs "restore --file-validation filesize" restore -D "$RD/img" -d \
		--file-validation filesize || return 1
	kill_ours "$TPID"
}

# exe_copy_dumped: a copy of the counting test run and dumped (and
# killed) into RD/img; MAPF is that copy, ORIG a copy of it as dumped.
exe_copy_dumped() {
	MAPF=$RD/counter-copy
	ORIG=$RD/counter.orig
	cp "$BUILD/static/counter" "$MAPF" && cp -p "$MAPF" "$ORIG" || return 1
	target_up "$MAPF" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID"
}

# The executable's last byte changed (in its section headers, which no
# segment loads), its size and mtime kept: refused by its hash; CRIU's
# buildid rule accepts it (the build-id note is intact) and the process
# runs on and passes its checks.
case_exe_copy_buildid() {
	local size

	exe_copy_dumped || return 1
	size=$(stat -c %s "$MAPF")
	replace_mapped $((size - 1)) || return 1
	bad_lmproc restore -D "$RD/img" -d
	refused $? "pid $TPID" "the file at $MAPF differs from the dumped one (content" ||
		return 1
	no_process "$TPID" || return 1
	must_lm restore-bid "restore --file-validation buildid" restore -D "$RD/img" -d \
		--file-validation buildid || return 1
	if ! grep -q "the file at $MAPF is accepted as the dumped one by --file-validation buildid" \
		"$RD/restore-bid.log"; then
		REASON="restore-bid.log does not say $MAPF was accepted by its build-id"
		return 1
	fi
	term_verdict
}

# A byte of the executable's build-id changed: even the buildid rule
# refuses it, naming the path and the build-id.
case_exe_buildid_differs() {
	local id off i pat=

	exe_copy_dumped || return 1
	id=$("$LMPROC" show "$RD/img/mm-$TPID.img" | grep -A8 "\"path\": \"$MAPF\"" |
		sed -n 's/.*"build_id": "\([0-9a-f]*\)".*/\1/p')
	for ((i = 0; i < ${#id}; i += 2)); do
		pat+="\\x${id:i:2}"
	done
	off=$(LC_ALL=C grep -obUaP "$pat" "$MAPF" | head -n 1 | cut -d: -f1)
	if [ -z "$id" ] || [ -z "$off" ]; then
		REASON="no build-id of $MAPF in mm-$TPID.img ('$id') or in the file ('$off')"
		return 1
	fi
	replace_mapped "$off" || return 1
	bad_lmproc restore -D "$RD/img" -d --file-validation buildid
	refused $? "pid $TPID" "the file at $MAPF differs from the dumped one" \
		"its ELF build-id is not the dumped one" && no_process "$TPID"
}

# serve_with_copy [OFFSET [SERVE-ARG...]]: serve in a mount namespace of
# its own where the target's data directory DD is a tmpfs holding a copy
# of MAPF (OFFSET, if not empty: that byte changed), of its size and
# mtime: another st_dev and inode, as on another host.
serve_with_copy() {
	MAPF=$DD/mmap_private.dat
	cp -p "$MAPF" "$RD/copy.dat" || return 1
	if [ -n "${1:-}" ]; then
		printf 'X' | dd of="$RD/copy.dat" bs=1 seek="$1" conv=notrunc status=none || return 1
		touch -r "$MAPF" "$RD/copy.dat" || return 1
	fi
	mkdir -p "$RD/srv"
	: >"$RD/serve.err"
	# shellcheck disable=SC2016 # the inner shell's own arguments
	spawn serve "$RD/serve.out" "$RD/serve.err" unshare -m --propagation private \
		sh -c 'mount -t tmpfs lmproc-copy "$1" && cp -p "$2" "$3" && shift 3 && exec "$@"' \
		sh "$DD" "$RD/copy.dat" "$MAPF" \
		"$LMPROC_REAL" serve -D "$RD/srv" --listen 127.0.0.1:0 --tls-psk-file "$RD/psk" \
		"${@:2}" || return 1
	SPID=$SPAWNED
	if ! wait_until 5000 serve_port; then
		REASON="serve did not say where it listens: $(head -c 200 "$RD/serve.err")"
		return 1
	fi
}

# The copy is the same: PREFLIGHT's files check passes, the tree moves
# and the copy there passes its checks (its mapping and the file's size,
# mtime and content).
case_migrate_file_copy() {
	target_up "$BUILD/static/mmap_private" || return 1
	serve_with_copy || return 1
	if ! mig --tls-psk-file "$RD/psk"; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	if ! grep -q '"preflight": \[.*{"name": "files", "ok": true' "$RD/bad.out"; then
		REASON="PREFLIGHT's files check did not pass: $(grep -o '"preflight": [^]]*' \
			"$RD/bad.out" | cut -c1-300)"
		return 1
	fi
	moved_passes 1
}

# A byte differs: refused by PREFLIGHT before anything is frozen, naming
# the path and that its content differs; the target runs on as it was.
case_migrate_file_differs() {
	local st

	target_up "$BUILD/static/mmap_private" || return 1
	serve_with_copy 5000 || return 1
	mig --tls-psk-file "$RD/psk"
	st=$?
	ERRORS_ONLY=1 refused $st "pid $TPID" "refused before anything was frozen" \
		"files: pid $TPID maps $MAPF" "the file at $MAPF differs from the dumped one \
(content" || return 1
	never_frozen || return 1
	same_state "$TPID" "$TSNAP" 1000 || { REASON="target changed: $REASON"; return 1; }
	finish_original "$TPID" || { REASON="target after the refusal: $REASON"; return 1; }
}

# A byte differs and serve runs --file-validation filesize (CRIU's rule):
# PREFLIGHT passes and the tree moves (its own check of the file would
# then fail: it is killed there).
case_migrate_file_filesize() {
	target_up "$BUILD/static/mmap_private" || return 1
	serve_with_copy 5000 --file-validation filesize || return 1
	if ! mig --tls-psk-file "$RD/psk"; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	if [ "$(json_field result)" != migrated ]; then
		REASON="migrate did not say migrated: $(head -c 300 "$RD/bad.out")"
		return 1
	fi
	DEST=$(json_field dest_pid)
	DEST_INIT=$(ps -o ppid= -p "$DEST" | tr -d ' ')
	reap_dumped "$TPID" && serve_says 1 "migration 1 from .*: pid $DEST runs here"
}

run_file_valid_bad_input() {
	CASE_KIND=state bad_case mapped-copy-same case_mapped_copy_same
	bad_case mapped-copy-byte case_mapped_copy_byte
	CASE_KIND=state bad_case fd-copy-same case_fd_copy_same
	bad_case fd-copy-byte case_fd_copy_byte
	CASE_KIND=state bad_case exe-copy-buildid case_exe_copy_buildid
	bad_case exe-buildid-differs case_exe_buildid_differs
	CASE_KIND=migrate bad_case migrate-file-copy mig_case case_migrate_file_copy
	CASE_KIND=migrate bad_case migrate-file-differs mig_case case_migrate_file_differs
	CASE_KIND=migrate bad_case migrate-file-filesize mig_case case_migrate_file_filesize
}
