#!/usr/bin/env bash
# cli.sh BINARY - command-line behaviour that needs a shell: pipes, /dev/full, signals, options,
# exit codes. Run from the repository root. Needs jq (installed by the README's first command).
set -u
bin=$1
ex=examples
. "$(dirname "$0")/lib.sh"

cat >"$tmp/r.yaml" <<'YAML'
rules:
  - id: big
    key: card
    where: amount > 100
YAML
printf '{"ts":1,"card":"a","amount":500}\n{"ts":2,"card":"b","amount":5}\n{"ts":3,"card":"c","amount":700}\n' >"$tmp/in.jsonl"

# help, version, usage errors
out=$("$bin" --help); expect_rc 0 $? "--help"
expect_match '^usage: tripline' "$out" "--help text"
out=$("$bin" -V); expect_rc 0 $? "-V"
expect_match '^tripline [0-9]+\.[0-9]+\.[0-9]+$' "$out" "-V text"
err=$("$bin" --bogus 2>&1 >/dev/null); expect_rc 2 $? "unknown option"
expect_match "unrecognized option '--bogus'" "$err" "unknown option message"
err=$("$bin" "$tmp/in.jsonl" 2>&1 >/dev/null); expect_rc 2 $? "no rules"
expect_eq "tripline: no rules: give -r RULES (see tripline --help)" "$err" "no rules message"
err=$("$bin" --max-line 0 -r "$tmp/r.yaml" 2>&1 >/dev/null); expect_rc 2 $? "--max-line 0"
err=$("$bin" -r "$tmp/nope.yaml" "$tmp/in.jsonl" 2>&1 >/dev/null); expect_rc 2 $? "missing rule file"
expect_match "^tripline: .*nope.yaml: No such file or directory$" "$err" "missing rule file message"

# a missing input file is reported, the others are still read, exit 2
out=$("$bin" -r "$tmp/r.yaml" "$tmp/missing.jsonl" "$tmp/in.jsonl" 2>"$tmp/err"); expect_rc 2 $? "missing input"
expect_eq 2 "$(printf '%s\n' "$out" | grep -c '"rule":"big"')" "alerts after a missing input"
expect_match "missing.jsonl: No such file or directory" "$(cat "$tmp/err")" "missing input message"

# exit status: -e and -q
"$bin" -e -r "$tmp/r.yaml" "$tmp/in.jsonl" >/dev/null; expect_rc 0 $? "-e with alerts"
printf '{"ts":1,"card":"a","amount":5}\n' | "$bin" -e -r "$tmp/r.yaml" >/dev/null; expect_rc 1 $? "-e without alerts"
out=$("$bin" -q -r "$tmp/r.yaml" "$tmp/in.jsonl"); expect_rc 0 $? "-q with alerts"
expect_eq "" "$out" "-q writes nothing"
printf '{"ts":1,"card":"a","amount":5}\n' | "$bin" -q -r "$tmp/r.yaml"; expect_rc 1 $? "-q without alerts"

# | head -1 ends quietly, with the first alert
seq 1 200000 | sed 's/.*/{"ts":&,"card":"c&","amount":500}/' >"$tmp/many.jsonl"
out=$("$bin" -r "$tmp/r.yaml" "$tmp/many.jsonl" 2>"$tmp/err" | head -1)
expect_match '^\{"rule":"big","ts":1,' "$out" "| head -1 output"
expect_eq "" "$(cat "$tmp/err")" "| head -1 is quiet"

# a full disk is an error, exit 2
"$bin" -r "$tmp/r.yaml" "$tmp/many.jsonl" >/dev/full 2>"$tmp/err"; expect_rc 2 $? "> /dev/full"
expect_match '^tripline: error writing output: No space left on device$' "$(cat "$tmp/err")" "/dev/full message"
"$bin" -o /dev/full -r "$tmp/r.yaml" "$tmp/in.jsonl" 2>"$tmp/err"; expect_rc 2 $? "-o /dev/full"
# a closed stdout is an error too, never a silent loss
"$bin" -r "$tmp/r.yaml" "$tmp/in.jsonl" >&- 2>"$tmp/err"; expect_rc 2 $? "closed stdout"
expect_match '^tripline: error writing output: Bad file descriptor$' "$(cat "$tmp/err")" "closed stdout message"

# -o FILE
"$bin" -o "$tmp/out.jsonl" -r "$tmp/r.yaml" "$tmp/in.jsonl"; expect_rc 0 $? "-o"
expect_eq 2 "$(wc -l <"$tmp/out.jsonl")" "-o writes the alerts"

# stdin, also as '-', and several inputs
out=$("$bin" -r "$tmp/r.yaml" <"$tmp/in.jsonl" | wc -l); expect_eq 2 "$out" "stdin"
out=$("$bin" -r "$tmp/r.yaml" - "$tmp/in.jsonl" <"$tmp/in.jsonl" 2>/dev/null | wc -l)
expect_eq 3 "$out" "stdin then a file (ts 1 and 2 are late, ts 3 is not)"

# --stats: one JSON object on stderr
"$bin" --stats -r "$tmp/r.yaml" "$tmp/in.jsonl" 2>"$tmp/stats" >/dev/null; expect_rc 0 $? "--stats"
expect_eq 3 "$(jq .events_read "$tmp/stats")" "stats events_read"
expect_eq 3 "$(jq .processed "$tmp/stats")" "stats processed"
expect_eq 2 "$(jq .alerts_by_rule.big "$tmp/stats")" "stats alerts per rule"
expect_eq 0 "$(jq .malformed "$tmp/stats")" "stats malformed"
expect_eq true "$(jq '.peak_rss_bytes > 0' "$tmp/stats")" "stats peak memory"
printf '{"ts":1,"card":"a","amount":500}\nnot json\n{"ts":0,"card":"z","amount":1}\n' |
  "$bin" --stats -r "$tmp/r.yaml" 2>"$tmp/stats" >/dev/null
expect_eq 1 "$(tail -1 "$tmp/stats" | jq .malformed)" "stats counts malformed"
expect_eq 1 "$(tail -1 "$tmp/stats" | jq .late)" "stats counts late"
expect_eq 1 "$(tail -1 "$tmp/stats" | jq .processed)" "processed + malformed + late = read"

# --rejects keeps malformed, late and over-long lines verbatim
long=$(head -c 3000 /dev/zero | tr '\0' 'x')
printf '{"ts":5,"card":"a","amount":1}\nbroken\r\n{"ts":1,"card":"a","amount":1}\n{"ts":6,"pad":"%s"}\n{"ts":7}\n' "$long" |
  "$bin" --max-line 1000 --rejects "$tmp/rej" -r "$tmp/r.yaml" >/dev/null 2>"$tmp/err"
expect_rc 0 $? "--rejects"
expect_eq "$(printf 'broken\n{"ts":1,"card":"a","amount":1}\n{"ts":6,"pad":"%s"}' "$long")" "$(cat "$tmp/rej")" "rejects content"
expect_match ':4: line is longer than 1000 bytes \(--max-line\)' "$(cat "$tmp/err")" "over-long line message"

# --strict stops with exit 4 at the first malformed line, after writing earlier alerts
out=$(printf '{"ts":1,"card":"a","amount":500}\nbroken\n{"ts":2,"card":"b","amount":500}\n' |
  "$bin" --strict -r "$tmp/r.yaml" 2>"$tmp/err"); expect_rc 4 $? "--strict"
expect_eq 1 "$(printf '%s\n' "$out" | grep -c rule)" "--strict keeps earlier alerts"
expect_match '^tripline: <stdin>:2: invalid JSON at byte 1: ' "$(cat "$tmp/err")" "--strict message"

# a rule error is exit 3 and no event is read
printf 'rules:\n  - id: x\n    wher: 1\n' >"$tmp/bad.yaml"
"$bin" -r "$tmp/bad.yaml" "$tmp/in.jsonl" >"$tmp/out" 2>/dev/null; expect_rc 3 $? "rule error"
expect_eq "" "$(cat "$tmp/out")" "no output after a rule error"

# a file with many errors: the first 50 are shown, all are counted
{ echo "rules:"; for i in $(seq 60); do printf '  - id: r%d\n    wher: x\n' "$i"; done; } >"$tmp/many.yaml"
"$bin" check "$tmp/many.yaml" 2>"$tmp/err" >/dev/null; expect_rc 3 $? "many rule errors"
expect_eq 50 "$(grep -c ': error: ' "$tmp/err")" "errors shown are capped"
expect_match "many.yaml: 120 errors \(only the first 50 of the run are shown\)$" "$(tail -1 "$tmp/err")" "error count line"

# check
out=$("$bin" check "$ex/fraud.yaml"); expect_rc 0 $? "check"
expect_match '^examples/fraud.yaml: ok: [0-9]+ rules' "$out" "check summary"
"$bin" check "$ex/fraud.yaml" "$tmp/bad.yaml" >/dev/null 2>&1; expect_rc 3 $? "check with a bad file"

# on_fifo OUT ARGS...: the binary in the background ($pid) with ARGS, reading the fifo that fd 7
# then holds open for writing, its output to OUT
mkfifo "$tmp/fifo"
on_fifo() {
	local out=$1
	shift
	"$bin" "$@" <"$tmp/fifo" >"$out" &
	pid=$!
	exec 7>"$tmp/fifo"
}
# output_within_5s FILE: waits until FILE is not empty, 5 s at most
output_within_5s() {
	for _ in $(seq 50); do [ -s "$1" ] && break; sleep 0.1; done
}

# --line-buffered: an alert appears while the input is still open
on_fifo "$tmp/live" --line-buffered -r "$tmp/r.yaml"
printf '{"ts":1,"card":"a","amount":500}\n' >&7
output_within_5s "$tmp/live"
expect_eq 1 "$(wc -l <"$tmp/live")" "--line-buffered alert while input is open"
# the flush-when-input-would-block rule works without --line-buffered too
exec 7>&-
wait $pid
on_fifo "$tmp/live2" -r "$tmp/r.yaml"
printf '{"ts":1,"card":"a","amount":500}\n' >&7
output_within_5s "$tmp/live2"
expect_eq 1 "$(wc -l <"$tmp/live2")" "flush when input would block"

# SIGTERM stops reading, flushes, exits 143
kill -TERM $pid
wait $pid; rc=$?
expect_rc 143 $rc "SIGTERM"
exec 7>&-
on_fifo "$tmp/live3" -r "$tmp/r.yaml"
printf '{"ts":1,"card":"a","amount":500}\n' >&7
sleep 0.3
kill -INT $pid
wait $pid; rc=$?
expect_rc 130 $rc "SIGINT"
expect_eq 1 "$(wc -l <"$tmp/live3")" "SIGINT flushed the alert"
exec 7>&-

# a stop by signal is not the end of input: a pending absence does not fire; at the end it does
cat >"$tmp/abs.yaml" <<'YAML'
rules:
  - id: no-confirm
    key: user
    sequence:
      - {as: transfer, where: type == "transfer"}
      - {not: true, where: type == "confirm"}
    within: 15m
YAML
on_fifo "$tmp/abs.out" -r "$tmp/abs.yaml"
printf '{"ts":1,"type":"transfer","user":"u"}\n' >&7
sleep 0.3
kill -TERM $pid
wait $pid; rc=$?
exec 7>&-
expect_rc 143 $rc "SIGTERM with a pending absence"
expect_eq "" "$(cat "$tmp/abs.out")" "no absence alert at a stop"
out=$(printf '{"ts":1,"type":"transfer","user":"u"}\n' | "$bin" -r "$tmp/abs.yaml")
expect_match '^\{"rule":"no-confirm","ts":901,"key":"u","start":1,' "$out" "absence fires at end of input"

# into a pipe or file, lines are read in batches, but a reader about to wait for input first
# runs what the watermark has passed: the alert of ts 1 appears once ts 10 is in
cat >"$tmp/late.yaml" <<'YAML'
time: {field: ts, lateness: 5s}
rules:
  - id: big
    key: card
    where: amount > 100
YAML
on_fifo "$tmp/live4" -r "$tmp/late.yaml"
printf '{"ts":1,"card":"a","amount":500}\n{"ts":10,"card":"b","amount":5}\n' >&7
output_within_5s "$tmp/live4"
expect_eq 1 "$(wc -l <"$tmp/live4")" "a batch runs before a wait for input"
exec 7>&-
wait $pid; expect_rc 0 $? "end of a batched input"
expect_eq 1 "$(wc -l <"$tmp/live4")" "no alert more at the end"

# hostile input: a 100 MB line, nesting 100,000 deep, a line that never ends; memory stays
# bounded by --max-line (peak RSS well under 100 MB) and every other line is still processed
rss_of() { # rss_of CMD...: runs it; its peak RSS in KB goes to $tmp/rss
	/usr/bin/time -f '%M' -o "$tmp/rss" "$@"
}
if [ -x /usr/bin/time ]; then
	{ head -c 100000000 /dev/zero | tr '\0' 'x'; printf '\n{"ts":1,"card":"a","amount":500}\n'; } |
		rss_of "$bin" -r "$tmp/r.yaml" 2>"$tmp/err" >"$tmp/out"
	kb=$(cat "$tmp/rss")
	expect_eq 1 "$(grep -c '"rule":"big"' "$tmp/out")" "the line after a 100 MB line"
	expect_match ':1: line is longer than 1048576 bytes' "$(cat "$tmp/err")" "100 MB line reported"
	[ "$kb" -lt 100000 ] && ok || bad "100 MB line: peak RSS $kb KB"
	{ printf '{"ts":1,"a":'; head -c 100000 /dev/zero | tr '\0' '['; printf '\n{"ts":2,"card":"b","amount":500}\n'; } |
		rss_of "$bin" -r "$tmp/r.yaml" 2>"$tmp/err" >"$tmp/out"
	expect_eq 1 "$(grep -c '"rule":"big"' "$tmp/out")" "the line after 100,000-deep nesting"
	expect_match ':1: invalid JSON at byte [0-9]+: nesting deeper than 64' "$(cat "$tmp/err")" "deep nesting reported"
	{ printf '{"ts":1,"card":"c","amount":500}\n'; head -c 50000000 /dev/zero | tr '\0' ' '; } |
		rss_of "$bin" -r "$tmp/r.yaml" 2>"$tmp/err" >"$tmp/out"
	kb=$(cat "$tmp/rss")
	expect_eq 1 "$(grep -c '"rule":"big"' "$tmp/out")" "alerts before a line that never ends"
	[ "$kb" -lt 100000 ] && ok || bad "unending line: peak RSS $kb KB"
fi

finish cli
