# shellcheck shell=bash
# Bad-input cases of a hostile images directory and of the pre-dump
# keeper's socket, for test/bad-input/cases.sh (sourced after it; uses its
# bad_case, target_up, refused, target_intact, dumped_target).  Every
# lmproc run here is bounded by IMGDIR_TIMEOUT: a FIFO or a squatter that
# blocks lmproc must show up as a failure, not as a hung suite.

IMGDIR_TIMEOUT=15

# The names a dump of one process writes (PID is the process's).
imgdir_names() {
	local n

	for n in inventory.img pstree.img core-%d.img mm-%d.img pagemap-%d.img \
		pages-%d.img fdinfo-%d.img files.img fs-%d.img files-data.img shmem.img \
		shmem-pages.img sysvipc.img stats-dump.img; do
		# shellcheck disable=SC2059 # the name is the format
		printf "$n\n" "$1"
	done
}

# bounded_lmproc ARGS...: bad_lmproc, at most IMGDIR_TIMEOUT seconds.
bounded_lmproc() {
	timeout -k 2 "$IMGDIR_TIMEOUT" "$LMPROC" "$@" >"$RD/bad.out" 2>"$RD/bad.err"
}

# Every image name a symlink to a root-only file elsewhere: the dump is
# refused naming a symlink, and no file outside is touched.
case_imgdir_symlinks() {
	local n st

	target_up || return 1
	mkdir -p "$RD/img" "$RD/outside"
	for n in $(imgdir_names "$TPID"); do
		echo "precious $n" >"$RD/outside/$n"
		chmod 0600 "$RD/outside/$n"
		ln -s "$RD/outside/$n" "$RD/img/$n"
	done
	bounded_lmproc dump -t "$TPID" -D "$RD/img"
	st=$?
	for n in $(imgdir_names "$TPID"); do
		if [ "$(cat "$RD/outside/$n")" != "precious $n" ]; then
			REASON="the dump wrote through the symlink $n into a file outside"
			return 1
		fi
	done
	LM_TIMEOUT=$IMGDIR_TIMEOUT refused "$st" "$RD/img" symlink && target_intact
}

# Images pre-created 0644 by another user, who holds them open: after the
# dump each image is a new file, root's, 0600, and the user's open files
# got nothing of the dump.
case_imgdir_precreated() {
	local n fd m st got

	target_up || return 1
	mkdir -p "$RD/img"
	for n in $(imgdir_names "$TPID"); do
		: >"$RD/img/$n"
		chmod 0644 "$RD/img/$n"
		chown nobody "$RD/img/$n"
	done
	exec {fd}<"$RD/img/pages-$TPID.img"
	must_lm dump "dump -R" dump -t "$TPID" -D "$RD/img" -R
	st=$?
	got=$(wc -c <&"$fd")
	exec {fd}<&-
	[ "$st" = 0 ] || return 1
	for n in $(imgdir_names "$TPID"); do
		[ -e "$RD/img/$n" ] || continue
		m=$(stat -c '%u %a' "$RD/img/$n")
		if [ "$m" != "0 600" ]; then
			REASON="image $n is owner/mode $m after the dump, not 0 600"
			return 1
		fi
	done
	if [ "$got" != 0 ]; then
		REASON="the other user's open pages image got $got bytes of the dump"
		return 1
	fi
	target_intact
}

# case_imgdir_fifo NAME: a FIFO where the dump writes image NAME (%d is
# the pid): refused within seconds naming it, the target running on.
case_imgdir_fifo() {
	local n

	target_up || return 1
	mkdir -p "$RD/img"
	# shellcheck disable=SC2059 # the name is the format
	n=$(printf "$1" "$TPID")
	mkfifo "$RD/img/$n"
	bounded_lmproc dump -t "$TPID" -D "$RD/img"
	LM_TIMEOUT=$IMGDIR_TIMEOUT refused $? "$n" FIFO && target_intact
}

# case_imgdir_restore_kind NAME KIND: image NAME (%d is the pid) of a good
# dump replaced by KIND (symlink: to a good copy elsewhere; FIFO): the
# restore is refused in one line naming it, and nothing is left.
case_imgdir_restore_kind() {
	local n

	dumped_target || return 1
	# shellcheck disable=SC2059 # the name is the format
	n=$(printf "$1" "$TPID")
	mkdir -p "$RD/elsewhere"
	mv "$RD/img/$n" "$RD/elsewhere/$n"
	case "$2" in
	symlink) ln -s "$RD/elsewhere/$n" "$RD/img/$n" ;;
	FIFO) mkfifo "$RD/img/$n" ;;
	esac
	bounded_lmproc restore -D "$RD/img" -d
	LM_TIMEOUT=$IMGDIR_TIMEOUT refused $? "$n" "$2" || { kill_ours "$TPID"; return 1; }
	no_process "$TPID"
}

# A symlink at stats-restore.img, written after a restore: the file it
# points to is untouched, and the restored task runs as it should.
case_imgdir_restore_stats() {
	dumped_target || return 1
	echo precious >"$RD/outside"
	ln -s "$RD/outside" "$RD/img/stats-restore.img"
	restored_passes "$RD/img" || return 1
	if [ "$(cat "$RD/outside")" != precious ]; then
		REASON="the restore wrote its stats through the symlink into a file outside"
		return 1
	fi
}

# A directory anyone can write to (no sticky bit), or another user's: one
# warning naming it, and the dump goes on.  With the sticky bit, no
# warning.
case_imgdir_world_writable() {
	target_up || return 1
	mkdir -p "$RD/ww" "$RD/sticky" "$RD/other"
	chmod 0777 "$RD/ww"
	chmod 1777 "$RD/sticky"
	chown nobody "$RD/other"
	imgdir_dump_r ww || return 1
	imgdir_one_warning "$RD/ww.*written by others" || return 1
	imgdir_dump_r other || return 1
	imgdir_one_warning "$RD/other belongs to uid $(id -u nobody)" || return 1
	imgdir_dump_r sticky || return 1
	if [ -s "$RD/bad.err" ]; then
		REASON="the dump into the sticky $RD/sticky said: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	target_intact
}

# imgdir_one_warning PATTERN: the last run's stderr is one warning matching
# PATTERN.
imgdir_one_warning() {
	if [ "$(grep -c . "$RD/bad.err")" != 1 ] || ! grep -q "^Warning.*$1" "$RD/bad.err"; then
		REASON="not one warning matching '$1'"
		add_detail "stderr" "$RD/bad.err" 3
		return 1
	fi
}

# imgdir_dump_r DIR: dump -R of TPID into RD/DIR, as a user runs it.
imgdir_dump_r() {
	bounded_lmproc dump -t "$TPID" -D "$RD/$1" -R
	local st=$?

	if [ "$st" != 0 ]; then
		REASON="dump -R into $1 exited $st: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
}

# start_time PID: field 22 of /proc/PID/stat (the comm has no blanks here).
start_time() {
	awk '{ print $22 }' "/proc/$1/stat"
}

# Another user binds the keeper's old abstract socket name before root's
# pre-dumps: both rounds finish within seconds, the second one incremental,
# and the squatter gets no connection.
case_keeper_squatter() {
	local name sq st

	target_up "$BUILD/static/predump_writer" || return 1
	name="lmproc-track/$TPID/$(start_time "$TPID")"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$BUILD/tools/sksquat" "$name" >"$RD/squat.out" 2>&1 &
	sq=$!
	if ! wait_until 3000 grep -qF "@$name" /proc/net/unix; then
		REASON="the squatter could not bind @$name: $(head -n 1 "$RD/squat.out")"
		kill "$sq"
		return 1
	fi
	keeper_squatter_rounds
	st=$?
	kill "$sq"
	wait "$sq" 2>/dev/null
	[ "$st" = 0 ] || return "$st"
	if [ -s "$RD/squat.out" ]; then
		REASON="the squatter learnt: $(head -n 1 "$RD/squat.out")"
		return 1
	fi
	target_runs
}

keeper_squatter_rounds() {
	local r prev="" st

	for r in r1 r2; do
		mkdir -p "$RD/$r"
		bounded_lmproc pre-dump -t "$TPID" -D "$RD/$r" ${prev:+--prev-images-dir "../$prev"}
		st=$?
		if [ "$st" != 0 ]; then
			REASON="pre-dump $r with a squatter exited $st: $(head -n 1 "$RD/bad.err")"
			[ "$st" = 124 ] && REASON="pre-dump $r with a squatter hung (${IMGDIR_TIMEOUT}s)"
			return 1
		fi
		prev=$r
	done
	if [ "$(stat_of "$RD/r2" incremental)" != true ]; then
		REASON="the second round was not incremental: the keeper was not found"
		return 1
	fi
}

# A keeper that no longer answers (stopped): the next round is refused
# within seconds naming the pid, and the target runs on as it was.
case_keeper_silent() {
	local keeper st

	target_up || return 1
	mkdir -p "$RD/r1" "$RD/r2"
	must_lm r1 "pre-dump into r1" pre-dump -t "$TPID" -D "$RD/r1" || return 1
	if ! keeper=$(keeper_of "$TPID"); then
		REASON="no tracking keeper found for pid $TPID after a pre-dump"
		return 1
	fi
	kill -STOP "$keeper"
	bounded_lmproc pre-dump -t "$TPID" -D "$RD/r2" --prev-images-dir ../r1
	st=$?
	kill -KILL "$keeper"
	LM_TIMEOUT=$IMGDIR_TIMEOUT refused "$st" "$TPID" "did not answer" && target_intact
}

run_imgdir_bad_input() {
	bad_case imgdir-symlinks case_imgdir_symlinks
	bad_case imgdir-precreated-by-other-user case_imgdir_precreated
	bad_case imgdir-fifo-pages case_imgdir_fifo "pages-%d.img"
	bad_case imgdir-fifo-core case_imgdir_fifo "core-%d.img"
	bad_case imgdir-restore-symlink case_imgdir_restore_kind "core-%d.img" symlink
	bad_case imgdir-restore-fifo case_imgdir_restore_kind "mm-%d.img" FIFO
	bad_case imgdir-restore-stats-symlink case_imgdir_restore_stats
	bad_case imgdir-world-writable case_imgdir_world_writable
	bad_case keeper-squatter case_keeper_squatter
	bad_case keeper-silent case_keeper_silent
}
