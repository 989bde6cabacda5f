#!/bin/sh
# "make demo": checkpoint a running counter (build/contrib/sample-counter,
# from contrib/sample/counter.c) with lmproc and restore it, showing that it
# continues from where it was.  Needs root; takes about 5 seconds.
set -u

cd "$(dirname "$0")/.." || exit 1
LMPROC=./lmproc
SAMPLE=build/contrib/sample-counter
pid=""

die() {
	echo "demo: $*" >&2
	exit 1
}

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}

# last_count: the number on the last complete line of the log.
last_count() {
	tail -n 1 "$log" | sed -n 's/^counter \([0-9]*\) .*/\1/p'
}

# wait_for TENTHS CMD...: polls CMD ten times a second.
wait_for() {
	n=$1
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -le 0 ] && return 1
		sleep 0.1
	done
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

gone() {
	! kill -0 "$pid" 2>/dev/null || grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

[ "$(id -u)" = 0 ] || die "run me as root (lmproc needs ptrace rights over the sample)"
[ -x "$LMPROC" ] && [ -x "$SAMPLE" ] || die "run 'make demo' (builds lmproc and the sample)"
work=$(mktemp -d /dev/shm/lmproc-demo.XXXXXX 2>/dev/null) ||
	work=$(mktemp -d /tmp/lmproc-demo.XXXXXX) || die "can't make a work directory"
trap cleanup EXIT
trap 'exit 1' INT TERM
log=$work/counter.log
img=$work/images
mkdir "$img"

echo "== 1. Start the sample: it prints a counter every 100 ms into $log"
"$SAMPLE" </dev/null >"$log" 2>&1 &
pid=$!
sleep 1
tail -n 3 "$log" | sed 's/^/   /'

echo "== 2. Checkpoint it: lmproc dump -t $pid -D $img"
t0=$(now_ms)
"$LMPROC" dump -t "$pid" -D "$img" || die "dump failed (see the error above)"
t1=$(now_ms)
wait "$pid" 2>/dev/null
before=$(last_count)
echo "   dump took $((t1 - t0)) ms; images: $(ls "$img" | tr '\n' ' ')"
"$LMPROC" show "$img/stats-dump.img" 2>/dev/null |
	grep -oE '"(frozen_time_us|total_time_us|pages_written|pages_skipped_zero)": *[0-9]+' |
	sed 's/"//g; s/^/   /'
wait_for 20 gone || die "pid $pid still runs after the dump"
echo "   pid $pid is gone; its log stopped at counter $before:"
sleep 0.5
tail -n 1 "$log" | sed 's/^/   /'

echo "== 3. Restore it: lmproc restore -D $img -d"
t0=$(now_ms)
"$LMPROC" restore -D "$img" -d || die "restore failed (see the error above)"
t1=$(now_ms)
kill -0 "$pid" 2>/dev/null || die "restore succeeded but pid $pid is not running"
echo "   restore took $((t1 - t0)) ms; pid $pid is back: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
sleep 1
after=$(last_count)
tail -n 4 "$log" | sed 's/^/   /'
[ -n "$after" ] && [ "$after" -gt "$before" ] ||
	die "the counter did not continue (last $before before the dump, $after now)"
first=$(sed -n 's/^counter \([0-9]*\) .*/\1/p' "$log" | awk -v b="$before" '$1 > b { print; exit }')
[ "$first" = $((before + 1)) ] ||
	die "after $before the counter went on at $first, not $((before + 1))"

echo "== 4. Stop it"
kill "$pid"
wait_for 30 gone || die "pid $pid did not stop"
pid=""
echo "The sample was checkpointed at counter $before, killed, and restored with"
echo "the same pid: it went on with $first and reached $after, appending to the same"
echo "log file at the same offset. Memory, registers and open files came back intact."
