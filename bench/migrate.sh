#!/bin/bash
# bench/migrate.sh LMPROC PD_HOG LINKBW WORKDIR OUTDIR (called by
# bench/run.sh): the figures of issue #12.  One `lmproc serve` on
# 127.0.0.1 (TLS, a pre-shared key made for the run, images under
# WORKDIR on tmpfs) receives `lmproc migrate --json` of a pd-hog of 64 MiB
# and 1 GiB (and 4 GiB when MemAvailable holds the hog, the source's
# tmpfs rounds, serve's copy and the restored hog at once; otherwise a
# line says why it is skipped) writing one word per page at 0, 16, 64 and
# 256 MiB/s.  Prints per run: rounds, MiB sent, total and frozen time
# (lmproc's `frozen_ms`: pd-hog answers no client, so no client's gap is
# measured and frozen stands in for the downtime), round 1's channel
# throughput, and total / (bytes / link throughput), with the link (a
# plain TCP transfer over 127.0.0.1, build/bench/linkbw) and memcpy
# bandwidths measured in the same run.  Writes the table to
# OUTDIR/migrate.txt and, with gnuplot, OUTDIR/migrate.png (frozen ms and
# total s against the dirty rate, one line per working set).
#
# Bounded: each migration runs under `timeout` (at most 30 s past the
# budget), and none starts unless the MIGBENCH_BUDGET seconds (default
# 270) left can hold its size's usual time (MIGBENCH_SIZES and
# MIGBENCH_RATES, in MiB and MiB/s, narrow the runs).  Every pd-hog
# (source and migrated copy), serve and the work directory are removed on
# every exit; the hogs are also listed in WORKDIR/pids for run.sh's trap.
# Exit 1 if a migration failed.
set -u
LM=$1 HOG=$2 LINKBW=$3 WORK=$4 OUT=$5
BUDGET=${MIGBENCH_BUDGET:-270}
RATES=${MIGBENCH_RATES:-0 16 64 256}
SIZES=${MIGBENCH_SIZES:-64 1024 4096}
HOG_EXE=$(readlink -f "$HOG")

W=$(mktemp -d "$WORK/migrate.XXXXXX") || exit 1
SPID=
HPID=
MPID=
CUR_J=

# kill_ours PID EXE: SIGKILL PID if it still runs EXE (a pid reused by
# another program is left alone).
kill_ours() {
	local exe

	exe=$(readlink "/proc/$1/exe" 2>/dev/null)
	[ -n "$exe" ] && [ "$exe" = "$2" ] && kill -KILL "$1" 2>/dev/null
}

cleanup() {
	end_migrate
	end_hog
	[ -n "$CUR_J" ] && end_copy "$CUR_J"
	if [ -n "$SPID" ]; then
		kill -TERM "$SPID" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$SPID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mem_avail_mib() {
	awk '/^MemAvailable:/ { printf "%d", $2 / 1024 }' /proc/meminfo
}

shm_avail_mib() {
	df -m --output=avail "$WORK" | tail -n 1 | tr -d ' '
}

# start_serve: serve on a free port of 127.0.0.1; PORT is set.
start_serve() {
	(umask 077 && printf 'lmproc:%s\n' \
		"$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$W/psk")
	mkdir -p "$W/srv"
	"$LM" serve -D "$W/srv" --listen 127.0.0.1:0 --tls-psk-file "$W/psk" \
		</dev/null >/dev/null 2>"$W/serve.err" &
	SPID=$!
	for _ in $(seq 50); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$W/serve.err")
		[ -n "$PORT" ] && return 0
		sleep 0.1
	done
	echo "migrate: serve did not start: $(head -c 200 "$W/serve.err")"
	return 1
}

# end_hog: kills and reaps the source's pd-hog (our child, not reaped
# yet, so its pid is not reused), wherever it is: still blocked on its
# fifo, running, or left stopped by a failed migration.
end_hog() {
	[ -n "$HPID" ] || return 0
	kill -KILL "$HPID" 2>/dev/null
	{ wait "$HPID"; } 2>/dev/null
	HPID=
}

# end_migrate: a migration still running is told to stop (SIGTERM through
# timeout: migrate aborts and resumes the hog, as `dump -R`), given 15 s,
# then killed.
end_migrate() {
	[ -n "$MPID" ] || return 0
	kill -TERM "$MPID" 2>/dev/null
	for _ in $(seq 150); do
		kill -0 "$MPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$MPID" 2>/dev/null
	wait "$MPID" 2>/dev/null
	MPID=
}

# start_hog MIB RATE: a pd-hog of MIB MiB writing RATE MiB/s (one word per
# page; 0: -d, which writes only when asked, and nobody asks), leading
# its own session (the restore makes it a new pid namespace); HPID is set
# once its memory is filled.
start_hog() {
	local mode=(-p $(($2 * 256))) ready

	[ "$2" = 0 ] && mode=(-d 1)
	rm -f "$W/ready"
	mkfifo "$W/ready" || return 1
	setsid "$HOG" -m "$1" -o "$W/hog.out" -r 3 "${mode[@]}" \
		3>"$W/ready" </dev/null >/dev/null 2>&1 &
	HPID=$!
	echo "$HPID" >>"$WORK/pids"
	ready=$(timeout 120 head -c 1 "$W/ready")
	[ "$ready" = r ]
}

# field NAME FILE: NAME's value in the summary (the last line of
# migrate --json), taken before its history.
field() {
	tail -n 1 "$2" | sed 's/"history".*//' |
		sed -n "s/.*\"$1\": \"\{0,1\}\([^,\"}]*\).*/\1/p"
}

# round1 NAME FILE: NAME's value in round 1's object.
round1() {
	grep -m 1 '"round": 1[,}]' "$2" | sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p"
}

# end_copy FILE: kills the migrated copy named in FILE's summary and its
# pid namespace's init.
end_copy() {
	local dest init

	dest=$(field dest_pid "$1")
	[ -n "$dest" ] && [ "$dest" != null ] || return 0
	init=$(ps -o ppid= -p "$dest" 2>/dev/null | tr -d ' ')
	[ -n "$init" ] && [ "$init" != 1 ] && kill -KILL "$init" 2>/dev/null
	kill_ours "$dest" "$HOG_EXE"
}

# min_s MIB: the seconds a migration of MIB MiB wants at least (measured
# here: 64 MiB under 1 s, 1 GiB 8-45 s, 4 GiB 50 s at rate 0).
min_s() {
	echo $(($1 < 1024 ? 10 : $1 < 4096 ? 30 : 90))
}

# skip_reason MIB: why MIB cannot run now, or nothing.
skip_reason() {
	local need avail shm

	need=$(($1 * 4 + $1 / 2 + 4096))
	avail=$(mem_avail_mib)
	shm=$(shm_avail_mib)
	if [ "$avail" -lt "$need" ]; then
		echo "MemAvailable $avail MiB < $need MiB (hog, source rounds, serve's copy, restored copy, margin)"
	elif [ "$shm" -lt $(($1 * 2 + $1 / 2)) ]; then
		echo "$WORK has $shm MiB free, < $(($1 * 2 + $1 / 2)) MiB for both sides' images"
	elif [ $((BUDGET - (SECONDS - T0))) -lt "$(min_s "$1")" ]; then
		echo "under $(min_s "$1") s left of the bench's budget (MIGBENCH_BUDGET=$BUDGET s)"
	fi
}

# one MIB RATE: one migration; appends a row to W/rows, or says why not.
one() {
	local mib=$1 rate=$2 j=$W/m-$1-$2.json e=$W/m-$1-$2.err tmo st left
	local rounds bytes final total frozen r1 stop exp ratio ratio_tls

	left=$((BUDGET + 30 - (SECONDS - T0)))
	tmo=$((mib < 1024 ? 60 : mib < 4096 ? 90 : 150))
	[ "$left" -lt "$tmo" ] && tmo=$left
	if ! start_hog "$mib" "$rate"; then
		printf '%6s %6s  failed: pd-hog did not start\n' "$mib" "$rate" >>"$W/rows"
		end_hog
		return 1
	fi
	CUR_J=$j
	# In the background: a signal to this script is handled at once
	# (cleanup), not after the migration.
	timeout -k 10 "$tmo" "$LM" migrate -t "$HPID" --to "127.0.0.1:$PORT" \
		--tls-psk-file "$W/psk" --max-downtime 50 --json >"$j" 2>"$e" &
	MPID=$!
	wait "$MPID"
	st=$?
	MPID=
	end_hog
	end_copy "$j"
	CUR_J=
	if [ "$st" != 0 ] || [ "$(field result "$j")" != migrated ]; then
		[ "$st" = 124 ] && set -- "timed out after $tmo s" || set -- \
			"$(field result "$j") $(field reason "$j" | head -c 100) $(tail -n 1 "$e" | head -c 100)"
		printf '%6s %6s  failed: %s\n' "$mib" "$rate" "$*" >>"$W/rows"
		return 1
	fi
	rounds=$(field rounds "$j")
	bytes=$(field bytes "$j")
	final=$(field final_bytes "$j")
	total=$(field total_ms "$j")
	frozen=$(field frozen_ms "$j")
	stop=$(field stop "$j")
	r1=$(round1 mib_s "$j")
	read -r exp ratio ratio_tls < <(awk -v b="$bytes" -v t="$total" -v l="$LINK" -v r="$r1" \
		'BEGIN { e = b / 1048576 / l * 1000;
			 et = (r + 0 > 0) ? b / 1048576 / r * 1000 : 0;
			 rt = (et > 0) ? sprintf("%.2f", t / et) : "-";
			 printf "%.0f %.2f %s\n", e, t / e, rt }')
	printf '%6s %6s %6s %9.1f %9.1f %8.0f %8.1f %8.1f %8.0f %7s %7s %9s  %s\n' \
		"$mib" "$rate" "$rounds" "$(awk -v b="$bytes" 'BEGIN { print b / 1048576 }')" \
		"$(awk -v b="$final" 'BEGIN { print b / 1048576 }')" "$total" "$frozen" \
		"$frozen" "${r1:-0}" "$exp" "$ratio" "$ratio_tls" "${stop:--}" >>"$W/rows"
	printf '%s %s %s %s\n' "$mib" "$rate" "$frozen" "$total" >>"$W/plot-$mib"
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
		echo "set multiplot layout 1,2 title 'lmproc migrate over TLS on 127.0.0.1 (pd-hog)'"
		echo "set xlabel 'dirty rate (MiB/s)'; set key top left; set grid"
		echo "set xtics (0, 16, 64, 256); set logscale y"
		for what in "frozen (ms)|3|1" "total migration time (s)|4|1000"; do
			IFS='|' read -r label col div <<<"$what"
			echo "set ylabel '$label'; set title '$label'"
			printf 'plot '
			for mib in "${sets[@]}"; do
				printf "'%s' using 2:(\$%s/%s) with linespoints title '%s MiB', " \
					"$W/plot-$mib" "$col" "$div" "$mib"
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

T0=$SECONDS
rc=0
mkdir -p "$OUT" || exit 1
read -r _ LINK _ MEMCPY < <("$LINKBW" 1024 | tr '\n' ' ')
if [ -z "${LINK:-}" ] || [ -z "${MEMCPY:-}" ]; then
	echo "migrate: linkbw failed"
	exit 1
fi
start_serve || exit 1
for mib in $SIZES; do
	why=$(skip_reason "$mib")
	if [ -n "$why" ]; then
		echo "$mib MiB skipped: $why" >>"$W/skipped"
		continue
	fi
	for rate in $RATES; do
		why=$(skip_reason "$mib")
		if [ -n "$why" ]; then
			echo "$mib MiB at $rate MiB/s skipped: $why" >>"$W/skipped"
			continue
		fi
		one "$mib" "$rate" || rc=1
	done
done 2>>"$W/shell.err"	# bash's "Killed" for each hog migrate's dump killed
{
	echo "Live migration: lmproc migrate --json --max-downtime 50 of a pd-hog to lmproc serve"
	echo "(TLS 1.3 PSK, 127.0.0.1, images on tmpfs), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "link: plain TCP over 127.0.0.1 $LINK MiB/s; memcpy $MEMCPY MiB/s (1 GiB each, linkbw)"
	echo "downtime: pd-hog answers no client; its downtime is taken as frozen (lmproc's frozen_ms)"
	echo "expect = MiB sent / link; ratio = total / expect; ratio_tls = total / (MiB sent / round 1's MiB/s)"
	printf '%6s %6s %6s %9s %9s %8s %8s %8s %8s %7s %7s %9s  %s\n' ws_MiB rate rounds \
		MiB_sent final_MiB total_ms frozen downtime r1_MiB/s expect ratio ratio_tls stop
	cat "$W/rows" 2>/dev/null
	cat "$W/skipped" 2>/dev/null
	echo "($((SECONDS - T0)) s)"
} | tee "$OUT/migrate.txt"
plot
if [ $rc != 0 ]; then
	cp "$W/serve.err" "$OUT/migrate-serve.log" 2>/dev/null
	echo "serve's log kept in $OUT/migrate-serve.log"
fi
exit $rc
