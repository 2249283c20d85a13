# SPDX-License-Identifier: MIT
#
# Charts for `make bench` (scripts/bench.sh writes the data first):
#   OUT/throughput.png  M ops/s per workload and variant: Pinion (parked and
#                       busy-polling shards) beside the raw limits
#   OUT/latency.png     the latency workload: round-trip histogram (left)
#                       and percentile curve (right), busy and parked
# usage: gnuplot -e "out='build/bench'" scripts/plot.gp
if (!exists("out")) out = "build/bench"

have(f) = system("test -s '" . f . "' && echo 1 || echo 0") + 0

# --- throughput ------------------------------------------------------------
set terminal pngcairo size 1200,600 font "sans,10"
set output out . "/throughput.png"
set title "pinion-bench: throughput per workload beside its raw limit (higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing "-"
set logscale y
set yrange [0.01:*]
set ylabel "million ops per second (log scale)"
set xtics rotate by -30 scale 0 nomirror
set grid ytics
set key top right
plot out . "/throughput.dat" using 2:xtic(1) title "pinion (parked)" lc rgb "#1f77b4", \
     "" using 3 title "pinion (busy-poll)" lc rgb "#17becf", \
     "" using 4 title "raw limit" lc rgb "#d62728", \
     "" using 5 title "raw, publish each" lc rgb "#ff9896"
unset output

# --- latency -----------------------------------------------------------------
# Columns of the .dat files (pinion-bench --hist-out): bucket midpoint ns,
# count, percent of all requests, cumulative fraction.
busy = out . "/latency.busy.dat"
park = out . "/latency.park.dat"
series(f, cols, t, c) = sprintf("'%s' using %s with steps lw 2 lc rgb '%s' title '%s'", f, cols, c, t)
join(a, b) = strlen(a) && strlen(b) ? a . ", " . b : a . b
hist_b = have(busy) ? series(busy, "($1/1000):3", "busy-poll", "#17becf") : ""
hist_p = have(park) ? series(park, "($1/1000):3", "parked", "#1f77b4") : ""
cap(q) = q >= 0.999999 ? 1e6 : 1/(1-q)
pct_b = have(busy) ? series(busy, "(cap($4)):($1/1000)", "busy-poll", "#17becf") : ""
pct_p = have(park) ? series(park, "(cap($4)):($1/1000)", "parked", "#1f77b4") : ""
if (strlen(join(hist_b, hist_p))) {
	reset
	set terminal pngcairo size 1200,500 font "sans,10"
	set output out . "/latency.png"
	set multiplot layout 1,2 title "pinion-bench latency: open loop, client and server on different shards"
	set logscale x
	set grid
	set xlabel "round trip (us, log scale)"
	set ylabel "requests per bucket (% of all)"
	set title "histogram (log-linear buckets, < 1% wide)"
	set key top right
	eval("plot " . join(hist_b, hist_p))
	set title "percentiles (scheduled send to reply)"
	set ylabel "round trip (us, log scale)"
	set xlabel "percentile"
	set logscale y
	set xtics ("50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, \
		   "99.99%%" 10000, "99.999%%" 100000)
	set xrange [1:1e6]
	set key bottom right
	eval("plot " . join(pct_b, pct_p))
	unset multiplot
	unset output
}
