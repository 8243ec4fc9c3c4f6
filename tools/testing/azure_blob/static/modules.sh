#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build hv_azure_blob.ko out of tree against the newest Debian 6.12 cloud
# kernel headers (installed if missing) into build/modules/, with kbuild/
# (Kbuild and the compat header). Fails on any warning.
#
# Copyright (c) 2026 The hv_azure_blob authors

AZ_BLOB_SRCTREE=${AZ_BLOB_SRCTREE:-$(cd "$(dirname "$0")/../../../.." && pwd)}
. "$AZ_BLOB_SRCTREE/tools/testing/azure_blob/static/lib.sh"

OUT="$BUILD/modules"

apt_need build-essential kmod
ver=${AZ_BLOB_KVER:-$(newest_headers_version)}
[ -n "$ver" ] || die "no linux-headers-6.12.*+deb12-cloud-amd64 in apt"
apt_need "linux-headers-$ver"
KDIR="/usr/src/linux-headers-$ver"
[ -f "$KDIR/Makefile" ] || die "$KDIR is not a kernel build tree"

mkdir -p "$OUT"
ln -sf "$AZ_BLOB_SRCTREE/kbuild/Kbuild" "$OUT/Kbuild"
for f in "$AZ_BLOB_SRCTREE"/drivers/hv/hv_azure_blob*.[ch]; do
	case "$f" in *_kunit.c) continue ;; esac
	ln -sf "$f" "$OUT/"
done
[ -e "$OUT/hv_azure_blob.c" ] || die "no drivers/hv/hv_azure_blob.c"

# Always compile, so that every run sees the compiler's warnings.
rm -f "$OUT"/*.o "$OUT"/*.ko "$OUT"/.*.cmd
echo "building hv_azure_blob.ko against $ver"
make -C "$KDIR" M="$OUT" AZ_BLOB_SRCTREE="$AZ_BLOB_SRCTREE" \
	-j"$JOBS" modules 2>&1 | tee "$OUT/build.log"
status=${PIPESTATUS[0]}
nwarn=$(grep -ci 'warning' "$OUT/build.log")
nerr=$(grep -c 'error' "$OUT/build.log")
echo "modules: $ver: $nwarn warnings, $nerr errors, status $status"
[ "$status" -eq 0 ] && [ "$nwarn" -eq 0 ] && [ -f "$OUT/hv_azure_blob.ko" ] ||
	die "the module build failed or warned (build/modules/build.log)"
modinfo "$OUT/hv_azure_blob.ko" | grep -E '^(filename|description|license|alias|depends|vermagic):'
