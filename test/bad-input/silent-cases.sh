# shellcheck shell=bash
# Bad-input cases (sourced by test/run.sh) for kernel state restore can't
# give back exactly, which a dump once restored with a difference nobody
# was told about: each is refused at dump naming pid, fd or address, or
# restored exactly.

# A unix socket whose peer credentials (SO_PEERCRED) name a process
# restore does not make it in: a connection the root accepted from its
# child.  The shared files are planned at the final dump only.
case_unix_peercred() {
	target_up "$BUILD/bad-input/unix_peercred" || return 1
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "fd 8" "SO_PEERCRED" "restore makes it in pid $TPID" &&
		target_intact
}

# A socket pair whose maker exited (a child that sent it to the root):
# restored with the credentials naming that pid, which a child made with
# it lends for the socketpair() call; the root checks them after.
case_unix_peercred_dead() {
	target_up "$BUILD/bad-input/unix_peercred" env PEERCRED_DEAD=1 || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	restored_passes "$RD/img"
}

# A POSIX timer whose last signal came with an overrun count, which a
# restored timer can't have: refused naming the pid, the timer and the
# count's call (at the final dump: a pre-dump reads no timers).
case_timer_overrun() {
	local id

	target_up "$BUILD/bad-input/timer_overrun" || return 1
	read -r id <"$DD/timer.id" || { REASON="no timer id"; return 1; }
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "POSIX timer $id" "timer_getoverrun" && target_intact
}

# An AIO context with a request in flight (a poll of an empty pipe):
# refused naming pid, the ring's address and the count, after the dump
# waited for it.
case_aio_in_flight() {
	local range

	target_up "$BUILD/bad-input/aio_in_flight" || return 1
	range=$(awk '/\[aio\]/ { print $1; exit }' "/proc/$TPID/maps")
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "0x${range/-/-0x}" "an AIO ring" "requests in flight (1," &&
		target_intact
}

# A netlink socket that owns an nf_tables table (NFT_TABLE_F_OWNER): the
# kernel deletes the table with the socket; refused naming the fd and the
# table.
case_nft_owned() {
	target_up "$BUILD/bad-input/nft_owned" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	refused $? "pid $TPID" "fd 7" "NETLINK_NETFILTER" "nf_tables table lmproc_owned" \
		"NFT_TABLE_F_OWNER" && target_intact
}

run_silent_bad_input() {
	bad_case unix-peercred-child case_unix_peercred
	bad_case unix-peercred-dead case_unix_peercred_dead
	bad_case timer-overrun case_timer_overrun
	bad_case aio-in-flight case_aio_in_flight
	bad_case nft-owned case_nft_owned
}
