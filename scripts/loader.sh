#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# What `make install` does about the dynamic loader (README: "Installing").
#
#   scripts/loader.sh known LIBDIR
#       exit 0 when the loader looks in LIBDIR by itself: one of its
#       built-in directories or one /etc/ld.so.conf names (as ldconfig
#       reads them, compared after resolving symlinks), else exit 1.
#   scripts/loader.sh rpath LIBDIR
#       print what pinion.pc's Libs gets before -lpinion: nothing for a
#       known LIBDIR, else "-Wl,-rpath,${libdir} " (pkg-config expands it).
#   scripts/loader.sh refresh LIBDIR DESTDIR [install|uninstall]
#       after installing or uninstalling: run ldconfig when LIBDIR is known,
#       DESTDIR is empty and we are root; otherwise say why not, and what
#       to do instead, in one line starting with "pinion: ldconfig" (none
#       for an uninstall from a directory the loader does not search).
#
# LDCONFIG overrides the ldconfig program (default: the one on PATH, else
# /sbin/ldconfig, which a normal user's PATH often lacks).
set -euo pipefail

ldconfig_bin() {
	if [[ -n "${LDCONFIG:-}" ]]; then
		echo "$LDCONFIG"
	elif command -v ldconfig >/dev/null 2>&1; then
		command -v ldconfig
	else
		echo /sbin/ldconfig
	fi
}

# The directories the loader searches without help: every directory
# ldconfig would scan (-N -X: write nothing), its built-in (trusted) ones
# included, with configured ones that do not exist yet and ones it skipped
# as duplicates of another. Without ldconfig, glibc's usual trusted ones.
loader_dirs() {
	local ld ma
	ld=$(ldconfig_bin)
	if [[ -x "$ld" ]]; then
		LC_ALL=C "$ld" -N -X -v 2>&1 | sed -n \
			-e 's|^\(/[^:]*\):\( (from .*)\)\{0,1\}$|\1|p' \
			-e "s|.*Can't stat \\(/[^:]*\\):.*|\\1|p" \
			-e "s|.*Path \`\\(/[^']*\\)' given more than once.*|\\1|p" || true
		return 0
	fi
	ma=$(${CC:-cc} -print-multiarch 2>/dev/null || true)
	printf '%s\n' /lib /usr/lib
	[[ -z "$ma" ]] || printf '%s\n' "/lib/$ma" "/usr/lib/$ma"
}

known() {
	local want d
	want=$(realpath -m "$1")
	while read -r d; do
		[[ -n "$d" && "$(realpath -m "$d")" == "$want" ]] && return 0
	done < <(loader_dirs)
	return 1
}

case "${1:-}" in
known)
	known "$2"
	;;
rpath)
	known "$2" || printf '%s' '-Wl,-rpath,${libdir} '
	;;
refresh)
	libdir=$2 destdir=${3:-} what=${4:-install}
	if ! known "$libdir"; then
		[[ "$what" == uninstall ]] && exit 0
		echo "pinion: ldconfig not needed: $libdir is not a loader" \
			"directory, so pinion.pc links with -Wl,-rpath,$libdir"
	elif [[ -n "$destdir" ]]; then
		echo "pinion: ldconfig not run (DESTDIR is set): run it once" \
			"the files are in $libdir (a package's postinst)"
	elif [[ $(id -u) -ne 0 ]]; then
		echo "pinion: ldconfig not run (not root): run" \
			"'ldconfig' as root so the loader finds libpinion.so in" \
			"$libdir"
	else
		"$(ldconfig_bin)"
		echo "pinion: ldconfig run: the loader's cache is up to date" \
			"for $libdir"
	fi
	;;
*)
	echo "usage: $0 known|rpath LIBDIR |" \
		"refresh LIBDIR DESTDIR [install|uninstall]" >&2
	exit 2
	;;
esac
