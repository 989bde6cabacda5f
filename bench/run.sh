#!/bin/sh
# bench/run.sh (called by "make bench"): runs build/bench/lmbench with an
# images directory on tmpfs and one on ext4, then build/bench/predump and
# build/bench/tree and build/bench/sparse on tmpfs, then bench/tcp.sh
# (established TCP connections, in network namespaces of its own), then
# bench/migrate.sh (live migration of the sample server between two
# "hosts" in namespaces while its client measures its longest gap; its
# table and plot also go to build/bench/migrate.txt and .png), and removes both directories afterwards, killing any bench-hog,
# pd-hog or pd-scan a failed run may have left (by pid, from the list both
# keep).  Prints figures; see bench/lmbench.c and bench/predump.c for what
# is measured.
set -u
cd "$(dirname "$0")/.." || exit 1

if [ "$(id -u)" != 0 ]; then
	echo "bench: lmproc dump/restore need root" >&2
	exit 1
fi
for f in ./lmproc build/bench/lmbench build/bench/bench-hog build/bench/predump \
	build/bench/pd-hog build/bench/pd-scan build/bench/tree build/bench/tree-hog \
	build/bench/sparse build/bench/linkbw build/contrib/sample-server \
	build/contrib/sample-client; do
	if [ ! -x "$f" ]; then
		echo "bench: $f is missing: run 'make bench'" >&2
		exit 1
	fi
done

fstype() {
	df --output=fstype "$1" 2>/dev/null | tail -n 1
}

tmpfs_base=${LMBENCH_TMPFS:-/dev/shm}
ext4_base=
for d in ${LMBENCH_EXT4:-} /var/tmp /work /root; do
	if [ -d "$d" ] && [ "$(fstype "$d")" = ext4 ]; then
		ext4_base=$d
		break
	fi
done
if [ "$(fstype "$tmpfs_base")" != tmpfs ]; then
	echo "bench: $tmpfs_base is not tmpfs (set LMBENCH_TMPFS)" >&2
	exit 1
fi
if [ -z "$ext4_base" ]; then
	echo "bench: no ext4 directory found (set LMBENCH_EXT4)" >&2
	exit 1
fi

work=$(mktemp -d "$tmpfs_base/lmproc-bench.XXXXXX") || exit 1
ext4=$(mktemp -d "$ext4_base/lmproc-bench.XXXXXX") || { rm -rf "$work"; exit 1; }
ours=" $(readlink -f build/bench/bench-hog) $(readlink -f build/bench/pd-hog) \
$(readlink -f build/bench/pd-scan) $(readlink -f build/bench/tree-hog) \
$(readlink -f build/bench/sparse) "

cleanup() {
	if [ -f "$work/pids" ]; then
		while read -r pid; do
			exe=$(readlink "/proc/$pid/exe" 2>/dev/null)
			case "$ours" in
			*" $exe "*) [ -n "$exe" ] && kill -9 "$pid" 2>/dev/null ;;
			esac
		done < "$work/pids"
	fi
	rm -rf "$work" "$ext4"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "lmproc bench: $(uname -r), $(nproc) CPUs, THP $(sed 's/.*\[\(.*\)\].*/\1/' \
	/sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
echo "images: tmpfs $work/images, ext4 $ext4 (page cache, not synced while timed)"
echo
build/bench/lmbench ./lmproc build/bench/bench-hog "$work" "$ext4"
rc=$?
echo
build/bench/predump ./lmproc build/bench/pd-hog build/bench/pd-scan "$work" || rc=1
echo
build/bench/tree ./lmproc build/bench/tree-hog "$work" || rc=1
echo
build/bench/sparse ./lmproc "$work" || rc=1
echo
if command -v nft >/dev/null && command -v unshare >/dev/null; then
	bench/tcp.sh "$PWD/lmproc" "$PWD/build/test/tools" "$work" || rc=1
else
	echo "TCP: skipped (nft or unshare missing)"
fi
echo
bench/migrate.sh ./lmproc build/contrib/sample-server build/contrib/sample-client \
	build/bench/linkbw "$work" build/bench || rc=1
if [ $rc != 0 ] && [ -f "$work/lmproc.log" ]; then
	cp "$work/lmproc.log" /var/tmp/lmproc-bench.log
	echo "lmproc's log kept in /var/tmp/lmproc-bench.log"
fi
exit $rc
