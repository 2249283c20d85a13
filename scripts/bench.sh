#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `make bench`: run `pinion-bench all` (the standard workloads' default sizes, every
# Pinion figure beside its raw limit), print the table, and keep the results:
#   build/bench/latest.txt        the result lines (bench=...), nothing else
#   build/bench/latest.log        everything pinion-bench printed (context,
#                                 results, ratios, measurements, table)
#   build/bench/latest-table.md   the table (markdown, for the README)
#   build/bench/throughput.png    ops/s per workload beside its raw limit
#   build/bench/latency.png       the latency workload's histogram and
#                                 percentiles, busy-polling and parked
#
# usage: scripts/bench.sh [BUILD_DIR] [pinion-bench options...]
#   BUILD_DIR defaults to build/release; extra options go to pinion-bench
#   (e.g. --reps 5). Exit status: pinion-bench's (non-zero when a
#   workload's correctness check failed).
set -uo pipefail
cd "$(dirname "$0")/.."

build=${1:-build/release}
[[ $# -gt 0 ]] && shift
bin=$build/bench/pinion-bench
out=build/bench

if [[ ! -x $bin ]]; then
	echo "bench.sh: $bin is not built (make MODE=release bench-progs)" >&2
	exit 1
fi
mkdir -p "$out"
rm -f "$out"/latency.busy.dat "$out"/latency.park.dat

start=$(date +%s)
"$bin" all --hist-out "$out/latency" "$@" | tee "$out/latest.log"
rc=${PIPESTATUS[0]}
secs=$(($(date +%s) - start))

grep '^bench=' "$out/latest.log" >"$out/latest.txt" || true
sed -n '/^| bench |/,$p' "$out/latest.log" >"$out/latest-table.md"
{
	echo
	grep '^context:' "$out/latest.log" | head -1 | sed 's/^/Measured with: /'
} >>"$out/latest-table.md"

# The throughput chart's data: one row per bench/variant, M ops/s of
# Pinion (parked), Pinion (busy-polling), the raw limit, and the raw ring
# publishing every message; "-" where there is none.
awk '
function kv(line, key,   a, n, i) {
	n = split(line, a, " ")
	for (i = 1; i <= n; i++)
		if (index(a[i], key "=") == 1)
			return substr(a[i], length(key) + 2)
	return ""
}
{
	b = kv($0, "bench"); v = kv($0, "variant"); impl = kv($0, "impl")
	if (b == "latency") next
	label = b "/" v
	if (!(label in seen)) { seen[label] = 1; order[++n] = label }
	col = impl
	if (impl == "pinion") col = "pinion-" kv($0, "poll")
	val[label, col] = kv($0, "ops_per_sec") / 1e6
}
END {
	print "# label pinion-park pinion-busy raw raw-each (M ops/s)"
	split("pinion-park pinion-busy raw raw-each", cols, " ")
	for (i = 1; i <= n; i++) {
		line = order[i]
		for (c = 1; c <= 4; c++)
			line = line " " (((order[i], cols[c]) in val) ? \
				sprintf("%.3f", val[order[i], cols[c]]) : "-")
		print line
	}
}' "$out/latest.txt" >"$out/throughput.dat"

if command -v gnuplot >/dev/null 2>&1; then
	gnuplot -e "out='$out'" scripts/plot.gp ||
		echo "bench.sh: gnuplot failed; no charts" >&2
else
	echo "bench.sh: gnuplot not installed; no charts" >&2
fi

echo
echo "bench.sh: ${secs}s; results in $out/latest.txt, table in" \
	"$out/latest-table.md, charts $out/throughput.png $out/latency.png"
exit "$rc"
