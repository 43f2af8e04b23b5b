#!/usr/bin/env bash
# test_gen.sh GEN TRIPLINE - the benchmark's generator: same bytes for the same arguments, valid
# events that fraud.yaml takes without a malformed or late line, scenarios that make its rules
# fire, the other modes and the rule file of case (c). Run from the repository root.
set -u
gen=$1
bin=$2
. "$(dirname "$0")/../tests/lib.sh"

expect_ge() { # expect_ge MIN GOT WHAT
	if [ "$2" -ge "$1" ]; then ok; else bad "$3: got $2, want at least $1"; fi
}
stat_of() { # stat_of NAME STATS_FILE: a number of the --stats JSON
	grep -o "\"$1\":[0-9]*" "$2" | head -1 | cut -d: -f2
}

# the same arguments give the same bytes; another seed gives others
"$gen" -n 20000 -k 2000 -s 7 >"$tmp/a.jsonl"; expect_eq 0 $? "generator exit status"
"$gen" -n 20000 -k 2000 -s 7 >"$tmp/b.jsonl"
if cmp -s "$tmp/a.jsonl" "$tmp/b.jsonl"; then ok; else bad "two runs with -s 7 differ"; fi
"$gen" -n 20000 -k 2000 -s 8 >"$tmp/c.jsonl"
if cmp -s "$tmp/a.jsonl" "$tmp/c.jsonl"; then bad "-s 7 and -s 8 give the same stream"; else ok; fi
expect_eq 20000 "$(wc -l <"$tmp/a.jsonl")" "lines written for -n 20000"

# The same bytes on every machine, whatever the compiler: a change of this digest is a change
# of the generator (update it on purpose, and the data of bench/run.sh is regenerated).
want=1cc04f80b58ef3b07291605ac08025f0e50178d3c153c2f06768ffa661085ab6
got=$({ "$gen" -n 3000 -k 300 -s 1; "$gen" -n 1000 -s 2 --mode distinct
	"$gen" -n 1000 -s 3 --mode adversarial; "$gen" --rules 30 -s 4; } | sha256sum | cut -c1-64)
expect_eq "$want" "$got" "digest of the reference streams"

# every line is a valid event, none late; the scenarios make most rules of fraud.yaml fire
"$bin" --strict --stats -r examples/fraud.yaml "$tmp/a.jsonl" >"$tmp/a.out" 2>"$tmp/a.err"
expect_eq 0 $? "tripline --strict on the normal stream"
expect_eq 0 "$(stat_of malformed "$tmp/a.err")" "malformed lines"
expect_eq 0 "$(stat_of late "$tmp/a.err")" "late lines"
expect_eq 20000 "$(stat_of processed "$tmp/a.err")" "processed events"
n_rules=$(grep -o '^{"rule":"[^"]*"' "$tmp/a.out" | sort -u | wc -l)
expect_ge 8 "$n_rules" "distinct rules firing on 20000 events"
n_alerts=$(wc -l <"$tmp/a.out")
# alerts stay a small fraction of events: the background traffic is clear of the rules
if [ "$n_alerts" -ge 30 ] && [ "$n_alerts" -le 1000 ]; then ok; else
	bad "alerts on 20000 events: $n_alerts, want 30 to 1000"; fi
# the event mix: mostly approvals, every type present
for t in txn decline login refund password_reset payout transfer confirm; do
	expect_ge 1 "$(grep -c "\"type\":\"$t\"" "$tmp/a.jsonl")" "events of type $t"
done
expect_ge 14000 "$(grep -c '"type":"txn"' "$tmp/a.jsonl")" "txn events"

# distinct mode: a new card for (nearly) every payment
"$gen" -n 20000 --mode distinct >"$tmp/d.jsonl"
"$bin" --strict -r examples/fraud.yaml "$tmp/d.jsonl" >/dev/null
expect_eq 0 $? "tripline --strict on the distinct stream"
n_card_events=$(grep -c '"card":' "$tmp/d.jsonl")
n_cards=$(grep -o '"card":"[^"]*"' "$tmp/d.jsonl" | sort -u | wc -l)
expect_ge $((n_card_events * 97 / 100)) "$n_cards" "distinct cards in distinct mode"

# adversarial mode: few keys, and runs piling up to the --max-runs cap
"$gen" -n 20000 --mode adversarial >"$tmp/e.jsonl"
"$bin" --strict --stats --max-runs 100 -r examples/fraud.yaml "$tmp/e.jsonl" \
	>/dev/null 2>"$tmp/e.err"
expect_eq 0 $? "tripline --strict on the adversarial stream"
expect_eq 0 "$(stat_of late "$tmp/e.err")" "late lines, adversarial"
n_cards=$(grep -o '"card":"[^"]*"' "$tmp/e.jsonl" | sort -u | wc -l)
expect_eq 100 "$n_cards" "cards in adversarial mode"
expect_ge 1 "$(stat_of evicted_runs "$tmp/e.err")" "runs evicted at --max-runs 100"

# the rule file of case (c)
"$gen" --rules 100 >"$tmp/r.yaml"
out=$("$bin" check "$tmp/r.yaml"); expect_eq 0 $? "tripline check on --rules 100"
expect_eq 100 "$(grep -c '^  - id: ' "$tmp/r.yaml")" "rules written by --rules 100"
expect_eq 100 "$(grep '^  - id: ' "$tmp/r.yaml" | sort -u | wc -l)" "unique rule ids"
case $out in *"100 rules"*) ok ;; *) bad "check summary: $out" ;; esac

# usage errors
"$gen" -n 12x >/dev/null 2>&1; expect_eq 2 $? "-n 12x"
"$gen" --mode sideways >/dev/null 2>&1; expect_eq 2 $? "--mode sideways"
"$gen" -k 0 >/dev/null 2>&1; expect_eq 2 $? "-k 0"

finish test_gen
