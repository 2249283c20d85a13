#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Check each Promela model with spin. A model named *_mutant*.pml is a
# deliberately broken variant of a protocol: the check passes only when spin
# FINDS an error in it, which shows the property is strong enough to catch
# the bug the real protocol avoids. A variant may be a few lines that #define
# a switch and #include "the_model.pml" from the same directory, so that a
# mutant is exactly the verified model with one step changed.
#
# The search is exhaustive (no bitstate) and only checks safety: assertions
# and invalid end states (deadlocks). A run that hits the depth limit
# (-m100000) has not seen the whole state space, so a model that does is a
# failure, not a pass.
set -uo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Check model $1 in directory $2: print one verdict line (and details),
# return non-zero on failure.
check() {
	local m=$1 dir=$2 name flags inc errors states secs what
	name=$(basename "$m" .pml)
	mkdir -p "$dir"
	cp "$m" "$dir/"
	# The files it #includes (one level, relative to the model).
	for inc in $(sed -n 's|^#include "\(.*\)"|\1|p' "$m"); do
		cp "$(dirname "$m")/$inc" "$dir/"
	done
	# Optional per-model spin flags on a line "// spin-flags: ...".
	flags=$(sed -n 's|^// spin-flags: *||p' "$m" | head -n1)
	if ! ( cd "$dir" && spin -a "$name.pml" >spin.log 2>&1 &&
	  cc -O2 -w -DSAFETY -DNOREDUCE -o pan pan.c ${flags:+$flags} >>spin.log 2>&1 ); then
		echo "  FAIL  $m (spin/cc failed)"; sed 's/^/        | /' "$dir/spin.log" | tail -20
		return 1
	fi
	( cd "$dir" && ./pan -m100000 >pan.log 2>&1 )
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$dir/pan.log" | head -n1)
	states=$(sed -n 's/^ *\([0-9e+.]*\) states, stored.*/\1/p' "$dir/pan.log" | head -n1)
	secs=$(sed -n 's/^pan: elapsed time \([0-9.e+-]*\).*/\1/p' "$dir/pan.log" | head -n1)
	what=$(sed -n 's/^pan:1: \(.*\) (at depth.*/\1/p' "$dir/pan.log" | head -n1)
	if [[ -z "$errors" ]]; then
		echo "  FAIL  $m (no verdict)"; tail -20 "$dir/pan.log" | sed 's/^/        | /'
		return 1
	elif [[ "$name" == *_mutant* ]]; then
		if [[ "$errors" -gt 0 ]]; then
			echo "  PASS  $m (mutant caught: $what; $states states, ${secs}s)"
		else
			echo "  FAIL  $m (mutant NOT caught: the property is too weak)"; return 1
		fi
	elif [[ "$errors" -eq 0 ]] && grep -q "max search depth too small" "$dir/pan.log"; then
		echo "  FAIL  $m (search truncated at depth 100000: not exhaustive)"; return 1
	elif [[ "$errors" -eq 0 ]]; then
		echo "  PASS  $m ($states states, no errors, ${secs}s)"
	else
		echo "  FAIL  $m ($errors error(s))"; grep -E "assertion|violated|acceptance|invalid end" "$dir/pan.log" | sed 's/^/        | /'
		return 1
	fi
}

# One model per CPU at a time; verdicts are printed in argument order.
jobs_max=$(nproc 2>/dev/null || echo 1)
i=0
for m in "$@"; do
	while [[ $(jobs -rp | wc -l) -ge $jobs_max ]]; do wait -n; done
	( check "$m" "$work/$i" >"$work/$i.out" 2>&1; echo $? >"$work/$i.rc" ) &
	i=$((i + 1))
done
wait
pass=0 fail=0
for ((j = 0; j < i; j++)); do
	cat "$work/$j.out"
	if [[ "$(cat "$work/$j.rc" 2>/dev/null)" == 0 ]]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
done
echo "models: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
