#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# host-depmod.sh ENTRY KFLAVOUR OUT [MODULE.ko...] - the module indexes
# (modules.dep, modules.alias, modules.symbols ... and their .bin) of the
# Debian guest's kernel KFLAVOUR with MODULE.ko... added in updates/, as
# the guest's own depmod would write them, into OUT.
#
# depmod -a in the guest reads every module of the kernel, xz-compressed,
# under TCG: about a minute of boot. The host runs the same kmod (Debian
# 12's) on the copy of the image's /lib/modules that build-image.sh keeps
# in ENTRY/modules (hard links, so nothing is copied), with no depmod.d
# configuration (the guest has none). The guest puts the .ko files and the
# indexes in place.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -euo pipefail

entry=${1:?usage: host-depmod.sh ENTRY KFLAVOUR OUT [MODULE.ko...]}
kflavour=${2:?usage: host-depmod.sh ENTRY KFLAVOUR OUT [MODULE.ko...]}
out=${3:?usage: host-depmod.sh ENTRY KFLAVOUR OUT [MODULE.ko...]}
shift 3

tree=$entry/modules/$kflavour
[ -d "$tree/kernel" ] || { echo "host-depmod: no $tree/kernel" >&2; exit 1; }
base=$(mktemp -d /tmp/azblob-depmod.XXXXXX)
trap 'rm -rf "$base"' EXIT
mkdir -p "$base/lib/modules" "$base/conf"
cp -al "$tree" "$base/lib/modules/" 2>/dev/null ||
	cp -a "$tree" "$base/lib/modules/"
mod=$base/lib/modules/$kflavour
# depmod replaces each index by a rename, the hard links stay intact.
mkdir -p "$mod/updates"
for ko in "$@"; do
	install -m 0644 "$ko" "$mod/updates/"
done
depmod -C "$base/conf" -b "$base" "$kflavour"
mkdir -p "$out"
for f in modules.dep modules.dep.bin modules.alias modules.alias.bin \
	 modules.softdep modules.symbols modules.symbols.bin \
	 modules.builtin.bin modules.builtin.alias.bin modules.devname; do
	[ -e "$mod/$f" ] && cp "$mod/$f" "$out/"
done
[ -s "$out/modules.dep" ] || { echo "host-depmod: no modules.dep" >&2; exit 1; }
