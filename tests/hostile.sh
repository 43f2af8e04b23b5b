#!/usr/bin/env bash
# hostile.sh BINARY - rules written in a hurry or in malice: each is rejected with a clear,
# positioned message or run within bounds; never a crash or a hang. (Hostile events are golden
# cases: tests/golden/hostile-events.) Needs awk. Run from the repository root.
set -u
bin=$1
. "$(dirname "$0")/lib.sh"

rep() { # rep N TEXT: TEXT N times
  awk -v n="$1" -v t="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", t }'
}

# an expression 100,000 operators long: refused where it gets too deep (not a stack overflow)
for link in ' + 1' ' && x > 0' ' || x > 0'; do
  { printf 'rules:\n  - id: chain\n    where: "x > 0'; rep 100000 "$link"; printf '"\n'; } >"$tmp/chain.yaml"
  err=$("$bin" check "$tmp/chain.yaml" 2>&1); expect_rc 3 $? "chain of '$link'"
  expect_match 'chain.yaml:3:[0-9]+: error: expression is nested too deeply' "$err" "chain of '$link' message"
  err=$(echo '{"ts":1,"x":1}' | "$bin" -r "$tmp/chain.yaml" 2>&1); expect_rc 3 $? "run with a chain of '$link'"
done
# nested 10,000 deep with parentheses and negations
{ printf 'rules:\n  - id: deep\n    where: "'; rep 10000 '('; printf 'x > 1'; rep 10000 ')'; printf '"\n'; } >"$tmp/paren.yaml"
err=$("$bin" check "$tmp/paren.yaml" 2>&1); expect_rc 3 $? "10,000 parentheses"
expect_match 'paren.yaml:3:[0-9]+: error: expression is nested too deeply' "$err" "10,000 parentheses message"
{ printf 'rules:\n  - id: deep\n    where: "'; rep 10000 '!'; printf 'x"\n'; } >"$tmp/bang.yaml"
"$bin" check "$tmp/bang.yaml" >/dev/null 2>&1; expect_rc 3 $? "10,000 negations"

# YAML nested 10,000 deep, and an alias bomb: refused
{ printf 'rules:\n  - id: y\n    where: '; rep 10000 '['; rep 10000 ']'; printf '\n'; } >"$tmp/ydeep.yaml"
err=$("$bin" check "$tmp/ydeep.yaml" 2>&1); expect_rc 3 $? "YAML nested 10,000 deep"
expect_match 'ydeep.yaml:3:[0-9]+: error: YAML nesting deeper than 64 levels' "$err" "YAML nesting message"
cat >"$tmp/bomb.yaml" <<'YAML'
lists:
  a: &a [x, x, x, x, x, x, x, x, x, x]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
rules:
  - id: r
    where: x in d
YAML
err=$("$bin" check "$tmp/bomb.yaml" 2>&1); expect_rc 3 $? "alias bomb"
expect_match 'bomb.yaml:2:6: error: YAML anchors' "$err" "alias bomb message"

# a macro bomb: each macro uses the one before twice (m30 would be a billion nodes)
awk 'BEGIN { print "macros:\n  m0: x > 1"
  for (i = 1; i <= 30; i++) printf "  m%d: m%d && m%d\n", i, i - 1, i - 1
  print "rules:\n  - id: r\n    where: m30" }' >"$tmp/mbomb.yaml"
err=$("$bin" check "$tmp/mbomb.yaml" 2>&1); expect_rc 3 $? "macro bomb"
expect_match "mbomb.yaml:35:12: error: macros expand to more than 10000 macro uses in this expression" "$err" "macro bomb message"
# ... and one that each expression keeps under its budget, in 2,000 rules
awk 'BEGIN { print "macros:\n  m0: x > 1"
  for (i = 1; i <= 12; i++) printf "  m%d: m%d && m%d\n", i, i - 1, i - 1
  print "rules:"; for (i = 0; i < 2000; i++) printf "  - id: r%d\n    where: m12\n", i }' >"$tmp/mbomb2.yaml"
err=$("$bin" check "$tmp/mbomb2.yaml" 2>&1); expect_rc 3 $? "macro uses over the file's budget"
expect_match "error: macros expand to more than 1000000 macro uses in this file" "$err" "file budget message"

# a rule file over 16 MiB: refused before it is parsed
{ printf 'rules:\n'; head -c 17000000 /dev/zero | tr '\0' '#'; } >"$tmp/big.yaml"
err=$("$bin" check "$tmp/big.yaml" 2>&1); expect_rc 3 $? "rule file over 16 MiB"
expect_match 'big.yaml: error: file is larger than 16 MiB' "$err" "big file message"

# absurd durations
printf 'rules:\n  - id: w\n    key: k\n    threshold: {window: 99999999999999999d, when: count() > 1}\n' >"$tmp/d1.yaml"
err=$("$bin" check "$tmp/d1.yaml" 2>&1); expect_rc 3 $? "a window of 10^17 days"
expect_match 'd1.yaml:4:25: error: window: duration is too large' "$err" "huge duration message"
printf 'rules:\n  - id: w\n    key: k\n    threshold: {window: -5m, when: count() > 1}\n' >"$tmp/d2.yaml"
err=$("$bin" check "$tmp/d2.yaml" 2>&1); expect_rc 3 $? "a negative window"
expect_match 'd2.yaml:4:25: error: window: expected a duration' "$err" "negative duration message"

# a catastrophic regex: stopped by the PCRE2 limits, unknown (no alert), counted; fast
printf 'rules:\n  - id: evil\n    where: s matches "^(a+)+$"\n' >"$tmp/rx.yaml"
{ printf '{"ts":1,"s":"'; rep 5000 a; printf 'b"}\n{"ts":2,"s":"aaa"}\n'; } >"$tmp/rx.jsonl"
out=$("$bin" -r "$tmp/rx.yaml" --stats "$tmp/rx.jsonl" 2>"$tmp/rx.err"); expect_rc 0 $? "catastrophic regex"
expect_match '^\{"rule":"evil","ts":2,' "$out" "the regex still matches what it can"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && ok || bad "catastrophic regex: one alert, got: $out"
expect_match '"regex_limit_hits":1,' "$(cat "$tmp/rx.err")" "regex limit counted"

# 10,000 rules: loaded, checked and run; each fires for its own event type only
awk 'BEGIN { print "rules:"
  for (i = 0; i < 10000; i++) {
    printf "  - id: r%d\n    key: card\n", i
    if (i % 2) printf "    where: type == \"t%d\" && amount > 0\n", i
    else printf "    threshold: {where: type == \"t%d\", window: 4h, when: count() >= 2}\n", i
  } }' >"$tmp/many.yaml"
out=$("$bin" check "$tmp/many.yaml" 2>&1); expect_rc 0 $? "check 10,000 rules"
expect_match '10000 rules \(5000 filters, 5000 thresholds, 0 sequences\)' "$out" "10,000 rules summary"
awk 'BEGIN { for (i = 0; i < 20000; i++)
  printf "{\"ts\":%d,\"type\":\"t%d\",\"card\":\"c1\",\"amount\":1}\n", i, i % 10000 }' >"$tmp/many.jsonl"
"$bin" -r "$tmp/many.yaml" "$tmp/many.jsonl" >"$tmp/many.out" 2>"$tmp/many.err"
expect_rc 0 $? "run 10,000 rules"
# filters (odd types) fire twice each; thresholds (even) once, on the second event
[ "$(wc -l <"$tmp/many.out")" = 15000 ] && ok || bad "10,000 rules: $(wc -l <"$tmp/many.out") alerts, want 15000"
[ "$(grep -c '"rule":"r9999"' "$tmp/many.out")" = 2 ] && ok || bad "r9999 fires twice"
[ "$(grep -c '"rule":"r9998"' "$tmp/many.out")" = 1 ] && ok || bad "r9998 fires once"

# 20,000 rules, each keyed by a field of its own: as many key spaces and fields, all indexed
awk 'BEGIN { print "rules:"
  for (i = 0; i < 20000; i++) printf "  - id: r%d\n    key: f%d\n    where: type == \"t%d\"\n    suppress: 1m\n", i, i, i }' \
  >"$tmp/keys.yaml"
printf '{"ts":1,"type":"t5","f5":"a"}\n{"ts":2,"type":"t5","f5":"a"}\n{"ts":3,"type":"t19999","f19999":7}\n' >"$tmp/keys.jsonl"
out=$("$bin" -r "$tmp/keys.yaml" "$tmp/keys.jsonl"); expect_rc 0 $? "20,000 rules keyed 20,000 ways"
expect_eq '{"rule":"r5","ts":1,"key":"a","start":1,"events":{"event":{"ts":1,"type":"t5","f5":"a"}}}
{"rule":"r19999","ts":3,"key":7,"start":3,"events":{"event":{"ts":3,"type":"t19999","f19999":7}}}' "$out" "20,000 rules keyed 20,000 ways: alerts (the second of r5 suppressed)"

# a list of 20,000 strings in 2,000 rules: loads at once (the rule index gives up past its
# budget rather than spend minutes), and every rule still fires where it should
awk 'BEGIN { printf "lists:\n  big: ["
  for (i = 0; i < 20000; i++) printf "%sv%d", i ? ", " : "", i
  print "]\nrules:"
  for (i = 0; i < 2000; i++) printf "  - id: r%d\n    where: type in big && amount > %d\n", i, i }' \
  >"$tmp/biglist.yaml"
printf '{"ts":1,"type":"v5","amount":1000}\n{"ts":2,"type":"zzz","amount":1000}\n{"ts":3,"type":"v19999","amount":1500}\n' \
  >"$tmp/biglist.jsonl"
"$bin" -r "$tmp/biglist.yaml" "$tmp/biglist.jsonl" >"$tmp/biglist.out"; expect_rc 0 $? "a list of 20,000 in 2,000 rules"
# amount 1000 passes the rules r0 to r999, amount 1500 r0 to r1499
expect_eq 2500 "$(wc -l <"$tmp/biglist.out")" "alerts of the 2,000 rules with a big list"

finish hostile
