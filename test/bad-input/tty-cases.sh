# shellcheck shell=bash
# Terminal cases, for test/bad-input/cases.sh (sourced after it; uses its
# bad_case, target_up, refused, target_intact, restored_passes).  The
# shell-job cases run the target and lmproc on ptys of their own
# (build/test/tools/ptyrun), as a shell in a terminal would.

# case_pty_queued: a pty pair with bytes queued both ways is refused,
# naming the pid, the fd and why; the bytes are still there.
case_pty_queued() {
	target_up "$BUILD/bad-input/pty_queued" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 6" queued && target_intact
}

# case_pty_split: a pty whose master and slave are held by two processes
# of the tree, with a byte the slave's process wrote still queued at the
# master, is refused, with --shell-job too, naming the master's process,
# its fd and why; the tree runs on, the byte is still there and the pty
# still carries bytes.
case_pty_split() {
	target_up "$BUILD/bad-input/pty_split" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img" -j
	refused $? "$TPID" "fd 3" "queued" || return 1
	target_intact
}

# case_pty_ctty_nofd: a pty of the tree that is the controlling terminal
# of a session whose leader holds no fd of it (only the leader's child
# does) is refused naming the master's process, the session and why; the
# tree runs on and the pty still carries bytes.
case_pty_ctty_nofd() {
	local child

	target_up "$BUILD/bad-input/pty_ctty_nofd" || return 1
	child=$(tr -d ' ' <"/proc/$TPID/task/$TPID/children" 2>/dev/null)
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "session $child" "holds no fd" || return 1
	target_intact
}

# case_pty_dev_tty: a shell under tmux: C, whose session's controlling
# terminal is a pty of the tree (the root holds its master), has /dev/tty
# open at fd 10.  It is dumped and restored: after SIGTERM C reads through
# /dev/tty what the master writes.
case_pty_dev_tty() {
	target_up "$BUILD/bad-input/pty_dev_tty" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	restored_passes "$RD/img"
}

# case_pty_dev_tty_left: C's child D left C's session (setsid) keeping
# C's /dev/tty at fd 10: it stands for no terminal of D's, which a restore
# can't make again.  The dump is refused, with --shell-job too, naming the file, D and
# why; the tree runs on and C still reads through /dev/tty.
case_pty_dev_tty_left() {
	local child d

	target_up "$BUILD/bad-input/pty_dev_tty" env PTY_DEV_TTY_LEFT=1 || return 1
	child=$(tr -d ' ' <"/proc/$TPID/task/$TPID/children" 2>/dev/null)
	d=$(tr -d ' ' <"/proc/$child/task/$child/children" 2>/dev/null)
	mkdir -p "$RD/img"
	# The images' check refuses it, which a pre-dump does not run.
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "/dev/tty" "pid $d fd 10" "another session" || return 1
	bad_lmproc dump -t "$TPID" -D "$RD/img" -j
	refused $? "/dev/tty" "pid $d fd 10" "another session" || return 1
	target_intact
}

# case_pty_dev_tty_passed: C passed its /dev/tty to the root (fd 11),
# which is not in C's session and is dumped first: refused, with
# --shell-job too (which would make it lmproc's terminal for C as well),
# naming the root, fd 11 and C; the tree runs on.
case_pty_dev_tty_passed() {
	local child

	target_up "$BUILD/bad-input/pty_dev_tty" env PTY_DEV_TTY_PASSED=1 || return 1
	child=$(tr -d ' ' <"/proc/$TPID/task/$TPID/children" 2>/dev/null)
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID fd 11" "/dev/tty" "pid $child" "no terminal" || return 1
	bad_dump -t "$TPID" -D "$RD/img" -j
	refused $? "pid $TPID fd 11" "/dev/tty" "pid $child" "no terminal" || return 1
	target_intact
}

# case_shell_job: a job of a shell in a terminal (ptyrun) holds that
# terminal at fds 3 and 4.  A dump without --shell-job is refused naming
# the pid, the fd and the option, and the job runs on; a dump with it
# works; a restore without it is refused the same way; a restore with it,
# run in another terminal, puts that terminal at fds 3 and 4 (one open
# file description), and what the job writes there shows up in it.
case_shell_job() {
	local st prun

	target_up "$BUILD/bad-input/tty_job" "$BUILD/tools/ptyrun" "$RD/pty-dump.out" ||
		return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "fd 3" "--shell-job" || return 1
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="target changed by the refused dump: $REASON"
		return 1
	fi
	must_lm dump "dump -j" dump -t "$TPID" -D "$RD/img" -j || return 1
	reap_dumped "$TPID" || return 1
	bad_lmproc restore -D "$RD/img" -d
	refused $? "$TPID" "fd 3" "--shell-job" || { kill_ours "$TPID"; return 1; }
	no_process "$TPID" || return 1
	"$BUILD/tools/ptyrun" "$RD/pty-restore.out" "$LMPROC" restore -D "$RD/img" -d -j &
	prun=$!
	if ! wait_until 10000 file_ready "$RD/pty-restore.out.status"; then
		REASON="restore -j under ptyrun did not end in 10 s"
		return 1
	fi
	if [ "$(cat "$RD/pty-restore.out.status")" != 0 ]; then
		REASON="restore -d -j failed: $(head -n 2 "$RD/pty-restore.out" | tr -d '\r')"
		return 1
	fi
	if ! alive "$TPID"; then
		REASON="restore -d -j succeeded but pid $TPID is not running"
		return 1
	fi
	kill -TERM "$TPID"
	if ! wait_until 10000 file_ready "$TOUT"; then
		REASON="restored pid $TPID gave no verdict"
		return 1
	fi
	check_verdict || return 1
	wait "$prun"
	if ! grep -q "tty_job says bye" "$RD/pty-restore.out"; then
		REASON="the restored job's words did not reach lmproc's terminal"
		return 1
	fi
}

# case_shell_job_child: a shell job whose terminal only the root's child
# holds (fd 3), dumped with --shell-job: a restore without it is refused
# naming the child and its fd, not the root.
case_shell_job_child() {
	local child

	target_up "$BUILD/bad-input/tty_job_child" "$BUILD/tools/ptyrun" "$RD/pty-dump.out" ||
		return 1
	child=$(tr -d ' ' <"/proc/$TPID/task/$TPID/children" 2>/dev/null)
	mkdir -p "$RD/img"
	must_lm dump "dump -j" dump -t "$TPID" -D "$RD/img" -j || return 1
	reap_dumped "$TPID" || return 1
	bad_lmproc restore -D "$RD/img" -d
	refused $? "pid $child fd 3" "--shell-job" || { kill_ours "$TPID"; return 1; }
	no_process "$TPID"
}

run_tty_bad_input() {
	bad_case pty-queued case_pty_queued
	bad_case pty-split case_pty_split
	bad_case pty-ctty-nofd case_pty_ctty_nofd
	bad_case pty-dev-tty case_pty_dev_tty
	bad_case pty-dev-tty-left case_pty_dev_tty_left
	bad_case pty-dev-tty-passed case_pty_dev_tty_passed
	CASE_KIND=state bad_case shell-job case_shell_job
	CASE_KIND=state bad_case shell-job-child case_shell_job_child
}
