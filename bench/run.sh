#!/usr/bin/env bash
# run.sh [RUNS] [--check | --save] - the benchmark: builds a release binary in build-bench/,
# writes the data into bench/data/ (again only when the generator or its arguments change),
# runs the cases (a) to (e) RUNS times each (default 5) and the two baselines, jq and cat, as
# often on the same files, and prints the medians as a table, also written to bench/results.md.
#
#   bash bench/run.sh                      five runs per case
#   bash bench/run.sh 1                    a quick run (or RUNS=1 bash bench/run.sh)
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
		sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
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
	cmake --build build-bench -j2 --target tripline tripline-gen; } >"$tmp/build.log" 2>&1; then
	cat "$tmp/build.log" >&2
	die "the build failed"
fi
tl=build-bench/tripline
gen=build-bench/bench/tripline-gen

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
for f in examples/fraud.yaml "$slow" "$rules100"; do
	"$tl" check "$f" >"$tmp/check" 2>&1 || { cat "$tmp/check" >&2; die "$f: tripline check failed"; }
	echo "   $(cat "$tmp/check")"
done

# --- measurement ---------------------------------------------------------------------------

us_now() {
	local t=$EPOCHREALTIME
	echo "${t//[!0-9]/}"
}

# median of integers
median() {
	printf '%s\n' "$@" | sort -n |
		awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A jq_us cat_us n_lines n_bytes

# baselines FILE: jq and cat over FILE, RUNS times each, once per file
baselines() {
	local file=$1 i t0 jq_t=() cat_t=()

	[ -z "${cat_us[$file]:-}" ] || return 0
	cat "$file" >/dev/null	# into the page cache: every program reads it from memory
	n_lines[$file]=$(wc -l <"$file")
	n_bytes[$file]=$(wc -c <"$file")
	for ((i = 0; i < runs; i++)); do
		t0=$(us_now)
		cat "$file" >/dev/null
		cat_t+=($(($(us_now) - t0)))
		if [ "$have_jq" = 1 ]; then
			t0=$(us_now)
			jq -c 'select(.amount > 1000)' "$file" >/dev/null
			jq_t+=($(($(us_now) - t0)))
		fi
	done
	cat_us[$file]=$(median "${cat_t[@]}")
	jq_us[$file]=
	[ "$have_jq" = 0 ] || jq_us[$file]=$(median "${jq_t[@]}")
}

cases=()
declare -A c_desc c_file c_us c_rss c_alerts c_digest c_note

# bench_case NAME DESCRIPTION RULES FILE [OPTIONS...]: tripline -r RULES FILE, RUNS times
bench_case() {
	local name=$1 desc=$2 rules=$3 file=$4 i t0 t1 d times=() rss=0 r
	shift 4

	echo "   ($name) $desc"
	baselines "$file"
	c_digest[$name]=
	for ((i = 0; i < runs; i++)); do
		t0=$(us_now)
		if ! /usr/bin/time -f %M -o "$tmp/rss" \
			"$tl" "$@" -r "$rules" "$file" >"$tmp/out" 2>"$tmp/err"; then
			cat "$tmp/err" >&2
			die "case ($name): tripline failed"
		fi
		t1=$(us_now)
		times+=($((t1 - t0)))
		r=$(tail -1 "$tmp/rss")
		[ "$r" -le "$rss" ] || rss=$r
		d=$(sha256sum <"$tmp/out" | cut -c1-64)
		[ -z "${c_digest[$name]}" ] || [ "$d" = "${c_digest[$name]}" ] ||
			die "case ($name): the alerts differ from one run to the next"
		c_digest[$name]=$d
	done
	cases+=("$name")
	c_desc[$name]=$desc
	c_file[$name]=$file
	c_us[$name]=$(median "${times[@]}")
	c_rss[$name]=$rss
	c_alerts[$name]=$(wc -l <"$tmp/out")
	c_note[$name]=
	if grep -q '"peak_runs"' "$tmp/err"; then
		local stat
		stat=$(tail -1 "$tmp/err")
		c_note[$name]="peak_runs $(echo "$stat" | grep -o '"peak_runs":[0-9]*' | cut -d: -f2)"
		c_note[$name]+=", evicted_runs $(echo "$stat" | grep -o '"evicted_runs":[0-9]*' | cut -d: -f2)"
		c_note[$name]+=", peak_keys $(echo "$stat" | grep -o '"peak_keys":[0-9]*' | cut -d: -f2)"
	fi
}

echo "== runs: $runs per case, the median quoted"
bench_case a "fraud.yaml, 15 rules; $events events, $cards cards" examples/fraud.yaml "$normal"
bench_case b "fraud.yaml with every window and within x60" "$slow" "$normal"
bench_case c "100 rules, 90 of them on types the stream (nearly) lacks" "$rules100" "$normal"
bench_case d "fraud.yaml, a new card, user, device, ip per event" examples/fraud.yaml "$distinct"
bench_case e "fraud.yaml, adversarial: 100 cards and users, runs piling up" \
	examples/fraud.yaml "$adversarial" --max-runs 100 --stats

# --- report --------------------------------------------------------------------------------

# row NAME: the figures of a case, tab-separated
row() {
	local n=$1 f=${c_file[$1]}
	awk -v ev="${n_lines[$f]}" -v by="${n_bytes[$f]}" -v us="${c_us[$n]}" -v rss="${c_rss[$n]}" \
		-v al="${c_alerts[$n]}" -v jq="${jq_us[$f]}" -v ct="${cat_us[$f]}" \
		-v base="${c_us[a]}" -v base_ev="${n_lines[${c_file[a]}]}" -v name="$n" 'BEGIN {
		s = us / 1e6
		if (s <= 0) s = 1e-6
		ns = us * 1000 / ev
		rel = ns / (base * 1000 / base_ev)
		printf "(%s)\t%d\t%.1f\t%.3f\t%.0f\t%.1f\t%.0f\t%.1f\t%d\t%s\t%.3f\t%.2f\n", name, ev,
		       by / 1e6, s, ev / s, by / 1e6 / s, ns, rss / 1024, al,
		       jq == "" ? "-" : sprintf("%.2f", jq / us), ct / us, rel
	}'
}

header="case	events	MB	s	events/s	MB/s	ns/event	RSS MiB	alerts	jq/tl	cat/tl	vs (a)"
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
echo "median of $runs runs; s = wall clock; RSS = peak resident set (GNU time, max of the runs);"
echo "jq/tl and cat/tl = baseline time / tripline time on the same file (above 1: tripline faster)"
echo
column -t -s "$(printf '\t')" "$tmp/table" 2>/dev/null || tr '\t' ' ' <"$tmp/table"
echo
for n in "${cases[@]}"; do
	echo "($n) ${c_desc[$n]}${c_note[$n]:+; ${c_note[$n]}}"
done
echo
echo "baselines, median of $runs runs:"
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
	echo "$machine; $jq_version. Median of $runs runs, wall clock; peak RSS from GNU time."
	echo
	echo "| $(sed 's/\t/ | /g' <<<"$header") |"
	echo "|---|$(for _ in $(seq 11); do printf -- '--:|'; done)"
	tail -n +2 "$tmp/table" | sed 's/\t/ | /g; s/^/| /; s/$/ |/'
	echo
	for n in "${cases[@]}"; do
		echo "- ($n) ${c_desc[$n]}${c_note[$n]:+; ${c_note[$n]}}"
	done
	echo
	echo "jq/tl, cat/tl: the baseline's time over tripline's on the same file (above 1: tripline"
	echo "is faster), for \`jq -c 'select(.amount > 1000)' FILE > /dev/null\` and"
	echo "\`cat FILE > /dev/null\`:"
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
