#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Make sure the Debian packages Pinion's build, tests and benchmarks need are
# installed. Idempotent: when everything is present it only checks (fast).
# As root it installs what is missing with apt-get; otherwise it prints the
# exact command to run and fails.
set -euo pipefail

PKGS=(
	build-essential pkg-config
	liburing-dev libjemalloc-dev libhwloc-dev hwloc
	# libhwloc.a calls libudev and hwloc.pc's Libs.private says -ludev,
	# but libhwloc-dev does not pull in the -dev package that makes
	# -ludev linkable: without it `pkg-config --static --libs pinion`
	# names a library the linker cannot find.
	libudev-dev
	libcmocka-dev libbenchmark-dev
	spin gnuplot-nox
	clang clang-format clang-tidy cppcheck
	libclang-rt-14-dev # libFuzzer (libclang_rt.fuzzer-x86_64.a): make fuzz
	systemtap-sdt-dev
)

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$st" == "install ok installed" ]] || missing+=("$p")
done

[[ ${#missing[@]} -eq 0 ]] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
	echo "pinion: missing packages: ${missing[*]}" >&2
	echo "pinion: run as root:  apt-get update && $cmd" >&2
	exit 1
fi
echo "pinion: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
