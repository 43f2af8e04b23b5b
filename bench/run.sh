#!/usr/bin/env bash
# run.sh [RUNS] [--check | --save] - the benchmark: builds a release binary in build-bench/,
# writes the data into bench/data/ (again only when the generator or its arguments change),
# runs RUNS rounds (default 5), each of the cases (a) to (f) once, the floor (tripline-floor,
# bench/floor.c) twice and then the two baselines, jq and cat, once on each file, and prints the
# medians as a table, also written to bench/results.md.
#
#   bash bench/run.sh                      five rounds
#   bash bench/run.sh 1                    one round: a quick look (or RUNS=1 bash bench/run.sh)
#   BENCH_EVENTS=100000 bash bench/run.sh 1   smaller streams, for a smoke test
#   bash bench/run.sh --check              fail if a case's alerts differ from bench/expected.sha256
#   bash bench/run.sh --save               record this run's digests in bench/expected.sha256
#
# Needs bash 5 (EPOCHREALTIME), cmake, a C compiler, GNU time as /usr/bin/time; jq is optional.
set -eu -o pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

die() {
	echo "bench: $*" >&2
	exit 1
}

usage="usage: bash bench/run.sh [RUNS] [--check | --save]"
runs=${RUNS:-5}
action=
for arg in "$@"; do
	case $arg in
	--check | --save) action=${arg#--} ;;
	-h | --help)
		sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	'' | *[!0-9]*) die "unknown argument '$arg' ($usage)" ;;
	*) runs=$arg ;;
	esac
done
case $runs in '' | *[!0-9]* | 0) die "RUNS must be a number, 1 or more ($usage)" ;; esac
events=${BENCH_EVENTS:-1000000}
case $events in '' | *[!0-9]* | 0) die "BENCH_EVENTS must be a number, 1 or more" ;; esac
# case (a): 1,000,000 events over 100,000 cards
cards=$((events / 10 > 0 ? events / 10 : 1))
seed=1

[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 or later (for EPOCHREALTIME)"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing: install GNU time (apt-get install time)"
/usr/bin/time -f %M -o /dev/null true 2>/dev/null ||
	die "/usr/bin/time is not GNU time (it needs -f %M): install GNU time (apt-get install time)"
have_jq=1
if ! command -v jq >/dev/null; then
	have_jq=0
	echo "bench: jq not found: the jq baseline is skipped"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== build: release binary in build-bench/"
if ! { cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release &&
	cmake --build build-bench -j2 --target tripline tripline-gen tripline-floor; } \
	>"$tmp/build.log" 2>&1; then
	cat "$tmp/build.log" >&2
	die "the build failed"
fi
tl=build-bench/tripline
gen=build-bench/bench/tripline-gen
floor=build-bench/bench/tripline-floor

# --- data ----------------------------------------------------------------------------------

data=bench/data
mkdir -p "$data"
gen_sum=$(sha256sum bench/gen.c | cut -c1-64)

# make_data FILE ARGS...: tripline-gen ARGS > FILE, unless FILE was made by this generator
# source with these arguments (its .stamp says so)
make_data() {
	local file=$1 stamp
	shift
	stamp="$gen_sum $*"
	if [ -f "$file" ] && [ -f "$file.stamp" ] && [ "$(cat "$file.stamp")" = "$stamp" ]; then
		return
	fi
	echo "   tripline-gen $* > $file"
	rm -f "$file.stamp"
	"$gen" "$@" >"$file.tmp"
	mv "$file.tmp" "$file"
	echo "$stamp" >"$file.stamp"
}

echo "== data in $data/ ($events events)"
normal=$data/normal-$events.jsonl
distinct=$data/distinct-$events.jsonl
adversarial=$data/adversarial-$events.jsonl
rules100=$data/rules-100.yaml
make_data "$normal" -n "$events" -k "$cards" -s "$seed"
make_data "$distinct" -n "$events" -s "$seed" --mode distinct
make_data "$adversarial" -n "$events" -s "$seed" --mode adversarial
make_data "$rules100" --rules 100 -s "$seed"

# Case (b): fraud.yaml with every window and within 60 times longer (suppress unchanged):
# 1m -> 1h, 10m -> 10h, 1h -> 60h, 24h -> 1440h.
slow=$data/fraud-x60.yaml
awk '
function x60(d,    out, num, unit) {
	out = ""
	while (match(d, /^[0-9]+/)) {
		num = substr(d, 1, RLENGTH) + 0
		d = substr(d, RLENGTH + 1)
		match(d, /^[a-z]*/)
		unit = substr(d, 1, RLENGTH)
		d = substr(d, RLENGTH + 1)
		if (unit == "s")
			unit = "m"
		else if (unit == "m")
			unit = "h"
		else
			num *= 60
		out = out num unit
	}
	return out d
}
{
	line = $0
	res = ""
	while (match(line, /(window|within):[ ]*[0-9][0-9a-z]*/)) {
		m = substr(line, RSTART, RLENGTH)
		res = res substr(line, 1, RSTART - 1)
		line = substr(line, RSTART + RLENGTH)
		k = index(m, ":")
		rest = substr(m, k + 1)
		match(rest, /^[ ]*/)
		res = res substr(m, 1, k) substr(rest, 1, RLENGTH) x60(substr(rest, RLENGTH + 1))
		n_changed++
	}
	print res line
}
END { print n_changed + 0 > count }' count="$tmp/n_changed" examples/fraud.yaml >"$slow"
n_windows=$(grep -Ec '(window|within):' examples/fraud.yaml)
[ "$(cat "$tmp/n_changed")" = "$n_windows" ] ||
	die "case (b): $(cat "$tmp/n_changed") durations changed, want $n_windows"
for f in examples/fraud.yaml "$slow" "$rules100" bench/select-amount.yaml; do
	"$tl" check "$f" >"$tmp/check" 2>&1 || { cat "$tmp/check" >&2; die "$f: tripline check failed"; }
	echo "   $(cat "$tmp/check")"
done

# --- measurement ---------------------------------------------------------------------------

us_now() {
	local t=$EPOCHREALTIME
	echo "${t//[!0-9]/}"
}

# median_of: the median of the numbers on standard input, one per line
median_of() {
	sort -g | awk 'BEGIN { OFMT = "%.17g" } { v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2] + 0; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# median N...: the median of integers, as an integer
median() {
	printf '%.0f\n' "$(printf '%s\n' "$@" | median_of)"
}

# The runs go in rounds: each round runs every case once and then each baseline once, so that
# the machine's drift (it is a shared virtual machine) weighs on all of them alike; ratios (jq/tl,
# cat/tl, vs (a)) are taken within a round, and their median over the rounds is quoted.

declare -A jq_t cat_t n_lines n_bytes
cases=()
files=()
declare -A c_desc c_file c_rules c_opts c_t c_sys c_rss c_alerts c_digest c_note

# add_case NAME DESCRIPTION RULES FILE [OPTIONS...]
add_case() {
	local name=$1 f
	cases+=("$name")
	c_desc[$name]=$2
	c_rules[$name]=$3
	c_file[$name]=$4
	shift 4
	c_opts[$name]="$*"
	c_t[$name]=
	c_sys[$name]=
	c_rss[$name]=0
	c_digest[$name]=
	for f in "${files[@]}"; do [ "$f" != "${c_file[$name]}" ] || return 0; done
	files+=("${c_file[$name]}")
}

# run_case NAME: tripline over the case once
run_case() {
	local name=$1 t0 t1 d r sys stat
	t0=$(us_now)
	# shellcheck disable=SC2086 # the options are words without spaces
	if ! /usr/bin/time -f '%M %S' -o "$tmp/rss" "$tl" ${c_opts[$name]} -r "${c_rules[$name]}" \
		"${c_file[$name]}" >"$tmp/out" 2>"$tmp/err"; then
		cat "$tmp/err" >&2
		die "case ($name): tripline failed"
	fi
	t1=$(us_now)
	c_t[$name]+=" $((t1 - t0))"
	read -r r sys <<<"$(tail -1 "$tmp/rss")" # peak RSS (KiB), system time (s)
	[ "$r" -le "${c_rss[$name]}" ] || c_rss[$name]=$r
	c_sys[$name]+=" $sys"
	d=$(sha256sum <"$tmp/out" | cut -c1-64)
	[ -z "${c_digest[$name]}" ] || [ "$d" = "${c_digest[$name]}" ] ||
		die "case ($name): the alerts differ from one run to the next"
	c_digest[$name]=$d
	c_alerts[$name]=$(wc -l <"$tmp/out")
	c_note[$name]=
	if grep -q '"peak_runs"' "$tmp/err"; then
		stat=$(tail -1 "$tmp/err")
		c_note[$name]="peak_runs $(echo "$stat" | grep -o '"peak_runs":[0-9]*' | cut -d: -f2)"
		c_note[$name]+=", evicted_runs $(echo "$stat" | grep -o '"evicted_runs":[0-9]*' | cut -d: -f2)"
		c_note[$name]+=", peak_keys $(echo "$stat" | grep -o '"peak_keys":[0-9]*' | cut -d: -f2)"
	fi
}

# run_baselines FILE: cat and jq over FILE once
run_baselines() {
	local file=$1 t0

	t0=$(us_now)
	cat "$file" >/dev/null
	cat_t[$file]+=" $(($(us_now) - t0))"
	if [ "$have_jq" = 1 ]; then
		t0=$(us_now)
		jq -c 'select(.amount > 1000)' "$file" >/dev/null
		jq_t[$file]+=" $(($(us_now) - t0))"
	fi
}

# The floor (bench/floor.c), once per round over (a)'s file: decoding alone ("decode"), and
# decoding with one 64-byte slot per key space of fraud.yaml found and updated ("keys"), what
# any engine that keeps state per key must do before its rules run.
declare -A fl_t
fl_t[decode]=
fl_t[keys]=
run_floor() {
	local mode=$1 t0 opt=
	[ "$mode" = keys ] || opt=--decode-only
	t0=$(us_now)
	# shellcheck disable=SC2086
	"$floor" $opt "$normal" >/dev/null 2>"$tmp/err" ||
		{ cat "$tmp/err" >&2; die "tripline-floor failed"; }
	fl_t[$mode]+=" $(($(us_now) - t0))"
}

# median_ratio "X1 X2 ..." "Y1 Y2 ..." [SCALE]: the median of SCALE * Xi / Yi
median_ratio() {
	awk -v xs="$1" -v ys="$2" -v k="${3:-1}" 'BEGIN {
		OFMT = "%.17g"
		n = split(xs, x, " ")
		split(ys, y, " ")
		for (i = 1; i <= n; i++)
			print (y[i] > 0 ? k * x[i] / y[i] : 0)
	}' | median_of
}

add_case a "fraud.yaml, 15 rules; $events events, $cards cards" examples/fraud.yaml "$normal"
add_case b "fraud.yaml with every window and within x60" "$slow" "$normal"
add_case c "100 rules, 90 of them on types the stream (nearly) lacks" "$rules100" "$normal"
add_case d "fraud.yaml, a new card, user, device, ip per event" examples/fraud.yaml "$distinct"
add_case e "fraud.yaml, adversarial: 100 cards and users, runs piling up" \
	examples/fraud.yaml "$adversarial" --max-runs 100 --stats
# Not a case of the issue: the jq baseline's own job as one filter, so that the two are compared
# doing the same work (the cost of the engine without keyed state).
add_case f "the jq baseline's job: one filter, amount > 1000 (select-amount.yaml)" \
	bench/select-amount.yaml "$normal"

for f in "${files[@]}"; do
	cat "$f" >/dev/null # into the page cache: every program reads it from memory
	n_lines[$f]=$(wc -l <"$f")
	n_bytes[$f]=$(wc -c <"$f")
	cat_t[$f]=
	jq_t[$f]=
done
echo "== runs: $runs rounds of every case and baseline in turn, the median quoted"
for n in "${cases[@]}"; do echo "   ($n) ${c_desc[$n]}"; done
for ((round = 1; round <= runs; round++)); do
	echo "   round $round of $runs"
	for n in "${cases[@]}"; do run_case "$n"; done
	run_floor decode
	run_floor keys
	for f in "${files[@]}"; do run_baselines "$f"; done
done

declare -A c_us c_sys_s cat_us jq_us c_jq c_cat c_rel
for f in "${files[@]}"; do
	# shellcheck disable=SC2086
	cat_us[$f]=$(median ${cat_t[$f]})
	jq_us[$f]=
	# shellcheck disable=SC2086
	[ "$have_jq" = 0 ] || jq_us[$f]=$(median ${jq_t[$f]})
done
for n in "${cases[@]}"; do
	f=${c_file[$n]}
	# shellcheck disable=SC2086
	c_us[$n]=$(median ${c_t[$n]})
	# shellcheck disable=SC2086
	c_sys_s[$n]=$(printf '%s\n' ${c_sys[$n]} | median_of)
	c_cat[$n]=$(median_ratio "${cat_t[$f]}" "${c_t[$n]}")
	c_jq[$n]=
	[ "$have_jq" = 0 ] || c_jq[$n]=$(median_ratio "${jq_t[$f]}" "${c_t[$n]}")
	# ns/event over (a)'s, round by round
	c_rel[$n]=$(median_ratio "${c_t[$n]}" "${c_t[a]}" \
		"$(awk -v a="${n_lines[${c_file[a]}]}" -v b="${n_lines[$f]}" 'BEGIN { print a / b }')")
done

# --- report --------------------------------------------------------------------------------

# row NAME: the figures of a case, tab-separated
row() {
	local n=$1 f=${c_file[$1]}
	awk -v ev="${n_lines[$f]}" -v by="${n_bytes[$f]}" -v us="${c_us[$n]}" -v rss="${c_rss[$n]}" \
		-v sys="${c_sys_s[$n]}" \
		-v al="${c_alerts[$n]}" -v jq="${c_jq[$n]}" -v ct="${c_cat[$n]}" -v rel="${c_rel[$n]}" \
		-v name="$n" 'BEGIN {
		s = us / 1e6
		if (s <= 0) s = 1e-6
		ns = us * 1000 / ev
		printf "(%s)\t%d\t%.1f\t%.3f\t%.2f\t%.0f\t%.1f\t%.0f\t%.1f\t%d\t%s\t%.3f\t%.2f\n", name,
		       ev, by / 1e6, s, sys, ev / s, by / 1e6 / s, ns, rss / 1024, al,
		       jq == "" ? "-" : sprintf("%.2f", jq), ct, rel
	}'
}

header="case	events	MB	s	sys s	events/s	MB/s	ns/event	RSS MiB	alerts	jq/tl	cat/tl	vs (a)"
{
	echo "$header"
	for n in "${cases[@]}"; do row "$n"; done
} >"$tmp/table"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- . ':!bench/expected.sha256' 2>/dev/null ||
	commit="$commit (with local changes)"
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)
machine="${cpu:-unknown CPU}, $(nproc 2>/dev/null || echo '?') cores, $(uname -sr)"
jq_version=$([ "$have_jq" = 1 ] && jq --version || echo "no jq")

echo
echo "commit $commit; $machine; $jq_version"
echo "median of $runs rounds (each runs every case, then jq and cat on each file); s = wall clock;"
echo "sys s = of it, in the kernel (GNU time: page faults, reads); RSS = peak resident set (GNU"
echo "time, max of the runs); jq/tl, cat/tl = baseline time / tripline"
echo "time on the same file (above 1: tripline faster) and vs (a) = ns/event / (a)'s: each the"
echo "median of its ratios within a round"
echo
column -t -s "$(printf '\t')" "$tmp/table" 2>/dev/null || tr '\t' ' ' <"$tmp/table"
echo
for n in "${cases[@]}"; do
	echo "($n) ${c_desc[$n]}${c_note[$n]:+; ${c_note[$n]}}"
done
# floor_line MODE TEXT: the floor's figures, and (a)'s time over it, round by round
floor_line() {
	local us
	# shellcheck disable=SC2086
	us=$(median ${fl_t[$1]})
	awk -v us="$us" -v ev="${n_lines[$normal]}" -v t="$2" \
		-v rel="$(median_ratio "${c_t[a]}" "${fl_t[$1]}")" 'BEGIN {
		printf "%s: %.0f ns/event (%.0f events/s); (a) takes %.2f times as long\n",
		       t, us * 1000 / ev, ev / (us / 1e6), rel
	}'
}
floor_decode=$(floor_line decode "decoding alone")
floor_keys=$(floor_line keys "decoding and one slot per key space (5)")
echo
echo "floor (bench/floor.c over (a)'s file, median of $runs rounds; no rule, no expiry):"
echo "   $floor_decode"
echo "   $floor_keys"
echo
echo "baselines, median of $runs rounds:"
for f in "$normal" "$distinct" "$adversarial"; do
	awk -v f="${f##*/}" -v c="${cat_us[$f]}" -v j="${jq_us[$f]}" 'BEGIN {
		printf "   %-28s cat %.3f s, jq %s\n", f, c / 1e6, j == "" ? "-" : sprintf("%.3f s", j / 1e6)
	}'
done
echo
echo "sha256 of the alerts:"
for n in "${cases[@]}"; do echo "   ($n) ${c_digest[$n]}"; done

{
	echo "Run of $(date -u +%Y-%m-%d) at commit $commit, \`bash bench/run.sh $runs\`:"
	echo "$machine; $jq_version. Median of $runs rounds, each running every case once, then jq"
	echo "and cat once on each file; wall clock, and of it the time in the kernel (sys s); peak RSS"
	echo "from GNU time."
	echo
	echo "| $(sed 's/\t/ | /g' <<<"$header") |"
	echo "|---|$(for _ in $(seq 12); do printf -- '--:|'; done)"
	tail -n +2 "$tmp/table" | sed 's/\t/ | /g; s/^/| /; s/$/ |/'
	echo
	for n in "${cases[@]}"; do
		echo "- ($n) ${c_desc[$n]}${c_note[$n]:+; ${c_note[$n]}}"
	done
	echo
	echo "jq/tl, cat/tl: the baseline's time over tripline's on the same file in the same round"
	echo "(above 1: tripline is faster), for \`jq -c 'select(.amount > 1000)' FILE > /dev/null\`"
	echo "and \`cat FILE > /dev/null\`; vs (a): ns/event over (a)'s in the same round; each the"
	echo "median over the rounds."
	echo
	echo "The floor (\`tripline-floor\`, bench/floor.c, over (a)'s file), what any engine keeping"
	echo "state per key must do before its rules run, median of $runs rounds:"
	echo "$floor_decode; $floor_keys."
	echo
	echo "Medians of the baselines' times:"
	for f in "$normal" "$distinct" "$adversarial"; do
		awk -v f="${f##*/}" -v c="${cat_us[$f]}" -v j="${jq_us[$f]}" 'BEGIN {
			printf "%s, cat %.3f s, jq %s.\n", f, c / 1e6, j == "" ? "-" : sprintf("%.3f s", j / 1e6)
		}'
	done
} >bench/results.md
echo
echo "written: bench/results.md"

# --- alerts, byte for byte -----------------------------------------------------------------

expected=bench/expected.sha256
if [ "$action" = save ]; then
	{
		if [ -f "$expected" ]; then
			grep -v '^#' "$expected" | awk -v ev="$events" '$2 != ev' || true
		fi
		for n in "${cases[@]}"; do echo "$n $events ${c_digest[$n]}"; done
	} >"$tmp/expected"
	{
		echo "# sha256 of the alerts of each case of bench/run.sh: CASE EVENTS DIGEST"
		echo "# (bash bench/run.sh --check compares; last saved at commit $commit)"
		sort -k2,2n -k1,1 "$tmp/expected"
	} >"$expected"
	echo "saved the digests of $events events in $expected"
elif [ "$action" = check ]; then
	bad=0
	for n in "${cases[@]}"; do
		want=$(awk -v n="$n" -v ev="$events" '$1 == n && $2 == ev { print $3 }' \
			"$expected" 2>/dev/null || true)
		if [ -z "$want" ]; then
			echo "CHECK FAILED: ($n): no digest for $events events in $expected (run with --save)"
			bad=1
		elif [ "$want" != "${c_digest[$n]}" ]; then
			echo "CHECK FAILED: ($n) ${c_desc[$n]}: the alerts changed"
			echo "   expected ${want}"
			echo "   got      ${c_digest[$n]}"
			bad=1
		fi
	done
	[ "$bad" = 0 ] || die "the alerts differ from $expected"
	echo "check: the alerts of every case match $expected"
fi
