#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Check each Promela model with spin. A model named *_mutant*.pml is a
# deliberately broken variant of a protocol: the check passes only when spin
# FINDS an error in it, which shows the property is strong enough to catch
# the bug the real protocol avoids.
set -uo pipefail
pass=0 fail=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for m in "$@"; do
	name=$(basename "$m" .pml)
	dir="$work/$name"
	mkdir -p "$dir"
	cp "$m" "$dir/"
	# Optional per-model spin flags on a line "// spin-flags: ...".
	flags=$(sed -n 's|^// spin-flags: *||p' "$m" | head -n1)
	( cd "$dir" && spin -a "$name.pml" >spin.log 2>&1 &&
	  cc -O2 -w -DSAFETY -DNOREDUCE -o pan pan.c ${flags:+$flags} >>spin.log 2>&1 )
	if [[ $? -ne 0 ]]; then
		echo "  FAIL  $m (spin/cc failed)"; sed 's/^/        | /' "$dir/spin.log" | tail -20
		fail=$((fail + 1)); continue
	fi
	( cd "$dir" && ./pan -m100000 >pan.log 2>&1 )
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$dir/pan.log" | head -n1)
	states=$(sed -n 's/^ *\([0-9e+.]*\) states, stored.*/\1/p' "$dir/pan.log" | head -n1)
	if [[ -z "$errors" ]]; then
		echo "  FAIL  $m (no verdict)"; tail -20 "$dir/pan.log" | sed 's/^/        | /'
		fail=$((fail + 1))
	elif [[ "$name" == *_mutant* ]]; then
		if [[ "$errors" -gt 0 ]]; then
			echo "  PASS  $m (mutant caught: $errors error(s), $states states)"; pass=$((pass + 1))
		else
			echo "  FAIL  $m (mutant NOT caught: the property is too weak)"; fail=$((fail + 1))
		fi
	elif [[ "$errors" -eq 0 ]]; then
		echo "  PASS  $m ($states states, no errors)"; pass=$((pass + 1))
	else
		echo "  FAIL  $m ($errors error(s))"; grep -E "assertion|violated|acceptance|invalid end" "$dir/pan.log" | sed 's/^/        | /'
		fail=$((fail + 1))
	fi
done
echo "models: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
