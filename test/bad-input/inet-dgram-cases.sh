# shellcheck shell=bash
# UDP and UDP-Lite sockets with datagrams queued or corked
# (net/sk-udp-queue.c, net/sk-udplite.c) and raw sockets (net/sk-raw.c),
# for
# test/bad-input/cases.sh (sourced after it; uses its bad_case, target_up,
# refused, names, same_state, finish_original).

# target_asleep_intact: target_intact for a target that sleeps until its
# checks (no CPU time to see): as it was, and its checks pass.
target_asleep_intact() {
	same_state "$TPID" "$TSNAP" 1000 && finish_original "$TPID"
}

# A dump that fails after it read the queues (the fault before the
# inventory, after every image, the queues read): every datagram is back
# in its socket, in order, from its sender (the target's own checks read
# them), and none is said lost.
case_udp_queue_dump_fails() {
	local st

	target_up "$BUILD/static/sk_udp_queue" || return 1
	mkdir -p "$RD/img"
	LMPROC_FAULT=dump-before-inventory bad_lmproc dump -t "$TPID" -D "$RD/img"
	st=$?
	if [ "$st" != 1 ]; then
		REASON="the dump with a fault injected exited $st, expected 1"
		return 1
	fi
	if names "not supported"; then
		REASON="refused before the fault: $(grep -m1 Error "$RD/bad.err")"
		return 1
	fi
	if names "lost"; then
		REASON="datagrams said lost: $(grep -m1 lost "$RD/bad.err")"
		return 1
	fi
	target_asleep_intact
}

# IP_PKTINFO on a socket with datagrams queued: a reader would get each
# one's destination, which a datagram put back can't keep: refused naming
# the pid, fd, address and option, the queue left as it was.
case_udp_queue_pktinfo() {
	local st

	SK_UDP_PKTINFO=1 target_up "$BUILD/static/sk_udp_queue" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	st=$?
	refused "$st" "pid $TPID" "(UDP socket 127.0.0.1:" "datagrams queued" IP_PKTINFO &&
		target_asleep_intact
}

# A connected UDP socket holding a datagram from another sender than its
# peer (queued before its connect()): it could not be put back into the
# running socket: refused naming the pid, fd, address and why, before
# anything is read.
case_udp_queue_foreign() {
	local st

	SK_UDP_FOREIGN=1 target_up "$BUILD/static/sk_udp_queue" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	st=$?
	refused "$st" "pid $TPID" "(UDP socket 127.0.0.1:" "datagrams queued" \
		"another sender than the connected peer" && target_asleep_intact
}

# A connected UDP socket whose ICMP error is pending: only a read shows
# it, and takes it: refused naming the pid, the socket and why, the error
# still pending (the target's recv() gets it).
case_udp_error_pending() {
	local st

	SK_UDP_ERROR=1 target_up "$BUILD/static/sk_udp_queue" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	st=$?
	refused "$st" "pid $TPID" "(UDP socket 127.0.0.1:" "a pending error" &&
		target_asleep_intact
}

# The images of a dump -R whose first queued datagram's sender port is
# out of range (imgmangle max on the port, an ephemeral one of 3 varint
# bytes: 2097151, resealed): the restore refuses files.img naming the
# datagram before anything is made.
case_udp_queue_bad_image() {
	local rec st

	target_up "$BUILD/static/sk_udp_queue" || return 1
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img" -R || { REASON="dump -R failed"; return 1; }
	# The record of the first socket with datagrams (records are in id order).
	rec=$("$LMPROC" show "$RD/img/files.img" | awk '/"id": / { n++ }
		/"dgrams": \[$/ { print n - 1; exit }')
	if [ -z "$rec" ] ||
	   ! "$BUILD/tools/imgmangle" max "$RD/img/files.img" "$rec:15.40#0.2" >"$RD/mangle.out" 2>&1 ||
	   ! "$BUILD/tools/imgmangle" reseal "$RD/img/files.img"; then
		REASON="can't damage files.img (record ${rec:-none}): $(head -n 1 "$RD/mangle.out")"
		return 1
	fi
	bad_lmproc restore -D "$RD/img" -d
	st=$?
	refused "$st" files.img "UDP socket" "datagram's sender or size out of range" &&
		target_asleep_intact
}

# A raw socket of protocol UDP holding a copy of a datagram: nothing puts
# a packet back into a raw socket's queue: refused naming the pid, fd,
# the socket in words and why, the packet left where it was (the
# target, in a namespace of its own, runs on).
case_raw_queued() {
	local st

	SK_RAW_QUEUED=1 target_up "$BUILD/static/sk_raw_icmp" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	st=$?
	refused "$st" "pid $TPID" "fd 7" "raw IPv4 socket of protocol 17 127.0.0.1" \
		"packets queued" && target_asleep_intact
}

# A UDP-Lite socket holding a corked datagram (UDP_CORK, sent before the
# checkpoint): no call reads it back: refused naming the pid, fd, the
# socket in words and why, the datagram still corked (the target's
# uncork sends it, before what it sends after).
case_udplite_corked() {
	local st

	SK_UDPLITE_PENDING=1 target_up "$BUILD/static/sk_udplite" || return 1
	mkdir -p "$RD/img"
	bad_dump -t "$TPID" -D "$RD/img"
	st=$?
	refused "$st" "pid $TPID" "fd 8" "(UDP-Lite socket 127.0.0.1:" "corked" \
		"waiting to be sent" UDP_CORK && target_asleep_intact
}

# The images of a dump -R whose UDP-Lite socket requires a coverage of 3
# (its 12 xor 15: the kernel makes anything from 1 to 7 at least 8;
# resealed): the restore refuses files.img naming the socket before
# anything is made.
case_udplite_bad_image() {
	local rec st

	target_up "$BUILD/static/sk_udplite" || return 1
	mkdir -p "$RD/img"
	bad_lmproc dump -t "$TPID" -D "$RD/img" -R || { REASON="dump -R failed"; return 1; }
	rec=$("$LMPROC" show "$RD/img/files.img" | awk '/"id": / { n++ }
		/"udplite_recv_cscov": 12$/ { print n - 1; exit }')
	if [ -z "$rec" ] ||
	   ! "$BUILD/tools/imgmangle" xor "$RD/img/files.img" "$rec:15.161" 15 >"$RD/mangle.out" 2>&1 ||
	   ! "$BUILD/tools/imgmangle" reseal "$RD/img/files.img"; then
		REASON="can't damage files.img (record ${rec:-none}): $(head -n 1 "$RD/mangle.out")"
		return 1
	fi
	bad_lmproc restore -D "$RD/img" -d
	st=$?
	refused "$st" files.img "UDP-Lite socket file id" "checksum coverage out of range" &&
		target_asleep_intact
}

run_inet_dgram_bad_input() {
	bad_case udp-queue-dump-fails case_udp_queue_dump_fails
	bad_case udp-queue-pktinfo case_udp_queue_pktinfo
	bad_case udp-queue-foreign case_udp_queue_foreign
	bad_case udp-error-pending case_udp_error_pending
	bad_case udp-queue-bad-image case_udp_queue_bad_image
	bad_case raw-queued case_raw_queued
	bad_case udplite-corked case_udplite_corked
	bad_case udplite-bad-image case_udplite_bad_image
}
