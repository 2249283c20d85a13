#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Each public header compiles on its own, as C11 and as C++17.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
for h in topology/pn_base.h topology/pn_topology.h alloc/pn_alloc.h \
	core/base/pn_msg.h core/base/pn_ring.h core/pn_core.h io/pn_io.h \
	include/pinion.h; do
	inc="-Iinclude -Itopology -Ialloc -Icore -Icore/base -Iio"
	echo "#include \"$(basename "$h")\"" |
		cc -std=c11 -Wall -Wextra -Werror $inc -fsyntax-only -x c - ||
		{ echo "check-headers: $h is not self-contained (C)"; bad=1; }
	echo "#include \"$(basename "$h")\"" |
		c++ -std=c++17 -Wall -Wextra -Werror $inc -fsyntax-only -x c++ - ||
		{ echo "check-headers: $h does not compile as C++"; bad=1; }
done
[[ $bad -eq 0 ]] && echo "check-headers: public headers self-contained (C and C++)"
exit $bad
