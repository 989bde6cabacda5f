#!/bin/sh
# Installs the Debian packages named on the command line that are missing.
# Runs apt-get only when something is missing, so it is quiet and fast on a
# machine that already has everything.
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "lmproc: missing Debian packages:$missing (run as root or install them)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null
