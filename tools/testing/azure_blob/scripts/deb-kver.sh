#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb-kver.sh [SERIES] - print the newest Debian 12 kernel version of a
# series, the part of its package names before "-cloud-amd64": SERIES 6.12
# (the default; e.g. "6.12.117+deb12") or 6.1 (Debian 12's default kernel,
# e.g. "6.1.0-57"). From the archive when apt knows it (after an apt-get
# update, as root, when apt has no lists yet), else from the installed
# headers.
#
# Copyright (c) 2026 The hv_azure_blob authors
set -euo pipefail

series=${1:-6.12}
case $series in
6.12)	pattern='6\.12\.[0-9]+\+deb12' ;;
6.1)	pattern='6\.1\.0-[0-9]+' ;;
*)	echo "deb-kver.sh: unknown kernel series '$series' (6.12 or 6.1)" >&2
	exit 2 ;;
esac

from_apt() {
	apt-cache search --names-only \
		"^linux-headers-$pattern-cloud-amd64\$" 2>/dev/null |
		sed -E -n "s/^linux-headers-($pattern)-cloud-amd64 .*/\\1/p" |
		sort -V | tail -n 1 || true
}

newest=$(from_apt)
# A new machine's apt has no package lists yet: fetch them once (root).
if [ -z "$newest" ] && [ "$(id -u)" -eq 0 ]; then
	AZ_BLOB_SRCTREE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
	export AZ_BLOB_SRCTREE
	# shellcheck source=SCRIPTDIR/../static/lib.sh
	. "$AZ_BLOB_SRCTREE/tools/testing/azure_blob/static/lib.sh"
	echo "deb-kver.sh: no package lists for linux $series: apt-get update" >&2
	apt_get update -q >/dev/null 2>&1 || true
	newest=$(from_apt)
fi
if [ -z "$newest" ]; then
	newest=$(find /usr/src -maxdepth 1 -name 'linux-headers-*-cloud-amd64' \
		2>/dev/null |
		sed -E -n "s|^/usr/src/linux-headers-($pattern)-cloud-amd64\$|\\1|p" |
		sort -V | tail -n 1)
fi
if [ -z "$newest" ]; then
	echo "no Debian 12 linux $series version found (run apt-get update)" >&2
	exit 1
fi
echo "$newest"
