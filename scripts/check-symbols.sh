#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every symbol libpinion.so exports must be public API: ^pn_[a-z].
set -uo pipefail
so=${1:-build/release/libpinion.so.0}
bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^pn_[a-z]' || true)
if [[ -n "$bad" ]]; then
	echo "check-symbols: $so exports symbols outside ^pn_[a-z]:"
	echo "$bad" | sed 's/^/  /'
	exit 1
fi
echo "check-symbols: $(nm -D --defined-only "$so" | wc -l) exported symbols, all pn_*"
