# shellcheck shell=bash
# --file-validation cases, for test/bad-input/cases.sh (sourced after it;
# uses its bad_case, refused, term_verdict): the file a dumped process maps
# is replaced before the restore by another inode at the same path (as on
# another host, or NFS with another st_dev): an identical copy is accepted
# by its content hash, a copy with one byte changed (same size, same mtime)
# is refused naming the path, and CRIU's weaker filesize rule accepts it.

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

run_file_valid_bad_input() {
	CASE_KIND=state bad_case mapped-copy-same case_mapped_copy_same
	bad_case mapped-copy-byte case_mapped_copy_byte
}
