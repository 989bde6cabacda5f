# shellcheck shell=bash
# Bad-input cases of the dumping CPU recorded in inventory.img (cpu_entry,
# field 20) and of `lmproc check -D`, for test/bad-input/cases.sh (sourced
# after it; uses its bad_case, dumped_target, bad_lmproc, refused,
# no_process, term_verdict).  The images of one dump are copied and their
# CPU record edited (imgmangle xor, resealed) to claim what this host
# lacks.  And the same check at serve on migrate's HELLO (uses
# migrate-cases.sh's mig_case, serve_up, mig, serve_says, send_raw).

# Leaf 7 ebx features, BIT:NAME, one of which this host lacks.
CPU_LEAF7_EBX="16:avx512f 17:avx512dq 28:avx512cd 30:avx512bw 31:avx512vl 21:avx512ifma
14:mpx 4:hle 11:rtm"

# cpu_missing_feature: "BIT NAME" of a leaf 7 ebx feature /proc/cpuinfo
# does not list.
cpu_missing_feature() {
	local flags f

	flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
	for f in $CPU_LEAF7_EBX; do
		if [[ "$flags" != *" ${f#*:} "* ]]; then
			echo "${f%%:*} ${f#*:}"
			return 0
		fi
	done
	return 1
}

# cpu_images PRISTINE PATH MASK: RD/img, a copy of PRISTINE whose
# inventory's cpu field PATH is xor'ed with MASK.
cpu_images() {
	rm -rf "$RD/img"
	cp -a "$1" "$RD/img"
	if ! "$BUILD/tools/imgmangle" xor "$RD/img/inventory.img" "$2" "$3" \
		>"$RD/mangle.out" 2>&1 ||
		! "$BUILD/tools/imgmangle" reseal "$RD/img/inventory.img" >>"$RD/mangle.out" 2>&1; then
		REASON="imgmangle xor inventory.img $2 $3: $(head -n 1 "$RD/mangle.out")"
		return 1
	fi
}

# check_dir_says STATUS LINE WORD...: the last bad_lmproc (check -D)
# exited STATUS, with its line LINE (ok or FAIL) naming every WORD, and
# nothing on stderr.
check_dir_says() {
	local st=$1 want=$2 line w

	shift 2
	if [ "$st" != "${want%% *}" ]; then
		REASON="check -D exited $st: $(grep -m1 FAIL "$RD/bad.out" | cut -c1-200)"
		return 1
	fi
	line=$(grep -m1 -E "^${want#* } " "$RD/bad.out")
	if [ -z "$line" ]; then
		REASON="check -D printed no line '${want#* }'"
		return 1
	fi
	for w; do
		if [[ "$line" != *"$w"* ]]; then
			REASON="check -D's line does not name '$w': $(echo "$line" | cut -c1-200)"
			return 1
		fi
	done
	if [ -s "$RD/bad.err" ]; then
		REASON="check -D wrote on stderr: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
}

# A good dump: every line ok, exit 0.
case_check_dir_good() {
	local n

	bad_lmproc check -D "$1"
	check_dir_says $? "0 images +ok" || return 1
	n=$(grep -cE '^[a-z]+ +ok ' "$RD/bad.out")
	if [ "$n" != 8 ] || grep -q FAIL "$RD/bad.out"; then
		REASON="check -D: $n lines ok of 8: $(grep -m1 -v ' ok ' "$RD/bad.out")"
		return 1
	fi
}

# check -D --pidns by an lmproc without CAP_SYS_ADMIN (capsh takes it
# from the bounding set): the kernel line fails naming it and --pidns.
case_check_dir_pidns_no_admin() {
	# shellcheck disable=SC2016 # expanded by capsh's shell
	timeout -k 5 "$LM_TIMEOUT" capsh --drop=cap_sys_admin -- -c \
		'exec "$0" check -D "$1" --pidns' "$LMPROC" "$1" >"$RD/bad.out" 2>"$RD/bad.err"
	check_dir_says $? "1 kernel +FAIL" CAP_SYS_ADMIN --pidns
}

# The dump's CPU had a feature this one lacks: restore refuses naming it
# and the root's pid, check -D fails its cpu line naming it.
case_cpu_feature_missing() {
	local pristine=$1 pid=$2 bit name

	if ! read -r bit name < <(cpu_missing_feature); then
		REASON="this CPU has every feature of: $CPU_LEAF7_EBX"
		return 2
	fi
	cpu_images "$pristine" 20.3 $((1 << bit)) || return 1
	bad_lmproc restore -D "$RD/img" -d
	refused $? "$pid" "$name" || { kill_ours "$pid"; return 1; }
	no_process "$pid" || return 1
	bad_lmproc check -D "$RD/img"
	check_dir_says $? "1 cpu +FAIL" "$name"
}

# A bit this lmproc has no name for is named by leaf, register and bit.
case_cpu_unknown_bit() {
	local pristine=$1 pid=$2

	cpu_images "$pristine" 20.5 1 || return 1
	bad_lmproc restore -D "$RD/img" -d
	refused $? "$pid" "cpuid leaf 7 edx bit 0" || { kill_ours "$pid"; return 1; }
	no_process "$pid" || return 1
	bad_lmproc check -D "$RD/img"
	check_dir_says $? "1 cpu +FAIL" "cpuid leaf 7 edx bit 0"
}

# An xsave component this CPU's XCR0 lacks (AMX tile data, bit 18, or MPX
# bounds, bit 3) refuses even --cpu-cap fpu; --cpu-cap ins does not look.
case_cpu_xsave_component() {
	local pristine=$1 pid=$2 xcr0 bit name=

	xcr0=$("$LMPROC" check --feature xsave | sed -n 's/.*XCR0 \(0x[0-9a-f]*\).*/\1/p')
	for bit in 18:amx_tiledata 3:mpx_bndregs; do
		if ! (((${xcr0:-0} >> ${bit%%:*}) & 1)); then
			name=${bit#*:}
			bit=${bit%%:*}
			break
		fi
	done
	if [ -z "$name" ]; then
		REASON="this CPU enables AMX and MPX (XCR0 $xcr0)"
		return 2
	fi
	cpu_images "$pristine" 20.10 $((1 << bit)) || return 1
	bad_lmproc restore -D "$RD/img" -d --cpu-cap fpu
	refused $? "$pid" "$name" || { kill_ours "$pid"; return 1; }
	no_process "$pid" || return 1
	bad_lmproc check -D "$RD/img"
	check_dir_says $? "1 cpu +FAIL" "$name" || return 1
	bad_lmproc check -D "$RD/img" --cpu-cap ins
	check_dir_says $? "0 cpu +ok"
}

# A record that can't be (XCR0 without x87) is an invalid image.
case_cpu_record_invalid() {
	local pristine=$1 pid=$2

	cpu_images "$pristine" 20.10 1 || return 1
	bad_lmproc restore -D "$RD/img" -d --cpu-cap none
	refused $? inventory.img x87 || { kill_ours "$pid"; return 1; }
	no_process "$pid" || return 1
	bad_lmproc check -D "$RD/img"
	check_dir_says $? "1 images +FAIL" inventory.img x87
}

# Images of a newer format: check -D says so.
case_check_dir_newer() {
	rm -rf "$RD/img"
	cp -a "$1" "$RD/img"
	"$BUILD/tools/imgmangle" max "$RD/img/inventory.img" 1 >/dev/null || return 1
	"$BUILD/tools/imgmangle" reseal "$RD/img/inventory.img" || return 1
	bad_lmproc check -D "$RD/img"
	check_dir_says $? "1 images +FAIL" "version 127" newer
}

# --cpu-cap none restores the images of case_cpu_feature_missing, warned.
case_cpu_cap_none() {
	local pristine=$1 bit name

	TPID=$2
	TSNAP=$3
	TOUT=$4
	if ! read -r bit name < <(cpu_missing_feature); then
		REASON="this CPU has every feature of: $CPU_LEAF7_EBX"
		return 2
	fi
	cpu_images "$pristine" 20.3 $((1 << bit)) || return 1
	must_lm restore "restore -d --cpu-cap none" restore -D "$RD/img" -d --cpu-cap none ||
		return 1
	if ! grep -q -- "--cpu-cap none: the CPU is not checked" "$RD/restore.log"; then
		REASON="restore.log has no warning of --cpu-cap none"
		return 1
	fi
	same_state "$TPID" "$TSNAP" 3000 || return 1
	term_verdict
}

# check -D's ports, in a network namespace of the test's own (as
# case_inet_netns): the images of sk_inet_netns bind UDP 198.18.0.99:5000;
# ok while it is free, FAIL naming it once a squatter holds it there.
case_check_dir_ports() {
	local holder st

	unshare --net sleep 600 </dev/null >/dev/null 2>&1 &
	holder=$!
	check_dir_ports_steps "$holder"
	st=$?
	[ -n "${SQUAT:-}" ] && kill "$SQUAT" 2>/dev/null && wait "$SQUAT" 2>/dev/null
	SQUAT=
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	kill_leftovers
	return "$st"
}

check_dir_ports_steps() {
	local h=$1 LMPROC=$RD/lmproc-netns

	netns_target_dumped "$h" || return 1
	bad_lmproc check -D "$RD/img"
	check_dir_says $? "0 ports +ok" || return 1
	# IP_FREEBIND (15): the address is not on lo.
	nsenter -t "$h" -n python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_IP, 15, 1)
s.bind(("198.18.0.99", 5000))
open(sys.argv[1], "w").close()
time.sleep(60)' "$RD/squat.ready" &
	SQUAT=$!
	if ! wait_until 5000 test -e "$RD/squat.ready"; then
		REASON="the squatter did not bind 198.18.0.99:5000"
		return 1
	fi
	bad_lmproc check -D "$RD/img"
	check_dir_says $? "1 ports +FAIL" "198.18.0.99:5000" "pid $TPID"
}

# migrate's HELLO carries the source's CPU: a serve whose CPU lacks a
# feature of it refuses in its answer, before anything is frozen, naming
# the feature (LMPROC_FAULT=hello-cpu-unknown-bit: a bit no CPU sets); the
# target runs on untouched, and serve then takes a migration as usual.
case_migrate_cpu_refused() {
	target_up || return 1
	serve_up || return 1
	LMPROC_FAULT=hello-cpu-unknown-bit mig --tls-psk-file "$RD/psk"
	ERRORS_ONLY=1 refused $? "pid $TPID" "refused before anything was frozen" \
		"cpuid leaf 7 edx bit 0" ||
		return 1
	serve_says 1 "connection 1 from .* refused: The tree ran on a CPU with 1 feature this \
one lacks: cpuid leaf 7 edx bit 0" || return 1
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="target changed: $REASON"
		return 1
	fi
	target_runs || return 1
	mig --tls-psk-file "$RD/psk" || { REASON="the good migration failed after the bad"; return 1; }
	moved_passes 2
}

# serve --cpu-cap none takes the same migration.
case_migrate_cpu_cap_none() {
	target_up || return 1
	serve_up --tls-psk-file "$RD/psk" --cpu-cap none || return 1
	if ! LMPROC_FAULT=hello-cpu-unknown-bit mig --tls-psk-file "$RD/psk"; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	moved_passes 1
}

# A HELLO whose cpu line does not parse, or can't be: refused by serve.
case_migrate_cpu_bad_line() {
	local words="0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1"

	target_up || return 1
	serve_up --insecure || return 1
	send_raw eval "hello_frames_with 'cpu $words 0x7'"
	serve_says 1 "connection 1 from .* refused: a HELLO with a CPU record that does not \
parse" || return 1
	send_raw eval "hello_frames_with 'cpu $words 0x6 832'"
	serve_says 1 "connection 2 from .* refused: a HELLO with XCR0 0x6 lacks x87" || return 1
	send_raw eval "hello_frames_with 'cpu $words -0x7 832'"
	serve_says 1 "connection 3 from .* refused: a HELLO with a CPU record that does not \
parse" || return 1
	target_intact
}

run_cpu_bad_input() {
	local pristine pid snap out

	bad_case cpu-make-images dumped_target || return
	pristine=$RD/img
	pid=$TPID
	snap=$TSNAP
	out=$TOUT
	bad_case check-dir-good case_check_dir_good "$pristine"
	bad_case check-dir-pidns-no-admin case_check_dir_pidns_no_admin "$pristine"
	bad_case cpu-feature-missing case_cpu_feature_missing "$pristine" "$pid"
	bad_case cpu-unknown-bit case_cpu_unknown_bit "$pristine" "$pid"
	bad_case cpu-xsave-component case_cpu_xsave_component "$pristine" "$pid"
	bad_case cpu-record-invalid case_cpu_record_invalid "$pristine" "$pid"
	bad_case check-dir-newer-version case_check_dir_newer "$pristine"
	CASE_KIND=state bad_case check-dir-ports case_check_dir_ports
	bad_case cpu-cap-none-restores case_cpu_cap_none "$pristine" "$pid" "$snap" "$out"
	CASE_KIND=migrate bad_case migrate-cpu-refused mig_case case_migrate_cpu_refused
	CASE_KIND=migrate bad_case migrate-cpu-cap-none mig_case case_migrate_cpu_cap_none
	CASE_KIND=migrate bad_case migrate-cpu-bad-line mig_case case_migrate_cpu_bad_line
}
