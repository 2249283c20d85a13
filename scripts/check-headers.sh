#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Each public header compiles on its own, as C11 and as C++17, and together
# they name no internal symbol.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
inc="-Iinclude -Itopology -Ialloc -Icore $(printf -- '-I%s ' core/*/) -Iio"
for h in $(git ls-files '*/pn_*.h') include/pinion.h; do
	echo "#include \"$(basename "$h")\"" |
		cc -std=c11 -Wall -Wextra -Werror $inc -fsyntax-only -x c - ||
		{ echo "check-headers: $h is not self-contained (C)"; bad=1; }
	echo "#include \"$(basename "$h")\"" |
		c++ -std=c++17 -Wall -Wextra -Werror $inc -fsyntax-only -x c++ - ||
		{ echo "check-headers: $h does not compile as C++"; bad=1; }
done
# What an installed program sees names no internal symbol (pn__*): a macro
# or inline function that used one would not link against the library.
internal=$(echo '#include "pinion.h"' | cc -E -dD $inc -x c - |
	grep -o '\bpn__[a-z_0-9]*' | sort -u | tr '\n' ' ')
[[ -z $internal ]] || {
	echo "check-headers: the public headers name internal symbols: $internal"
	bad=1
}
[[ $bad -eq 0 ]] && echo "check-headers: public headers self-contained (C and C++), no internal symbol"
exit $bad
