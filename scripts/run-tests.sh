#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Run test binaries, each under a time limit. Exit status 77 means "skipped"
# (the kernel or machine lacks a feature), as in liburing's test suite.
# Prints one line per test and a closing "N passed, N failed, N skipped".
set -uo pipefail

mode=release
timeout=120
while [[ $# -gt 0 ]]; do
	case "$1" in
	--mode) mode=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	*) break ;;
	esac
done

pass=0 fail=0 skip=0 failed=()
for t in "$@"; do
	start=$(date +%s.%N)
	log=$(mktemp)
	PN_TEST_MODE=$mode timeout --kill-after=10 "$timeout" "$t" >"$log" 2>&1
	rc=$?
	secs=$(printf '%.2f' "$(echo "$(date +%s.%N) - $start" | bc)")
	case $rc in
	0) pass=$((pass + 1)); printf '  PASS  %-50s %6ss\n' "$t" "$secs" ;;
	77) skip=$((skip + 1)); printf '  SKIP  %-50s %6ss\n' "$t" "$secs" ;;
	*)
		fail=$((fail + 1)); failed+=("$t")
		[[ $rc -eq 124 || $rc -eq 137 ]] && why="timed out after ${timeout}s" || why="exit $rc"
		printf '  FAIL  %-50s %6ss (%s)\n' "$t" "$secs" "$why"
		sed 's/^/        | /' "$log" | tail -n 60
		;;
	esac
	rm -f "$log"
done
echo "$mode: $pass passed, $fail failed, $skip skipped"
[[ $fail -eq 0 ]]
