#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Assemble the guest payload of the selftests: the `run` script, the test
# binaries and their order (selftests.list).
#
#   payload.sh --build DIR --out DIR [--list NAME]
#
# --build is the build directory holding the compiled selftests
# (DIR/selftests); --out is emptied and filled; --list names the list of
# tests to run (selftests.list, the default, or race.list). vm-test.sh and
# the debug kernel run use it.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
build="" out="" list=selftests.list

while [ $# -gt 0 ]; do
	case $1 in
	--build)	build=$2; shift 2 ;;
	--out)		out=$2; shift 2 ;;
	--list)		list=$2; shift 2 ;;
	*)		echo "usage: $0 --build DIR --out DIR [--list NAME]" >&2
			exit 2 ;;
	esac
done
[ -n "$build" ] && [ -n "$out" ] ||
	{ echo "usage: $0 --build DIR --out DIR" >&2; exit 2; }

[ -s "$build/selftests/$list" ] || {
	echo "$0: $build/selftests/$list missing: build the selftests" >&2
	exit 1
}
rm -rf "$out"
mkdir -p "$out/selftests"
install -m 0755 "$here/run" "$out/run" || exit 1
for t in $(cat "$build/selftests/$list"); do
	install -m 0755 "$build/selftests/$t" "$out/selftests/$t" || exit 1
	echo "$t" >> "$out/selftests.list"
done
