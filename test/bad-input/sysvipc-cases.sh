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

# case_sysvipc_own_ns: a target in an IPC namespace of its own (unshare
# --ipc) that holds a semaphore set is dumped and restored with it: the
# set has its id, key and values there, and the target passes.
case_sysvipc_own_ns() {
	target_up "$BUILD/static/sysv_sem" unshare --ipc || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	restored_passes "$RD/img"
}

# The ids sysv_ipcns gives its objects in its own namespace, by the
# /proc/sysvipc file that lists them.
IPCNS_IDS="sem 57
msg 33
shm 21
shm 22
shm 23"

# case_sysvipc_own_ns_fault POINT: sysv_ipcns (its objects in an IPC
# namespace of its own) dumped with -R; a restore that fails at POINT,
# run by an lmproc whose own IPC namespace holds objects with the very
# same ids, leaves no process and every one of lmproc's objects (the
# tree's went with its namespace); the images still restore.
case_sysvipc_own_ns_fault() {
	local st

	target_up "$BUILD/static/sysv_ipcns" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump -R" dump -t "$TPID" -D "$RD/img" -R || return 1
	finish_original "$TPID" || return 1
	# shellcheck disable=SC2016
	IDS=$IPCNS_IDS LMPROC_FAULT=$1 timeout -k 5 "$LM_TIMEOUT" unshare --ipc bash -c '
		k=/proc/sys/kernel
		echo 57 >$k/sem_next_id && ipcmk -S 1 >/dev/null &&
		echo 33 >$k/msg_next_id && ipcmk -Q >/dev/null || exit 90
		for id in 21 22 23; do
			echo $id >$k/shm_next_id && ipcmk -M 4096 >/dev/null || exit 90
		done
		"$0" restore -D "$1" -d
		st=$?
		while read -r kind id; do
			awk -v id="$id" '"'"'$2 == id { f = 1 } END { exit !f }'"'"' \
				"/proc/sysvipc/$kind" || { echo "lost $kind $id" >&2; exit 91; }
		done <<<"$IDS"
		exit $st' "$LMPROC" "$RD/img" >"$RD/bad.out" 2>"$RD/bad.err"
	st=$?
	if [ "$st" = 90 ] || [ "$st" = 91 ]; then
		REASON="lmproc's own objects: $(tail -n 1 "$RD/bad.err")"
		return 1
	fi
	ERRORS_ONLY=1 refused "$st" || { kill_ours "$TPID"; return 1; }
	no_process "$TPID" || return 1
	if ! restored_passes "$RD/img"; then
		REASON="restore after the failed one: $REASON"
		return 1
	fi
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

# A dump of sysv_ipcns (its own IPC namespace) whose sysvipc.img is
# damaged in its third entry, the unattached segment: no size (its bytes
# beyond it), a mode beyond 0777.
run_sysvipc_ipcns_image_cases() {
	local pristine pid snap out

	bad_case make-sysvipc-ipcns-images shmem_dumped_target sysv_ipcns || return
	pristine=$RD/img
	pid=$TPID
	snap=$TSNAP
	out=$TOUT
	IMG_WHY="segment 22 of 0 bytes" bad_case sysvipc-shm-bad-size case_image \
		"$pristine" "$pid" sysvipc.img xor 2:130.2 8192
	IMG_WHY="shared memory segment id 22, mode 037777" bad_case sysvipc-shm-bad-mode \
		case_image "$pristine" "$pid" sysvipc.img max 2:130.1.3
	bad_case sysvipc-ipcns-pristine-images-restore pristine_restore "$pristine" "$pid" \
		"$snap" "$out"
}

# sysvipc_pid IMGDIR FIELD: FIELD ("lspid", "lrpid") of the first queue in
# sysvipc.img (sysv_pids': B's and A's pids).
sysvipc_pid() {
	"$LMPROC" show "$1" | awk -v f="\"$2\":" '
		/"sysvipc.img"/ { on = 1 }
		on && $1 == f { gsub(/[^0-9]/, "", $2); print $2; exit }'
}

# pidns_queue_pids HOST ID: "lspid lrpid" of queue ID as the tree of root
# HOST reads them (/proc/sysvipc gives the pids of its reader's pid
# namespace).
pidns_queue_pids() {
	nsenter -t "$1" -i -p cat /proc/sysvipc/msg |
		awk -v id="$2" '$2 == id { print $6, $7 }'
}

# case_sysvipc_unseen: sysv_pids' first queue, as if a process its pid
# namespace does not see had sent last (msg_lspid 0 in sysvipc.img: the
# same varint, non-canonical): a restore into lmproc's pid namespace is
# refused, naming the queue, the field and --pidns; restore --pidns makes
# it so (lmproc sends), and the tree reads lspid 0 and its lrpid.
case_sysvipc_unseen() {
	local ls lr host got

	shmem_dumped_target sysv_pids || return 1
	ls=$(sysvipc_pid "$RD/img" lspid)
	lr=$(sysvipc_pid "$RD/img" lrpid)
	if [ -z "$ls" ] || [ -z "$lr" ]; then
		REASON="sysvipc.img of sysv_pids names no lspid/lrpid: '$ls' '$lr'"
		return 1
	fi
	if ! "$BUILD/tools/imgmangle" xor "$RD/img/sysvipc.img" 1:2.141 "$ls" \
		>"$RD/mangle.out" 2>&1 || ! "$BUILD/tools/imgmangle" reseal "$RD/img/sysvipc.img"; then
		REASON="imgmangle: $(head -n 1 "$RD/mangle.out")"
		return 1
	fi
	bad_lmproc restore -D "$RD/img" -d
	refused $? "message queue" "msg_lspid" "--pidns" || return 1
	no_process "$TPID" || return 1
	must_lm restore "restore --pidns" restore -D "$RD/img" --pidns -d || return 1
	host=$(sed -n 's/.*its root pid [0-9]* is pid \([0-9]*\) here.*/\1/p' "$RD/restore.log")
	PIDNS_INIT=$(ps -o ppid= -p "$host" | tr -d ' ')
	got=$(pidns_queue_pids "$host" 0)
	[ -n "$PIDNS_INIT" ] && kill -KILL "$PIDNS_INIT" 2>/dev/null
	kill_leftovers
	if [ "$got" != "0 $lr" ]; then
		REASON="restore --pidns: the tree reads lspid and lrpid '$got', not '0 $lr'"
		return 1
	fi
}

# A dump of sysv_pids whose first queue's msg_lrpid is 1, the init of
# the namespace the tree is restored into: refused as damage.
run_sysvipc_pids_image_cases() {
	local pristine pid snap out lr

	bad_case make-sysvipc-pids-images shmem_dumped_target sysv_pids || return
	pristine=$RD/img
	pid=$TPID
	snap=$TSNAP
	out=$TOUT
	lr=$(sysvipc_pid "$pristine" lrpid)
	IMG_WHY="msg_lrpid is pid 1" bad_case sysvipc-lrpid-1 case_image "$pristine" "$pid" \
		sysvipc.img xor 1:2.142 $((lr ^ 1))
	bad_case sysvipc-pids-pristine-images-restore pristine_restore "$pristine" "$pid" \
		"$snap" "$out"
}

run_sysvipc_bad_input() {
	CASE_KIND=state bad_case sysvipc-sem-removed case_sysvipc_removed sysv_sem
	CASE_KIND=state bad_case sysvipc-msg-removed case_sysvipc_removed sysv_msg
	CASE_KIND=state bad_case sysvipc-own-ipc-ns case_sysvipc_own_ns
	bad_case fault-sysvipc-ipcns-before-fork case_sysvipc_own_ns_fault restore-before-fork
	bad_case fault-sysvipc-ipcns-in-restorer case_sysvipc_own_ns_fault restore-in-restorer
	bad_case fault-sysvipc-restore-before-fork case_sysvipc_restore_fault restore-before-fork
	bad_case fault-sysvipc-restore-in-restorer case_sysvipc_restore_fault restore-in-restorer
	CASE_KIND=state bad_case sysvipc-pids-pidns case_pidns "$BUILD/static/sysv_pids"
	CASE_KIND=state bad_case sysvipc-pids-pidns-again case_pidns_again \
		"$BUILD/static/sysv_pids"
	bad_case sysvipc-lspid-unseen case_sysvipc_unseen
	run_sysvipc_image_cases
	run_sysvipc_ipcns_image_cases
	run_sysvipc_pids_image_cases
}
