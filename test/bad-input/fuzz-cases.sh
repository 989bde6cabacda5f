# The image fuzzer (sourced by test/run.sh): the pipes test (memory, pipe
# data, fds) is pre-dumped twice and dumped (RD/chain/r1..r3, each round
# after the one before), then each trial copies the chain, damages one
# image restore reads (a truncation at a random byte or at a record
# boundary, one bit, a varint grown to 10 bytes with bit 40 flipped, or the
# parent round swapped for an older one) and runs `lmproc restore -d` from
# r3.  Every image is checksummed, so every trial must be refused: exit 1
# with one error line, no signal, no timeout, no sanitizer report, no
# process with the dumped pid and no lmproc file left in /dev/shm or /tmp.
# A fixed seed (FUZZ_SEED, printed) makes the trials the same every run;
# FUZZ_TRIALS scales their number.

FUZZ_SEED=${FUZZ_SEED:-20261207}
FUZZ_TRIALS=${FUZZ_TRIALS:-250}
FUZZ_ATTEMPTS=0
FUZZ_HELD=0
FUZZ_BROKEN=0

# fuzz_chain: the chain the trials damage.
fuzz_chain() {
	target_up "$BUILD/static/fd_pipe" || return 1
	mkdir -p "$RD/chain"
	RD=$RD/chain round r1 && RD=$RD/chain round r2 r1 &&
		RD=$RD/chain final_round r3 r2
}

# fuzz_files CHAIN PID: the images restore reads, one a line ("r3/core-N.img"):
# every image of the final round but the stats, and of the rounds behind
# it inventory, pagemap and pages (restore checks the whole chain).
fuzz_files() {
	local f r

	for f in "$1"/r3/*.img; do
		case "${f##*/}" in
		stats-*) ;;
		*) echo "r3/${f##*/}" ;;
		esac
	done
	for r in r2 r1; do
		for f in inventory.img "pagemap-$2.img" "pages-$2.img"; do
			echo "$r/$f"
		done
	done
}

# fuzz_damage KIND FILE: one damage of KIND to RD/t/FILE.  RANDOM is read
# in this shell only: a subshell's is seeded anew.
fuzz_damage() {
	local size at

	size=$(stat -c %s "$RD/t/$2")
	at=$(((RANDOM << 15 | RANDOM) % size))
	case "$1" in
	cut) "$BUILD/tools/imgmangle" cutat "$RD/t/$2" "$at" ;;
	cutrec) "$BUILD/tools/imgmangle" cutrec "$RD/t/$2" "$RANDOM" ;;
	bit) "$BUILD/tools/imgmangle" bit "$RD/t/$2" "$at" $((RANDOM % 8)) ;;
	huge) "$BUILD/tools/imgmangle" huge "$RD/t/$2" "$RANDOM" ;;
	parent) rm -rf "$RD/t/r2" && cp -a "$RD/t/r1" "$RD/t/r2" ;;
	esac >/dev/null 2>"$RD/mangle.err"
}

# fuzz_leftovers PID: files in /dev/shm and /tmp named after PID (other
# suites may run at the same time: only what names the target counts).
fuzz_leftovers() {
	ls -d /dev/shm/* /tmp/* 2>/dev/null | grep -E "(^|[^0-9])$1([^0-9]|\$)" | sort
}

# fuzz_trial CHAIN PID KIND FILE: one damaged restore; 0 held, 1 broken
# (REASON set).
fuzz_trial() {
	local st before

	rm -rf "$RD/t"
	cp -a "$1" "$RD/t"
	if ! fuzz_damage "$3" "$4"; then
		REASON="imgmangle $3 $4: $(head -n 1 "$RD/mangle.err")"
		return 1
	fi
	before=$(fuzz_leftovers "$2")
	bad_lmproc restore -D "$RD/t/r3" -d
	st=$?
	FUZZ_ATTEMPTS=$((FUZZ_ATTEMPTS + 1))
	if ! ERRORS_ONLY=1 refused "$st"; then
		REASON="$3 $4: $REASON"
	elif grep -Eq "Sanitizer|runtime error" "$RD/bad.err"; then
		REASON="$3 $4: a sanitizer report"
	elif ! no_process "$2"; then
		REASON="$3 $4: $REASON"
	elif [ -n "$(comm -13 <(echo "$before") <(fuzz_leftovers "$2"))" ]; then
		REASON="$3 $4: left $(comm -13 <(echo "$before") <(fuzz_leftovers "$2") | head -n 1)"
	else
		FUZZ_HELD=$((FUZZ_HELD + 1))
		return 0
	fi
	kill_ours "$2"
	FUZZ_BROKEN=$((FUZZ_BROKEN + 1))
	return 1
}

# fuzz_has_varints CHAIN FILE...: the FILEs with a varint field to grow.
fuzz_has_varints() {
	local chain=$1 f

	shift
	for f; do
		cp "$chain/$f" "$RD/probe.img"
		"$BUILD/tools/imgmangle" huge "$RD/probe.img" 0 >/dev/null 2>&1 && echo "$f"
	done
	rm -f "$RD/probe.img"
}

# case_fuzz CHAIN PID KIND COUNT: COUNT trials of KIND, each on a file
# drawn from fuzz_files (framed images only for huge).
case_fuzz() {
	local files=() f n=0 bad=0 first=""

	mapfile -t files < <(fuzz_files "$1" "$2")
	[ "$3" = huge ] && mapfile -t files < <(fuzz_has_varints "$1" "${files[@]}")
	for ((n = 0; n < $4; n++)); do
		f=${files[$((RANDOM % ${#files[@]}))]}
		if ! fuzz_trial "$1" "$2" "$3" "$f"; then
			bad=$((bad + 1))
			[ -z "$first" ] && first=$REASON
		fi
	done
	rm -rf "$RD/t"
	if [ "$bad" != 0 ]; then
		REASON="$bad of $4 damaged restores not refused cleanly; first: $first"
		return 1
	fi
}

run_fuzz_bad_input() {
	local chain pid t=$FUZZ_TRIALS

	CASE_KIND=fuzz bad_case make-chain fuzz_chain || return
	chain=$RD/chain
	pid=$TPID
	echo "fuzz: seed $FUZZ_SEED, $t trials"
	RANDOM=$FUZZ_SEED
	CASE_KIND=fuzz bad_case cut case_fuzz "$chain" "$pid" cut $((t * 2 / 10))
	CASE_KIND=fuzz bad_case cut-at-record case_fuzz "$chain" "$pid" cutrec $((t * 2 / 10))
	CASE_KIND=fuzz bad_case bit-flip case_fuzz "$chain" "$pid" bit $((t * 3 / 10))
	CASE_KIND=fuzz bad_case huge-varint case_fuzz "$chain" "$pid" huge $((t * 2 / 10))
	CASE_KIND=fuzz bad_case parent-swap case_fuzz "$chain" "$pid" parent $((t / 10))
	echo "fuzz: seed $FUZZ_SEED: $FUZZ_ATTEMPTS attempts, $FUZZ_HELD held, $FUZZ_BROKEN broken"
}
