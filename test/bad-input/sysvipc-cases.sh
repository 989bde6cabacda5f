# shellcheck shell=bash
# Bad-input and state cases of SysV semaphores and message queues, for
# test/bad-input/cases.sh (sourced after it; uses its bad_case, target_up,
# refused, target_intact, case_image, restored_passes).

# sysvipc_ids IMGDIR: "-s ID" or "-q ID" for every object in sysvipc.img.
sysvipc_ids() {
	"$LMPROC" show "$1" | awk '
		/"sysvipc.img"/ { on = 1 }
		on && /"sem": \{/ { k = "-s" }
		on && /"msg": \{/ { k = "-q" }
		on && /"id":/ { gsub(/[^0-9]/, ""); print k, $0 }
		on && /^  "[a-z-]+\.img"/ && !/sysvipc/ { exit }'
}

# case_sysvipc_removed BIN: the objects of a dumped (killed) target are
# removed with ipcrm before the restore: it makes them again from the
# images, and the restored target finds them with their ids, keys, values
# and messages.
case_sysvipc_removed() {
	local st ids

	target_up "$BUILD/static/$1" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	ids=$(sysvipc_ids "$RD/img")
	if [ "$(wc -l <<<"$ids")" != 2 ]; then
		REASON="sysvipc.img does not hold the 2 objects of $1: '$ids'"
		return 1
	fi
	while read -r kind id; do
		if ! ipcrm "$kind" "$id" 2>"$RD/ipcrm.err"; then
			REASON="ipcrm $kind $id: $(head -n 1 "$RD/ipcrm.err")"
			return 1
		fi
	done <<<"$ids"
	restored_passes "$RD/img"
}

# case_sysvipc_other_ns: a target in an IPC namespace of its own that
# holds semaphore sets is refused, naming the pid; it is as it was, not
# stopped, and passes its own checks (it sleeps: no CPU time to see).
case_sysvipc_other_ns() {
	target_up "$BUILD/static/sysv_sem" unshare --ipc || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" "IPC namespace" || return 1
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="target changed: $REASON"
		return 1
	fi
	case "$(proc_state "$TPID")" in
	t|T)
		REASON="target $TPID left stopped"
		return 1
		;;
	esac
	finish_original "$TPID"
}

# case_sysvipc_restore_fault POINT: the original (dump -R) removed its
# queues when it ended; a restore that made them again and then failed at
# POINT removes them, leaves no process, and the images still restore.
case_sysvipc_restore_fault() {
	local st ids

	target_up "$BUILD/static/sysv_msg" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump -R" dump -t "$TPID" -D "$RD/img" -R || return 1
	finish_original "$TPID" || return 1
	ids=$(sysvipc_ids "$RD/img")
	LMPROC_FAULT=$1 bad_lmproc restore -D "$RD/img" -d
	ERRORS_ONLY=1 refused $? || { kill_ours "$TPID"; return 1; }
	no_process "$TPID" || return 1
	while read -r kind id; do
		if ipcs "$kind" | awk -v id="$id" '$2 == id { f = 1 } END { exit !f }'; then
			REASON="the failed restore left SysV object $kind $id behind"
			return 1
		fi
	done <<<"$ids"
	if ! restored_passes "$RD/img"; then
		REASON="restore after the failed one: $REASON"
		return 1
	fi
}

# A dump of sysv_sem whose sysvipc.img is damaged (the first entry is a
# semaphore set).
run_sysvipc_image_cases() {
	local pristine pid snap out

	bad_case make-sysvipc-images shmem_dumped_target sysv_sem || return
	pristine=$RD/img
	pid=$TPID
	snap=$TSNAP
	out=$TOUT
	bad_case sysvipc-cut case_image "$pristine" "$pid" sysvipc.img cut
	bad_case sysvipc-flip case_image "$pristine" "$pid" sysvipc.img tag
	bad_case sysvipc-bad-nsems case_image "$pristine" "$pid" sysvipc.img max 1.2
	bad_case sysvipc-bad-mode case_image "$pristine" "$pid" sysvipc.img max 1.1.3
	bad_case sysvipc-bad-owner case_image "$pristine" "$pid" sysvipc.img max 1.4
	bad_case sysvipc-pristine-images-restore pristine_restore "$pristine" "$pid" "$snap" "$out"
}

run_sysvipc_bad_input() {
	CASE_KIND=state bad_case sysvipc-sem-removed case_sysvipc_removed sysv_sem
	CASE_KIND=state bad_case sysvipc-msg-removed case_sysvipc_removed sysv_msg
	bad_case sysvipc-other-ipc-ns case_sysvipc_other_ns
	bad_case fault-sysvipc-restore-before-fork case_sysvipc_restore_fault restore-before-fork
	bad_case fault-sysvipc-restore-in-restorer case_sysvipc_restore_fault restore-in-restorer
	run_sysvipc_image_cases
}
