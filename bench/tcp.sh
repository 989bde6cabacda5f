#!/bin/bash
# bench/tcp.sh LMPROC TOOLS WORKDIR (called by bench/run.sh): a tcpmany
# server with 1, then 1,000 established connections to its client, each
# pair in a network namespace of its own (unshare --net, through
# test/bad-input/tcp-netns.sh, which checks every byte), dumped with
# --tcp-established and restored.  Prints side by side, per count: dump
# and restore time (lmproc's wall clock), the time the lock is held (from
# the dump's start, the freeze being a few ms later, to the restore's end:
# an upper bound), the frozen time (stats-dump.img), the client's longest
# gap (its own clock: the longest time one connection went without a
# byte) and gap/frozen.  A run whose client did not finish within its
# 30 s alarm shows "stalled".  Exit 1 if any run failed.
set -u
LM=$1 TOOLS=$2 WORK=$3
ROOT=$(cd "$(dirname "$0")/.." && pwd)
rc=0

frozen_ms() {
	"$LM" show -D "$1" 2>/dev/null |
		sed -n 's/.*"frozen_time_us": \([0-9]*\).*/\1/p' | head -n 1 |
		awk '{ printf "%d", $1 / 1000 }'
}

field() {
	sed -n "s/.*$1 \([0-9]*\).*/\1/p" "$2" | head -n 1
}

echo "TCP: a server with N established connections dumped (--tcp-established) and restored"
printf '%6s %8s %10s %10s %10s %8s %10s\n' conns dump_ms restore_ms locked_ms frozen_ms gap_ms gap/frozen
for n in 1 1000; do
	dir=$WORK/tcp-$n
	rm -rf "$dir"
	mkdir -p "$dir/img"
	timeout 60 unshare --net "$ROOT/test/bad-input/tcp-netns.sh" \
		"$LM" "$TOOLS" "$dir" 198.18.0.1 restore "$n" >"$dir/out" 2>"$dir/err"
	st=$?
	dump=$(field dump_ms "$dir/out")
	restore=$(field restore_ms "$dir/out")
	locked=$(field locked_ms "$dir/out")
	gap=$(field gap_ms "$dir/out")
	frozen=$(frozen_ms "$dir/img")
	if [ "$st" != 0 ] || [ -z "$gap" ]; then
		rc=1
		gap=stalled
		ratio=-
		grep -q "Alarm clock" "$dir/err" || gap="failed: $(grep -v Killed "$dir/err" | head -c 120)"
	else
		ratio=$(awk -v g="$gap" -v f="${frozen:-0}" \
			'BEGIN { if (f > 0) printf "%.2f", g / f; else print "-" }')
	fi
	printf '%6s %8s %10s %10s %10s %8s %10s\n' "$n" "${dump:--}" "${restore:--}" \
		"${locked:--}" "${frozen:--}" "$gap" "$ratio"
done
exit $rc
