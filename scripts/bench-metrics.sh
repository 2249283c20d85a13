#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `make bench`, second part: what observability costs.
#  1. The same pinion-bench built with metrics and probes compiled out
#     (PN_METRICS=0 PN_PROBES=0, in build/release-nometrics) runs beside the
#     normal build on pingpong local and counting cross, alternated 5 times
#     (each run the median of 5 repetitions). The cost is the median of the
#     5 per-pair ratios (on/off, runs seconds apart), so a slow phase of the
#     machine lands on both builds; the medians of ns/op are printed beside
#     it (target: cost <= 5%). pingpong runs 10M round trips a repetition
#     (about 0.25 s): the default 1M is over too soon to measure 5%.
#     Before that, a check that compiling out is complete: the hot path's
#     objects of that build reference no metric hook and hold no probe.
#  2. latency (busy poll) with a scraper hitting GET /metrics every 100 ms,
#     beside the same run without it, alternated 3 times: the medians of
#     p50, p99 and p99.9.
# Lines go to stdout and are appended to build/bench/latest.log; the table to
# build/bench/latest-table.md.
set -uo pipefail
cd "$(dirname "$0")/.."

ondir=${1:-build/release}
on=$ondir/bench/pinion-bench
offdir=build/release-nometrics
off=$offdir/bench/pinion-bench
out=build/bench
mkdir -p "$out"

make --no-print-directory MODE=release BUILD=$offdir PN_METRICS=0 \
	PN_PROBES=0 bench-progs >/dev/null || exit 1

# Compiled out means gone: the hot path's objects in that build call no
# metric hook and carry no probe note (the normal build's do, or this check
# would prove nothing).
hooks() { # hooks BUILD: metric-hook references and probe notes, hot path
	local r=0 p=0 o
	for o in sched/send sched/shard sched/dispatch actor/actor; do
		r=$((r + $(nm "$1/obj/core/$o.o" | grep -c ' U pn__\(met_\|flight_\)')))
		p=$((p + $(readelf -n "$1/obj/core/$o.o" | grep -c stapsdt)))
	done
	echo "$r $p"
}
read -r off_refs off_notes < <(hooks "$offdir")
read -r on_refs on_notes < <(hooks "$ondir")
echo "metrics-off: hot-path objects (send, shard, dispatch, actor): hook_calls=$off_refs probe_notes=$off_notes (metrics on: $on_refs, $on_notes)" |
	tee -a "$out/latest.log"
if [[ $off_refs -ne 0 || $off_notes -ne 0 || $on_refs -eq 0 || $on_notes -eq 0 ]]; then
	echo "bench-metrics: PN_METRICS=0 PN_PROBES=0 left hooks or probes in the hot path" >&2
	exit 1
fi

ns() { # ns BINARY ARGS...: the median ns_per_op pinion-bench reports
	"$@" --impl pinion --reps 5 2>/dev/null |
		sed -n 's/^bench=.* ns_per_op=\([0-9.]*\).*/\1/p' | head -n1
}
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }

table="| metrics cost | metrics on ns/op | compiled out ns/op | cost | target | met |
|---|---:|---:|---:|---|---|"
for w in "pingpong local --n 10000000" "counting cross"; do
	set -- $w
	a=() b=() r=()
	for i in 1 2 3 4 5; do
		x=$(ns "$on" "$1" --variant "$2" "${@:3}")
		y=$(ns "$off" "$1" --variant "$2" "${@:3}")
		if [[ -z $x || -z $y ]]; then
			echo "bench-metrics: $1 $2 printed no result" >&2
			exit 1
		fi
		a+=("$x") b+=("$y")
		r+=("$(awk -v a="$x" -v b="$y" 'BEGIN { printf "%.4f", a / b }')")
	done
	m_on=$(median "${a[@]}")
	m_off=$(median "${b[@]}")
	cost=$(awk -v r="$(median "${r[@]}")" 'BEGIN { printf "%.1f", (r - 1) * 100 }')
	met=$(awk -v c="$cost" 'BEGIN { print (c <= 5.0) ? "yes" : "NO" }')
	line="metrics-cost: $1/$2 on_ns=$m_on off_ns=$m_off cost_pct=$cost"
	echo "$line" | tee -a "$out/latest.log"
	table+="
| $1 $2 | $m_on | $m_off | $cost% | <= 5% | $met |"
done

# The latency workload's p50 p99 p99.9 (ns) with busy polling; ENV first.
pcts() {
	env "$@" "$on" latency --busy-poll --reps 3 2>/dev/null |
		sed -n 's/^bench=.* p50_ns=\([0-9]*\) p99_ns=\([0-9]*\) p999_ns=\([0-9]*\).*/\1 \2 \3/p' |
		head -n1
}
# Alternated 3 times; the median of each percentile.
declare -a w50 w99 w999 s50 s99 s999
for i in 1 2 3; do
	read -r x y z < <(pcts PINION_BENCH_SCRAPE_MS=0)
	w50+=("$x") w99+=("$y") w999+=("$z")
	read -r x y z < <(pcts PINION_BENCH_SCRAPE_MS=100)
	s50+=("$x") s99+=("$y") s999+=("$z")
done
if [[ ${#w999[@]} -ne 3 || ${#s999[@]} -ne 3 || -z ${w999[2]} || -z ${s999[2]} ]]; then
	echo "bench-metrics: latency printed no percentiles" >&2
	exit 1
fi
without="$(median "${w50[@]}") $(median "${w99[@]}") $(median "${w999[@]}")"
with="$(median "${s50[@]}") $(median "${s99[@]}") $(median "${s999[@]}")"
echo "scrape: latency/busy p50_p99_p999_ns without=${without// /,} with_scraper_100ms=${with// /,}" |
	tee -a "$out/latest.log"
table+="

| latency (busy poll, medians of 3 alternated runs) | p50 ns | p99 ns | p99.9 ns |
|---|---:|---:|---:|
| without a scraper | ${without// / | } |
| GET /metrics every 100 ms | ${with// / | } |"
printf '\n%s\n' "$table" | tee -a "$out/latest-table.md"
