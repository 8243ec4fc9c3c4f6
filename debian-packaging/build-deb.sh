#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-deb.sh - build the Debian packages with Debian's own tooling
# (dpkg-buildpackage -us -uc -b) in a staged copy of the sources, and put
# them in build/deb/: hv-azure-blob-dkms, libazblob0, libazblob-dev,
# azblob, azblobd, with the .changes and .buildinfo files. Prints the .deb
# paths.
#
# The staged copy (build/deb/stage/hv-azure-blob-<version>/) holds the files
# git tracks under the paths the packages are built from, as they are in
# the work tree, plus debian/ from debian-packaging/debian/ with the
# version of version.sh in its changelog. The log is build/deb/build.log.
#
# DEB_MAINTAINER="Name <address>" replaces the project's identity as the
# maintainer (control and changelog) and drops the lintian overrides that
# identity needs. No -dbgsym packages are built unless DEB_BUILD_OPTIONS
# is set by the caller (their maintainer field could not be overridden).
#
# Copyright (c) 2026 The hv_azure_blob authors
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=$top/build/deb
# What the packages are built from.
paths=(VERSION drivers/hv/hv_azure_blob.c drivers/hv/hv_azure_blob.h
	include/uapi kbuild tools/azure_blob)
# The build dependencies of debian/control, as package names, and
# build-essential, which dpkg-checkbuilddeps always asks for.
build_deps=(build-essential dpkg-dev debhelper dh-dkms fakeroot pkg-config
	libcurl4-openssl-dev libjson-c-dev libmicrohttpd-dev liburing-dev
	libssl-dev libxml2-dev openssl xxd)

die() { printf 'build-deb: %s\n' "$*" >&2; exit 1; }

"$top/tools/testing/azure_blob/scripts/apt-need.sh" "${build_deps[@]}"

version=$("$here/version.sh" "$top")
stage=$out/stage/hv-azure-blob-$version
rm -rf "$out/stage"
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$stage"

if git -C "$top" rev-parse --verify -q HEAD >/dev/null 2>&1; then
	git -C "$top" ls-files -z -- "${paths[@]}" |
		(cd "$top" && xargs -0 cp --parents -t "$stage")
else
	(cd "$top" && cp -r --parents -t "$stage" "${paths[@]}")
fi
cp -r "$here/debian" "$stage/debian"

# The changelog's first entry gets the version and the commit's date.
if git -C "$top" rev-parse --verify -q HEAD >/dev/null 2>&1; then
	date=$(LC_ALL=C git -C "$top" log -1 --format=%cD HEAD)
else
	date=$(LC_ALL=C date -R -r "$top/VERSION")
fi
sed -i -e "1s/^hv-azure-blob ([^)]*)/hv-azure-blob ($version)/" \
	-e "0,/^ -- /s/^\( -- .*>  \).*/\1$date/" "$stage/debian/changelog"

if [ -n "${DEB_MAINTAINER:-}" ]; then
	[[ $DEB_MAINTAINER =~ ^[^\<\>]+\ \<[^@\<\>]+@[^@\<\>]+\>$ ]] ||
		die "DEB_MAINTAINER must be 'Name <address>'"
	sed -i "s|^Maintainer: .*|Maintainer: $DEB_MAINTAINER|" \
		"$stage/debian/control"
	sed -i "0,/^ -- /s|^ -- .*>  | -- $DEB_MAINTAINER  |" \
		"$stage/debian/changelog"
	rm -f "$stage"/debian/*.lintian-overrides
fi
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-noautodbgsym}

(cd "$stage" && dpkg-checkbuilddeps) ||
	die "debian/control asks for more than build-deb.sh installs"

echo "building the packages of hv-azure-blob $version (log: $out/build.log)"
if ! (cd "$stage" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1
then
	tail -n 40 "$out/build.log" >&2
	die "dpkg-buildpackage failed (build/deb/build.log)"
fi
mv "$out"/stage/*.deb "$out"/stage/*.changes "$out"/stage/*.buildinfo "$out/"
ls "$out"/*.deb
