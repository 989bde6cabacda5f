# shellcheck shell=bash
# Refusals that must say what they refuse, for test/bad-input/cases.sh
# (sourced after it; uses its bad_case, target_up, refused, target_intact,
# names).  Each error line must name the pid, the fd or the address, the
# kind in words and the real reason, and the target must run on as before.

# no_word WORD: the error line does not say WORD (a wrong reason).
no_word() {
	if names "$1"; then
		REASON="the error says '$1': $(head -n 1 "$RD/bad.err")"
		return 1
	fi
}

# io_uring instances at fd 5 that lmproc refuses (test/bad-input/
# io_uring_fd.c), each named with its pid, fd and why; the rings are
# mapped, as MariaDB's InnoDB maps them.
io_uring_refused() {
	local kind=$1

	shift
	IO_URING_KIND=$kind target_up "$BUILD/bad-input/io_uring_fd" || return 1
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "$@" && no_word "mode 0" && target_intact
}

# A read of an empty pipe in flight.
case_io_uring_fd() {
	io_uring_refused inflight "fd 5" "an io_uring instance" "in flight"
}

# A submission thread (SQPOLL): the rings' mappings pass, the fd does not.
case_io_uring_map() {
	io_uring_refused sqpoll "fd 5" "an io_uring instance" "SQPOLL"
}

# A registered file.
case_io_uring_files() {
	io_uring_refused files "fd 5" "an io_uring instance" "registered files"
}

# An eventfd registered with it that no fd holds any more.
case_io_uring_evfd() {
	io_uring_refused evfd "fd 5" "an io_uring instance" "eventfd" "no fd"
}

# A dump of the io_uring test whose ring claims 257 SQ entries (not a
# power of two): restore refuses the image naming it, before making
# anything.
case_io_uring_damaged() {
	local img k

	target_up "$BUILD/static/io_uring" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	img=$RD/img/files.img
	k=$("$LMPROC" show "$RD/img" 2>/dev/null |
		awk '/"files.img"/ { in_files = 1 } in_files && /"type": "FD_/ {
			if ($0 ~ /FD_IO_URING/) { print n; exit } n++ }')
	if [ -z "$k" ] || ! "$BUILD/tools/imgmangle" xor "$img" "$k:72.3" 1 ||
		! "$BUILD/tools/imgmangle" reseal "$img"; then
		REASON="no io_uring entry to damage in $img"
		return 1
	fi
	bad_lmproc restore -D "$RD/img" -d
	refused $? "files.img" "io_uring file id" "257 SQ" && no_process "$TPID"
}

# SINGLE_ISSUER, set up by a thread that is not the main one.
case_io_uring_thread() {
	io_uring_refused thread "fd 5" "an io_uring instance" "SINGLE_ISSUER" "thread"
}

# Its rings mapped, no fd holding it: the mapping is refused naming its
# address range.
case_io_uring_nofd() {
	local range

	IO_URING_KIND=nofd target_up "$BUILD/bad-input/io_uring_fd" || return 1
	range=$(awk '/\[io_uring\]/ { print $1; exit }' "/proc/$TPID/maps")
	if [ -z "$range" ]; then
		REASON="no io_uring mapping in /proc/$TPID/maps"
		return 1
	fi
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "0x${range/-/-0x}" "io_uring" "no fd" && target_intact
}

# An AIO ring mapping a child inherited across fork, without the
# context: refused naming the child and the ring's range; the parent's
# context still works after.
case_aio_forked() {
	local child range

	target_up "$BUILD/bad-input/aio_forked" || return 1
	read -r child <"$DD/child.pid"
	range=$(awk '/\[aio\]/ { print $1; exit }' "/proc/$child/maps")
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $child" "0x${range/-/-0x}" "an AIO ring" "no AIO context" "fork" &&
		target_intact
}

# An AIO ring whose header was changed in mm-PID.img (its compat
# features, found by the bytes that follow the magic: features 1, 0,
# header length 32; resealed, so the validation behind the checksums sees
# it): restore refuses it naming the image and the ring, and leaves no
# process.
case_aio_ring_damaged() {
	local img off range

	target_up "$BUILD/static/aio_ring" || return 1
	range=$(awk '/\[aio\]/ { print $1; exit }' "/proc/$TPID/maps")
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	img=$RD/img/mm-$TPID.img
	off=$(LC_ALL=C grep -obUaP '\x01\x00{7}\x20\x00{3}' "$img" | head -n 1 | cut -d: -f1)
	if [ -z "$off" ] || ! "$BUILD/tools/imgmangle" flip "$img" "$off" ||
		! "$BUILD/tools/imgmangle" reseal "$img"; then
		REASON="no AIO ring header to damage in $img"
		return 1
	fi
	bad_lmproc restore -D "$RD/img" -d
	refused $? "mm-$TPID.img" "AIO ring 0x${range%-*}" "features 254/0" &&
		no_process "$TPID"
}

# A POSIX timer on the CPU clock of a process outside the tree (the
# target's parent): refused naming the timer, that process and the clock
# in words.
case_timer_process_clock() {
	local other id

	target_up "$BUILD/bad-input/timer_process_clock" || return 1
	read -r other <"$DD/clock.pid"
	id=$(sed -n 's/^ID: //p' "/proc/$TPID/timers" | head -n 1)
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "timer $id" "process $other's CPU time" \
		"outside the dumped tree" && no_word "clock -" && target_intact
}

# An AIO ring left out of core dumps (MADV_DONTDUMP: io_setup does not
# give it): refused naming the pid, the ring's range and the VmFlag; the
# target (asleep)
# is as it was and its ring still completes requests after.
case_aio_ring_dontdump() {
	local range

	AIO_DONTDUMP=1 target_up "$BUILD/static/aio_ring" || return 1
	range=$(awk '/\[aio\]/ { print $1; exit }' "/proc/$TPID/maps")
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "0x${range/-/-0x}" "an AIO ring" "VmFlag dd" || return 1
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="target changed: $REASON"
		return 1
	fi
	if ! finish_original "$TPID"; then
		REASON="target after the refusal: $REASON"
		return 1
	fi
}

# A POSIX timer on the CPU clock of the thread that made it, in a process
# of two threads: refused naming the timer and the clock in words, not as
# a raw clockid, and why (which thread is not known).
case_timer_thread_clock() {
	local id

	target_up "$BUILD/bad-input/timer_thread_clock" || return 1
	id=$(sed -n 's/^ID: //p' "/proc/$TPID/timers" | head -n 1)
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "timer $id" "the calling thread's CPU time" \
		CLOCK_THREAD_CPUTIME_ID "which of its 2 threads" && no_word "clock -" &&
		target_intact
}

# A file mapped by the dumped process whose mtime and one byte (in place:
# the same inode and size) changed before the restore: refused naming the
# pid, the file, that its content differs and both mtimes, not its size;
# with the byte and mtime back the original (which sleeps: no
# target_runs) is as it was and passes its checks, which include the
# file's content and mtime.  (The mtime alone, the content as dumped, is
# accepted by --file-validation hash.)
case_mapped_file_mtime() {
	local f old st

	target_up "$BUILD/static/mmap_private" || return 1
	f=$DD/mmap_private.dat
	old=$(stat -c %y "$f")
	cp -p "$f" "$RD/orig.dat" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump -R" dump -t "$TPID" -D "$RD/img" -R || return 1
	printf 'X' | dd of="$f" bs=1 seek=5000 conv=notrunc status=none
	touch -d '2001-02-03 04:05:06 UTC' "$f"
	bad_lmproc restore -D "$RD/img" -d
	st=$?
	dd if="$RD/orig.dat" of="$f" bs=1 skip=5000 seek=5000 count=1 conv=notrunc status=none
	touch -d "$old" "$f"
	refused "$st" "pid $TPID" "$f" content mtime "2001-02-03 04:05:06" \
		"$(TZ=UTC date -d "$old" '+%Y-%m-%d %H:%M:%S')" && no_word size || return 1
	same_state "$TPID" "$TSNAP" 1000 && finish_original "$TPID"
}

# A terminal a client passed in (a pty that is not the session's
# controlling terminal; the session has none): refused saying what the
# terminal is, without advising --shell-job, which is for a shell's job.
case_tty_passed_in() {
	PTYRUN_NOCTTY=1 target_up "$BUILD/bad-input/tty_job" "$BUILD/tools/ptyrun" \
		"$RD/pty.out" || return 1
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 3" "/dev/pts/" "not the controlling terminal" &&
		no_word "shell-job" && target_intact
}

# A pipe holding plain bytes and after them a packet (O_DIRECT set on its
# write end in between): restore could not write them apart again (a
# packet joins a plain buffer with room), refused naming pid, fd and why.
case_pipe_mixed() {
	target_up "$BUILD/bad-input/pipe_mixed" || return 1
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 5" "packets" "plain bytes before a packet" && target_intact
}

# A dump of pipe_packets whose first packet claims 127 bytes, more than
# the pipe holds with the others: restore refuses naming files.img and the
# pipe, before making anything.
case_pipe_packets_damaged() {
	local k

	target_up "$BUILD/static/pipe_packets" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	k=$("$LMPROC" show "$RD/img" 2>/dev/null |
		awk '/"files.img"/ { in_files = 1 } in_files && /"type": "FD_/ { n++ }
			in_files && /"packet_lens"/ { print n - 1; exit }')
	if [ -z "$k" ] || ! "$BUILD/tools/imgmangle" max "$RD/img/files.img" "$k:4.3.140#0" >/dev/null ||
		! "$BUILD/tools/imgmangle" reseal "$RD/img/files.img"; then
		REASON="no packets to damage in files.img"
		return 1
	fi
	bad_lmproc restore -D "$RD/img" -d
	refused $? "files.img" "pipe 1 holding 10100 bytes" "packets claim 10224" &&
		no_process "$TPID"
}

# A socket whose owner for signal-driven I/O (F_SETOWN) is the target's
# parent: refused naming pid, fd, the owner and why.
case_fown_outside() {
	target_up "$BUILD/bad-input/fown_outside" || return 1
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 7" "process $(ps -o ppid= -p "$TPID" | tr -d ' ')" \
		"outside the dumped tree" && target_intact
}

# A socket of the root whose owner is a thread of its child, which does
# not hold the socket: refused naming pid, fd, the thread and why.
case_fown_thread_other() {
	local child tid

	target_up "$BUILD/bad-input/fown_thread_other" || return 1
	read -r child <"$DD/child.pid" || { REASON="no child pid"; return 1; }
	tid=$(ls "/proc/$child/task" | grep -vx "$child" | head -1)
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "fd 7" "thread $tid" "does not hold the file" && target_intact
}

# A root and its child sharing one fd table (CLONE_FILES without
# CLONE_THREAD): refused naming both pids and the fd table.
case_fd_table_shared() {
	local child

	target_up "$BUILD/bad-input/fd_table_shared" || return 1
	read -r child <"$DD/child.pid" || { REASON="no child pid"; return 1; }
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "pid $child" "fd table" && target_intact
}

# A child whose main thread exited (pthread_exit) while another runs:
# /proc calls it a zombie, but it is not one to restore as such (it was
# dumped as one, its running thread lost).  Refused naming its pid and
# why; the target runs on.
case_zombie_leader() {
	local child

	target_up "$BUILD/bad-input/zombie_leader" || return 1
	read -r child <"$DD/child.pid" || { REASON="no child pid"; return 1; }
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $child" "exited its main thread" && target_intact
}

# A POSIX message queue (its fd links to "/NAME" of the mqueue file
# system): refused naming fd 5 and the kind, not as a path gone.
case_mqueue_fd() {
	target_up "$BUILD/bad-input/mqueue_fd" || return 1
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 5" "a POSIX message queue" && no_word "path" && target_intact
}

# A file unlinked by one name while another hard link remains: refused
# naming fd 5 and the remaining link, not as a deleted file of another
# type.
case_link_remaining() {
	target_up "$BUILD/bad-input/link_remaining" || return 1
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 5" "1 other hard links" && no_word "only deleted" && target_intact
}

# A thread of the target waits in vfork() for its child, which runs in
# the target's memory: refused at once, naming both pids and vfork (a
# seize would wait its 10 s for a stop that never comes: 8 s bounds the
# refusal loosely, well under that).
case_vfork_waiting() {
	local child st t0 t1

	target_up "$BUILD/bad-input/vfork_waiting" || return 1
	child=$(cat /proc/"$TPID"/task/*/children 2>/dev/null | tr -s ' ' '\n' | head -n 1)
	[ -n "$child" ] || { REASON="no vfork child of $TPID"; return 1; }
	mkdir -p "$RD/img"
	t0=$(date +%s%N)
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	st=$?
	t1=$(date +%s%N)
	refused "$st" "pid $TPID" "$child" "vfork()" || return 1
	if [ $(((t1 - t0) / 1000000)) -ge 8000 ]; then
		REASON="refused after $(((t1 - t0) / 1000000)) ms, not at once"
		return 1
	fi
	target_intact
}

# A FIFO whose pipe still holds bytes when the restore would refill it:
# fd_fifo dumped -R and restored --pidns while it runs (as a migration's
# frozen source on the same host holds it): refused naming the FIFO and
# the bytes there, not refilled after them (the copy read both before);
# the original runs on unchanged and passes.
case_fifo_held() {
	local st

	target_up "$BUILD/static/fd_fifo" setsid || return 1
	mkdir -p "$RD/img"
	if ! bad_lmproc dump -t "$TPID" -D "$RD/img" -R; then
		REASON="dump -R failed: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	bad_lmproc restore -D "$RD/img" --pidns -d
	st=$?
	ERRORS_ONLY=1 refused "$st" "pid $TPID" "fd 3" "FIFO $DD/fifo-a" \
		"holds 5000 bytes already" || return 1
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="target changed: $REASON"
		return 1
	fi
	finish_original "$TPID"
}

run_refusal_bad_input() {
	bad_case io-uring-fd case_io_uring_fd
	bad_case io-uring-mapping case_io_uring_map
	bad_case io-uring-files case_io_uring_files
	bad_case io-uring-nofd case_io_uring_nofd
	bad_case io-uring-evfd case_io_uring_evfd
	bad_case io-uring-damaged case_io_uring_damaged
	bad_case io-uring-thread case_io_uring_thread
	bad_case timer-thread-cpu-clock case_timer_thread_clock
	bad_case timer-process-cpu-clock case_timer_process_clock
	bad_case aio-ring-dontdump case_aio_ring_dontdump
	bad_case aio-forked case_aio_forked
	bad_case aio-ring-damaged case_aio_ring_damaged
	bad_case mapped-file-mtime-changed case_mapped_file_mtime
	bad_case tty-passed-in case_tty_passed_in
	bad_case pipe-plain-before-packet case_pipe_mixed
	bad_case pipe-packets-damaged case_pipe_packets_damaged
	bad_case fown-outside case_fown_outside
	bad_case fown-thread-other case_fown_thread_other
	bad_case fd-table-shared case_fd_table_shared
	bad_case zombie-leader case_zombie_leader
	bad_case mqueue-fd case_mqueue_fd
	bad_case link-remaining case_link_remaining
	bad_case vfork-waiting case_vfork_waiting
	bad_case fifo-held case_fifo_held
}
