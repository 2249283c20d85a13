#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static analysis of the library and of the fuzz harnesses (tests/fuzz/:
# they run under ASan+UBSan anyway, but a harness that is itself wrong
# finds nothing): cppcheck (warning, performance, portability) must be
# clean.
set -uo pipefail
cd "$(dirname "$0")/.."
srcs=$(git ls-files 'topology/*.c' 'alloc/*.c' 'core/*.c' 'io/*.c' 'tests/fuzz/*.c')
cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
	--enable=warning,performance,portability \
	-D_GNU_SOURCE -DPN_INTERNAL -Iinclude -Itopology -Ialloc $(printf -- '-I%s ' core core/*/) -Iio \
	-Itests/fuzz \
	--suppress=missingIncludeSystem $srcs && echo "lint: cppcheck clean"
