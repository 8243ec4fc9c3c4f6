#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the rig's debug guest kernel: Debian's linux-source-6.12 (plain, the
# driver is built out of tree), allnoconfig + debug/debug.config (what the
# rig's guest needs, KASAN, lockdep, DEBUG_ATOMIC_SLEEP, debug objects,
# kmemleak, no CONFIG_HYPERV).
#
#   build-kernel.sh [--jobs N]
#
# The source is extracted once per Debian package version into
# build/debug/linux; objects go to build/debug/obj. The compiler runs under
# ccache with a fixed cache directory shared with the KUnit suite, so a
# build from an empty object directory mostly hits the cache, in any
# checkout: paths inside the checkout are hashed as relative ones. The .config
# is regenerated on every run but only replaced when it changes, so an
# up-to-date tree does not rebuild. Each build's wall time is appended to
# build/debug/build-times.log.
#
# Environment: CCACHE_DIR (default /var/cache/hv_azure_blob/ccache),
# DEBUG_KERNEL_NICE (default 10).
#
# Copyright (c) 2026 The hv_azure_blob authors

set -eu
: "${AZ_BLOB_SRCTREE:=$(cd "$(dirname "$0")/../../../.." && pwd)}"
export AZ_BLOB_SRCTREE

HERE="$AZ_BLOB_SRCTREE/tools/testing/azure_blob/debug"
# shellcheck source=../static/lib.sh
. "$AZ_BLOB_SRCTREE/tools/testing/azure_blob/static/lib.sh"

OUT="$BUILD/debug"
KSRC="$OUT/linux"
KOBJ="$OUT/obj"
FRAGMENT="$HERE/debug.config"
TIMES="$OUT/build-times.log"
export CCACHE_DIR="${CCACHE_DIR:-/var/cache/hv_azure_blob/ccache}"
# Hash paths inside the checkout as relative ones and leave the working
# directory out, so that a fresh clone elsewhere (CI) hits the objects an
# earlier checkout compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$AZ_BLOB_SRCTREE}"
export CCACHE_NOHASHDIR=true
# The make variables must not change from run to run: a different CC
# rebuilds everything.
KMAKE=(make -C "$KSRC" O="$KOBJ" CC="ccache gcc")
jobs=2

while [ $# -gt 0 ]; do
	case $1 in
	--jobs)	jobs=$2; shift 2 ;;
	*)	die "usage: $0 [--jobs N]" ;;
	esac
done

# extract_tree - unpack linux-source-6.12 into $KSRC once per version
extract_tree() {
	local tarball=/usr/src/linux-source-6.12.tar.xz ver tmp

	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	[ "$(cat "$OUT/linux.version" 2>/dev/null)" = "$ver" ] &&
		[ -f "$KSRC/Makefile" ] && return 0
	log "debug kernel: extracting linux-source-6.12 $ver (once)"
	rm -rf "$KSRC" "$KOBJ" "$OUT/linux.version"
	tmp="$OUT/linux.tmp"
	rm -rf "$tmp" && mkdir -p "$tmp"
	tar -C "$tmp" -xf "$tarball" || die "cannot extract $tarball"
	mv "$tmp/linux-source-6.12" "$KSRC" && rmdir "$tmp"
	echo "$ver" > "$OUT/linux.version"
}

# make_config - allnoconfig with the fragment as KCONFIG_ALLCONFIG, into
# $KOBJ/.config when it differs from the current one
make_config() {
	local want="$KOBJ/.config.want" line sym

	mkdir -p "$KOBJ"
	"${KMAKE[@]}" -s KCONFIG_CONFIG=.config.want \
		KCONFIG_ALLCONFIG="$FRAGMENT" allnoconfig
	rm -f "$KOBJ/.config.want.old"

	# Every line of the fragment must have survived the dependencies.
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF "$line" "$want" ||
				die "debug kernel: '$line' did not stick in .config" ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			! grep -q "^$sym=" "$want" ||
				die "debug kernel: $sym is set in .config" ;;
		esac
	done < "$FRAGMENT"

	if cmp -s "$want" "$KOBJ/.config"; then
		rm -f "$want"
	else
		log "debug kernel: new .config"
		mv "$want" "$KOBJ/.config"
	fi
}

main() {
	local start end cold=warm rc

	apt_need linux-source-6.12 xz-utils make gcc flex bison bc \
		libelf-dev libssl-dev ccache cpio kmod
	mkdir -p "$OUT" "$CCACHE_DIR"
	exec 8>"$OUT/.build.lock"
	flock -n 8 || { log "debug kernel: waiting for another build"; flock 8; }

	extract_tree
	[ -f "$KOBJ/vmlinux" ] || cold=empty-obj
	make_config

	# Cap the shared cache (it is reused by every later run here).
	ccache -M 5G >/dev/null
	start=$(date +%s)
	set +e
	nice -n "${DEBUG_KERNEL_NICE:-10}" "${KMAKE[@]}" -j"$jobs" all
	rc=$?
	set -e
	end=$(date +%s)
	echo "$(date -u +%FT%TZ) $cold rc=$rc $((end - start)) s" >> "$TIMES"
	log "debug kernel: make ($cold obj dir) exited with $rc after" \
		"$((end - start)) s"
	[ "$rc" -eq 0 ] || exit "$rc"
	log "debug kernel: $KOBJ/arch/x86/boot/bzImage"
}

main "$@"
