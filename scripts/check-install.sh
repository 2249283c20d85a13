#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install Pinion into a scratch prefix, then build and run the README's
# hello-world example outside the tree with nothing but
# `pkg-config --cflags --libs pinion`; then uninstall.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
make --no-print-directory MODE=release PREFIX="$prefix" install >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
work="$prefix/app"
mkdir -p "$work"
cp tests/examples/hello.c "$work/"
cd "$work"
cc -std=c11 -Wall -Werror hello.c $(pkg-config --cflags pinion) \
	$(pkg-config --libs pinion) -o hello-dyn
LD_LIBRARY_PATH="$prefix/lib" ./hello-dyn | grep -q "hello, world"
[[ -f "$prefix/lib/libpinion.a" && -f "$prefix/include/pinion/pinion.h" ]]
make --no-print-directory -C "$OLDPWD" MODE=release PREFIX="$prefix" uninstall >/dev/null
[[ ! -e "$prefix/include/pinion" && ! -e "$prefix/lib/libpinion.a" ]]
echo "install: 1 passed, 0 failed (pkg-config build and run, uninstall)"
