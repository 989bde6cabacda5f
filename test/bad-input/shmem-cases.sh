# shellcheck shell=bash
# Bad-input cases of shared memory, for test/bad-input/cases.sh (sourced
# after it; uses its bad_case, target_up, refused, target_intact,
# case_image, restored_passes).

# case_sysv_partial: a SysV segment mapped in part is refused, naming the
# pid and why; the target keeps its memory and runs on.
case_sysv_partial() {
	target_up "$BUILD/bad-input/sysv_partial" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "$TPID" SysV "in part" && target_intact
}

# sysv_key PID: the key sysv_shm gives its segment.
sysv_key() {
	printf '0x%08x' $((0x4c4d0000 | ($1 & 0xffff)))
}

# case_sysv_restore_fault POINT: the original (dump -R) removed its
# segment when it ended; a restore that created it again and then failed
# at POINT removes it, leaves no process, and the images still restore.
case_sysv_restore_fault() {
	local st key

	target_up "$BUILD/static/sysv_shm" || return 1
	key=$(sysv_key "$TPID")
	mkdir -p "$RD/img"
	must_lm dump "dump -R" dump -t "$TPID" -D "$RD/img" -R || return 1
	finish_original "$TPID" || return 1
	LMPROC_FAULT=$1 bad_lmproc restore -D "$RD/img" -d
	ERRORS_ONLY=1 refused $? || { kill_ours "$TPID"; return 1; }
	no_process "$TPID" || return 1
	if ipcs -m | grep -q "^$key "; then
		REASON="the failed restore left SysV segment key $key behind"
		return 1
	fi
	if ! restored_passes "$RD/img"; then
		REASON="restore after the failed one: $REASON"
		return 1
	fi
}

# A dump of shm_devshm (tmpfs file and memfds) whose images are damaged.
run_shmem_image_cases() {
	local pristine pid snap out

	bad_case make-shmem-images shmem_dumped_target || return
	pristine=$RD/img
	pid=$TPID
	snap=$TSNAP
	out=$TOUT
	bad_case shmem-cut case_image "$pristine" "$pid" shmem.img cut
	bad_case shmem-flip case_image "$pristine" "$pid" shmem.img tag
	bad_case shmem-bad-id case_image "$pristine" "$pid" shmem.img max 1
	bad_case shmem-pages-cut case_image "$pristine" "$pid" shmem-pages.img cut
	bad_case shmem-pristine-images-restore pristine_restore "$pristine" "$pid" "$snap" "$out"
}

# shmem_dumped_target [TEST]: TEST (shm_devshm by default) dumped.
shmem_dumped_target() {
	target_up "$BUILD/static/${1:-shm_devshm}" || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID"
}

run_shmem_bad_input() {
	bad_case sysv-partial case_sysv_partial
	bad_case fault-sysv-restore-before-fork case_sysv_restore_fault restore-before-fork
	bad_case fault-sysv-restore-in-restorer case_sysv_restore_fault restore-in-restorer
	run_shmem_image_cases
}
