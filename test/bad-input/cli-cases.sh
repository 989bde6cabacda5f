# shellcheck shell=bash disable=SC2034 # REASON, DETAIL: bad_case reports them
# The command line as a new user meets it, for test/bad-input/cases.sh:
# `lmproc --version` (every line, the commit built from), `make install`
# and `make uninstall` (exactly the expected files and modes), the man
# page lmproc(8) against `--help` (every command and option documented),
# and the bash completion.  None of these runs a target.

# cli_out ARGS...: lmproc ARGS, stdout and stderr in RD/cli.{out,err}.
cli_out() {
	timeout -k 5 "$LM_TIMEOUT" "$LMPROC" "$@" >"$RD/cli.out" 2>"$RD/cli.err"
}

# cli_line REGEX WHAT: stdout has a line matching REGEX.
cli_line() {
	if ! grep -Eq -- "$1" "$RD/cli.out"; then
		REASON="no $2 line (/$1/) in: $(tr '\n' '|' <"$RD/cli.out" | cut -c1-200)"
		return 1
	fi
}

# The commit lmproc was built from (`git describe --always --dirty`):
# its hash is HEAD's when this tree is a git checkout.
cli_commit_is_head() {
	local commit=$1 head hash

	head=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null) || return 0
	[ "$(git -C "$ROOT" rev-parse --show-toplevel 2>/dev/null)" = "$ROOT" ] || return 0
	hash=${commit%-dirty}
	hash=${hash##*-g}
	if [ -z "$hash" ] || [[ "$head" != "$hash"* ]]; then
		REASON="--version says commit $commit, git rev-parse HEAD is $head (rebuild?)"
		return 1
	fi
}

case_cli_version() {
	local flag=$1 st fmt

	cli_out "$flag"
	st=$?
	if [ "$st" != 0 ]; then
		REASON="lmproc $flag exited $st: $(head -n 1 "$RD/cli.err")"
		return 1
	fi
	if [ -s "$RD/cli.err" ]; then
		REASON="lmproc $flag wrote on stderr: $(head -n 1 "$RD/cli.err")"
		return 1
	fi
	fmt=$(sed -n 's/^#define IMAGE_VERSION \([0-9]*\)$/\1/p' "$ROOT/criu-lite/include/image.h")
	cli_line '^lmproc [0-9]+\.[0-9]+\.[0-9]+$' version || return 1
	cli_line "^image format $fmt\$" "image format $fmt" || return 1
	cli_line '^commit [^ ]+$' commit || return 1
	cli_line '^features: [a-z0-9 -]+$' features || return 1
	cli_line '^built with: libbpf ' "built with" || return 1
	if [ "$(wc -l <"$RD/cli.out")" != 5 ]; then
		REASON="lmproc $flag printed $(wc -l <"$RD/cli.out") lines, expected 5"
		return 1
	fi
	cli_commit_is_head "$(sed -n 's/^commit //p' "$RD/cli.out")"
}

# Outside a git checkout (a release tarball) the build still works and
# says "unknown", even inside another repository.
case_cli_version_no_git() {
	local d=$DD/tarball commit

	mkdir -p "$d" && cp "$ROOT/Makefile" "$d/" || return 1
	git -C "$DD" init -q 2>/dev/null
	if ! ROOT=$d cli_make 60 build/lmproc-version.h >"$RD/make.out" 2>&1; then
		REASON="make build/lmproc-version.h failed outside git: $(head -n 1 "$RD/make.out")"
		return 1
	fi
	commit=$(sed -n 's/^#define LMPROC_COMMIT "\(.*\)"$/\1/p' "$d/build/lmproc-version.h")
	if [ "$commit" != unknown ]; then
		REASON="outside a git checkout the commit is '$commit', expected unknown"
		return 1
	fi
}

# --- man page ----------------------------------------------------------------

CLI_MAN=$ROOT/docs/lmproc.8

# cli_help_options: every option `lmproc --help` names (--long and -x),
# one a line.
cli_help_options() {
	"$LMPROC" --help >"$RD/help.txt" || return 1
	{
		grep -oE -- '--[a-z][a-z0-9-]*' "$RD/help.txt"
		grep -oE -- '(^|[^A-Za-z0-9-])-[A-Za-z]([^A-Za-z0-9-]|$)' "$RD/help.txt" |
			grep -oE -- '-[A-Za-z]'
	} | sort -u
}

# cli_help_commands: the commands `lmproc --help` lists.
cli_help_commands() {
	"$LMPROC" --help | sed -n '/^Commands:/,/^Options:/s/^  \([a-z-]*\)  .*/\1/p'
}

# cli_man_tags [SECTION]: the tags of the man page's tagged paragraphs
# (the line after .TP), in SECTION or all, as text ("\-" as "-", no font
# changes).
cli_man_tags() {
	awk -v want="${1:-}" '/^\.SH/ { sect = $2 } prev == ".TP" && (want == "" || sect == want) { print }
		{ prev = $0 }' "$CLI_MAN" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g'
}

# Every option and command of --help has its entry in lmproc(8).
case_cli_man_covers_help() {
	local opt missing="" cmds=0 opts=0 re

	cli_man_tags OPTIONS >"$RD/tags.txt"
	cli_man_tags COMMANDS >"$RD/cmd-tags.txt"
	for opt in $(cli_help_options); do
		opts=$((opts + 1))
		re="(^|[^A-Za-z0-9-])${opt}([^A-Za-z0-9-]|\$)"
		grep -qE -- "$re" "$RD/tags.txt" || missing+=" option $opt"
	done
	for opt in $(cli_help_commands); do
		cmds=$((cmds + 1))
		grep -qxF -- ".B $opt" "$RD/cmd-tags.txt" || missing+=" command $opt"
	done
	if [ "$opts" -lt 30 ] || [ "$cmds" != 7 ]; then
		REASON="parsed $opts options and $cmds commands from lmproc --help: the parser is broken"
		return 1
	fi
	if [ -n "$missing" ]; then
		REASON="docs/lmproc.8 lacks what lmproc --help lists:$missing"
		REASON+=" (add a .TP entry under OPTIONS or COMMANDS)"
		return 1
	fi
}

# lmproc(8) renders with no warning and has every section a man page of
# a command needs.
case_cli_man_renders() {
	local sect version

	if ! command -v groff >/dev/null; then
		REASON="no groff here to render the man page"
		return 2
	fi
	if ! LC_ALL=C.UTF-8 groff -man -ww -Tutf8 -P -cbou "$CLI_MAN" >"$RD/man.txt" 2>"$RD/man.err"; then
		REASON="groff failed on docs/lmproc.8: $(head -n 1 "$RD/man.err")"
		return 1
	fi
	if [ -s "$RD/man.err" ]; then
		REASON="groff warns on docs/lmproc.8: $(head -n 1 "$RD/man.err")"
		return 1
	fi
	for sect in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "EXIT STATUS" FILES ENVIRONMENT \
		"SEE ALSO"; do
		if ! grep -q "^\.SH \"*$sect\"*\$" "$CLI_MAN"; then
			REASON="docs/lmproc.8 has no $sect section"
			return 1
		fi
	done
	if ! grep -q "LMPROC_FAULT" "$RD/man.txt"; then
		REASON="the rendered page does not mention LMPROC_FAULT"
		return 1
	fi
	version=$("$LMPROC" --version | sed -n 's/^lmproc //p')
	if ! grep -q "^\.TH LMPROC 8 .* \"lmproc $version\"" "$CLI_MAN"; then
		REASON="docs/lmproc.8's .TH does not name lmproc $version (lmproc --version)"
		return 1
	fi
}

# --- make install ------------------------------------------------------------

# cli_tree DIR: what DIR holds, "MODE PATH" a line, sorted.
cli_tree() {
	(cd "$1" && find . -mindepth 1 \( -type f -o -path '*/sbin' -o -path '*/man8' -o \
		-path '*/completions' \) -printf '%m %P\n' | sort -k2)
}

# cli_make SECONDS ARGS...: make ARGS in the tree, bounded.  Not a
# sub-make of "make check": its MAKEFLAGS (a jobserver's fds) are not ours.
cli_make() {
	timeout -k 5 "$1" env -u MAKEFLAGS -u MFLAGS make -s -C "$ROOT" "${@:2}"
}

# make install DESTDIR=... PREFIX=/usr, as dh_auto_install runs it:
# exactly the binary (sbin, as Debian's criu), the man page and the
# completion, with their modes; make uninstall takes them away again.
case_cli_install() {
	local dest=$DD/dest want

	want="755 usr/sbin
755 usr/sbin/lmproc
755 usr/share/bash-completion/completions
644 usr/share/bash-completion/completions/lmproc
755 usr/share/man/man8
644 usr/share/man/man8/lmproc.8"
	if ! (umask 022 && cli_make 600 install DESTDIR="$dest" PREFIX=/usr) \
		>"$RD/make.out" 2>&1; then
		REASON="make install DESTDIR=$dest PREFIX=/usr failed: $(tail -n 1 "$RD/make.out")"
		return 1
	fi
	if [ "$(cli_tree "$dest")" != "$want" ]; then
		REASON="make install made: $(cli_tree "$dest" | tr '\n' '|'), expected: ${want//$'\n'/|}"
		return 1
	fi
	if ! cmp -s "$dest/usr/sbin/lmproc" "$ROOT/lmproc" ||
		! cmp -s "$dest/usr/share/man/man8/lmproc.8" "$CLI_MAN"; then
		REASON="the installed lmproc or lmproc.8 differs from the tree's"
		return 1
	fi
	if ! cli_make 60 uninstall DESTDIR="$dest" PREFIX=/usr >"$RD/make.out" 2>&1; then
		REASON="make uninstall failed: $(tail -n 1 "$RD/make.out")"
		return 1
	fi
	if [ -n "$(find "$dest" -type f)" ]; then
		REASON="make uninstall left: $(find "$dest" -type f | head -n 3 | tr '\n' ' ')"
		return 1
	fi
}

# --- bash completion ---------------------------------------------------------

CLI_COMPLETION=$ROOT/contrib/lmproc.bash-completion

# cli_complete WORD...: COMPREPLY, sorted, one a line, of completing the
# last WORD of "lmproc WORD...", in a bash with nothing else loaded, from
# DD (where the case's files are).
cli_complete() {
	# shellcheck disable=SC2016 # expanded by that bash
	(cd "$DD" && timeout -k 5 10 bash --norc --noprofile -c '
		. "$1" || exit 1
		shift
		COMP_WORDS=(lmproc "$@")
		COMP_CWORD=$#
		_lmproc
		printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort' complete "$CLI_COMPLETION" "$@")
}

# cli_expect WANT WORD...: completing WORD... gives exactly WANT (words
# separated by spaces).
cli_expect() {
	local want=$1 got

	shift
	got=$(cli_complete "$@" | tr '\n' ' ')
	got=${got% }
	if [ "$got" != "$want" ]; then
		REASON="completing 'lmproc $*' gave '$got', expected '$want'"
		return 1
	fi
}

case_cli_completion() {
	local pid

	mkdir -p "$DD/imgs1" "$DD/imgs2" && : >"$DD/imgsfile" && : >"$DD/key.pem" || return 1
	cli_expect "check dump migrate pre-dump restore serve show" "" || return 1
	cli_expect "pre-dump" pr || return 1
	cli_expect "--page-path --prev-images-dir" dump --p || return 1
	cli_expect "--prev-images-dir" dump -t 1 -D x --pre || return 1
	cli_expect "--pidfile --pidns" -v3 restore --pid || return 1
	cli_expect "" restore --to || return 1
	cli_expect "--tree" migrate --tr || return 1
	cli_expect "read splice" dump --page-path "" || return 1
	cli_expect "auto ebpf pagemap-scan soft-dirty" pre-dump --track "" || return 1
	cli_expect "full ignore soft strict" restore --manage-cgroups = "" || return 1
	cli_expect "soft strict" restore --manage-cgroups = s || return 1
	cli_expect "imgs1 imgs2" dump -D im || return 1
	cli_expect "imgs1 imgs2" pre-dump --prev-images-dir im || return 1
	cli_expect "imgs1 imgs2 imgsfile" migrate --tls-psk-file im || return 1
	cli_expect "key.pem" serve --tls-key k || return 1
	# The pids of /proc: a process this case started.
	sleep 30 &
	pid=$!
	if ! cli_complete dump -t "$pid" | grep -qx "$pid"; then
		REASON="completing 'lmproc dump -t $pid' does not offer the running pid $pid"
		kill "$pid"
		return 1
	fi
	kill "$pid"
	wait "$pid" 2>/dev/null
	return 0
}

# Every option and command of --help is offered: the commands, and each
# option after some command (or before any, for the global ones).
case_cli_completion_covers_help() {
	local opt missing=""

	# shellcheck disable=SC2016 # expanded by that bash
	if ! timeout -k 5 10 bash --norc --noprofile -c '. "$1" || exit 1
		for c in $_lmproc_commands; do _lmproc_options "$c"; done
		echo "$_lmproc_commands $_lmproc_global"' offered "$CLI_COMPLETION" \
		>"$RD/offered.raw" 2>"$RD/offered.err"; then
		REASON="could not source contrib/lmproc.bash-completion: $(head -n 1 "$RD/offered.err")"
		return 1
	fi
	tr -s ' \t' '\n' <"$RD/offered.raw" | sort -u >"$RD/offered.txt"
	for opt in $(cli_help_options) $(cli_help_commands); do
		grep -qxF -- "$opt" "$RD/offered.txt" || missing+=" $opt"
	done
	if [ -n "$missing" ]; then
		REASON="contrib/lmproc.bash-completion does not offer what lmproc --help lists:$missing"
		return 1
	fi
}

run_cli_bad_input() {
	CASE_KIND=cli bad_case version case_cli_version --version
	CASE_KIND=cli bad_case version-short case_cli_version -V
	CASE_KIND=cli bad_case version-outside-git case_cli_version_no_git
	CASE_KIND=cli bad_case man-page-covers-help case_cli_man_covers_help
	CASE_KIND=cli bad_case man-page-renders case_cli_man_renders
	CASE_KIND=cli bad_case install case_cli_install
	CASE_KIND=cli bad_case completion case_cli_completion
	CASE_KIND=cli bad_case completion-covers-help case_cli_completion_covers_help
}
