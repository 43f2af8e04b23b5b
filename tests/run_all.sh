#!/usr/bin/env bash
# run_all.sh - every test: the release build, the AddressSanitizer+UBSan build, valgrind
# memcheck over the unit suites and the end-to-end cases, and a short run of each fuzz target.
# Run from the repository root after the packages of the README's first command are installed.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

echo "== release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs" >/dev/null
ctest --test-dir build --output-on-failure -j"$jobs"

echo "(${SECONDS}s)"
echo "== AddressSanitizer and UndefinedBehaviorSanitizer build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTRIPLINE_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --test-dir build-asan --output-on-failure -j"$jobs"

echo "(${SECONDS}s)"
echo "== valgrind memcheck (unit suites and end-to-end cases)"
export vg="valgrind -q --suppressions=$PWD/tests/valgrind.supp --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99"
n_pass=0 n_fail=0
# the unit suites, one per core; the random differential suites run their full trial counts
# in the stages above
rm -rf build/vg && mkdir -p build/vg
units=$(find build -maxdepth 1 -name 'test_*' -type f -perm -u+x | sort)
printf '%s\n' $units | xargs -P "$jobs" -I{} bash -c \
	'CK_FORK=no TL_SEQ_TRIALS=200 $vg {} >/dev/null 2>build/vg/$(basename {}).log || echo {}' \
	>build/vg/failed-units.txt
n_bad=$(wc -l <build/vg/failed-units.txt)
n_pass=$(($(printf '%s\n' $units | wc -l) - n_bad))
n_fail=$n_bad
while read -r t; do
	echo "valgrind: $t failed"
	cat "build/vg/$(basename "$t").log"
done <build/vg/failed-units.txt
# the end-to-end cases, one per core: valgrind's start-up is most of their cost
ls -d tests/golden/*/ | xargs -P "$jobs" -I{} bash -c \
	'TRIPLINE_WRAP="$vg" bash tests/run_golden.sh "$PWD/build/tripline" {} >/dev/null 2>&1 || echo {}' \
	>build/vg/failed-cases.txt
n_cases=$(ls -d tests/golden/*/ | wc -l)
n_bad=$(wc -l <build/vg/failed-cases.txt)
n_pass=$((n_pass + n_cases - n_bad))
n_fail=$((n_fail + n_bad))
while read -r d; do
	echo "valgrind: $d failed"
	TRIPLINE_WRAP="$vg" bash tests/run_golden.sh "$PWD/build/tripline" "$d"
done <build/vg/failed-cases.txt
echo "valgrind: $n_pass passed, $n_fail failed"
[ "$n_fail" -eq 0 ]

echo "(${SECONDS}s)"
echo "== fuzz smoke: each libFuzzer target for ${FUZZ_SECONDS:=20}s from the seed corpus"
CC=clang cmake -S . -B build-fuzz -DTRIPLINE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$jobs" >/dev/null
for t in build-fuzz/fuzz_*; do
	name=${t##*/fuzz_}
	work=$(mktemp -d)
	# new inputs go to the scratch directory listed first; the seeds stay as they are
	if ! "$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		"$work" "tests/fuzz/corpus/$name" >build-fuzz/fuzz-"$name".log 2>&1; then
		echo "fuzz: $name found a problem:"
		tail -n 40 build-fuzz/fuzz-"$name".log
		exit 1
	fi
	rm -rf "$work"
	echo "fuzz: $name: $(grep -o 'Done [0-9]* runs' build-fuzz/fuzz-"$name".log)"
done
echo "all tests passed (${SECONDS}s)"
