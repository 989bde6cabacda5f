# shellcheck shell=bash disable=SC2034 # REASON: bad_case reports it
# --json of dump, pre-dump, restore and check, for test/bad-input/cases.sh:
# each prints one object on stdout, checked field by field with python3's
# json module against what the command did (the images written, the
# stats images as `lmproc show` decodes them, the target's pid), and a
# refused dump's object names the same reason as its one error line.
# And the progress line: drawn on a terminal (a pty from script(1)) and
# cleared at the end, never without one, never with --json.

# The python3 prelude of json_check: the one line of ARGV[1] as O, the
# rest of the arguments as ARGS, want(COND, WHY) to fail.
JSON_PRELUDE='
import json, os, sys
lines = open(sys.argv[1]).read().splitlines()
if len(lines) != 1:
    sys.exit(f"{len(lines)} lines on stdout, expected one object")
o = json.loads(lines[0])
args = sys.argv[2:]
def want(cond, why):
    if not cond:
        sys.exit(f"{why}: {lines[0][:240]}")
def same_as_show(stats, path):
    img = json.load(open(path))["entries"][0]
    want(stats == img, f"stats differ from {os.path.basename(path)} ({img})")
'

# json_check FILE CODE [ARG...]: CODE (python3, after JSON_PRELUDE) passes
# on the object in FILE.
json_check() {
	local file=$1 code=$2 out

	shift 2
	if ! out=$(python3 -c "$JSON_PRELUDE$code" "$file" "$@" 2>&1); then
		REASON="--json: $(echo "$out" | tail -n 1 | cut -c1-400)"
		return 1
	fi
}

# show_img IMAGE OUT: `lmproc show IMAGE` into OUT.
show_img() {
	if ! "$LMPROC" show "$1" >"$2" 2>"$RD/show.err"; then
		REASON="lmproc show $(basename "$1") failed: $(head -n 1 "$RD/show.err")"
		return 1
	fi
}

# The checks of a dump's or pre-dump's object: ARGS are the command, the
# result, the pid, the images directory and its stats-dump.img decoded.
JSON_DUMP_CODE='
cmd, result, pid, d, show = args[0], args[1], int(args[2]), args[3], args[4]
want(o.get("command") == cmd, "command")
want(o.get("result") == result, "result")
want(o.get("pid") == pid, "pid")
want(o.get("images_dir") == d, "images_dir")
want(o.get("prev_images_dir") is None, "prev_images_dir")
want("reason" not in o, "a reason for a success")
imgs = [f for f in os.listdir(d) if f.endswith(".img") and
        os.path.isfile(os.path.join(d, f)) and not os.path.islink(os.path.join(d, f))]
want(o.get("images") == len(imgs), f"images, {len(imgs)} in the directory")
size = sum(os.path.getsize(os.path.join(d, f)) for f in imgs)
want(o.get("bytes_written") == size, f"bytes_written, {size} in the directory")
procs = o.get("processes", [])
want(len(procs) == 1 and procs[0].get("pid") == pid, "processes")
p, s = procs[0], o.get("stats", {})
want(p["pages_written"] > 0 and p["pages_scanned"] >= p["pages_written"], "the pages")
for k in ("pages_written", "pages_scanned", "pages_skipped_zero", "pages_skipped_parent"):
    want(p[k] == s.get(k), f"{k} of the process and of the stats")
for k in ("freezing_time_us", "frozen_time_us", "total_time_us", "vmas_time_us",
          "parasite_time_us", "page_copy_time_us", "self_check_time_us", "other_time_us"):
    want(isinstance(s.get(k), int), f"stats {k}")
stages = sum(v for k, v in s.items() if k.endswith("_time_us") and k not in
             ("freezing_time_us", "frozen_time_us", "total_time_us", "memdump_time_us",
              "memwrite_time_us", "track_collect_time_us"))
want(stages == s["frozen_time_us"], f"the stages add up to {stages}")
same_as_show(s, show)
'

# A dump -R: the object is what the dump did, its stats those of
# stats-dump.img; the target runs on.  The images directory's name has a
# quote, a backslash, a tab and a non-ASCII letter, which the object
# gives back exactly.
case_json_dump() {
	local dir=$RD/im\"g\\$'\t'é

	target_up || return 1
	mkdir -p "$dir"
	if ! bad_lmproc dump -R -t "$TPID" -D "$dir" --json; then
		REASON="dump -R --json failed: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	show_img "$dir/stats-dump.img" "$RD/show.json" || return 1
	json_check "$RD/bad.out" "$JSON_DUMP_CODE
want(o.get('leave_running') is True, 'leave_running')" \
		dump dumped "$TPID" "$dir" "$RD/show.json" || return 1
	target_intact
}

case_json_pre_dump() {
	target_up || return 1
	mkdir -p "$RD/img"
	if ! bad_lmproc pre-dump -t "$TPID" -D "$RD/img" --json; then
		REASON="pre-dump --json failed: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	show_img "$RD/img/stats-dump.img" "$RD/show.json" || return 1
	json_check "$RD/bad.out" "$JSON_DUMP_CODE
want(o.get('track_backend') in ('pagemap-scan', 'soft-dirty', 'ebpf'), 'track_backend')
want('leave_running' not in o, 'leave_running in a pre-dump')" \
		pre-dump pre-dumped "$TPID" "$RD/img" "$RD/show.json" || return 1
	target_intact
}

# The checks of a restore's object: ARGS are the pid, the images
# directory, detach (true/false) and its stats-restore.img decoded.
JSON_RESTORE_CODE='
pid, d, detach, show = int(args[0]), args[1], args[2] == "true", args[3]
want(o.get("command") == "restore" and o.get("result") == "restored", "result")
want(o.get("pid") == pid and o.get("images_dir") == d, "pid or images_dir")
want(o.get("detach") is detach and o.get("pidns") is False, "detach or pidns")
procs, s = o.get("processes", []), o.get("stats", {})
want(len(procs) == 1 and procs[0].get("pid") == pid, "processes")
want(procs[0].get("pages_restored", 0) > 0, "pages_restored")
want(procs[0]["pages_restored"] == s.get("pages_restored"), "pages_restored of the stats")
for k in ("forking_time_us", "restore_time_us", "total_time_us"):
    want(isinstance(s.get(k), int), f"stats {k}")
same_as_show(s, show)
'

case_json_restore() {
	target_up || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	if ! bad_lmproc restore -d -D "$RD/img" --json; then
		REASON="restore -d --json failed: $(head -n 1 "$RD/bad.err")"
		return 1
	fi
	show_img "$RD/img/stats-restore.img" "$RD/show.json" || return 1
	json_check "$RD/bad.out" "$JSON_RESTORE_CODE" "$TPID" "$RD/img" true \
		"$RD/show.json" || return 1
	same_state "$TPID" "$TSNAP" 3000 || return 1
	term_verdict
}

# Without -d the object comes once the tree runs, while restore waits for
# it; restore's exit status is still the tree's.
case_json_restore_wait() {
	local lm st

	target_up || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	timeout -k 5 60 "$LMPROC" restore -D "$RD/img" --json >"$RD/bad.out" 2>"$RD/bad.err" &
	lm=$!
	if ! wait_until 20000 file_ready "$RD/bad.out"; then
		REASON="no object on stdout while restore waits: $(head -n 1 "$RD/bad.err")"
		kill_ours "$TPID"
		wait "$lm"
		return 1
	fi
	show_img "$RD/img/stats-restore.img" "$RD/show.json" || { kill_ours "$TPID"; return 1; }
	json_check "$RD/bad.out" "$JSON_RESTORE_CODE" "$TPID" "$RD/img" false \
		"$RD/show.json" || { kill_ours "$TPID"; wait "$lm"; return 1; }
	if ! kill -0 "$lm" 2>/dev/null; then
		REASON="restore without -d returned before the tree ended"
		kill_ours "$TPID"
		return 1
	fi
	same_state "$TPID" "$TSNAP" 3000 || { kill_ours "$TPID"; wait "$lm"; return 1; }
	term_verdict || { wait "$lm"; return 1; }
	wait "$lm"
	st=$?
	if [ "$st" != 0 ]; then
		REASON="restore exited $st, the tree 0"
		return 1
	fi
	json_check "$RD/bad.out" 'pass'
}

# check: one object whose features are the table's lines, name by name;
# --feature NAME gives that one; an unknown NAME is a failure with its
# reason, the error line still on stderr.
case_json_check() {
	local st1 st2 first

	"$LMPROC" check >"$RD/check.txt" 2>/dev/null
	st1=$?
	bad_lmproc check --json
	st2=$?
	if [ "$st1" != "$st2" ]; then
		REASON="check exited $st1, check --json $st2"
		return 1
	fi
	json_check "$RD/bad.out" '
want(o.get("command") == "check", "command")
table = [l.split(None, 2) for l in open(args[0]).read().splitlines()[:-1]]
feats = o.get("features", [])
want([f["name"] for f in feats] == [t[0] for t in table], "the names differ from the table")
for f, t in zip(feats, table):
    n = f["name"]
    want(f["ok"] == (t[1] == "yes"), f"{n}: ok")
    want(isinstance(f["required"], bool), f"{n}: required")
    want((t[2] if len(t) > 2 else "").startswith(f["detail"]), f"{n}: detail")
missing = sum(1 for f in feats if f["required"] and not f["ok"])
want(o.get("missing") == missing, "missing")
want(o.get("result") == ("missing" if missing else "ok"), "result")
' "$RD/check.txt" || return 1
	first=$(awk 'NR == 1 { print $1 }' "$RD/check.txt")
	bad_lmproc check --feature "$first" --json
	json_check "$RD/bad.out" '
feats = o.get("features", [])
want(len(feats) == 1 and feats[0]["name"] == args[0], "--feature gives that one")
' "$first" || return 1
	bad_lmproc check --feature no_such_feature --json
	refused $? no_such_feature || return 1
	json_check "$RD/bad.out" '
want(o.get("result") == "failed" and "no_such_feature" in o.get("reason", ""), "reason")
'
}

# check -D --json of a dump -R (the tree runs on, so its pids are taken):
# one element per line of the text check -D prints, in its order, the
# same names, oks and details, result "refused" as the text's last line
# says, the same exit status; a directory that is not there: "failed".
case_json_check_dir() {
	local st1 st2

	target_up || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -R -t "$TPID" -D "$RD/img" || return 1
	"$LMPROC" check -D "$RD/img" >"$RD/check.txt" 2>/dev/null
	st1=$?
	bad_lmproc check -D "$RD/img" --json
	st2=$?
	if [ "$st1" != "$st2" ] || [ "$st1" = 0 ]; then
		REASON="check -D exited $st1, with --json $st2 (its pids are taken: 1 both)"
		return 1
	fi
	json_check "$RD/bad.out" '
want(o.get("command") == "check" and o.get("images_dir") == args[1], "command, images_dir")
lines = open(args[0]).read().splitlines()
table = [l.split(None, 2) for l in lines[:-1]]
checks = o.get("checks", [])
want([c["name"] for c in checks] == [t[0] for t in table], "the names differ from the text")
for c, t in zip(checks, table):
    want(c["ok"] == (t[1] == "ok") and c["detail"] == t[2], c["name"] + ": ok or detail")
want(not all(c["ok"] for c in checks), "every check ok though the pids are taken")
want(o.get("result") == "refused" and "can" in lines[-1], "result")
' "$RD/check.txt" "$RD/img" || return 1
	bad_lmproc check -D "$RD/no-such-dir" --json
	refused $? "no-such-dir" || return 1
	json_check "$RD/bad.out" '
want(o.get("result") == "failed" and "no-such-dir" in o.get("reason", ""), "reason")
' && target_intact
}

# A refused dump (and pre-dump): its object says refused, with the error
# line's reason and the errno; the error line is still on stderr alone.
case_json_refused() {
	local cmd

	target_up "$BUILD/bad-input/unsupported_fd" || return 1
	mkdir -p "$RD/img"
	for cmd in pre-dump dump; do
		bad_lmproc "$cmd" -t "$TPID" -D "$RD/img" --json
		refused $? "$TPID" netlink || return 1
		json_check "$RD/bad.out" '
cmd, pid, err = args[0], int(args[1]), args[2]
want(o.get("command") == cmd and o.get("result") == "refused", "result")
want(o.get("pid") == pid, "pid")
want("Error: " + o.get("reason", "") == err, f"reason, the error line is {err!r}")
want(o.get("errno") == "EOPNOTSUPP", "errno")
want("stats" not in o and "processes" not in o, "figures of a refused dump")
' "$cmd" "$TPID" "$(grep -m1 '^Error' "$RD/bad.err")" || return 1
	done
	target_intact
}

# The progress line: a dump of predump_writer (256 MiB) on a pty draws it
# (LMPROC_PROGRESS_AFTER_MS=0: at once, whatever the machine's speed) and
# clears it at the end; with stderr not a terminal, and with --json, none.
case_progress_line() {
	local cmd out

	if ! command -v script >/dev/null; then
		REASON="script (util-linux) missing"
		return 2
	fi
	target_up "$BUILD/static/predump_writer" || return 1
	mkdir -p "$RD/img"
	printf -v cmd '%q ' timeout -k 5 "$LM_TIMEOUT" "$LMPROC" dump -R -t "$TPID" -D "$RD/img"
	if ! LMPROC_PROGRESS_AFTER_MS=0 script -qec "$cmd" /dev/null >"$RD/tty.out" 2>&1 \
		</dev/null; then
		REASON="dump -R on a pty failed: $(head -c 200 "$RD/tty.out")"
		return 1
	fi
	if ! out=$(python3 - "$RD/tty.out" 2>&1 <<'PY'
import re, sys
out = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
lines = re.findall(r"\r\x1b\[Kdump: (\d+)/(\d+) processes, [0-9.]+ MiB, [0-9.]+ MiB/s", out)
if not lines:
    sys.exit(f"no progress line: {out[:200]!r}")
if any(t != "1" for _, t in lines):
    sys.exit(f"not 1 process in total: {lines}")
last = out.rfind("MiB/s")
if not out[last:].startswith("MiB/s\r\x1b[K") or out[last + 9:].strip():
    sys.exit(f"not cleared at the end: {out[last - 60:]!r}")
PY
	); then
		REASON="progress line on a pty: $(echo "$out" | tail -n 1 | cut -c1-300)"
		return 1
	fi
	if ! LMPROC_PROGRESS_AFTER_MS=0 bad_lmproc dump -R -t "$TPID" -D "$RD/img" ||
		[ -s "$RD/bad.err" ] || [ -s "$RD/bad.out" ]; then
		REASON="dump -R without a terminal printed: $(head -c 200 "$RD/bad.err" | cat -v)"
		return 1
	fi
	printf -v cmd '%q ' timeout -k 5 "$LM_TIMEOUT" "$LMPROC" dump -R -t "$TPID" -D "$RD/img" \
		--json
	if ! LMPROC_PROGRESS_AFTER_MS=0 script -qec "$cmd" /dev/null >"$RD/tty.out" 2>&1 \
		</dev/null; then
		REASON="dump -R --json on a pty failed: $(head -c 200 "$RD/tty.out")"
		return 1
	fi
	tr -d '\r' <"$RD/tty.out" >"$RD/bad.out"
	json_check "$RD/bad.out" 'want(o.get("result") == "dumped", "result")' || return 1
	target_intact
}

# A restore -d on a pty draws its line too (1 of 1 process, the pages
# its restorer filled) and clears it before the tree runs.  Under
# script(1) lmproc has a session of its own, which the restored target
# joins (warned): it is not the target's state that is checked here.
case_progress_restore() {
	local cmd out

	if ! command -v script >/dev/null; then
		REASON="script (util-linux) missing"
		return 2
	fi
	target_up || return 1
	mkdir -p "$RD/img"
	must_lm dump "dump" dump -t "$TPID" -D "$RD/img" || return 1
	reap_dumped "$TPID" || return 1
	printf -v cmd '%q ' timeout -k 5 "$LM_TIMEOUT" "$LMPROC" restore -d -D "$RD/img"
	if ! LMPROC_PROGRESS_AFTER_MS=0 script -qec "$cmd" /dev/null >"$RD/tty.out" 2>&1 \
		</dev/null; then
		REASON="restore -d on a pty failed: $(head -c 200 "$RD/tty.out")"
		kill_ours "$TPID"
		return 1
	fi
	if ! out=$(python3 - "$RD/tty.out" 2>&1 <<'PY'
import re, sys
out = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
if not re.search(r"\r\x1b\[Krestore: 1/1 processes, (?!0\.0 )[0-9.]+ MiB, [0-9.]+ MiB/s\r\x1b\[K$", out):
    sys.exit(f"no progress line of 1/1 processes cleared at the end: {out[-200:]!r}")
PY
	); then
		REASON="progress line of a restore on a pty: $(echo "$out" | tail -n 1 | cut -c1-300)"
		kill_ours "$TPID"
		return 1
	fi
	kill_ours "$TPID"
}

run_json_bad_input() {
	bad_case json-dump case_json_dump
	bad_case json-pre-dump case_json_pre_dump
	bad_case json-restore case_json_restore
	bad_case json-restore-wait case_json_restore_wait
	bad_case json-check case_json_check
	bad_case json-check-dir case_json_check_dir
	bad_case json-refused case_json_refused
	bad_case progress-line case_progress_line
	bad_case progress-restore case_progress_restore
}
