#!/usr/bin/env bash
# run_golden.sh BINARY CASE_DIR - one end-to-end case through the real binary.
#
# A case directory holds:
#   args          the command line after the program name, shell-quoted, run inside the case
#                 directory (default: -r rules.yaml input.jsonl)
#   stdin         optional: fed to standard input (else /dev/null)
#   expected.out  exact standard output (absent: must be empty)
#   expected.err  exact standard error (absent: must be empty)
#   expected.rc   exit status (absent: 0)
# and the rule and input files the args name. TRIPLINE_WRAP, when set, is put before the
# binary (e.g. a valgrind command line).
set -u
bin=$1
dir=$2
cd "$dir" || exit 2
args='-r rules.yaml input.jsonl'
[ -f args ] && args=$(cat args)
stdin=/dev/null
[ -f stdin ] && stdin=stdin
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
eval "${TRIPLINE_WRAP:-} \"\$bin\" $args" <"$stdin" >"$out" 2>"$err"
rc=$?
want_rc=0
[ -f expected.rc ] && want_rc=$(cat expected.rc)
fail=0
if [ "$rc" != "$want_rc" ]; then
  echo "exit status: got $rc, want $want_rc"
  fail=1
fi
check() { # check NAME GOT_FILE EXPECTED_FILE
  if [ -f "$3" ]; then
    if ! cmp -s "$2" "$3"; then
      echo "$1 differs (- expected, + got):"
      diff -u "$3" "$2" | tail -n +3
      fail=1
    fi
  elif [ -s "$2" ]; then
    echo "$1 should be empty, got:"
    cat "$2"
    fail=1
  fi
}
check stdout "$out" expected.out
check stderr "$err" expected.err
exit $fail
