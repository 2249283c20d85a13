#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `make install` checked from the outside: the README's hello-world
# (tests/examples/hello.c) is built against what was installed with nothing
# but pkg-config, and run with LD_LIBRARY_PATH unset.
#
#   1. A scratch prefix (a directory the loader does not search): pinion.pc
#      carries -Wl,-rpath,${libdir}; a shared link runs and names
#      libpinion.so.0; a static link (`pkg-config --static`, the archive
#      named as -l:libpinion.a) runs and needs no libpinion.so; uninstall
#      leaves nothing.
#   2. The default prefix, staged with DESTDIR (any user): pinion.pc names
#      /usr/local/lib, carries no rpath when the loader searches
#      /usr/local/lib, install says it left ldconfig alone, the staged tree
#      links (PKG_CONFIG_SYSROOT_DIR); nothing reaches /usr/local.
#   3. The default prefix for real (root only), in a private mount
#      namespace: a fresh tmpfs on /usr/local and an overlay on /etc (where
#      ldconfig writes its cache), so the machine's /usr/local and
#      /etc/ld.so.cache are never touched, even if this is killed. install
#      runs ldconfig; the shared link runs with no rpath at all; the static
#      link runs; uninstall runs ldconfig again and the cache forgets
#      libpinion. Skipped, saying why, when not root or when the namespace
#      cannot be made (a container without CAP_SYS_ADMIN).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
mk() { make --no-print-directory -C "$top" MODE=release "$@"; }
fail() {
	echo "check-install: $*" >&2
	exit 1
}
unset LD_LIBRARY_PATH

# build_and_run DIR PCFLAGS...: shared and static links of hello.c in DIR
# (pkg-config's environment set by the caller), each run; $1/hello-dyn must
# name libpinion.so.0, $1/hello-static must not.
build_and_run() {
	local dir=$1 libs
	cp "$top/tests/examples/hello.c" "$dir/"
	(
		cd "$dir"
		# shellcheck disable=SC2046 # pkg-config's words are flags
		cc -std=c11 -Wall -Werror hello.c $(pkg-config --cflags pinion) \
			$(pkg-config --libs pinion) -o hello-dyn
		readelf -d hello-dyn | grep -q 'NEEDED.*\[libpinion\.so\.0\]' ||
			fail "hello-dyn does not link libpinion.so.0"
		./hello-dyn | grep -q "hello, world" ||
			fail "hello-dyn did not run (loader: $(ldd hello-dyn |
				grep pinion))"
		libs=$(pkg-config --static --libs pinion)
		# shellcheck disable=SC2046,SC2086
		cc -std=c11 -Wall -Werror hello.c $(pkg-config --cflags pinion) \
			${libs/-lpinion/-l:libpinion.a} -o hello-static
		! readelf -d hello-static | grep -q 'NEEDED.*libpinion' ||
			fail "hello-static still needs libpinion.so"
		./hello-static | grep -q "hello, world" ||
			fail "hello-static did not run"
	)
}

# --- 3, inside the namespace (this script runs itself there) -------------
if [[ "${1:-}" == --in-namespace ]]; then
	scratch=$2
	# Exit 77 (skipped) unless both mounts work: never ldconfig into the
	# machine's own cache.
	mkdir -p "$scratch/ovl"
	mount -t tmpfs pinion-test-usr-local /usr/local 2>/dev/null || exit 77
	mount -t tmpfs pinion-test-etc "$scratch/ovl" 2>/dev/null || exit 77
	mkdir "$scratch/ovl/up" "$scratch/ovl/work"
	mount -t overlay pinion-test-etc -o \
		"lowerdir=/etc,upperdir=$scratch/ovl/up,workdir=$scratch/ovl/work" \
		/etc 2>/dev/null || exit 77
	unset PKG_CONFIG_PATH
	out=$(mk install 2>&1) || fail "install to /usr/local: $out"
	grep -q '^pinion: ldconfig run' <<<"$out" ||
		fail "install as root to /usr/local did not run ldconfig: $out"
	ldconfig -p | grep -q 'libpinion\.so\.0 .*=> /usr/local/lib/libpinion\.so\.0$' ||
		fail "the loader's cache does not list /usr/local/lib/libpinion.so.0"
	pkg-config --libs pinion | grep -q rpath &&
		fail "pinion.pc for /usr/local carries an rpath"
	mkdir "$scratch/app-default"
	build_and_run "$scratch/app-default"
	readelf -d "$scratch/app-default/hello-dyn" | grep -q -E 'RPATH|RUNPATH' &&
		fail "hello-dyn against /usr/local has an rpath"
	out=$(mk uninstall 2>&1) || fail "uninstall from /usr/local: $out"
	grep -q '^pinion: ldconfig run' <<<"$out" ||
		fail "uninstall as root did not run ldconfig: $out"
	ldconfig -p | grep -q libpinion && fail "the cache still lists libpinion"
	[[ -z "$(find /usr/local -name '*pinion*' -print -quit)" ]] ||
		fail "uninstall left pinion files in /usr/local"
	exit 0
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mk all >/dev/null

# --- 1. a scratch prefix ------------------------------------------------------
prefix=$scratch/prefix
out=$(mk PREFIX="$prefix" install 2>&1) || fail "install: $out"
grep -q '^pinion: ldconfig not needed' <<<"$out" ||
	fail "install to a scratch prefix: $(grep '^pinion:' <<<"$out")"
grep -q "^Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lpinion" \
	"$prefix/lib/pkgconfig/pinion.pc" || fail "pinion.pc has no rpath"
[[ -f "$prefix/lib/libpinion.a" && -f "$prefix/include/pinion/pinion.h" ]] ||
	fail "install left out the archive or the headers"
mkdir "$scratch/app"
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" build_and_run "$scratch/app"
readelf -d "$scratch/app/hello-dyn" | grep -q "R.*PATH.*\[$prefix/lib\]" ||
	fail "hello-dyn's run path is not $prefix/lib"
mk PREFIX="$prefix" uninstall >/dev/null
[[ -z "$(find "$prefix" -name '*pinion*' -print -quit)" ]] ||
	fail "uninstall left: $(find "$prefix" -name '*pinion*')"
passed=1

# --- 2. the default prefix, staged ----------------------------------------------
stage=$scratch/stage
had=$(find /usr/local -maxdepth 3 -name '*pinion*' 2>/dev/null | sort)
libdir=$(make --no-print-directory -s -C "$top" \
	--eval 'print-libdir: ; @echo $(LIBDIR)' print-libdir)
[[ "$libdir" == /usr/local/lib ]] || fail "the default LIBDIR is $libdir"
out=$(mk DESTDIR="$stage" install 2>&1) || fail "DESTDIR install: $out"
pc=$stage/usr/local/lib/pkgconfig/pinion.pc
grep -qx 'libdir=/usr/local/lib' "$pc" || fail "staged pinion.pc: $(cat "$pc")"
if scripts/loader.sh known /usr/local/lib; then
	grep -q '^pinion: ldconfig not run (DESTDIR is set)' <<<"$out" ||
		fail "DESTDIR install: $(grep '^pinion:' <<<"$out")"
	grep -q rpath "$pc" && fail "pinion.pc for /usr/local carries an rpath"
else # a system whose loader does not search /usr/local/lib
	grep -q rpath "$pc" || fail "pinion.pc for /usr/local needs an rpath"
fi
mkdir "$scratch/app-staged"
cp tests/examples/hello.c "$scratch/app-staged/"
(
	cd "$scratch/app-staged"
	export PKG_CONFIG_SYSROOT_DIR=$stage
	export PKG_CONFIG_PATH=$stage/usr/local/lib/pkgconfig
	# shellcheck disable=SC2046
	cc -std=c11 -Wall -Werror hello.c $(pkg-config --cflags --libs pinion) \
		-o hello-staged
	LD_LIBRARY_PATH=$stage/usr/local/lib ./hello-staged | grep -q "hello, world"
) || fail "a program built against the staged tree does not run"
mk DESTDIR="$stage" uninstall >/dev/null
[[ -z "$(find "$stage" -name '*pinion*' -print -quit)" ]] ||
	fail "DESTDIR uninstall left: $(find "$stage" -name '*pinion*')"
[[ "$(find /usr/local -maxdepth 3 -name '*pinion*' 2>/dev/null | sort)" == "$had" ]] ||
	fail "a DESTDIR install changed /usr/local"
passed=$((passed + 1))

# --- 3. the default prefix for real, out of the machine's sight ----------------
why=
if [[ $(id -u) -ne 0 ]]; then
	why="not root"
elif ! unshare -m --propagation private true 2>/dev/null; then
	why="no mount namespace (unshare -m failed)"
fi
if [[ -z "$why" ]]; then
	rc=0
	unshare -m --propagation private "$0" --in-namespace "$scratch" || rc=$?
	if [[ $rc -eq 77 ]]; then
		why="no tmpfs or overlay mount in a mount namespace"
	elif [[ $rc -ne 0 ]]; then
		fail "the default-prefix install (in a mount namespace) failed"
	fi
fi
if [[ -z "$why" ]]; then
	[[ "$(find /usr/local -maxdepth 3 -name '*pinion*' 2>/dev/null | sort)" == "$had" ]] ||
		fail "the namespaced install leaked into /usr/local"
	passed=$((passed + 1))
	echo "install: $passed passed, 0 failed (scratch prefix with rpath;" \
		"/usr/local staged; /usr/local as root with ldconfig, in a" \
		"mount namespace)"
else
	echo "install: $passed passed, 0 failed, 1 skipped (scratch prefix" \
		"with rpath; /usr/local staged; the real /usr/local install" \
		"with ldconfig skipped: $why)"
fi
