#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the newest Debian 12 Linux 6.12 version (e.g. "6.12.117+deb12"),
# from the archive when apt knows it, else from the installed headers.
set -euo pipefail

newest=$(apt-cache search --names-only \
	'^linux-headers-6\.12\.[0-9]+\+deb12-cloud-amd64$' 2>/dev/null |
	sed -n 's/^linux-headers-\(6\.12\.[0-9]*+deb12\)-cloud-amd64 .*/\1/p' |
	sort -V | tail -n 1)
if [ -z "$newest" ]; then
	newest=$(ls -d /usr/src/linux-headers-6.12.*+deb12-cloud-amd64 \
		2>/dev/null | sed 's|.*/linux-headers-||; s|-cloud-amd64$||' |
		sort -V | tail -n 1)
fi
if [ -z "$newest" ]; then
	echo "no linux 6.12 +deb12 version found (run apt-get update)" >&2
	exit 1
fi
echo "$newest"
