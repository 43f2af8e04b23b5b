#!/usr/bin/env bash
# test_floor.sh FLOOR GEN - tripline-floor finds the keys jq finds: per key space, the number of
# distinct keys, of events with the key, and the sum of their amounts; a malformed line stops it
# with its line number. Run from the repository root.
set -u
floor=$1
gen=$2
. "$(dirname "$0")/../tests/lib.sh"

# 2,000 cards and more users, devices and addresses: each table grows from its first size
"$gen" -n 20000 -k 2000 -s 11 >"$tmp/a.jsonl"
"$floor" "$tmp/a.jsonl" >"$tmp/a.out" 2>"$tmp/a.err"
expect_rc 0 $? "tripline-floor exit status"
expect_match '^events 20000 seconds [0-9.]+ ns/event [0-9]+$' "$(cat "$tmp/a.err")" "stderr"
expect_eq 5 "$(wc -l <"$tmp/a.out")" "one line per key space"
for f in card device ip email user; do
	line=$(grep "^$f " "$tmp/a.out")
	keys=$(jq -r "select(.$f | type == \"string\") | .$f" "$tmp/a.jsonl" | sort -u | wc -l)
	events=$(jq -r "select(.$f | type == \"string\") | .$f" "$tmp/a.jsonl" | wc -l)
	sum=$(jq -n "[inputs | select(.$f | type == \"string\") | .amount // 0] | add" "$tmp/a.jsonl")
	expect_eq "$keys" "$(echo "$line" | awk '{print $3}')" "distinct $f keys"
	expect_eq "$events" "$(echo "$line" | awk '{print $5}')" "events with a $f"
	expect_eq 0 "$(echo "$line" | awk -v want="$sum" '{d = $7 - want; print (d < 0.01 && d > -0.01) ? 0 : 1}')" \
		"sum of amounts by $f: [$line], want $sum"
	expect_eq 0 "$(echo "$line" | awk '{print $9}')" "$f keys too long to count"
done
expect_gt "$(grep "^card " "$tmp/a.out" | awk "{print \$3}")" 1024 "more cards than the first table holds"

# decoding alone: the same events, no key lines
"$floor" --decode-only "$tmp/a.jsonl" >"$tmp/d.out" 2>"$tmp/d.err"
expect_rc 0 $? "--decode-only exit status"
expect_eq "" "$(cat "$tmp/d.out")" "--decode-only output"
expect_match '^events 20000 ' "$(cat "$tmp/d.err")" "--decode-only stderr"

# a malformed line: the file, its line and column, exit status 1
head -3 "$tmp/a.jsonl" >"$tmp/bad.jsonl"
printf '{"card":"c1",}\n' >>"$tmp/bad.jsonl"
"$floor" "$tmp/bad.jsonl" >/dev/null 2>"$tmp/bad.err"
expect_rc 1 $? "malformed line exit status"
expect_match "bad.jsonl:4:[0-9]+: " "$(cat "$tmp/bad.err")" "malformed line message"

# no file, two files: usage
"$floor" >/dev/null 2>"$tmp/u.err"
expect_rc 2 $? "no argument"
expect_match '^usage: tripline-floor' "$(cat "$tmp/u.err")" "usage"
"$floor" "$tmp/missing.jsonl" >/dev/null 2>"$tmp/m.err"
expect_rc 2 $? "missing file"
expect_match 'missing.jsonl: No such file' "$(cat "$tmp/m.err")" "missing file message"

finish bench_floor
