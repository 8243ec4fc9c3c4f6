#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu-plugin-h.sh - print a directory holding qemu-plugin.h of the
# installed qemu-system-x86, for building the TCG plugins of the
# benchmark. Debian's QEMU loads plugins but ships no header for them:
# the header comes from Debian's source package of the same upstream
# version (apt-get source with a private deb-src list, so the host's apt
# configuration is left alone), of which only include/qemu/qemu-plugin.h
# is kept, in /var/cache/hv_azure_blob/qemu-plugin/<upstream version>/.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -euo pipefail

cache=${QEMU_PLUGIN_CACHE:-/var/cache/hv_azure_blob/qemu-plugin}
mirror=${DEBIAN_VM_MIRROR:-http://deb.debian.org/debian}

full=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null) ||
	{ echo "qemu-plugin-h: qemu-system-x86 is not installed" >&2; exit 1; }
# 1:7.2+dfsg-7+deb12u18+b3 -> 7.2+dfsg (the orig tarball's version)
upstream=${full#*:}
upstream=${upstream%-*}
dir=$cache/$upstream
if [ -s "$dir/qemu-plugin.h" ]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -s "$dir/qemu-plugin.h" ]; then
	echo "$dir"
	exit 0
fi
command -v xz >/dev/null || "$(dirname "$0")/../scripts/apt-need.sh" xz-utils >&2
tmp=$(mktemp -d "$cache/tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/archives/partial" "$tmp/src"
printf 'deb-src %s bookworm main\ndeb-src %s bookworm-updates main\n' \
	"$mirror" "$mirror" >"$tmp/sources.list"
apt_src=(-o "Dir::Etc::sourcelist=$tmp/sources.list"
	 -o "Dir::Etc::sourceparts=-"
	 -o "Dir::State::Lists=$tmp/lists"
	 -o "Dir::Cache::Archives=$tmp/archives"
	 -o "APT::Get::List-Cleanup=0")
apt-get -q "${apt_src[@]}" update >&2
# Any Debian revision of the same upstream version carries the same
# orig tarball; the source of the installed revision first.
src=${full#*:}
src=${src%+b[0-9]*}
(cd "$tmp/src" &&
	{ apt-get -q "${apt_src[@]}" source --download-only "qemu=$src" >&2 ||
	  apt-get -q "${apt_src[@]}" source --download-only qemu >&2; })
orig=$(find "$tmp/src" -maxdepth 1 -name "qemu_${upstream}.orig.tar.*" | head -n 1)
[ -n "$orig" ] || { echo "qemu-plugin-h: no qemu_${upstream}.orig tarball" >&2; exit 1; }
tar -xf "$orig" -C "$tmp" --wildcards --no-anchored --strip-components=2 \
	'*/include/qemu/qemu-plugin.h'
[ -s "$tmp/qemu/qemu-plugin.h" ] ||
	{ echo "qemu-plugin-h: $orig has no include/qemu/qemu-plugin.h" >&2; exit 1; }
mkdir -p "$dir"
install -m 0644 "$tmp/qemu/qemu-plugin.h" "$dir/qemu-plugin.h"
echo "$dir"
