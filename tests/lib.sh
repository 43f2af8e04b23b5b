# lib.sh - what the shell tests share: a scratch directory, pass/fail counting and checks.
# Sourced by cli.sh, limits.sh, hostile.sh and bench/test_gen.sh; they end with `finish NAME`.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect_rc() { # expect_rc WANT GOT WHAT
  if [ "$1" = "$2" ]; then ok; else bad "$3: exit status $2, want $1"; fi
}
expect_eq() { # expect_eq WANT GOT WHAT
  if [ "$1" = "$2" ]; then ok; else bad "$3: got [$2], want [$1]"; fi
}
expect_match() { # expect_match REGEX TEXT WHAT
  if printf '%s' "$2" | grep -Eq -- "$1"; then ok; else bad "$3: [$2] does not match /$1/"; fi
}
expect_le() { # expect_le A B WHAT: A <= B
  if [ "$1" -le "$2" ]; then ok; else bad "$3: $1 > $2"; fi
}
expect_gt() { # expect_gt A B WHAT: A > B
  if [ "$1" -gt "$2" ]; then ok; else bad "$3: $1 <= $2"; fi
}
finish() { # finish NAME: the summary line, and the exit status
  echo "$1: $pass passed, $fail failed"
  [ "$fail" = 0 ]
}
