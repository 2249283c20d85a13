#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Dependencies point one way: topology <- alloc <- core <- io (DESIGN.md).
# A module may include only its own headers and the public headers of the
# modules below it; nobody includes another module's internal header.
set -uo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
	[topology]="pn_base.h pn_topology.h"
	[alloc]="pn_base.h pn_topology.h pn_alloc.h"
	[core]="pn_base.h pn_topology.h pn_alloc.h pn_core.h pn_msg.h pn_ring.h pinion.h"
	[io]="pn_base.h pn_topology.h pn_alloc.h pn_core.h pn_msg.h pn_ring.h pinion.h pn_io.h"
)
bad=0
for mod in topology alloc core io; do
	own=$(git ls-files "$mod/*.h" | xargs -rn1 basename | tr "\n" " ")
	for f in $(git ls-files "$mod/*.c" "$mod/*.h"); do
		while read -r inc; do
			[[ " ${allowed[$mod]} $own " == *" $inc "* ]] && continue
			# The umbrella header (kept in core/, STYLE.md) includes
			# every module's public header; nothing else in core may.
			[[ "$f" == include/pinion.h && "$inc" == pn_io.h ]] && continue
			# system and library headers (not Pinion's) are fine
			[[ -n $(git ls-files "*/$inc" "$inc") ]] || continue
			echo "check-deps: $f includes \"$inc\", which $mod may not use"
			bad=1
		done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
	done
done
[[ $bad -eq 0 ]] && echo "check-deps: dependency direction OK"
exit $bad
