#!/bin/bash
# bench/migrate.sh LMPROC SERVER CLIENT LINKBW WORKDIR OUTDIR (called by
# bench/run.sh): the figures of issue #12, measured as a client sees
# them.  For each working set (64 MiB, 1 GiB, 4 GiB) and dirty rate (0,
# 16, 64, 256 MiB/s): contrib/hosts.sh's two hosts, the sample server
# (SERVER MIB RATE: it answers the client and a writer thread rewrites
# one word per page of MIB MiB at RATE MiB/s, printing how many pages it
# wrote) in a container on host A, its client (CLIENT, a request every 5
# ms, every answer checked) in the client namespace, `lmproc serve` on
# host B; after a baseline of MIGBENCH_BASELINE seconds (2) untracked,
# `lmproc migrate --tcp-established --veth-pair eth0=vc0@br0 --json
# --max-downtime 50` moves the server to host B across the fabric.  A
# row: rounds, MiB sent, total and frozen time (lmproc's frozen_ms), the
# client's longest gap (its "done" line: every answer right and in
# order, or the row says what went wrong), gap / frozen, the client's TCP
# retransmissions (ss), total / (bytes / link), the write rate the writer achieved untracked (the baseline) and
# during pre-copy (from the start of migrate to the freeze), the
# slowdown between the two, each write's CPU cost in both, and the
# planner's stop reason.  The link (a plain TCP transfer from host A to
# host B across the same fabric, no TLS) and memcpy are measured in the
# same run (LINKBW).  Writes the table to OUTDIR/migrate.txt, each
# row's JSON (rounds and stages) to OUTDIR/migrate-MIB-RATE.json and, with
# gnuplot, OUTDIR/migrate.png (frozen and the client's gap against the
# dirty rate, one line per working set).
#
# Bounded: each migration runs under `timeout`, and none starts unless
# the MIGBENCH_BUDGET seconds (default 360) left can hold its size's usual
# time; a size the memory or WORKDIR's tmpfs can't hold is skipped with
# a line (MIGBENCH_SIZES and MIGBENCH_RATES, in MiB and MiB/s, narrow the
# runs; MIGBENCH_LINK_MIB sizes the link's measure).  Each row runs in a subshell of its own whose exit (a signal
# included) kills its hosts' holders, which takes every namespace,
# process and link of the row along; the work directory goes on every
# exit.  Exit 1 if a migration failed.
set -u
LM=$(readlink -f "$1") SERVER=$(readlink -f "$2") CLIENT=$(readlink -f "$3")
LINKBW=$(readlink -f "$4") WORK=$5 OUT=$6
BUDGET=${MIGBENCH_BUDGET:-360}
RATES=${MIGBENCH_RATES:-0 16 64 256}
SIZES=${MIGBENCH_SIZES:-64 1024 4096}
BASE_S=${MIGBENCH_BASELINE:-2}
LINK_MIB=${MIGBENCH_LINK_MIB:-1024}
SRV=198.18.0.10
PORT=5000
SP="" SVP="" CP="" MP="" RP=""

W=$(mktemp -d "$WORK/migrate.XXXXXX") || exit 1

fail() {
	echo "$*" >&2
	exit 1
}

# shellcheck source=contrib/hosts.sh
. "$(dirname "$0")/../contrib/hosts.sh"

# teardown: migrate told to give up (it resumes the server), the client
# stopped, then every holder killed: their namespaces go with every
# process and link in them.
teardown() {
	local p

	[ -n "$MP" ] && stop "$MP" TERM 150
	[ -n "$CP" ] && stop "$CP" TERM 10
	for p in $SVP $SP "${HOLDERS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in $SVP $SP "${HOLDERS[@]}"; do
		wait "$p" 2>/dev/null
	done
	MP="" CP="" SVP="" SP="" HOLDERS=()
}

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	[ -n "$RP" ] && stop "$RP" TERM 300
	teardown
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ms_now() { date +%s%3N; }

mem_avail_mib() {
	awk '/^MemAvailable:/ { printf "%d", $2 / 1024 }' /proc/meminfo
}

shm_avail_mib() {
	df -m --output=avail "$WORK" | tail -n 1 | tr -d ' '
}

# field NAME FILE: NAME's value in the summary (the last line of
# migrate --json), taken before its history.
field() {
	tail -n 1 "$2" | sed 's/"history".*//' |
		sed -n "s/.*\"$1\": \"\{0,1\}\([^,\"}]*\).*/\1/p"
}

# writes FROM TO FILE: the writer's achieved MiB/s and CPU us per page
# written between the wall-clock ms FROM and TO (its "writes MS PAGES
# CPU_US" lines; a line whose CPU time went back is the restored copy's
# thread: the window ends there); "- -" without two lines in it.
writes() {
	awk -v a="$1" -v b="$2" '$1 == "writes" && $2 >= a && $2 <= b {
			if (n && $4 < u1) exit
			if (!n++) { t0 = $2; c0 = $3; u0 = $4 }
			t1 = $2; c1 = $3; u1 = $4
		}
		END {
			if (n < 2 || t1 <= t0 || c1 <= c0) { print "- -"; exit }
			printf "%.1f %.2f\n", (c1 - c0) / 256 / ((t1 - t0) / 1000), (u1 - u0) / (c1 - c0)
		}' "$3"
}

# measure_link: the plain TCP throughput from host A to host B across the
# fabric, and memcpy (LINKBW, MIGBENCH_LINK_MIB each, 1 GiB by default);
# LINK and MEMCPY are set.
measure_link() {
	local out

	topology || fail "can't make the hosts' namespaces and links"
	if ! at "$HA" ip addr add 198.18.0.1/24 dev br0 ||
		! at "$HB" ip addr add 198.18.0.2/24 dev br0; then
		fail "can't address the hosts' bridges"
	fi
	# In the background, as migrate: a signal is handled at once.
	timeout 120 "$LINKBW" "$LINK_MIB" "/proc/$HB/ns/net" "/proc/$HA/ns/net" 198.18.0.2 \
		>"$W/link" 2>&1 &
	MP=$!
	wait "$MP"
	MP=""
	out=$(cat "$W/link")
	teardown
	read -r _ LINK _ MEMCPY <<<"$(echo "$out" | tr '\n' ' ')"
	[ -n "${LINK:-}" ] || fail "linkbw failed: $out"
}

# min_s MIB: the seconds a row of MIB MiB wants at least.
min_s() {
	echo $(($1 < 1024 ? 15 : $1 < 4096 ? 40 : 100))
}

# skip_reason MIB: why MIB cannot run now, or nothing.
skip_reason() {
	local need avail shm

	need=$(($1 * 4 + $1 / 2 + 4096))
	avail=$(mem_avail_mib)
	shm=$(shm_avail_mib)
	if [ "$avail" -lt "$need" ]; then
		echo "MemAvailable $avail MiB < $need MiB (server, serve's staging, restored copy, margin)"
	elif [ "$shm" -lt $(($1 * 2 + $1 / 2)) ]; then
		echo "$WORK has $shm MiB free, < $(($1 * 2 + $1 / 2)) MiB for serve's images"
	elif [ $((BUDGET - (SECONDS - T0))) -lt "$(min_s "$1")" ]; then
		echo "under $(min_s "$1") s left of the bench's budget (MIGBENCH_BUDGET=$BUDGET s)"
	fi
}

# migrate D TMO: the server moved from host A to host B, migrate's JSON
# in D/m.json; its status.
migrate() {
	local st

	# In the background: a signal is handled at once, not after it.
	timeout -k 10 "$2" nsenter -t "$HA" -n -p -m "$LM" migrate -t "$SPID" \
		--to 198.18.0.2:7070 --tls-psk-file "$1/psk" --tcp-established \
		--veth-pair eth0=vc0@br0 --json --max-downtime 50 -o "$1/migrate.log" \
		>"$1/m.json" 2>"$1/m.err" &
	MP=$!
	wait "$MP"
	st=$?
	MP=""
	return $st
}

# row MIB RATE TMO (in a subshell): one migration; its row into W/rows,
# or why it failed on stderr (and exits 1).
row() {
	local mib=$1 rate=$2 d=$W/r-$1-$2 b0 b1 t0 st n gap base pre rtx
	local rounds bytes total frozen stop

	trap teardown EXIT
	trap 'exit 130' INT TERM
	mkdir "$d" || fail "can't make $d"
	topology || fail "can't make the hosts' namespaces and links"
	serve_on_b "$LM" "$d"
	container_up "$d/server.out" setsid "$SERVER" "$SRV" "$PORT" "$mib" "$rate"
	nsenter -t "$CL" -n "$CLIENT" "$SRV" "$PORT" 5 >"$d/client.out" 2>&1 </dev/null &
	CP=$!
	wait_answers "$d/client.out" 100 || fail "client: $(tail -n 1 "$d/client.out")"
	b0=$(ms_now)
	sleep "$BASE_S"
	b1=$(ms_now)
	t0=$(ms_now)
	migrate "$d" "$3"
	st=$?
	if [ "$st" != 0 ] || [ "$(field result "$d/m.json")" != migrated ]; then
		[ "$st" = 124 ] && fail "timed out after $3 s"
		fail "$(field result "$d/m.json") $(field reason "$d/m.json" | head -c 100)" \
			"$(tail -n 1 "$d/m.err" | head -c 100)"
	fi
	# The source's copy is gone: its nsenter and subshell end with it.
	wait "$SP" 2>/dev/null
	SP=""
	n=$(answers "$d/client.out")
	wait_answers "$d/client.out" $((${n:-0} + 100)) ||
		fail "client after the move: $(tail -n 1 "$d/client.out")"
	# The client's retransmissions: a request sent while the server was
	# frozen waits for TCP's retransmission timer, not for the thaw.
	rtx=$(at "$CL" ss -tiH state established "( dport = :$PORT )" |
		sed -n 's/.*retrans:[0-9]*\/\([0-9]*\).*/\1/p' | head -n 1)
	stop "$CP" TERM 50
	st=$?
	CP=""
	gap=$(sed -n 's/^done: .* every one right and in order; longest gap \([0-9]*\) ms.*/\1/p' \
		"$d/client.out")
	[ "$st" = 0 ] || fail "client: $(tail -n 1 "$d/client.out")"
	[ -n "$gap" ] || fail "client: $(tail -n 1 "$d/client.out")"
	rounds=$(field rounds "$d/m.json")
	bytes=$(field bytes "$d/m.json")
	total=$(field total_ms "$d/m.json")
	frozen=$(field frozen_ms "$d/m.json")
	stop=$(field stop "$d/m.json")
	base=$(writes "$b0" "$b1" "$d/server.out")
	pre=$(writes "$t0" "$(awk -v t="$t0" -v a="$total" -v f="$frozen" \
		'BEGIN { printf "%.0f", t + a - f }')" "$d/server.out")
	awk -v mib="$mib" -v rate="$rate" -v rounds="$rounds" -v bytes="$bytes" -v total="$total" \
		-v frozen="$frozen" -v gap="$gap" -v rtx="${rtx:-0}" -v link="$LINK" -v base="$base" -v pre="$pre" \
		-v stop="${stop:--}" 'BEGIN {
			split(base, b, " "); split(pre, p, " ")
			slow = (b[1] + 0 > 0 && p[1] != "-") ? sprintf("%.1f", 100 * (1 - p[1] / b[1])) : "-"
			sub(/^-0\.0$/, "0.0", slow)
			cost = (b[2] != "-" && p[2] != "-") ? b[2] "/" p[2] : "-"
			printf "%6s %6s %6s %8.1f %8.0f %8.1f %7s %6.2f %4s %6.2f %8s %8s %6s %11s  %s\n",
				mib, rate, rounds, bytes / 1048576, total, frozen, gap,
				(frozen > 0 ? gap / frozen : 0), rtx, total / (bytes / 1048576 / link * 1000),
				b[1], p[1], slow, cost, stop
		}' >>"$W/rows"
	printf '%s %s %s %s\n' "$mib" "$rate" "$frozen" "$gap" >>"$W/plot-$mib"
	cp "$d/m.json" "$OUT/migrate-$mib-$rate.json"
}

# one MIB RATE: a row, in a subshell of its own (RP), into W/rows.
one() {
	local mib=$1 rate=$2 tmo left st

	left=$((BUDGET + 30 - (SECONDS - T0)))
	tmo=$((mib < 1024 ? 60 : mib < 4096 ? 90 : 150))
	[ "$left" -lt "$tmo" ] && tmo=$left
	(row "$mib" "$rate" "$tmo") >/dev/null 2>"$W/row.err" &
	RP=$!
	wait "$RP"
	st=$?
	RP=""
	[ "$st" = 0 ] && return 0
	printf '%6s %6s  failed: %s\n' "$mib" "$rate" "$(tail -n 1 "$W/row.err" | head -c 200)" \
		>>"$W/rows"
	mkdir -p "$OUT/migrate-failed-$mib-$rate" &&
		cp "$W/r-$mib-$rate"/*.out "$W/r-$mib-$rate"/*.err "$W/r-$mib-$rate"/*.json \
			"$W/r-$mib-$rate"/*.log "$OUT/migrate-failed-$mib-$rate" 2>/dev/null
	echo "$mib MiB at $rate MiB/s failed: its logs kept in $OUT/migrate-failed-$mib-$rate"
	return 1
}

plot() {
	local sets=() mib

	for mib in $SIZES; do
		[ -s "$W/plot-$mib" ] && sets+=("$mib")
	done
	if ! command -v gnuplot >/dev/null; then
		echo "plot: none (gnuplot is not installed: make bench-deps installs gnuplot-nox)"
		return 0
	fi
	[ ${#sets[@]} = 0 ] && { echo "plot: none (no migration succeeded)"; return 0; }
	{
		echo "set terminal png size 1000,420"
		echo "set output '$OUT/migrate.png'"
		echo "set multiplot layout 1,2 title 'lmproc migrate of the sample server, host A to host B (TLS, --max-downtime 50)'"
		echo "set xlabel 'dirty rate (MiB/s)'; set key top left; set grid"
		echo "set xtics (0, 16, 64, 256); set logscale y"
		for what in "frozen by lmproc (ms)|3" "longest gap of the client (ms)|4"; do
			IFS='|' read -r label col <<<"$what"
			echo "set ylabel '$label'; set title '$label'"
			printf 'plot '
			for mib in "${sets[@]}"; do
				printf "'%s' using 2:%s with linespoints title '%s MiB', " \
					"$W/plot-$mib" "$col" "$mib"
			done | sed 's/, $//'
			echo
		done
		echo "unset multiplot"
	} >"$W/plot.gp"
	if gnuplot "$W/plot.gp" 2>"$W/plot.err"; then
		echo "plot: $OUT/migrate.png"
	else
		echo "plot: gnuplot failed: $(head -c 200 "$W/plot.err")"
	fi
}

for c in ip ss nsenter unshare setsid nft timeout; do
	if ! command -v "$c" >/dev/null; then
		echo "migrate: skipped ($c missing: run 'make deps')"
		exit 0
	fi
done
T0=$SECONDS
rc=0
mkdir -p "$OUT" || exit 1
measure_link
for mib in $SIZES; do
	for rate in $RATES; do
		why=$(skip_reason "$mib")
		if [ -n "$why" ]; then
			echo "$mib MiB at $rate MiB/s skipped: $why" >>"$W/skipped"
			continue
		fi
		one "$mib" "$rate" || rc=1
	done
done
{
	echo "Live migration of the sample server (contrib/sample) with its client's connection:"
	echo "lmproc migrate --tcp-established --json --max-downtime 50, host A to host B (TLS 1.3 PSK),"
	echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "link: plain TCP host A -> host B $LINK MiB/s; memcpy $MEMCPY MiB/s ($LINK_MIB MiB each, linkbw)"
	echo "gap: the client's longest wait between two answers (a request every 5 ms); rtx: its"
	echo "connection's TCP retransmissions"
	echo "link_x = total / (MiB sent / link); base, pre: the writer's MiB/s untracked (${BASE_S} s)"
	echo "and during pre-copy; slow% = 1 - pre/base; wr_us: CPU us per page written, base/pre"
	printf '%6s %6s %6s %8s %8s %8s %7s %6s %4s %6s %8s %8s %6s %11s  %s\n' ws_MiB rate rounds \
		MiB_sent total_ms frozen gap_ms gap/fr rtx link_x base pre slow% wr_us stop
	cat "$W/rows" 2>/dev/null
	cat "$W/skipped" 2>/dev/null
	echo "($((SECONDS - T0)) s)"
} | tee "$OUT/migrate.txt"
plot
exit $rc
