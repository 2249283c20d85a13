#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Dependencies point one way.
#
#  1. Modules: topology <- alloc <- core <- io. A module includes only its
#     own headers and the public headers of the modules below it.
#  2. core/'s sub-modules: base <- sched <- actor <- {sup, mig, obs} <- rt.
#     A file in core/X/ includes only headers of X and of sub-modules below
#     X (sup, mig, obs and topic do not see each other); nothing in core/ includes
#     core/core_int.h (the white-box tests' umbrella).
#  3. Calls: from the objects of BUILD (default build/release), a symbol
#     one core sub-module calls must be defined in the same sub-module or
#     one below it; and the graph of calls between sub-modules has no cycle.
#  4. Sizes: public headers at most 450 lines, internal headers 200, source
#     files 800.
#
# Usage: scripts/check-deps.sh [BUILD]   (3 is skipped without objects)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
bad=0
fail() {
	echo "check-deps: $*"
	bad=1
}

# --- 1. modules -------------------------------------------------------------
pub_of() { # the public headers of a module
	case $1 in
	topology) echo "pn_base.h pn_topology.h" ;;
	alloc) echo "pn_alloc.h" ;;
	core) git ls-files 'core/*pn_*.h' | xargs -rn1 basename | tr '\n' ' ' ;;
	io) echo "pn_io.h" ;;
	esac
}
declare -A allowed=(
	[topology]="$(pub_of topology)"
	[alloc]="$(pub_of topology) $(pub_of alloc)"
	[core]="$(pub_of topology) $(pub_of alloc) $(pub_of core)"
	[io]="$(pub_of topology) $(pub_of alloc) $(pub_of core) $(pub_of io)"
)
for mod in topology alloc core io; do
	own=$(git ls-files "$mod/*.h" | xargs -rn1 basename | tr '\n' ' ')
	for f in $(git ls-files "$mod/*.c" "$mod/*.h"); do
		while read -r inc; do
			[[ " ${allowed[$mod]} $own " == *" $inc "* ]] && continue
			# system and library headers (not Pinion's) are fine
			[[ -n $(git ls-files "*/$inc" "$inc") ]] || continue
			fail "$f includes \"$inc\", which $mod may not use"
		done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
	done
done

# --- 2. core's sub-modules: includes ----------------------------------------
subs="base sched actor sup mig obs topic rt"
declare -A below=(
	[base]=""
	[sched]="base"
	[actor]="base sched"
	[sup]="base sched actor"
	[mig]="base sched actor"
	[obs]="base sched actor"
	[topic]="base sched actor"
	[rt]="base sched actor sup mig obs topic"
)
sub_of_header() { # the sub-module a core header belongs to ("" if none)
	local p
	p=$(git ls-files "core/*/$1" | head -n1)
	[[ -n $p ]] && { p=${p#core/}; echo "${p%%/*}"; return; }
	[[ $1 == pn_core.h ]] && echo base # declarations every layer sees
}
for f in $(git ls-files 'core/*/*.c' 'core/*/*.h'); do
	rel=${f#core/}
	sub=${rel%%/*}
	while read -r inc; do
		[[ $inc == core_int.h ]] && {
			fail "$f includes core_int.h (tests only)"
			continue
		}
		hs=$(sub_of_header "$inc")
		[[ -z $hs || $hs == "$sub" ]] && continue
		[[ " ${below[$sub]} " == *" $hs "* ]] && continue
		fail "$f ($sub) includes \"$inc\" ($hs): $sub may not depend on $hs"
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done

# --- 3. core's sub-modules: calls -------------------------------------------
if compgen -G "$build/obj/core/*/*.o" >/dev/null; then
	edges=$(for o in "$build"/obj/core/*/*.o; do
		rel=${o#"$build"/obj/core/}
		sub=${rel%%/*}
		nm --defined-only -g "$o" | awk -v s="$sub" '{print "D", s, $3}'
		nm -u "$o" | awk -v s="$sub" -v f="$rel" '{print "U", s, $2, f}'
	done | awk '
		$1 == "D" { def[$3] = $2; next }
		{ use[NR] = $0 }
		END {
			for (i in use) {
				split(use[i], u, " ")
				d = def[u[3]]
				if (d != "" && d != u[2])
					print u[2], d, u[3], u[4]
			}
		}' | sort -u)
	while read -r from to sym file; do
		[[ -z $from ]] && continue
		[[ " ${below[$from]} " == *" $to "* ]] && continue
		fail "core/${file%.o}.c ($from) calls $sym, defined in $to"
	done <<<"$edges"
	# No cycle among the sub-modules that call each other (tsort reports
	# one on stderr).
	pairs=$(awk '{print $2, $1}' <<<"$edges" | sort -u)
	if [[ -n $pairs ]] && ! tsort <<<"$pairs" >/dev/null 2>/tmp/check-deps.$$; then
		fail "a call cycle between sub-modules: $(tr '\n' ' ' </tmp/check-deps.$$)"
	fi
	rm -f /tmp/check-deps.$$
else
	echo "check-deps: no objects in $build: calls not checked"
fi

# --- 4. sizes ----------------------------------------------------------------
limit() { # file, max lines, what
	local n
	n=$(wc -l <"$1")
	((n <= $2)) || fail "$1: $n lines ($3: at most $2)"
}
for h in $(git ls-files '*/pn_*.h' 'include/*.h'); do limit "$h" 450 "a public header"; done
for h in $(git ls-files 'topology/*.h' 'alloc/*.h' 'core/*.h' 'io/*.h' | grep -v '/pn_[^/]*\.h$'); do
	limit "$h" 200 "an internal header"
done
for c in $(git ls-files 'topology/*.c' 'alloc/*.c' 'core/*.c' 'io/*.c'); do
	limit "$c" 800 "a source file"
done

[[ $bad -eq 0 ]] && echo "check-deps: dependency direction, calls and sizes OK"
exit $bad
