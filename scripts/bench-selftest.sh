#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Proves pinion-bench's correctness checks work (run by `make test`):
#   1. small normal runs of every workload print well-formed result lines
#      (every required key, numbers where numbers belong, ops = --n) and
#      exit 0; --json prints valid JSON;
#   2. with PINION_BENCH_BREAK=<workload> (a lost or wrong message planted
#      in that workload's actors, or in the raw baseline for "raw"; for
#      "fanout-slots" a slot per message more than the topic sent),
#      pinion-bench exits non-zero and prints no result line for it.
# usage: scripts/bench-selftest.sh [BUILD_DIR]   (default build/release)
set -uo pipefail
cd "$(dirname "$0")/.."

build=${1:-build/release}
bin=$build/bench/pinion-bench
if [[ ! -x $bin ]]; then
	echo "bench-selftest: $bin is not built" >&2
	exit 1
fi

N=20000
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "  FAIL  $*"
	failures=$((failures + 1))
}
pass() { echo "  ok    $*"; }

# Check every bench= line of $1: required keys, value shapes, ops == $2.
check_lines() {
	awk -v want_ops="$2" '
	BEGIN { bad = 0; n = 0 }
	/^bench=/ {
		n++
		delete kv
		for (i = 1; i <= NF; i++) {
			split($i, p, "=")
			if (p[1] in kv) { print "duplicate key " p[1]; bad = 1 }
			kv[p[1]] = substr($i, length(p[1]) + 2)
		}
		split("bench variant impl shards ops secs ops_per_sec ns_per_op", req, " ")
		for (k in req)
			if (!(req[k] in kv) || kv[req[k]] == "") {
				print "missing " req[k] ": " $0; bad = 1
			}
		if (kv["variant"] !~ /^(local|cross|c1|c16|c256|s[0-9]+-(inline|512))$/) {
			print "bad variant: " $0; bad = 1
		}
		if (kv["shards"] !~ /^[0-9]+$/ || kv["ops"] !~ /^[0-9]+$/) {
			print "bad integer: " $0; bad = 1
		}
		if (kv["ops"] != want_ops) { print "ops != " want_ops ": " $0; bad = 1 }
		num = "^[0-9]+(\\.[0-9]+)?$"
		if (kv["secs"] !~ num || kv["ops_per_sec"] !~ num ||
		    kv["ns_per_op"] !~ num || kv["secs"] + 0 <= 0) {
			print "bad number: " $0; bad = 1
		}
		if (kv["bench"] == "latency" || kv["bench"] == "echo" ||
		    kv["bench"] == "fanout")
			for (k in lat)
				if (kv[lat[k]] !~ /^[0-9]+$/) {
					print "missing " lat[k] ": " $0; bad = 1
				}
	}
	BEGIN { split("p50_ns p99_ns p999_ns max_ns", lat, " ") }
	END {
		if (n == 0) { print "no result line"; bad = 1 }
		exit bad
	}' "$1"
}

run() { # run NAME ARGS...: output in $tmp/NAME.out, status in $rc
	local name=$1
	shift
	timeout --kill-after=5 60 "$bin" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
}

echo "pinion-bench self-test ($bin)"

# --- 1. normal runs -----------------------------------------------------------
for w in pingpong ring counting forkjoin spawn churn; do
	run "$w" "$w" --n $N
	if [[ $rc -ne 0 ]]; then
		fail "$w: exit $rc: $(tail -3 "$tmp/$w.err")"
	elif ! msg=$(check_lines "$tmp/$w.out" $N); then
		fail "$w: $msg"
	else
		pass "$w: $(grep -c '^bench=' "$tmp/$w.out") well-formed result lines"
	fi
done
run latency latency --n $N --rate 400000
if [[ $rc -ne 0 ]]; then
	fail "latency: exit $rc: $(tail -3 "$tmp/latency.err")"
elif ! msg=$(check_lines "$tmp/latency.out" $N); then
	fail "latency: $msg"
else
	pass "latency: result line with p50/p99/p999/max"
fi
run echo echo --variant c16 --n 2000
if [[ $rc -ne 0 ]]; then
	fail "echo: exit $rc: $(tail -3 "$tmp/echo.err")"
elif ! msg=$(check_lines "$tmp/echo.out" 2000); then
	fail "echo: $msg"
else
	pass "echo: $(grep -c '^bench=' "$tmp/echo.out") result lines (pinion and epoll)"
fi
# fanout: ops = N x S deliveries; both impls, and the slots-per-message line
run fanout fanout --variant s16-inline --n $N
if [[ $rc -ne 0 ]]; then
	fail "fanout: exit $rc: $(tail -3 "$tmp/fanout.err")"
elif ! msg=$(check_lines "$tmp/fanout.out" $((N * 16))); then
	fail "fanout: $msg"
elif [[ $(grep -c '^bench=fanout .*impl=\(pinion\|naive\)' "$tmp/fanout.out") -ne 2 ]] ||
	! grep -q '^fanout traffic: .*impl=pinion slots_per_msg=' "$tmp/fanout.out"; then
	fail "fanout: no pinion and naive result lines or no traffic line"
else
	pass "fanout: result lines (pinion and naive) and the traffic line"
fi
run json counting --variant local --n $N --json
if ! command -v python3 >/dev/null 2>&1; then
	echo "  skip  --json: no python3 to validate it"
elif [[ $rc -ne 0 ]] || ! python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert any(r.get("bench") == "counting" and r["ops"] == int(sys.argv[2])
           for r in rows), "no counting result"
' "$tmp/json.out" $N 2>"$tmp/json.py"; then
	fail "--json: exit $rc: $(tail -2 "$tmp/json.py")"
else
	pass "--json: valid JSON lines"
fi

# --- 2. broken workloads must fail --------------------------------------------
broken() { # broken WHAT ARGS...
	local what=$1
	shift
	PINION_BENCH_BREAK=$what run "break-$what" "$@"
	if [[ $rc -eq 0 ]]; then
		fail "break=$what: exit 0 (the check did not catch it)"
	elif [[ $rc -ge 124 ]]; then
		fail "break=$what: hung or crashed (exit $rc)"
	elif grep -q '^bench=' "$tmp/break-$what.out"; then
		fail "break=$what: printed a result line"
	elif ! grep -q 'check failed\|wrong\|expected\|lost' \
		"$tmp/break-$what.err"; then
		fail "break=$what: no reason given: $(tail -2 "$tmp/break-$what.err")"
	else
		pass "break=$what: exit $rc, no result line: $(grep -m1 'check failed\|wrong\|expected' "$tmp/break-$what.err")"
	fi
}
broken counting counting --impl pinion --variant cross --n $N
broken pingpong pingpong --impl pinion --variant local --n $N
broken ring ring --impl pinion --variant cross --n $N
broken forkjoin forkjoin --impl pinion --variant local --n $N
broken spawn spawn --impl pinion --variant cross --n $N
broken churn churn --impl pinion --variant local --n 2000
broken latency latency --impl pinion --n 4000 --rate 400000
broken raw counting --impl raw --variant local --n $N
broken echo echo --impl pinion --variant c1 --n 2000
broken fanout fanout --impl pinion --variant s16-512 --n 2000
broken fanout fanout --impl naive --variant s1-inline --n 2000
broken fanout-slots fanout --impl pinion --variant s16-inline --n 2000

if [[ $failures -ne 0 ]]; then
	echo "bench-selftest: $failures failure(s)"
	exit 1
fi
echo "bench-selftest: all passed"
