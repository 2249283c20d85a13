#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `make test`: everything CI checks, in order of how fast it fails.
#   0. code checks (format, cppcheck, dependency direction, exports, headers)
#   1. release build of the library, tools, unit and stress tests; run them
#   2. ASan+UBSan build of the unit and stress tests; run them
#   3. libFuzzer targets: every kept input once, then a few seconds each
#   4. ThreadSanitizer build of the concurrency tests; run them
#   5. spin model checks of every lock-free protocol (and their mutants)
#   6. the benchmark program's self-checks (a broken workload must fail)
# Stress counts are scaled down under the sanitizers through PN_STRESS_SCALE.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
mk() { make --no-print-directory -j"$jobs" "$@"; }
step() { printf '\n== %s\n' "$*"; }

step "code checks: clang-format, cppcheck, dependencies, symbols, headers"
mk MODE=release check

step "release: build"
mk MODE=release all tests bench-progs
step "release: unit tests"
mk MODE=release unit
step "release: stress tests"
mk MODE=release stress
step "install: build and run an example against the installed library"
scripts/check-install.sh

step "asan+ubsan: build and run unit and stress tests"
mk MODE=asan tests
PN_STRESS_SCALE=${PN_STRESS_SCALE_ASAN:-0.3} mk MODE=asan unit stress

step "fuzz: each target's corpus, then ${FUZZ_REGRESS_SECONDS:-5} s of fuzzing (clang, ASan+UBSan)"
mk fuzz-regress

step "tsan: build and run concurrency tests"
mk MODE=tsan tsan-tests-build
PN_STRESS_SCALE=${PN_STRESS_SCALE_TSAN:-0.1} mk MODE=tsan tsan-tests

step "model checks (spin)"
mk models

if [[ -x scripts/bench-selftest.sh ]]; then
	step "benchmark self-checks"
	scripts/bench-selftest.sh build/release
fi
echo
echo "make test: all steps passed"
