#!/usr/bin/env bash
# limits.sh BINARY - resource limits over long and hostile streams: memory stays flat when keys
# expire, --max-memory holds under many keys and many runs, and every line read is either
# processed or rejected. Needs jq and awk. Run from the repository root.
set -u
bin=$1
. "$(dirname "$0")/lib.sh"

stat() { # stat FILE FIELD: a number of the --stats summary (the last line of FILE)
  tail -n 1 "$1" | jq -r ".$2"
}

# Rules of every kind whose state expires within a minute or two of a key's last event.
cat >"$tmp/rules.yaml" <<'YAML'
version: 1
time: {lateness: 2s}
rules:
  - id: burst
    key: card
    threshold: {where: type == "txn", window: 1m, when: count() >= 3 && distinct(shop) >= 2}
    suppress: 2m
  - id: big
    key: card
    where: type == "txn" && amount > 990
    suppress: 1m
  - id: probe-then-big
    key: card
    sequence:
      - {as: p, where: type == "txn" && amount < 5, repeat: {min: 2}}
      - {where: type == "txn" && amount > 10 * max(p.amount)}
    within: 1m
  - id: unconfirmed
    key: user
    sequence:
      - {as: t, where: type == "transfer"}
      - {not: true, where: type == "confirm" && ref == t.ref}
    within: 30s
YAML

# events at 10 a second; each card and user lives for 4 events (under a second), then is never
# seen again: their state must go once it can no longer matter
gen() { # gen N
  awk -v n="$1" 'BEGIN {
    for (i = 0; i < n; i++) {
      k = int(i / 4); t = i / 10
      if (i % 7 == 3)
        printf "{\"ts\":%.1f,\"type\":\"transfer\",\"user\":\"u%d\",\"ref\":\"r%d\"}\n", t, k, i
      else if (i % 7 == 5)
        printf "{\"ts\":%.1f,\"type\":\"confirm\",\"user\":\"u%d\",\"ref\":\"r%d\"}\n", t, k, i - 2
      else
        printf "{\"ts\":%.1f,\"type\":\"txn\",\"card\":\"c%d\",\"shop\":\"s%d\",\"amount\":%d}\n", t, k, i % 3, (i * 37) % 1000
    }
  }'
}

# 1. flat memory: four times the stream, the same peak
gen 50000 >"$tmp/short.jsonl"
gen 200000 >"$tmp/long.jsonl"
"$bin" -r "$tmp/rules.yaml" --stats "$tmp/short.jsonl" >"$tmp/short.out" 2>"$tmp/short.err"
expect_rc 0 $? "short stream"
"$bin" -r "$tmp/rules.yaml" --stats "$tmp/long.jsonl" >"$tmp/long.out" 2>"$tmp/long.err"
expect_rc 0 $? "long stream"
s_state=$(stat "$tmp/short.err" peak_state_bytes)
l_state=$(stat "$tmp/long.err" peak_state_bytes)
s_keys=$(stat "$tmp/short.err" peak_keys)
l_keys=$(stat "$tmp/long.err" peak_keys)
expect_gt "$(wc -l <"$tmp/long.out")" 1000 "the long stream fires alerts"
expect_le "$l_keys" $((s_keys + s_keys / 10)) "peak keys, 200k events against 50k"
expect_le "$l_state" $((s_state + s_state / 10)) "peak state bytes, 200k events against 50k"
expect_le "$(stat "$tmp/long.err" keys)" "$s_keys" "keys left at the end of the long stream"
if [ -z "${TRIPLINE_SANITIZED:-}" ]; then # (AddressSanitizer's quarantine keeps freed memory)
  s_rss=$(stat "$tmp/short.err" peak_rss_bytes)
  l_rss=$(stat "$tmp/long.err" peak_rss_bytes)
  expect_le "$l_rss" $((s_rss + s_rss / 4 + 4 * 1048576)) "peak RSS, 200k events against 50k"
fi

# 2. --max-memory under many keys: each event a new card, in a window of an hour
awk 'BEGIN { for (i = 0; i < 100000; i++)
  printf "{\"ts\":%d,\"type\":\"txn\",\"card\":\"c%d\",\"shop\":\"s%d\",\"amount\":%d}\n", i / 50, i, i % 5, i % 7 }' \
  >"$tmp/keys.jsonl"
sed 's/window: 1m/window: 1h/' "$tmp/rules.yaml" >"$tmp/hour.yaml"
"$bin" -r "$tmp/hour.yaml" --stats "$tmp/keys.jsonl" >/dev/null 2>"$tmp/free.err"
expect_rc 0 $? "many keys, no cap"
free_state=$(stat "$tmp/free.err" peak_state_bytes)
expect_gt "$free_state" $((8 * 1048576)) "many keys take memory without a cap"
"$bin" -r "$tmp/hour.yaml" --max-memory 4M --stats "$tmp/keys.jsonl" >/dev/null 2>"$tmp/cap.err"
expect_rc 0 $? "many keys, --max-memory 4M"
expect_le "$(stat "$tmp/cap.err" peak_state_bytes)" 4194304 "peak state under --max-memory 4M"
expect_gt "$(stat "$tmp/cap.err" evicted_for_memory)" 0 "evictions counted"
grep -q '^tripline: --max-memory evicted [0-9]* key states; alerts may be missing$' "$tmp/cap.err" &&
  ok || bad "--max-memory says what it evicted"

# 3. --max-memory under many runs of one key: every event opens a run that lives an hour
cat >"$tmp/runs.yaml" <<'YAML'
rules:
  - id: pile
    sequence:
      - {as: a, where: amount < 5}
      - {where: amount > 1000000}
    within: 1h
YAML
"$bin" -r "$tmp/runs.yaml" --max-memory 2M --stats "$tmp/keys.jsonl" >/dev/null 2>"$tmp/runs.err"
expect_rc 0 $? "many runs, --max-memory 2M"
expect_le "$(stat "$tmp/runs.err" peak_state_bytes)" 2097152 "peak state of runs under --max-memory 2M"
expect_gt "$(stat "$tmp/runs.err" evicted_for_memory)" 0 "run evictions counted"
err=$("$bin" -r "$tmp/runs.yaml" --max-memory 0 "$tmp/keys.jsonl" 2>&1 >/dev/null)
expect_rc 2 $? "--max-memory 0"
[ "$err" = "tripline: --max-memory needs a size in bytes such as 256M or 2G, not '0'" ] &&
  ok || bad "--max-memory 0 message: $err"

# 4. every line read is processed or rejected, and the rejected ones are in --rejects
{
  head -n 1000 "$tmp/short.jsonl"
  printf 'garbage\n\x00\x01\xff\n{"ts":1e400}\n{"ts":3,"a":[[[[1]]]]}\n{"no":"time"}\n'
  printf '{"ts":0.1,"type":"txn","card":"late"}\n'       # late: 100 s behind
  printf '{"ts":1000000000000000000000,"type":"txn"}\n' # a jump of ages: processed
  printf '{"ts":200,"type":"txn","card":"x"}\n'         # behind that jump: late
} >"$tmp/mixed.jsonl"
"$bin" -r "$tmp/rules.yaml" --stats --rejects "$tmp/rej.jsonl" "$tmp/mixed.jsonl" >/dev/null 2>"$tmp/mixed.err"
expect_rc 0 $? "mixed stream"
read_n=$(stat "$tmp/mixed.err" events_read)
proc_n=$(stat "$tmp/mixed.err" processed)
rej_n=$(stat "$tmp/mixed.err" rejected)
[ "$read_n" = 1008 ] && ok || bad "events read: $read_n, want 1008"
[ $((proc_n + rej_n)) = "$read_n" ] && ok || bad "processed $proc_n + rejected $rej_n != read $read_n"
[ "$rej_n" = "$(wc -l <"$tmp/rej.jsonl")" ] && ok || bad "rejected $rej_n, lines in --rejects $(wc -l <"$tmp/rej.jsonl")"
[ "$(stat "$tmp/mixed.err" late)" = 2 ] && ok || bad "late: $(stat "$tmp/mixed.err" late), want 2"

# 5. evidence lines of every length come out whole: lines of 64 KiB and more (past the pool's
# size classes) among thousands of short ones, over windows that fire while the lines of
# others are still held
cat >"$tmp/ev.yaml" <<'YAML'
rules:
  - id: three
    key: k
    evidence: true
    threshold: {where: exists(pad), window: 1200s, when: count() >= 3}
YAML
awk 'BEGIN {
  srand(7)
  for (x = "x"; length(x) < 300000; x = x x)
    ;
  for (i = 0; i < 3000; i++) {
    n = (i % 97 == 5) ? 65000 + int(rand() * 200000) : int(rand() * 300)
    printf "{\"ts\":%d,\"k\":\"k%d\",\"pad\":\"%s\"}\n", i, i % 500, substr(x, 1, n)
  }
}' >"$tmp/ev.jsonl"
"$bin" -r "$tmp/ev.yaml" "$tmp/ev.jsonl" >"$tmp/ev.out"
expect_rc 0 $? "long evidence lines"
# each alert's window: the next 3 events of its key (each key's every 500 s), lines as read
want=$(jq -c -s '[.[] | {k, ts}] | group_by(.k)[] | _nwise(3) | select(length == 3) | map(.ts)' \
  "$tmp/ev.jsonl" | sort)
got=$(jq -c '[.events.window[].ts]' "$tmp/ev.out" | sort)
[ -n "$got" ] && [ "$got" = "$want" ] && ok || bad "evidence windows: $(echo "$got" | head -c 300)"
jq -c '.events.window[]' "$tmp/ev.out" | sort >"$tmp/ev.got"
jq -c . "$tmp/ev.jsonl" | sort >"$tmp/ev.all"
[ "$(wc -l <"$tmp/ev.got")" = 3000 ] && ok || bad "evidence lines: $(wc -l <"$tmp/ev.got"), want 3000"
[ "$(comm -23 "$tmp/ev.got" "$tmp/ev.all" | wc -l)" = 0 ] && ok || bad "an evidence line differs from the input's"
[ "$(awk 'length > 65536' "$tmp/ev.got" | wc -l)" -ge 30 ] && ok || bad "too few long lines in evidence"

finish limits
