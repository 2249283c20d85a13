#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Run the libFuzzer targets of tests/fuzz/ (tests/fuzz/module.mk builds
# them; `make fuzz`, `make fuzz-regress` and `make fuzz-build` call this).
#
#   scripts/fuzz.sh toolchain CC           CC is a clang with libFuzzer
#   scripts/fuzz.sh run SECONDS T...       fuzz each target T for SECONDS
#   scripts/fuzz.sh regress SECONDS T...   run each input of T's corpus once,
#                                          then fuzz T for SECONDS
#
# For a target T:
#   build/fuzz/fuzz_T            the fuzzer
#   tests/fuzz/corpus/T/         seeds and kept crashing inputs (read only
#                                here: the tree never changes by fuzzing)
#   build/fuzz/corpus/T/         the inputs libFuzzer finds (kept between
#                                runs, so each run starts where the last
#                                one ended)
#   build/fuzz/crashes/T/        what crashed (crash-*, leak-*, timeout-*,
#                                oom-*), named by libFuzzer
#   build/fuzz/log/T.log         the fuzzer's output
#   tests/fuzz/fuzz_T.dict       a dictionary, if there is one
# Prints one line per target (executions, crashed or not) and fails if any
# crashed, saying how to reproduce it and to keep the input.
#
# FUZZ_TIMEOUT (10 s): one input running longer is a crash (a hang).
# FUZZ_FLAGS: more libFuzzer flags, e.g. FUZZ_FLAGS=-max_len=64.
set -uo pipefail
cd "$(dirname "$0")/.."

dir=build/fuzz

toolchain() {
	local cc=$1 rtdir lib
	if ! command -v "$cc" >/dev/null; then
		echo "fuzz: no $cc: install clang (scripts/deps.sh lists it)" >&2
		return 1
	fi
	if ! rtdir=$("$cc" --print-runtime-dir 2>/dev/null) || [[ -z $rtdir ]]; then
		echo "fuzz: $cc is not clang (it has no --print-runtime-dir); set FUZZ_CC to a clang" >&2
		return 1
	fi
	lib="$rtdir/libclang_rt.fuzzer-$(uname -m).a"
	if [[ ! -f $lib ]]; then
		echo "fuzz: $cc has no libFuzzer runtime ($lib is missing)." >&2
		echo "fuzz: on Debian 12 it is in libclang-rt-14-dev:" >&2
		echo "fuzz:   apt-get install libclang-rt-14-dev   (or run scripts/deps.sh as root)" >&2
		return 1
	fi
}

# The number of inputs run, from libFuzzer's final statistics or, when it
# died before printing them, its last status line ("#1234  NEW ...").
execs() {
	local n
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n1)
	[[ -n $n ]] || n=$(grep -ao '^#[0-9]*' "$1" | tail -n1 | tr -d '#')
	echo "${n:-0}"
}

# One libFuzzer run of target $1, logging to $2; the rest are its flags.
# Returns its exit status.
fuzz_once() {
	local t=$1 log=$2 dict=tests/fuzz/fuzz_$1.dict
	shift 2
	local flags=(-artifact_prefix="$dir/crashes/$t/" -print_final_stats=1
		-timeout="${FUZZ_TIMEOUT:-10}")
	[[ -f $dict ]] && flags+=(-dict="$dict")
	# FUZZ_FLAGS is split into words on purpose.
	# shellcheck disable=SC2206
	flags+=(${FUZZ_FLAGS:-})
	"$dir/fuzz_$t" "${flags[@]}" "$@" >>"$log" 2>&1
}

# Explain a crash of target $1 (log $2); $3 = corpus when the input came
# from the tree's corpus (a regression, already kept).
report_crash() {
	local t=$1 log=$2 from=${3:-} art
	art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
	# The report from its first line, without libFuzzer's own frames.
	echo "  --- from $log:"
	awk '/ERROR|runtime error|check failed|panic:|Sanitizer|deadly signal/ { on = 1 }
		on && !/in fuzzer::|libc_start|in _start|in main / { print; n++ }
		n >= 24 { exit }' "$log" | sed 's/^/  | /'
	if [[ -n $art ]]; then
		echo "  input:      $art"
		echo "  reproduce:  $dir/fuzz_$t $art"
		if [[ $from == corpus ]]; then
			echo "  (a kept input of tests/fuzz/corpus/$t/ with these bytes: a regression)"
		else
			echo "  once fixed, keep it as a regression input (make fuzz-regress runs it):"
			echo "              cp $art tests/fuzz/corpus/$t/"
		fi
	else
		echo "  (libFuzzer wrote no input; see $log)"
	fi
}

run() { # mode seconds targets...
	local mode=$1 secs=$2 t log rc n bad=() start
	shift 2
	if [[ $# -eq 0 ]]; then
		echo "fuzz: no targets (tests/fuzz/fuzz_*.mk lists none)"
		return 0
	fi
	for t in "$@"; do
		local corpus=tests/fuzz/corpus/$t scratch=$dir/corpus/$t
		log=$dir/log/$t.log
		mkdir -p "$dir/crashes/$t" "$scratch" "$dir/log"
		: >"$log"
		[[ -d $corpus ]] || echo "fuzz: $t: no seed corpus ($corpus); starting empty"
		rc=0
		start=$SECONDS
		if [[ $mode == regress && -d $corpus ]]; then
			# Every kept input once; no fuzzing, nothing written.
			fuzz_once "$t" "$log" -runs=0 "$corpus" || rc=$?
			n=$(find "$corpus" -type f | wc -l)
			if [[ $rc -ne 0 ]]; then
				echo "fuzz: $t: CRASHED on its corpus ($n inputs)"
				report_crash "$t" "$log" corpus
				bad+=("$t")
				continue
			fi
			echo "fuzz: $t: corpus of $n inputs: no crash"
		fi
		# New inputs go to the first directory, the scratch one.
		local dirs=("$scratch")
		[[ -d $corpus ]] && dirs+=("$corpus")
		fuzz_once "$t" "$log" -max_total_time="$secs" "${dirs[@]}" || rc=$?
		n=$(execs "$log")
		if [[ $rc -ne 0 ]]; then
			echo "fuzz: $t: CRASHED after $n executions ($((SECONDS - start)) s)"
			report_crash "$t" "$log"
			bad+=("$t")
		else
			echo "fuzz: $t: $n executions in $((SECONDS - start)) s: no crash"
		fi
	done
	if [[ ${#bad[@]} -gt 0 ]]; then
		echo "fuzz: crashed: ${bad[*]}"
		return 1
	fi
	echo "fuzz: ${mode}: no crash in $# targets"
}

case ${1:-} in
toolchain) toolchain "${2:-clang}" ;;
run | regress) run "$@" ;;
*)
	echo "usage: scripts/fuzz.sh toolchain CC | run|regress SECONDS TARGET..." >&2
	exit 2
	;;
esac
