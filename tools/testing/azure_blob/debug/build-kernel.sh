#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the rig's debug guest kernel: Debian's linux-source-6.12 (plain, the
# driver is built out of tree), allnoconfig + debug/debug.config (what the
# rig's guest needs, KASAN, lockdep, DEBUG_ATOMIC_SLEEP, debug objects,
# kmemleak, the Hyper-V core as an unused module), by
# scripts/fragment-kernel.sh as the KUnit kernel is.
#
#   build-kernel.sh [--jobs N]
#
# The source is extracted once per Debian package version into
# build/debug/linux; objects go to build/debug/obj. The compiler runs under
# ccache with a fixed cache directory shared with the KUnit kernel, so a
# build from an empty object directory mostly hits the cache, in any
# checkout (paths inside the checkout are hashed as relative ones), and
# so does the first build after the KUnit kernel's. The .config
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
# shellcheck source=../scripts/fragment-kernel.sh
. "$AZ_BLOB_SRCTREE/tools/testing/azure_blob/scripts/fragment-kernel.sh"

OUT="$BUILD/debug"
KSRC="$OUT/linux"
KOBJ="$OUT/obj"
FRAGMENT="$HERE/debug.config"
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

main() {
	apt_need linux-source-6.12 xz-utils make gcc flex bison bc \
		libelf-dev libssl-dev ccache cpio kmod
	mkdir -p "$OUT"
	exec 8>"$OUT/.build.lock"
	flock -n 8 || { log "debug kernel: waiting for another build"; flock 8; }

	extract_tree
	fragment_config "$KSRC" "$KOBJ" "$FRAGMENT"
	fragment_build "$KSRC" "$KOBJ" "debug kernel" "$jobs"
	log "debug kernel: $KOBJ/arch/x86/boot/bzImage"
}

main "$@"
