# shellcheck shell=bash
# Bad-input cases of multi-threaded targets, for test/bad-input/cases.sh
# (sourced after it; uses its bad_case, target_up, refused, target_intact).
# Each dump must be refused with one error line naming the pid and the
# thread, and leave every thread of the target running as before.

# case_thread_unshared_fds: a thread with an fd table of its own.
case_thread_unshared_fds() {
	local tid

	target_up "$BUILD/bad-input/thread_unshared_fds" || return 1
	read -r tid <"$DD/thread.tid"
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "$tid" "fd table" && target_intact
}

# case_thread_traced: one thread (not the main one) of the target is
# traced by another process.
case_thread_traced() {
	local tid tracer st

	target_up "$BUILD/static/threads_tls" || return 1
	tid=$(ls "/proc/$TPID/task" | grep -vx "$TPID" | head -n 1)
	"$BUILD/tools/tracer" "$tid" 2>"$RD/tracer.err" &
	tracer=$!
	if ! wait_until 5000 grep -q "^TracerPid:[[:space:]]*$tracer\$" \
		"/proc/$TPID/task/$tid/status"; then
		REASON="tools/tracer could not seize thread $tid: $(cat "$RD/tracer.err")"
		kill -KILL "$tracer" 2>/dev/null
		wait "$tracer" 2>/dev/null
		return 1
	fi
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	st=$?
	kill -KILL "$tracer"
	wait "$tracer" 2>/dev/null
	refused "$st" "$TPID" "$tid" "$tracer" && target_intact
}

# case_thread_fault POINT: a dump of a multi-threaded target failing at
# POINT (after every thread is seized, or inside the parasite) leaves all
# threads running, and a dump -R afterwards works.
case_thread_fault() {
	target_up "$BUILD/static/threads_tls" || return 1
	mkdir -p "$RD/img"
	LMPROC_FAULT=$1 bad_lmproc dump -t "$TPID" -D "$RD/img"
	ERRORS_ONLY=1 refused $? || return 1
	target_intact
}

# case_thread_restore_fault POINT: a restore of a multi-threaded dump
# failing at POINT (threads parked in the restorer, or all taken over by
# lmproc) leaves no thread behind, and the images restore afterwards.
case_thread_restore_fault() {
	target_up "$BUILD/static/threads_tls" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	LMPROC_FAULT=$1 bad_lmproc restore -D "$RD/img" -d
	ERRORS_ONLY=1 refused $? || { kill_ours "$TPID"; return 1; }
	no_process "$TPID" || return 1
	if ! restored_passes "$RD/img"; then
		REASON="restore after the failed one: $REASON"
		return 1
	fi
}

run_thread_bad_input() {
	bad_case thread-unshared-fds case_thread_unshared_fds
	bad_case thread-traced case_thread_traced
	bad_case fault-threads-after-seize case_thread_fault dump-after-seize
	bad_case fault-threads-parasite-cmd case_thread_fault parasite-cmd
	bad_case fault-threads-restore-in-restorer case_thread_restore_fault restore-in-restorer
	bad_case fault-threads-restore-before-detach case_thread_restore_fault \
		restore-before-detach
}
